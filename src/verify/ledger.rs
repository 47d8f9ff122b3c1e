//! The erasure ledger (`data_dir/erasures.jsonl`): what each `purge-ip` changed in the counts
//! that `verify` recounts from the logs, said without the address, so that a recount can be
//! brought to what the stores hold after the purge. One JSON line per purge:
//!
//! - the visitor keys taken out of each day's traffic rollup (with their sessions), and the
//!   page and referrer names redacted there, as a keyed hash of the name before and the name
//!   after;
//! - the identities of the visits blanked in the visits store;
//! - for lines blanked in rotated access logs (`--include-access-logs`): what they had counted
//!   (already without the target's keys, names redacted), and the identities of the visits
//!   they had produced.
//!
//! A line cut by a crash is skipped; running the purge again writes what is still to erase.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::erase::Target;
use crate::fsutil;
use crate::rollup::keys::VisitorKeys;
use crate::rollup::traffic::TrafficDay;

pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("erasures.jsonl")
}

/// What one purge changed.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Erasure {
    pub at: DateTime<Utc>,
    #[serde(default)]
    pub days: BTreeMap<NaiveDate, DayErasure>,
    /// Blanked log lines that did not parse (their day is not known): that many malformed lines
    /// may be missing from a recount, on any day.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub malformed_lines: u64,
    /// Users (keyed hashes of their ids) whose events were deleted: their projection records
    /// cannot be recounted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<u64>,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What one purge changed on one local day.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct DayErasure {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub visitor_keys: Vec<u64>,
    /// (keyed hash of the name as it was, the name as it is).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pages: Vec<(u64, String)>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub referrers: Vec<(u64, String)>,
    /// Visits blanked in the visits store.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub visits: Vec<u64>,
    /// What the blanked log lines had counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_lines: Option<TrafficDay>,
    /// The visits the blanked log lines had produced.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub log_visits: Vec<u64>,
    /// Events deleted from the event store (by their time): the day's activity cannot be
    /// recounted whole.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub events: u64,
}

/// What each store's part of one purge reported.
pub struct Purged<'a> {
    pub traffic: &'a crate::rollup::erase::TrafficChanges,
    /// The addresses whose visitor keys went.
    pub addresses: &'a [std::net::IpAddr],
    pub visits: crate::visits::erase::Removed,
    pub log_lines: crate::accesslog::erase::ErasedLines,
    pub events: crate::events::erase::ErasedEvents,
}

impl Erasure {
    /// The ledger entry of one purge of `target`: what it changed, said without the address.
    pub fn of_purge(
        at: DateTime<Utc>,
        keys: &VisitorKeys,
        target: &Target,
        purged: Purged<'_>,
    ) -> Erasure {
        let mut erasure = Erasure {
            at,
            malformed_lines: purged.log_lines.malformed,
            users: purged.events.users.iter().map(|u| keys.user(u)).collect(),
            ..Erasure::default()
        };
        let hashed = |names: &[(String, String)]| -> Vec<(u64, String)> {
            names
                .iter()
                .map(|(old, new)| (keys.name(old), new.clone()))
                .collect()
        };
        for (date, scrubbed) in purged.traffic {
            let day = erasure.days.entry(*date).or_default();
            day.visitor_keys.clone_from(&scrubbed.visitor_keys);
            day.pages = hashed(&scrubbed.pages);
            day.referrers = hashed(&scrubbed.referrers);
        }
        for (date, ids) in purged.visits {
            if !ids.is_empty() {
                erasure.days.entry(date).or_default().visits = ids;
            }
        }
        for (date, n) in purged.events.days {
            erasure.days.entry(date).or_default().events = n;
        }
        for (day, delta) in purged.log_lines.days {
            let mut counted = TrafficDay::default();
            counted.absorb(delta);
            let highs: std::collections::HashSet<u32> = purged
                .addresses
                .iter()
                .map(|ip| keys.ip_day(*ip, day))
                .collect();
            crate::rollup::erase::scrub(&mut counted, &highs, target);
            erasure
                .days
                .entry(crate::day::to_date(day))
                .or_default()
                .log_lines = Some(counted);
        }
        for (day, line) in purged.log_lines.visits {
            if let Some(id) = crate::visits::identity(&line) {
                let entry = erasure.days.entry(crate::day::to_date(day)).or_default();
                entry.log_visits.push(id);
            }
        }
        erasure
    }

    pub fn is_empty(&self) -> bool {
        self.days.is_empty() && self.malformed_lines == 0 && self.users.is_empty()
    }
}

/// Appends one purge's erasure.
pub fn append(data_dir: &Path, erasure: &Erasure) -> Result<()> {
    let path = path(data_dir);
    let mut bytes = serde_json::to_vec(erasure).context("cannot serialise an erasure")?;
    bytes.push(b'\n');
    let mut file = fsutil::open_append(&path)?;
    file.write_all(&bytes)
        .and_then(|()| file.sync_data())
        .with_context(|| format!("cannot append to {}", path.display()))
}

/// Every erasure recorded, oldest first; a line that does not parse (cut by a crash) is skipped.
pub fn load(data_dir: &Path) -> Result<Vec<Erasure>> {
    let Some(bytes) = fsutil::read_if_exists(&path(data_dir))? else {
        return Ok(Vec::new());
    };
    Ok(bytes
        .split(|&b| b == b'\n')
        .filter_map(|line| serde_json::from_slice(line).ok())
        .collect())
}
