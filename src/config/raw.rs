//! The configuration file as TOML gives it: every key with its default, before validation. Each
//! section's raw form lives with the section; this composes them. Unknown keys are errors
//! (`deny_unknown_fields`), so a typo never passes silently.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::alerts::RawAlerts;
use super::channels::RawChannel;
use super::events::RawEvents;
use super::filters::{RawAccessLog, RawFilters};
use super::geo::RawGeo;
use super::sections::{Dashboard, LeadsConfig, MetricsConfig, Retention};
use super::smtp::RawSmtp;
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
    pub geo: RawGeo,
    #[serde(default)]
    pub events: RawEvents,
    #[serde(default)]
    pub alerts: RawAlerts,
    #[serde(default)]
    pub retention: Retention,
    #[serde(default)]
    pub metrics: MetricsConfig,
    #[serde(default)]
    pub dashboard: Dashboard,
    #[serde(default)]
    pub leads: LeadsConfig,
    pub smtp: Option<RawSmtp>,
    #[serde(default)]
    pub channel: Vec<RawChannel>,
}

fn default_site_name() -> String {
    "ArkWatch".to_string()
}
fn default_timezone() -> String {
    "UTC".to_string()
}
