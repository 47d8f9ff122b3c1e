//! Erasure in the rollups: every visitor key of a target address on each day is removed (the
//! keyed hash of address and day is recomputed, so its keys are found without knowing its
//! User-Agents), and page, referrer, command and error names holding the address are
//! redacted. Changed days are written as a new generation; the caller commits the state.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::IpAddr;
use std::path::Path;

use anyhow::Result;
use chrono::NaiveDate;

use super::activity;
use super::files::Generations;
use super::keys::VisitorKeys;
use super::traffic::{self, TrafficDay};
use super::user_cost;
use crate::erase::{Erased, Target};

/// The rollups' records in the state, and the generation a change is written as.
pub struct Records<'a> {
    pub traffic: &'a mut Generations,
    pub activity: &'a mut Generations,
    pub user_costs: &'a mut Generations,
    pub generation: u64,
}

/// Erases (or finds) the target in the rollups; `addresses` are the target's addresses whose
/// visitor keys go.
pub fn erase(
    data_dir: &Path,
    records: &mut Records<'_>,
    keys: &VisitorKeys,
    addresses: &[IpAddr],
    target: &Target,
    dry: bool,
) -> Result<Erasure> {
    let mut erased = Erased::default();
    let mut changes = TrafficChanges::new();
    let traffic_written = erase_traffic(
        data_dir,
        records,
        keys,
        addresses,
        target,
        dry,
        &mut erased,
        &mut changes,
    )?;
    let activity_written = erase_activity(data_dir, records, target, dry, &mut erased)?;
    Ok(Erasure {
        erased,
        written: traffic_written || activity_written,
        traffic: changes,
    })
}

/// What erasing a target did to the rollups.
pub struct Erasure {
    pub erased: Erased,
    /// Whether any day was written (the caller commits the state).
    pub written: bool,
    pub traffic: TrafficChanges,
}

/// What erasing a target changed in one day's traffic rollup: the visitor keys taken out (with
/// their sessions) and the names redacted, as they were and as they are.
#[derive(Debug, Default)]
pub struct Scrubbed {
    pub visitor_keys: Vec<u64>,
    pub pages: Vec<(String, String)>,
    pub referrers: Vec<(String, String)>,
}

impl Scrubbed {
    pub fn count(&self) -> u64 {
        (self.visitor_keys.len() + self.pages.len() + self.referrers.len()) as u64
    }
}

/// Takes the keys whose address-and-day part is one of `highs` out of a day (visitors,
/// sessions, tiers) and redacts the names holding the target.
pub fn scrub(
    day: &mut TrafficDay,
    highs: &HashSet<u32, impl std::hash::BuildHasher>,
    target: &Target,
) -> Scrubbed {
    let owned = |k: &u64| highs.contains(&VisitorKeys::ip_day_of(*k));
    let mut gone: BTreeSet<u64> = day.visitors.iter().copied().filter(owned).collect();
    gone.extend(day.sessions.keys().copied().filter(owned));
    gone.extend(day.conduct.keys().copied().filter(owned));
    for tier in day.tiers.values() {
        gone.extend(tier.visitors.iter().copied().filter(owned));
    }
    for key in &gone {
        day.forget_visitor(*key);
    }
    Scrubbed {
        visitor_keys: gone.into_iter().collect(),
        pages: target.redactions(&mut day.pages),
        referrers: target.redactions(&mut day.referrers),
    }
}

/// What an erasure changed in the traffic rollups, by day.
pub type TrafficChanges = BTreeMap<NaiveDate, Scrubbed>;

