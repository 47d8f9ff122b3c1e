//! `[geo]` end to end through the real binary: leads named by country, city, network and
//! company from MaxMind DB files written at test time (GeoLite2 and IPinfo Lite layouts), PTR
//! names from a real `dnsmasq` on loopback, a hosting network marked and scored lower,
//! `ignore_networks`, and failure kept quiet and bounded (a missing or corrupt database, a name
//! server that is down or silent).

mod common;

use std::net::UdpSocket;
use std::path::Path;

use common::Site;
use common::geo::{self, Dnsmasq};
use serde_json::Value;

const NOW: &str = "2026-11-23T11:00:00Z";
const SAFARI: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15";

/// Acme's office (company), a French company on IPv6, an AWS address (hosting), a Japanese
/// address known only to the IPinfo Lite file, and an address in no range.
const ACME: &str = "203.0.113.45";
const EXEMPLE: &str = "2001:db8:acee::17";
const AWS: &str = "198.51.100.9";
const TOKYO: &str = "198.18.5.5";
const NOWHERE: &str = "192.0.2.200";

fn pricing(ip: &str, minute: u32) -> String {
    format!(
        "{ip} - - [23/Nov/2026:10:{minute:02}:00 +0000] \"GET /pricing HTTP/1.1\" 200 512 \
         \"https://www.linkedin.com/\" \"{SAFARI}\""
    )
}

/// Writes the three GeoLite2 files (and the IPinfo one) under `dir`.
fn databases(dir: &Path) {
    geo::country_db(
        &dir.join("country.mmdb"),
        &[
            ("203.0.113.0/24", "DE", "Germany"),
            ("2001:db8:acee::/48", "FR", "France"),
            ("198.51.100.0/24", "US", "United States"),
        ],
    );
    geo::city_db(
        &dir.join("city.mmdb"),
        &[
            ("203.0.113.0/24", "Berlin", "DE", "Germany"),
            ("2001:db8:acee::/48", "Lyon", "FR", "France"),
            ("198.51.100.0/24", "Ashburn", "US", "United States"),
        ],
    );
    geo::asn_db(
        &dir.join("asn.mmdb"),
        &[
            ("203.0.113.0/24", 64500, "ACME-NET"),
            ("2001:db8:acee::/48", 64501, "Exemple SARL"),
            ("198.51.100.0/24", 16509, "AMAZON-02"),
        ],
    );
}

fn site(extra: &str) -> Site {
    let site = Site::new(&format!("site_name = \"Acme\"\n{extra}"));
    databases(site.dir.path());
    site
}

fn scan(site: &Site) -> Value {
    let out = site
        .command()
        .env("ARKWATCH_NOW", NOW)
        .args(["scan", "--json"])
        .output()
        .unwrap();
    common::assert_success(&out);
    serde_json::from_slice(&out.stdout).unwrap()
}

fn lead<'a>(scan: &'a Value, ip: &str) -> &'a Value {
    scan["leads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["ip"] == ip)
        .unwrap_or_else(|| panic!("no lead {ip}: {scan:#}"))
}

/// The text part of the one alert message in the outbox.
fn digest(site: &Site) -> String {
    let dir = site.data.join("outbox");
    let mut texts = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "eml") {
            let raw = std::fs::read(&path).unwrap();
            let mail = mailparse::parse_mail(&raw).unwrap();
            let text = mail
                .subparts
                .iter()
                .find(|p| p.ctype.mimetype == "text/plain")
                .map_or_else(|| mail.get_body().unwrap(), |p| p.get_body().unwrap());
            texts.push(text);
        }
    }
    assert_eq!(texts.len(), 1, "one message: {texts:#?}");
    texts.remove(0)
}

const DATABASES: &str =
    "[geo]\ncountry_db = \"country.mmdb\"\ncity_db = \"city.mmdb\"\nasn_db = \"asn.mmdb\"\n";

