//! Email, rendered from a digest: the subject, the plain-text part and the HTML part of an
//! alert digest (a report arrives rendered), and the lettre message that carries them. The
//! one place mail is built. Both parts tell each lead in the same words ([`super::story`]): a
//! card per lead with its tier, score and one summary sentence, inline CSS only, one column
//! that a phone shows whole.
//!
//! Visitor-supplied text (paths, queries, referrers, User-Agents) is data, never markup and
//! never a link: it is escaped in HTML, defused in text (`hxxps[:]//…`), stripped of control
//! characters everywhere, and never written into a header: the subject holds only counts and
//! the configured site name.

use std::fmt::Write as _;

use anyhow::{Context, Result};
use lettre::message::{Mailbox, Message, MultiPart};

use super::story::{self, Piece};
use crate::alerts::digest::{Digest, LISTED_LEADS};
use crate::config::Config;
use crate::escape::{defuse, html as escape_html, one_line, safe_html};
use crate::page_tier::PageTier;
use crate::words::plural;

/// What a digest holds, in words: `3 hot leads, 1 alert`, or the report's title. Only counts
/// and arkwatch's own words: never visitor text.
pub fn headline(digest: &Digest) -> String {
    if let Some(report) = &digest.report {
        return one_line(&report.title);
    }
    let mut parts = Vec::new();
    if !digest.leads.is_empty() {
        parts.push(plural(digest.leads.len() as u64, "hot lead", "hot leads"));
    }
    if !digest.rules.is_empty() {
        parts.push(plural(digest.rules.len() as u64, "alert", "alerts"));
    }
    parts.join(", ")
}

/// The subject of a digest: `[Acme] 3 hot leads, 1 alert`, or the report's title.
pub fn subject(digest: &Digest) -> String {
    format!("[{}] {}", one_line(&digest.site_name), headline(digest))
}

/// The plain-text part of an alert digest: the same words as the HTML part.
pub fn text(digest: &Digest) -> String {
    if let Some(report) = &digest.report {
        return report.markdown.clone();
    }
    let plain = |p: &[Piece]| story::plain(p, defuse);
    let mut out = format!("{}: {}\n\n", one_line(&digest.site_name), headline(digest));
    for lead in digest.leads.iter().take(LISTED_LEADS) {
        let s = story::lead(lead, &digest.site_hosts);
        let origin = if s.origin.is_empty() {
            String::new()
        } else {
            format!("{} - ", plain(&s.origin))
        };
        let _ = writeln!(
            out,
            "{} (score {}) - {origin}{}, {}",
            s.title, s.score, s.ip, s.when
        );
        let _ = writeln!(out, "{}", plain(&s.sentence));
        if s.sessions.len() > 1 {
            for line in &s.sessions {
                let _ = writeln!(out, "  - {}", plain(line));
            }
        }
        let _ = writeln!(out, "  Agent: {}\n", defuse(&s.user_agent));
    }
    if digest.leads.len() > LISTED_LEADS {
        let _ = writeln!(
            out,
            "…and {} more leads.\n",
            digest.leads.len() - LISTED_LEADS
        );
    }
    for rule in &digest.rules {
        let r = story::rule(rule);
        let _ = writeln!(out, "{}\n{}\n", r.title, one_line(&r.detail));
    }
    out.push_str(
        "Sent by arkwatch. Pages, sources and agents are the visitors' own text, shown as text.\n",
    );
    out
}

const FONT: &str =
    "font-family:-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif";
const CODE: &str = "font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;\
                    background:#f1f3f5;border-radius:4px;padding:1px 4px;font-size:13px";
const ROW: &str = "padding:14px 24px;border-top:1px solid #eaecef";

fn pieces_html(p: &[Piece]) -> String {
    p.iter()
        .map(|p| match p {
            Piece::Words(w) => escape_html(w),
            Piece::Visitor(v) | Piece::Page(v) => {
                format!("<span style=\"{CODE}\">{}</span>", safe_html(v))
            }
        })
        .collect()
}

