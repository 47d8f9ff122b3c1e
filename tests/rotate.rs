//! `rotate` end to end: the visits cap and age limit kept exactly, archives made and expired,
//! events trimmed only behind the fold, and a second rotate that changes nothing.

mod common;

use std::fmt::Write as _;
use std::io::Read;

use chrono::{Duration, Utc};
use common::Site;
use serde_json::Value;

const SAFARI: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15";

fn req(ip: &str, path: &str, mins_ago: i64) -> String {
    let t = Utc::now() - Duration::minutes(mins_ago);
    format!(
        "{ip} - - [{}] \"GET {path} HTTP/1.1\" 200 512 \"-\" \"{SAFARI}\"",
        t.format("%d/%b/%Y:%H:%M:%S +0000")
    )
}

fn ok(site: &Site, args: &[&str]) -> Value {
    let out = site.command().args(args).output().unwrap();
    common::assert_success(&out);
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

fn archived_lines(site: &Site) -> usize {
    let dir = site.data.join("visits/archive");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .map(|e| {
            let mut text = String::new();
            flate2::read::MultiGzDecoder::new(std::fs::File::open(e.unwrap().path()).unwrap())
                .read_to_string(&mut text)
                .unwrap();
            text.lines().count()
        })
        .sum()
}

#[test]
fn rotate_keeps_exactly_the_caps_and_a_second_run_changes_nothing() {
    let site = Site::new(
        "[retention]\nmax_visits = 50\nmax_age_days = 4\narchive_days = 6\noutbox_days = 30\n",
    );
    // 20 visits a day for 9 days (today included): 180 visits.
    let mut lines = Vec::new();
    for day in (0..9).rev() {
        for i in 0..20 {
            lines.push(req(
                &format!("198.51.100.{}", i + 1),
                "/pricing",
                day * 24 * 60 + 100 - i,
            ));
        }
    }
    site.append("access.log", &lines);
    ok(&site, &["ingest-nginx", "--json"]);
    assert_eq!(site.visits().len(), 180);

    let dry = ok(&site, &["rotate", "--dry-run", "--json"]);
    let before = common::files_under(&site.data);
    assert_eq!(dry["visits"]["kept"], 50, "{dry:#}");
    assert_eq!(
        common::files_under(&site.data),
        before,
        "a dry run changes nothing"
    );

    let r = ok(&site, &["rotate", "--json"]);
    assert_eq!(r["visits"]["kept"], 50, "{r:#}");
    assert_eq!(r["visits"]["archived"], 130);
    let live = site.visits();
    assert_eq!(live.len(), 50, "exactly max_visits stay live");
    // The newest 50: all of the last two days, and the newest 10 of the day before.
    let newest: Vec<String> = {
        let mut all: Vec<&String> = lines.iter().collect();
        all.reverse();
        all.into_iter().take(50).cloned().collect()
    };
    let clean = Site::new("");
    clean.append("access.log", &newest);
    ok(&clean, &["ingest-nginx", "--json"]);
    assert_eq!(live, clean.visits(), "the live ones are the newest 50");
    // Archives: the days older than archive_days (6) are gone, the others are kept.
    let archives: Vec<String> = std::fs::read_dir(site.data.join("visits/archive"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let oldest_kept = (Utc::now() - Duration::days(6)).date_naive();
    for name in &archives {
        let day: chrono::NaiveDate = name.trim_end_matches(".jsonl.gz").parse().unwrap();
        assert!(day >= oldest_kept, "{name} is older than archive_days");
    }
    assert!(
        archived_lines(&site) >= 130 - 3 * 20,
        "archived visits of the kept days"
    );

    // Twice in a row: nothing changes the second time.
    let snapshot = common::files_under(&site.data);
    let again = ok(&site, &["rotate", "--json"]);
    assert_eq!(again["visits"]["archived"], 0, "{again:#}");
    assert_eq!(again["visits"]["archives_deleted"], 0);
    assert_eq!(
        common::files_under(&site.data),
        snapshot,
        "the second rotate changed nothing"
    );

    // Scans and ingestion go on over the blanked lines.
    site.append("access.log", &[req("203.0.113.9", "/trial", 1)]);
    let scan = ok(&site, &["scan", "--json"]);
    assert_eq!(scan["ingest"]["lines"], 1);
    assert_eq!(site.visits().len(), 51);
    let r = ok(&site, &["rotate", "--json"]);
    assert_eq!(
        (
            r["visits"]["kept"].as_u64(),
            r["visits"]["archived"].as_u64()
        ),
        (Some(50), Some(1))
    );
}

#[test]
fn old_visits_go_by_age_even_under_the_cap() {
    let site = Site::new("[retention]\nmax_age_days = 2\narchive_days = 30\n");
    site.append(
        "access.log",
        &[
            req("198.51.100.1", "/pricing", 5 * 24 * 60),
            req("198.51.100.2", "/pricing", 3 * 24 * 60),
            req("198.51.100.3", "/pricing", 60),
        ],
    );
    ok(&site, &["ingest-nginx", "--json"]);
    let r = ok(&site, &["rotate", "--json"]);
    assert_eq!(r["visits"]["kept"], 1, "{r:#}");
    assert_eq!(r["visits"]["days_archived"], 2);
    assert_eq!(archived_lines(&site), 2);
    let state: Value =
        serde_json::from_slice(&std::fs::read(site.data.join("state.json")).unwrap()).unwrap();
    assert_eq!(
        state["visits"].as_object().unwrap().len(),
        1,
        "archived days leave the state"
    );
}

#[test]
fn events_are_trimmed_only_behind_the_fold() {
    let site = Site::new("[events]\nretention_days = 30\n");
    site.append("access.log", &[]);
    // Three events that arrived 40 days ago and one now, as the embedded store writes them.
    let old = (Utc::now() - Duration::days(40)).timestamp_millis();
    let mut text = String::new();
    for seq in 0..3 {
        let _ = writeln!(
            text,
            "{{\"id\":\"{old}-{seq}\",\"type\":\"registration\",\"user\":\"u{seq}\"}}"
        );
    }
    std::fs::write(site.data.join("events.jsonl"), text).unwrap();
    ok(&site, &["track", "registration", "--user", "u9"]);

    let r = ok(&site, &["rotate", "--json"]);
    assert_eq!(r["events_trimmed"], 0, "nothing is folded yet: {r:#}");
    ok(&site, &["fold-events", "--json"]);
    let r = ok(&site, &["rotate", "--json"]);
    assert_eq!(r["events_trimmed"], 3, "{r:#}");
    let left = std::fs::read_to_string(site.data.join("events.jsonl")).unwrap();
    assert_eq!(left.lines().count(), 1);
    let users = ok(&site, &["fold-events", "--json"]);
    assert_eq!(users["users"]["total"], 4, "trimming lost no user");
    let r = ok(&site, &["rotate", "--json"]);
    assert_eq!(r["events_trimmed"], 0);
}

#[test]
fn the_sent_alerts_history_keeps_archive_days() {
    let site = Site::new("[retention]\narchive_days = 365\n");
    site.append("access.log", &[]);
    let old = (Utc::now() - Duration::days(400)).to_rfc3339();
    let new = (Utc::now() - Duration::days(3)).to_rfc3339();
    std::fs::write(
        site.data.join("alerts.jsonl"),
        format!(
            "{{\"sent_at\":\"{old}\",\"kind\":\"lead\",\"ip\":\"203.0.113.1\",\"summary\":\"x\"}}\n\
             {{\"sent_at\":\"{new}\",\"kind\":\"lead\",\"ip\":\"203.0.113.2\",\"summary\":\"y\"}}\n"
        ),
    )
    .unwrap();
    let r = ok(&site, &["rotate", "--json"]);
    assert_eq!(r["alert_history_dropped"], 1, "{r:#}");
    let left = std::fs::read_to_string(site.data.join("alerts.jsonl")).unwrap();
    assert!(
        left.contains("203.0.113.2") && !left.contains("203.0.113.1"),
        "{left}"
    );
    let r = ok(&site, &["rotate", "--json"]);
    assert_eq!(r["alert_history_dropped"], 0);
}
