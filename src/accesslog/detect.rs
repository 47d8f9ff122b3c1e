//! `detect-format` and `format = "auto"`: which known format reads a log. The first lines are
//! parsed with each candidate, the richest first (a format whose fields all come before a
//! longer one's reads the longer lines too, since fields after the end of a format are
//! ignored); the first that reads every line wins. Logs of some servers hold lines that are not
//! requests (HAProxy's `Proxy … started.`): when no candidate reads every line, the one that
//! reads the most, if it reads most of them, is named with its share; otherwise none is, and
//! the nearest is shown with the first line it fails on. A W3C log's candidate is made of its
//! own `#Fields:` line.

use std::borrow::Cow;
use std::io::{BufRead, BufReader};
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use super::parser::{Malformed, Parser};
use crate::log_format::{LogFormat, servers};

/// The candidates, richest first (`w3c` stands for the log's own `#Fields:` line).
pub const CANDIDATES: [&str; 12] = [
    "traefik",
    "vcombined",
    "combined",
    "apache:vhost_combined",
    "escape=json {\"time\":\"$time_iso8601\",\"remote_addr\":\"$remote_addr\",\"request\":\"$request\",\"status\":$status,\"bytes\":$body_bytes_sent,\"referer\":\"$http_referer\",\"agent\":\"$http_user_agent\"}",
    "caddy",
    "traefik-json",
    "alb",
    "elb",
    "haproxy",
    "w3c",
    "common",
];

/// Lines read from the start of the file.
pub const SAMPLE: usize = 2000;

/// The least share of the lines a format must read to be named when none reads them all.
pub const MOST: f64 = 0.5;

#[derive(Debug, Serialize)]
pub struct Candidate {
    pub format: String,
    pub parsed: u64,
    /// Lines it knows are not requests (a W3C directive, HAProxy's own messages).
    pub not_requests: u64,
    /// The first line it does not read: its number, the reason, and its start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_failure: Option<(u64, &'static str, String)>,
}

#[derive(Debug, Serialize)]
pub struct Detection {
    pub file: String,
    /// Lines read.
    pub lines: u64,
    /// The format that reads every line, or most of them, if one does.
    pub format: Option<String>,
    /// The share of the lines it reads.
    pub share: f64,
    /// Every candidate, in the order tried.
    pub candidates: Vec<Candidate>,
}

impl Detection {
    /// The candidate that was named (`haproxy` for `haproxy:Host,User-Agent`).
    pub fn chosen(&self) -> Option<&Candidate> {
        let name = self.format.as_deref()?;
        let base = name.split(':').next().unwrap_or(name);
        self.candidates
            .iter()
            .find(|c| c.format == name)
            .or_else(|| self.candidates.iter().find(|c| c.format == base))
    }

    /// The candidate that reads the most lines (the first of those that read as many).
    pub fn nearest(&self) -> Option<&Candidate> {
        self.candidates.iter().rev().max_by_key(|c| c.parsed)
    }
}

