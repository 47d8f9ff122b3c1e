//! The numbers: users, revenue, engagement, costs, traffic and the funnel of one period,
//! computed from the daily rollups and the users projection (never from raw events, so they
//! survive the trimming of events after `retention_days`). The definitions, with their
//! formulas, are in `docs/metrics.md`; each section's file says which ones it implements.
//!
//! Compute, then render: [`compute`] builds a [`Metrics`] with exact (unrounded) amounts, one
//! function per section, and the renderers in [`render`] format it; money is rounded once, at
//! output (see [`money`]).

pub mod calibrate;
mod cohorts;
mod costs;
pub mod customers;
mod daily;
mod days;
mod engagement;
mod funnel;
pub mod leads;
pub mod money;
pub mod render;
mod revenue;
mod traffic;
mod users;

use std::collections::BTreeMap;

use anyhow::Result;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;

pub use costs::{Costs, Provider};
pub use engagement::Engagement;
pub use funnel::{Funnel, FunnelStep};
pub use revenue::{PlanRevenue, Revenue, Trials};
pub use traffic::{DayTraffic, TrackedPage, Traffic};
pub use users::{Cohort, Users};

use crate::config::Config;
use crate::events::projection::{UserRecord, UserTotals};
use crate::rollup::keys::VisitorKeys;
use crate::state::State;
pub use daily::Daily;
pub use days::Days;

/// How many entries "top" lists hold in `metrics` (the report shows 5 of them).
pub const TOP: usize = 10;

/// The longest period, in days: a period costs what its days hold, and ten years is longer
/// than any report a founder reads.
pub const MAX_DAYS: i64 = 3660;

/// Local days `since..=until`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Period {
    pub since: NaiveDate,
    pub until: NaiveDate,
}

impl Period {
    pub fn days(&self) -> i64 {
        (self.until - self.since).num_days() + 1
    }

    pub fn dates(&self) -> impl Iterator<Item = NaiveDate> + use<> {
        let since = self.since;
        (0..self.days()).map(move |i| since + Duration::days(i))
    }

    /// The period of the same length just before.
    pub fn previous(&self) -> Period {
        let len = Duration::days(self.days());
        Period {
            since: self.since - len,
            until: self.until - len,
        }
    }
}

/// Everything `metrics` prints, and what `report` builds on.
#[derive(Clone, Debug, Serialize)]
pub struct Metrics {
    pub period: PeriodInfo,
    pub users: Users,
    pub revenue: Revenue,
    pub engagement: Engagement,
    pub costs: Costs,
    pub traffic: Traffic,
    pub funnel: Funnel,
    pub leads: leads::LeadsSection,
    pub customers: customers::Customers,
}

#[derive(Clone, Debug, Serialize)]
pub struct PeriodInfo {
    pub since: NaiveDate,
    pub until: NaiveDate,
    pub days: i64,
    pub timezone: String,
    /// Every amount of money below is in this currency.
    pub currency: String,
}

/// A name and its count, in top lists.
#[derive(Clone, Debug, Serialize)]
pub struct Named {
    pub name: String,
    pub count: u64,
}

/// What the computation reads.
pub struct Sources<'a> {
    pub config: &'a Config,
    pub state: &'a State,
    pub users: &'a BTreeMap<String, UserRecord>,
    pub totals: UserTotals,
    /// The keyed hash of user ids (cohorts find their users in the activity rollups).
    pub keys: &'a VisitorKeys,
}

/// Computes every metric of `period`.
pub fn compute(src: &Sources<'_>, period: Period) -> Result<Metrics> {
    compute_with(&Days::new(src), period)
}

/// Computes every metric of each period, reading each rollup day once (a report's period and
/// the one before share their trailing 30 days).
pub fn compute_all(src: &Sources<'_>, periods: &[Period]) -> Result<Vec<Metrics>> {
    let days = Days::new(src);
    periods.iter().map(|p| compute_with(&days, *p)).collect()
}

/// The metrics of `period` from rollup days already read (several computations that share
/// days share one [`Days`]).
pub fn compute_in(days: &Days<'_>, period: Period) -> Result<Metrics> {
    compute_with(days, period)
}

/// Each day of `period` on its own (the dashboard's charts), from rollup days already read.
pub fn daily_in(days: &Days<'_>, period: Period) -> Result<Vec<Daily>> {
    daily::of(days, period)
}

fn compute_with(days: &Days<'_>, period: Period) -> Result<Metrics> {
    compute_sections(days, period, None)
}

/// The metrics of `period` with only `sections` computed (None: all); the others are left
/// empty. `metrics leads` need not pay for cohorts and movements.
pub fn compute_only(src: &Sources<'_>, period: Period, sections: &[&str]) -> Result<Metrics> {
    compute_sections(&Days::new(src), period, Some(sections))
}

fn compute_sections(days: &Days<'_>, period: Period, sections: Option<&[&str]>) -> Result<Metrics> {
    let config = days.src.config;
    let wanted = |s: &str| sections.is_none_or(|all| all.contains(&s));
    // Costs read the revenue (gross margin); the funnel reads the traffic.
    let users = if wanted("users") {
        users::compute(days, period)?
    } else {
        Users::default()
    };
    let revenue = if wanted("revenue") || wanted("costs") {
        revenue::compute(days, period)?
    } else {
        Revenue::default()
    };
    let costs = if wanted("costs") {
        costs::compute(days, period, &revenue)?
    } else {
        Costs::default()
    };
    let traffic = if wanted("traffic") || wanted("funnel") {
        traffic::compute(days, period)?
    } else {
        Traffic::default()
    };
    let funnel = if wanted("funnel") {
        funnel::compute(config, &traffic)
    } else {
        Funnel::default()
    };
    Ok(Metrics {
        period: PeriodInfo {
            since: period.since,
            until: period.until,
            days: period.days(),
            timezone: config.timezone.name().to_string(),
            currency: config.metrics.currency.clone(),
        },
        users,
        revenue,
        engagement: if wanted("engagement") {
            engagement::compute(days, period)?
        } else {
            Engagement::default()
        },
        costs,
        traffic,
        funnel,
        leads: if wanted("leads") {
            leads::compute(days.src, period)?
        } else {
            leads::LeadsSection::default()
        },
        customers: if wanted("customers") {
            customers::compute(days, period)?
        } else {
            customers::Customers::default()
        },
    })
}

/// The first instant after local day `day` (see [`crate::day::end_of`]).
pub fn end_of(config: &Config, day: NaiveDate) -> DateTime<Utc> {
    crate::day::end_of(config.timezone, day)
}

/// The first instant of local day `day`.
pub fn start_of(config: &Config, day: NaiveDate) -> DateTime<Utc> {
    crate::day::start_of(config.timezone, day)
}

/// `part ÷ whole`, or None when `whole` is 0.
#[allow(clippy::cast_precision_loss)] // counts of users and events: far below 2^52
fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// A top list: most first, ties in alphabetical order, at most `n`.
fn top(map: BTreeMap<String, u64>, n: usize) -> Vec<Named> {
    let mut v: Vec<Named> = map
        .into_iter()
        .map(|(name, count)| Named { name, count })
        .collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then(a.name.cmp(&b.name)));
    v.truncate(n);
    v
}

/// Adds the counts of `from` into `into`.
fn add_counts(into: &mut BTreeMap<String, u64>, from: &BTreeMap<String, u64>) {
    for (k, v) in from {
        let slot = into.entry(k.clone()).or_default();
        *slot = slot.saturating_add(*v);
    }
}
