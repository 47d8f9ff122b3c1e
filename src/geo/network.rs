//! The `network` verdict of a lead: what kind of network its address is on, from the AS number
//! and organisation (the databases) and the PTR name (reverse DNS), with the rule that decided
//! it. The rules, first match wins, are the README's ("What kind of network").

use serde::{Deserialize, Serialize};

/// What kind of network an address is on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Network {
    Residential,
    Hosting,
    Company,
    University,
    Mobile,
    #[default]
    Unknown,
}

impl Network {
    pub fn words(self) -> &'static str {
        match self {
            Network::Residential => "residential ISP",
            Network::Hosting => "hosting/datacenter",
            Network::Company => "company",
            Network::University => "university",
            Network::Mobile => "mobile carrier",
            Network::Unknown => "unknown",
        }
    }
}

/// Hosting and datacenter networks: the clouds, VPS and dedicated-server providers whose
/// addresses people do not browse from (a visitor there is a script, a proxy or a VPN).
pub const HOSTING_ASNS: &[(u32, &str)] = &[
    (13335, "Cloudflare"),
    (14061, "DigitalOcean"),
    (14618, "Amazon AWS"),
    (16276, "OVH"),
    (16509, "Amazon AWS"),
    (8075, "Microsoft Azure"),
    (396_982, "Google Cloud"),
    (19527, "Google Cloud"),
    (24940, "Hetzner"),
    (213_230, "Hetzner Cloud"),
    (63949, "Akamai Linode"),
    (20473, "Vultr (Choopa)"),
    (31898, "Oracle Cloud"),
    (45102, "Alibaba Cloud"),
    (37963, "Alibaba Cloud"),
    (132_203, "Tencent Cloud"),
    (45090, "Tencent Cloud"),
    (12876, "Scaleway"),
    (51167, "Contabo"),
    (60781, "Leaseweb"),
    (28753, "Leaseweb"),
    (36352, "ColoCrossing"),
    (46606, "Unified Layer"),
    (26496, "GoDaddy"),
    (53667, "FranTech (BuyVM)"),
    (9009, "M247"),
    (202_425, "IP Volume"),
    (197_540, "netcup"),
    (8560, "IONOS"),
    (62567, "DigitalOcean"),
    (40021, "Contabo US"),
    (135_377, "UCloud"),
    (55286, "ServerMania"),
    (30633, "Leaseweb USA"),
    (7941, "Internet Archive"),
];

const HOSTING_WORDS: &[&str] = &[
    "hosting",
    "datacenter",
    "data center",
    "data centre",
    "cloud",
    "server",
    "vps",
    "colocation",
    "dedicated",
];
const UNIVERSITY_WORDS: &[&str] = &[
    "universit",
    "college",
    "school",
    "academ",
    "institute of technology",
    "research and education",
    "education network",
    "hochschule",
    "école",
];
const MOBILE_WORDS: &[&str] = &["mobile", "wireless", "cellular", "mobil ", "lte", "5g"];
const ISP_WORDS: &[&str] = &[
    "telecom",
    "telekom",
    "telecommunication",
    "communications",
    "broadband",
    "cable",
    "kabel",
    "fiber",
    "fibre",
    "internet service",
    " isp",
    "comcast",
    "charter",
    "verizon",
    "at&t",
    "telefonica",
    "orange",
    "vodafone",
    "british telecommunications",
    "free sas",
    "proximus",
    "swisscom",
    "telstra",
];
/// Labels of PTR names that ISPs give their subscribers' lines.
const RESIDENTIAL_LABELS: &[&str] = &[
    "dsl",
    "adsl",
    "vdsl",
    "xdsl",
    "dyn",
    "dynamic",
    "dynamicip",
    "pool",
    "dhcp",
    "cable",
    "broadband",
    "cust",
    "customer",
    "customers",
    "res",
    "residential",
    "ftth",
    "fttx",
    "fiber",
    "pppoe",
    "dialup",
    "home",
    "user",
    "subscriber",
    "bb",
    "cpe",
];

