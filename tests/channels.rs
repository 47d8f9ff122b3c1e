//! Slack, Telegram and Alertmanager-style webhooks, delivered to a real HTTP server on loopback
//! (`tests/support/http_server.py`, started by the test) that answers as each service does:
//! three channels at once, hostile visitor text, a Slack that is down for three runs, a 429 with
//! `Retry-After`, a rule that fires and resolves, a revoked webhook, a Telegram error, TLS with
//! a test CA, and no secret anywhere in what arkwatch prints or keeps.

mod common;

use std::process::Output;

use chrono::{DateTime, Duration, Utc};
use common::Site;
use common::http::HttpServer;
use serde_json::{Value, json};

const SAFARI: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15";
const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const NOW: &str = "2026-11-23T10:00:00Z";

const SLACK_PATH: &str = "/slack/T0000/B0000/SLACKSECRETXYZ";
const TOKEN: &str = "123456:TELEGRAM-SECRET-abc";
const BEARER: &str = "BEARER-SECRET-4711";

fn now() -> DateTime<Utc> {
    NOW.parse().unwrap()
}

fn req(ip: &str, path: &str, referer: &str, ua: &str, at: DateTime<Utc>) -> String {
    format!(
        "{ip} - - [{}] \"GET {path} HTTP/1.1\" 200 512 \"{referer}\" \"{ua}\"",
        at.format("%d/%b/%Y:%H:%M:%S +0000")
    )
}

/// A site with the three channels on `server` (and the outbox for email).
fn site(server: &HttpServer, extra: &str) -> Site {
    let dir = tempfile::tempdir().unwrap();
    let secrets = dir.keep();
    std::fs::write(
        secrets.join("slack"),
        format!("{}{SLACK_PATH}\n", server.base()),
    )
    .unwrap();
    std::fs::write(secrets.join("telegram"), format!("{TOKEN}\n")).unwrap();
    std::fs::write(secrets.join("bearer"), BEARER).unwrap();
    let ca = if server.base().starts_with("https") {
        format!("ca_file = \"{}\"\n", server.ca().display())
    } else {
        String::new()
    };
    let site = Site::new(&format!(
        "site_name = \"Acme\"\n[alerts]\nmax_emails_per_hour = 100\n{extra}\n\
         [[channel]]\ntype = \"slack\"\nwebhook_url_file = \"{s}/slack\"\n{ca}\n\
         [[channel]]\ntype = \"telegram\"\nbot_token_file = \"{s}/telegram\"\n\
         chat_id = \"-1001234567890\"\napi_base = \"{base}\"\n{ca}\n\
         [[channel]]\ntype = \"webhook\"\nurl = \"{base}/hook\"\nbearer_token_file = \"{s}/bearer\"\n{ca}",
        s = secrets.display(),
        base = server.base(),
    ));
    site.append("access.log", &[]);
    site
}

