//! The alerts that were sent, one JSON line each in `data_dir/alerts.jsonl`, for the reports'
//! "alerts fired" section (the ledger only remembers what it needs for dedup). A line holds the
//! lead's address, so `purge-ip` blanks it like a visit.

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::message::Digest;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sent {
    pub sent_at: DateTime<Utc>,
    /// `lead` or the rule's name.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<IpAddr>,
    /// What the alert said, in arkwatch's words (a lead: tier and score; a rule: its detail).
    pub summary: String,
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
        };
        out.extend(serde_json::to_vec(&line)?);
        out.push(b'\n');
    }
    let path = path(data_dir);
    let mut file = crate::fsutil::open_append(&path)?;
    file.write_all(&out)
        .and_then(|()| file.sync_data())
        .with_context(|| format!("cannot append to {}", path.display()))
}

/// The alerts sent in `[from, to)`, oldest first.
pub fn read(data_dir: &Path, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<Sent>> {
    let path = path(data_dir);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
    };
    Ok(text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| serde_json::from_str::<Sent>(l).ok())
        .filter(|s| s.sent_at >= from && s.sent_at < to)
        .collect())
}
