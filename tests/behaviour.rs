//! The behaviour layer through the real binary: visitors with a browser's User-Agent that act
//! as no person does (a scraper loading 300 pages an hour and no assets, an uptime monitor
//! doing `HEAD /` every minute, a reader of `robots.txt`) stop counting and never alert, while
//! a person loading 12 pages with their assets is a visitor and a lead.

mod common;

use chrono::{DateTime, Duration, Utc};
use common::Site;
use serde_json::Value;

const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const SAFARI: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15";
const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

/// `metrics traffic` of the day the visitors came.
const TRAFFIC: [&str; 6] = [
    "metrics",
    "traffic",
    "--since",
    "2026-11-23",
    "--until",
    "2026-11-23",
];

const SCRAPER: &str = "203.0.113.10";
const PERSON: &str = "198.51.100.7";
const MONITOR: &str = "192.0.2.50";
const ROBOTS: &str = "192.0.2.77";

fn start() -> DateTime<Utc> {
    "2026-11-23T10:00:00Z".parse().unwrap()
}

fn line(
    ip: &str,
    at: DateTime<Utc>,
    method: &str,
    path: &str,
    ua: &str,
) -> (DateTime<Utc>, String) {
    (
        at,
        format!(
            "{ip} - - [{}] \"{method} {path} HTTP/1.1\" 200 512 \"https://www.linkedin.com/\" \"{ua}\"",
            at.format("%d/%b/%Y:%H:%M:%S +0000")
        ),
    )
}

/// A scraper: a page every 12 s for an hour (300), `/pricing` the `pricing_at`-th, no asset.
fn scraper(pricing_at: i64) -> Vec<(DateTime<Utc>, String)> {
    (0..300)
        .map(|i| {
            let path = if i == pricing_at {
                "/pricing".to_string()
            } else {
                format!("/blog/post-{i}")
            };
            line(
                SCRAPER,
                start() + Duration::seconds(12 * i),
                "GET",
                &path,
                CHROME,
            )
        })
        .collect()
}

/// A person: 12 pages over ten minutes, each with its stylesheet, script and picture.
fn person() -> Vec<(DateTime<Utc>, String)> {
    let mut out = Vec::new();
    for i in 0..12 {
        let at = start() + Duration::seconds(50 * i);
        let page = if i == 7 {
            "/pricing".to_string()
        } else {
            format!("/docs/{i}")
        };
        out.push(line(PERSON, at, "GET", &page, SAFARI));
        for asset in ["/assets/app.css", "/assets/app.js", "/img/hero.png"] {
            out.push(line(
                PERSON,
                at + Duration::seconds(1),
                "GET",
                asset,
                SAFARI,
            ));
        }
    }
    out
}

/// An uptime monitor with a browser's User-Agent: `HEAD /` every minute for an hour.
fn monitor() -> Vec<(DateTime<Utc>, String)> {
    (0..60)
        .map(|i| line(MONITOR, start() + Duration::minutes(i), "HEAD", "/", CHROME))
        .collect()
}

/// A crawler with a browser's User-Agent that reads `robots.txt`, then `/pricing` and
/// `/trial` with their assets.
fn robots_reader() -> Vec<(DateTime<Utc>, String)> {
    let at = start() + Duration::minutes(20);
    vec![
        line(ROBOTS, at, "GET", "/robots.txt", FIREFOX),
        line(
            ROBOTS,
            at + Duration::seconds(5),
            "GET",
            "/pricing",
            FIREFOX,
        ),
        line(
            ROBOTS,
            at + Duration::seconds(6),
            "GET",
            "/assets/app.css",
            FIREFOX,
        ),
        line(ROBOTS, at + Duration::seconds(9), "GET", "/trial", FIREFOX),
    ]
}

/// The lines in time order, as a server writes them.
fn log(parts: Vec<Vec<(DateTime<Utc>, String)>>) -> Vec<String> {
    let mut all: Vec<(DateTime<Utc>, String)> = parts.into_iter().flatten().collect();
    all.sort_by_key(|(at, _)| *at);
    all.into_iter().map(|(_, l)| l).collect()
}

fn run(site: &Site, now: &str, args: &[&str]) -> Value {
    let out = site
        .command()
        .env("ARKWATCH_NOW", now)
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    common::assert_success(&out);
    serde_json::from_slice(&out.stdout).unwrap()
}