#[test]
fn leads_are_named_field_by_field_from_the_databases() {
    let site = site(DATABASES);
    site.append(
        "access.log",
        &[
            pricing(ACME, 1),
            pricing(EXEMPLE, 2),
            pricing(AWS, 3),
            pricing(NOWHERE, 4),
        ],
    );
    let scan = scan(&site);
    assert_eq!(scan["leads"].as_array().unwrap().len(), 4, "{scan:#}");

    let acme = &lead(&scan, ACME)["origin"];
    assert_eq!(acme["country"], "Germany");
    assert_eq!(acme["country_code"], "DE");
    assert_eq!(acme["city"], "Berlin");
    assert_eq!(acme["asn"], 64500);
    assert_eq!(acme["organisation"], "ACME-NET");
    assert_eq!(acme["network"], "company");
    assert!(acme.get("ptr").is_none(), "no reverse DNS configured");

    let exemple = &lead(&scan, EXEMPLE)["origin"];
    assert_eq!(exemple["country"], "France");
    assert_eq!(exemple["country_code"], "FR");
    assert_eq!(exemple["city"], "Lyon");
    assert_eq!(exemple["asn"], 64501);
    assert_eq!(exemple["organisation"], "Exemple SARL");

    let nowhere = &lead(&scan, NOWHERE)["origin"];
    for field in [
        "country",
        "country_code",
        "city",
        "asn",
        "organisation",
        "domain",
    ] {
        assert!(
            nowhere.get(field).is_none(),
            "{field} of {NOWHERE}: {nowhere:#}"
        );
    }
    assert_eq!(nowhere["network"], "unknown");

    // The digest names the company before the address.
    let text = digest(&site);
    let line = text
        .lines()
        .find(|l| l.contains(ACME))
        .unwrap_or_else(|| panic!("{text}"));
    let company = line
        .find("ACME-NET (AS64500), Berlin, Germany")
        .expect(line);
    assert!(company < line.find(ACME).unwrap(), "{line}");
    assert!(geo_cache(&site).contains(ACME), "cached for the day");

    // The day's report names them too, in its hot leads and its alerts sent.
    let out = site
        .command()
        .env("ARKWATCH_NOW", "2026-11-24T08:00:00Z")
        .args(["report", "daily", "--date", "2026-11-24"])
        .output()
        .unwrap();
    common::assert_success(&out);
    let report = String::from_utf8_lossy(&out.stdout);
    let named: Vec<&str> = report
        .lines()
        .filter(|l| l.contains(ACME) && l.contains("ACME-NET (AS64500), Berlin, Germany"))
        .collect();
    assert_eq!(named.len(), 2, "a hot lead and an alert sent: {report}");
}

#[test]
fn an_ipinfo_lite_file_names_country_network_and_domain() {
    let site = Site::new("[geo]\ncountry_db = \"ipinfo.mmdb\"\n");
    geo::ipinfo_lite_db(
        &site.dir.path().join("ipinfo.mmdb"),
        &[(
            "198.18.0.0/15",
            "AS64510",
            "Example KK",
            "example.jp",
            "JP",
            "Japan",
        )],
    );
    site.append("access.log", &[pricing(TOKYO, 1)]);
    let scan = scan(&site);
    let origin = &lead(&scan, TOKYO)["origin"];
    assert_eq!(origin["country"], "Japan");
    assert_eq!(origin["country_code"], "JP");
    assert_eq!(origin["asn"], 64510);
    assert_eq!(origin["organisation"], "Example KK");
    assert_eq!(origin["domain"], "example.jp");
    assert_eq!(origin["network"], "company");
}

