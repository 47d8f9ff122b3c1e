//! Telegram, by the Bot API's `sendMessage`: `parse_mode` HTML with every visitor string
//! escaped and in `<code>` (which Telegram neither links nor formats), link previews off, and
//! a digest too long for one message split between leads into messages under 4,096
//! characters, sent in order. A retry goes on from the first message Telegram did not take.
//!
//! The bot token is part of the URL, so the URL is never shown: only the API's host.

use std::path::PathBuf;

use anyhow::Result;
use serde_json::{Value, json};

use super::Notifier;
use super::http::{self, Answer, Client};
use super::report_text;
use super::story::{self, Markup};
use crate::alerts::digest::{Digest, ReportText};
use crate::config::{Channel, ChannelKind, Config, Secret};
use crate::escape::{defuse, html};
use crate::exit::Fatal;

/// Telegram's limit is 4,096 characters of text; the markup counted too keeps a margin.
pub const MESSAGE_MAX: usize = 4_000;

pub struct TelegramNotifier {
    config: PathBuf,
    channel: Channel,
}

impl TelegramNotifier {
    pub fn new(config: &Config, channel: &Channel) -> TelegramNotifier {
        TelegramNotifier {
            config: config.path.clone(),
            channel: channel.clone(),
        }
    }

    fn parts(&self) -> (&Secret, &str, &str) {
        match &self.channel.kind {
            ChannelKind::Telegram {
                bot_token,
                chat_id,
                api_base,
            } => (bot_token, chat_id, api_base),
            _ => unreachable!("a Telegram notifier is made for a Telegram channel"),
        }
    }

    fn connect(&self) -> Result<(String, Client)> {
        let (secret, _, base) = self.parts();
        let token = http::read_secret(&self.config, secret)?.ok_or_else(|| {
            Fatal::Config(format!(
                "config {}: {}: channel {:?} has no bot token: put it in a file named by \
                 bot_token_file, or in ${}",
                self.config.display(),
                secret.key,
                self.channel.name,
                secret.env
            ))
        })?;
        let client = Client::new(
            "Telegram",
            self.channel.timeout_secs,
            self.channel.ca_file.as_deref(),
            vec![token.clone()],
        )?;
        Ok((format!("{base}/bot{token}"), client))
    }

    /// Calls `method`; a Bot API answer with `"ok": false` is a refusal, whatever its status.
    fn call(&self, client: &Client, bot: &str, method: &str, body: &Value) -> Result<()> {
        let answer = client.post_json(&format!("{bot}/{method}"), None, body)?;
        let parsed: Value = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
        if (200..300).contains(&answer.status) && parsed["ok"] != Value::Bool(false) {
            return Ok(());
        }
        let code = parsed["error_code"]
            .as_u64()
            .and_then(|c| u16::try_from(c).ok())
            .filter(|c| *c >= 400)
            .unwrap_or(if answer.status < 400 {
                400
            } else {
                answer.status
            });
        let answer = Answer {
            status: code,
            body: parsed["description"]
                .as_str()
                .map_or_else(|| answer.body.clone(), str::to_string),
            retry_after: parsed["parameters"]["retry_after"]
                .as_u64()
                .or(answer.retry_after),
        };
        let (secret, _, _) = self.parts();
        let hint = match code {
            401 | 404 => format!(
                "Telegram refused the bot token: check {} (a token from @BotFather)",
                secret
                    .file
                    .as_ref()
                    .map_or_else(|| format!("${}", secret.env), |f| f.display().to_string())
            ),
            403 => "The bot is not allowed in the chat: add it to the chat (or unblock it)".into(),
            _ => "Check chat_id (the bot must be in that chat)".into(),
        };
        let address = http::redact(bot);
        Err(client.refusal(&address, &answer, &hint))
    }
}

impl Notifier for TelegramNotifier {
    fn deliver(&self, digest: &Digest, done: &mut usize) -> Result<()> {
        let (_, chat_id, _) = self.parts();
        let (bot, client) = self.connect()?;
        for text in messages(digest).iter().skip(*done) {
            let body = json!({
                "chat_id": chat_id,
                "text": text,
                "parse_mode": "HTML",
                "link_preview_options": {"is_disabled": true},
            });
            self.call(&client, &bot, "sendMessage", &body)?;
            *done += 1;
        }
        Ok(())
    }

    /// `getMe`: the token is valid and the API answers.
    fn check(&self) -> Result<()> {
        let (bot, client) = self.connect()?;
        self.call(&client, &bot, "getMe", &json!({}))
    }

    fn describe(&self) -> String {
        let (_, chat_id, base) = self.parts();
        format!("Telegram {} chat {chat_id}", http::redact(base))
    }
}

/// Visitor text in `<code>`: defused, escaped, at most 300 characters.
fn code(text: &str) -> String {
    let cut: String = text.chars().take(300).collect();
    format!("<code>{}</code>", html(&defuse(&cut)))
}

/// Telegram's HTML.
struct Html;

impl Markup for Html {
    fn words(&self, text: &str) -> String {
        html(text)
    }
    fn code(&self, text: &str) -> String {
        code(text)
    }
    fn bold(&self, text: &str) -> String {
        format!("<b>{}</b>", html(text))
    }
}

/// The messages of a digest, in order, each under [`MESSAGE_MAX`] characters, split only
/// between blocks (the headline, a lead, an alert).
pub fn messages(digest: &Digest) -> Vec<String> {
    let mut blocks = vec![format!(
        "<b>{}</b>: {}",
        html(&digest.site_name),
        html(&super::mail::headline(digest))
    )];
    if let Some(report) = &digest.report {
        blocks.extend(report_blocks(digest, report));
    }
    for lead in &digest.leads {
        let s = story::lead(lead, &digest.site_hosts);
        blocks.push(story::chat_block(&s, &Html, true));
    }
    for rule in &digest.rules {
        let r = story::rule(rule);
        blocks.push(format!("<b>{}</b>\n{}", html(&r.title), html(&r.detail)));
    }
    pack(blocks)
}

/// Blocks joined into messages under the limit; a block too long alone is cut at a line.
fn pack(blocks: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    for block in blocks {
        let block = if block.chars().count() > MESSAGE_MAX {
            cut_block(&block)
        } else {
            block
        };
        if !current.is_empty() && current.chars().count() + 2 + block.chars().count() > MESSAGE_MAX
        {
            out.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push_str("\n\n");
        }
        current.push_str(&block);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// A block's lines up to the limit (lines hold whole tags, so the markup stays balanced).
fn cut_block(block: &str) -> String {
    let mut out = String::new();
    for line in block.lines() {
        if out.chars().count() + line.chars().count() + 2 > MESSAGE_MAX {
            break;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(line);
    }
    out.push_str("\n…");
    out
}

/// A report's blocks: its title and table, then its top leads.
fn report_blocks(digest: &Digest, report: &ReportText) -> Vec<String> {
    let mut blocks = vec![format!(
        "<b>{}</b>\n<pre>{}</pre>",
        html(&report.title),
        html_lines(&report_text::table(&report.kpis))
    )];
    for s in report_text::stories(report, &digest.site_hosts) {
        blocks.push(story::chat_block(&s, &Html, false));
    }
    blocks
}

/// Escaped line by line, keeping the line breaks (`html` makes one line).
fn html_lines(text: &str) -> String {
    text.lines()
        .map(crate::escape::html)
        .collect::<Vec<_>>()
        .join("\n")
}