fn lead_ips(scan: &Value) -> Vec<String> {
    scan["leads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["ip"].as_str().unwrap().to_string())
        .collect()
}

fn traffic(site: &Site) -> Value {
    run(site, "2026-11-23T12:00:00Z", &TRAFFIC)["traffic"].clone()
}

#[test]
fn a_scraper_a_monitor_and_a_robots_reader_stop_counting_and_never_alert_and_a_person_does() {
    let site = Site::new("");
    site.append(
        "access.log",
        &log(vec![scraper(150), person(), monitor(), robots_reader()]),
    );
    let scan = run(&site, "2026-11-23T11:05:00Z", &["scan"]);
    assert_eq!(
        lead_ips(&scan),
        vec![PERSON],
        "only the person is a lead: {scan:#}"
    );
    assert_eq!(
        scan["automated_visits"], 3,
        "the scraper's /pricing, the reader's two"
    );

    let t = traffic(&site);
    assert_eq!(t["unique_visitors"], 1, "{t:#}");
    assert_eq!(t["pageviews"], 12);
    assert_eq!(t["sessions"], 1);
    assert_eq!(t["tier_visitors"]["hot"], 1, "only the person saw /pricing");
    assert!(t["tier_visitors"].get("very_hot").is_none_or(|n| n == 0));
    // 300 pages; 60 HEADs; robots.txt, two pages and a stylesheet.
    assert_eq!(t["bot_layers"]["behaviour"], 300 + 60 + 4, "{t:#}");
    assert_eq!(t["bot_categories"]["monitors"], 60);
    assert_eq!(t["bot_categories"]["unknown_automated"], 300 + 4);
    assert_eq!(t["bot_hits"], 364);
    assert_eq!(t["hits"], 300 + 48 + 60 + 4);

    let table = site
        .command()
        .env("ARKWATCH_NOW", "2026-11-23T12:00:00Z")
        .args(TRAFFIC)
        .output()
        .unwrap();
    let table = String::from_utf8(table.stdout).unwrap();
    for row in [
        "bot hits: behaviour",
        "bots: monitors",
        "bots: unknown automated",
    ] {
        assert!(table.contains(row), "{row} missing from:\n{table}");
    }
}

#[test]
fn each_rule_switched_off_lets_its_visitor_count_again() {
    let site = Site::new(
        "[filters.behaviour]\nrobots_txt = false\nhead_only = 0\nmax_pages_per_hour = 0\npages_without_assets = 0\n",
    );
    site.append(
        "access.log",
        &log(vec![scraper(150), person(), monitor(), robots_reader()]),
    );
    let scan = run(&site, "2026-11-23T11:05:00Z", &["scan"]);
    let mut ips = lead_ips(&scan);
    ips.sort();
    assert_eq!(ips, vec![ROBOTS, PERSON, SCRAPER]);
    let t = traffic(&site);
    // The monitor's HEADs were never pageviews; now they are no bot's either.
    assert_eq!(t["unique_visitors"], 3, "{t:#}");
    assert_eq!(t["bot_hits"], 0);
}

/// A scraper whose `/pricing` came before it showed what it is: that lead went out (an alert
/// is not taken back), and once the rest of its hour is read, it stops counting and the
/// report marks the alert.
#[test]
fn a_lead_alerted_before_its_visitor_was_found_automated_is_marked_in_the_report() {
    let site = Site::new("");
    let lines = log(vec![scraper(1)]);
    site.append("access.log", &lines[..3]);
    let first = run(&site, "2026-11-23T10:01:00Z", &["scan"]);
    assert_eq!(
        lead_ips(&first),
        vec![SCRAPER],
        "three pages are no evidence yet"
    );
    site.append("access.log", &lines[3..]);
    let second = run(&site, "2026-11-23T11:05:00Z", &["scan"]);
    assert!(lead_ips(&second).is_empty());
    assert_eq!(traffic(&site)["unique_visitors"], 0);

    let out = site
        .command()
        .env("ARKWATCH_NOW", "2026-11-24T08:00:00Z")
        .args(["report", "daily"])
        .output()
        .unwrap();
    common::assert_success(&out);
    let report = String::from_utf8(out.stdout).unwrap();
    let alert = report
        .lines()
        .find(|l| l.contains(SCRAPER) && l.contains("lead"))
        .unwrap_or_else(|| panic!("no alert line for the scraper in:\n{report}"));
    assert!(
        alert.contains("since found automated by the behaviour layer: 300 pageviews per hour"),
        "{alert}"
    );
    assert!(
        !report.contains("## Hot leads (1)"),
        "the scraper is no hot lead of the day:\n{report}"
    );
}