#[test]
fn a_hosting_network_is_marked_and_scored_as_configured() {
    let plain = site("");
    plain.append("access.log", &[pricing(AWS, 1), pricing("203.0.113.99", 2)]);
    let base = scan(&plain);
    let score = lead(&base, AWS)["score"].as_u64().unwrap();

    let site = site(&format!(
        "{DATABASES}hosting_penalty = 15\nhosting_asns = [\"AS64500\"]\n"
    ));
    site.append("access.log", &[pricing(AWS, 1), pricing("203.0.113.99", 2)]);
    let scan = scan(&site);
    let aws = lead(&scan, AWS);
    assert_eq!(aws["origin"]["network"], "hosting");
    assert!(
        aws["origin"]["network_rule"]
            .as_str()
            .unwrap()
            .contains("AS16509"),
        "{aws:#}"
    );
    assert_eq!(aws["score"].as_u64().unwrap(), score.saturating_sub(15));
    // A network the config names as hosting is one too.
    let acme = lead(&scan, "203.0.113.99");
    assert_eq!(acme["origin"]["network"], "hosting");
    assert!(
        acme["origin"]["network_rule"]
            .as_str()
            .unwrap()
            .contains("geo.hosting_asns")
    );
    let text = digest(&site);
    let line = text.lines().find(|l| l.contains(AWS)).unwrap();
    assert!(line.contains("likely automated"), "{line}");
}

#[test]
fn ignored_networks_never_alert() {
    let site = site(&format!(
        "[filters]\nignore_networks = [\"exemple\", 16509]\n{DATABASES}"
    ));
    site.append(
        "access.log",
        &[pricing(ACME, 1), pricing(EXEMPLE, 2), pricing(AWS, 3)],
    );
    let scan = scan(&site);
    let ips: Vec<&str> = scan["leads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["ip"].as_str().unwrap())
        .collect();
    assert_eq!(ips, [ACME], "{scan:#}");
    assert_eq!(scan["ignored_network_leads"], 2);

    // Without a database that names networks the setting is refused at load.
    let bad = Site::new("[filters]\nignore_networks = [64500]\n");
    let out = bad.command().args(["scan"]).output().unwrap();
    assert_eq!(out.status.code(), Some(78), "a configuration error");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("filters.ignore_networks") && err.contains("geo.asn_db"),
        "{err}"
    );
}

#[test]
fn reverse_dns_names_the_ptr_and_its_registrable_domain_in_the_digest() {
    let dns = Dnsmasq::start(&[
        (ACME, "mail.acme-corp.com"),
        (EXEMPLE, "gw.lyon.exemple.co.uk"),
    ]);
    let site = site(&format!(
        "{DATABASES}reverse_dns = true\nnameserver = \"127.0.0.1:{}\"\n",
        dns.port
    ));
    site.append(
        "access.log",
        &[pricing(ACME, 1), pricing(EXEMPLE, 2), pricing(NOWHERE, 3)],
    );
    let scan = scan(&site);
    assert!(scan.get("geo_problems").is_none(), "{scan:#}");
    let acme = &lead(&scan, ACME)["origin"];
    assert_eq!(acme["ptr"], "mail.acme-corp.com");
    assert_eq!(acme["domain"], "acme-corp.com");
    let exemple = &lead(&scan, EXEMPLE)["origin"];
    assert_eq!(exemple["ptr"], "gw.lyon.exemple.co.uk");
    assert_eq!(
        exemple["domain"], "exemple.co.uk",
        "by the Public Suffix List"
    );
    assert!(lead(&scan, NOWHERE)["origin"].get("ptr").is_none());

    let text = digest(&site);
    let line = text.lines().find(|l| l.contains(ACME)).unwrap();
    assert!(
        // The text part defuses what looks like a link (the names are the address owner's).
        line.contains(
            "ACME-NET (acme-corp[.]com, AS64500, mail[.]acme-corp[.]com), Berlin, Germany"
        ),
        "{line}"
    );
}

/// The same three leads, with reverse DNS asking `nameserver` under a 400 ms budget.
fn slow_site(nameserver: &str) -> Site {
    let site = site(&format!(
        "{DATABASES}reverse_dns = true\ndns_timeout_ms = 400\nnameserver = \"{nameserver}\"\n"
    ));
    site.append(
        "access.log",
        &[pricing(ACME, 1), pricing(EXEMPLE, 2), pricing(AWS, 3)],
    );
    site
}

