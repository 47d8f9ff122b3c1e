//! Delivery by SMTP (lettre): STARTTLS, implicit TLS, or plain to a loopback relay only.
//!
//! The password comes from `ARKWATCH_SMTP_PASSWORD` or `[smtp] password_file`, never from
//! the command line (other users can read a process's arguments) and never into a message.

use std::time::Duration;

use anyhow::Result;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{SmtpTransport, Transport};

use super::Notifier;
use crate::alerts::digest::Digest;
use crate::config::{Config, Smtp, SmtpSecurity};
use crate::exit::Fatal;

/// The environment variable that holds the SMTP password.
pub const PASSWORD_ENV: &str = "ARKWATCH_SMTP_PASSWORD";

pub struct SmtpNotifier {
    transport: SmtpTransport,
    address: String,
    timeout_secs: u32,
    from: Mailbox,
    to: Vec<Mailbox>,
}

impl SmtpNotifier {
    pub fn new(config: &Config, smtp: &Smtp) -> Result<SmtpNotifier> {
        let (from, to) = super::mail::mailboxes(config)?;
        Ok(SmtpNotifier {
            transport: transport(config, smtp)?,
            address: smtp.address(),
            timeout_secs: smtp.timeout_secs,
            from,
            to,
        })
    }
}

impl Notifier for SmtpNotifier {
    /// An unreachable or temporarily failing server is [`Fatal::ServiceDown`] (exit 75); a
    /// server that refuses for good (a rejected recipient) is a plain error (exit 1); a refused
    /// login or certificate is [`Fatal::Denied`] (exit 77). Either way the caller keeps the
    /// alerts.
    fn deliver(&self, digest: &Digest, done: &mut usize) -> Result<()> {
        let message = super::mail::message(digest, &self.from, &self.to)?;
        match self.transport.send(&message) {
            Ok(_) => {
                *done = 1;
                Ok(())
            }
            Err(err) => Err(smtp_error(&self.address, self.timeout_secs, &err)),
        }
    }

    /// Whether the server answers (connects, greets, says EHLO, and TLS works).
    fn check(&self) -> Result<()> {
        match self.transport.test_connection() {
            Ok(true) => Ok(()),
            Ok(false) => Err(Fatal::ServiceDown {
                service: "SMTP server".into(),
                address: self.address.clone(),
                reason: "it did not answer NOOP".into(),
            }
            .into()),
            Err(err) => Err(smtp_error(&self.address, self.timeout_secs, &err)),
        }
    }

    fn describe(&self) -> String {
        self.address.clone()
    }
}

fn smtp_error(
    address: &str,
    timeout_secs: u32,
    err: &lettre::transport::smtp::Error,
) -> anyhow::Error {
    let reason = error_chain(err);
    let code = err.status().map(|c| c.to_string()).unwrap_or_default();
    if err.is_permanent() && matches!(code.as_str(), "530" | "534" | "535" | "538") {
        return Fatal::Denied(format!(
            "SMTP server {address} refused the login ({reason}); the alerts stay pending. \
             Check smtp.username and the password (ARKWATCH_SMTP_PASSWORD or \
             smtp.password_file)"
        ))
        .into();
    }
    if err.is_tls() || crate::exit::tls_failure(&reason).is_some() && !err.is_permanent() {
        let words = crate::exit::tls_failure(&reason).unwrap_or_else(|| reason.clone());
        return Fatal::Denied(format!(
            "TLS with SMTP server {address} failed: {words}; the alerts stay pending. Check \
             smtp.host (it must match the certificate), smtp.security and smtp.ca_file"
        ))
        .into();
    }
    if crate::exit::timed_out(&reason) {
        return Fatal::ServiceDown {
            service: "SMTP server".into(),
            address: address.to_string(),
            reason: format!("timed out after {timeout_secs} s"),
        }
        .into();
    }
    if err.is_permanent() {
        anyhow::anyhow!(
            "SMTP server {address} refused the message ({reason}); the alerts stay pending. \
             Check [smtp] and [alerts] in the configuration"
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
