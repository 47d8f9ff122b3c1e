//! Who a lead is: country, city, network (AS number and organisation), PTR name and the
//! registrable domain under it, and the kind of network (`network`), from the offline MaxMind
//! DB files of `[geo]` and reverse DNS. Only leads are looked up, never every request, and no
//! address leaves the machine except as a PTR question to the configured name server.

pub mod cache;
pub mod dns;
pub mod mmdb;
pub mod network;

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

pub use cache::GeoCache;
pub use network::Network;

use crate::config::Geo;

/// What is known of a lead's address.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asn: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation: Option<String>,
    /// The PTR name of the address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ptr: Option<String>,
    /// The registrable domain (`acme-corp.com` of `mail.acme-corp.com`, by the Public Suffix
    /// List), or the network owner's domain from the database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    pub network: Network,
    /// Why `network` is what it is.
    pub network_rule: String,
}

impl Origin {
    /// A hosting or datacenter address: likely a script, a proxy or a VPN.
    pub fn likely_automated(&self) -> bool {
        self.network == Network::Hosting
    }

    /// `Acme Corp (acme-corp.com, AS64500, mail.acme-corp.com), Berlin, Germany`: the name, then
    /// its domain, AS number, PTR name and kind of network (unless a company), then the place;
    /// None when nothing is known.
    pub fn headline(&self) -> Option<String> {
        let mut inside = Vec::new();
        let name = match (&self.organisation, &self.domain) {
            (Some(org), domain) => {
                if let Some(d) = domain {
                    inside.push(d.clone());
                }
                Some(org.clone())
            }
            (None, Some(d)) => Some(d.clone()),
            (None, None) => self.ptr.clone(),
        };
        if let Some(asn) = self.asn {
            inside.push(format!("AS{asn}"));
        }
        if let Some(ptr) = &self.ptr
            && name.as_ref() != Some(ptr)
        {
            inside.push(ptr.clone());
        }
        if self.network != Network::Company && self.network != Network::Unknown {
            inside.push(self.network.words().to_string());
        }
        let mut out = match (name, inside.is_empty()) {
            (Some(n), true) => n,
            (Some(n), false) => format!("{n} ({})", inside.join(", ")),
            (None, false) => inside.join(", "),
            (None, true) => String::new(),
        };
        for place in [&self.city, &self.country].into_iter().flatten() {
            if !out.is_empty() {
                out.push_str(", ");
            }
            out.push_str(place);
        }
        (!out.is_empty()).then_some(out)
    }
}

/// `acme-corp.com` of `mail.acme-corp.com`; None for a public suffix itself or a bare label.
pub fn registrable_domain(name: &str) -> Option<String> {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let domain = psl::domain_str(&name)?;
    domain.contains('.').then(|| domain.to_string())
}

/// The lookups of one run: the databases opened once, the name server's budget, the cache.
pub struct Enricher<'a> {
    config: &'a Geo,
    databases: Vec<mmdb::Database>,
    resolver: Option<dns::Resolver>,
    cache: &'a mut GeoCache,
    day: NaiveDate,
    /// Problems met (a database that cannot be read, a name server that does not answer),
    /// each said once.
    pub problems: Vec<String>,
}

impl<'a> Enricher<'a> {
    /// Opens the databases, once per run (the caller checks that `[geo]` configures any
    /// lookup).
    pub fn open(config: &'a Geo, cache: &'a mut GeoCache, day: NaiveDate) -> Self {
        cache.retain(day);
        let databases = databases(config);
        let problems = databases
            .iter()
            .filter_map(|d| d.error().map(str::to_string))
            .collect();
        let resolver = config.reverse_dns.then(|| {
            dns::Resolver::new(
                config
                    .nameserver
                    .unwrap_or_else(dns::Resolver::system_nameserver),
                Duration::from_millis(config.dns_timeout_ms),
            )
        });
        Enricher {
            config,
            databases,
            resolver,
            cache,
            day,
            problems,
        }
    }

