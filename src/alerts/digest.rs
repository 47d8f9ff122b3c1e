//! A digest: everything one delivery says — hot leads, rule alerts, or a report — as plain
//! data. Each channel renders it its own way (`notify::mail` for email); the outbox keeps it
//! beside each message so that `purge-ip` can render the message again without an address.

use serde::{Deserialize, Serialize};

use super::{LeadItem, RuleItem};

/// How many leads a digest lists in full; the rest are counted.
pub const LISTED_LEADS: usize = 20;

/// Everything one message says.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Digest {
    /// One id from the moment the alerts are frozen for delivery: a message written twice
    /// (the outbox) is a no-op, and one sent twice (SMTP, after a crash) has one Message-ID.
    #[serde(default)]
    pub id: String,
    pub site_name: String,
    /// The site's own host names: a referrer on one of them is navigation, not a source.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub site_hosts: Vec<String>,
    #[serde(default)]
    pub leads: Vec<LeadItem>,
    #[serde(default)]
    pub rules: Vec<RuleItem>,
    /// A report to deliver (`report --email`), instead of alerts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<ReportText>,
}

/// A rendered report, as a digest carries it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportText {
    /// `Weekly report, 2026-11-16 to 2026-11-22` (arkwatch's words only).
    pub title: String,
    pub markdown: String,
    pub html: String,
    /// The key figures, for channels that show a table of their own (chat).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kpis: Vec<KpiLine>,
    /// The period's top hot leads, for the same.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub top_leads: Vec<crate::visits::journey::Journey>,
}

/// One key figure of a report: `MRR`, `157.00`, `+12%`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KpiLine {
    pub name: String,
    pub value: String,
    pub change: String,
}

impl Digest {
    /// A new, unpredictable message id.
    pub fn new_id() -> String {
        let mut bytes = [0u8; 12];
        // A failing system random source leaves a clock-based id: unique enough for a file name.
        if getrandom::fill(&mut bytes).is_err() {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            bytes.copy_from_slice(&nanos.to_le_bytes()[..12]);
        }
        crate::fsutil::hex(&bytes)
    }

    /// Leads by score, highest first.
    pub fn sort(&mut self) {
        self.leads
            .sort_by_key(|l| std::cmp::Reverse(l.journey.score));
    }

    pub fn is_empty(&self) -> bool {
        self.leads.is_empty() && self.rules.is_empty() && self.report.is_none()
    }
}