fn scan_at(site: &Site, at: DateTime<Utc>) -> (Value, Output) {
    let out = site
        .command()
        .env("ARKWATCH_NOW", at.to_rfc3339())
        .args(["scan", "--json"])
        .output()
        .unwrap();
    no_secret_in(site, &out);
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|err| {
        panic!(
            "scan printed no JSON ({err}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (json, out)
}

/// (f) No secret in the output, the errors, the state, the outbox or any file of the data dir.
fn no_secret_in(site: &Site, out: &Output) {
    let secrets = ["SLACKSECRETXYZ", TOKEN, "TELEGRAM-SECRET", BEARER];
    for stream in [&out.stdout, &out.stderr] {
        let text = String::from_utf8_lossy(stream);
        for s in secrets {
            assert!(!text.contains(s), "{s} leaked into the output: {text}");
        }
    }
    for entry in walk(&site.data) {
        let bytes = std::fs::read(&entry).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        for s in secrets {
            assert!(!text.contains(s), "{s} leaked into {}", entry.display());
        }
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn track(site: &Site, args: &[&str]) {
    let out = site
        .command()
        .env("ARKWATCH_NOW", NOW)
        .arg("track")
        .args(args)
        .output()
        .unwrap();
    common::assert_success(&out);
}

/// 30 commands and 3 errors: the error-rate rule fires.
fn errors_fire(site: &Site) {
    for i in 0..30 {
        track(
            site,
            &["command", "--user", &format!("u{i}"), "name=export"],
        );
    }
    for _ in 0..3 {
        track(site, &["error", "--user", "u1", "name=Timeout"]);
    }
}

fn three_leads(site: &Site) {
    let t = now();
    site.append(
        "access.log",
        &[
            req(
                "203.0.113.45",
                "/pricing?utm_source=linkedin&utm_campaign=autumn",
                "https://acme.example/",
                SAFARI,
                t - Duration::minutes(20),
            ),
            req(
                "203.0.113.45",
                "/trial",
                "https://acme.example/pricing",
                SAFARI,
                t - Duration::minutes(10),
            ),
            req(
                "198.51.100.7",
                "/demo",
                "https://www.google.com/",
                CHROME,
                t - Duration::minutes(9),
            ),
            req(
                "198.51.100.7",
                "/pricing",
                "https://acme.example/demo",
                CHROME,
                t - Duration::minutes(8),
            ),
            req(
                "192.0.2.9",
                "/pricing",
                "",
                SAFARI,
                t - Duration::minutes(5),
            ),
        ],
    );
}

fn schema_accepts(payload: &Value) {
    let schema: Value =
        serde_json::from_str(include_str!("support/alertmanager-webhook.schema.json")).unwrap();
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap();
    let errors: Vec<String> = validator
        .iter_errors(payload)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "the Alertmanager schema refuses the payload: {errors:#?}\n{payload:#}"
    );
}

fn channel<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["channel"] == name)
        .unwrap_or_else(|| panic!("no channel {name} in {report:#}"))
}

#[test]
fn one_scan_delivers_one_message_on_each_of_three_channels() {
    let server = HttpServer::start(TOKEN, false);
    let site = site(&server, "");
    three_leads(&site);
    errors_fire(&site);
    let (report, out) = scan_at(&site, now());
    common::assert_success(&out);
    for name in ["email", "slack", "telegram", "webhook"] {
        assert_eq!(
            channel(&report, name)["outcome"],
            "sent",
            "{name}: {report:#}"
        );
        assert_eq!(channel(&report, name)["pending"], 0);
    }
    assert_eq!(
        channel(&report, "slack")["to"],
        format!("Slack {}", server.base())
    );

    slack_took_one_message(&server);
    telegram_took_one_message(&server);
    webhook_took_one_alertmanager_payload(&server);

    // Email is one more channel: the outbox has its message.
    let outbox = walk(&site.data.join("outbox"));
    assert_eq!(
        outbox
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .count(),
        1
    );
}

/// Slack: one POST, its fallback text, a header, a section per lead by score, the alert.
fn slack_took_one_message(server: &HttpServer) {
    let slack = server.bodies("/slack");
    assert_eq!(slack.len(), 1, "{slack:#?}");
    let s = &slack[0];
    assert_eq!(s["unfurl_links"], false);
    assert_eq!(s["unfurl_media"], false);
    assert!(
        s["text"]
            .as_str()
            .unwrap()
            .starts_with("Acme: 3 hot leads, 1 alert"),
        "{s:#}"
    );
    let blocks = s["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    assert_eq!(blocks[0]["text"]["text"], "Acme: 3 hot leads, 1 alert");
    let sections: Vec<&str> = blocks[1..]
        .iter()
        .map(|b| b["text"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(sections.len(), 4, "{sections:#?}");
    assert!(
        sections[0].starts_with("*New very hot lead* · score 85 · `203.0.113.45`"),
        "{}",
        sections[0]
    );
    assert!(
        sections[0].contains("Safari on a Mac, from LinkedIn (campaign `autumn`), read `/pricing`, then `/trial` 10 minutes later."),
        "{}", sections[0]
    );
    assert!(
        sections[1].contains("198.51.100.7") && sections[1].contains("from Google"),
        "{}",
        sections[1]
    );
    assert!(
        sections[2].contains("192.0.2.9") && sections[2].contains("with no referrer"),
        "{}",
        sections[2]
    );
    assert!(
        sections[3].starts_with("*Error rate: alert*\nerror rate 10.0% (3 errors, 30 commands)"),
        "{}",
        sections[3]
    );
    assert!(sections.iter().all(|t| t.chars().count() <= 3000));
}

/// Telegram: one sendMessage to the chat, HTML, no link preview.
fn telegram_took_one_message(server: &HttpServer) {
    let requests = server.requests();
    let telegram: Vec<&Value> = requests
        .iter()
        .filter(|r| r["path"].as_str().unwrap().starts_with("/bot"))
        .collect();
    assert_eq!(telegram.len(), 1);
    assert_eq!(telegram[0]["path"], format!("/bot{TOKEN}/sendMessage"));
    let t: Value = serde_json::from_str(telegram[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(t["chat_id"], "-1001234567890");
    assert_eq!(t["parse_mode"], "HTML");
    assert_eq!(t["link_preview_options"]["is_disabled"], true);
    let text = t["text"].as_str().unwrap();
    assert!(text.starts_with("<b>Acme</b>: 3 hot leads, 1 alert\n\n<b>New very hot lead</b> · score 85 · <code>203.0.113.45</code>"), "{text}");
    assert!(
        text.contains("read <code>/pricing</code>, then <code>/trial</code> 10 minutes later."),
        "{text}"
    );
    assert!(text.contains("<b>Error rate: alert</b>"), "{text}");
    assert!(text.chars().count() < 4096);
}

/// The webhook: Alertmanager's payload, with the bearer token, that its schema accepts.
fn webhook_took_one_alertmanager_payload(server: &HttpServer) {
    let requests = server.requests();
    let hook: Vec<&Value> = requests.iter().filter(|r| r["path"] == "/hook").collect();
    assert_eq!(hook.len(), 1);
    assert_eq!(hook[0]["method"], "POST");
    assert_eq!(
        hook[0]["headers"]["authorization"],
        format!("Bearer {BEARER}")
    );
    assert_eq!(hook[0]["headers"]["content-type"], "application/json");
    let w: Value = serde_json::from_str(hook[0]["body"].as_str().unwrap()).unwrap();
    schema_accepts(&w);
    assert_eq!(w["version"], "4");
    assert_eq!(w["status"], "firing");
    assert_eq!(w["receiver"], "webhook");
    assert_eq!(w["groupLabels"], json!({"site": "Acme"}));
    assert_eq!(w["commonLabels"], json!({"site": "Acme"}));
    assert_eq!(w["externalURL"], "https://acme.example/");
    let alerts = w["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 4);
    let names: Vec<&str> = alerts
        .iter()
        .map(|a| a["labels"]["alertname"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["HotLead", "HotLead", "HotLead", "ErrorRate"]);
    let first = &alerts[0];
    assert_eq!(first["status"], "firing");
    assert_eq!(first["labels"]["severity"], "critical");
    assert_eq!(first["labels"]["tier"], "very_hot");
    assert_eq!(first["annotations"]["ip"], "203.0.113.45");
    assert!(
        first["annotations"]["summary"]
            .as_str()
            .unwrap()
            .starts_with("New very hot lead (score 85): Safari on a Mac, from LinkedIn"),
        "{first:#}"
    );
    assert_eq!(first["endsAt"], "0001-01-01T00:00:00Z");
    assert_eq!(alerts[1]["labels"]["severity"], "warning");
    assert_eq!(alerts[3]["labels"]["severity"], "warning");
    assert_eq!(alerts[3]["annotations"]["summary"], "Error rate: alert");
    assert_eq!(alerts[3]["startsAt"], "2026-11-23T10:00:00Z");
}

#[test]
fn the_schema_refuses_what_alertmanager_would_not_send() {
    let schema: Value =
        serde_json::from_str(include_str!("support/alertmanager-webhook.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let good = json!({"version": "4", "groupKey": "{}:{}", "status": "firing", "receiver": "r",
        "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "",
        "alerts": [{"status": "firing", "labels": {"alertname": "A"}, "annotations": {},
            "startsAt": "2026-11-23T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
            "fingerprint": "0123456789abcdef"}]});
    assert!(validator.is_valid(&good));
    for (pointer, bad) in [
        ("/status", json!("bogus")),
        ("/version", json!(4)),
        ("/alerts/0/labels/alertname", json!(1)),
        ("/alerts/0/fingerprint", json!("xyz")),
    ] {
        let mut payload = good.clone();
        *payload.pointer_mut(pointer).unwrap() = bad;
        assert!(!validator.is_valid(&payload), "{pointer}");
    }
}

#[test]
fn hostile_visitor_text_arrives_escaped_unlinked_and_without_a_mention_on_every_channel() {
    let server = HttpServer::start(TOKEN, false);
    let site = site(&server, "");
    let t = now();
    site.append(
        "access.log",
        &[req(
            "203.0.113.66",
            "/pricing/\\x0D\\x0ABcc:<script><https://evil.example|x>?utm_source=https://evil.example/x&utm_campaign=<!channel>",
            "javascript:alert(document.cookie)",
            &format!("{SAFARI} <script>alert(1)</script> <!here>"),
            t - Duration::minutes(3),
        ), req(
            "203.0.113.67",
            "/trial",
            "javascript:alert(document.cookie)",
            CHROME,
            t - Duration::minutes(2),
        )],
    );
    let (report, out) = scan_at(&site, now());
    common::assert_success(&out);
    assert_eq!(report["leads"].as_array().unwrap().len(), 2, "{report:#}");
    let requests = server.requests();
    assert_eq!(requests.len(), 3, "one message on each channel");
    for r in &requests {
        let body = r["body"].as_str().unwrap();
        let payload: Value = serde_json::from_str(body).unwrap();
        // Every string the channel shows, as the client receives it.
        let mut shown = Vec::new();
        strings(&payload, &mut shown);
        for text in &shown {
            for bad in [
                "<script>",
                "<!channel>",
                "<!here>",
                "<https://",
                "javascript:",
                "https://evil",
                "evil.example",
                "\r",
                "Bcc:<",
            ] {
                assert!(!text.contains(bad), "{} shows {bad:?}: {text}", r["path"]);
            }
        }
        let all = shown.join("\n");
        assert!(
            all.contains("evil[.]example"),
            "{}: the URL is there, defused: {all}",
            r["path"]
        );
    }
    let slack = &server.bodies("/slack")[0];
    let lead = slack["blocks"][2]["text"]["text"].as_str().unwrap();
    let other = slack["blocks"][1]["text"]["text"].as_str().unwrap();
    assert!(
        other.contains(
            "Chrome on Windows, with a referrer that is not a web address, read `/trial`."
        ),
        "{other}"
    );
    assert!(
        lead.contains("&lt;script&gt;alert(1)&lt;/script&gt; &lt;!here&gt;`"),
        "{lead}"
    );
    assert!(lead.contains("(campaign `&lt;!channel&gt;`)"), "{lead}");
    let telegram = &server.bodies("/bot")[0];
    let text = telegram["text"].as_str().unwrap();
    assert!(
        text.contains("&lt;script&gt;alert(1)&lt;/script&gt; &lt;!here&gt;</code>"),
        "{text}"
    );
    assert!(
        text.contains("(campaign <code>&lt;!channel&gt;</code>)"),
        "{text}"
    );
}

fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

fn lead_at(site: &Site, ip: &str, at: DateTime<Utc>) {
    site.append(
        "access.log",
        &[req(ip, "/trial", "https://www.google.com/", SAFARI, at)],
    );
}

#[test]
fn a_slack_down_for_three_runs_gets_every_lead_in_one_message_and_the_others_each_lead_once() {
    let server = HttpServer::start(TOKEN, false);
    let site = site(&server, "");
    let down = json!({"status": 500, "body": "internal_error"});
    server.script("/slack", json!([down, down, down]));
    let ips = ["203.0.113.1", "203.0.113.2", "203.0.113.3"];
    for (i, ip) in ips.iter().enumerate() {
        let at = now() + Duration::minutes(15 * i64::try_from(i).unwrap());
        lead_at(&site, ip, at - Duration::minutes(1));
        let (report, out) = scan_at(&site, at);
        assert_eq!(
            out.status.code(),
            Some(75),
            "Slack down is temporary: {report:#}"
        );
        assert_eq!(channel(&report, "slack")["outcome"], "failed");
        assert_eq!(channel(&report, "slack")["pending"], i + 1);
        assert_eq!(channel(&report, "telegram")["outcome"], "sent");
        assert_eq!(channel(&report, "webhook")["outcome"], "sent");
        let errors = report["errors"].to_string();
        assert!(
            errors.contains("Slack at http://127.0.0.1") && errors.contains("500"),
            "{errors}"
        );
    }
    let (report, out) = scan_at(&site, now() + Duration::minutes(45));
    common::assert_success(&out);
    assert_eq!(channel(&report, "slack")["outcome"], "sent");
    assert_eq!(channel(&report, "slack")["leads"], 3);

    let slack = server.bodies("/slack");
    assert_eq!(slack.len(), 4, "three refused, one taken");
    let taken = slack[3]["blocks"].to_string();
    for ip in ips {
        assert!(taken.contains(ip), "{ip} in the one Slack message: {taken}");
    }
    let telegram = server.bodies("/bot");
    let hook = server.bodies("/hook");
    assert_eq!(telegram.len(), 3);
    assert_eq!(hook.len(), 3);
    for ip in ips {
        let on_telegram = telegram
            .iter()
            .filter(|t| t["text"].as_str().unwrap().contains(ip))
            .count();
        let on_hook = hook
            .iter()
            .flat_map(|h| h["alerts"].as_array().unwrap().clone())
            .filter(|a| a["annotations"]["ip"] == ip)
            .count();
        assert_eq!(
            (on_telegram, on_hook),
            (1, 1),
            "{ip} exactly once on Telegram and the webhook"
        );
    }
}

#[test]
fn a_429_keeps_the_alert_pending_without_sleeping_and_the_run_after_retry_after_delivers_it() {
    let server = HttpServer::start(TOKEN, false);
    let site = site(&server, "");
    server.script(
        "/slack",
        json!([{"status": 429, "body": "rate_limited", "headers": {"Retry-After": "120"}}]),
    );
    lead_at(&site, "203.0.113.9", now() - Duration::minutes(1));
    let started = std::time::Instant::now();
    let (report, out) = scan_at(&site, now());
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "the run did not wait"
    );
    assert_eq!(out.status.code(), Some(75), "{report:#}");
    let slack = channel(&report, "slack");
    assert_eq!(slack["outcome"], "failed");
    assert_eq!(slack["retry_at"], "2026-11-23T10:02:00Z");
    assert_eq!(slack["pending"], 1);
    assert!(
        report["errors"].to_string().contains("asks for 120 s"),
        "{report:#}"
    );

    // A minute later: still inside Retry-After, Slack is not asked at all.
    let (report, out) = scan_at(&site, now() + Duration::minutes(1));
    common::assert_success(&out);
    assert_eq!(channel(&report, "slack")["outcome"], "waiting");
    assert_eq!(channel(&report, "slack")["until"], "2026-11-23T10:02:00Z");
    assert_eq!(server.bodies("/slack").len(), 1);

    let (report, out) = scan_at(&site, now() + Duration::seconds(121));
    common::assert_success(&out);
    assert_eq!(channel(&report, "slack")["outcome"], "sent");
    assert_eq!(channel(&report, "slack")["pending"], 0);
    let slack = server.bodies("/slack");
    assert_eq!(slack.len(), 2);
    assert!(slack[1]["text"].as_str().unwrap().contains("203.0.113.9"));
    assert_eq!(
        server.bodies("/bot").len(),
        1,
        "Telegram delivered on the first run, once"
    );
}

#[test]
fn a_rule_that_fires_then_resolves_sends_firing_then_resolved_with_one_fingerprint() {
    let server = HttpServer::start(TOKEN, false);
    let site = site(&server, "");
    errors_fire(&site);
    let (_, out) = scan_at(&site, now());
    common::assert_success(&out);
    for i in 0..40 {
        track(
            &site,
            &["command", "--user", &format!("v{i}"), "name=export"],
        );
    }
    let (report, out) = scan_at(&site, now() + Duration::minutes(10));
    common::assert_success(&out);
    assert_eq!(channel(&report, "webhook")["outcome"], "sent", "{report:#}");
    let hook = server.bodies("/hook");
    assert_eq!(hook.len(), 2);
    for h in &hook {
        schema_accepts(h);
    }
    let (fired, resolved) = (&hook[0]["alerts"][0], &hook[1]["alerts"][0]);
    assert_eq!(hook[0]["status"], "firing");
    assert_eq!(hook[1]["status"], "resolved");
    assert_eq!(fired["status"], "firing");
    assert_eq!(resolved["status"], "resolved");
    assert_eq!(fired["labels"], resolved["labels"]);
    assert_eq!(fired["labels"]["alertname"], "ErrorRate");
    assert_eq!(fired["fingerprint"], resolved["fingerprint"]);
    assert_eq!(fired["startsAt"], "2026-11-23T10:00:00Z");
    assert_eq!(
        resolved["startsAt"], "2026-11-23T10:00:00Z",
        "since it began"
    );
    assert_eq!(resolved["endsAt"], "2026-11-23T10:10:00Z");
    assert_eq!(fired["endsAt"], "0001-01-01T00:00:00Z");
    let slack = server.bodies("/slack");
    assert!(
        slack[1]["text"]
            .as_str()
            .unwrap()
            .contains("Error rate: resolved")
    );
}

#[test]
fn a_revoked_slack_webhook_and_a_telegram_error_are_permanent_with_a_hint_and_keep_the_alerts() {
    let server = HttpServer::start(TOKEN, false);
    let site = site(&server, "");
    server.script("/slack", json!([{"status": 404, "body": "no_service"}]));
    server.script("/bot", json!([{"status": 400, "body": {"ok": false, "error_code": 400, "description": "Bad Request: chat not found"}}]));
    lead_at(&site, "203.0.113.5", now() - Duration::minutes(1));
    let (report, out) = scan_at(&site, now());
    assert_eq!(out.status.code(), Some(1), "a refusal for good: {report:#}");
    let errors = report["errors"].to_string();
    assert!(
        errors.contains("no longer exists") && errors.contains("create a new incoming webhook"),
        "{errors}"
    );
    assert!(
        errors.contains("Bad Request: chat not found") && errors.contains("chat_id"),
        "{errors}"
    );
    assert_eq!(channel(&report, "slack")["pending"], 1);
    assert_eq!(channel(&report, "telegram")["pending"], 1);
    assert_eq!(channel(&report, "webhook")["outcome"], "sent");

    // status names each channel, its queue and its last error, without a secret.
    let out = site
        .command()
        .env("ARKWATCH_NOW", NOW)
        .args(["status", "--json"])
        .output()
        .unwrap();
    no_secret_in(&site, &out);
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    let slack = status["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["channel"] == "slack")
        .unwrap();
    assert_eq!(slack["to"], format!("Slack {}", server.base()));
    assert_eq!(slack["pending"], 1);
    assert!(slack["last_error"].as_str().unwrap().contains("404"));
    let webhook = status["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["channel"] == "webhook")
        .unwrap();
    assert_eq!(webhook["reachable"], true);
    assert!(webhook["last_sent"].is_string());
    let out = site
        .command()
        .env("ARKWATCH_NOW", NOW)
        .arg("status")
        .output()
        .unwrap();
    no_secret_in(&site, &out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("slack") && text.contains("telegram") && text.contains("webhook"),
        "{text}"
    );

    // Mended: the next run delivers what waited, once.
    let (report, out) = scan_at(&site, now() + Duration::minutes(15));
    common::assert_success(&out);
    assert_eq!(channel(&report, "slack")["outcome"], "sent");
    assert_eq!(channel(&report, "telegram")["outcome"], "sent");
    assert_eq!(server.bodies("/hook").len(), 1);
}

#[test]
fn channels_deliver_over_tls_to_a_server_with_a_test_ca() {
    let server = HttpServer::start(TOKEN, true);
    let site = site(&server, "");
    lead_at(&site, "203.0.113.8", now() - Duration::minutes(1));
    let (report, out) = scan_at(&site, now());
    common::assert_success(&out);
    for name in ["slack", "telegram", "webhook"] {
        assert_eq!(
            channel(&report, name)["outcome"],
            "sent",
            "{name}: {report:#}"
        );
    }
    assert_eq!(server.requests().len(), 3);
}

#[test]
fn a_server_whose_certificate_is_not_trusted_is_denied_and_keeps_the_alerts() {
    let server = HttpServer::start(TOKEN, true);
    let dir = tempfile::tempdir().unwrap();
    let url = dir.path().join("slack");
    std::fs::write(&url, format!("{}{SLACK_PATH}", server.base())).unwrap();
    let site = Site::new(&format!(
        "[alerts]\nmax_emails_per_hour = 100\n[[channel]]\ntype = \"slack\"\nwebhook_url_file = \"{}\"\n",
        url.display()
    ));
    site.append("access.log", &[]);
    lead_at(&site, "203.0.113.8", now() - Duration::minutes(1));
    let (report, out) = scan_at(&site, now());
    assert_eq!(out.status.code(), Some(77), "{report:#}");
    assert!(
        report["errors"]
            .to_string()
            .contains("TLS with Slack at https://127.0.0.1"),
        "{report:#}"
    );
    assert_eq!(channel(&report, "slack")["pending"], 1);
    assert_eq!(channel(&report, "email")["outcome"], "sent");
}

#[test]
fn plain_http_to_another_host_and_a_secret_in_the_config_are_refused_at_load() {
    let site = Site::new("[[channel]]\ntype = \"webhook\"\nurl = \"http://hooks.example/x\"\n");
    let out = site.command().args(["scan"]).output().unwrap();
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("channel[0].url") && err.contains("only allowed to this machine"),
        "{err}"
    );

    let site =
        Site::new("[[channel]]\ntype = \"slack\"\nurl = \"https://hooks.slack.com/services/x\"\n");
    let out = site.command().args(["scan"]).output().unwrap();
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("webhook_url_file"));

    // A Slack URL from the environment, and a file that is missing, named without its content.
    let site =
        Site::new("[[channel]]\ntype = \"slack\"\nwebhook_url_file = \"/nonexistent/slack\"\n");
    site.append("access.log", &[]);
    lead_at(&site, "203.0.113.4", now() - Duration::minutes(1));
    let out = site
        .command()
        .env("ARKWATCH_NOW", NOW)
        .args(["scan"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("channel[0].webhook_url_file: cannot read /nonexistent/slack"),
        "{err}"
    );
    let server = HttpServer::start(TOKEN, false);
    let out = site
        .command()
        .env("ARKWATCH_NOW", NOW)
        .env(
            "ARKWATCH_SLACK_WEBHOOK_URL",
            format!("{}{SLACK_PATH}", server.base()),
        )
        .args(["scan", "--json"])
        .output()
        .unwrap();
    no_secret_in(&site, &out);
    common::assert_success(&out);
    assert_eq!(server.bodies("/slack").len(), 1);
}

#[test]
fn a_long_digest_goes_to_telegram_in_ordered_parts_and_a_retry_goes_on_from_the_part_not_taken() {
    let server = HttpServer::start(TOKEN, false);
    let site = site(&server, "");
    let lines: Vec<String> = (0..40)
        .map(|i| {
            req(
                &format!("198.51.100.{}", i + 1),
                &format!("/pricing/plan-{i}"),
                "https://www.google.com/",
                SAFARI,
                now() - Duration::minutes(50 - i),
            )
        })
        .collect();
    site.append("access.log", &lines);
    let ok = json!({"status": 200, "body": {"ok": true, "result": {}}});
    server.script("/bot", json!([ok, {"status": 502, "body": "Bad Gateway"}]));
    let (report, out) = scan_at(&site, now());
    assert_eq!(out.status.code(), Some(75), "{report:#}");
    let first: Vec<String> = texts(&server);
    assert_eq!(first.len(), 2, "one part taken, one refused");

    let (report, out) = scan_at(&site, now() + Duration::minutes(15));
    common::assert_success(&out);
    assert_eq!(
        channel(&report, "telegram")["outcome"],
        "sent",
        "{report:#}"
    );
    let all = texts(&server);
    let taken: Vec<&String> = std::iter::once(&all[0]).chain(&all[2..]).collect();
    assert!(
        taken.len() >= 3,
        "40 leads need several messages: {}",
        taken.len()
    );
    assert_eq!(
        all[1], all[2],
        "the refused part is sent again, not the first"
    );
    assert!(taken[0].starts_with("<b>Acme</b>: 40 hot leads"));
    let mut seen = Vec::new();
    for text in &taken {
        assert!(
            text.chars().count() < 4096,
            "{} characters",
            text.chars().count()
        );
        for i in 0..40 {
            if text.contains(&format!("<code>198.51.100.{}</code>", i + 1)) {
                seen.push(i + 1);
            }
        }
    }
    assert_eq!(
        seen.len(),
        40,
        "each lead exactly once across the parts: {seen:?}"
    );
    let mut sorted = seen.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), 40);
}

fn texts(server: &HttpServer) -> Vec<String> {
    server
        .bodies("/bot")
        .iter()
        .map(|b| b["text"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn report_send_delivers_the_report_to_every_channel_that_takes_reports() {
    let server = HttpServer::start(TOKEN, false);
    let site = site(&server, "");
    three_leads(&site);
    let (_, out) = scan_at(&site, now());
    common::assert_success(&out);
    let before = server.requests().len();
    let out = site
        .command()
        .env("ARKWATCH_NOW", "2026-11-24T08:00:00Z")
        .args(["report", "daily", "--send"])
        .output()
        .unwrap();
    no_secret_in(&site, &out);
    common::assert_success(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    for to in [
        "outbox",
        "Slack http://127.0.0.1",
        "Telegram http://127.0.0.1",
        "webhook http://127.0.0.1",
    ] {
        assert!(
            stderr.contains(&format!("sent \"Daily report, 2026-11-23\" to {to}")),
            "{to}: {stderr}"
        );
    }
    let after = &server.requests()[before..];
    assert_eq!(after.len(), 3);
    let slack = &server.bodies("/slack")[1];
    let blocks = slack["blocks"].to_string();
    assert!(
        blocks.contains("Daily report, 2026-11-23") && blocks.contains("```"),
        "{blocks}"
    );
    assert!(blocks.contains("203.0.113.45"), "the top lead: {blocks}");
    let telegram = &server.bodies("/bot")[1];
    assert!(
        telegram["text"].as_str().unwrap().contains("<pre>"),
        "{telegram:#}"
    );
    let hook = &server.bodies("/hook")[1];
    schema_accepts(hook);
    assert_eq!(hook["alerts"][0]["labels"]["alertname"], "Report");
}

#[test]
fn each_channel_has_its_own_hourly_limit_and_a_dry_run_shows_each_message() {
    let server = HttpServer::start(TOKEN, false);
    let site = site(&server, "");
    // Slack at most once an hour; the others at the [alerts] default of this site (100).
    let config = std::fs::read_to_string(&site.config).unwrap().replacen(
        "type = \"slack\"\n",
        "type = \"slack\"\nmax_messages_per_hour = 1\n",
        1,
    );
    std::fs::write(&site.config, config).unwrap();
    lead_at(&site, "203.0.113.21", now() - Duration::minutes(1));
    let (_, out) = scan_at(&site, now());
    common::assert_success(&out);
    lead_at(&site, "203.0.113.22", now() + Duration::minutes(14));
    let dry = site
        .command()
        .env("ARKWATCH_NOW", (now() + Duration::minutes(15)).to_rfc3339())
        .args(["scan", "--dry-run", "--json"])
        .output()
        .unwrap();
    no_secret_in(&site, &dry);
    let dry: Value = serde_json::from_slice(&dry.stdout).unwrap();
    assert_eq!(channel(&dry, "slack")["outcome"], "would_wait", "{dry:#}");
    assert_eq!(channel(&dry, "telegram")["outcome"], "would_send");
    assert!(
        channel(&dry, "telegram")["text"]
            .as_str()
            .unwrap()
            .contains("203.0.113.22")
    );
    assert_eq!(server.bodies("/bot").len(), 1, "a dry run sends nothing");

    let (report, out) = scan_at(&site, now() + Duration::minutes(15));
    common::assert_success(&out);
    assert_eq!(channel(&report, "slack")["outcome"], "rate_limited");
    assert_eq!(
        channel(&report, "slack")["next_allowed"],
        "2026-11-23T11:00:00Z"
    );
    assert_eq!(channel(&report, "telegram")["outcome"], "sent");
    assert_eq!(server.bodies("/slack").len(), 1);
    let (report, _) = scan_at(&site, now() + Duration::minutes(61));
    assert_eq!(channel(&report, "slack")["outcome"], "sent");
    assert!(
        server.bodies("/slack")[1]["text"]
            .as_str()
            .unwrap()
            .contains("203.0.113.22")
    );
}

#[test]
fn purge_ip_takes_a_lead_out_of_every_channel_queue() {
    let server = HttpServer::start(TOKEN, false);
    let site = site(&server, "");
    let down = json!({"status": 503, "body": "down"});
    server.script("/slack", json!([down]));
    server.script("/bot", json!([down]));
    lead_at(&site, "203.0.113.31", now() - Duration::minutes(2));
    lead_at(&site, "203.0.113.32", now() - Duration::minutes(1));
    let (report, _) = scan_at(&site, now());
    assert_eq!(channel(&report, "slack")["pending"], 2);
    assert_eq!(channel(&report, "telegram")["pending"], 2);
    let out = site
        .command()
        .env("ARKWATCH_NOW", NOW)
        .args(["purge-ip", "203.0.113.31"])
        .output()
        .unwrap();
    common::assert_success(&out);
    let state = std::fs::read_to_string(site.data.join("state.json")).unwrap();
    assert!(!state.contains("203.0.113.31"), "{state}");
    assert!(state.contains("203.0.113.32"));
    let (slack, telegram) = (server.bodies("/slack").len(), server.bodies("/bot").len());
    let (report, out) = scan_at(&site, now() + Duration::minutes(15));
    common::assert_success(&out);
    assert_eq!(channel(&report, "slack")["leads"], 1);
    let after = server.bodies("/slack")[slack..].to_vec();
    assert_eq!(after.len(), 1);
    for body in after.iter().chain(&server.bodies("/bot")[telegram..]) {
        assert!(!body.to_string().contains("203.0.113.31"), "{body}");
    }
}

#[test]
fn status_with_a_channel_that_cannot_be_set_up_still_answers_and_names_it() {
    let site = Site::new(
        "[alerts]\nto = [\"f@acme.example\"]\n[smtp]\nhost = \"127.0.0.1\"\nsecurity = \"none\"\nusername = \"arkwatch\"\n",
    );
    let out = site
        .command()
        .env_remove("ARKWATCH_SMTP_PASSWORD")
        .args(["status", "--json", "--offline"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mail = status["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "mail" && c["ok"] == false)
        .unwrap_or_else(|| panic!("{status:#}"));
    assert!(
        mail["detail"]
            .as_str()
            .unwrap()
            .contains("ARKWATCH_SMTP_PASSWORD"),
        "{mail}"
    );
}
