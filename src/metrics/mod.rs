//! The numbers: users, revenue, engagement, costs, traffic and the funnel of one period,
//! computed from the daily rollups and the users projection (never from raw events, so they
//! survive the trimming of events after `retention_days`). The definitions, with their
//! formulas, are in `docs/metrics.md`; each function here says which one it implements.

pub mod render;

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::config::Config;
use crate::events::projection::{UserRecord, UserTotals};
use crate::page_tier::PageTier;
use crate::rollup::activity::ActivityDay;
use crate::rollup::files::DayFiles;
use crate::rollup::traffic::{self, TrafficDay};
use crate::state::State;

/// How many entries "top" lists hold.
pub const TOP: usize = 10;

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

#[derive(Clone, Debug, Serialize)]
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
}

#[derive(Clone, Debug, Serialize)]
pub struct Revenue {
    #[serde(with = "rust_decimal::serde::float")]
    pub mrr: Decimal,
    #[serde(with = "rust_decimal::serde::float")]
    pub arr: Decimal,
    #[serde(with = "rust_decimal::serde::float_option")]
    pub arpu: Option<Decimal>,
    #[serde(with = "rust_decimal::serde::float")]
    pub mrr_new: Decimal,
    #[serde(with = "rust_decimal::serde::float")]
    pub mrr_expansion: Decimal,
    #[serde(with = "rust_decimal::serde::float")]
    pub mrr_contraction: Decimal,
    #[serde(with = "rust_decimal::serde::float")]
    pub mrr_churned: Decimal,
    #[serde(with = "rust_decimal::serde::float")]
    pub net_new_mrr: Decimal,
    pub paying_at_start: u64,
    pub paying_lost: u64,
    /// Paying users lost in the period ÷ paying at its start.
    pub customer_churn_rate: Option<f64>,
    /// The same over the 30 days ending with the period (the LTV's denominator).
    pub monthly_churn_rate: Option<f64>,
    pub registrations: u64,
    pub converted_registrations: u64,
    /// Registrations of the period that converted by its end ÷ registrations of the period.
    pub conversion_rate: Option<f64>,
    /// ARPU ÷ monthly churn rate; None ("n/a") when churn is 0.
    #[serde(with = "rust_decimal::serde::float_option")]
    pub ltv: Option<Decimal>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Engagement {
    pub commands: u64,
    pub top_commands: Vec<Named>,
    pub errors: u64,
    /// Errors ÷ commands.
    pub error_rate: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Named {
    pub name: String,
    pub count: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Costs {
    #[serde(with = "rust_decimal::serde::float")]
    pub api_cost: Decimal,
    pub api_calls: u64,
    pub providers: Vec<Provider>,
    #[serde(with = "rust_decimal::serde::float")]
    pub infra_cost_per_month: Decimal,
    /// The monthly infra cost for the period's days (a month counted as 30 days).
    #[serde(with = "rust_decimal::serde::float")]
    pub infra_cost: Decimal,
    /// Distinct users with any event in the period.
    pub active_users: u64,
    /// (API cost + infra cost) ÷ active users.
    #[serde(with = "rust_decimal::serde::float_option")]
    pub cost_per_active_user: Option<Decimal>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Provider {
    pub provider: String,
    pub calls: u64,
    #[serde(with = "rust_decimal::serde::float")]
    pub cost: Decimal,
    pub latency_p50_ms: Option<u64>,
    pub latency_p95_ms: Option<u64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Traffic {
    pub hits: u64,
    pub pageviews: u64,
    /// Visitors (address, User-Agent) counted once per day they came.
    pub unique_visitors: u64,
    pub bot_hits: u64,
    /// Bot hits ÷ hits.
    pub bot_share: Option<f64>,
    pub top_pages: Vec<Named>,
    pub top_referrers: Vec<Named>,
    pub status: BTreeMap<String, u64>,
    /// Pageviews of each tracked page (prefix) of the configuration.
    pub tracked_pages: Vec<TrackedPage>,
    /// Visitors of the `hot` pages (`/pricing`) ÷ all visitors.
    pub pricing_visitor_share: Option<f64>,
    pub per_day: Vec<DayTraffic>,
}

#[derive(Clone, Debug, Serialize)]
pub struct TrackedPage {
    pub page: String,
    pub tier: PageTier,
    pub pageviews: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct DayTraffic {
    pub day: NaiveDate,
    pub pageviews: u64,
    pub unique_visitors: u64,
    pub active_users: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Funnel {
    pub steps: Vec<FunnelStep>,
}

#[derive(Clone, Debug, Serialize)]
pub struct FunnelStep {
    pub step: String,
    pub tier: PageTier,
    pub visitors: u64,
    /// Visitors of this step ÷ visitors of the step before (None for the first).
    pub conversion_from_previous: Option<f64>,
}

/// What the computation reads.
pub struct Sources<'a> {
    pub config: &'a Config,
    pub state: &'a State,
    pub users: &'a BTreeMap<String, UserRecord>,
    pub totals: UserTotals,
}

/// Loads rollup days on demand, once each.
struct Days<'a> {
    src: &'a Sources<'a>,
    activity: DayFiles,
    cache_a: std::cell::RefCell<BTreeMap<NaiveDate, std::rc::Rc<ActivityDay>>>,
    cache_t: std::cell::RefCell<BTreeMap<NaiveDate, std::rc::Rc<TrafficDay>>>,
}

impl<'a> Days<'a> {
    fn new(src: &'a Sources<'a>) -> Days<'a> {
        Days {
            src,
            activity: DayFiles::new(&src.config.data_dir, "activity"),
            cache_a: Default::default(),
            cache_t: Default::default(),
        }
    }

    fn activity(&self, day: NaiveDate) -> Result<std::rc::Rc<ActivityDay>> {
        if let Some(d) = self.cache_a.borrow().get(&day) {
            return Ok(d.clone());
        }
        let d: std::rc::Rc<ActivityDay> =
            std::rc::Rc::new(self.activity.load(&self.src.state.activity, day)?);
        self.cache_a.borrow_mut().insert(day, d.clone());
        Ok(d)
    }

    fn traffic(&self, day: NaiveDate) -> Result<std::rc::Rc<TrafficDay>> {
        if let Some(d) = self.cache_t.borrow().get(&day) {
            return Ok(d.clone());
        }
        let d = std::rc::Rc::new(traffic::load_day(
            &self.src.config.data_dir,
            &self.src.state.traffic,
            day,
        )?);
        self.cache_t.borrow_mut().insert(day, d.clone());
        Ok(d)
    }

    /// Distinct active users over `days`.
    fn active(&self, days: impl Iterator<Item = NaiveDate>) -> Result<u64> {
        let mut all: BTreeSet<u64> = BTreeSet::new();
        for day in days {
            all.extend(self.activity(day)?.active_users.iter().copied());
        }
        Ok(all.len() as u64)
    }

    /// Days after `day` that have activity rollups (for walking back from today's totals).
    fn after(&self, day: NaiveDate) -> Vec<NaiveDate> {
        use std::ops::Bound::{Excluded, Unbounded};
        self.src
            .state
            .activity
            .range((Excluded(day), Unbounded))
            .map(|(d, _)| *d)
            .collect()
    }

    /// Paying users and MRR at the end of `day`: today's totals with every later movement undone.
    fn paying_at(&self, day: NaiveDate) -> Result<(u64, Decimal)> {
        let mut paying = self.src.totals.premium as i64;
        let mut mrr = self.src.totals.mrr;
        for later in self.after(day) {
            let a = self.activity(later)?;
            paying -= a.conversions as i64 - a.cancellations as i64;
            mrr -= a.mrr_new + a.mrr_expansion - a.mrr_contraction - a.mrr_churned;
        }
        Ok((paying.max(0) as u64, mrr.max(Decimal::ZERO)))
    }
}

fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// The first instant after local day `day` (see [`crate::day::end_of`]).
pub fn end_of(config: &Config, day: NaiveDate) -> DateTime<Utc> {
    crate::day::end_of(config.timezone, day)
}

/// Whether a path is under a tracked prefix (whole segments, as the classifier matches).
fn under(path: &str, prefix: &str) -> bool {
    path == prefix
        || (path.starts_with(prefix)
            && (prefix.ends_with('/') || path.as_bytes().get(prefix.len()) == Some(&b'/')))
}

fn top(map: BTreeMap<String, u64>, n: usize) -> Vec<Named> {
    let mut v: Vec<Named> = map
        .into_iter()
        .map(|(name, count)| Named { name, count })
        .collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then(a.name.cmp(&b.name)));
    v.truncate(n);
    v
}

/// Nearest-rank percentile of a latency histogram (ms → count).
fn percentile(hist: &BTreeMap<u64, u64>, p: f64) -> Option<u64> {
    let total: u64 = hist.values().sum();
    if total == 0 {
        return None;
    }
    let rank = ((p * total as f64).ceil() as u64).max(1);
    let mut seen = 0;
    for (ms, n) in hist {
        seen += n;
        if seen >= rank {
            return Some(*ms);
        }
    }
    hist.keys().last().copied()
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

fn compute_with(days: &Days<'_>, period: Period) -> Result<Metrics> {
    let src = days.src;
    let config = src.config;
    let end = period.until;
    let end_instant = end_of(config, end);
    let start_instant = end_of(config, period.since - Duration::days(1));

    // Users.
    let total = src
        .users
        .values()
        .filter(|u| u.registered.unwrap_or(u.first_seen) < end_instant)
        .count() as u64;
    let (premium, mrr) = days.paying_at(end)?;
    let mut registrations_per_day = BTreeMap::new();
    let mut new_registrations = 0;
    for day in period.dates() {
        let n = days.activity(day)?.registrations;
        registrations_per_day.insert(day, n);
        new_registrations += n;
    }
    let trailing = |n: i64| (0..n).map(move |i| end - Duration::days(i));
    let dau = days.active(trailing(1))?;
    let wau = days.active(trailing(7))?;
    let mau = days.active(trailing(30))?;

    // Revenue.
    let (paying_at_start, _) = days.paying_at(period.since - Duration::days(1))?;
    let mut movements = [Decimal::ZERO; 4];
    let mut lost = 0;
    for day in period.dates() {
        let a = days.activity(day)?;
        movements[0] += a.mrr_new;
        movements[1] += a.mrr_expansion;
        movements[2] += a.mrr_contraction;
        movements[3] += a.mrr_churned;
        lost += a.cancellations;
    }
    let (paying_month_ago, _) = days.paying_at(end - Duration::days(30))?;
    let mut lost_month = 0;
    for day in trailing(30) {
        lost_month += days.activity(day)?.cancellations;
    }
    let monthly_churn_rate = ratio(lost_month, paying_month_ago);
    let cohort: Vec<&UserRecord> = src
        .users
        .values()
        .filter(|u| {
            u.registered
                .is_some_and(|r| r >= start_instant && r < end_instant)
        })
        .collect();
    let converted = cohort
        .iter()
        .filter(|u| u.converted.is_some_and(|c| c < end_instant))
        .count() as u64;
    let arpu = (premium > 0).then(|| (mrr / Decimal::from(premium)).round_dp(2));
    let ltv = match (arpu, monthly_churn_rate) {
        (Some(arpu), Some(churn)) if churn > 0.0 => Decimal::try_from(churn)
            .ok()
            .map(|c| (arpu / c).round_dp(2)),
        _ => None,
    };

    // Engagement and costs.
    let mut commands: BTreeMap<String, u64> = BTreeMap::new();
    let mut errors = 0;
    let mut providers: BTreeMap<String, (u64, Decimal, BTreeMap<u64, u64>)> = BTreeMap::new();
    for day in period.dates() {
        let a = days.activity(day)?;
        for (name, n) in &a.commands {
            *commands.entry(name.clone()).or_default() += n;
        }
        errors += a.errors;
        for (name, api) in &a.api {
            let p = providers.entry(name.clone()).or_default();
            p.0 += api.calls;
            p.1 += api.cost;
            for (ms, n) in &api.latency_ms {
                *p.2.entry(*ms).or_default() += n;
            }
        }
    }
    let command_total: u64 = commands.values().sum();
    let api_cost: Decimal = providers.values().map(|p| p.1).sum();
    let api_calls: u64 = providers.values().map(|p| p.0).sum();
    let infra_per_month = config.metrics.infra_cost_per_month;
    let infra_cost =
        (infra_per_month * Decimal::from(period.days()) / Decimal::from(30)).round_dp(2);
    let active_users = days.active(period.dates())?;
    let cost_per_active_user = (active_users > 0)
        .then(|| ((api_cost + infra_cost) / Decimal::from(active_users)).round_dp(4));

    // Traffic.
    let mut t = Traffic {
        hits: 0,
        pageviews: 0,
        unique_visitors: 0,
        bot_hits: 0,
        bot_share: None,
        top_pages: Vec::new(),
        top_referrers: Vec::new(),
        status: BTreeMap::new(),
        tracked_pages: Vec::new(),
        pricing_visitor_share: None,
        per_day: Vec::new(),
    };
    let mut pages: BTreeMap<String, u64> = BTreeMap::new();
    let mut referrers: BTreeMap<String, u64> = BTreeMap::new();
    let mut tier_visitors: BTreeMap<PageTier, u64> = BTreeMap::new();
    for day in period.dates() {
        let d = days.traffic(day)?;
        t.hits += d.hits;
        t.pageviews += d.pageviews;
        t.unique_visitors += d.unique_visitors();
        t.bot_hits += d.bot_hits;
        for (k, v) in &d.status {
            *t.status.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &d.pages {
            *pages.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &d.referrers {
            *referrers.entry(k.clone()).or_default() += v;
        }
        for (tier, td) in &d.tiers {
            *tier_visitors.entry(*tier).or_default() += td.visitors.len() as u64;
        }
        t.per_day.push(DayTraffic {
            day,
            pageviews: d.pageviews,
            unique_visitors: d.unique_visitors(),
            active_users: days.activity(day)?.active_users.len() as u64,
        });
    }
    t.bot_share = ratio(t.bot_hits, t.hits);
    let mut tracked: Vec<TrackedPage> = config
        .pages
        .iter()
        .map(|(prefix, tier)| TrackedPage {
            page: prefix.clone(),
            tier: *tier,
            pageviews: pages
                .iter()
                .filter(|(p, _)| under(p, prefix))
                .map(|(_, n)| n)
                .sum(),
        })
        .collect();
    tracked.sort_by(|a, b| b.tier.cmp(&a.tier).then(a.page.cmp(&b.page)));
    t.tracked_pages = tracked;
    t.pricing_visitor_share = ratio(
        tier_visitors.get(&PageTier::Hot).copied().unwrap_or(0),
        t.unique_visitors,
    );
    t.top_pages = top(pages, TOP);
    t.top_referrers = top(referrers, TOP);

    // Funnel: warm → hot → very hot (by default /demo → /pricing → /trial).
    let mut steps: Vec<FunnelStep> = Vec::new();
    for tier in [PageTier::Warm, PageTier::Hot, PageTier::VeryHot] {
        let visitors = tier_visitors.get(&tier).copied().unwrap_or(0);
        let step = config
            .pages
            .iter()
            .filter(|(_, t)| *t == tier)
            .map(|(p, _)| p.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        steps.push(FunnelStep {
            step: if step.is_empty() {
                tier.to_string()
            } else {
                step
            },
            tier,
            visitors,
            conversion_from_previous: steps.last().and_then(|p| ratio(visitors, p.visitors)),
        });
    }

    Ok(Metrics {
        period: PeriodInfo {
            since: period.since,
            until: period.until,
            days: period.days(),
            timezone: config.timezone.name().to_string(),
            currency: config.metrics.currency.clone(),
        },
        users: Users {
            total,
            premium,
            free: total.saturating_sub(premium),
            new_registrations,
            registrations_per_day,
            dau,
            wau,
            mau,
            stickiness: ratio(dau, mau),
        },
        revenue: Revenue {
            mrr,
            arr: mrr * Decimal::from(12),
            arpu,
            mrr_new: movements[0],
            mrr_expansion: movements[1],
            mrr_contraction: movements[2],
            mrr_churned: movements[3],
            net_new_mrr: movements[0] + movements[1] - movements[2] - movements[3],
            paying_at_start,
            paying_lost: lost,
            customer_churn_rate: ratio(lost, paying_at_start),
            monthly_churn_rate,
            registrations: cohort.len() as u64,
            converted_registrations: converted,
            conversion_rate: ratio(converted, cohort.len() as u64),
            ltv,
        },
        engagement: Engagement {
            commands: command_total,
            top_commands: top(commands, TOP),
            errors,
            error_rate: ratio(errors, command_total),
        },
        costs: Costs {
            api_cost,
            api_calls,
            providers: providers
                .into_iter()
                .map(|(provider, (calls, cost, hist))| Provider {
                    provider,
                    calls,
                    cost,
                    latency_p50_ms: percentile(&hist, 0.50),
                    latency_p95_ms: percentile(&hist, 0.95),
                })
                .collect(),
            infra_cost_per_month: infra_per_month,
            infra_cost,
            active_users,
            cost_per_active_user,
        },
        traffic: t,
        funnel: Funnel { steps },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let hist: BTreeMap<u64, u64> = [(100, 5), (200, 4), (900, 1)].into();
        assert_eq!(percentile(&hist, 0.5), Some(100));
        assert_eq!(percentile(&hist, 0.95), Some(900));
        assert_eq!(percentile(&BTreeMap::new(), 0.5), None);
    }

    #[test]
    fn tracked_prefixes_match_whole_segments() {
        assert!(under("/pricing", "/pricing"));
        assert!(under("/pricing/team", "/pricing"));
        assert!(!under("/pricingfoo", "/pricing"));
    }
}
