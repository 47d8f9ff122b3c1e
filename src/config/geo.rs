//! `[geo]` and `filters.ignore_networks`: the offline databases and the reverse DNS that name a
//! lead's country, network and company, and the networks whose visitors never alert.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::Bad;

/// The validated `[geo]` section. Nothing is looked up unless a database or `reverse_dns` is set.
#[derive(Clone, Debug, Default)]
pub struct Geo {
    pub country_db: Option<PathBuf>,
    pub city_db: Option<PathBuf>,
    pub asn_db: Option<PathBuf>,
    pub reverse_dns: bool,
    /// What every reverse lookup of one run may cost together.
    pub dns_timeout_ms: u64,
    /// None: the first `nameserver` of `/etc/resolv.conf`.
    pub nameserver: Option<SocketAddr>,
    /// Added to the built-in list of hosting and datacenter networks.
    pub hosting_asns: Vec<u32>,
    /// Taken off the score of a lead from a hosting network.
    pub hosting_penalty: u32,
}

impl Geo {
    pub fn has_database(&self) -> bool {
        self.country_db.is_some() || self.city_db.is_some() || self.asn_db.is_some()
    }

    /// Whether any lookup is configured.
    pub fn enabled(&self) -> bool {
        self.has_database() || self.reverse_dns
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawGeo {
    pub country_db: Option<PathBuf>,
    pub city_db: Option<PathBuf>,
    pub asn_db: Option<PathBuf>,
    pub reverse_dns: bool,
    pub dns_timeout_ms: u64,
    pub nameserver: Option<String>,
    pub hosting_asns: Vec<NetworkName>,
    pub hosting_penalty: u32,
}

impl Default for RawGeo {
    fn default() -> Self {
        RawGeo {
            country_db: None,
            city_db: None,
            asn_db: None,
            reverse_dns: false,
            dns_timeout_ms: 300,
            nameserver: None,
            hosting_asns: Vec::new(),
            hosting_penalty: 20,
        }
    }
}

/// A network as `ignore_networks` names it: an AS number (`64500` or `"AS64500"`), or words of
/// its organisation's name (`"Pingdom"`, matched case-insensitively anywhere in the name).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum NetworkName {
    Asn(u32),
    Text(String),
}

/// A validated `ignore_networks` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IgnoredNetwork {
    Asn(u32),
    /// Lower case.
    Organisation(String),
}

impl IgnoredNetwork {
    pub fn matches(&self, asn: Option<u32>, organisation: Option<&str>) -> bool {
        match self {
            IgnoredNetwork::Asn(n) => asn == Some(*n),
            IgnoredNetwork::Organisation(words) => {
                organisation.is_some_and(|o| o.to_lowercase().contains(words.as_str()))
            }
        }
    }
}

/// `AS64500`, `as64500` or `64500`.
fn asn_of(text: &str) -> Option<u32> {
    let t = text.trim();
    let digits = t
        .strip_prefix("AS")
        .or_else(|| t.strip_prefix("as"))
        .unwrap_or(t);
    digits.parse().ok()
}

pub(super) fn ignore_networks(
    raw: &[NetworkName],
    bad: &Bad<'_>,
) -> anyhow::Result<Vec<IgnoredNetwork>> {
    raw.iter()
        .enumerate()
        .map(|(i, name)| match name {
            NetworkName::Asn(n) => Ok(IgnoredNetwork::Asn(*n)),
            NetworkName::Text(t) => match asn_of(t) {
                Some(n) => Ok(IgnoredNetwork::Asn(n)),
                None if t.trim().is_empty() => Err(bad.at(
                    &format!("filters.ignore_networks[{i}]"),
                    "an empty name would match every network",
                )),
                None => Ok(IgnoredNetwork::Organisation(t.trim().to_lowercase())),
            },
        })
        .collect()
}

pub(super) fn validate(
    raw: RawGeo,
    resolve: &dyn Fn(&Path) -> PathBuf,
    bad: &Bad<'_>,
) -> anyhow::Result<Geo> {
    let nameserver = match raw.nameserver.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(spec) => Some(
            spec.parse::<SocketAddr>()
                .or_else(|_| {
                    spec.parse::<std::net::IpAddr>()
                        .map(|ip| SocketAddr::new(ip, 53))
                })
                .map_err(|_| {
                    bad.at(
                        "geo.nameserver",
                        format!(
                            "{spec:?} is not an address (\"192.0.2.53\", \"127.0.0.1:5353\" or \
                             \"[2001:db8::53]:53\")"
                        ),
                    )
                })?,
        ),
    };
    if raw.dns_timeout_ms == 0 || raw.dns_timeout_ms > 10_000 {
        return Err(bad.at(
            "geo.dns_timeout_ms",
            "must be between 1 and 10000 (it bounds what a run spends on reverse DNS)",
        ));
    }
    let mut hosting_asns = Vec::new();
    for (i, name) in raw.hosting_asns.iter().enumerate() {
        let asn = match name {
            NetworkName::Asn(n) => Some(*n),
            NetworkName::Text(t) => asn_of(t),
        };
        hosting_asns.push(asn.ok_or_else(|| {
            bad.at(
                &format!("geo.hosting_asns[{i}]"),
                "must be an AS number (16509 or \"AS16509\")",
            )
        })?);
    }
    let path = |p: Option<PathBuf>| p.filter(|p| !p.as_os_str().is_empty()).map(|p| resolve(&p));
    Ok(Geo {
        country_db: path(raw.country_db),
        city_db: path(raw.city_db),
        asn_db: path(raw.asn_db),
        reverse_dns: raw.reverse_dns,
        dns_timeout_ms: raw.dns_timeout_ms,
        nameserver,
        hosting_asns,
        hosting_penalty: raw.hosting_penalty,
    })
}

/// `ignore_networks` needs a database that names networks.
pub(super) fn check_ignore_networks(
    filters: &super::Filters,
    geo: &Geo,
    bad: &Bad<'_>,
) -> anyhow::Result<()> {
    if !filters.ignore_networks.is_empty() && !geo.has_database() {
        return Err(bad.at(
            "filters.ignore_networks",
            "needs a database that knows networks: set geo.asn_db (GeoLite2-ASN, DB-IP ASN \
             Lite) or a geo.country_db with AS fields (IPinfo Lite)",
        ));
    }
    Ok(())
}
