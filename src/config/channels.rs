//! `[[channel]]`: where alerts and reports go besides email: Slack incoming webhooks, Telegram
//! bots, and any receiver of Alertmanager-style webhooks. Secrets (the Slack URL, the bot
//! token, a bearer token) are named here, by file or environment variable, and read only when a
//! message goes out; the configuration never holds one, so no error about it can show one.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::Bad;
use super::smtp::is_loopback;

/// One configured channel.
#[derive(Clone, Debug)]
pub struct Channel {
    /// The channel's name in the state, `status` and messages: `name`, or its type.
    pub name: String,
    pub kind: ChannelKind,
    pub send: Sends,
    pub max_messages_per_hour: u32,
    pub timeout_secs: u32,
    /// Extra trusted root certificate (PEM), for a server with a private CA.
    pub ca_file: Option<PathBuf>,
}

#[derive(Clone, Debug)]
pub enum ChannelKind {
    /// An incoming webhook: the URL is the secret.
    Slack { webhook_url: Secret },
    /// The Bot API's `sendMessage`.
    Telegram {
        bot_token: Secret,
        chat_id: String,
        api_base: String,
    },
    /// A JSON POST in Alertmanager's webhook format.
    Webhook {
        url: String,
        /// Optional: without the variable and the file, no `Authorization` header.
        bearer_token: Secret,
    },
}

impl ChannelKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            ChannelKind::Slack { .. } => "slack",
            ChannelKind::Telegram { .. } => "telegram",
            ChannelKind::Webhook { .. } => "webhook",
        }
    }
}

/// Where a secret is read from: the environment variable first, then the file.
#[derive(Clone, Debug)]
pub struct Secret {
    /// The configuration key that names the file (for errors).
    pub key: String,
    pub env: String,
    pub file: Option<PathBuf>,
}

/// What a channel receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sends {
    pub leads: bool,
    pub alerts: bool,
    pub reports: bool,
}

impl Sends {
    pub const ALL: Sends = Sends {
        leads: true,
        alerts: true,
        reports: true,
    };
}

pub(super) fn validate(
    raw: Vec<RawChannel>,
    default_per_hour: u32,
    resolve: &dyn Fn(&Path) -> PathBuf,
    bad: &Bad<'_>,
) -> anyhow::Result<Vec<Channel>> {
    let mut channels: Vec<Channel> = Vec::new();
    for (i, c) in raw.into_iter().enumerate() {
        let at = |key: &str| format!("channel[{i}].{key}");
        let name = c.name.clone().unwrap_or_else(|| c.kind.clone());
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(bad.at(&at("name"), "letters, digits, - and _ only"));
        }
        if name == "email" {
            return Err(bad.at(&at("name"), "\"email\" is the mail channel's own name"));
        }
        if channels.iter().any(|other| other.name == name) {
            return Err(bad.at(
                &at("name"),
                format!("two channels are called {name:?}: give each its own name = \"…\""),
            ));
        }
        let max = c.max_messages_per_hour.unwrap_or(default_per_hour);
        if max == 0 {
            return Err(bad.at(&at("max_messages_per_hour"), "must be at least 1"));
        }
        if c.timeout_secs == 0 || c.timeout_secs > 600 {
            return Err(bad.at(&at("timeout_secs"), "must be between 1 and 600"));
        }
        channels.push(Channel {
            name,
            kind: kind(&c, &at, resolve, bad)?,
            send: sends(c.send.as_deref(), &at("send"), bad)?,
            max_messages_per_hour: max,
            timeout_secs: c.timeout_secs,
            ca_file: c.ca_file.as_deref().map(resolve),
        });
    }
    Ok(channels)
}

/// What the block's `type` makes of its keys.
fn kind(
    c: &RawChannel,
    at: &dyn Fn(&str) -> String,
    resolve: &dyn Fn(&Path) -> PathBuf,
    bad: &Bad<'_>,
) -> anyhow::Result<ChannelKind> {
    let secret = |key: &str, env: &str, file: Option<&PathBuf>| Secret {
        key: at(key),
        env: match &c.name {
            Some(n) => format!("{env}_{}", n.to_ascii_uppercase().replace('-', "_")),
            None => env.to_string(),
        },
        file: file.map(|f| resolve(f)),
    };
    if c.kind != "webhook" && c.url.is_some() {
        return Err(bad.at(
            &at("url"),
            "only a webhook channel has a url in the configuration (a Slack URL is a \
             secret: webhook_url_file)",
        ));
    }
    Ok(match c.kind.as_str() {
        "slack" => ChannelKind::Slack {
            webhook_url: secret("webhook_url_file", SLACK_ENV, c.webhook_url_file.as_ref()),
        },
        "telegram" => {
            let chat_id = c.chat_id.clone().unwrap_or_default();
            if chat_id.trim().is_empty() {
                return Err(bad.at(&at("chat_id"), "a Telegram channel needs its chat_id"));
            }
            let api_base = c
                .api_base
                .clone()
                .unwrap_or_else(|| "https://api.telegram.org".into());
            check_url(&api_base, &at("api_base"), bad)?;
            ChannelKind::Telegram {
                bot_token: secret("bot_token_file", TELEGRAM_ENV, c.bot_token_file.as_ref()),
                chat_id,
                api_base: api_base.trim_end_matches('/').to_string(),
            }
        }
        "webhook" => {
            let url = c.url.clone().unwrap_or_default();
            check_url(&url, &at("url"), bad)?;
            ChannelKind::Webhook {
                url,
                bearer_token: secret(
                    "bearer_token_file",
                    WEBHOOK_ENV,
                    c.bearer_token_file.as_ref(),
                ),
            }
        }
        other => {
            return Err(bad.at(
                &at("type"),
                format!("{other:?} is not a channel type (\"slack\", \"telegram\", \"webhook\")"),
            ));
        }
    })
}

