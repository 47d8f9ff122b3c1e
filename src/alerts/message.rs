//! The alert message: one digest per run, as a subject, a plain-text part and an HTML part, and
//! its delivery to the outbox (lettre's file transport) when no SMTP server is configured.
//!
//! Visitor-supplied text (paths, queries, referrers, User-Agents) is data, never markup and never
//! a link: it is escaped in HTML, defused in text (`hxxps[:]//…`), stripped of control
//! characters everywhere, and never written into a header: the subject holds only counts and
//! the configured site name.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use lettre::Transport;
use lettre::message::{Mailbox, Message, MultiPart};

use super::ledger::{LeadAlert, RuleAlert};
pub use super::{LeadItem, RuleItem};
use crate::escape::{defuse, html as escape_html, one_line, safe_html};

/// How many leads a digest lists in full; the rest are counted.
pub const LISTED_LEADS: usize = 20;

/// Everything one message says.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Digest {
    pub site_name: String,
    pub leads: Vec<LeadItem>,
    pub rules: Vec<RuleItem>,
}

fn lead_kind(kind: LeadAlert) -> &'static str {
    match kind {
        LeadAlert::New => "new",
        LeadAlert::Escalated => "escalated",
    }
}

fn rule_kind(kind: RuleAlert) -> &'static str {
    match kind {
        RuleAlert::Fired => "fired",
        RuleAlert::Repeated => "still holds",
        RuleAlert::Resolved => "resolved",
    }
}

/// `12 min`, `3 h 5 min`, `2 d 4 h`.
fn minutes(secs: i64) -> String {
    let m = secs / 60;
    match m {
        m if m < 60 => format!("{m} min"),
        m if m < 24 * 60 => format!("{} h {} min", m / 60, m % 60),
        m => format!("{} d {} h", m / (24 * 60), m % (24 * 60) / 60),
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

impl Digest {
    /// Leads by score, highest first.
    pub fn sort(&mut self) {
        self.leads
            .sort_by_key(|l| std::cmp::Reverse(l.journey.score));
    }

    /// `[Acme] 3 hot leads, 1 alert`.
    pub fn subject(&self) -> String {
        let mut parts = Vec::new();
        if !self.leads.is_empty() {
            parts.push(plural(self.leads.len(), "hot lead", "hot leads"));
        }
        if !self.rules.is_empty() {
            parts.push(plural(self.rules.len(), "alert", "alerts"));
        }
        format!("[{}] {}", one_line(&self.site_name), parts.join(", "))
    }

    pub fn text(&self) -> String {
        let mut out = String::new();
        for lead in self.leads.iter().take(LISTED_LEADS) {
            let j = &lead.journey;
            let _ = writeln!(
                out,
                "Lead ({}, {}, score {}): {} — {}",
                lead_kind(lead.kind),
                j.top_tier,
                j.score,
                j.ip,
                defuse(&j.browser)
            );
            let _ = writeln!(out, "  visits in the last 7 days: {}", j.visits_last_7_days);
            if let Some(t) = j.time_to_intent_secs {
                let _ = writeln!(out, "  time to /pricing or /trial: {}", minutes(t));
            }
            for (n, s) in j.sessions.iter().enumerate() {
                let from = s
                    .referrer
                    .as_deref()
                    .map_or_else(|| "direct".to_string(), defuse);
                let _ = writeln!(out, "  session {} from {from}", n + 1);
                for (k, v) in &s.utm {
                    let _ = writeln!(out, "    {}={}", defuse(k), defuse(v));
                }
                for page in &s.pages {
                    let _ = writeln!(
                        out,
                        "    {} {} ({})",
                        page.time.format("%Y-%m-%d %H:%M"),
                        defuse(&page.path),
                        page.tier
                    );
                }
            }
            let _ = writeln!(out, "  user agent: {}", defuse(&j.user_agent));
            out.push('\n');
        }
        if self.leads.len() > LISTED_LEADS {
            let _ = writeln!(
                out,
                "…and {} more leads.\n",
                self.leads.len() - LISTED_LEADS
            );
        }
        for rule in &self.rules {
            let _ = writeln!(
                out,
                "Alert {} {}: {}",
                one_line(&rule.name),
                rule_kind(rule.kind),
                one_line(&rule.detail)
            );
        }
        out
    }

    pub fn html(&self) -> String {
        let mut out =
            String::from("<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body>");
        for lead in self.leads.iter().take(LISTED_LEADS) {
            let j = &lead.journey;
            let _ = write!(
                out,
                "<h3>Lead ({}, {}, score {}): {} — {}</h3><p>Visits in the last 7 days: {}",
                lead_kind(lead.kind),
                j.top_tier,
                j.score,
                escape_html(&j.ip.to_string()),
                safe_html(&j.browser),
                j.visits_last_7_days
            );
            if let Some(t) = j.time_to_intent_secs {
                let _ = write!(out, "; time to /pricing or /trial: {}", minutes(t));
            }
            out.push_str("</p><ol>");
            for s in &j.sessions {
                let from = s
                    .referrer
                    .as_deref()
                    .map_or_else(|| "direct".to_string(), safe_html);
                let _ = write!(out, "<li>from {from}");
                for (k, v) in &s.utm {
                    let _ = write!(out, " <code>{}={}</code>", safe_html(k), safe_html(v));
                }
                out.push_str("<ul>");
                for page in &s.pages {
                    let _ = write!(
                        out,
                        "<li>{} <code>{}</code> ({})</li>",
                        page.time.format("%Y-%m-%d %H:%M"),
                        safe_html(&page.path),
                        page.tier
                    );
                }
                out.push_str("</ul></li>");
            }
            let _ = write!(
                out,
                "</ol><p>User agent: <code>{}</code></p>",
                safe_html(&j.user_agent)
            );
        }
        if self.leads.len() > LISTED_LEADS {
            let _ = write!(
                out,
                "<p>…and {} more leads.</p>",
                self.leads.len() - LISTED_LEADS
            );
        }
        for rule in &self.rules {
            let _ = write!(
                out,
                "<p><b>Alert {} {}</b>: {}</p>",
                escape_html(&rule.name),
                rule_kind(rule.kind),
                escape_html(&rule.detail)
            );
        }
        out.push_str("</body></html>");
        out
    }

    /// The multipart message (plain text and HTML alternatives).
    pub fn message(&self, from: &Mailbox, to: &[Mailbox]) -> Result<Message> {
        let mut builder = Message::builder()
            .from(from.clone())
            .message_id(None)
            .subject(self.subject());
        for mailbox in to {
            builder = builder.to(mailbox.clone());
        }
        builder
            .multipart(MultiPart::alternative_plain_html(self.text(), self.html()))
            .context("cannot build the alert message")
    }
}

/// Writes `message` as `ID.eml` into `outbox` and returns the id. With `digest`, its alerts are
/// kept beside it as `ID.json`, so that `purge-ip` can write the message again without the
/// alerts of one address.
pub fn to_outbox(outbox: &Path, message: &Message, digest: Option<&Digest>) -> Result<String> {
    crate::fsutil::create_private_dir(outbox)?;
    let id = lettre::FileTransport::new(outbox)
        .send(message)
        .with_context(|| format!("cannot write the message into {}", outbox.display()))?;
    if let Some(digest) = digest {
        let json = serde_json::to_vec(digest).context("cannot serialise the digest")?;
        crate::fsutil::write_atomic(&outbox.join(format!("{id}.json")), &json, 0o600)?;
    }
    Ok(id)
}
