//! Erasure in the rollups: every visitor key of a target address on each day is removed (the
//! keyed hash of address and day is recomputed, so its keys are found without knowing its
//! User-Agents), and page, referrer, command and error names holding the address are
//! redacted. Changed days are written as a new generation; the caller commits the state.

use std::collections::{BTreeSet, HashSet};
use std::net::IpAddr;
use std::path::Path;

use anyhow::Result;

use super::files::Generations;
use super::keys::VisitorKeys;
use super::{activity, traffic};
use crate::erase::{Erased, Target};

/// The rollups' records in the state, and the generation a change is written as.
pub struct Records<'a> {
    pub traffic: &'a mut Generations,
    pub activity: &'a mut Generations,
    pub generation: u64,
}

/// Erases (or finds) the target in the rollups; `addresses` are the target's addresses whose
/// visitor keys go. Returns what went and whether any day was written.
pub fn erase(
    data_dir: &Path,
    records: &mut Records<'_>,
    keys: &VisitorKeys,
    addresses: &[IpAddr],
    target: &Target,
    dry: bool,
) -> Result<(Erased, bool)> {
    let mut erased = Erased::default();
    let traffic_written =
        erase_traffic(data_dir, records, keys, addresses, target, dry, &mut erased)?;
    let activity_written = erase_activity(data_dir, records, target, dry, &mut erased)?;
    Ok((erased, traffic_written || activity_written))
}

/// Visitor keys, sessions and names in the traffic rollups; returns whether a day was written.
fn erase_traffic(
    data_dir: &Path,
    records: &mut Records<'_>,
    keys: &VisitorKeys,
    addresses: &[IpAddr],
    target: &Target,
    dry: bool,
    erased: &mut Erased,
) -> Result<bool> {
    let mut written = false;
    let days: Vec<chrono::NaiveDate> = records.traffic.keys().copied().collect();
    for date in days {
        let mut rollup = traffic::load_day(data_dir, records.traffic, date)?;
        let day = crate::day::from_date(date);
        let highs: HashSet<u32> = addresses.iter().map(|ip| keys.ip_day(*ip, day)).collect();
        let mut removed = 0u64;
        let mut drop_keys = |set: &mut BTreeSet<u64>| {
            let before = set.len();
            set.retain(|k| !highs.contains(&VisitorKeys::ip_day_of(*k)));
            removed += (before - set.len()) as u64;
        };
        drop_keys(&mut rollup.visitors);
        rollup
            .sessions
            .retain(|k, _| !highs.contains(&VisitorKeys::ip_day_of(*k)));
        for tier in rollup.tiers.values_mut() {
            drop_keys(&mut tier.visitors);
        }
        removed +=
            target.redact_names(&mut rollup.pages) + target.redact_names(&mut rollup.referrers);
        if removed == 0 {
            continue;
        }
        erased.records += removed;
        if dry {
            erased.found.push(
                serde_json::json!({"traffic_rollup": date, "visitor_keys_and_names": removed}),
            );
            continue;
        }
        let path = traffic::write_day(data_dir, date, records.generation, &rollup)?;
        records.traffic.insert(date, records.generation);
        erased.changed(
            &path,
            format!(
                "{} and names removed, written as a new generation",
                crate::words::count(removed, "visitor key")
            ),
        );
        written = true;
    }
    if written {
        traffic::sync_written(data_dir)?;
    }
    Ok(written)
}

/// Activity rollups hold no address, except in names a producer chose (an error message that
/// quotes one, say): those are redacted. Returns whether a day was written.
fn erase_activity(
    data_dir: &Path,
    records: &mut Records<'_>,
    target: &Target,
    dry: bool,
    erased: &mut Erased,
) -> Result<bool> {
    let mut activity_written = false;
    let days: Vec<chrono::NaiveDate> = records.activity.keys().copied().collect();
    for date in days {
        let mut rollup = activity::load_day(data_dir, records.activity, date)?;
        let renamed = target.redact_names(&mut rollup.commands)
            + target.redact_names(&mut rollup.errors_by_name);
        if renamed == 0 {
            continue;
        }
        erased.records += renamed;
        if dry {
            erased
                .found
                .push(serde_json::json!({"activity_rollup": date, "names": renamed}));
            continue;
        }
        let path = activity::write_day(data_dir, date, records.generation, &rollup)?;
        records.activity.insert(date, records.generation);
        erased.changed(
            &path,
            format!(
                "{} redacted, written as a new generation",
                crate::words::count(renamed, "name")
            ),
        );
        activity_written = true;
    }
    if activity_written {
        activity::sync_written(data_dir)?;
    }
    Ok(activity_written)
}
