//! Delivery behind one trait: a [`Notifier`] takes a digest (what is due: leads, rule alerts,
//! a report) and renders it its own way. Email goes by SMTP ([`smtp`]) or, without `[smtp]`,
//! into the outbox ([`outbox`]); both render through [`mail`].

pub mod mail;
pub mod outbox;
pub mod smtp;

use anyhow::Result;

use crate::alerts::digest::Digest;
use crate::config::Config;

/// A channel that delivers digests.
pub trait Notifier {
    /// Hands `digest` over. An unreachable or temporarily failing server is
    /// [`crate::exit::Fatal::ServiceDown`] (exit 75); the caller keeps the alerts whatever the
    /// error.
    fn deliver(&self, digest: &Digest) -> Result<()>;

    /// Whether the channel answers now.
    fn check(&self) -> Result<()>;

    /// Where messages go, for summaries and `status`: never a secret.
    fn describe(&self) -> String;
}

/// The configured email channel: SMTP with `[smtp]`, the outbox without.
pub fn from_config(config: &Config) -> Result<Box<dyn Notifier>> {
    Ok(match &config.smtp {
        Some(smtp) => Box::new(smtp::SmtpNotifier::new(config, smtp)?),
        None => Box::new(outbox::OutboxNotifier::new(config)?),
    })
}
