//! The state file: what a run must remember (log checkpoints, which rollup files are current,
//! how much of each visits file is committed), read and written only under the state lock.
//!
//! The lock is a separate file (`arkwatch.lock`) held with std's `File::lock`, so the state file
//! itself can be replaced atomically. The holder writes its pid into the lock file so that a
//! waiting run can say who it waited for.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::exit::Fatal;
use crate::fsutil;

/// The schema version this build writes. A file with a higher version is refused (version 2
/// added `alerts`; version 1 files read as they are).
pub const SCHEMA_VERSION: u32 = 2;

const LOCK_FILE: &str = "arkwatch.lock";
const STATE_FILE: &str = "state.json";

/// Proof that this process holds the state lock. Loading and saving the state go through it, so
/// the state can only be written while the lock is held.
#[derive(Debug)]
pub struct StateLock {
    file: File,
    data_dir: PathBuf,
}

impl StateLock {
    /// Takes the lock, waiting up to `wait` for another run to finish.
    pub fn acquire(data_dir: &Path, wait: Duration) -> Result<StateLock> {
        fsutil::create_private_dir(data_dir)?;
        let path = data_dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("cannot open lock file {}", path.display()))?;
        let started = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) if started.elapsed() < wait => {
                    std::thread::sleep(Duration::from_millis(25));
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(Fatal::Busy {
                        holder: read_holder(&mut file),
                        path,
                        waited_secs: wait.as_secs(),
                    }
                    .into());
                }
                Err(TryLockError::Error(err)) => {
                    return Err(err).with_context(|| format!("cannot lock {}", path.display()));
                }
            }
        }
        let holder = format!(
            "pid {}, since {}\n",
            std::process::id(),
            Utc::now().to_rfc3339()
        );
        file.set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| file.write_all(holder.as_bytes()))
            .with_context(|| format!("cannot write lock file {}", path.display()))?;
        Ok(StateLock {
            file,
            data_dir: data_dir.to_path_buf(),
        })
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn state_path(&self) -> PathBuf {
        self.data_dir.join(STATE_FILE)
    }

    /// Reads the state; a missing file is a fresh start, a corrupt one is an error.
    pub fn load(&self) -> Result<State> {
        let path = self.state_path();
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(State::default()),
            Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
        };
        State::from_json(&path, &bytes)
    }

    /// Replaces the state file atomically.
    pub fn save(&self, state: &State) -> Result<()> {
        let mut bytes = serde_json::to_vec_pretty(state).context("cannot serialise the state")?;
        bytes.push(b'\n');
        fsutil::write_atomic(&self.state_path(), &bytes, 0o600)
    }
}

impl Drop for StateLock {
    fn drop(&mut self) {
        // Best effort: the lock is released when the file closes anyway; clearing the pid keeps
        // a stale holder out of the next "busy" message.
        let _ = self.file.set_len(0);
    }
}

/// Who holds the lock of `data_dir` now (None: nobody), without taking it for longer than a
/// look, and without waiting.
pub fn lock_holder(data_dir: &Path) -> Result<Option<String>> {
    let path = data_dir.join(LOCK_FILE);
    let mut file = match OpenOptions::new().read(true).write(true).open(&path) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err).with_context(|| format!("cannot open {}", path.display())),
    };
    match file.try_lock() {
        Ok(()) => Ok(None),
        Err(TryLockError::WouldBlock) => Ok(Some(read_holder(&mut file))),
        Err(TryLockError::Error(err)) => {
            Err(err).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

/// Reads the state of `data_dir` without the lock, for reports: the file is only ever
/// replaced whole, so what is read is one committed state.
pub fn peek(data_dir: &Path) -> Result<State> {
    let path = data_dir.join(STATE_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => State::from_json(&path, &bytes),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
        Err(err) => Err(err).with_context(|| format!("cannot read {}", path.display())),
    }
}

fn read_holder(file: &mut File) -> String {
    let mut text = String::new();
    let _ = file.seek(SeekFrom::Start(0));
    let _ = file.read_to_string(&mut text);
    match text.trim() {
        "" => "pid unknown".to_string(),
        holder => holder.to_string(),
    }
}

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
    pub visits: BTreeMap<NaiveDate, u64>,
    /// Per day: the generation of the current traffic rollup file.
    #[serde(default)]
    pub traffic: BTreeMap<NaiveDate, u64>,
    #[serde(default)]
    pub last_ingest: Option<DateTime<Utc>>,
    /// The last event folded into the activity rollups.
    #[serde(default)]
    pub events_cursor: Option<crate::events::event::EventId>,
    /// The store `events_cursor` is a position in ([`crate::events::store::EventStore::identity`]).
    #[serde(default)]
    pub events_store: Option<String>,
    /// Per day: the generation of the current activity rollup file.
    #[serde(default)]
    pub activity: BTreeMap<NaiveDate, u64>,
    #[serde(default)]
    pub last_fold: Option<DateTime<Utc>>,
    /// The alert ledger, pending alerts, and how far scans have looked at visits.
    #[serde(default)]
    pub alerts: crate::alerts::AlertState,
}

impl State {
    fn from_json(path: &Path, bytes: &[u8]) -> Result<State> {
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
        Ok(state)
    }
}

/// What has been read of one configured log, across its rotations.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogCheckpoint {
    pub files: Vec<FileCheckpoint>,
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
    /// Bytes consumed: always the end of a complete line.
    pub offset: u64,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::Status;

    #[test]
    fn missing_state_is_a_fresh_start() {
        let dir = tempfile::tempdir().unwrap();
        let lock = StateLock::acquire(dir.path(), Duration::ZERO).unwrap();
        assert_eq!(lock.load().unwrap(), State::default());
    }

    #[test]
    fn state_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let lock = StateLock::acquire(dir.path(), Duration::ZERO).unwrap();
        let mut state = State {
            version: SCHEMA_VERSION,
            generation: 7,
            ..State::default()
        };
        state
            .visits
            .insert(NaiveDate::from_ymd_opt(2026, 3, 29).unwrap(), 120);
        lock.save(&state).unwrap();
        assert_eq!(lock.load().unwrap(), state);
    }

    #[test]
    fn corrupt_state_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let lock = StateLock::acquire(dir.path(), Duration::ZERO).unwrap();
        std::fs::write(lock.state_path(), b"{\"version\": 1, \"generation\": ").unwrap();
        let err = lock.load().unwrap_err();
        assert_eq!(Status::for_error(&err), Status::DataError);
        let msg = format!("{err:#}");
        assert!(
            msg.contains(&lock.state_path().display().to_string()),
            "{msg}"
        );
        assert!(msg.contains("move it aside"), "{msg}");
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let lock = StateLock::acquire(dir.path(), Duration::ZERO).unwrap();
        std::fs::write(lock.state_path(), b"{\"version\": 99, \"generation\": 1}").unwrap();
        let err = lock.load().unwrap_err();
        assert!(format!("{err:#}").contains("schema version 99"));
    }

    #[test]
    fn second_lock_reports_busy_with_the_holder_pid() {
        let dir = tempfile::tempdir().unwrap();
        let _held = StateLock::acquire(dir.path(), Duration::ZERO).unwrap();
        let err = StateLock::acquire(dir.path(), Duration::from_millis(100)).unwrap_err();
        assert_eq!(Status::for_error(&err), Status::TempFail);
        let msg = format!("{err:#}");
        assert!(
            msg.contains(&format!("pid {}", std::process::id())),
            "{msg}"
        );
    }
}
