//! What reading the logs did, for the summary a person reads and for `--json`.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use serde::Serialize;

/// What an ingestion did, for the summary and `--json`.
#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub files: Vec<FileSummary>,
    pub lines: u64,
    pub parsed: u64,
    pub malformed: u64,
    pub bots: u64,
    #[serde(rename = "static")]
    pub statics: u64,
    pub ignored: u64,
    pub visits_recorded: u64,
    pub by_tier: ByTier,
    pub seconds: f64,
    pub malformed_samples: Vec<MalformedSample>,
    pub errors: Vec<String>,
    /// Local days whose rollups changed.
    pub days: BTreeSet<NaiveDate>,
}

#[derive(Debug, Default, Serialize)]
pub struct ByTier {
    pub very_hot: u64,
    pub hot: u64,
    pub warm: u64,
}

#[derive(Debug, Serialize)]
pub struct FileSummary {
    pub path: String,
    pub bytes_read: u64,
    pub lines: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct MalformedSample {
    pub file: String,
    pub line: u64,
    pub reason: String,
    pub text: String,
}

/// What is not ingested yet of one log.
#[derive(Debug, Serialize)]
pub struct Backlog {
    pub path: String,
    /// Unread bytes (a gzip archive not read yet counts its compressed size).
    pub bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
