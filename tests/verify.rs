//! `arkwatch verify` on real runs: a tampered rollup and a visit recorded twice are found (with
//! the day, the field and both counts), a purge of an address is accounted for, days whose
//! lines were deleted are partial, and status shows the last verdict. (Every rotation and
//! SIGKILL scenario of `tests/rotation.rs` and `tests/crash.rs` ends with a verify too, through
//! `Site::assert_same_as_clean_pass`.)

mod common;

use chrono::{Duration, Utc};
use common::{Site, logrotate};
use serde_json::Value;

const SAFARI: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15";

/// The instant the requests' ages count back from: the last 17:00 UTC that has passed, so that
/// a request 28 to 30 hours old is never on the other side of a midnight from its neighbours,
/// whenever the test runs (it failed between 04:00 and 06:00 UTC when ages counted from now).
fn anchor() -> chrono::DateTime<Utc> {
    let now = Utc::now();
    let today = now
        .date_naive()
        .and_hms_opt(17, 0, 0)
        .expect("a time")
        .and_utc();
    if today <= now {
        today
    } else {
        today - Duration::days(1)
    }
}

fn req(ip: &str, path: &str, referrer: &str, hours_ago: i64) -> String {
    let t = anchor() - Duration::hours(hours_ago);
    format!(
        "{ip} - - [{}] \"GET {path} HTTP/1.1\" 200 512 \"{referrer}\" \"{SAFARI}\"",
        t.format("%d/%b/%Y:%H:%M:%S +0000")
    )
}

fn verify(site: &Site) -> (Option<i32>, Value) {
    let out = site.command().args(["verify", "--json"]).output().unwrap();
    (
        out.status.code(),
        serde_json::from_slice(&out.stdout).unwrap_or_default(),
    )
}

/// The days of a report that differ, with their differences.
fn differing(report: &Value) -> Vec<Value> {
    report["days"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["verdict"] == "differs")
        .cloned()
        .collect()
}

/// A site with two days of traffic, a rotation between them, ingested.
fn two_days() -> Site {
    let site = Site::new("");
    let mut first = Vec::new();
    for i in 0..30 {
        first.push(req(&format!("198.51.100.{i}"), "/pricing", "-", 30));
    }
    site.append("access.log", &first);
    site.ingest();
    logrotate(&site, false);
    let mut second = Vec::new();
    for i in 0..20 {
        second.push(req(&format!("198.51.100.{i}"), "/trial", "-", 2));
    }
    site.append("access.log", &second);
    site.ingest();
    site
}

#[test]
fn a_rollup_altered_by_hand_is_found_with_the_day_the_field_and_both_counts() {
    let site = two_days();
    site.assert_verify_matches();
    let day = (anchor() - Duration::hours(30)).date_naive().to_string();
    let file = std::fs::read_dir(site.data.join("rollups/traffic"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(&day))
        .unwrap();
    let mut rollup: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let hits = rollup["hits"].as_u64().unwrap();
    rollup["hits"] = (hits + 1).into();
    std::fs::write(&file, serde_json::to_vec(&rollup).unwrap()).unwrap();

    let (code, report) = verify(&site);
    assert_eq!(code, Some(65), "{report:#}");
    let days = differing(&report);
    assert_eq!(days.len(), 1, "{report:#}");
    assert_eq!(days[0]["day"], day.as_str());
    assert_eq!(
        days[0]["differences"],
        serde_json::json!([{"field": "hits", "committed": hits + 1, "recounted": hits}])
    );
    let out = site.command().arg("verify").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("{day}  DIFFERS"))
            && text.contains(&format!("hits: committed {}, recounted {hits}", hits + 1)),
        "{text}"
    );
}

