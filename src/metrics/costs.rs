//! The costs section: API cost and calls by provider with latency percentiles, infrastructure
//! cost, cost per active user, API cost per paying user, and the gross margin.

use std::collections::BTreeMap;

use anyhow::Result;
use rust_decimal::Decimal;
use serde::Serialize;

use super::Period;
use super::days::Days;
use super::money::{add, cents, div, mul, unit_opt};
use super::revenue::Revenue;

#[derive(Clone, Debug, Default, Serialize)]
pub struct Costs {
    #[serde(serialize_with = "cents")]
    pub api_cost: Decimal,
    pub api_calls: u64,
    pub providers: Vec<Provider>,
    #[serde(serialize_with = "cents")]
    pub infra_cost_per_month: Decimal,
    /// The monthly infra cost for the period's days (a month counted as 30 days).
    #[serde(serialize_with = "cents")]
    pub infra_cost: Decimal,
    /// Distinct users with any event in the period.
    pub active_users: u64,
    /// (API cost + infra cost) ÷ active users.
    #[serde(serialize_with = "unit_opt")]
    pub cost_per_active_user: Option<Decimal>,
    /// API cost of the period ÷ paying users at its end.
    #[serde(serialize_with = "unit_opt")]
    pub api_cost_per_paying_user: Option<Decimal>,
    /// MRR at the end − API cost for 30 days (the period's, scaled) − infra cost per month.
    #[serde(serialize_with = "cents")]
    pub gross_margin: Decimal,
    /// Gross margin ÷ MRR.
    pub gross_margin_rate: Option<f64>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Provider {
    pub provider: String,
    pub calls: u64,
    #[serde(serialize_with = "cents")]
    pub cost: Decimal,
    pub latency_p50_ms: Option<u64>,
    pub latency_p95_ms: Option<u64>,
    pub latency_p99_ms: Option<u64>,
}

/// Nearest-rank percentile of a latency histogram (ms → count).
pub fn percentile(hist: &BTreeMap<u64, u64>, p: f64) -> Option<u64> {
    let total: u64 = hist.values().sum();
    if total == 0 {
        return None;
    }
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )] // p is in (0, 1] and total a count of calls: the rank is within 1..=total
    let rank = ((p * total as f64).ceil() as u64).max(1);
    let mut seen = 0u64;
    for (ms, n) in hist {
        seen = seen.saturating_add(*n);
        if seen >= rank {
            return Some(*ms);
        }
    }
    hist.keys().last().copied()
}

pub fn compute(days: &Days<'_>, period: Period, revenue: &Revenue) -> Result<Costs> {
    let mut providers: BTreeMap<String, (u64, Decimal, BTreeMap<u64, u64>)> = BTreeMap::new();
    for day in period.dates() {
        for (name, api) in &days.activity(day)?.api {
            let p = providers.entry(name.clone()).or_default();
            p.0 = p.0.saturating_add(api.calls);
            p.1 = add(p.1, api.cost)?;
            for (ms, n) in &api.latency_ms {
                let slot = p.2.entry(*ms).or_default();
                *slot = slot.saturating_add(*n);
            }
        }
    }
    let mut api_cost = Decimal::ZERO;
    for p in providers.values() {
        api_cost = add(api_cost, p.1)?;
    }
    let api_calls: u64 = providers.values().map(|p| p.0).sum();
    let per_month = days.src.config.metrics.infra_cost_per_month;
    let period_days = Decimal::from(period.days());
    let infra_cost = div(mul(per_month, period_days)?, Decimal::from(30)).unwrap_or_default();
    let active_users = days.active(period.dates())?;
    let cost_per_active_user =
        div(add(api_cost, infra_cost)?, Decimal::from(active_users)).filter(|_| active_users > 0);
    let paying = Decimal::from(revenue.by_plan.iter().map(|p| p.customers).sum::<u64>());
    let api_cost_per_paying_user = div(api_cost, paying).filter(|_| !paying.is_zero());
    let api_per_month = div(mul(api_cost, Decimal::from(30))?, period_days).unwrap_or_default();
    let gross_margin = revenue.mrr - api_per_month - per_month;
    let gross_margin_rate = div(gross_margin, revenue.mrr)
        .filter(|_| revenue.mrr > Decimal::ZERO)
        .and_then(|r| rust_decimal::prelude::ToPrimitive::to_f64(&r));
    Ok(Costs {
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
                latency_p99_ms: percentile(&hist, 0.99),
            })
            .collect(),
        infra_cost_per_month: per_month,
        infra_cost,
        active_users,
        cost_per_active_user,
        api_cost_per_paying_user,
        gross_margin,
        gross_margin_rate,
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
}
