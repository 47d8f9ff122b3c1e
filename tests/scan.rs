//! `arkwatch scan` end to end through the real binary, delivering to the outbox: hot leads
//! (once, escalated once, never for bots, office addresses, HEAD or 404), threshold rules
//! (fire, hold quietly, resolve), the hourly limit that keeps alerts pending, dry runs that
//! change nothing, concurrent scans, an event store that is down, and `status`.

mod common;

use std::path::PathBuf;
use std::process::Output;

use chrono::{Duration, Utc};
use common::Site;
use common::redis::RedisServer;
use mailparse::MailHeaderMap;
use serde_json::Value;

const SAFARI: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15";
const GOOGLEBOT: &str = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";

/// One combined-format line, `mins_ago` minutes before now.
fn req(ip: &str, method: &str, path: &str, status: u16, ua: &str, mins_ago: i64) -> String {
    let t = Utc::now() - Duration::minutes(mins_ago);
    format!(
        "{ip} - - [{}] \"{method} {path} HTTP/1.1\" {status} 512 \"https://www.linkedin.com/\" \"{ua}\"",
        t.format("%d/%b/%Y:%H:%M:%S +0000")
    )
}

/// A site whose access log exists (empty).
fn site(extra: &str) -> Site {
    let site = Site::new(extra);
    site.append("access.log", &[]);
    site
}