#[test]
fn a_visit_line_duplicated_by_hand_is_found() {
    let site = two_days();
    let day = (anchor() - Duration::hours(2)).date_naive();
    let path = site.data.join(format!("visits/{day}.jsonl"));
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let n = lines.len() as u64;
    // Inserted after the first line: the committed part of the file now holds it.
    lines.insert(1, lines[0]);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();

    let (code, report) = verify(&site);
    assert_eq!(code, Some(65), "{report:#}");
    let days = differing(&report);
    assert_eq!(days.len(), 1, "{report:#}");
    assert_eq!(days[0]["day"], day.to_string());
    let fields: Vec<&Value> = days[0]["differences"].as_array().unwrap().iter().collect();
    assert!(
        fields
            .iter()
            .any(|d| d["field"] == "visits recorded more than once"
                && d["committed"] == 1
                && d["recounted"] == 0),
        "{report:#}"
    );
    assert!(
        fields
            .iter()
            .all(|d| d["field"].as_str().unwrap().starts_with("visits")),
        "only the visits differ: {report:#}"
    );
    assert!(n > 1);
}

#[test]
fn a_purge_with_access_logs_is_accounted_for_and_verify_still_matches() {
    let site = Site::new("");
    let target = "203.0.113.7";
    let mut first = Vec::new();
    for i in 0..10 {
        first.push(req(&format!("198.51.100.{i}"), "/pricing", "-", 30));
    }
    first.push(req(target, "/pricing", "-", 29));
    first.push(req(target, &format!("/u/{target}"), "-", 29));
    // Someone else, brought by a link that names the address.
    first.push(req(
        "198.51.100.50",
        "/trial",
        &format!("http://{target}/x"),
        28,
    ));
    site.append("access.log", &first);
    site.ingest();
    logrotate(&site, false);
    let second = vec![
        req(target, "/trial", "-", 3),
        req("198.51.100.1", "/demo", "-", 3),
    ];
    site.append("access.log", &second);
    site.ingest();
    site.assert_verify_matches();

    let out = site
        .command()
        .args(["purge-ip", target, "--include-access-logs"])
        .output()
        .unwrap();
    common::assert_success(&out);
    let rotated = std::fs::read_to_string(site.path("access.log.1")).unwrap();
    assert!(!rotated.contains(target), "the rotated log was purged");
    assert!(
        std::fs::read_to_string(&site.log).unwrap().contains(target),
        "the live log is left alone"
    );
    let report = site.assert_verify_matches();
    assert_eq!(report["differing"], 0, "{report:#}");

    // And a purge without the access logs (the address stays in every log) is accounted too.
    let other = "198.51.100.3";
    let out = site.command().args(["purge-ip", other]).output().unwrap();
    common::assert_success(&out);
    site.assert_verify_matches();
}

