//! The revenue section: MRR and ARR at the end of the period, ARPU, the MRR movements (new,
//! reactivation, expansion, contraction, churned), customer and revenue churn, gross and net
//! revenue retention, the quick ratio, conversion of the period's registrations, LTV, MRR by
//! plan, and trials. Movements are summed from the activity rollups; plans at an instant come
//! from the users' billing histories (see `days`).

use anyhow::Result;
use chrono::Duration;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::Serialize;

use super::days::Days;
use super::money::{add, cents, cents_opt, div, mul};
use super::{Period, end_of, ratio, start_of};
use crate::events::projection::UserRecord;

#[derive(Clone, Debug, Default, Serialize)]
pub struct Revenue {
    #[serde(serialize_with = "cents")]
    pub mrr: Decimal,
    #[serde(serialize_with = "cents")]
    pub arr: Decimal,
    #[serde(serialize_with = "cents_opt")]
    pub arpu: Option<Decimal>,
    #[serde(serialize_with = "cents")]
    pub mrr_new: Decimal,
    #[serde(serialize_with = "cents")]
    pub mrr_reactivation: Decimal,
    #[serde(serialize_with = "cents")]
    pub mrr_expansion: Decimal,
    #[serde(serialize_with = "cents")]
    pub mrr_contraction: Decimal,
    #[serde(serialize_with = "cents")]
    pub mrr_churned: Decimal,
    #[serde(serialize_with = "cents")]
    pub net_new_mrr: Decimal,
    pub reactivations: u64,
    pub paying_at_start: u64,
    #[serde(serialize_with = "cents")]
    pub mrr_at_start: Decimal,
    pub paying_lost: u64,
    /// Paying users lost in the period ÷ paying at its start.
    pub customer_churn_rate: Option<f64>,
    /// The same over the 30 days ending with the period (the LTV's denominator).
    pub monthly_churn_rate: Option<f64>,
    /// (MRR at the start − contraction − churned MRR of the customers paying at the start)
    /// ÷ MRR at the start (`ChartMogul`'s gross MRR retention).
    pub gross_revenue_retention: Option<f64>,
    /// (MRR at the start + their expansion − contraction − churned MRR) ÷ MRR at the start;
    /// a starting customer who churns and comes back counts as churned.
    pub net_revenue_retention: Option<f64>,
    /// (their contraction + churned MRR) ÷ MRR at the start: 1 − gross revenue retention.
    pub gross_mrr_churn_rate: Option<f64>,
    /// (their contraction + churned − expansion MRR) ÷ MRR at the start: 1 − net revenue
    /// retention (negative when expansion outweighs churn).
    pub net_mrr_churn_rate: Option<f64>,
    /// (new + reactivation + expansion) ÷ (churned + contraction).
    pub quick_ratio: Option<f64>,
    pub registrations: u64,
    pub converted_registrations: u64,
    /// Registrations of the period that converted by its end ÷ registrations of the period.
    pub conversion_rate: Option<f64>,
    /// ARPU ÷ monthly churn rate; None ("n/a") when churn is 0.
    #[serde(serialize_with = "cents_opt")]
    pub ltv: Option<Decimal>,
    /// Paying users and MRR by plan at the end of the period, most MRR first.
    pub by_plan: Vec<PlanRevenue>,
    pub trials: Trials,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct PlanRevenue {
    pub plan: String,
    pub customers: u64,
    #[serde(serialize_with = "cents")]
    pub mrr: Decimal,
    #[serde(serialize_with = "cents_opt")]
    pub arpu: Option<Decimal>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Trials {
    /// Users whose first trial started in the period.
    pub started: u64,
    /// Of them, those who converted to a paid plan after the trial started, by the end.
    pub converted: u64,
    /// Of them, those not converted whose `trial_days` ended by the end of the period.
    pub lapsed: u64,
    /// `converted` ÷ `started`.
    pub conversion_rate: Option<f64>,
    /// Median (nearest rank) of the days from trial start to conversion.
    pub median_days_to_convert: Option<f64>,
}

/// The sums of the period's movements.
#[derive(Default)]
struct Moves {
    new: Decimal,
    reactivation: Decimal,
    expansion: Decimal,
    contraction: Decimal,
    churned: Decimal,
    reactivations: u64,
    lost: u64,
}

fn moves(days: &Days<'_>, dates: impl Iterator<Item = chrono::NaiveDate>) -> Result<Moves> {
    let mut m = Moves::default();
    for day in dates {
        let a = days.activity(day)?;
        m.new = add(m.new, a.mrr_new)?;
        m.reactivation = add(m.reactivation, a.mrr_reactivation)?;
        m.expansion = add(m.expansion, a.mrr_expansion)?;
        m.contraction = add(m.contraction, a.mrr_contraction)?;
        m.churned = add(m.churned, a.mrr_churned)?;
        m.reactivations += a.reactivations;
        m.lost += a.cancellations;
    }
    Ok(m)
}

pub fn compute(days: &Days<'_>, period: Period) -> Result<Revenue> {
    let config = days.src.config;
    let (start, end) = (start_of(config, period.since), end_of(config, period.until));
    let at_end = days.paying_at(end)?;
    let at_start = days.paying_at(start)?;
    let premium = at_end.count();
    let m = moves(days, period.dates())?;
    let month_start = end_of(config, period.until - Duration::days(30));
    let month = moves(days, (0..30).map(|i| period.until - Duration::days(i)))?;
    let monthly_churn_rate = ratio(month.lost, days.paying_at(month_start)?.count());
    let arpu = div(at_end.mrr, Decimal::from(premium.max(1))).filter(|_| premium > 0);
    let ltv = match (arpu, monthly_churn_rate) {
        (Some(arpu), Some(churn)) if churn > 0.0 => {
            Decimal::try_from(churn).ok().and_then(|c| div(arpu, c))
        }
        _ => None,
    };
    let (grr, nrr) = retention(days, &at_start, start, end)?;
    let gained = add(add(m.new, m.reactivation)?, m.expansion)?;
    let lost = add(m.churned, m.contraction)?;
    let quick_ratio = div(gained, lost)
        .filter(|_| lost > Decimal::ZERO)
        .and_then(|r| r.to_f64());
    let (registrations, converted) = cohort_conversion(days, start, end);
    Ok(Revenue {
        mrr: at_end.mrr,
        arr: mul(at_end.mrr, Decimal::from(12))?,
        arpu,
        mrr_new: m.new,
        mrr_reactivation: m.reactivation,
        mrr_expansion: m.expansion,
        mrr_contraction: m.contraction,
        mrr_churned: m.churned,
        net_new_mrr: gained - lost,
        reactivations: m.reactivations,
        paying_at_start: at_start.count(),
        mrr_at_start: at_start.mrr,
        paying_lost: m.lost,
        customer_churn_rate: ratio(m.lost, at_start.count()),
        monthly_churn_rate,
        gross_revenue_retention: grr,
        net_revenue_retention: nrr,
        gross_mrr_churn_rate: grr.map(|r| 1.0 - r),
        net_mrr_churn_rate: nrr.map(|r| 1.0 - r),
        quick_ratio,
        registrations,
        converted_registrations: converted,
        conversion_rate: ratio(converted, registrations),
        ltv,
        by_plan: by_plan(&at_end.by_plan),
        trials: trials(days, start, end),
    })
}

/// Gross and net MRR retention of the customers paying at `start`, from their movements in
/// [start, end) (reactivations of those who churned are left out, as `ChartMogul` does).
fn retention(
    days: &Days<'_>,
    at_start: &super::days::Paying,
    start: chrono::DateTime<chrono::Utc>,
    end: chrono::DateTime<chrono::Utc>,
) -> Result<(Option<f64>, Option<f64>)> {
    if at_start.mrr <= Decimal::ZERO {
        return Ok((None, None));
    }
    let (mut expansion, mut lost) = (Decimal::ZERO, Decimal::ZERO);
    for user in at_start.users.keys() {
        let Some(record) = days.src.users.get(user) else {
            continue;
        };
        let mut moved = Ok(());
        crate::events::projection::replay(&record.billing, |b, m, _| {
            if b.time >= start && b.time < end && moved.is_ok() {
                moved = add(expansion, m.expansion)
                    .and_then(|e| {
                        expansion = e;
                        add(add(lost, m.contraction)?, m.churned)
                    })
                    .map(|l| lost = l);
            }
        });
        moved?;
    }
    let s = at_start.mrr;
    let share = |part: Decimal| div(part, s).and_then(|r| r.to_f64());
    Ok((share(s - lost), share(s + expansion - lost)))
}

/// Registrations of [start, end) and how many of those users converted before `end`.
fn cohort_conversion(
    days: &Days<'_>,
    start: chrono::DateTime<chrono::Utc>,
    end: chrono::DateTime<chrono::Utc>,
) -> (u64, u64) {
    let cohort: Vec<&UserRecord> = days
        .src
        .users
        .values()
        .filter(|u| u.registered.is_some_and(|r| r >= start && r < end))
        .collect();
    let converted = cohort
        .iter()
        .filter(|u| u.converted.is_some_and(|c| c < end))
        .count() as u64;
    (cohort.len() as u64, converted)
}

fn by_plan(plans: &std::collections::BTreeMap<String, (u64, Decimal)>) -> Vec<PlanRevenue> {
    let mut out: Vec<PlanRevenue> = plans
        .iter()
        .map(|(plan, (customers, mrr))| PlanRevenue {
            plan: plan.clone(),
            customers: *customers,
            mrr: *mrr,
            arpu: div(*mrr, Decimal::from(*customers)),
        })
        .collect();
    out.sort_by(|a, b| b.mrr.cmp(&a.mrr).then(a.plan.cmp(&b.plan)));
    out
}

fn trials(
    days: &Days<'_>,
    start: chrono::DateTime<chrono::Utc>,
    end: chrono::DateTime<chrono::Utc>,
) -> Trials {
    let length = Duration::days(i64::from(days.src.config.metrics.trial_days));
    let mut t = Trials {
        started: 0,
        converted: 0,
        lapsed: 0,
        conversion_rate: None,
        median_days_to_convert: None,
    };
    let mut waits: Vec<f64> = Vec::new();
    for user in days.src.users.values() {
        let Some(trial) = user.trial_started.filter(|t| *t >= start && *t < end) else {
            continue;
        };
        t.started += 1;
        let paid = user
            .billing
            .iter()
            .find(|b| b.time >= trial && b.time < end && b.mrr > Decimal::ZERO);
        match paid {
            Some(b) => {
                t.converted += 1;
                #[allow(clippy::cast_precision_loss)] // seconds of a trial: far below 2^52
                waits.push((b.time - trial).num_seconds() as f64 / 86_400.0);
            }
            None if trial + length <= end => t.lapsed += 1,
            None => {}
        }
    }
    t.conversion_rate = ratio(t.converted, t.started);
    waits.sort_by(f64::total_cmp);
    t.median_days_to_convert = (!waits.is_empty()).then(|| waits[(waits.len() - 1) / 2]);
    t
}