fn sample(path: &Path) -> Result<Vec<Vec<u8>>> {
    let file =
        crate::fsutil::open_log(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(BufReader::new(file)
        .split(b'\n')
        .map_while(std::result::Result::ok)
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .take(SAMPLE)
        .collect())
}

/// The format a `w3c` candidate stands for in these lines: their first `#Fields:` line's.
/// Its fields are kept one tab apart when the lines are (CloudFront), one space apart when
/// not (IIS).
fn w3c_spec(lines: &[Vec<u8>]) -> Option<String> {
    let fields = lines.iter().find_map(|l| servers::w3c_fields(l))?;
    let tabs = lines
        .iter()
        .find(|l| l.first().is_some_and(|b| *b != b'#'))
        .is_some_and(|l| memchr::memchr(b'\t', l).is_some());
    let separator = if tabs { "\t" } else { " " };
    Some(format!(
        "w3c:{}",
        fields
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(separator)
    ))
}

pub fn detect(path: &Path) -> Result<Detection> {
    Ok(detect_lines(&path.display().to_string(), &sample(path)?))
}

fn detect_lines(file: &str, lines: &[Vec<u8>]) -> Detection {
    let mut out = Detection {
        file: file.to_string(),
        lines: lines.len() as u64,
        format: None,
        share: 0.0,
        candidates: Vec::new(),
    };
    for name in CANDIDATES {
        let spec = if name == "w3c" {
            match w3c_spec(lines) {
                Some(spec) => spec,
                None => continue,
            }
        } else {
            name.to_string()
        };
        let Ok(format) = LogFormat::compile(&spec) else {
            continue;
        };
        let mut parser = Parser::new(&format);
        // A W3C log is named `w3c`: its fields are read again from its header at every run.
        let mut c = Candidate {
            format: name.to_string(),
            parsed: 0,
            not_requests: 0,
            first_failure: None,
        };
        for (i, line) in lines.iter().enumerate() {
            match parser.parse(line) {
                Ok(_) => c.parsed += 1,
                Err(Malformed::Comment) => c.not_requests += 1,
                Err(e) if c.first_failure.is_none() => {
                    c.first_failure =
                        Some((i as u64 + 1, e.describe(), crate::escape::excerpt(line)));
                }
                Err(_) => {}
            }
        }
        let requests = out.lines - c.not_requests;
        if out.format.is_none() && requests > 0 && c.parsed == requests {
            out.format = Some(c.format.clone());
            out.share = 1.0;
        }
        out.candidates.push(c);
    }
    if out.format.as_deref() == Some("haproxy") {
        out.format = Some(haproxy_captures(lines));
    }
    if out.format.is_none()
        && let Some(best) = out.nearest()
        && out.lines > best.not_requests
    {
        #[allow(clippy::cast_precision_loss)] // a share of at most 2,000 lines
        let share = best.parsed as f64 / (out.lines - best.not_requests) as f64;
        if share >= MOST {
            out.format = Some(best.format.clone());
            out.share = share;
        }
    }
    out
}

/// HAProxy logs a `{…|…}` block only for the headers `haproxy.cfg` captures, in the order it
/// names them, which the log does not say: each position is named by what its values look
/// like (URLs are the Referer, host names the Host, product tokens the User-Agent).
fn haproxy_captures(lines: &[Vec<u8>]) -> String {
    let blocks: Vec<Vec<&[u8]>> = lines
        .iter()
        .filter_map(|l| {
            // The first block before the quoted request is the request's headers (the
            // response's come second), as the parser reads it.
            let request = memchr::memrchr(b'"', l).and_then(|c| memchr::memrchr(b'"', &l[..c]))?;
            let open = memchr::memchr(b'{', &l[..request])?;
            let close = open + memchr::memchr(b'}', &l[open..request])?;
            Some(l[open + 1..close].split(|&b| b == b'|').collect())
        })
        .collect();
    let width = blocks.iter().map(Vec::len).max().unwrap_or(0);
    if blocks.is_empty() || blocks.iter().all(|b| b.iter().all(|v| v.is_empty())) {
        return "haproxy:-".into();
    }
    let names: Vec<&str> = (0..width)
        .map(|i| {
            let values: Vec<&[u8]> = blocks
                .iter()
                .filter_map(|b| b.get(i).copied())
                .filter(|v| !v.is_empty() && *v != b"-")
                .collect();
            let all = |f: &dyn Fn(&[u8]) -> bool| !values.is_empty() && values.iter().all(|v| f(v));
            if all(&|v| v.starts_with(b"http://") || v.starts_with(b"https://")) {
                "Referer"
            } else if all(&|v| !v.contains(&b' ') && !v.contains(&b'/') && v.contains(&b'.')) {
                "Host"
            } else if all(&|v| v.contains(&b'/')) {
                "User-Agent"
            } else {
                "-header"
            }
        })
        .collect();
    if names == ["User-Agent"] {
        "haproxy".into()
    } else {
        format!("haproxy:{}", names.join(","))
    }
}

/// The format the lines of the log at `path` are read with: `format`, or for `auto` and a bare
/// `w3c` the one found in its first lines now (each read and each erasure asks once). When none
/// reads them the format stays unfound and every line is malformed (the summary shows them,
/// and `detect-format` tells why).
pub fn reading_format<'a>(format: &'a LogFormat, path: &Path) -> Cow<'a, LogFormat> {
    if format.is_resolved() {
        return Cow::Borrowed(format);
    }
    resolve(format, path).map_or(Cow::Borrowed(format), Cow::Owned)
}

/// The format of `auto` or of a bare `w3c`, found in the first lines of `path` (or of its
/// first rotated sibling when the live log is empty). `None` when none reads them.
pub fn resolve(format: &LogFormat, path: &Path) -> Option<LogFormat> {
    let mut lines = sample(path).unwrap_or_default();
    if lines.is_empty() {
        let mut sibling = path.as_os_str().to_owned();
        sibling.push(".1");
        lines = sample(Path::new(&sibling)).unwrap_or_default();
    }
    let name = if format.source() == "w3c" {
        "w3c".to_string()
    } else {
        detect_lines(&path.display().to_string(), &lines).format?
    };
    let spec = if name == "w3c" {
        w3c_spec(&lines)?
    } else {
        name
    };
    LogFormat::compile(&spec).ok()
}
