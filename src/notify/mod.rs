//! Delivery behind one trait: a [`Notifier`] takes a digest (what is due: leads, rule alerts,
//! a report) and renders it its own way. Email goes by SMTP ([`smtp`]) or, without `[smtp]`,
//! into the outbox ([`outbox`]), both rendered by [`mail`]; the chat and webhook channels of
//! `[[channel]]` go over HTTP ([`http`]): [`slack`], [`telegram`] and [`webhook`]
//! (Alertmanager's format). [`story`] tells a digest in words once for all of them.

pub mod http;
pub mod mail;
pub mod outbox;
pub mod report_text;
pub mod slack;
pub mod smtp;
pub mod story;
pub mod telegram;
pub mod webhook;

use anyhow::Result;

use crate::alerts::digest::Digest;
use crate::alerts::queue::{EMAIL, Takes};
use crate::config::{ChannelKind, Config, Sends};

/// A channel that delivers digests.
pub trait Notifier {
    /// Hands `digest` over, from its part `done` on (a digest may go in several messages),
    /// counting up `done` as the server takes each part. An unreachable or temporarily
    /// failing server is [`crate::exit::Fatal::ServiceDown`] (exit 75), one that asks to wait
    /// [`crate::exit::Fatal::Throttled`]; the caller keeps the alerts whatever the error.
    fn deliver(&self, digest: &Digest, done: &mut usize) -> Result<()>;

    /// Whether the channel answers now.
    fn check(&self) -> Result<()>;

    /// Where messages go, for summaries and `status`: never a secret.
    fn describe(&self) -> String;
}

/// A configured channel: its name, what it takes and its limit, and how it delivers.
pub struct Channel {
    pub name: String,
    pub sends: Sends,
    pub max_per_hour: usize,
    pub notifier: Box<dyn Notifier>,
}

impl Channel {
    pub fn takes(&self) -> Takes<'_> {
        Takes {
            channel: &self.name,
            leads: self.sends.leads,
            alerts: self.sends.alerts,
        }
    }
}

/// The configured email channel: SMTP with `[smtp]`, the outbox without.
pub fn from_config(config: &Config) -> Result<Box<dyn Notifier>> {
    Ok(match &config.smtp {
        Some(smtp) => Box::new(smtp::SmtpNotifier::new(config, smtp)?),
        None => Box::new(outbox::OutboxNotifier::new(config)?),
    })
}

/// Every configured channel, email first, then `[[channel]]` in the file's order.
pub fn channels(config: &Config) -> Result<Vec<Channel>> {
    let mut out = vec![Channel {
        name: EMAIL.to_string(),
        sends: Sends::ALL,
        max_per_hour: config.alerts.max_emails_per_hour as usize,
        notifier: from_config(config)?,
    }];
    for c in &config.channels {
        let notifier: Box<dyn Notifier> = match &c.kind {
            ChannelKind::Slack { .. } => Box::new(slack::SlackNotifier::new(config, c)),
            ChannelKind::Telegram { .. } => Box::new(telegram::TelegramNotifier::new(config, c)),
            ChannelKind::Webhook { .. } => Box::new(webhook::WebhookNotifier::new(config, c)),
        };
        out.push(Channel {
            name: c.name.clone(),
            sends: c.send,
            max_per_hour: c.max_messages_per_hour as usize,
            notifier,
        });
    }
    Ok(out)
}
