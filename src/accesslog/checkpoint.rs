//! The tailer's record of one log: which files of its rotation set were read, known by the
//! fingerprint of their first bytes, and how far.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// What has been read of one configured log, across its rotations.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogCheckpoint {
    pub files: Vec<FileCheckpoint>,
    /// The last day of a file whose checkpoint was dropped (gone for a week): days up to it
    /// may have lines no file on disk holds (`verify` compares them on what remains).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired_until: Option<NaiveDate>,
}

/// One physical file of a log's rotation set, known by the fingerprint of its first bytes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileCheckpoint {
    /// How many leading bytes the fingerprint covers (up to the fingerprint size).
    pub fp_len: u32,
    /// Hash of those bytes (of the decompressed content for a gzip file).
    pub fp: u64,
    /// A second fingerprint the file may have: set by `purge-ip --include-access-logs` before
    /// it replaces a file whose first bytes it blanks, so the file is known whether the run
    /// dies before or after the replacement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alt_fp: Option<u64>,
    /// Bytes consumed: the end of a complete line, or (with `mid_line`) a point inside a line
    /// longer than 4 MiB whose start was counted as malformed.
    pub offset: u64,
    /// The offset is inside an over-long line: the next read skips to its end.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mid_line: bool,
    /// Lines consumed, so that malformed-line samples can name a line number.
    pub lines: u64,
    /// The local day of the last line that parsed; a malformed line is counted on it.
    #[serde(default)]
    pub last_day: Option<NaiveDate>,
    /// Set once a gzip file has been read to its end: its compressed size and mtime, so an
    /// unchanged archive is recognised without decompressing it again.
    #[serde(default)]
    pub gz_done: Option<GzMark>,
    /// Where the file was last seen, for people reading the state.
    pub path: String,
    pub seen: DateTime<Utc>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GzMark {
    pub size: u64,
    pub mtime_ns: i128,
}

/// The checkpoints of every log as one list, each tagged with its log (what the tailer matches
/// files against).
pub fn flatten(logs: BTreeMap<String, LogCheckpoint>) -> Vec<(String, FileCheckpoint)> {
    logs.into_iter()
        .flat_map(|(key, log)| log.files.into_iter().map(move |f| (key.clone(), f)))
        .collect()
}

/// The list again as checkpoints per log, keeping what `before` knew of each log besides its
/// files.
pub fn gather(
    records: Vec<(String, FileCheckpoint)>,
    before: &BTreeMap<String, LogCheckpoint>,
) -> BTreeMap<String, LogCheckpoint> {
    let mut logs: BTreeMap<String, LogCheckpoint> = BTreeMap::new();
    for (key, record) in records {
        logs.entry(key).or_default().files.push(record);
    }
    for (key, log) in before {
        if log.retired_until.is_some() {
            logs.entry(key.clone()).or_default().retired_until = log.retired_until;
        }
    }
    logs
}

/// A checkpoint of a file not seen for this long, and no longer at its path, is dropped.
const GONE_AFTER: chrono::Duration = chrono::Duration::days(7);

/// Drops the checkpoints of files gone for a week (`rotate`); returns how many went.
pub fn retain(logs: &mut BTreeMap<String, LogCheckpoint>, now: DateTime<Utc>) -> u64 {
    let mut dropped = 0;
    for log in logs.values_mut() {
        let before = log.files.len();
        let (kept, gone): (Vec<_>, Vec<_>) = std::mem::take(&mut log.files)
            .into_iter()
            .partition(|f| now - f.seen < GONE_AFTER || std::path::Path::new(&f.path).exists());
        log.files = kept;
        for f in &gone {
            log.retired_until = log.retired_until.max(f.last_day);
        }
        dropped += (before - log.files.len()) as u64;
    }
    dropped
}