/// Visitor keys, sessions and names in the traffic rollups; returns whether a day was written.
#[allow(clippy::too_many_arguments)] // the two halves of `erase`, which has them all
fn erase_traffic(
    data_dir: &Path,
    records: &mut Records<'_>,
    keys: &VisitorKeys,
    addresses: &[IpAddr],
    target: &Target,
    dry: bool,
    erased: &mut Erased,
    changes: &mut TrafficChanges,
) -> Result<bool> {
    let mut written = false;
    let days: Vec<chrono::NaiveDate> = records.traffic.keys().copied().collect();
    for date in days {
        let mut rollup = traffic::load_day(data_dir, records.traffic, date)?;
        let day = crate::day::from_date(date);
        let highs: HashSet<u32> = addresses.iter().map(|ip| keys.ip_day(*ip, day)).collect();
        let scrubbed = scrub(&mut rollup, &highs, target);
        let removed = scrubbed.count();
        if removed > 0 && !dry {
            changes.insert(date, scrubbed);
        }
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

/// Takes a user's keyed hash out of every activity and API cost rollup (`purge-user`): its
/// active days and its API cost. Returns whether a day was written.
pub fn erase_user(
    data_dir: &Path,
    records: &mut Records<'_>,
    user: u64,
    dry: bool,
    erased: &mut Erased,
) -> Result<bool> {
    let generation = records.generation;
    let mut take = UserDays {
        generation,
        dry,
        erased,
    };
    let active = take.erase(
        &activity::files(data_dir),
        records.activity,
        "activity_rollup",
        |day: &mut activity::ActivityDay| day.active_users.remove(&user),
    )?;
    let cost = take.erase(
        &user_cost::files(data_dir),
        records.user_costs,
        "user_cost_rollup",
        |day: &mut user_cost::CostDay| day.remove(&user).is_some(),
    )?;
    Ok(active || cost)
}

/// Days of one rollup kind written again without a user.
struct UserDays<'e> {
    generation: u64,
    dry: bool,
    erased: &'e mut Erased,
}

impl UserDays<'_> {
    fn erase<T: serde::Serialize + serde::de::DeserializeOwned + Default>(
        &mut self,
        files: &super::files::DayFiles,
        current: &mut Generations,
        label: &str,
        remove: impl Fn(&mut T) -> bool,
    ) -> Result<bool> {
        let mut written = false;
        let days: Vec<NaiveDate> = current.keys().copied().collect();
        for date in days {
            let mut day: T = files.load(current, date)?;
            if !remove(&mut day) {
                continue;
            }
            self.erased.records += 1;
            if self.dry {
                self.erased.found.push(serde_json::json!({label: date}));
                continue;
            }
            let path = files.write(date, self.generation, &day)?;
            current.insert(date, self.generation);
            self.erased.changed(
                &path,
                "the user's key taken out, written as a new generation",
            );
            written = true;
        }
        if written {
            files.sync()?;
        }
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollup::conduct::Conduct;

    /// Regression: the behaviour layer's records are visitor keys too, and go with the rest.
    #[test]
    fn scrub_takes_the_addresss_conduct_with_its_sessions() {
        let keys = VisitorKeys::new([3; 16]);
        let (target_ip, other_ip): (IpAddr, IpAddr) = (
            "203.0.113.7".parse().unwrap(),
            "198.51.100.1".parse().unwrap(),
        );
        let agent = keys.agent_hash(b"Firefox");
        let (gone, kept) = (
            keys.visitor(target_ip, agent, 100),
            keys.visitor(other_ip, agent, 100),
        );
        let mut day = TrafficDay::default();
        for key in [gone, kept] {
            day.sessions
                .insert(key, crate::rollup::sessions::Sessions::view(10));
            day.conduct.insert(
                key,
                Conduct {
                    assets: 2,
                    robots: 1,
                    ..Conduct::default()
                },
            );
        }
        // A visitor with only assets has a conduct record and no session.
        let assets_only = keys.visitor(target_ip, keys.agent_hash(b"curl"), 100);
        day.conduct.insert(assets_only, Conduct::default());
        let highs: HashSet<u32> = [keys.ip_day(target_ip, 100)].into_iter().collect();
        let scrubbed = scrub(
            &mut day,
            &highs,
            &Target::parse("203.0.113.7", false).unwrap(),
        );
        assert_eq!(scrubbed.visitor_keys.len(), 2, "{scrubbed:?}");
        assert_eq!(day.conduct.keys().copied().collect::<Vec<_>>(), vec![kept]);
        assert_eq!(day.sessions.keys().copied().collect::<Vec<_>>(), vec![kept]);
    }
}
