//! The alerts that were sent, one JSON line each in `data_dir/alerts.jsonl`, for the reports'
//! "alerts fired" section (the ledger only remembers what it needs for dedup). A line holds the
//! lead's address, so `purge-ip` blanks it like a visit.
//!
//! Each line names the message (digest id) it went out in, so that a message delivered again
//! after a crash is recorded once: the history records each alert exactly once.

use std::io::{Read, Seek, SeekFrom, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::digest::Digest;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sent {
    pub sent_at: DateTime<Utc>,
    /// `lead` or the rule's name.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<IpAddr>,
    /// What the alert said, in arkwatch's words (a lead: tier and score; a rule: its detail).
    pub summary: String,
    /// The id of the message it went out in.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// Who the lead was (`[geo]`), as the message said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<crate::geo::Origin>,
}

pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("alerts.jsonl")
}

/// Appends the alerts of a message that was just accepted.
pub fn record(data_dir: &Path, digest: &Digest, at: DateTime<Utc>) -> Result<()> {
    let mut out = Vec::new();
    for lead in &digest.leads {
        let j = &lead.journey;
        let line = Sent {
            sent_at: at,
            kind: "lead".into(),
            ip: Some(j.ip),
            summary: format!("{:?} lead, {}, score {}", lead.kind, j.top_tier, j.score)
                .to_lowercase(),
            message: digest.id.clone(),
            origin: lead.origin.clone(),
        };
        out.extend(serde_json::to_vec(&line)?);
        out.push(b'\n');
    }
    for rule in &digest.rules {
        let line = Sent {
            sent_at: at,
            kind: rule.name.clone(),
            ip: None,
            summary: format!("{:?}: {}", rule.kind, rule.detail).to_lowercase(),
            message: digest.id.clone(),
            origin: None,
        };
        out.extend(serde_json::to_vec(&line)?);
        out.push(b'\n');
    }
    let path = path(data_dir);
    if !digest.id.is_empty() && recorded(&path, &digest.id)? {
        return Ok(());
    }
    let mut file = crate::fsutil::open_rw(&path, true)
        .with_context(|| format!("cannot open {}", path.display()))?;
    // A line cut by a crash in the middle of an append is dropped, so the next one starts on
    // a line of its own.
    let len = file.metadata().map_or(0, |m| m.len());
    let complete = complete_length(&mut file, len)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if complete < len {
        file.set_len(complete)
            .with_context(|| format!("cannot truncate {}", path.display()))?;
    }
    file.seek(SeekFrom::Start(complete))
        .and_then(|_| file.write_all(&out))
        .and_then(|()| file.sync_data())
        .with_context(|| format!("cannot append to {}", path.display()))
}

/// Whether a message's alerts are in the history already.
fn recorded(path: &Path, id: &str) -> Result<bool> {
    let Some(bytes) = crate::fsutil::read_if_exists(path)? else {
        return Ok(false);
    };
    let needle = format!("\"message\":\"{id}\"");
    Ok(memchr::memmem::find(&bytes, needle.as_bytes()).is_some())
}

/// The length of `file` up to the end of its last complete line.
fn complete_length(file: &mut std::fs::File, len: u64) -> std::io::Result<u64> {
    let mut end = len;
    let mut buf = [0u8; 4096];
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let chunk = &mut buf[..usize::try_from(end - start).unwrap_or(0)];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(chunk)?;
        if let Some(i) = memchr::memrchr(b'\n', chunk) {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

/// The alerts sent in `[from, to)`, oldest first.
pub fn read(data_dir: &Path, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<Sent>> {
    let path = path(data_dir);
    let Some(bytes) = crate::fsutil::read_if_exists(&path)? else {
        return Ok(Vec::new());
    };
    let text = String::from_utf8_lossy(&bytes);
    Ok(text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| serde_json::from_str::<Sent>(l).ok())
        .filter(|s| s.sent_at >= from && s.sent_at < to)
        .collect())
}

/// Drops the lines of alerts sent before `since` (the history is kept as long as the visit
/// archives); returns how many went (or, in a dry run, would).
pub fn retain(data_dir: &Path, since: DateTime<Utc>, dry: bool) -> Result<u64> {
    let path = path(data_dir);
    let Some(bytes) = crate::fsutil::read_if_exists(&path)? else {
        return Ok(0);
    };
    let text = String::from_utf8_lossy(&bytes);
    let mut kept = String::new();
    let mut dropped = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let old = serde_json::from_str::<Sent>(line).is_ok_and(|s| s.sent_at < since);
        if old {
            dropped += 1;
        } else {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    if dropped > 0 && !dry {
        crate::fsutil::write_atomic(&path, kept.as_bytes(), 0o600)?;
    }
    Ok(dropped)
}
