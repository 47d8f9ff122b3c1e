//! The users section: users, paying and free users at the end of the period, registrations,
//! DAU/WAU/MAU on its last day and averaged over it, stickiness, and the weekly cohorts.

use std::collections::BTreeMap;

use anyhow::Result;
use chrono::{Duration, NaiveDate};
use serde::Serialize;

pub use super::cohorts::Cohort;
use super::days::Days;
use super::{Period, end_of, ratio};

#[derive(Clone, Debug, Default, Serialize)]
pub struct Users {
    /// Users known at the end of the period, paying and free.
    pub total: u64,
    pub premium: u64,
    pub free: u64,
    pub new_registrations: u64,
    pub registrations_per_day: BTreeMap<NaiveDate, u64>,
    pub dau: u64,
    pub wau: u64,
    pub mau: u64,
    /// DAU ÷ MAU; None when MAU is 0.
    pub stickiness: Option<f64>,
    /// The mean of each day's DAU over the period.
    pub dau_average: f64,
    /// The mean over the period's days of the WAU ending on each.
    pub wau_average: f64,
    /// Users by registration week, and the share active in each week since.
    pub cohorts: Vec<Cohort>,
}

pub fn compute(days: &Days<'_>, period: Period) -> Result<Users> {
    let src = days.src;
    let end = period.until;
    let end_instant = end_of(src.config, end);
    let total = src
        .users
        .values()
        .filter(|u| u.registered.unwrap_or(u.first_seen) < end_instant)
        .count() as u64;
    let premium = days.paying_at(end_instant)?.count();
    let mut registrations_per_day = BTreeMap::new();
    let mut new_registrations = 0;
    for day in period.dates() {
        let n = days.activity(day)?.registrations;
        registrations_per_day.insert(day, n);
        new_registrations += n;
    }
    let trailing = |last: NaiveDate, n: i64| (0..n).map(move |i| last - Duration::days(i));
    let dau = days.active(trailing(end, 1))?;
    let wau = days.active(trailing(end, 7))?;
    let mau = days.active(trailing(end, 30))?;
    let (mut dau_sum, mut wau_sum) = (0u64, 0u64);
    for day in period.dates() {
        dau_sum += days.active(trailing(day, 1))?;
        wau_sum += days.active(trailing(day, 7))?;
    }
    #[allow(clippy::cast_precision_loss)] // a period has at most 3660 days
    let n = period.days() as f64;
    #[allow(clippy::cast_precision_loss)]
    Ok(Users {
        total,
        premium,
        free: total.saturating_sub(premium),
        new_registrations,
        registrations_per_day,
        dau,
        wau,
        mau,
        stickiness: ratio(dau, mau),
        dau_average: dau_sum as f64 / n,
        wau_average: wau_sum as f64 / n,
        cohorts: super::cohorts::compute(days, period)?,
    })
}
