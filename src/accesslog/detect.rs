//! `detect-format`: which known format reads a log. The first lines are parsed with each
//! candidate, the richest first (a format whose fields all come before a longer one's reads
//! the longer lines too, since fields after the end of a format are ignored); the first that
//! reads every line wins, else the one that reads the most is named with its first failure.

use std::io::{BufRead, BufReader};
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use super::parser::Parser;
use crate::log_format::LogFormat;

/// The candidates, richest first.
pub const CANDIDATES: [&str; 5] = [
    "vcombined",
    "combined",
    "apache:vhost_combined",
    "escape=json {\"time\":\"$time_iso8601\",\"remote_addr\":\"$remote_addr\",\"request\":\"$request\",\"status\":$status,\"bytes\":$body_bytes_sent,\"referer\":\"$http_referer\",\"agent\":\"$http_user_agent\"}",
    "common",
];

/// Lines read from the start of the file.
pub const SAMPLE: usize = 2000;

#[derive(Debug, Serialize)]
pub struct Candidate {
    pub format: String,
    pub parsed: u64,
    /// The first line it does not read: its number, the reason, and its start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_failure: Option<(u64, &'static str, String)>,
}

#[derive(Debug, Serialize)]
pub struct Detection {
    pub file: String,
    pub lines: u64,
    /// The format that reads every line, if one does.
    pub format: Option<String>,
    /// Every candidate, in the order tried.
    pub candidates: Vec<Candidate>,
}

impl Detection {
    /// The candidate that reads the most lines (the first of those that read as many).
    pub fn nearest(&self) -> Option<&Candidate> {
        self.candidates.iter().rev().max_by_key(|c| c.parsed)
    }
}

pub fn detect(path: &Path) -> Result<Detection> {
    let file =
        crate::fsutil::open_log(path).with_context(|| format!("cannot read {}", path.display()))?;
    let lines: Vec<Vec<u8>> = BufReader::new(file)
        .split(b'\n')
        .map_while(std::result::Result::ok)
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .take(SAMPLE)
        .collect();
    let mut out = Detection {
        file: path.display().to_string(),
        lines: lines.len() as u64,
        format: None,
        candidates: Vec::new(),
    };
    for spec in CANDIDATES {
        let format = LogFormat::compile(spec).expect("the candidates compile");
        let mut parser = Parser::new(&format);
        let mut c = Candidate {
            format: spec.to_string(),
            parsed: 0,
            first_failure: None,
        };
        for (i, line) in lines.iter().enumerate() {
            match parser.parse(line) {
                Ok(_) => c.parsed += 1,
                Err(e) if c.first_failure.is_none() => {
                    c.first_failure =
                        Some((i as u64 + 1, e.describe(), crate::escape::excerpt(line)));
                }
                Err(_) => {}
            }
        }
        if out.format.is_none() && !lines.is_empty() && c.parsed == out.lines {
            out.format = Some(spec.to_string());
        }
        out.candidates.push(c);
    }
    Ok(out)
}
