//! The state file: what a run must remember (log checkpoints, which rollup files are current,
//! how much of each visits file is committed, the event cursor, the alert ledger), composed
//! from the records the stores own. It sits above the stores and below the pipeline: nothing
//! below it imports it; the stores take their own record, never the whole `State`.

mod lock;

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use lock::{StateLock, lock_holder, peek};

use crate::accesslog::checkpoint::LogCheckpoint;
use crate::exit::Fatal;
use crate::rollup::files::Generations;

/// The schema version this build writes. A file with a higher version is refused (version 2
/// added `alerts`, version 3 a delivery queue per channel; older files read as they are, and
/// the one queue of version 2 becomes the email channel's).
pub const SCHEMA_VERSION: u32 = 3;

/// Everything a run must remember between runs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    pub version: u32,
    /// Bumped by every commit; names the rollup files that commit wrote.
    pub generation: u64,
    /// Per configured access log (by path): what has been read of it and its rotated siblings.
    #[serde(default)]
    pub logs: BTreeMap<String, LogCheckpoint>,
    /// Per visits day file: the length that was committed. Anything beyond was written by a run
    /// that died before saving the state, and is cut off by the next run.
    #[serde(default)]
    pub visits: crate::visits::Committed,
    /// Per day: the generation of the current traffic rollup file.
    #[serde(default)]
    pub traffic: Generations,
    #[serde(default)]
    pub last_ingest: Option<DateTime<Utc>>,
    /// The last event folded into the activity rollups.
    #[serde(default)]
    pub events_cursor: Option<crate::events::event::EventId>,
    /// The store `events_cursor` is a position in ([`crate::events::store::EventStore::identity`]).
    #[serde(default)]
    pub events_store: Option<String>,
    /// The marker set in the event store at the first fold ([`crate::events::store::EventStore::marker`]):
    /// a store without it lost its data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events_marker: Option<String>,
    /// Events before this id were trimmed from the store (`rotate`): `verify` recounts only what
    /// is after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events_trimmed_before: Option<crate::events::event::EventId>,
    /// Per day: the generation of the current activity rollup file.
    #[serde(default)]
    pub activity: Generations,
    /// Per day: the generation of the current API-cost-by-user rollup file.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub user_costs: Generations,
    #[serde(default)]
    pub last_fold: Option<DateTime<Utc>>,
    /// Per visits day file: how far it was matched against the sightings of users.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub links: crate::links::Matched,
    /// The alert ledger, pending alerts, and how far scans have looked at visits.
    #[serde(default)]
    pub alerts: crate::alerts::AlertState,
}

impl State {
    pub(crate) fn from_json(path: &Path, bytes: &[u8]) -> Result<State> {
        #[derive(Deserialize)]
        struct Version {
            version: u32,
        }
        let corrupt = |reason: String| Fatal::CorruptState {
            path: path.to_path_buf(),
            reason,
        };
        let version: Version =
            serde_json::from_slice(bytes).map_err(|err| corrupt(err.to_string()))?;
        if version.version > SCHEMA_VERSION {
            return Err(Fatal::NewerState {
                path: path.to_path_buf(),
                found: version.version,
                supported: SCHEMA_VERSION,
            }
            .into());
        }
        let mut state: State =
            serde_json::from_slice(bytes).map_err(|err| corrupt(err.to_string()))?;
        // Log paths are normalised since schema 2 was first written (`a/../b` is `b`): keys of
        // older runs are normalised too, so their checkpoints are found again.
        state.logs = std::mem::take(&mut state.logs)
            .into_iter()
            .map(|(key, log)| {
                let key = crate::config::normalize(Path::new(&key))
                    .display()
                    .to_string();
                (key, log)
            })
            .collect();
        state.alerts.migrate();
        Ok(state)
    }
}
