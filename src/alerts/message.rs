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

use super::journey::Journey;
use super::ledger::{LeadAlert, RuleAlert};

/// How many leads a digest lists in full; the rest are counted.
pub const LISTED_LEADS: usize = 20;

pub struct LeadItem {
    pub kind: LeadAlert,
    pub journey: Journey,
}

pub struct RuleItem {
    pub name: String,
    pub kind: RuleAlert,
    /// What the rule measured, in words (written by arkwatch, not by a visitor).
    pub detail: String,
}

/// Everything one message says.
pub struct Digest {
    pub site_name: String,
    pub leads: Vec<LeadItem>,
    pub rules: Vec<RuleItem>,
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Control characters (CR and LF above all) become spaces.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Text that no mail client turns into a link.
pub fn defuse(text: &str) -> String {
    let mut out = one_line(text)
        .replace("://", "[:]//")
        .replace("www.", "www[.]");
    for scheme in [
        "javascript:",
        "data:",
        "vbscript:",
        "mailto:",
        "http",
        "ftp",
    ] {
        let mut i = 0;
        while let Some(pos) = out[i..].to_ascii_lowercase().find(scheme) {
            let at = i + pos;
            let end = at + scheme.len();
            let replacement = match scheme {
                "http" => "hxxp".to_string(),
                "ftp" => "fxp".to_string(),
                _ => format!("{}[:]", &out[at..end - 1]),
            };
            out.replace_range(at..end, &replacement);
            i = at + replacement.len();
        }
    }
    out
}

/// Text safe inside HTML elements and attributes.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in one_line(text).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
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
            let kind = match lead.kind {
                LeadAlert::New => "new",
                LeadAlert::Escalated => "escalated",
            };
            let _ = writeln!(
                out,
                "Lead ({kind}, score {}): {} — {}",
                j.score,
                j.ip,
                defuse(&j.browser)
            );
            let _ = writeln!(out, "  visits in the last 7 days: {}", j.visits_last_7_days);
            if let Some(t) = j.time_to_intent {
                let _ = writeln!(out, "  time to /pricing or /trial: {} min", t.num_minutes());
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
                        "    {} {}",
                        page.time.format("%Y-%m-%d %H:%M"),
                        defuse(&page.path)
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
                "Alert {} ({:?}): {}",
                rule.name,
                rule.kind,
                one_line(&rule.detail)
            );
        }
        out
    }

    pub fn html(&self) -> String {
        let mut out = String::from("<!DOCTYPE html><html><body>");
        for lead in self.leads.iter().take(LISTED_LEADS) {
            let j = &lead.journey;
            let _ = write!(
                out,
                "<h3>Lead, score {}: {} — {}</h3><ul>",
                j.score,
                escape_html(&j.ip.to_string()),
                escape_html(&j.browser)
            );
            for s in &j.sessions {
                let from = s
                    .referrer
                    .as_deref()
                    .map_or_else(|| "direct".to_string(), escape_html);
                let _ = write!(out, "<li>from {from}<ul>");
                for page in &s.pages {
                    let _ = write!(
                        out,
                        "<li>{} {}</li>",
                        page.time.format("%Y-%m-%d %H:%M"),
                        escape_html(&page.path)
                    );
                }
                out.push_str("</ul></li>");
            }
            let _ = write!(
                out,
                "</ul><p>User agent: {}</p>",
                escape_html(&j.user_agent)
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
                "<p>Alert {}: {}</p>",
                escape_html(&rule.name),
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
            .subject(self.subject());
        for mailbox in to {
            builder = builder.to(mailbox.clone());
        }
        builder
            .multipart(MultiPart::alternative_plain_html(self.text(), self.html()))
            .context("cannot build the alert message")
    }
}

/// Writes `message` as a `.eml` file into `outbox`.
pub fn to_outbox(outbox: &Path, message: &Message) -> Result<()> {
    crate::fsutil::create_private_dir(outbox)?;
    lettre::FileTransport::new(outbox)
        .send(message)
        .with_context(|| format!("cannot write the message into {}", outbox.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defused_text_has_no_link_and_no_line_break() {
        let d = defuse(
            "javascript:alert(1) https://evil.example/x www.evil.example JAVASCRIPT:x\r\nBcc: x@y",
        );
        assert!(!d.to_ascii_lowercase().contains("javascript:"), "{d}");
        assert!(
            !d.contains("://") && !d.contains("www.") && !d.contains("http"),
            "{d}"
        );
        assert!(!d.contains('\r') && !d.contains('\n'), "{d}");
        assert!(d.contains("hxxps[:]//evil.example/x"), "{d}");
    }

    #[test]
    fn escaped_html_has_no_markup() {
        assert_eq!(
            escape_html("<script>alert('1')</script>&\""),
            "&lt;script&gt;alert(&#39;1&#39;)&lt;/script&gt;&amp;&quot;"
        );
    }
}
