//! The TOML configuration: where it is found, what each key means, and its validation, done once
//! at start so that every later error is about data, not about settings. One file per section;
//! `raw` holds the file's shape with its defaults. This module imports only core types (and
//! the log-format compiler, which it needs to validate a format).

pub mod alerts;
pub mod channels;
pub mod events;
pub mod filters;
pub mod geo;
mod raw;
pub mod sections;
pub mod smtp;

use std::path::{Component, Path, PathBuf};

use anyhow::Result;
use chrono_tz::Tz;

pub use alerts::{
    Alerts, ApiCostRule, ConversionRateRule, ErrorRateRule, Rules, ScoreWeights, SilenceRule,
    UserCostRule,
};
pub use channels::{Channel, ChannelKind, Secret, Sends};
pub use events::{EventStoreKind, Events};
pub use filters::{
    AccessLog, Behaviour, ClientIp, DEFAULT_STATIC_EXTENSIONS, Filters, default_pages,
};
pub use geo::{Geo, IgnoredNetwork};
pub use sections::{Dashboard, LeadsConfig, MetricsConfig, Retention};
pub use smtp::{Smtp, SmtpSecurity};

use crate::exit::Fatal;
use crate::page_tier::PageTier;

/// Where the configuration is looked for when `--config` is not given.
pub const SEARCH_ORDER: &str =
    "--config PATH, then $ARKWATCH_CONFIG, then ./arkwatch.toml, then /etc/arkwatch/arkwatch.toml";

/// The validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub path: PathBuf,
    pub data_dir: PathBuf,
    pub site_name: String,
    pub timezone: Tz,
    pub site_hosts: Vec<String>,
    pub access_logs: Vec<AccessLog>,
    /// Path prefix -> tier, longest prefix first.
    pub pages: Vec<(String, PageTier)>,
    pub filters: Filters,
    pub geo: Geo,
    pub events: Events,
    pub alerts: Alerts,
    pub retention: Retention,
    pub metrics: MetricsConfig,
    pub dashboard: Dashboard,
    pub leads: LeadsConfig,
    /// None: messages go to the outbox (`data_dir/outbox`) as `.eml` files.
    pub smtp: Option<Smtp>,
    /// The chat and webhook channels, in the file's order (email is always there besides).
    pub channels: Vec<Channel>,
}

/// Builds the configuration errors of one file: `config PATH: KEY: what is wrong`.
pub(crate) struct Bad<'a>(&'a Path);

impl Bad<'_> {
    pub(crate) fn at(&self, key: &str, msg: impl std::fmt::Display) -> anyhow::Error {
        Fatal::Config(format!("config {}: {key}: {msg}", self.0.display())).into()
    }

    fn whole(&self, msg: impl std::fmt::Display) -> anyhow::Error {
        Fatal::Config(format!("config {}: {msg}", self.0.display())).into()
    }
}

impl Config {
    /// Finds the configuration file in the documented order and loads it.
    pub fn discover(explicit: Option<&Path>) -> Result<Config> {
        if let Some(path) = explicit {
            return Config::load(path);
        }
        if let Some(path) = std::env::var_os("ARKWATCH_CONFIG").filter(|p| !p.is_empty()) {
            return Config::load(Path::new(&path));
        }
        for candidate in ["arkwatch.toml", "/etc/arkwatch/arkwatch.toml"] {
            if Path::new(candidate).exists() {
                return Config::load(Path::new(candidate));
            }
        }
        Err(Fatal::Config(format!(
            "no configuration file found (looked for {SEARCH_ORDER})"
        ))
        .into())
    }