#[test]
fn days_of_a_deleted_log_are_partial_or_gone_and_never_differ() {
    let site = Site::new("");
    site.append("access.log", &[req("198.51.100.1", "/pricing", "-", 50)]);
    site.ingest();
    logrotate(&site, false);
    site.append("access.log", &[req("198.51.100.2", "/pricing", "-", 26)]);
    site.ingest();
    logrotate(&site, false);
    site.append("access.log", &[req("198.51.100.3", "/pricing", "-", 1)]);
    site.ingest();
    std::fs::remove_file(site.path("access.log.2")).unwrap();
    let (code, report) = verify(&site);
    assert_eq!(code, Some(0), "{report:#}");
    let verdicts: Vec<&str> = report["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(verdicts.first(), Some(&"gone"), "{report:#}");
    assert_eq!(verdicts.last(), Some(&"match"), "{report:#}");
    assert!(!verdicts.contains(&"differs"));
}

#[test]
fn status_shows_the_last_verdict() {
    let site = two_days();
    let status = |site: &Site| -> Value {
        let out = site
            .command()
            .args(["status", "--json", "--offline"])
            .output()
            .unwrap();
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "verify")
            .cloned()
            .unwrap()
    };
    let before = status(&site);
    assert_eq!(before["ok"], true, "never run is no failure: {before}");
    assert!(
        before["detail"].as_str().unwrap().contains("never"),
        "{before}"
    );
    site.assert_verify_matches();
    let after = status(&site);
    assert_eq!(after["ok"], true, "{after}");
    assert!(
        after["detail"].as_str().unwrap().contains("match"),
        "{after}"
    );
    // A rollup altered by hand: the next verify differs, and status says so.
    let file = std::fs::read_dir(site.data.join("rollups/traffic"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .next()
        .unwrap();
    let mut rollup: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    rollup["pageviews"] = (rollup["pageviews"].as_u64().unwrap() + 3).into();
    std::fs::write(&file, serde_json::to_vec(&rollup).unwrap()).unwrap();
    assert_eq!(verify(&site).0, Some(65));
    let failed = status(&site);
    assert_eq!(failed["ok"], false, "{failed}");
    let day = file.file_name().unwrap().to_str().unwrap()[..10].to_string();
    let detail = failed["detail"].as_str().unwrap();
    assert!(
        detail.contains("1 day differs") && detail.contains(&day),
        "{failed}"
    );
}

/// Events of several kinds, a late upgrade webhook among them, through `track --from-file`.
fn track_history(site: &Site) {
    let file = site.dir.path().join("events.jsonl");
    let day = |d: i64, h: u32| {
        (Utc::now() - Duration::days(d))
            .date_naive()
            .and_hms_opt(h, 0, 0)
            .unwrap()
            .and_utc()
            .to_rfc3339()
    };
    let lines = [
        format!(
            r#"{{"type":"registration","user":"a","ts":"{}"}}"#,
            day(5, 9)
        ),
        format!(
            r#"{{"type":"conversion","user":"a","plan":"pro","mrr":"29.00","ts":"{}"}}"#,
            day(4, 9)
        ),
        format!(
            r#"{{"type":"registration","user":"b","ts":"{}"}}"#,
            day(4, 10)
        ),
        format!(
            r#"{{"type":"command","user":"b","name":"/price","ts":"{}"}}"#,
            day(3, 10)
        ),
        format!(
            r#"{{"type":"api_call","user":"b","provider":"openai","cost":"0.0021","latency_ms":"840","ts":"{}"}}"#,
            day(3, 11)
        ),
        format!(
            r#"{{"type":"cancellation","user":"a","ts":"{}"}}"#,
            day(2, 12)
        ),
        // The upgrade arrives last, stamped before the cancellation.
        format!(
            r#"{{"type":"conversion","user":"a","plan":"business","mrr":"99.00","ts":"{}"}}"#,
            day(2, 11)
        ),
        format!(
            r#"{{"type":"error","user":"b","name":"Timeout","command":"/price","ts":"{}"}}"#,
            day(1, 8)
        ),
    ];
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let out = site
        .command()
        .args(["track", "--from-file"])
        .arg(&file)
        .output()
        .unwrap();
    common::assert_success(&out);
    site.fold_events();
}

fn events_half(report: &Value) -> Value {
    report["events"].clone()
}

fn events_are_recounted_and_a_tampered_rollup_or_record_is_found(
    site: &Site,
    tamper_user: &dyn Fn(),
) {
    track_history(site);
    let report = site.assert_verify_matches();
    let e = events_half(&report);
    assert_eq!(e["events"], 8, "{e:#}");
    assert_eq!(e["differing"], 0, "{e:#}");
    assert!(e["matched"].as_u64().unwrap() >= 5, "{e:#}");
    assert_eq!(e["users_checked"], 2, "{e:#}");
    assert_eq!(e["users_differing"], 0, "{e:#}");

    // An activity rollup altered by hand.
    let day = (Utc::now() - Duration::days(3)).date_naive().to_string();
    let file = std::fs::read_dir(site.data.join("rollups/activity"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(&day))
        .unwrap();
    let original = std::fs::read(&file).unwrap();
    let mut rollup: Value = serde_json::from_slice(&original).unwrap();
    rollup["commands"]["/price"] = 2.into();
    std::fs::write(&file, serde_json::to_vec(&rollup).unwrap()).unwrap();
    let (code, report) = verify(site);
    assert_eq!(code, Some(65), "{report:#}");
    let days = differing(&events_half(&report));
    assert_eq!(days.len(), 1, "{report:#}");
    assert_eq!(days[0]["day"], day.as_str());
    assert_eq!(
        days[0]["differences"],
        serde_json::json!([{"field": "command /price", "committed": 2, "recounted": 1}])
    );
    std::fs::write(&file, original).unwrap();

    // A projection record altered by hand.
    tamper_user();
    let (code, report) = verify(site);
    assert_eq!(code, Some(65), "{report:#}");
    let e = events_half(&report);
    assert_eq!(e["users_differing"], 1, "{e:#}");
    assert_eq!(e["users_named"], serde_json::json!(["a"]), "{e:#}");
}

#[test]
fn events_are_recounted_on_the_file_store() {
    let site = Site::new("");
    let users = site.data.join("users.json");
    events_are_recounted_and_a_tampered_rollup_or_record_is_found(&site, &|| {
        let mut all: Value = serde_json::from_slice(&std::fs::read(&users).unwrap()).unwrap();
        let holder = if all.get("users").is_some() {
            &mut all["users"]
        } else {
            &mut all
        };
        holder["a"]["plan"] = "pro".into();
        std::fs::write(&users, serde_json::to_vec(&all).unwrap()).unwrap();
    });
}

#[test]
fn events_are_recounted_on_redis() {
    let redis = common::redis::RedisServer::start();
    let site = Site::new(&format!("[events]\nstore = \"{}\"\n", redis.url()));
    events_are_recounted_and_a_tampered_rollup_or_record_is_found(&site, &|| {
        let record = redis.cli(&["HGET", "arkwatch:users", "a"]).unwrap();
        let mut record: Value = serde_json::from_str(&record).unwrap();
        record["plan"] = "pro".into();
        redis
            .cli(&["HSET", "arkwatch:users", "a", &record.to_string()])
            .unwrap();
    });
}

#[test]
fn trimmed_and_purged_events_are_partial_never_different() {
    let redis = common::redis::RedisServer::start();
    let site = Site::new(&format!(
        "[events]\nstore = \"{}\"\nretention_days = 1\n",
        redis.url()
    ));
    // Old events (ids of long ago), then recent ones; rotate trims the old ones.
    let old = (Utc::now() - Duration::days(10)).timestamp_millis();
    for (i, user) in ["a", "b"].iter().enumerate() {
        redis
            .cli(&[
                "XADD",
                "arkwatch:events",
                &format!("{old}-{i}"),
                "type",
                "conversion",
                "user",
                user,
                "plan",
                "pro",
                "mrr",
                "10",
            ])
            .unwrap();
    }
    for args in [
        &["registration", "--user", "c", "ip=203.0.113.9"][..],
        &["command", "--user", "c", "name=/x"],
        &["cancellation", "--user", "a"],
    ] {
        common::assert_success(&site.command().arg("track").args(args).output().unwrap());
    }
    site.fold_events();
    site.assert_verify_matches();
    common::assert_success(&site.command().arg("rotate").output().unwrap());
    assert_eq!(redis.cli(&["XLEN", "arkwatch:events"]).unwrap(), "3");
    let (code, report) = verify(&site);
    assert_eq!(code, Some(0), "{report:#}");
    let e = events_half(&report);
    assert_eq!(e["differing"], 0, "{e:#}");
    assert_eq!(e["users_differing"], 0, "{e:#}");
    assert_eq!(e["users_checked"], 1, "only c's history is whole: {e:#}");
    let out = site
        .command()
        .args(["purge-ip", "203.0.113.9"])
        .output()
        .unwrap();
    common::assert_success(&out);
    let (code, report) = verify(&site);
    assert_eq!(code, Some(0), "{report:#}");
    let e = events_half(&report);
    assert_eq!(e["differing"], 0, "{e:#}");
    assert_eq!(e["users_checked"], 0, "c's registration was deleted: {e:#}");
}
