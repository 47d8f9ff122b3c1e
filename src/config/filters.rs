//! `[[access_log]]`, `[pages]` and `[filters]`: which logs are read, which pages are buying
//! signals, and which requests count as a visit.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde::Deserialize;

use super::Bad;
use crate::log_format::{Field, LogFormat};
use crate::page_tier::PageTier;

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
    /// A User-Agent without any mark of a browser is a bot.
    pub not_a_browser: bool,
    pub ignore_ips: Vec<IpNet>,
    /// Leads from these networks never alert (looked up for leads only).
    pub ignore_networks: Vec<super::IgnoredNetwork>,
    pub methods: Vec<String>,
    /// Indexed by status code (0..=999): whether it counts as a visit.
    pub statuses: Vec<bool>,
    pub static_extensions: Vec<String>,
    pub behaviour: Behaviour,
}

/// The behaviour layer (`[filters.behaviour]`): what a visitor (address and User-Agent) does
/// in one local day that no person does. A rule set to 0 is off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Behaviour {
    pub enabled: bool,
    /// Fetching `/robots.txt`: only crawlers read it.
    pub robots_txt: bool,
    /// At least this many `HEAD`s and no other request: a monitor.
    pub head_only: u32,
    /// At least this many pageviews and not one asset (`static_extensions`).
    pub pages_without_assets: u32,
    /// More pageviews per hour of a session than this (a session shorter than an hour counts
    /// as one hour, so a short burst is its pageview count).
    pub max_pages_per_hour: u32,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            enabled: true,
            robots_txt: true,
            head_only: 3,
            pages_without_assets: 30,
            max_pages_per_hour: 120,
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

pub fn default_pages() -> Vec<(String, PageTier)> {
    vec![
        ("/pricing".to_string(), PageTier::Hot),
        ("/trial".to_string(), PageTier::VeryHot),
        ("/demo".to_string(), PageTier::Warm),
    ]
}

pub(super) fn access_logs(
    raw: &[RawAccessLog],
    resolve: &dyn Fn(&Path) -> PathBuf,
    bad: &Bad<'_>,
) -> anyhow::Result<Vec<AccessLog>> {
    let mut logs = Vec::new();
    for (i, log) in raw.iter().enumerate() {
        let format = LogFormat::compile(&log.format)
            .map_err(|err| bad.at(&format!("access_log[{i}].format"), err.to_string()))?;
        if log.client_ip == ClientIp::XForwardedFor && !format.has(Field::HttpXForwardedFor) {
            return Err(bad.at(
                &format!("access_log[{i}].client_ip"),
                "\"x_forwarded_for\" needs $http_x_forwarded_for in the format",
            ));
        }
        let path = resolve(&log.path);
        if logs.iter().any(|l: &AccessLog| l.path == path) {
            return Err(bad.at(
                &format!("access_log[{i}].path"),
                format!("{} is configured twice", path.display()),
            ));
        }
        logs.push(AccessLog {
            path,
            format,
            client_ip: log.client_ip,
        });
    }
    Ok(logs)
}

/// Tracked prefixes, longest first. `/pricing` and `/pricing/` are one prefix (both match the
/// page and everything under it), so naming both is an error rather than a silent choice.
pub(super) fn pages(
    raw: Option<BTreeMap<String, PageTier>>,
    bad: &Bad<'_>,
) -> anyhow::Result<Vec<(String, PageTier)>> {
    let Some(map) = raw else {
        return Ok(default_pages());
    };
    let mut pages: Vec<(String, PageTier)> = Vec::new();
    for (prefix, tier) in map {
        if !prefix.starts_with('/') {
            return Err(bad.at(
                "pages",
                format!("{prefix:?} must be a path starting with '/'"),
            ));
        }
        let bare = |p: &str| p.trim_end_matches('/').to_string();
        if let Some((other, _)) = pages.iter().find(|(p, _)| bare(p) == bare(&prefix)) {
            return Err(bad.at(
                "pages",
                format!(
                    "{other:?} and {prefix:?} name the same pages (a prefix matches the page \
                     and everything under it); keep one"
                ),
            ));
        }
        pages.push((prefix, tier));
    }
    pages.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
    Ok(pages)
}

pub(super) fn filters(f: RawFilters, bad: &Bad<'_>) -> anyhow::Result<Filters> {
    let mut ignore_ips = Vec::new();
    for (i, spec) in f.ignore_ips.iter().enumerate() {
        let net = crate::net::parse_net(spec).ok_or_else(|| {
            bad.at(
                &format!("filters.ignore_ips[{i}]"),
                format!("{spec:?} is not an IP address or CIDR"),
            )
        })?;
        ignore_ips.push(net);
    }
    let mut statuses = vec![false; 1000];
    for (i, spec) in f.statuses.iter().enumerate() {
        let range = parse_status(spec).ok_or_else(|| {
            bad.at(
                &format!("filters.statuses[{i}]"),
                format!("{spec:?} is neither a status (\"200\") nor a class (\"2xx\")"),
            )
        })?;
        for code in range {
            statuses[code] = true;
        }
    }
    // isbot panics on a bad pattern, so each one is checked here first.
    for (i, pattern) in f.bot_patterns.iter().enumerate() {
        if let Err(err) = regex::Regex::new(&pattern.to_ascii_lowercase()) {
            return Err(bad.at(&format!("filters.bot_patterns[{i}]"), err.to_string()));
        }
    }
    Ok(Filters {
        exclude_bots: f.exclude_bots,
        bot_patterns: f.bot_patterns,
        not_a_browser: f.not_a_browser,
        ignore_ips,
        ignore_networks: super::geo::ignore_networks(&f.ignore_networks, bad)?,
        methods: f.methods.iter().map(|m| m.to_ascii_uppercase()).collect(),
        statuses,
        static_extensions: f
            .static_extensions
            .iter()
            .map(|e| e.trim_start_matches('.').to_ascii_lowercase())
            .collect(),
        behaviour: f.behaviour,
    })
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

/// The section as TOML gives it, with its defaults.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAccessLog {
    pub path: PathBuf,
    #[serde(default = "default_format")]
    pub format: String,
    #[serde(default)]
    pub client_ip: ClientIp,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawFilters {
    pub exclude_bots: bool,
    pub bot_patterns: Vec<String>,
    pub not_a_browser: bool,
    pub ignore_ips: Vec<String>,
    pub ignore_networks: Vec<super::geo::NetworkName>,
    pub methods: Vec<String>,
    pub statuses: Vec<String>,
    pub static_extensions: Vec<String>,
    pub behaviour: Behaviour,
}

impl Default for RawFilters {
    fn default() -> Self {
        RawFilters {
            exclude_bots: true,
            bot_patterns: Vec::new(),
            not_a_browser: true,
            ignore_ips: Vec::new(),
            ignore_networks: Vec::new(),
            methods: vec!["GET".into()],
            statuses: vec!["2xx".into(), "3xx".into()],
            static_extensions: DEFAULT_STATIC_EXTENSIONS
                .iter()
                .map(ToString::to_string)
                .collect(),
            behaviour: Behaviour::default(),
        }
    }
}

fn default_format() -> String {
    "combined".to_string()
}
