//! `[smtp]`: the mail server alerts and reports go to (without it, the outbox).

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::Bad;

/// How the SMTP connection is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS (port 587); refused if the server cannot.
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only to a loopback address (a local relay).
    None,
}

#[derive(Clone, Debug)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    /// Read at send time from `ARKWATCH_SMTP_PASSWORD`, else from this file.
    pub password_file: Option<PathBuf>,
    /// Extra trusted root certificate (PEM), for a server with a private CA.
    pub ca_file: Option<PathBuf>,
    pub timeout_secs: u32,
}

impl Smtp {
    /// `smtp://host:port` or `smtps://host:port`, for messages (never with credentials).
    pub fn address(&self) -> String {
        let scheme = if self.security == SmtpSecurity::Tls {
            "smtps"
        } else {
            "smtp"
        };
        format!("{scheme}://{}:{}", self.host, self.port)
    }
}

/// Whether `host` names this machine (plain connections are allowed only there).
pub fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

pub(super) fn validate(
    s: RawSmtp,
    resolve: &dyn Fn(&Path) -> PathBuf,
    bad: &Bad<'_>,
) -> anyhow::Result<Smtp> {
    if s.host.trim().is_empty() {
        return Err(bad.at("smtp.host", "must not be empty"));
    }
    if s.security == SmtpSecurity::None && !is_loopback(&s.host) {
        return Err(bad.at(
            "smtp.security",
            format!(
                "\"none\" sends the password and the leads in clear text, so it is only \
                 allowed to a loopback relay, not to {:?}; use \"starttls\" or \"tls\"",
                s.host
            ),
        ));
    }
    if s.timeout_secs > 600 {
        return Err(bad.at("smtp.timeout_secs", "must be at most 600"));
    }
    let port = s.port.unwrap_or(match s.security {
        SmtpSecurity::Starttls => 587,
        SmtpSecurity::Tls => 465,
        SmtpSecurity::None => 25,
    });
    Ok(Smtp {
        host: s.host,
        port,
        security: s.security,
        username: s.username.filter(|u| !u.is_empty()),
        password_file: s.password_file.as_deref().map(resolve),
        ca_file: s.ca_file.as_deref().map(resolve),
        timeout_secs: s.timeout_secs.max(1),
    })
}

/// The section as TOML gives it, with its defaults.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSmtp {
    pub host: String,
    pub port: Option<u16>,
    #[serde(default = "default_security")]
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password_file: Option<PathBuf>,
    pub ca_file: Option<PathBuf>,
    #[serde(default = "default_smtp_timeout")]
    pub timeout_secs: u32,
}

fn default_security() -> SmtpSecurity {
    SmtpSecurity::Starttls
}
fn default_smtp_timeout() -> u32 {
    15
}
