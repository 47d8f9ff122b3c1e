//! The state lock: a separate file (`arkwatch.lock`) held with std's `File::lock`, so the state
//! file itself can be replaced atomically. The holder writes its pid into the lock file so that
//! a waiting run can say who it waited for. [`StateLock`] is the only way to load and save the
//! state, so the state can only be written while the lock is held exclusively.
//!
//! Commands that only read (`status`, every `--dry-run`) take the lock shared, or, when the
//! directory is read-only or another user's, read without it and say so: what they read is one
//! committed state, since the state file is only ever replaced whole.

use std::fs::{File, TryLockError};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::Utc;

use super::State;
use crate::exit::Fatal;
use crate::fsutil;

const LOCK_FILE: &str = "arkwatch.lock";
const STATE_FILE: &str = "state.json";

/// How a [`StateLock`] holds the state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Exclusive: this run may change and save the state.
    Exclusive,
    /// Shared with other readers; writers wait.
    Shared,
    /// No lock could be taken (a read-only or foreign `data_dir`); reading only.
    Unlocked,
}

/// Proof that this process holds the state lock. Loading and saving the state go through it.
#[derive(Debug)]
pub struct StateLock {
    file: Option<File>,
    data_dir: PathBuf,
    mode: Mode,
    /// Why a reading run holds no lock, for its output.
    note: Option<String>,
}

impl StateLock {
    /// Takes the lock for a run that writes, waiting up to `wait` for another run to finish.
    /// `data_dir` must belong to this user and be closed to others (see
    /// [`fsutil::check_data_dir`]).
    pub fn acquire(data_dir: &Path, wait: Duration) -> Result<StateLock> {
        fsutil::check_data_dir(data_dir)?;
        let path = data_dir.join(LOCK_FILE);
        let mut file = fsutil::open_rw(&path, true).map_err(|err| open_error(err, &path))?;
        wait_for(&mut file, &path, wait, false)?;
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
            file: Some(file),
            data_dir: data_dir.to_path_buf(),
            mode: Mode::Exclusive,
            note: None,
        })
    }

    /// Takes the lock for a run that only reads: shared, so it waits for a writer but not for
    /// other readers. When the lock file cannot be opened (a read-only `data_dir`, or one that
    /// belongs to another user), the run reads without it, and [`StateLock::note`] says so.
    pub fn acquire_for_reading(data_dir: &Path, wait: Duration) -> Result<StateLock> {
        let path = data_dir.join(LOCK_FILE);
        let unlocked = |why: String| StateLock {
            file: None,
            data_dir: data_dir.to_path_buf(),
            mode: Mode::Unlocked,
            note: Some(why),
        };
        let mut file = match fsutil::open_read(&path) {
            Ok(file) => file,
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                return Ok(unlocked(format!(
                    "no lock file {} yet: reading without the lock",
                    path.display()
                )));
            }
            Err(err) => {
                return Ok(unlocked(format!(
                    "could not take the lock {} ({err}): reading without it",
                    path.display()
                )));
            }
        };
        wait_for(&mut file, &path, wait, true)?;
        Ok(StateLock {
            file: Some(file),
            data_dir: data_dir.to_path_buf(),
            mode: Mode::Shared,
            note: None,
        })
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn state_path(&self) -> PathBuf {
        self.data_dir.join(STATE_FILE)
    }

    /// Whether this run may write (it holds the lock exclusively).
    pub fn writable(&self) -> bool {
        self.mode == Mode::Exclusive
    }

    /// Why a reading run holds no lock.
    pub fn note(&self) -> Option<&str> {
        self.note.as_deref()
    }

    /// Reads the state; a missing file is a fresh start, a corrupt one is an error.
    pub fn load(&self) -> Result<State> {
        peek(&self.data_dir)
    }

    /// Replaces the state file atomically.
    pub fn save(&self, state: &State) -> Result<()> {
        if self.mode != Mode::Exclusive {
            anyhow::bail!("internal error: a reading run tried to save the state");
        }
        let mut bytes = serde_json::to_vec_pretty(state).context("cannot serialise the state")?;
        bytes.push(b'\n');
        fsutil::write_atomic(&self.state_path(), &bytes, 0o600)
    }
}

fn open_error(err: io::Error, path: &Path) -> anyhow::Error {
    if err.raw_os_error() == Some(libc::ELOOP) {
        anyhow::anyhow!(
            "{} is a symbolic link; arkwatch never follows links to the files it writes \
             (remove the link)",
            path.display()
        )
    } else {
        anyhow::Error::new(err).context(format!("cannot open lock file {}", path.display()))
    }
}

/// Waits up to `wait` for the lock (shared or exclusive).
fn wait_for(file: &mut File, path: &Path, wait: Duration, shared: bool) -> Result<()> {
    let started = Instant::now();
    loop {
        let attempt = if shared {
            file.try_lock_shared()
        } else {
            file.try_lock()
        };
        match attempt {
            Ok(()) => return Ok(()),
            Err(TryLockError::WouldBlock) if started.elapsed() < wait => {
                std::thread::sleep(Duration::from_millis(25));
            }
            Err(TryLockError::WouldBlock) => {
                return Err(Fatal::Busy {
                    holder: read_holder(file),
                    path: path.to_path_buf(),
                    waited_secs: wait.as_secs(),
                }
                .into());
            }
            Err(TryLockError::Error(err)) => {
                return Err(err).with_context(|| format!("cannot lock {}", path.display()));
            }
        }
    }
}

impl Drop for StateLock {
    fn drop(&mut self) {
        // Best effort: the lock is released when the file closes anyway; clearing the pid keeps
        // a stale holder out of the next "busy" message.
        if self.mode == Mode::Exclusive
            && let Some(file) = &self.file
        {
            let _ = file.set_len(0);
        }
    }
}

/// Who holds the lock of `data_dir` now (None: nobody), without taking it for longer than a
/// look, and without waiting. Opens the file read-only: a read-only `data_dir` answers too.
pub fn lock_holder(data_dir: &Path) -> Result<Option<String>> {
    let path = data_dir.join(LOCK_FILE);
    let mut file = match fsutil::open_read(&path) {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err).with_context(|| format!("cannot open {}", path.display())),
    };
    match file.try_lock_shared() {
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
    match fsutil::read_if_exists(&path)? {
        Some(bytes) => State::from_json(&path, &bytes),
        None => Ok(State::default()),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::Status;
    use crate::state::SCHEMA_VERSION;

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
            .insert(chrono::NaiveDate::from_ymd_opt(2026, 3, 29).unwrap(), 120);
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

    #[test]
    fn a_reading_run_never_saves() {
        let dir = tempfile::tempdir().unwrap();
        drop(StateLock::acquire(dir.path(), Duration::ZERO).unwrap());
        let reader = StateLock::acquire_for_reading(dir.path(), Duration::ZERO).unwrap();
        assert!(!reader.writable());
        assert!(reader.save(&State::default()).is_err());
    }
}