/// The environment variables that hold each type's secret (for a channel with a name, the
/// name follows in capitals: `ARKWATCH_SLACK_WEBHOOK_URL_SALES`).
pub const SLACK_ENV: &str = "ARKWATCH_SLACK_WEBHOOK_URL";
pub const TELEGRAM_ENV: &str = "ARKWATCH_TELEGRAM_BOT_TOKEN";
pub const WEBHOOK_ENV: &str = "ARKWATCH_WEBHOOK_BEARER_TOKEN";

fn sends(list: Option<&[String]>, key: &str, bad: &Bad<'_>) -> anyhow::Result<Sends> {
    let Some(list) = list else {
        return Ok(Sends::ALL);
    };
    let mut s = Sends {
        leads: false,
        alerts: false,
        reports: false,
    };
    for item in list {
        match item.as_str() {
            "leads" => s.leads = true,
            "alerts" => s.alerts = true,
            "reports" => s.reports = true,
            other => {
                return Err(bad.at(
                    key,
                    format!("{other:?} is not one of \"leads\", \"alerts\", \"reports\""),
                ));
            }
        }
    }
    if s == (Sends {
        leads: false,
        alerts: false,
        reports: false,
    }) {
        return Err(bad.at(
            key,
            "an empty list sends nothing: remove the channel instead",
        ));
    }
    Ok(s)
}

/// An `https://` URL, or `http://` to this machine only (as `[smtp] security = "none"`).
pub(super) fn check_url(url: &str, key: &str, bad: &Bad<'_>) -> anyhow::Result<()> {
    check_url_words(url).map_err(|why| bad.at(key, why))
}

/// Why `url` cannot be used, in words that never repeat it (it may be a secret).
pub fn check_url_words(url: &str) -> Result<(), String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| "is not a URL (https://host/path)".to_string())?;
    let host = host_of(rest);
    if host.is_empty() {
        return Err("names no host".into());
    }
    match scheme {
        "https" => Ok(()),
        "http" if is_loopback(host.trim_start_matches('[').trim_end_matches(']')) => Ok(()),
        "http" => Err(format!(
            "plain http:// sends the alerts in clear text, so it is only allowed to this \
             machine, not to {host}; use https://"
        )),
        _ => Err("must start with https://".into()),
    }
}

/// The host (with a port, if any) of what follows `scheme://`.
pub fn host_of(rest: &str) -> &str {
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit('@').next().unwrap_or("");
    match authority.rfind(':') {
        Some(i) if !authority[i..].contains(']') => &authority[..i],
        _ => authority,
    }
}

/// One `[[channel]]` block as TOML gives it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChannel {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: Option<String>,
    pub send: Option<Vec<String>>,
    pub webhook_url_file: Option<PathBuf>,
    pub bot_token_file: Option<PathBuf>,
    pub chat_id: Option<String>,
    pub api_base: Option<String>,
    pub url: Option<String>,
    pub bearer_token_file: Option<PathBuf>,
    pub max_messages_per_hour: Option<u32>,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u32,
    pub ca_file: Option<PathBuf>,
}

fn default_timeout() -> u32 {
    10
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_https_or_loopback_and_never_repeated() {
        assert!(check_url_words("https://hooks.slack.com/services/T/B/X").is_ok());
        assert!(check_url_words("http://127.0.0.1:8080/hook").is_ok());
        assert!(check_url_words("http://[::1]:8080/hook").is_ok());
        assert!(check_url_words("http://localhost/hook").is_ok());
        let why = check_url_words("http://hooks.example/secret-path").unwrap_err();
        assert!(
            why.contains("hooks.example") && !why.contains("secret-path"),
            "{why}"
        );
        assert!(check_url_words("ftp://x/").is_err());
        assert!(check_url_words("hooks.example/x").is_err());
        assert_eq!(host_of("user:pw@host.example:8443/x"), "host.example");
    }
}
