//! The configuration file as TOML gives it: every key with its default, before validation.
//! Unknown keys are errors (`deny_unknown_fields`), so a typo never passes silently.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::alerts::{ApiCostRule, ConversionRateRule, ErrorRateRule, ScoreWeights, SilenceRule};
use super::filters::{ClientIp, DEFAULT_STATIC_EXTENSIONS};
use super::sections::{MetricsConfig, Retention};
use super::smtp::SmtpSecurity;
use crate::page_tier::PageTier;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub data_dir: PathBuf,
    #[serde(default = "default_site_name")]
    pub site_name: String,
    #[serde(default = "default_timezone")]
    pub timezone: String,
    #[serde(default)]
    pub site_hosts: Vec<String>,
    #[serde(default)]
    pub access_log: Vec<RawAccessLog>,
    pub pages: Option<BTreeMap<String, PageTier>>,
    #[serde(default)]
    pub filters: RawFilters,
    #[serde(default)]
    pub events: RawEvents,
    #[serde(default)]
    pub alerts: RawAlerts,
    #[serde(default)]
    pub retention: Retention,
    #[serde(default)]
    pub metrics: MetricsConfig,
    pub smtp: Option<RawSmtp>,
}

fn default_site_name() -> String {
    "ArkWatch".to_string()
}
fn default_timezone() -> String {
    "UTC".to_string()
}
fn default_format() -> String {
    "combined".to_string()
}

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
    pub ignore_ips: Vec<String>,
    pub methods: Vec<String>,
    pub statuses: Vec<String>,
    pub static_extensions: Vec<String>,
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
                .map(ToString::to_string)
                .collect(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawEvents {
    pub store: String,
    pub prefix: String,
    pub retention_days: u32,
    pub file: Option<PathBuf>,
}

impl Default for RawEvents {
    fn default() -> Self {
        RawEvents {
            store: "file".into(),
            prefix: "arkwatch:".into(),
            retention_days: 30,
            file: None,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawAlerts {
    pub from: String,
    pub to: Vec<String>,
    pub dedup_hours: u32,
    pub cooldown_hours: u32,
    pub resolved_notices: bool,
    pub max_emails_per_hour: u32,
    pub lead_max_age_hours: u32,
    pub score: ScoreWeights,
    pub rules: RawRules,
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
            score: ScoreWeights::default(),
            rules: RawRules::default(),
        }
    }
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawRules {
    pub error_rate: ErrorRateRule,
    pub conversion_rate: ConversionRateRule,
    pub api_cost: ApiCostRule,
    pub silence: SilenceRule,
}

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
