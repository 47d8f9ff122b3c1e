//! The customers section (cost to serve): each user's API cost in the period (from
//! `api_call` events, kept per user in the activity rollups under the keyed hash of the id)
//! against what they pay. A month is 30 days: the period's cost scaled to a month is set
//! against the MRR now. Definitions: `docs/metrics.md`, "Cost to serve".

use std::collections::BTreeMap;

use anyhow::Result;
use rust_decimal::Decimal;
use serde::Serialize;

use super::days::Days;
use super::money::{add, cents, div, mul};
use super::{Period, TOP};
use crate::rollup::user_cost;

#[derive(Clone, Debug, Serialize)]
pub struct Customer {
    pub user: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    #[serde(serialize_with = "cents")]
    pub mrr: Decimal,
    /// API cost in the period.
    #[serde(serialize_with = "cents")]
    pub cost: Decimal,
    /// The period's cost for 30 days: `cost × 30 ÷ days`.
    #[serde(serialize_with = "cents")]
    pub cost_per_month: Decimal,
    /// `mrr − cost_per_month`.
    #[serde(serialize_with = "cents")]
    pub margin: Decimal,
    /// `margin ÷ mrr` (None for a free user).
    pub margin_rate: Option<f64>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Customers {
    /// Users with any API cost in the period.
    pub users_with_cost: u64,
    /// The most costly first, at most [`TOP`].
    pub top_by_cost: Vec<Customer>,
    /// Users whose cost per month exceeds their MRR (free users with any cost among them),
    /// the largest loss first.
    pub cost_exceeds_mrr: Vec<Customer>,
    /// Cost of users no longer in the projection (erased).
    #[serde(serialize_with = "cents")]
    pub unattributed_cost: Decimal,
}

/// Each user's API cost over `dates` (by keyed hash).
pub fn cost_by_user(
    days: &Days<'_>,
    dates: impl Iterator<Item = chrono::NaiveDate>,
) -> Result<BTreeMap<u64, Decimal>> {
    let src = days.src;
    user_cost::sum(&src.config.data_dir, &src.state.user_costs, dates)
}

pub fn compute(days: &Days<'_>, period: Period) -> Result<Customers> {
    let src = days.src;
    let mut by_hash = cost_by_user(days, period.dates())?;
    let users_with_cost = by_hash.len() as u64;
    let month = Decimal::from(30);
    let length = Decimal::from(period.days());
    let mut all = Vec::new();
    for (user, record) in src.users {
        let Some(cost) = by_hash.remove(&src.keys.user(user)) else {
            continue;
        };
        let cost_per_month = div(mul(cost, month)?, length).unwrap_or_default();
        let margin = record.mrr - cost_per_month;
        all.push(Customer {
            user: user.clone(),
            plan: record.plan.clone(),
            mrr: record.mrr,
            cost,
            cost_per_month,
            margin,
            margin_rate: div(margin, record.mrr).and_then(|r| r.try_into().ok()),
        });
    }
    let mut unattributed_cost = Decimal::ZERO;
    for cost in by_hash.values() {
        unattributed_cost = add(unattributed_cost, *cost)?;
    }
    let mut cost_exceeds_mrr: Vec<Customer> = all
        .iter()
        .filter(|c| c.cost_per_month > c.mrr)
        .cloned()
        .collect();
    cost_exceeds_mrr.sort_by(|a, b| a.margin.cmp(&b.margin).then(a.user.cmp(&b.user)));
    all.sort_by(|a, b| b.cost.cmp(&a.cost).then(a.user.cmp(&b.user)));
    all.truncate(TOP);
    Ok(Customers {
        users_with_cost,
        top_by_cost: all,
        cost_exceeds_mrr,
        unattributed_cost,
    })
}
