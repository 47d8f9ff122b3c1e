//! Daily API cost by user (`rollups/user_cost/DAY.gN.json`): each user's keyed hash
//! ([`crate::rollup::keys::VisitorKeys::user`]) and what their `api_call` events cost that day,
//! the cost to serve. Kept apart from the activity rollups, which every scan reads for the
//! threshold rules: only `metrics customers`, the `user_cost` rule and `purge-user` read these,
//! and a fold writes a day's file only when that day has new costs. The state names each day's
//! generation (see [`super::files`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::activity::{Overflow, add};
use super::files::{DayFiles, Generations};

/// A day's cost by user.
pub type CostDay = BTreeMap<u64, Decimal>;

pub(super) fn files(data_dir: &Path) -> DayFiles {
    DayFiles::new(data_dir, "user_cost")
}

/// Adds the costs of `delta` to `into`.
pub fn merge(into: &mut CostDay, delta: CostDay) -> Result<(), Overflow> {
    for (user, cost) in delta {
        let slot = into.entry(user).or_default();
        *slot = add(*slot, cost)?;
    }
    Ok(())
}

/// The current costs of `day`, or none if the state names no file.
pub fn load_day(data_dir: &Path, current: &Generations, day: NaiveDate) -> Result<CostDay> {
    files(data_dir).load(current, day)
}

/// Each user's cost summed over `days`.
pub fn sum(
    data_dir: &Path,
    current: &Generations,
    days: impl IntoIterator<Item = NaiveDate>,
) -> Result<CostDay> {
    let mut total = CostDay::new();
    for day in days {
        merge(&mut total, load_day(data_dir, current, day)?)?;
    }
    Ok(total)
}

/// Writes `day` as generation `generation` (see [`DayFiles::write`]); returns its path.
pub fn write_day(
    data_dir: &Path,
    day: NaiveDate,
    generation: u64,
    costs: &CostDay,
) -> Result<PathBuf> {
    files(data_dir).write(day, generation, costs)
}

/// Makes the days written durable; call before committing the state.
pub fn sync_written(data_dir: &Path) -> Result<()> {
    files(data_dir).sync()
}

/// Deletes every cost file the state does not name.
pub fn remove_unreferenced(data_dir: &Path, current: &Generations) -> Result<()> {
    files(data_dir).remove_unreferenced(current)
}
