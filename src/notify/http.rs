//! The HTTP side of the chat and webhook channels: one small blocking client (ureq, rustls)
//! with timeouts on connect and on the whole exchange, no redirect followed, and answers
//! sorted into what a cron job can act on: delivered, try later (5xx, timeouts, 429 with its
//! `Retry-After`), or refused for good (other 4xx, with a hint).
//!
//! A URL is shown only as scheme and host: a Slack webhook's path and a Telegram bot token
//! are secrets. Every message this module builds is also scrubbed of the secrets it was given,
//! whatever a lower layer put into it.

use std::io::Read as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use ureq::tls::{Certificate, RootCerts, TlsConfig};

use crate::config::Secret;
use crate::exit::Fatal;

/// A client for one channel.
pub struct Client {
    agent: ureq::Agent,
    /// What the channel is called in messages: `Slack`, `Telegram`, `webhook`.
    pub service: &'static str,
    timeout_secs: u32,
    secrets: Vec<String>,
}

/// A server's answer.
pub struct Answer {
    pub status: u16,
    pub body: String,
    /// `Retry-After` in seconds (a 429 or a 503).
    pub retry_after: Option<u64>,
}

impl Client {
    pub fn new(
        service: &'static str,
        timeout_secs: u32,
        ca_file: Option<&Path>,
        secrets: Vec<String>,
    ) -> Result<Client> {
        let timeout = Duration::from_secs(u64::from(timeout_secs));
        let mut tls = TlsConfig::builder();
        if let Some(ca) = ca_file {
            let pem = std::fs::read(ca).map_err(|err| {
                Fatal::Config(format!(
                    "channel ca_file: cannot read {}: {err}",
                    ca.display()
                ))
            })?;
            let certs: Vec<Certificate<'static>> = ureq::tls::parse_pem(&pem)
                .filter_map(|item| match item {
                    Ok(ureq::tls::PemItem::Certificate(cert)) => Some(cert),
                    _ => None,
                })
                .collect();
            if certs.is_empty() {
                return Err(Fatal::Config(format!(
                    "channel ca_file: {} holds no PEM certificate",
                    ca.display()
                ))
                .into());
            }
            tls = tls.root_certs(RootCerts::Specific(Arc::new(certs)));
        }
        let agent = ureq::Agent::config_builder()
            .timeout_connect(Some(timeout))
            .timeout_global(Some(timeout))
            .max_redirects(0)
            .http_status_as_error(false)
            .user_agent(concat!("arkwatch/", env!("CARGO_PKG_VERSION")))
            .tls_config(tls.build())
            .build()
            .new_agent();
        Ok(Client {
            agent,
            service,
            timeout_secs,
            secrets: secrets.into_iter().filter(|s| s.len() >= 4).collect(),
        })
    }

    /// POSTs `body` as JSON. A server that cannot be reached, or does not answer in time, is
    /// [`Fatal::ServiceDown`] (exit 75); a TLS failure is [`Fatal::Denied`] (exit 77).
    pub fn post_json(
        &self,
        url: &str,
        bearer: Option<&str>,
        body: &serde_json::Value,
    ) -> Result<Answer> {
        let mut request = self
            .agent
            .post(url)
            .header("Content-Type", "application/json");
        if let Some(token) = bearer {
            request = request.header("Authorization", &format!("Bearer {token}"));
        }
        self.answer(url, request.send(body.to_string().as_bytes()))
    }

    /// A GET, for a check that must not post anything.
    pub fn get(&self, url: &str, bearer: Option<&str>) -> Result<Answer> {
        let mut request = self.agent.get(url);
        if let Some(token) = bearer {
            request = request.header("Authorization", &format!("Bearer {token}"));
        }
        self.answer(url, request.call())
    }