fn scan(site: &Site, extra: &[&str]) -> (Value, Output) {
    let out = site
        .command()
        .args(["scan", "--json"])
        .args(extra)
        .output()
        .unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|err| {
        panic!(
            "scan printed no JSON ({err}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (json, out)
}

fn scan_ok(site: &Site) -> Value {
    let (json, out) = scan(site, &[]);
    common::assert_success(&out);
    json
}

/// The outbox's messages, oldest first.
fn outbox(site: &Site) -> Vec<Vec<u8>> {
    let dir = site.data.join("outbox");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
        .map(|e| {
            let e = e.unwrap();
            (e.metadata().unwrap().modified().unwrap(), e.path())
        })
        .filter(|(_, p)| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|(_, p)| std::fs::read(p).unwrap())
        .collect()
}

fn subject(raw: &[u8]) -> String {
    let mail = mailparse::parse_mail(raw).unwrap();
    mail.headers.get_first_value("Subject").unwrap()
}

fn text_part(raw: &[u8]) -> String {
    let mail = mailparse::parse_mail(raw).unwrap();
    assert_eq!(mail.ctype.mimetype, "multipart/alternative");
    mail.subparts[0].get_body().unwrap()
}

/// Rewrites when the ledger says messages went out (the hourly limit's memory): the clock cannot
/// be moved forward, so the past is moved back.
fn set_sent(site: &Site, times: &[chrono::DateTime<Utc>]) {
    let path = site.data.join("state.json");
    let mut state: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let times: Vec<String> = times.iter().map(chrono::DateTime::to_rfc3339).collect();
    state["alerts"]["queues"]["email"]["sent"] = serde_json::json!(times);
    std::fs::write(&path, serde_json::to_vec(&state).unwrap()).unwrap();
}

/// The verdict of rule `name` in a scan report.
fn rule(report: &Value, name: &str) -> Value {
    report["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no rule {name} in {report:#}"))
        .clone()
}

fn track(site: &Site, args: &[&str]) {
    let out = site.command().arg("track").args(args).output().unwrap();
    common::assert_success(&out);
}

#[test]
fn a_lead_alerts_once_escalates_once_and_is_then_counted_quietly() {
    let site = site("site_name = \"Acme\"\n[alerts]\nmax_emails_per_hour = 100\n");
    site.append(
        "access.log",
        &[
            req("203.0.113.45", "GET", "/demo", 200, SAFARI, 30),
            req(
                "203.0.113.45",
                "GET",
                "/pricing?utm_source=linkedin",
                200,
                SAFARI,
                20,
            ),
        ],
    );
    let first = scan_ok(&site);
    assert_eq!(first["leads"].as_array().unwrap().len(), 1, "{first:#}");
    assert_eq!(first["leads"][0]["kind"], "new");
    assert_eq!(first["delivery"]["outcome"], "sent");
    let mails = outbox(&site);
    assert_eq!(mails.len(), 1);
    assert_eq!(subject(&mails[0]), "[Acme] 1 hot lead");
    let text = text_part(&mails[0]);
    assert!(text.contains("203.0.113.45"), "{text}");
    assert!(
        text.contains(
            "Safari on a Mac, from LinkedIn, read /demo, then /pricing 10 minutes later."
        ),
        "{text}"
    );

    // Nothing new: nothing sent.
    let quiet = scan_ok(&site);
    assert_eq!(quiet["delivery"]["outcome"], "nothing_due");

    // Another hot visit within dedup_hours: counted, not alerted.
    site.append(
        "access.log",
        &[req("203.0.113.45", "GET", "/pricing", 200, SAFARI, 5)],
    );
    let again = scan_ok(&site);
    assert!(again["leads"].as_array().unwrap().is_empty(), "{again:#}");
    assert_eq!(outbox(&site).len(), 1);

    // The same address with another browser is another visitor.
    site.append(
        "access.log",
        &[req(
            "203.0.113.45",
            "GET",
            "/pricing",
            200,
            "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
            4,
        )],
    );
    assert_eq!(scan_ok(&site)["leads"][0]["kind"], "new");

    // Rising to very_hot: escalated, once.
    site.append(
        "access.log",
        &[
            req("203.0.113.45", "GET", "/trial", 200, SAFARI, 2),
            req("203.0.113.45", "GET", "/trial/start", 200, SAFARI, 1),
        ],
    );
    let up = scan_ok(&site);
    assert_eq!(up["leads"].as_array().unwrap().len(), 1, "{up:#}");
    assert_eq!(up["leads"][0]["kind"], "escalated");
    let mails = outbox(&site);
    assert_eq!(mails.len(), 3);
    let text = text_part(&mails[2]);
    assert!(text.contains("Now very hot (score 110)"), "{text}");
    assert!(
        text.contains("read /demo, then /pricing 10 minutes later, then /pricing 15 minutes later, then /trial 3 minutes later, then /trial/start a minute later."),
        "the journey holds every visit: {text}"
    );

    let state: Value =
        serde_json::from_slice(&std::fs::read(site.data.join("state.json")).unwrap()).unwrap();
    let leads = state["alerts"]["ledger"]["leads"].as_object().unwrap();
    let safari = leads
        .values()
        .find(|l| l["tier"] == "very_hot")
        .expect("the escalated lead");
    assert_eq!(safari["suppressed"], 1, "the trial/start visit was counted");
}

#[test]
fn googlebot_an_office_ip_head_and_404_never_alert() {
    let site = site("[filters]\nignore_ips = [\"198.51.100.10\", \"10.0.0.0/8\"]\n");
    site.append(
        "access.log",
        &[
            req("66.249.66.1", "GET", "/pricing", 200, GOOGLEBOT, 9),
            req("66.249.66.1", "GET", "/trial", 200, GOOGLEBOT, 9),
            req("198.51.100.10", "GET", "/trial", 200, SAFARI, 8),
            req("10.20.30.40", "GET", "/pricing", 200, SAFARI, 8),
            req("203.0.113.7", "HEAD", "/pricing", 200, SAFARI, 7),
            req("203.0.113.8", "GET", "/pricing", 404, SAFARI, 6),
            req("203.0.113.9", "GET", "/demo", 200, SAFARI, 5),
            req("203.0.113.10", "GET", "/pricing.css", 200, SAFARI, 5),
        ],
    );
    let report = scan_ok(&site);
    assert_eq!(report["ingest"]["lines"], 8);
    assert_eq!(
        report["ingest"]["visits_recorded"], 1,
        "only the /demo visit counts: {report:#}"
    );
    assert!(report["leads"].as_array().unwrap().is_empty(), "{report:#}");
    assert_eq!(report["delivery"]["outcome"], "nothing_due");
    assert!(outbox(&site).is_empty());

    // The control: the same /pricing request from a person does alert.
    site.append(
        "access.log",
        &[req("203.0.113.11", "GET", "/pricing", 200, SAFARI, 1)],
    );
    assert_eq!(scan_ok(&site)["leads"].as_array().unwrap().len(), 1);
}

#[test]
fn a_backfill_of_old_visits_is_history_not_leads() {
    let site = site("");
    site.append(
        "access.log",
        &[
            req("203.0.113.45", "GET", "/trial", 200, SAFARI, 3 * 24 * 60),
            req("203.0.113.46", "GET", "/pricing", 200, SAFARI, 25 * 60),
        ],
    );
    let report = scan_ok(&site);
    assert_eq!(report["ingest"]["visits_recorded"], 2);
    assert!(report["leads"].as_array().unwrap().is_empty(), "{report:#}");
    assert!(outbox(&site).is_empty());
}

#[test]
fn a_thousand_hot_visitors_make_one_digest_with_the_top_ones_first() {
    let site = site("site_name = \"Acme\"\n");
    let mut lines: Vec<String> = (0..1000)
        .map(|i| {
            req(
                &format!("198.51.{}.{}", i / 250, i % 250 + 1),
                "GET",
                "/pricing",
                200,
                SAFARI,
                10,
            )
        })
        .collect();
    lines.push(req("198.51.3.28", "GET", "/trial", 200, SAFARI, 9));
    site.append("access.log", &lines);
    let report = scan_ok(&site);
    assert_eq!(report["leads"].as_array().unwrap().len(), 1000);
    let mails = outbox(&site);
    assert_eq!(mails.len(), 1, "one digest, not a thousand messages");
    assert_eq!(subject(&mails[0]), "[Acme] 1000 hot leads");
    let text = text_part(&mails[0]);
    assert_eq!(
        text.lines().filter(|l| l.starts_with("New ")).count(),
        arkwatch::alerts::digest::LISTED_LEADS
    );
    assert!(
        text.replace("\r\n", "\n")
            .starts_with("Acme: 1000 hot leads\n\nNew very hot lead (score 85) - 198.51.3.28, "),
        "the highest score first: {}",
        &text[..200]
    );
    assert!(text.contains("…and 980 more leads."), "{text}");
}

#[test]
fn threshold_rules_fire_once_stay_quiet_and_resolve() {
    let site = site("[alerts]\nmax_emails_per_hour = 100\n");
    for i in 0..30 {
        track(
            &site,
            &["command", "--user", &format!("u{i}"), "name=export"],
        );
    }
    for _ in 0..3 {
        track(&site, &["error", "--user", "u1", "name=Timeout"]);
    }
    track(
        &site,
        &[
            "api_call",
            "--user",
            "u1",
            "provider=openai",
            "cost=5.01",
            "latency_ms=900",
        ],
    );

    let fired = scan_ok(&site);
    let alerts: Vec<(&str, &str)> = fired["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| !r["alert"].is_null())
        .map(|r| (r["name"].as_str().unwrap(), r["alert"].as_str().unwrap()))
        .collect();
    assert_eq!(
        alerts,
        [("error_rate", "fired"), ("api_cost", "fired")],
        "10% errors over 30 commands, $5.01 today: {fired:#}"
    );
    let mails = outbox(&site);
    assert_eq!(mails.len(), 1);
    assert_eq!(subject(&mails[0]), "[ArkWatch] 2 alerts");
    let text = text_part(&mails[0]);
    assert!(
        text.contains("Error rate: alert")
            && text.contains("\nerror rate 10.0% (3 errors, 30 commands)"),
        "{text}"
    );

    // Still holding, within the cooldown: nothing.
    let held = scan_ok(&site);
    assert!(
        held["rules"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["alert"].is_null())
    );
    assert_eq!(outbox(&site).len(), 1);

    // 40 more commands: 3 of 70 is under 5%, so the error rule resolves, once.
    for i in 0..40 {
        track(
            &site,
            &["command", "--user", &format!("v{i}"), "name=export"],
        );
    }
    let resolved = scan_ok(&site);
    let error_rule = rule(&resolved, "error_rate");
    assert_eq!(error_rule["alert"], "resolved", "{resolved:#}");
    let mails = outbox(&site);
    assert_eq!(mails.len(), 2);
    assert!(text_part(&mails[1]).contains("Error rate: resolved"));
    scan_ok(&site);
    assert_eq!(outbox(&site).len(), 2, "resolved is said once");
}

#[test]
fn too_few_registrations_or_commands_never_fire_and_silence_needs_a_past_event() {
    let site = site("");
    for i in 0..19 {
        track(&site, &["registration", "--user", &format!("r{i}")]);
    }
    for i in 0..19 {
        track(&site, &["error", "--user", &format!("r{i}"), "name=Boom"]);
        track(&site, &["command", "--user", &format!("r{i}"), "name=x"]);
    }
    let report = scan_ok(&site);
    assert!(
        report["rules"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["holds"] == false),
        "19 registrations and 19 commands are too few to judge: {report:#}"
    );
    // The 20th registration without a conversion: conversion below 5%.
    track(&site, &["registration", "--user", "r19"]);
    let report = scan_ok(&site);
    let holding: Vec<&str> = report["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["holds"] == true)
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(holding, ["conversion_rate"]);
}

#[test]
fn silence_fires_when_the_newest_event_arrived_hours_ago() {
    let site = site("");
    // An event that arrived three hours ago, as the embedded store writes it.
    let ms = (Utc::now() - Duration::hours(3)).timestamp_millis();
    std::fs::write(
        site.data.join("events.jsonl"),
        format!("{{\"id\":\"{ms}-0\",\"type\":\"command\",\"user\":\"u1\",\"name\":\"x\"}}\n"),
    )
    .unwrap();
    let report = scan_ok(&site);
    let silence = rule(&report, "silence");
    assert_eq!(silence["alert"], "fired", "{report:#}");
    let text = text_part(&outbox(&site)[0]);
    assert!(
        text.contains("Silence: alert") && text.contains("\nlast event at"),
        "{text}"
    );
    // A new event ends the silence.
    track(&site, &["command", "--user", "u1", "name=x"]);
    let report = scan_ok(&site);
    let silence = rule(&report, "silence");
    assert_eq!(silence["holds"], false);
}

#[test]
fn the_hourly_limit_keeps_alerts_pending_and_the_next_message_has_them_all() {
    let site = site("");
    site.append(
        "access.log",
        &[req("203.0.113.1", "GET", "/pricing", 200, SAFARI, 30)],
    );
    scan_ok(&site);
    assert_eq!(outbox(&site).len(), 1);

    for (i, ip) in ["203.0.113.2", "203.0.113.3"].iter().enumerate() {
        site.append(
            "access.log",
            &[req(
                ip,
                "GET",
                "/trial",
                200,
                SAFARI,
                20 - i64::try_from(i).unwrap(),
            )],
        );
        let report = scan_ok(&site);
        assert_eq!(report["delivery"]["outcome"], "rate_limited", "{report:#}");
        assert_eq!(report["pending"], i + 1);
    }
    assert_eq!(outbox(&site).len(), 1, "max_emails_per_hour = 1");
    let status = site
        .command()
        .args(["status", "--json", "--offline"])
        .output()
        .unwrap();
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["pending_alerts"], 2);

    // An hour later (moved back in the state, as the clock cannot be moved forward).
    set_sent(&site, &[Utc::now() - Duration::minutes(61)]);

    let report = scan_ok(&site);
    assert_eq!(report["delivery"]["outcome"], "sent");
    assert_eq!(report["delivery"]["leads"], 2);
    assert_eq!(report["pending"], 0);
    let mails = outbox(&site);
    assert_eq!(mails.len(), 2);
    let text = text_part(&mails[1]);
    assert!(
        text.contains("203.0.113.2") && text.contains("203.0.113.3"),
        "{text}"
    );
}

#[test]
fn a_dry_run_shows_the_message_and_changes_nothing() {
    let site = site("site_name = \"Acme\"\n");
    site.append(
        "access.log",
        &[req("203.0.113.1", "GET", "/pricing", 200, SAFARI, 30)],
    );
    scan_ok(&site);
    site.append(
        "access.log",
        &[req("203.0.113.2", "GET", "/trial", 200, SAFARI, 3)],
    );
    for i in 0..30 {
        track(&site, &["command", "--user", &format!("u{i}"), "name=x"]);
        track(&site, &["error", "--user", &format!("u{i}"), "name=Boom"]);
    }
    let snapshot = |site: &Site| -> Vec<(PathBuf, Vec<u8>)> {
        let mut files = Vec::new();
        let mut stack = vec![site.data.clone()];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.file_name().unwrap() != "arkwatch.lock" {
                    files.push((p.clone(), std::fs::read(&p).unwrap()));
                }
            }
        }
        files.sort();
        files
    };
    let before = snapshot(&site);
    let (dry, out) = scan(&site, &["--dry-run"]);
    common::assert_success(&out);
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["ingest"]["lines"], 1);
    assert_eq!(dry["events_previewed"], 60);
    assert_eq!(dry["leads"][0]["ip"], "203.0.113.2");
    assert_eq!(dry["delivery"]["outcome"], "would_wait", "{dry:#}");
    assert_eq!(snapshot(&site), before, "a dry run writes nothing");

    // Without the rate limit in the way (the last message moved out of the hour), it shows
    // the message.
    set_sent(&site, &[]);
    let before = snapshot(&site);
    let (dry, _) = scan(&site, &["--dry-run"]);
    assert_eq!(snapshot(&site), before);
    assert_eq!(dry["delivery"]["outcome"], "would_send", "{dry:#}");
    assert_eq!(dry["delivery"]["subject"], "[Acme] 1 hot lead, 1 alert");
    assert!(
        dry["delivery"]["text"]
            .as_str()
            .unwrap()
            .contains("203.0.113.2")
    );

    // The real run then does all of it.
    let real = scan_ok(&site);
    assert_eq!(real["leads"][0]["ip"], "203.0.113.2");
    assert_eq!(real["delivery"]["outcome"], "sent");
}