    /// The origins of `addresses`: from the cache, else looked up (reverse DNS for all of
    /// them in one go). An address is cached only when every configured lookup answered.
    /// Keyed by the addresses as given; an IPv4-mapped IPv6 address is looked up as the IPv4
    /// one (its PTR question is under `in-addr.arpa`).
    pub fn origins(&mut self, addresses: &[IpAddr]) -> HashMap<IpAddr, Origin> {
        let found = self.canonical_origins(addresses);
        addresses
            .iter()
            .filter_map(|ip| Some((*ip, found.get(&ip.to_canonical())?.clone())))
            .collect()
    }

    fn canonical_origins(&mut self, addresses: &[IpAddr]) -> HashMap<IpAddr, Origin> {
        let addresses: Vec<IpAddr> = addresses.iter().map(IpAddr::to_canonical).collect();
        let mut out = HashMap::new();
        let mut todo = Vec::new();
        for ip in &addresses {
            match self.cache.get(self.day, *ip) {
                Some(origin) => {
                    out.insert(*ip, origin.clone());
                }
                None if !todo.contains(ip) => todo.push(*ip),
                None => {}
            }
        }
        let names = match &mut self.resolver {
            Some(r) => {
                let names = r.lookup(&todo);
                if let Some(failure) = r.failure.take() {
                    self.problems.push(failure);
                }
                Some(names)
            }
            None => None,
        };
        for ip in todo {
            let mut found = mmdb::Found::default();
            for db in &self.databases {
                if let Err(err) = db.lookup(ip, &mut found)
                    && !self.problems.contains(&err)
                {
                    self.problems.push(err);
                }
            }
            let answer = names.as_ref().map(|n| n.get(&ip));
            let ptr = match answer {
                Some(Some(dns::Answer::Name(name))) => Some(name.clone()),
                _ => None,
            };
            let complete = !matches!(answer, Some(None));
            let domain = ptr
                .as_deref()
                .and_then(registrable_domain)
                .or(found.domain.clone());
            let (network, network_rule) = network::verdict(
                ip,
                found.asn,
                found.organisation.as_deref(),
                ptr.as_deref(),
                domain.as_deref(),
                &self.config.hosting_asns,
            );
            let origin = Origin {
                country: found.country,
                country_code: found.country_code,
                city: found.city,
                asn: found.asn,
                organisation: found.organisation,
                ptr,
                domain,
                network,
                network_rule,
            };
            if complete {
                self.cache.insert(self.day, ip, origin.clone());
            }
            out.insert(ip, origin);
        }
        out
    }
}

/// Every configured database's health, for `status`.
pub fn health(config: &Geo) -> Vec<mmdb::Health> {
    databases(config)
        .iter()
        .map(mmdb::Database::health)
        .collect()
}

/// Each configured database, opened, in the order their fields are preferred.
fn databases(config: &Geo) -> Vec<mmdb::Database> {
    [
        ("country", &config.country_db),
        ("city", &config.city_db),
        ("asn", &config.asn_db),
    ]
    .into_iter()
    .filter_map(|(role, path)| path.as_ref().map(|p| mmdb::Database::open(role, p)))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registrable_domains_follow_the_public_suffix_list() {
        assert_eq!(
            registrable_domain("mail.acme-corp.com").as_deref(),
            Some("acme-corp.com")
        );
        assert_eq!(
            registrable_domain("a.b.example.co.uk.").as_deref(),
            Some("example.co.uk")
        );
        assert_eq!(registrable_domain("co.uk"), None);
        assert_eq!(registrable_domain("localhost"), None);
    }

    #[test]
    fn a_headline_names_the_company_before_the_place() {
        let o = Origin {
            organisation: Some("ACME-NET".into()),
            domain: Some("acme-corp.com".into()),
            asn: Some(64500),
            city: Some("Berlin".into()),
            country: Some("Germany".into()),
            network: Network::Company,
            ..Origin::default()
        };
        assert_eq!(
            o.headline().unwrap(),
            "ACME-NET (acme-corp.com, AS64500), Berlin, Germany"
        );
        assert_eq!(Origin::default().headline(), None);
    }
}
