//! Delivery: SMTP by lettre (STARTTLS, implicit TLS, or plain to a loopback relay), or, when no
//! SMTP server is configured, `.eml` files in `data_dir/outbox` (lettre's file transport).
//!
//! The SMTP password comes from `ARKWATCH_SMTP_PASSWORD` or `[smtp] password_file`, never from
//! the command line (other users can read a process's arguments) and never into a message.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{SmtpTransport, Transport};

use super::message::Digest;
use crate::config::{Config, Smtp, SmtpSecurity};
use crate::exit::Fatal;

/// The environment variable that holds the SMTP password.
pub const PASSWORD_ENV: &str = "ARKWATCH_SMTP_PASSWORD";

pub enum Notifier {
    Smtp {
        transport: Box<SmtpTransport>,
        address: String,
    },
    Outbox(PathBuf),
}

pub fn outbox_dir(config: &Config) -> PathBuf {
    config.data_dir.join("outbox")
}

impl Notifier {
    pub fn from_config(config: &Config) -> Result<Notifier> {
        match &config.smtp {
            None => Ok(Notifier::Outbox(outbox_dir(config))),
            Some(smtp) => Ok(Notifier::Smtp {
                transport: Box::new(transport(config, smtp)?),
                address: smtp.address(),
            }),
        }
    }

    /// Where messages go, for summaries.
    pub fn describe(&self) -> String {
        match self {
            Notifier::Smtp { address, .. } => address.clone(),
            Notifier::Outbox(dir) => format!("outbox {}", dir.display()),
        }
    }

    /// Hands `message` over. An unreachable or temporarily failing server is
    /// [`Fatal::ServiceDown`] (exit 75); a server that refuses for good (bad credentials, a
    /// rejected recipient) is a plain error (exit 1). Either way the caller keeps the alerts.
    pub fn send(&self, message: &Message, digest: Option<&Digest>) -> Result<()> {
        match self {
            Notifier::Outbox(dir) => super::message::to_outbox(dir, message, digest).map(drop),
            Notifier::Smtp { transport, address } => match transport.send(message) {
                Ok(_) => Ok(()),
                Err(err) => Err(smtp_error(address, &err)),
            },
        }
    }

    /// Whether the server answers (connects, greets, says EHLO, and TLS works).
    pub fn check(&self) -> Result<()> {
        match self {
            Notifier::Outbox(dir) => {
                crate::fsutil::create_private_dir(dir)?;
                Ok(())
            }
            Notifier::Smtp { transport, address } => match transport.test_connection() {
                Ok(true) => Ok(()),
                Ok(false) => Err(Fatal::ServiceDown {
                    service: "SMTP server".into(),
                    address: address.clone(),
                    reason: "it did not answer NOOP".into(),
                }
                .into()),
                Err(err) => Err(smtp_error(address, &err)),
            },
        }
    }
}

fn smtp_error(address: &str, err: &lettre::transport::smtp::Error) -> anyhow::Error {
    let reason = error_chain(err);
    if err.is_permanent() {
        anyhow::anyhow!(
            "SMTP server {address} refused the message ({reason}); the alerts stay pending. \
             Check [smtp] and [alerts] in the configuration"
        )
    } else if err.is_tls() {
        anyhow::anyhow!(
            "TLS with SMTP server {address} failed ({reason}); the alerts stay pending. Check \
             smtp.host (it must match the certificate), smtp.security and smtp.ca_file"
        )
    } else {
        Fatal::ServiceDown {
            service: "SMTP server".into(),
            address: address.to_string(),
            reason,
        }
        .into()
    }
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
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

fn password(config: &Config, smtp: &Smtp) -> Result<Option<String>> {
    if let Some(p) = std::env::var_os(PASSWORD_ENV).filter(|p| !p.is_empty()) {
        return Ok(Some(p.to_string_lossy().into_owned()));
    }
    let Some(path) = &smtp.password_file else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(path).map_err(|err| {
        Fatal::Config(format!(
            "config {}: smtp.password_file: cannot read {}: {err}",
            config.path.display(),
            path.display()
        ))
    })?;
    Ok(Some(text.trim_end_matches(['\r', '\n']).to_string()))
}

fn transport(config: &Config, smtp: &Smtp) -> Result<SmtpTransport> {
    let bad = |msg: String| Fatal::Config(format!("config {}: {msg}", config.path.display()));
    let mut builder = SmtpTransport::builder_dangerous(smtp.host.as_str())
        .port(smtp.port)
        .timeout(Some(Duration::from_secs(u64::from(smtp.timeout_secs))));
    if smtp.security != SmtpSecurity::None {
        let mut params = TlsParameters::builder(smtp.host.clone());
        if let Some(ca) = &smtp.ca_file {
            let pem = std::fs::read(ca)
                .map_err(|err| bad(format!("smtp.ca_file: cannot read {}: {err}", ca.display())))?;
            let cert = Certificate::from_pem(&pem).map_err(|err| {
                bad(format!(
                    "smtp.ca_file: {} is not a PEM certificate: {err}",
                    ca.display()
                ))
            })?;
            params = params.add_root_certificate(cert);
        }
        let params = params
            .build_rustls()
            .map_err(|err| bad(format!("smtp: cannot set up TLS: {err}")))?;
        builder = builder.tls(match smtp.security {
            SmtpSecurity::Tls => Tls::Wrapper(params),
            _ => Tls::Required(params),
        });
    }
    match (&smtp.username, password(config, smtp)?) {
        (Some(user), Some(pass)) => {
            builder = builder.credentials(Credentials::new(user.clone(), pass));
        }
        (Some(_), None) => {
            return Err(bad(format!(
                "smtp.username is set but no password is: set {PASSWORD_ENV} or smtp.password_file"
            ))
            .into());
        }
        (None, _) => {}
    }
    Ok(builder.build())
}
