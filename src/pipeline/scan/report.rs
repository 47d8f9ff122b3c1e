//! What a scan did, for its summary and `--json`: the shape of the report, nothing computed.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::accesslog::summary::Summary;
use crate::alerts::ledger::RuleAlert;
use crate::events::fold::FoldSummary;

/// What a scan did, for its summary and `--json`.
#[derive(Debug, Serialize)]
pub struct ScanReport {
    pub dry_run: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ingest: Option<Summary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fold: Option<FoldSummary>,
    /// In a dry run: events read after the cursor (not folded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events_previewed: Option<u64>,
    /// Lead alerts raised by this run.
    pub leads: Vec<LeadReport>,
    /// New visits of tracked pages left out of the leads because the behaviour layer finds
    /// their visitor automated.
    pub automated_visits: usize,
    /// Leads left out because their network is in `filters.ignore_networks`.
    pub ignored_network_leads: usize,
    /// What `[geo]` could not look up (a database unreadable, a name server silent); the
    /// leads went out without those fields.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub geo_problems: Vec<String>,
    /// Every enabled rule's verdict, and the alert it raised if any.
    pub rules: Vec<RuleReport>,
    /// The product side at the end of the run: users, paying users, MRR, and today so far.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<Product>,
    /// Alerts waiting for the email channel after this run.
    pub pending: usize,
    /// What happened on the email channel.
    pub delivery: Delivery,
    /// What happened on each channel, email first.
    pub channels: Vec<ChannelReport>,
    pub errors: Vec<String>,
    pub seconds: f64,
}

/// The product numbers a scan shows beside its leads.
#[derive(Debug, Serialize)]
pub struct Product {
    pub users: u64,
    pub paying: u64,
    #[serde(serialize_with = "crate::metrics::money::cents")]
    pub mrr: rust_decimal::Decimal,
    /// The latest local day with activity, up to today, and what it holds so far.
    pub day: Option<chrono::NaiveDate>,
    pub registrations_today: u64,
    pub commands_today: u64,
    pub errors_today: u64,
    #[serde(serialize_with = "crate::metrics::money::cents")]
    pub api_cost_today: rust_decimal::Decimal,
}

#[derive(Debug, Serialize)]
pub struct LeadReport {
    pub ip: std::net::IpAddr,
    pub kind: crate::alerts::ledger::LeadAlert,
    pub tier: crate::page_tier::PageTier,
    pub score: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<crate::geo::Origin>,
}

#[derive(Debug, Serialize)]
pub struct RuleReport {
    pub name: String,
    pub holds: bool,
    pub alert: Option<RuleAlert>,
    pub detail: String,
}

/// One channel's delivery in a scan.
#[derive(Debug, Serialize)]
pub struct ChannelReport {
    pub channel: String,
    /// Alerts waiting for it after this run.
    pub pending: usize,
    #[serde(flatten)]
    pub delivery: Delivery,
}

#[derive(Clone, Debug, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Delivery {
    NothingDue,
    Sent {
        to: String,
        subject: String,
        leads: usize,
        rules: usize,
        /// A message a run that died had frozen, delivered again as it was.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        again: bool,
    },
    /// The channel's hourly limit reached: the alerts wait for the next allowed message.
    RateLimited {
        next_allowed: DateTime<Utc>,
    },
    /// The server asked (429, `Retry-After`) to be left alone until then.
    Waiting {
        until: DateTime<Utc>,
    },
    Failed {
        to: String,
        error: String,
        /// When the server said to try again (a 429).
        #[serde(skip_serializing_if = "Option::is_none")]
        retry_at: Option<DateTime<Utc>>,
    },
    /// A dry run: the message a real run would send now.
    WouldSend {
        to: String,
        subject: String,
        text: String,
    },
    /// A dry run under the rate limit.
    WouldWait {
        next_allowed: DateTime<Utc>,
    },
}
