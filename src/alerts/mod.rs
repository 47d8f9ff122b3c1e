//! Alerts: hot leads from new visits, threshold rules on product events, the ledger's dedup,
//! cooldown and rate-limit decisions, the queue of alerts due but not yet delivered, the
//! message, and its delivery.

pub mod digest;
pub mod erase;
pub mod erase_user;
pub mod history;
pub mod leads;
pub mod ledger;
pub mod outcomes;
pub mod queue;
pub mod rules;
pub mod watchlist;

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::visits::journey::Journey;
use ledger::{AlertLedger, LeadAlert, RuleAlert};

/// What the state remembers for alerting.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertState {
    #[serde(default)]
    pub ledger: AlertLedger,
    /// Per channel (`email`, `slack`, …): what waits for it and how it is delivering.
    #[serde(default)]
    pub queues: BTreeMap<String, queue::Queue>,
    /// Schema 2 kept the one channel's queue here: read, moved by [`AlertState::migrate`],
    /// never written.
    #[serde(default, rename = "pending", skip_serializing)]
    pub legacy_pending: Pending,
    #[serde(default, rename = "outgoing", skip_serializing)]
    pub legacy_outgoing: Option<digest::Digest>,
    #[serde(default, rename = "last_sent", skip_serializing)]
    pub legacy_last_sent: Option<DateTime<Utc>>,
    /// Per visits day file: how much of it scans have already evaluated for leads.
    #[serde(default)]
    pub scanned: BTreeMap<NaiveDate, u64>,
    #[serde(default)]
    pub last_scan: Option<ScanRecord>,
    /// Leads that alerted, watched for what their linked user does next (kept in a file of
    /// their own).
    #[serde(default, skip_serializing_if = "watchlist::Watchlist::is_unused")]
    pub outcomes: watchlist::Watchlist,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pending {
    #[serde(default)]
    pub leads: Vec<LeadItem>,
    #[serde(default)]
    pub rules: Vec<RuleItem>,
}

impl Pending {
    /// Puts alerts of a message that could not be delivered back in front of the queue.
    pub fn restore(&mut self, digest: digest::Digest) {
        let newer = std::mem::take(&mut self.leads);
        for lead in digest.leads.into_iter().chain(newer) {
            self.push_lead(lead);
        }
        let newer = std::mem::take(&mut self.rules);
        self.rules = digest.rules.into_iter().chain(newer).collect();
    }

    pub fn is_empty(&self) -> bool {
        self.leads.is_empty() && self.rules.is_empty()
    }

    pub fn len(&self) -> usize {
        self.leads.len() + self.rules.len()
    }

    /// The oldest alert still waiting.
    pub fn oldest(&self) -> Option<DateTime<Utc>> {
        let leads = self
            .leads
            .iter()
            .map(|l| l.queued_at.unwrap_or(l.raised_at));
        let rules = self.rules.iter().map(|r| r.raised_at);
        leads.chain(rules).min()
    }

    /// Queues a lead alert. A visitor already waiting keeps one entry: the newer journey, and
    /// "new" unless the founders were already told about them.
    pub fn push_lead(&mut self, item: LeadItem) {
        match self.leads.iter_mut().find(|l| l.visitor == item.visitor) {
            Some(waiting) => {
                let kind = waiting.kind;
                *waiting = LeadItem { kind, ..item };
            }
            None => self.leads.push(item),
        }
    }
}

/// A hot-lead alert.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeadItem {
    /// The visitor's ledger key (address and a hash of the User-Agent).
    pub visitor: String,
    pub kind: LeadAlert,
    /// When the visit that raised it happened.
    pub raised_at: DateTime<Utc>,
    /// When a scan put it in the queue (older states lack it: then the visit's time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queued_at: Option<DateTime<Utc>>,
    pub journey: Journey,
    /// Who the visitor is (`[geo]`): country, network, company.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<crate::geo::Origin>,
    /// The product user linked to the visitor, in words (`user 42 (pro, 29.00 USD/month)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

/// A threshold-rule alert.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleItem {
    pub name: String,
    pub kind: RuleAlert,
    pub raised_at: DateTime<Utc>,
    /// Since when the rule held (for a resolved notice: until `raised_at`); older states
    /// lack it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    /// What the rule measured, in words (written by arkwatch, never by a visitor).
    pub detail: String,
}

/// How the last scan ended, for `arkwatch status`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScanRecord {
    pub at: DateTime<Utc>,
    /// The exit status it returned.
    pub status: u8,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    pub leads_raised: usize,
    pub rules_raised: usize,
    pub messages_sent: usize,
    pub pending: usize,
    /// What `[geo]` could not look up in that scan.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub geo_problems: Vec<String>,
}
