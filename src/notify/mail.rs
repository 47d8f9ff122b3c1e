//! Email, rendered from a digest: the subject, the plain-text part and the HTML part of an
//! alert digest (a report arrives rendered), and the lettre message that carries them. The
//! one place mail is built.
//!
//! Visitor-supplied text (paths, queries, referrers, User-Agents) is data, never markup and
//! never a link: it is escaped in HTML, defused in text (`hxxps[:]//…`), stripped of control
//! characters everywhere, and never written into a header: the subject holds only counts and
//! the configured site name.

use std::fmt::Write as _;

use anyhow::{Context, Result};
use lettre::message::{Mailbox, Message, MultiPart};

use crate::alerts::digest::{Digest, LISTED_LEADS};
use crate::alerts::ledger::{LeadAlert, RuleAlert};
use crate::config::Config;
use crate::escape::{defuse, html as escape_html, one_line, safe_html};
use crate::words::{minutes, plural};

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

/// The subject of a digest: `[Acme] 3 hot leads, 1 alert`, or the report's title. Only
/// counts, the configured site name and arkwatch's own words: never visitor text.
pub fn subject(digest: &Digest) -> String {
    let site = one_line(&digest.site_name);
    if let Some(report) = &digest.report {
        return format!("[{site}] {}", one_line(&report.title));
    }
    let mut parts = Vec::new();
    if !digest.leads.is_empty() {
        parts.push(plural(digest.leads.len() as u64, "hot lead", "hot leads"));
    }
    if !digest.rules.is_empty() {
        parts.push(plural(digest.rules.len() as u64, "alert", "alerts"));
    }
    format!("[{site}] {}", parts.join(", "))
}

/// The plain-text part of an alert digest.
pub fn text(digest: &Digest) -> String {
    if let Some(report) = &digest.report {
        return report.markdown.clone();
    }
    let mut out = String::new();
    for lead in digest.leads.iter().take(LISTED_LEADS) {
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
    if digest.leads.len() > LISTED_LEADS {
        let _ = writeln!(
            out,
            "…and {} more leads.\n",
            digest.leads.len() - LISTED_LEADS
        );
    }
    for rule in &digest.rules {
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

/// The HTML part of an alert digest.
pub fn html(digest: &Digest) -> String {
    if let Some(report) = &digest.report {
        return report.html.clone();
    }
    let mut out = String::from("<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body>");
    for lead in digest.leads.iter().take(LISTED_LEADS) {
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
    if digest.leads.len() > LISTED_LEADS {
        let _ = write!(
            out,
            "<p>…and {} more leads.</p>",
            digest.leads.len() - LISTED_LEADS
        );
    }
    for rule in &digest.rules {
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

/// The sender and the recipients, as configured (validated at load).
pub fn mailboxes(config: &Config) -> Result<(Mailbox, Vec<Mailbox>)> {
    let from: Mailbox = config
        .alerts
        .from
        .parse()
        .context("alerts.from is not a mail address")?;
    let mut to = Vec::new();
    for address in &config.alerts.to {
        to.push(address.parse().context("alerts.to holds a bad address")?);
    }
    if to.is_empty() {
        // The outbox needs a recipient too; without one, the message is addressed to the sender.
        to.push(from.clone());
    }
    Ok((from, to))
}

/// The multipart message (plain text and HTML alternatives), with the digest's id as its
/// Message-ID, so a message sent twice is recognisably one.
pub fn message(digest: &Digest, from: &Mailbox, to: &[Mailbox]) -> Result<Message> {
    let id = if digest.id.is_empty() {
        None
    } else {
        Some(format!("<{}@arkwatch>", digest.id))
    };
    let mut builder = Message::builder()
        .from(from.clone())
        .message_id(id)
        .subject(subject(digest));
    for mailbox in to {
        builder = builder.to(mailbox.clone());
    }
    builder
        .multipart(MultiPart::alternative_plain_html(
            text(digest),
            html(digest),
        ))
        .context("cannot build the message")
}