#[test]
fn ten_scans_at_once_alert_each_lead_and_rule_exactly_once() {
    // No hourly limit in the way: a duplicate alert would make a second message.
    let site = site("[alerts]\nmax_emails_per_hour = 1000\n");
    let ips = ["203.0.113.1", "203.0.113.2", "2001:db8::3"];
    let lines: Vec<String> = ips
        .iter()
        .map(|ip| req(ip, "GET", "/pricing", 200, SAFARI, 5))
        .collect();
    site.append("access.log", &lines);
    track(
        &site,
        &[
            "api_call",
            "--user",
            "u1",
            "provider=openai",
            "cost=7.5",
            "latency_ms=100",
        ],
    );

    let children: Vec<_> = (0..10)
        .map(|_| {
            site.command()
                .args(["--wait", "120", "scan", "--json"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut leads = 0;
    let mut rules = 0;
    for child in children {
        let out = child.wait_with_output().unwrap();
        common::assert_success(&out);
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        leads += report["leads"].as_array().unwrap().len();
        rules += report["rules"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| !r["alert"].is_null())
            .count();
    }
    assert_eq!((leads, rules), (3, 1));
    let mails = outbox(&site);
    assert_eq!(mails.len(), 1, "one message in all");
    let text = text_part(&mails[0]);
    for ip in ips {
        assert_eq!(
            text.matches(&format!(") - {ip}, ")).count(),
            1,
            "{ip} once: {text}"
        );
    }
    assert_eq!(text.matches("API cost: alert").count(), 1);
}

#[test]
fn with_redis_down_leads_still_go_out_and_scan_exits_75() {
    let mut redis = RedisServer::start();
    let site = site(&format!("[events]\nstore = \"{}\"\n", redis.url()));
    site.append(
        "access.log",
        &[req("203.0.113.1", "GET", "/pricing", 200, SAFARI, 5)],
    );
    redis.stop();
    let (report, out) = scan(&site, &[]);
    assert_eq!(out.status.code(), Some(75), "{report:#}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("127.0.0.1:{}", redis.port)),
        "names the server: {stderr}"
    );
    assert_eq!(report["leads"].as_array().unwrap().len(), 1);
    assert_eq!(report["delivery"]["outcome"], "sent");
    assert!(
        report["rules"].as_array().unwrap().is_empty(),
        "no verdict without numbers"
    );
    assert_eq!(outbox(&site).len(), 1);

    let status = site.command().args(["status", "--json"]).output().unwrap();
    assert_eq!(status.status.code(), Some(1));
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["healthy"], false);
    assert_eq!(status["last_scan"]["status"], 75);

    redis.restart();
    let report = scan_ok(&site);
    assert_eq!(report["rules"].as_array().unwrap().len(), 4);
    assert!(
        report["leads"].as_array().unwrap().is_empty(),
        "the lead was not raised twice"
    );
}

#[test]
fn status_needs_a_scan_and_then_is_healthy() {
    let site = site("");
    site.append(
        "access.log",
        &[req("203.0.113.1", "GET", "/", 200, SAFARI, 5)],
    );
    let out = site.command().args(["status", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "no scan has run yet");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        report["logs"][0]["bytes"].as_u64().unwrap() > 0,
        "{report:#}"
    );

    scan_ok(&site);
    let out = site.command().args(["status"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("arkwatch is healthy"), "{text}");
    assert!(text.contains("0 bytes not ingested"), "{text}");

    // A held lock is named.
    let lock = arkwatch::state::StateLock::acquire(&site.data, std::time::Duration::ZERO).unwrap();
    let out = site.command().args(["status", "--json"]).output().unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let lock_check = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "lock")
        .unwrap()
        .clone();
    assert!(
        lock_check["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("pid {}", std::process::id())),
        "{lock_check}"
    );
    drop(lock);
}

#[test]
fn a_crash_around_the_send_never_loses_an_alert() {
    // The outbox is exactly-once: a message keeps its id from the moment it is frozen, and a
    // message written before a crash is not written again (it was at-least-once, 2 files).
    for (point, messages) in [("scan:before-send", 1), ("scan:after-send", 1)] {
        let site = site("");
        site.append(
            "access.log",
            &[req("203.0.113.1", "GET", "/pricing", 200, SAFARI, 5)],
        );
        let out = site
            .command()
            .env("ARKWATCH_CRASH_AT", point)
            .arg("scan")
            .output()
            .unwrap();
        assert!(!out.status.success(), "{point}: the run died");
        let sent_before = outbox(&site).len();
        let report = scan_ok(&site);
        assert!(
            report["leads"].as_array().unwrap().is_empty(),
            "{point}: the lead was saved as pending, not raised again: {report:#}"
        );
        let mails = outbox(&site);
        assert_eq!(
            mails.len(),
            messages,
            "{point} (sent before: {sent_before})"
        );
        assert!(text_part(mails.last().unwrap()).contains("203.0.113.1"));
    }
}

#[test]
fn an_smtp_login_without_a_password_is_a_config_error_before_anything_is_read() {
    let site = site(
        "[alerts]\nto = [\"a@acme.example\"]\n[smtp]\nhost = \"127.0.0.1\"\nport = 1\nusername = \"arkwatch\"\n",
    );
    site.append(
        "access.log",
        &[req("203.0.113.1", "GET", "/pricing", 200, SAFARI, 5)],
    );
    let out = site
        .command()
        .env_remove("ARKWATCH_SMTP_PASSWORD")
        .arg("scan")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("ARKWATCH_SMTP_PASSWORD") && stderr.contains("smtp.password_file"),
        "{stderr}"
    );
    assert!(!site.data.join("state.json").exists(), "nothing was read");
}
