//! Each local day of a period on its own, for the dashboard's charts: read once from the day's
//! activity and traffic rollups (the period's own metrics are computed as `metrics` computes
//! them; computing each day as a period of its own would cost a period's work per day).

use std::collections::BTreeMap;

use anyhow::Result;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

use super::Period;
use super::days::Days;

/// What one day adds.
#[derive(Clone, Debug, Serialize)]
pub struct Daily {
    pub day: NaiveDate,
    pub registrations: u64,
    pub active_users: u64,
    /// MRR movements of the day (all positive; contraction and churn take MRR away).
    pub mrr_new: Decimal,
    pub mrr_reactivation: Decimal,
    pub mrr_expansion: Decimal,
    pub mrr_contraction: Decimal,
    pub mrr_churned: Decimal,
    pub commands: u64,
    pub errors: u64,
    pub api_cost: BTreeMap<String, Decimal>,
    pub hits: u64,
    pub pageviews: u64,
    pub unique_visitors: u64,
    pub bot_hits: u64,
}

/// Every day of `period`, in order, from the rollup days `days` already read.
pub(super) fn of(days: &Days<'_>, period: Period) -> Result<Vec<Daily>> {
    period
        .dates()
        .map(|day| {
            let a = days.activity(day)?;
            let t = days.traffic(day)?;
            Ok(Daily {
                day,
                registrations: a.registrations,
                active_users: a.active_users.len() as u64,
                mrr_new: a.mrr_new,
                mrr_reactivation: a.mrr_reactivation,
                mrr_expansion: a.mrr_expansion,
                mrr_contraction: a.mrr_contraction,
                mrr_churned: a.mrr_churned,
                commands: a.commands.values().sum(),
                errors: a.errors,
                api_cost: a.api.iter().map(|(p, d)| (p.clone(), d.cost)).collect(),
                hits: t.hits,
                pageviews: t.pageviews,
                unique_visitors: t.unique_visitors(),
                bot_hits: t.bot_hits,
            })
        })
        .collect()
}
