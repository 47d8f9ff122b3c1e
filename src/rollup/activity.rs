//! Daily activity rollups, folded from product events: active users, commands, errors, API calls
//! with cost and latency by provider, and revenue movements. Committed with the event cursor
//! (see [`super::files`]), so trimming old events loses no day of history. How an event counts
//! in its day is the events' business ([`crate::events::activity`]); this is the record.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::Result;
use chrono::NaiveDate;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::files::{DayFiles, Generations};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivityDay {
    /// Events of known types.
    pub events: u64,
    /// Events of types arkwatch does not know; left out of everything else.
    pub unknown: u64,
    /// Users with any known event that day, as keyed hashes of their ids
    /// ([`crate::rollup::keys::VisitorKeys::user`]): distinct users over any period are the
    /// size of the union.
    pub active_users: BTreeSet<u64>,
    pub registrations: u64,
    #[serde(default)]
    pub trials: u64,
    pub commands: BTreeMap<String, u64>,
    pub errors: u64,
    /// Errors by their name (or message).
    pub errors_by_name: BTreeMap<String, u64>,
    /// Errors by the command they happened in (errors without one are left out).
    #[serde(default)]
    pub errors_by_command: BTreeMap<String, u64>,
    pub api: BTreeMap<String, ApiDay>,
    /// API cost by user (keyed hashes of their ids, as `active_users`): a fold's delta only;
    /// stored in [`super::user_cost`], never written here. (A build before kept it here: read,
    /// and moved there when the day is next folded.)
    #[serde(default, skip_serializing)]
    pub cost_by_user: BTreeMap<u64, Decimal>,
    /// First conversions to a paid plan.
    pub conversions: u64,
    /// Users who had cancelled paying again.
    #[serde(default)]
    pub reactivations: u64,
    pub cancellations: u64,
    pub mrr_new: Decimal,
    #[serde(default)]
    pub mrr_reactivation: Decimal,
    pub mrr_churned: Decimal,
    pub mrr_expansion: Decimal,
    pub mrr_contraction: Decimal,
}

/// Adds one to `key`, allocating its name only the first time (this runs once per event).
pub fn count(map: &mut BTreeMap<String, u64>, key: &str) {
    match map.get_mut(key) {
        Some(n) => *n = n.saturating_add(1),
        None => {
            map.insert(key.to_string(), 1);
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiDay {
    pub calls: u64,
    pub cost: Decimal,
    /// Calls by latency in whole milliseconds: exact percentiles over any period.
    pub latency_ms: BTreeMap<u64, u64>,
}

/// A sum of money that does not fit: only a hand-edited or corrupt rollup can hold one, since
/// every event's amount is bounded.
#[derive(Debug, thiserror::Error)]
#[error(
    "an amount of money in the activity rollups is out of range (a rollup file was edited or is corrupt)"
)]
pub struct Overflow;

/// `a + b`, or [`Overflow`].
pub fn add(a: Decimal, b: Decimal) -> Result<Decimal, Overflow> {
    a.checked_add(b).ok_or(Overflow)
}

/// `n + delta`, saturating at 0 and at the maximum.
pub fn add_count(n: u64, delta: i64) -> u64 {
    if delta >= 0 {
        n.saturating_add(delta.unsigned_abs())
    } else {
        n.saturating_sub(delta.unsigned_abs())
    }
}

fn merge_counts(into: &mut BTreeMap<String, u64>, from: BTreeMap<String, u64>) {
    for (k, n) in from {
        let slot = into.entry(k).or_default();
        *slot = slot.saturating_add(n);
    }
}

impl ActivityDay {
    /// Folds another delta of the same day into this one.
    pub fn merge(&mut self, delta: ActivityDay) -> Result<(), Overflow> {
        self.events = self.events.saturating_add(delta.events);
        self.unknown = self.unknown.saturating_add(delta.unknown);
        self.active_users.extend(delta.active_users);
        self.registrations = self.registrations.saturating_add(delta.registrations);
        self.trials = self.trials.saturating_add(delta.trials);
        merge_counts(&mut self.commands, delta.commands);
        self.errors = self.errors.saturating_add(delta.errors);
        merge_counts(&mut self.errors_by_name, delta.errors_by_name);
        merge_counts(&mut self.errors_by_command, delta.errors_by_command);
        for (provider, api) in delta.api {
            let a = self.api.entry(provider).or_default();
            a.calls = a.calls.saturating_add(api.calls);
            a.cost = add(a.cost, api.cost)?;
            for (ms, n) in api.latency_ms {
                let slot = a.latency_ms.entry(ms).or_default();
                *slot = slot.saturating_add(n);
            }
        }
        for (user, cost) in delta.cost_by_user {
            let slot = self.cost_by_user.entry(user).or_default();
            *slot = add(*slot, cost)?;
        }
        self.conversions = self.conversions.saturating_add(delta.conversions);
        self.reactivations = self.reactivations.saturating_add(delta.reactivations);
        self.cancellations = self.cancellations.saturating_add(delta.cancellations);
        self.mrr_new = add(self.mrr_new, delta.mrr_new)?;
        self.mrr_reactivation = add(self.mrr_reactivation, delta.mrr_reactivation)?;
        self.mrr_churned = add(self.mrr_churned, delta.mrr_churned)?;
        self.mrr_expansion = add(self.mrr_expansion, delta.mrr_expansion)?;
        self.mrr_contraction = add(self.mrr_contraction, delta.mrr_contraction)?;
        Ok(())
    }
}

pub(super) fn files(data_dir: &Path) -> DayFiles {
    DayFiles::new(data_dir, "activity")
}

/// Reads every day the state names, oldest first.
pub fn load_all(
    data_dir: &Path,
    current: &Generations,
) -> Result<std::collections::BTreeMap<NaiveDate, ActivityDay>> {
    files(data_dir).load_all(current)
}

/// Reads the current rollup of `day`, or an empty one if the state names none.
pub fn load_day(data_dir: &Path, current: &Generations, day: NaiveDate) -> Result<ActivityDay> {
    files(data_dir).load(current, day)
}

/// Writes `day` as generation `generation` (see [`DayFiles::write`]); returns its path.
pub fn write_day(
    data_dir: &Path,
    day: NaiveDate,
    generation: u64,
    rollup: &ActivityDay,
) -> Result<PathBuf> {
    files(data_dir).write(day, generation, rollup)
}

/// Makes the days written durable; call before committing the state.
pub fn sync_written(data_dir: &Path) -> Result<()> {
    files(data_dir).sync()
}

/// Deletes every activity rollup file the state does not name.
pub fn remove_unreferenced(data_dir: &Path, current: &Generations) -> Result<()> {
    files(data_dir).remove_unreferenced(current)
}