    fn answer(
        &self,
        url: &str,
        response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Answer> {
        let mut response = match response {
            Ok(r) => r,
            Err(err) => return Err(self.transport_error(&redact(url), &err)),
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let mut body = String::new();
        // A body that cannot be read leaves the status to speak for the answer.
        let _ = response
            .body_mut()
            .as_reader()
            .take(64 * 1024)
            .read_to_string(&mut body);
        Ok(Answer {
            status,
            body: self.scrub(&body),
            retry_after,
        })
    }

    fn transport_error(&self, address: &str, err: &ureq::Error) -> anyhow::Error {
        let reason = self.scrub(&describe(err));
        if let Some(words) = crate::exit::tls_failure(&reason) {
            return Fatal::Denied(format!(
                "TLS with {} at {address} failed: {words}; the alerts stay pending. Check the \
                 URL's host (it must match the certificate) and the channel's ca_file",
                self.service
            ))
            .into();
        }
        let reason = if matches!(err, ureq::Error::Timeout(_)) {
            format!("timed out after {} s", self.timeout_secs)
        } else {
            reason
        };
        Fatal::ServiceDown {
            service: self.service.to_string(),
            address: address.to_string(),
            reason,
        }
        .into()
    }

    /// Sorts a non-2xx answer: 429 waits for `Retry-After`, 5xx is temporary, a redirect and
    /// other 4xx are refusals for good (`hint` says what to check), 401 and 403 are denied.
    pub fn refusal(&self, address: &str, answer: &Answer, hint: &str) -> anyhow::Error {
        let service = self.service;
        let said = one_line_excerpt(&answer.body);
        let status = answer.status;
        match status {
            429 => Fatal::Throttled {
                service: service.to_string(),
                address: address.to_string(),
                retry_after_secs: answer.retry_after.unwrap_or(60),
            }
            .into(),
            500..=599 => Fatal::ServiceDown {
                service: service.to_string(),
                address: address.to_string(),
                reason: format!("it answered {status} {said}"),
            }
            .into(),
            401 | 403 => Fatal::Denied(format!(
                "{service} at {address} refused the credentials ({status} {said}); the alerts \
                 stay pending. {hint}"
            ))
            .into(),
            300..=399 => anyhow::anyhow!(
                "{service} at {address} answered {status}, a redirect, which arkwatch does not \
                 follow; the alerts stay pending. Put the URL it redirects to in the \
                 configuration"
            ),
            _ => anyhow::anyhow!(
                "{service} at {address} refused the message ({status} {said}); the alerts stay \
                 pending. {hint}"
            ),
        }
    }

    /// `text` with every secret of this channel masked.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for secret in &self.secrets {
            out = out.replace(secret.as_str(), "…");
        }
        out
    }
}

/// An error of ureq in words that hold no URL.
fn describe(err: &ureq::Error) -> String {
    match err {
        ureq::Error::Io(io) => io.to_string(),
        ureq::Error::Timeout(_) => "timed out".into(),
        ureq::Error::HostNotFound => "its host name does not resolve".into(),
        ureq::Error::ConnectionFailed => "connection refused".into(),
        ureq::Error::BadUri(_) => "the URL is not valid".into(),
        ureq::Error::Tls(what) => format!("tls: {what}"),
        ureq::Error::Rustls(err) => format!("tls: {err:?}"),
        other => {
            let text = other.to_string();
            // Some variants quote the URL; a URL-free summary is better than a leak.
            if text.contains("://") {
                "the request failed".into()
            } else {
                text
            }
        }
    }
}

/// The first 200 characters of a server's answer, on one line, in parentheses-free words.
fn one_line_excerpt(body: &str) -> String {
    let text: String = crate::escape::one_line(body.trim())
        .chars()
        .take(200)
        .collect();
    if text.is_empty() {
        String::new()
    } else {
        format!("\"{text}\"")
    }
}

/// `https://hooks.slack.com`: a URL without its path, query or credentials.
pub fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
            let host = authority.rsplit('@').next().unwrap_or("");
            format!("{scheme}://{host}")
        }
        None => "(a URL that does not parse)".into(),
    }
}

/// Reads a secret: the environment variable first, then the file (its last line break cut).
/// `None` when neither is set.
pub fn read_secret(config: &Path, secret: &Secret) -> Result<Option<String>> {
    if let Some(v) = std::env::var_os(&secret.env).filter(|v| !v.is_empty()) {
        return Ok(Some(v.to_string_lossy().trim().to_string()));
    }
    let Some(path) = &secret.file else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(path).map_err(|err| {
        Fatal::Config(format!(
            "config {}: {}: cannot read {}: {err}",
            config.display(),
            secret.key,
            path.display()
        ))
    })?;
    let text = text.trim();
    if text.is_empty() {
        return Err(Fatal::Config(format!(
            "config {}: {}: {} is empty",
            config.display(),
            secret.key,
            path.display()
        ))
        .into());
    }
    Ok(Some(text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redacted_url_keeps_scheme_and_host_only() {
        assert_eq!(
            redact("https://hooks.slack.com/services/T0/B0/secret"),
            "https://hooks.slack.com"
        );
        assert_eq!(
            redact("https://api.telegram.org/bot123:ABC/sendMessage"),
            "https://api.telegram.org"
        );
        assert_eq!(
            redact("http://user:pw@127.0.0.1:8080/x?token=y"),
            "http://127.0.0.1:8080"
        );
    }
}
