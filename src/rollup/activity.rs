//! Daily activity rollups, folded from product events: active users, commands, errors, API calls
//! with cost and latency by provider, and revenue movements. Committed with the event cursor
//! (see [`super::files`]), so trimming old events loses no day of history.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::Result;
use chrono::NaiveDate;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::files::{DayFiles, Generations};
use crate::events::event::{Event, EventKind};
use crate::events::projection::Movement;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivityDay {
    /// Events of known types.
    pub events: u64,
    /// Events of types arkwatch does not know; left out of everything else.
    pub unknown: u64,
    /// Users with any known event that day, as keyed hashes of their ids
    /// ([`crate::rollup::keys::VisitorKeys::user`]): distinct users over any period are the size of
    /// the union.
    pub active_users: BTreeSet<u64>,
    pub registrations: u64,
    pub commands: BTreeMap<String, u64>,
    pub errors: u64,
    pub errors_by_name: BTreeMap<String, u64>,
    pub api: BTreeMap<String, ApiDay>,
    pub conversions: u64,
    pub cancellations: u64,
    pub mrr_new: Decimal,
    pub mrr_churned: Decimal,
    pub mrr_expansion: Decimal,
    pub mrr_contraction: Decimal,
}

/// Adds one to `key`, allocating its name only the first time (this runs once per event).
fn count(map: &mut BTreeMap<String, u64>, key: &str) {
    match map.get_mut(key) {
        Some(n) => *n += 1,
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

impl ActivityDay {
    /// Folds another delta of the same day into this one.
    pub fn merge(&mut self, delta: ActivityDay) {
        self.events += delta.events;
        self.unknown += delta.unknown;
        self.active_users.extend(delta.active_users);
        self.registrations += delta.registrations;
        for (k, n) in delta.commands {
            *self.commands.entry(k).or_default() += n;
        }
        self.errors += delta.errors;
        for (k, n) in delta.errors_by_name {
            *self.errors_by_name.entry(k).or_default() += n;
        }
        for (provider, api) in delta.api {
            let a = self.api.entry(provider).or_default();
            a.calls += api.calls;
            a.cost += api.cost;
            for (ms, n) in api.latency_ms {
                *a.latency_ms.entry(ms).or_default() += n;
            }
        }
        self.conversions += delta.conversions;
        self.cancellations += delta.cancellations;
        self.mrr_new += delta.mrr_new;
        self.mrr_churned += delta.mrr_churned;
        self.mrr_expansion += delta.mrr_expansion;
        self.mrr_contraction += delta.mrr_contraction;
    }

    /// Counts one event; `movement` is what it did to revenue (from the projection). Returns
    /// whether the event counts as activity: the caller adds its user to `active_users` (the
    /// fold keeps a hash set per day, much faster than this ordered set for each event).
    pub fn add(&mut self, event: &Event, movement: Movement) -> bool {
        if let EventKind::Unknown { .. } = event.kind {
            self.unknown += 1;
            return false;
        }
        self.events += 1;
        match &event.kind {
            EventKind::Registration => self.registrations += 1,
            EventKind::Command { name } => count(&mut self.commands, name),
            EventKind::Error { name, message, .. } => {
                self.errors += 1;
                let label = name.as_deref().or(message.as_deref()).unwrap_or_default();
                count(&mut self.errors_by_name, label);
            }
            EventKind::ApiCall {
                provider,
                cost,
                latency_ms,
            } => {
                if !self.api.contains_key(provider) {
                    self.api.insert(provider.clone(), ApiDay::default());
                }
                let api = self.api.get_mut(provider).expect("inserted above");
                api.calls += 1;
                api.cost += *cost;
                *api.latency_ms.entry(*latency_ms).or_default() += 1;
            }
            EventKind::Conversion { .. }
            | EventKind::Cancellation { .. }
            | EventKind::Unknown { .. } => {}
        }
        self.conversions += u64::from(movement.conversion);
        self.cancellations += u64::from(movement.cancellation);
        self.mrr_new += movement.new;
        self.mrr_churned += movement.churned;
        self.mrr_expansion += movement.expansion;
        self.mrr_contraction += movement.contraction;
        true
    }
}

fn files(data_dir: &Path) -> DayFiles {
    DayFiles::new(data_dir, "activity")
}

/// Reads the current rollup of `day`, or an empty one if the state names none.
pub fn load_day(data_dir: &Path, current: &Generations, day: NaiveDate) -> Result<ActivityDay> {
    files(data_dir).load(current, day)
}

/// Writes `day` as generation `generation` (see [`DayFiles::write`]).
pub fn write_day(
    data_dir: &Path,
    day: NaiveDate,
    generation: u64,
    rollup: &ActivityDay,
) -> Result<()> {
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