    /// Loads and validates one file.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|err| {
            Fatal::Config(format!("cannot read config file {}: {err}", path.display()))
        })?;
        // Absolute, so that checkpoint keys (log paths) do not depend on the working directory.
        let path = std::path::absolute(path).map_or_else(|_| path.to_path_buf(), |p| normalize(&p));
        Config::parse(&path, &text)
    }

    /// Validates `text` as the contents of `path` (relative paths in it are relative to the
    /// file's directory).
    pub fn parse(path: &Path, text: &str) -> Result<Config> {
        let bad = Bad(path);
        let raw: raw::RawConfig = toml::from_str(text).map_err(|err| bad.whole(err))?;
        let base = crate::fsutil::parent(path);
        let resolve = |p: &Path| {
            if p.is_absolute() {
                normalize(p)
            } else {
                normalize(&base.join(p))
            }
        };
        let data_dir = match std::env::var_os("ARKWATCH_DATA_DIR").filter(|p| !p.is_empty()) {
            Some(dir) => resolve(Path::new(&dir)),
            None => resolve(&raw.data_dir),
        };
        let timezone: Tz = raw.timezone.parse().map_err(|_| {
            bad.at(
                "timezone",
                format!(
                    "{:?} is not an IANA time zone name (like \"Europe/Berlin\" or \"UTC\")",
                    raw.timezone
                ),
            )
        })?;
        let access_logs = filters::access_logs(&raw.access_log, &resolve, &bad)?;
        let pages = filters::pages(raw.pages, &bad)?;
        let filters = filters::filters(raw.filters, &bad)?;
        let geo = geo::validate(raw.geo, &resolve, &bad)?;
        geo::check_ignore_networks(&filters, &geo, &bad)?;
        let events = events::validate(raw.events, &resolve, &bad)?;
        let alerts = alerts::validate(raw.alerts, &bad)?;
        let smtp = match raw.smtp {
            Some(smtp) => Some(smtp::validate(smtp, &resolve, &bad)?),
            None => None,
        };
        if smtp.is_some() && alerts.to.is_empty() {
            return Err(bad.at(
                "alerts.to",
                "[smtp] is configured but no recipient is (to = [\"you@example.com\"])",
            ));
        }
        let channels = channels::validate(raw.channel, alerts.max_emails_per_hour, &resolve, &bad)?;
        let retention = raw.retention;
        if retention.archive_days < retention.max_age_days {
            return Err(bad.whole(format!(
                "retention.archive_days ({}) is shorter than retention.max_age_days ({}): \
                 archives would be deleted before they are made",
                retention.archive_days, retention.max_age_days
            )));
        }
        if retention.archive_days > 36_500 || retention.outbox_days > 36_500 {
            return Err(bad.at("retention", "days must be at most 36500"));
        }
        check_metrics(&raw.metrics, &bad)?;
        let dashboard = raw.dashboard.validate(&resolve, &bad)?;
        let leads = raw.leads.validate(&bad)?;
        Ok(Config {
            leads,
            alerts,
            retention,
            dashboard,
            metrics: raw.metrics,
            smtp,
            channels,
            events,
            path: path.to_path_buf(),
            data_dir,
            site_name: raw.site_name,
            timezone,
            site_hosts: raw
                .site_hosts
                .iter()
                .map(|h| h.to_ascii_lowercase())
                .collect(),
            access_logs,
            pages,
            filters,
            geo,
        })
    }

    /// The configured prefixes of one tier, for labels (`/pricing, /plans`).
    pub fn pages_of(&self, tier: PageTier) -> String {
        let names: Vec<&str> = self
            .pages
            .iter()
            .filter(|(_, t)| *t == tier)
            .map(|(p, _)| p.as_str())
            .collect();
        if names.is_empty() {
            format!("{} pages", tier.words())
        } else {
            names.join(", ")
        }
    }
}

fn check_metrics(metrics: &MetricsConfig, bad: &Bad<'_>) -> Result<()> {
    if metrics.currency.trim().is_empty()
        || metrics.infra_cost_per_month.is_sign_negative()
        || metrics.infra_cost_per_month > rust_decimal::Decimal::from(1_000_000_000_u64)
    {
        return Err(bad.at(
            "metrics",
            "currency must be named and infra_cost_per_month between 0 and 1000000000",
        ));
    }
    Ok(())
}

/// `a/b/../c/./d` as `a/c/d`, without touching the file system (a path shown to a person, and
/// a checkpoint key, should not depend on how the config spelled it).
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests;
