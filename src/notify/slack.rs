//! Slack, by incoming webhook: one message per digest, a `text` fallback and Block Kit
//! sections (the top leads by score in full, a count of the rest, then the rule alerts),
//! link unfurling off, within Slack's limits (50 blocks, 3,000 characters a section).
//!
//! Visitor text never reaches Slack as markup: it goes in code spans (which Slack neither
//! links nor formats), defused, with `&`, `<` and `>` escaped, so a referrer can neither
//! mention (`<!channel>`) nor link.

use std::path::PathBuf;

use anyhow::Result;
use serde_json::{Value, json};

use super::Notifier;
use super::http::{self, Client};
use super::report_text;
use super::story::{self, Markup};
use crate::alerts::digest::{Digest, ReportText};
use crate::config::{Channel, ChannelKind, Config, Secret};
use crate::escape::defuse;
use crate::exit::Fatal;

/// Leads a Slack message shows in full; the rest are counted.
pub const LISTED: usize = 10;
/// Slack cuts a section's text at 3,000 characters.
const SECTION_MAX: usize = 2_900;

pub struct SlackNotifier {
    config: PathBuf,
    channel: Channel,
}

impl SlackNotifier {
    pub fn new(config: &Config, channel: &Channel) -> SlackNotifier {
        SlackNotifier {
            config: config.path.clone(),
            channel: channel.clone(),
        }
    }

    fn secret(&self) -> &Secret {
        match &self.channel.kind {
            ChannelKind::Slack { webhook_url } => webhook_url,
            _ => unreachable!("a Slack notifier is made for a Slack channel"),
        }
    }

    /// The webhook URL and a client that masks it.
    fn connect(&self) -> Result<(String, Client)> {
        let secret = self.secret();
        let url = http::read_secret(&self.config, secret)?.ok_or_else(|| {
            Fatal::Config(format!(
                "config {}: {}: channel {:?} has no webhook URL: put it in a file named by \
                 webhook_url_file, or in ${}",
                self.config.display(),
                secret.key,
                self.channel.name,
                secret.env
            ))
        })?;
        if let Err(why) = crate::config::channels::check_url_words(&url) {
            return Err(Fatal::Config(format!(
                "config {}: {}: the webhook URL {why}",
                self.config.display(),
                secret.key
            ))
            .into());
        }
        let client = Client::new(
            "Slack",
            self.channel.timeout_secs,
            self.channel.ca_file.as_deref(),
            vec![url.clone()],
        )?;
        Ok((url, client))
    }

    fn hint(&self, status: u16) -> String {
        let secret = self.secret();
        let file = secret
            .file
            .as_ref()
            .map_or_else(|| format!("${}", secret.env), |f| f.display().to_string());
        match status {
            404 | 410 | 403 => format!(
                "Slack says this webhook no longer exists (revoked, or its channel archived): \
                 create a new incoming webhook and put its URL in {file}"
            ),
            _ => format!("Check the webhook URL in {file}"),
        }
    }
}

impl Notifier for SlackNotifier {
    fn deliver(&self, digest: &Digest, done: &mut usize) -> Result<()> {
        if *done > 0 {
            return Ok(());
        }
        let (url, client) = self.connect()?;
        let answer = client.post_json(&url, None, &message(digest))?;
        if (200..300).contains(&answer.status) {
            *done = 1;
            return Ok(());
        }
        let address = http::redact(&url);
        Err(client.refusal(&address, &answer, &self.hint(answer.status)))
    }

    /// Posts an empty payload: Slack answers 400 (`no_text`) without posting anything when the
    /// webhook exists, 404 or 403 when it was revoked.
    fn check(&self) -> Result<()> {
        let (url, client) = self.connect()?;
        let answer = client.post_json(&url, None, &json!({}))?;
        match answer.status {
            200..=299 | 400 => Ok(()),
            _ => Err(client.refusal(&http::redact(&url), &answer, &self.hint(answer.status))),
        }
    }

    fn describe(&self) -> String {
        match self.connect() {
            Ok((url, _)) => format!("Slack {}", http::redact(&url)),
            Err(_) => "Slack (no webhook URL)".into(),
        }
    }
}

/// `&`, `<` and `>` escaped, as Slack's mrkdwn wants.
pub fn escape(text: &str) -> String {
    crate::escape::one_line(text)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Visitor text as an inline code span: defused, escaped, its backticks replaced (a code span
/// cannot hold one), at most 300 characters.
pub fn code(text: &str) -> String {
    let cut: String = text.chars().take(300).collect();
    format!("`{}`", escape(&defuse(&cut).replace('`', "\u{2cb}")))
}

/// Slack's mrkdwn.
struct Mrkdwn;

impl Markup for Mrkdwn {
    fn words(&self, text: &str) -> String {
        escape(text)
    }
    fn code(&self, text: &str) -> String {
        code(text)
    }
    fn bold(&self, text: &str) -> String {
        format!("*{}*", escape(text))
    }
}

/// The webhook payload of a digest.
pub fn message(digest: &Digest) -> Value {
    let headline = format!("{}: {}", digest.site_name, super::mail::headline(digest));
    let mut blocks = vec![json!({
        "type": "header",
        "text": {"type": "plain_text", "text": clip(&crate::escape::one_line(&headline), 150)}
    })];
    let mut fallback = vec![escape(&headline)];
    if let Some(report) = &digest.report {
        blocks.extend(report_blocks(digest, report));
        fallback.push(escape(&report.title));
    }
    for lead in digest.leads.iter().take(LISTED) {
        let s = story::lead(lead, &digest.site_hosts);
        let origin = story::plain(&s.origin, escape);
        fallback.push(format!(
            "{}: {}{} (score {})",
            escape(&s.title),
            if origin.is_empty() {
                String::new()
            } else {
                format!("{origin} ")
            },
            escape(&s.ip),
            s.score
        ));
        blocks.push(section(&story::chat_block(&s, &Mrkdwn, true)));
    }
    if digest.leads.len() > LISTED {
        let rest = digest.leads.len() - LISTED;
        blocks.push(json!({
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": format!(
                "…and {} with lower scores", crate::words::plural(rest as u64, "more lead", "more leads"))}]
        }));
    }
    for rule in &digest.rules {
        let r = story::rule(rule);
        fallback.push(escape(&r.title));
        blocks.push(section(&format!(
            "*{}*\n{}",
            escape(&r.title),
            escape(&r.detail)
        )));
    }
    json!({
        "text": clip(&fallback.join("\n"), 3_000),
        "blocks": blocks,
        "unfurl_links": false,
        "unfurl_media": false,
    })
}

fn section(text: &str) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": clip(text, SECTION_MAX)}})
}

/// At most `max` characters, cut at a line break when there is one (never inside an escape).
pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max - 1).collect();
    let cut = match cut.rfind('\n') {
        Some(i) if i > max / 2 => &cut[..i],
        _ => cut.trim_end_matches(|c| c != ' ' && c != '\n'),
    };
    format!("{}…", cut.trim_end())
}

/// A report's blocks: its title and table, then its top leads.
fn report_blocks(digest: &Digest, report: &ReportText) -> Vec<Value> {
    let table = format!(
        "*{}*\n```{}```",
        escape(&report.title),
        escape(&report_text::table(&report.kpis))
    );
    let mut blocks = vec![section(&table)];
    for s in report_text::stories(report, &digest.site_hosts) {
        blocks.push(section(&story::chat_block(&s, &Mrkdwn, false)));
    }
    blocks
}
