//! The TOML configuration: where it is found, what each key means, and its validation, done once
//! at start so that every later error is about data, not about settings.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::Result;
use chrono_tz::Tz;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::accesslog::format::LogFormat;
use crate::exit::Fatal;

/// Where the configuration is looked for when `--config` is not given.
pub const SEARCH_ORDER: &str =
    "--config PATH, then $ARKWATCH_CONFIG, then ./arkwatch.toml, then /etc/arkwatch/arkwatch.toml";

/// How interesting a page is as a buying signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PageTier {
    Warm,
    Hot,
    VeryHot,
}

impl PageTier {
    pub const ALL: [PageTier; 3] = [PageTier::VeryHot, PageTier::Hot, PageTier::Warm];

    pub fn index(self) -> usize {
        match self {
            PageTier::VeryHot => 0,
            PageTier::Hot => 1,
            PageTier::Warm => 2,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            PageTier::VeryHot => "very_hot",
            PageTier::Hot => "hot",
            PageTier::Warm => "warm",
        }
    }
}

impl fmt::Display for PageTier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which address identifies the client.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientIp {
    #[default]
    RemoteAddr,
    /// The first address of `$http_x_forwarded_for`, falling back to `$remote_addr`.
    XForwardedFor,
}

#[derive(Clone, Debug)]
pub struct AccessLog {
    pub path: PathBuf,
    pub format: LogFormat,
    pub client_ip: ClientIp,
}

/// Which requests count as a visit, and which are bots, assets or the team itself.
#[derive(Clone, Debug)]
pub struct Filters {
    pub exclude_bots: bool,
    pub bot_patterns: Vec<String>,
    pub ignore_ips: Vec<IpNet>,
    pub methods: Vec<String>,
    /// Indexed by status code (0..=999): whether it counts as a visit.
    pub statuses: Vec<bool>,
    pub static_extensions: Vec<String>,
}

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
    pub events: Events,
    pub alerts: Alerts,
    pub retention: Retention,
    pub metrics: MetricsConfig,
    /// None: messages go to the outbox (`data_dir/outbox`) as `.eml` files.
    pub smtp: Option<Smtp>,
}

/// Settings of `metrics` and `report`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// The currency every amount (prices, MRR, API cost) is in; named once in outputs.
    pub currency: String,
    /// Infrastructure cost per month (servers, SaaS), for the cost per active user.
    pub infra_cost_per_month: rust_decimal::Decimal,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            currency: "USD".into(),
            infra_cost_per_month: rust_decimal::Decimal::ZERO,
        }
    }
}

/// How much of its own data arkwatch keeps (`rotate`). Rollups are kept for ever: they hold
/// no address, and reports outlive the logs.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Retention {
    /// Visits kept in the live store (the newest); older ones go to gzip archives.
    pub max_visits: u64,
    /// Visits older than this (local days) go to the archives whatever their number.
    pub max_age_days: u32,
    /// Archives of days older than this are deleted.
    pub archive_days: u32,
    /// Messages in the outbox older than this are deleted.
    pub outbox_days: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            max_visits: 10_000,
            max_age_days: 90,
            archive_days: 365,
            outbox_days: 30,
        }
    }
}

/// What raises an alert and how often one may be sent.
#[derive(Clone, Debug)]
pub struct Alerts {
    pub from: String,
    pub to: Vec<String>,
    pub dedup_hours: u32,
    pub cooldown_hours: u32,
    pub resolved_notices: bool,
    pub max_emails_per_hour: u32,
    /// A visit older than this when a scan first sees it (a backfill) never alerts.
    pub lead_max_age_hours: u32,
    pub score: crate::alerts::journey::ScoreWeights,
    pub rules: Rules,
}

