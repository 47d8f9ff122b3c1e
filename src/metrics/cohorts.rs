//! Cohort retention: the users who registered in each ISO week (Monday to Sunday, local) that
//! the period touches, and how many of them were active (any event) in each week since, up to
//! the week holding the period's last day. Users are found in the activity rollups by the keyed
//! hash of their id, as the rollups count them.

use std::collections::BTreeMap;

use foldhash::HashSet;

use anyhow::Result;
use chrono::{Datelike, Duration, NaiveDate};
use serde::Serialize;

use super::days::Days;
use super::{Period, ratio};

#[derive(Clone, Debug, Serialize)]
pub struct Cohort {
    /// The Monday of the registration week.
    pub week: NaiveDate,
    /// Users who registered that week.
    pub users: u64,
    /// Users of the cohort active in the registration week (0), the week after (1), …
    pub active: Vec<u64>,
    /// `active` ÷ `users`.
    pub retention: Vec<Option<f64>>,
}

fn monday(day: NaiveDate) -> NaiveDate {
    day - Duration::days(i64::from(day.weekday().num_days_from_monday()))
}

pub fn compute(days: &Days<'_>, period: Period) -> Result<Vec<Cohort>> {
    let src = days.src;
    let tz = src.config.timezone;
    let (first, last) = (monday(period.since), monday(period.until));
    let mut members: BTreeMap<NaiveDate, HashSet<u64>> = BTreeMap::new();
    for (id, user) in src.users {
        let Some(registered) = user.registered else {
            continue;
        };
        let week = monday(registered.with_timezone(&tz).date_naive());
        if (first..=last).contains(&week) {
            members.entry(week).or_default().insert(src.keys.user(id));
        }
    }
    // Each week's active users, once.
    let mut weeks: Vec<(NaiveDate, HashSet<u64>)> = Vec::new();
    let mut week = first;
    while week <= last {
        let days_of_week = (0..7)
            .map(|i| week + Duration::days(i))
            .filter(|d| *d <= period.until);
        weeks.push((week, days.active_set(days_of_week)?));
        week += Duration::days(7);
    }
    let mut out = Vec::new();
    for (i, (week, _)) in weeks.iter().enumerate() {
        let week = *week;
        let cohort = members.remove(&week).unwrap_or_default();
        let active: Vec<u64> = weeks[i..]
            .iter()
            .map(|(_, seen)| cohort.iter().filter(|u| seen.contains(u)).count() as u64)
            .collect();
        let users = cohort.len() as u64;
        out.push(Cohort {
            week,
            users,
            retention: active.iter().map(|a| ratio(*a, users)).collect(),
            active,
        });
    }
    Ok(out)
}
