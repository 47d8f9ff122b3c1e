//! The refresh `metrics` and `report` share: what is new in the logs is ingested (a log that
//! cannot be read is a warning: the numbers are then as of the last ingestion) and new events
//! are folded (a store that does not answer is an error, exit 75: revenue would be wrong). The
//! lock is held only for that. On a `data_dir` this run may not write (read-only, or another
//! user's), the numbers are those of the last run, and a warning says so.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Result;

use super::Run;
use crate::accesslog::read::{LogSource, Progress};
use crate::clock::Clock;
use crate::config::Config;
use crate::events::projection::{UserRecord, UserTotals};
use crate::exit::{Fatal, Status};
use crate::state::{State, StateLock};

/// The committed data, brought up to date.
pub struct Current {
    pub state: State,
    pub users: BTreeMap<String, UserRecord>,
    pub totals: UserTotals,
    /// The keyed hashes of the data (cohorts find users in the activity rollups with them).
    pub keys: crate::rollup::keys::VisitorKeys,
    pub warnings: Vec<String>,
}

/// Ingests and folds what is new, then reads the state and the projection.
pub fn refresh(config: &Config, clock: Clock, wait: Duration) -> Result<Current> {
    let mut warnings = Vec::new();
    let lock = match StateLock::acquire(&config.data_dir, wait) {
        Ok(lock) if crate::fsutil::writable(&config.data_dir) => lock,
        Ok(lock) => {
            drop(lock);
            warnings.push(format!(
                "data_dir {} cannot be written (read-only?); the numbers are those of the last \
                 run that could write",
                config.data_dir.display()
            ));
            StateLock::acquire_for_reading(&config.data_dir, wait)?
        }
        Err(err) if may_read_instead(&err) => {
            warnings.push(format!(
                "{err:#}; the numbers are those of the last run that could write"
            ));
            StateLock::acquire_for_reading(&config.data_dir, wait)?
        }
        Err(err) => return Err(err),
    };
    let mut state = lock.load()?;
    let mut store = crate::events::open(config)?;
    if lock.writable() {
        let run = Run {
            config,
            lock: &lock,
            clock,
        };
        let sources = LogSource::configured(config);
        if !sources.is_empty() {
            match super::ingest::ingest(&run, &mut state, &sources, Progress::Hidden) {
                Ok(summary) => warnings.extend(summary.errors),
                Err(err) => {
                    warnings.push(format!("ingesting the logs failed: {err:#}"));
                    state = lock.load()?;
                }
            }
        }
        super::fold::fold(&run, &mut state, store.as_mut())?;
    }
    let keys = crate::rollup::keys::VisitorKeys::load_for_reading(&config.data_dir)?;
    drop(lock);
    Ok(Current {
        keys,
        users: store.all_users()?,
        totals: store.projection_totals()?,
        state,
        warnings,
    })
}

/// Whether a run that cannot take the lock for writing may still report what is committed:
/// when the directory belongs to someone else or cannot be written.
fn may_read_instead(err: &anyhow::Error) -> bool {
    if Status::for_error(err) == Status::Denied {
        return true;
    }
    err.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().is_some_and(|io| {
            matches!(
                io.raw_os_error(),
                Some(libc::EROFS | libc::EACCES | libc::EPERM)
            )
        }) || cause
            .downcast_ref::<Fatal>()
            .is_some_and(|f| matches!(f, Fatal::Denied(_)))
    })
}
