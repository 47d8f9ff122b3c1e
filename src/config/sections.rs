//! The small sections: `[metrics]`, `[retention]` and `[dashboard]`.

use std::path::PathBuf;

use rust_decimal::Decimal;
use serde::Deserialize;

/// Settings of `metrics` and `report`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// The currency every amount (prices, MRR, API cost) is in; named once in outputs.
    pub currency: String,
    /// Infrastructure cost per month (servers, `SaaS`), for the cost per active user.
    pub infra_cost_per_month: Decimal,
    /// How long a free trial lasts: a trial not converted after this many days has lapsed.
    pub trial_days: u32,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            currency: "USD".into(),
            infra_cost_per_month: Decimal::ZERO,
            trial_days: 14,
        }
    }
}

/// How much of its own data arkwatch keeps (`rotate`). Rollups are kept for ever: they hold
/// no address, and reports outlive the logs.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Retention {
    /// Visits kept in the live store (the newest); older ones go to gzip archives.
    pub max_visits: u64,
    /// Visits older than this (local days) go to the archives whatever their number.
    pub max_age_days: u32,
    /// Archives of days older than this are deleted.
    pub archive_days: u32,
    /// Messages in the outbox older than this are deleted.
    pub outbox_days: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            max_visits: 10_000,
            max_age_days: 90,
            archive_days: 365,
            outbox_days: 30,
        }
    }
}

/// `[dashboard]`: the static page and API files every scan rebuilds when `out` is set.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Dashboard {
    /// The folder to write; None: `scan` builds no dashboard (`arkwatch dashboard --out`
    /// still does).
    pub out: Option<PathBuf>,
    /// Local days shown, with the period before beside.
    pub days: u32,
    /// Seconds between the page's reloads.
    pub refresh_secs: u32,
    /// Lead addresses in full; false masks them (`203.0.113.x`).
    pub show_ips: bool,
}

impl Dashboard {
    pub(super) fn validate(
        mut self,
        resolve: &dyn Fn(&std::path::Path) -> PathBuf,
        bad: &super::Bad<'_>,
    ) -> anyhow::Result<Dashboard> {
        if !(1..=3660).contains(&self.days) || !(5..=86_400).contains(&self.refresh_secs) {
            return Err(bad.at(
                "dashboard",
                "days must be 1 to 3660 and refresh_secs 5 to 86400",
            ));
        }
        self.out = self.out.as_deref().map(resolve);
        Ok(self)
    }
}

impl Default for Dashboard {
    fn default() -> Self {
        Dashboard {
            out: None,
            days: 90,
            refresh_secs: 60,
            show_ips: true,
        }
    }
}

/// `[leads]`: how product users are linked to visitors, and what an alerted lead's outcome
/// tells.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LeadsConfig {
    /// An event with an address links its user to a visitor seen at that address (and
    /// browser) in the visits of this many days before it.
    pub link_days: u32,
    /// The next digest says when a lead alerted earlier converts.
    pub outcomes: bool,
    /// … and when it registers.
    pub outcome_registration: bool,
}

impl Default for LeadsConfig {
    fn default() -> Self {
        LeadsConfig {
            link_days: 14,
            outcomes: true,
            outcome_registration: false,
        }
    }
}

impl LeadsConfig {
    pub(super) fn validate(self, bad: &super::Bad<'_>) -> anyhow::Result<LeadsConfig> {
        if !(1..=365).contains(&self.link_days) {
            return Err(bad.at("leads.link_days", "must be 1 to 365"));
        }
        Ok(self)
    }
}