#[test]
fn a_silent_name_server_costs_the_timeout_once_and_the_leads_go_out() {
    let quick = site(DATABASES);
    quick.append(
        "access.log",
        &[pricing(ACME, 1), pricing(EXEMPLE, 2), pricing(AWS, 3)],
    );
    let base = scan(&quick)["seconds"].as_f64().unwrap();

    // A socket that takes the questions and never answers: a server too slow to matter.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let site = slow_site(&silent.local_addr().unwrap().to_string());
    let scan = scan(&site);
    let took = scan["seconds"].as_f64().unwrap();
    assert_eq!(scan["leads"].as_array().unwrap().len(), 3, "{scan:#}");
    assert_eq!(lead(&scan, ACME)["origin"]["city"], "Berlin");
    assert!(lead(&scan, ACME)["origin"].get("ptr").is_none());
    let problems = scan["geo_problems"].to_string();
    assert!(
        problems.contains("no answer within 400 ms for 3 of 3 addresses"),
        "one wait for all three: {problems}"
    );
    assert!(took >= 0.4, "it waited for the answers: {took}");
    assert!(
        took - base < 0.4 + 0.6,
        "at most the timeout, once: {took} s against {base} s"
    );
    // Nothing is cached without its PTR answer: the next run asks again.
    assert!(!geo_cache(&site).contains(ACME));
    assert_eq!(digest(&site).matches("Berlin, Germany").count(), 1);

    // `status` says what the last scan could not look up.
    let out = site
        .command()
        .env("ARKWATCH_NOW", NOW)
        .args(["status", "--offline"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("geo lookups") && text.contains("no answer within 400 ms"),
        "{text}"
    );
}

#[test]
fn a_stopped_name_server_costs_nothing_and_is_named() {
    let port = geo::free_udp_port();
    let site = slow_site(&format!("127.0.0.1:{port}"));
    let scan = scan(&site);
    assert_eq!(scan["leads"].as_array().unwrap().len(), 3);
    let problems = scan["geo_problems"].to_string();
    assert!(
        problems.contains(&format!("127.0.0.1:{port}")),
        "{problems}"
    );
    assert!(scan["seconds"].as_f64().unwrap() < 0.4 + 0.6);
}

#[test]
fn a_missing_or_corrupt_database_is_reported_and_the_lead_goes_out_without_it() {
    let site = site(
        "[geo]\ncountry_db = \"gone.mmdb\"\ncity_db = \"broken.mmdb\"\nasn_db = \"asn.mmdb\"\n",
    );
    std::fs::write(
        site.dir.path().join("broken.mmdb"),
        b"not a MaxMind DB at all",
    )
    .unwrap();
    site.append("access.log", &[pricing(ACME, 1)]);
    let scan = scan(&site);
    let origin = &lead(&scan, ACME)["origin"];
    assert_eq!(origin["asn"], 64500, "the database that works answers");
    assert!(origin.get("country").is_none() && origin.get("city").is_none());
    let problems = scan["geo_problems"].to_string();
    assert!(
        problems.contains("gone.mmdb") && problems.contains("broken.mmdb"),
        "{problems}"
    );

    let out = site
        .command()
        .env("ARKWATCH_NOW", NOW)
        .args(["status", "--offline", "--json"])
        .output()
        .unwrap();
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["healthy"], false);
    let geo: Vec<&Value> = status["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"] == "geo database")
        .collect();
    assert_eq!(geo.len(), 3, "{status:#}");
    let failed: Vec<&str> = geo
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| c["detail"].as_str().unwrap())
        .collect();
    assert_eq!(failed.len(), 2, "{failed:#?}");
    assert!(failed.iter().any(|d| d.contains("gone.mmdb")));
    assert!(failed.iter().any(|d| d.contains("broken.mmdb")));
    assert!(
        geo.iter()
            .any(|c| c["ok"] == true && c["detail"].as_str().unwrap().contains("GeoLite2-ASN"))
    );
}

fn geo_cache(site: &Site) -> String {
    std::fs::read_to_string(site.data.join("geo-cache.json")).unwrap_or_default()
}