/// A tier's badge colours: background, text.
fn badge(tier: PageTier) -> (&'static str, &'static str) {
    match tier {
        PageTier::VeryHot => ("#cf222e", "very hot"),
        PageTier::Hot => ("#bc4c00", "hot"),
        PageTier::Warm => ("#9a6700", "warm"),
    }
}

fn pill(colour: &str, words: &str) -> String {
    format!(
        "<span style=\"display:inline-block;background:{colour};color:#ffffff;border-radius:10px;\
         padding:1px 9px;font-size:12px;font-weight:600;\">{words}</span>"
    )
}

/// The HTML part of an alert digest: one card per lead, inline CSS only (what mail clients
/// keep), one column that fits a phone.
pub fn html(digest: &Digest) -> String {
    if let Some(report) = &digest.report {
        return report.html.clone();
    }
    let site = escape_html(&digest.site_name);
    let mut out = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width,initial-scale=1\"><title>{}</title></head>\
         <body style=\"margin:0;padding:0;background:#f4f5f7;\">\
         <table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" \
         style=\"background:#f4f5f7;\"><tr><td align=\"center\" style=\"padding:16px 8px;\">\
         <table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" \
         style=\"max-width:600px;background:#ffffff;border-radius:8px;{FONT};color:#1f2328;\
         font-size:15px;line-height:1.5;\">\
         <tr><td style=\"padding:20px 24px 12px;\"><div style=\"font-size:13px;color:#59636e;\">\
         {site}</div><div style=\"font-size:21px;font-weight:600;margin-top:2px;\">{}</div>\
         </td></tr>",
        escape_html(&subject(digest)),
        escape_html(&headline(digest))
    );
    for lead in digest.leads.iter().take(LISTED_LEADS) {
        lead_html(&mut out, &story::lead(lead, &digest.site_hosts));
    }
    if digest.leads.len() > LISTED_LEADS {
        let _ = write!(
            out,
            "<tr><td style=\"{ROW};color:#59636e;\">…and {} more leads.</td></tr>",
            digest.leads.len() - LISTED_LEADS
        );
    }
    for rule in &digest.rules {
        let r = story::rule(rule);
        let colour = if r.resolved { "#1a7f37" } else { "#9a6700" };
        let _ = write!(
            out,
            "<tr><td style=\"{ROW};\">{} <div style=\"font-size:16px;font-weight:600;\
             margin:6px 0 2px;\">{}</div><div>{}</div></td></tr>",
            pill(colour, if r.resolved { "resolved" } else { "alert" }),
            escape_html(&r.title),
            escape_html(&r.detail)
        );
    }
    let _ = write!(
        out,
        "<tr><td style=\"padding:12px 24px 20px;border-top:1px solid #eaecef;font-size:12px;\
         color:#6e7781;\">Sent by arkwatch for {site}. Pages, sources and agents are the \
         visitors' own text, shown as text, never as a link.</td></tr></table></td></tr>\
         </table></body></html>"
    );
    out
}

/// One lead's row of the HTML part.
fn lead_html(out: &mut String, s: &story::LeadStory) {
    let (colour, words) = badge(s.tier);
    let _ = write!(
        out,
        "<tr><td style=\"{ROW};\">{} <span style=\"color:#59636e;font-size:13px;\">\
         score {} · {}{} · {}</span><div style=\"font-size:16px;font-weight:600;margin:6px 0 2px;\">\
         {}</div><div style=\"margin:0 0 6px;\">{}</div>",
        pill(colour, words),
        s.score,
        if s.origin.is_empty() {
            String::new()
        } else {
            format!("{} · ", pieces_html(&s.origin))
        },
        escape_html(&s.ip),
        escape_html(&s.when),
        escape_html(&s.title),
        pieces_html(&s.sentence)
    );
    if s.sessions.len() > 1 {
        out.push_str(
            "<ul style=\"margin:0 0 6px;padding-left:20px;font-size:14px;color:#31363b;\">",
        );
        for line in &s.sessions {
            let _ = write!(out, "<li>{}</li>", pieces_html(line));
        }
        out.push_str("</ul>");
    }
    let _ = write!(
        out,
        "<div style=\"font-size:12px;color:#6e7781;word-break:break-all;\">Agent: {}</div>\
         </td></tr>",
        safe_html(&s.user_agent)
    );
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