/// The verdict and the rule that decided it.
pub fn verdict(
    ip: std::net::IpAddr,
    asn: Option<u32>,
    organisation: Option<&str>,
    ptr: Option<&str>,
    domain: Option<&str>,
    extra_hosting: &[u32],
) -> (Network, String) {
    let org = organisation.map(str::to_lowercase).unwrap_or_default();
    let as_name = match (asn, organisation) {
        (Some(n), Some(o)) => format!("AS{n} {o}"),
        (Some(n), None) => format!("AS{n}"),
        (None, Some(o)) => o.to_string(),
        (None, None) => String::new(),
    };
    if let Some(n) = asn {
        if let Some((_, who)) = HOSTING_ASNS.iter().find(|(a, _)| *a == n) {
            return (
                Network::Hosting,
                format!("AS{n} ({who}) is in the hosting list"),
            );
        }
        if extra_hosting.contains(&n) {
            return (Network::Hosting, format!("AS{n} is in geo.hosting_asns"));
        }
    }
    let has = |words: &[&'static str]| -> Option<&'static str> {
        words.iter().find(|w| org.contains(**w)).copied()
    };
    if let Some(w) = has(HOSTING_WORDS) {
        return (Network::Hosting, format!("{as_name}: the name says {w:?}"));
    }
    let suffix_edu = domain.is_some_and(|d| {
        let labels: Vec<&str> = d.split('.').collect();
        labels.last() == Some(&"edu")
            || labels
                .iter()
                .rev()
                .skip(1)
                .take(1)
                .any(|l| *l == "ac" || *l == "edu")
    });
    if let Some(w) = has(UNIVERSITY_WORDS) {
        return (
            Network::University,
            format!("{as_name}: the name says {w:?}"),
        );
    }
    if suffix_edu {
        let d = domain.unwrap_or_default();
        return (
            Network::University,
            format!("{d} is under an academic suffix"),
        );
    }
    if let Some(w) = has(MOBILE_WORDS) {
        return (Network::Mobile, format!("{as_name}: the name says {w:?}"));
    }
    if let Some(p) = ptr
        && let Some(why) = residential_name(ip, p)
    {
        return (Network::Residential, format!("the PTR name {p} {why}"));
    }
    if let Some(w) = has(ISP_WORDS) {
        return (
            Network::Residential,
            format!("{as_name}: the name says {:?}", w.trim()),
        );
    }
    if !as_name.is_empty() {
        return (
            Network::Company,
            format!("{as_name} is no hosting, academic, mobile or ISP network"),
        );
    }
    if let Some(d) = domain {
        return (
            Network::Company,
            format!("{d} names the address and is no ISP's line"),
        );
    }
    (
        Network::Unknown,
        "no database or PTR name knows the address".into(),
    )
}

/// Why a PTR name is a subscriber line's: it spells the address, or has a label ISPs use.
fn residential_name(ip: std::net::IpAddr, ptr: &str) -> Option<String> {
    if let std::net::IpAddr::V4(v4) = ip {
        let o = v4.octets();
        for sep in ['-', '.', '_'] {
            let forward = format!("{}{sep}{}{sep}{}{sep}{}", o[0], o[1], o[2], o[3]);
            let back = format!("{}{sep}{}{sep}{}{sep}{}", o[3], o[2], o[1], o[0]);
            if ptr.contains(&forward) || ptr.contains(&back) {
                return Some("spells the address".into());
            }
        }
    }
    let labels = ptr.split(['.', '-']);
    for label in labels {
        let word = label.trim_end_matches(|c: char| c.is_ascii_digit());
        if RESIDENTIAL_LABELS.contains(&word) {
            return Some(format!("has the subscriber label {word:?}"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(asn: Option<u32>, org: Option<&str>, ptr: Option<&str>, domain: Option<&str>) -> Network {
        verdict(
            "203.0.113.45".parse().unwrap(),
            asn,
            org,
            ptr,
            domain,
            &[64999],
        )
        .0
    }

    #[test]
    fn each_rule_decides_its_kind() {
        assert_eq!(
            v(Some(16509), Some("AMAZON-02"), None, None),
            Network::Hosting
        );
        assert_eq!(v(Some(64999), Some("Tiny"), None, None), Network::Hosting);
        assert_eq!(
            v(Some(64501), Some("Example Hosting Ltd"), None, None),
            Network::Hosting
        );
        assert_eq!(
            v(Some(64502), Some("Example State University"), None, None),
            Network::University
        );
        assert_eq!(
            v(None, None, Some("ws1.cs.ox.ac.uk"), Some("ox.ac.uk")),
            Network::University
        );
        assert_eq!(
            v(Some(64503), Some("Example Mobile GmbH"), None, None),
            Network::Mobile
        );
        assert_eq!(
            v(
                Some(64504),
                Some("EXAMPLE-AS"),
                Some("203-0-113-45.example.net"),
                Some("example.net")
            ),
            Network::Residential
        );
        assert_eq!(
            v(
                Some(64504),
                Some("EXAMPLE-AS"),
                Some("dsl7.example.net"),
                Some("example.net")
            ),
            Network::Residential
        );
        assert_eq!(
            v(Some(64505), Some("Example Telecom"), None, None),
            Network::Residential
        );
        assert_eq!(
            v(
                Some(64500),
                Some("ACME-NET"),
                Some("mail.acme-corp.com"),
                Some("acme-corp.com")
            ),
            Network::Company
        );
        assert_eq!(v(None, None, None, None), Network::Unknown);
    }
}