/// The threshold rules; a rule with `enabled = false` is never evaluated.
#[derive(Clone, Debug, PartialEq)]
pub struct Rules {
    pub error_rate: Option<ErrorRateRule>,
    pub conversion_rate: Option<ConversionRateRule>,
    pub api_cost: Option<ApiCostRule>,
    pub silence: Option<SilenceRule>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ErrorRateRule {
    enabled: bool,
    pub percent: f64,
    pub window_minutes: u32,
    pub min_commands: u64,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConversionRateRule {
    enabled: bool,
    pub percent: f64,
    pub days: u32,
    pub min_registrations: u64,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiCostRule {
    enabled: bool,
    /// Dollars (or the configured currency) spent on API calls in the current local day.
    pub per_day: rust_decimal::Decimal,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SilenceRule {
    enabled: bool,
    pub hours: u32,
}

impl Default for ErrorRateRule {
    fn default() -> Self {
        ErrorRateRule {
            enabled: true,
            percent: 5.0,
            window_minutes: 60,
            min_commands: 20,
        }
    }
}

impl Default for ConversionRateRule {
    fn default() -> Self {
        ConversionRateRule {
            enabled: true,
            percent: 5.0,
            days: 7,
            min_registrations: 20,
        }
    }
}

impl Default for ApiCostRule {
    fn default() -> Self {
        ApiCostRule {
            enabled: true,
            per_day: rust_decimal::Decimal::new(5, 0),
        }
    }
}

impl Default for SilenceRule {
    fn default() -> Self {
        SilenceRule {
            enabled: true,
            hours: 2,
        }
    }
}

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawAlerts {
    from: String,
    to: Vec<String>,
    dedup_hours: u32,
    cooldown_hours: u32,
    resolved_notices: bool,
    max_emails_per_hour: u32,
    lead_max_age_hours: u32,
    score: RawScore,
    rules: RawRules,
}

impl Default for RawAlerts {
    fn default() -> Self {
        RawAlerts {
            from: "arkwatch@localhost".into(),
            to: Vec::new(),
            dedup_hours: 24,
            cooldown_hours: 6,
            resolved_notices: true,
            max_emails_per_hour: 1,
            lead_max_age_hours: 24,
            score: RawScore::default(),
            rules: RawRules::default(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawScore {
    very_hot: u32,
    hot: u32,
    warm: u32,
    repeat_visit: u32,
}

impl Default for RawScore {
    fn default() -> Self {
        let w = crate::alerts::journey::ScoreWeights::default();
        RawScore {
            very_hot: w.very_hot,
            hot: w.hot,
            warm: w.warm,
            repeat_visit: w.repeat_visit,
        }
    }
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawRules {
    error_rate: ErrorRateRule,
    conversion_rate: ConversionRateRule,
    api_cost: ApiCostRule,
    silence: SilenceRule,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSmtp {
    host: String,
    port: Option<u16>,
    #[serde(default = "default_security")]
    security: SmtpSecurity,
    username: Option<String>,
    password_file: Option<PathBuf>,
    ca_file: Option<PathBuf>,
    #[serde(default = "default_smtp_timeout")]
    timeout_secs: u32,
}

fn default_security() -> SmtpSecurity {
    SmtpSecurity::Starttls
}
fn default_smtp_timeout() -> u32 {
    15
}

/// Where product events live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventStoreKind {
    /// `data_dir/events.jsonl`: no server needed.
    File,
    /// A `redis://` URL (the password may come from `ARKWATCH_REDIS_PASSWORD` instead).
    Redis(String),
}

#[derive(Clone, Debug)]
pub struct Events {
    pub store: EventStoreKind,
    /// Prefix of every Redis key arkwatch owns.
    pub prefix: String,
    pub retention_days: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawEvents {
    store: String,
    prefix: String,
    retention_days: u32,
}

impl Default for RawEvents {
    fn default() -> Self {
        RawEvents {
            store: "file".into(),
            prefix: "arkwatch:".into(),
            retention_days: 30,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    data_dir: PathBuf,
    #[serde(default = "default_site_name")]
    site_name: String,
    #[serde(default = "default_timezone")]
    timezone: String,
    #[serde(default)]
    site_hosts: Vec<String>,
    #[serde(default)]
    access_log: Vec<RawAccessLog>,
    pages: Option<BTreeMap<String, PageTier>>,
    #[serde(default)]
    filters: RawFilters,
    #[serde(default)]
    events: RawEvents,
    #[serde(default)]
    alerts: RawAlerts,
    #[serde(default)]
    retention: Retention,
    #[serde(default)]
    metrics: MetricsConfig,
    smtp: Option<RawSmtp>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccessLog {
    path: PathBuf,
    #[serde(default = "default_format")]
    format: String,
    #[serde(default)]
    client_ip: ClientIp,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawFilters {
    exclude_bots: bool,
    bot_patterns: Vec<String>,
    ignore_ips: Vec<String>,
    methods: Vec<String>,
    statuses: Vec<String>,
    static_extensions: Vec<String>,
}

impl Default for RawFilters {
    fn default() -> Self {
        RawFilters {
            exclude_bots: true,
            bot_patterns: Vec::new(),
            ignore_ips: Vec::new(),
            methods: vec!["GET".into()],
            statuses: vec!["2xx".into(), "3xx".into()],
            static_extensions: DEFAULT_STATIC_EXTENSIONS
                .iter()
                .map(|s| s.to_string())
                .collect(),
        }
    }
}

pub const DEFAULT_STATIC_EXTENSIONS: &[&str] = &[
    "css",
    "js",
    "mjs",
    "map",
    "png",
    "jpg",
    "jpeg",
    "gif",
    "svg",
    "ico",
    "webp",
    "avif",
    "bmp",
    "woff",
    "woff2",
    "ttf",
    "otf",
    "eot",
    "mp4",
    "webm",
    "mp3",
    "ogg",
    "wav",
    "zip",
    "gz",
    "txt",
    "xml",
    "json",
    "webmanifest",
];

fn default_site_name() -> String {
    "ArkWatch".to_string()
}
fn default_timezone() -> String {
    "UTC".to_string()
}
fn default_format() -> String {
    "combined".to_string()
}

pub fn default_pages() -> Vec<(String, PageTier)> {
    vec![
        ("/pricing".to_string(), PageTier::Hot),
        ("/trial".to_string(), PageTier::VeryHot),
        ("/demo".to_string(), PageTier::Warm),
    ]
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
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        Config::parse(&path, &text)
    }

    /// Validates `text` as the contents of `path` (relative paths in it are relative to the
    /// file's directory).
    pub fn parse(path: &Path, text: &str) -> Result<Config> {
        let bad = |msg: String| Fatal::Config(format!("config {}: {msg}", path.display()));
        let raw: RawConfig = toml::from_str(text).map_err(|err| bad(err.to_string()))?;
        let base = crate::fsutil::parent(path);
        let resolve = |p: &Path| {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        };

        let data_dir = match std::env::var_os("ARKWATCH_DATA_DIR").filter(|p| !p.is_empty()) {
            Some(dir) => PathBuf::from(dir),
            None => resolve(&raw.data_dir),
        };
        let timezone: Tz = raw.timezone.parse().map_err(|_| {
            bad(format!(
                "timezone: {:?} is not an IANA time zone name (like \"Europe/Berlin\" or \"UTC\")",
                raw.timezone
            ))
        })?;

        let mut access_logs = Vec::new();
        for (i, log) in raw.access_log.iter().enumerate() {
            let format = LogFormat::compile(&log.format)
                .map_err(|err| bad(format!("access_log[{i}].format: {err}")))?;
            if log.client_ip == ClientIp::XForwardedFor
                && !format.has(crate::accesslog::format::Field::HttpXForwardedFor)
            {
                return Err(bad(format!(
                    "access_log[{i}].client_ip: \"x_forwarded_for\" needs \
                     $http_x_forwarded_for in the format"
                ))
                .into());
            }
            access_logs.push(AccessLog {
                path: resolve(&log.path),
                format,
                client_ip: log.client_ip,
            });
        }

        let mut pages: Vec<(String, PageTier)> = match raw.pages {
            Some(map) => {
                for prefix in map.keys() {
                    if !prefix.starts_with('/') {
                        return Err(bad(format!(
                            "pages: {prefix:?} must be a path starting with '/'"
                        ))
                        .into());
                    }
                }
                map.into_iter().collect()
            }
            None => default_pages(),
        };
        pages.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));

        let f = raw.filters;
        let mut ignore_ips = Vec::new();
        for (i, spec) in f.ignore_ips.iter().enumerate() {
            let net = parse_net(spec).ok_or_else(|| {
                bad(format!(
                    "filters.ignore_ips[{i}]: {spec:?} is not an IP address or CIDR"
                ))
            })?;
            ignore_ips.push(net);
        }
        let mut statuses = vec![false; 1000];
        for (i, spec) in f.statuses.iter().enumerate() {
            let range = parse_status(spec).ok_or_else(|| {
                bad(format!(
                    "filters.statuses[{i}]: {spec:?} is neither a status (\"200\") nor a class (\"2xx\")"
                ))
            })?;
            for code in range {
                statuses[code] = true;
            }
        }
        // isbot panics on a bad pattern, so each one is checked here first.
        for (i, pattern) in f.bot_patterns.iter().enumerate() {
            if let Err(err) = regex::Regex::new(&pattern.to_ascii_lowercase()) {
                return Err(bad(format!("filters.bot_patterns[{i}]: {err}")).into());
            }
        }
        let filters = Filters {
            exclude_bots: f.exclude_bots,
            bot_patterns: f.bot_patterns,
            ignore_ips,
            methods: f.methods.iter().map(|m| m.to_ascii_uppercase()).collect(),
            statuses,
            static_extensions: f
                .static_extensions
                .iter()
                .map(|e| e.trim_start_matches('.').to_ascii_lowercase())
                .collect(),
        };

        let e = raw.events;
        let store = match e.store.trim() {
            "" | "file" => EventStoreKind::File,
            url if url.starts_with("redis://")
                || url.starts_with("rediss://")
                || url.starts_with("redis+unix://") =>
            {
                EventStoreKind::Redis(url.to_string())
            }
            other => {
                return Err(bad(format!(
                    "events.store: {:?} is neither \"file\" nor a redis:// URL",
                    redact(other)
                ))
                .into());
            }
        };
        if e.retention_days == 0 {
            return Err(bad("events.retention_days: must be at least 1".to_string()).into());
        }
        let events = Events {
            store,
            prefix: e.prefix,
            retention_days: e.retention_days,
        };

        let alerts = validate_alerts(raw.alerts, &bad)?;
        let smtp = match raw.smtp {
            Some(smtp) => Some(validate_smtp(smtp, &resolve, &bad)?),
            None => None,
        };
        if smtp.is_some() && alerts.to.is_empty() {
            return Err(bad(
                "alerts.to: [smtp] is configured but no recipient is (to = [\"you@example.com\"])"
                    .to_string(),
            )
            .into());
        }

        let retention = raw.retention;
        if retention.archive_days < retention.max_age_days {
            return Err(bad(format!(
                "retention.archive_days ({}) is shorter than retention.max_age_days ({}): \
                 archives would be deleted before they are made",
                retention.archive_days, retention.max_age_days
            ))
            .into());
        }

        if raw.metrics.currency.trim().is_empty()
            || raw.metrics.infra_cost_per_month.is_sign_negative()
        {
            return Err(bad(
                "metrics: currency must be named and infra_cost_per_month not negative".into(),
            )
            .into());
        }

        Ok(Config {
            alerts,
            retention,
            metrics: raw.metrics,
            smtp,
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
        })
    }
}

fn validate_alerts(a: RawAlerts, bad: &dyn Fn(String) -> Fatal) -> Result<Alerts> {
    let mailbox = |key: String, text: &str| -> Result<()> {
        text.parse::<lettre::message::Mailbox>()
            .map(|_| ())
            .map_err(|err| bad(format!("{key}: {text:?} is not a mail address ({err})")).into())
    };
    mailbox("alerts.from".into(), &a.from)?;
    for (i, to) in a.to.iter().enumerate() {
        mailbox(format!("alerts.to[{i}]"), to)?;
    }
    if a.max_emails_per_hour == 0 {
        return Err(bad(
            "alerts.max_emails_per_hour: must be at least 1 (alerts are never dropped, so 0 \
             would keep them pending forever)"
                .into(),
        )
        .into());
    }
    let r = a.rules;
    for (key, percent) in [
        ("alerts.rules.error_rate.percent", r.error_rate.percent),
        (
            "alerts.rules.conversion_rate.percent",
            r.conversion_rate.percent,
        ),
    ] {
        if !(0.0..=100.0).contains(&percent) {
            return Err(bad(format!("{key}: {percent} is not a percentage (0 to 100)")).into());
        }
    }
    if r.error_rate.window_minutes == 0 || r.conversion_rate.days == 0 || r.silence.hours == 0 {
        return Err(
            bad("alerts.rules: window_minutes, days and hours must be at least 1".into()).into(),
        );
    }
    Ok(Alerts {
        from: a.from,
        to: a.to,
        dedup_hours: a.dedup_hours,
        cooldown_hours: a.cooldown_hours,
        resolved_notices: a.resolved_notices,
        max_emails_per_hour: a.max_emails_per_hour,
        lead_max_age_hours: a.lead_max_age_hours,
        score: crate::alerts::journey::ScoreWeights {
            very_hot: a.score.very_hot,
            hot: a.score.hot,
            warm: a.score.warm,
            repeat_visit: a.score.repeat_visit,
        },
        rules: Rules {
            error_rate: r.error_rate.enabled.then_some(r.error_rate),
            conversion_rate: r.conversion_rate.enabled.then_some(r.conversion_rate),
            api_cost: r.api_cost.enabled.then_some(r.api_cost),
            silence: r.silence.enabled.then_some(r.silence),
        },
    })
}

fn validate_smtp(
    s: RawSmtp,
    resolve: &dyn Fn(&Path) -> PathBuf,
    bad: &dyn Fn(String) -> Fatal,
) -> Result<Smtp> {
    if s.host.trim().is_empty() {
        return Err(bad("smtp.host: must not be empty".into()).into());
    }
    let loopback =
        s.host == "localhost" || s.host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if s.security == SmtpSecurity::None && !loopback {
        return Err(bad(format!(
            "smtp.security: \"none\" sends the password and the leads in clear text, so it is \
             only allowed to a loopback relay, not to {:?}; use \"starttls\" or \"tls\"",
            s.host
        ))
        .into());
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

/// A URL with any password replaced, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

/// An address or a CIDR; a bare address is a /32 or /128.
pub fn parse_net(spec: &str) -> Option<IpNet> {
    let spec = spec.trim();
    if let Ok(net) = spec.parse::<IpNet>() {
        return Some(net.trunc());
    }
    spec.parse::<IpAddr>().ok().map(IpNet::from)
}

fn parse_status(spec: &str) -> Option<std::ops::Range<usize>> {
    let spec = spec.trim();
    if let Some(class) = spec.strip_suffix("xx").or_else(|| spec.strip_suffix("XX")) {
        let c: usize = class.parse().ok().filter(|c| (1..=5).contains(c))?;
        return Some(c * 100..c * 100 + 100);
    }
    let code: usize = spec.parse().ok().filter(|c| (100..=599).contains(c))?;
    Some(code..code + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::Status;

    fn parse(text: &str) -> Result<Config> {
        Config::parse(Path::new("/etc/arkwatch/arkwatch.toml"), text)
    }

    fn message(text: &str) -> String {
        let err = parse(text).unwrap_err();
        assert_eq!(Status::for_error(&err), Status::Config);
        format!("{err:#}")
    }

    #[test]
    fn minimal_config_gets_defaults() {
        let c = parse("data_dir = \"data\"\n").unwrap();
        assert_eq!(c.data_dir, Path::new("/etc/arkwatch/data"));
        assert_eq!(c.timezone, chrono_tz::UTC);
        assert_eq!(c.pages[0], ("/pricing".to_string(), PageTier::Hot));
        assert!(c.filters.statuses[200] && c.filters.statuses[304] && !c.filters.statuses[404]);
        assert_eq!(c.filters.methods, ["GET"]);
    }

    #[test]
    fn errors_name_file_and_key() {
        let msg = message("data_dir = \"d\"\ntimezone = \"Europe/Berln\"\n");
        assert!(msg.contains("/etc/arkwatch/arkwatch.toml"), "{msg}");
        assert!(msg.contains("timezone"), "{msg}");

        let msg =
            message("data_dir = \"d\"\n[filters]\nignore_ips = [\"10.0.0.1\", \"300.1.1.1\"]\n");
        assert!(msg.contains("filters.ignore_ips[1]"), "{msg}");

        let msg =
            message("data_dir = \"d\"\n[[access_log]]\npath = \"a\"\nformat = \"$remote_addr\"\n");
        assert!(msg.contains("access_log[0].format"), "{msg}");

        let msg = message("data_dir = \"d\"\ntypo_key = 1\n");
        assert!(msg.contains("typo_key"), "{msg}");

        let msg = message("data_dir = \"d\"\n[pages]\n\"/x\" = \"scorching\"\n");
        assert!(msg.contains("scorching"), "{msg}");

        let msg = message("data_dir = \"d\"\n[filters]\nstatuses = [\"2xx\", \"7xx\"]\n");
        assert!(msg.contains("filters.statuses[1]"), "{msg}");
    }

    #[test]
    fn ignore_ips_accepts_v4_v6_and_cidrs() {
        let c = parse(
            "data_dir = \"d\"\n[filters]\nignore_ips = [\"203.0.113.7\", \"10.0.0.0/8\", \"2001:db8::/32\", \"::1\"]\n",
        )
        .unwrap();
        let nets = &c.filters.ignore_ips;
        assert!(
            nets.iter()
                .any(|n| n.contains(&"10.9.8.7".parse::<IpAddr>().unwrap()))
        );
        assert!(
            nets.iter()
                .any(|n| n.contains(&"2001:db8::5".parse::<IpAddr>().unwrap()))
        );
        assert!(
            !nets
                .iter()
                .any(|n| n.contains(&"203.0.113.8".parse::<IpAddr>().unwrap()))
        );
    }

    #[test]
    fn event_store_choice_and_no_password_in_errors() {
        let c = parse("data_dir = \"d\"\n").unwrap();
        assert_eq!(c.events.store, EventStoreKind::File);
        assert_eq!(
            (c.events.prefix.as_str(), c.events.retention_days),
            ("arkwatch:", 30)
        );
        let c =
            parse("data_dir = \"d\"\n[events]\nstore = \"redis://127.0.0.1:6379/2\"\n").unwrap();
        assert_eq!(
            c.events.store,
            EventStoreKind::Redis("redis://127.0.0.1:6379/2".into())
        );
        let msg = message("data_dir = \"d\"\n[events]\nstore = \"mysql://u:hunter2@db/x\"\n");
        assert!(
            msg.contains("events.store") && !msg.contains("hunter2"),
            "{msg}"
        );
    }

    #[test]
    fn alerts_and_smtp_defaults_and_errors() {
        let c = parse("data_dir = \"d\"\n").unwrap();
        assert!(c.smtp.is_none(), "no [smtp]: the outbox");
        assert_eq!(c.alerts.max_emails_per_hour, 1);
        assert_eq!(c.alerts.rules.error_rate, Some(ErrorRateRule::default()));
        assert_eq!(
            c.alerts.rules.api_cost.unwrap().per_day,
            rust_decimal::Decimal::new(5, 0)
        );

        let c = parse(
            "data_dir = \"d\"\n[alerts]\nto = [\"a@b.example\"]\n\
             [alerts.rules.silence]\nenabled = false\n[alerts.rules.api_cost]\nper_day = \"20.50\"\n\
             [smtp]\nhost = \"smtp.b.example\"\nsecurity = \"tls\"\nusername = \"u\"\n",
        )
        .unwrap();
        assert_eq!(c.alerts.rules.silence, None);
        assert_eq!(
            c.alerts.rules.api_cost.unwrap().per_day,
            rust_decimal::Decimal::new(2050, 2)
        );
        let smtp = c.smtp.unwrap();
        assert_eq!(
            (smtp.port, smtp.address()),
            (465, "smtps://smtp.b.example:465".into())
        );

        let msg = message(
            "data_dir = \"d\"\n[alerts]\nto = [\"a@b.example\"]\n[smtp]\nhost = \"mail.b.example\"\nsecurity = \"none\"\n",
        );
        assert!(
            msg.contains("smtp.security") && msg.contains("loopback"),
            "{msg}"
        );
        assert!(
            parse("data_dir = \"d\"\n[alerts]\nto = [\"a@b.example\"]\n[smtp]\nhost = \"127.0.0.1\"\nsecurity = \"none\"\n")
                .is_ok(),
            "plain to a local relay"
        );
        let msg = message("data_dir = \"d\"\n[smtp]\nhost = \"mail.b.example\"\n");
        assert!(msg.contains("alerts.to"), "{msg}");
        let msg =
            message("data_dir = \"d\"\n[alerts]\nto = [\"a@b.example\", \"not an address\"]\n");
        assert!(msg.contains("alerts.to[1]"), "{msg}");
        let msg = message("data_dir = \"d\"\n[alerts]\nmax_emails_per_hour = 0\n");
        assert!(msg.contains("alerts.max_emails_per_hour"), "{msg}");
        let msg = message("data_dir = \"d\"\n[alerts.rules.error_rate]\npercent = 150\n");
        assert!(msg.contains("alerts.rules.error_rate.percent"), "{msg}");
        let msg = message("data_dir = \"d\"\n[alerts.rules.error_rate]\nprecent = 5\n");
        assert!(msg.contains("precent"), "a typo is an error: {msg}");
    }

    #[test]
    fn pages_longest_prefix_first() {
        let c = parse("data_dir = \"d\"\n[pages]\n\"/p\" = \"warm\"\n\"/pricing/enterprise\" = \"very_hot\"\n").unwrap();
        assert_eq!(c.pages[0].0, "/pricing/enterprise");
    }
}
