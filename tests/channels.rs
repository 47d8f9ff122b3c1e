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
    std::fs::write(secrets.join("slack"), format!("{}{SLACK_PATH}\n", server.base())).unwrap();
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
        track(site, &["command", "--user", &format!("u{i}"), "name=export"]);
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
            req("203.0.113.45", "/pricing?utm_source=linkedin&utm_campaign=autumn", "https://acme.example/", SAFARI, t - Duration::minutes(20)),
            req("203.0.113.45", "/trial", "https://acme.example/pricing", SAFARI, t - Duration::minutes(10)),
            req("198.51.100.7", "/demo", "https://www.google.com/", CHROME, t - Duration::minutes(9)),
            req("198.51.100.7", "/pricing", "https://acme.example/demo", CHROME, t - Duration::minutes(8)),
            req("192.0.2.9", "/pricing", "", SAFARI, t - Duration::minutes(5)),
        ],
    );
}

fn schema_accepts(payload: &Value) {
    let schema: Value = serde_json::from_str(include_str!("support/alertmanager-webhook.schema.json")).unwrap();
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap();
    let errors: Vec<String> = validator.iter_errors(payload).map(|e| format!("{e} at {}", e.instance_path())).collect();
    assert!(errors.is_empty(), "the Alertmanager schema refuses the payload: {errors:#?}\n{payload:#}");
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
        assert_eq!(channel(&report, name)["outcome"], "sent", "{name}: {report:#}");
        assert_eq!(channel(&report, name)["pending"], 0);
    }
    assert_eq!(channel(&report, "slack")["to"], format!("Slack {}", server.base()));

    // Slack: one POST, its fallback text, a header, a section per lead by score, the alert.
    let slack = server.bodies("/slack");
    assert_eq!(slack.len(), 1, "{slack:#?}");
    let s = &slack[0];
    assert_eq!(s["unfurl_links"], false);
    assert_eq!(s["unfurl_media"], false);
    assert!(s["text"].as_str().unwrap().starts_with("Acme: 3 hot leads, 1 alert"), "{s:#}");
    let blocks = s["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    assert_eq!(blocks[0]["text"]["text"], "Acme: 3 hot leads, 1 alert");
    let sections: Vec<&str> = blocks[1..].iter().map(|b| b["text"]["text"].as_str().unwrap()).collect();
    assert_eq!(sections.len(), 4, "{sections:#?}");
    assert!(sections[0].starts_with("*New very hot lead* · score 85 · 203.0.113.45"), "{}", sections[0]);
    assert!(
        sections[0].contains("Safari on a Mac, from LinkedIn (campaign `autumn`), read `/pricing`, then `/trial` 10 minutes later."),
        "{}", sections[0]
    );
    assert!(sections[1].contains("198.51.100.7") && sections[1].contains("from Google"), "{}", sections[1]);
    assert!(sections[2].contains("192.0.2.9") && sections[2].contains("with no referrer"), "{}", sections[2]);
    assert!(sections[3].starts_with("*Error rate: alert*\nerror rate 10.0% (3 errors, 30 commands)"), "{}", sections[3]);
    assert!(sections.iter().all(|t| t.chars().count() <= 3000));

    // Telegram: one sendMessage to the chat, HTML, no link preview.
    let requests = server.requests();
    let telegram: Vec<&Value> = requests.iter().filter(|r| r["path"].as_str().unwrap().starts_with("/bot")).collect();
    assert_eq!(telegram.len(), 1);
    assert_eq!(telegram[0]["path"], format!("/bot{TOKEN}/sendMessage"));
    let t: Value = serde_json::from_str(telegram[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(t["chat_id"], "-1001234567890");
    assert_eq!(t["parse_mode"], "HTML");
    assert_eq!(t["link_preview_options"]["is_disabled"], true);
    let text = t["text"].as_str().unwrap();
    assert!(text.starts_with("<b>Acme</b>: 3 hot leads, 1 alert\n\n<b>New very hot lead</b> · score 85 · <code>203.0.113.45</code>"), "{text}");
    assert!(text.contains("read <code>/pricing</code>, then <code>/trial</code> 10 minutes later."), "{text}");
    assert!(text.contains("<b>Error rate: alert</b>"), "{text}");
    assert!(text.chars().count() < 4096);

    // The webhook: Alertmanager's payload, with the bearer token, that its schema accepts.
    let hook: Vec<&Value> = requests.iter().filter(|r| r["path"] == "/hook").collect();
    assert_eq!(hook.len(), 1);
    assert_eq!(hook[0]["method"], "POST");
    assert_eq!(hook[0]["headers"]["authorization"], format!("Bearer {BEARER}"));
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
    let names: Vec<&str> = alerts.iter().map(|a| a["labels"]["alertname"].as_str().unwrap()).collect();
    assert_eq!(names, ["HotLead", "HotLead", "HotLead", "ErrorRate"]);
    let first = &alerts[0];
    assert_eq!(first["status"], "firing");
    assert_eq!(first["labels"]["severity"], "critical");
    assert_eq!(first["labels"]["tier"], "very_hot");
    assert_eq!(first["annotations"]["ip"], "203.0.113.45");
    assert!(first["annotations"]["summary"].as_str().unwrap().starts_with("New very hot lead (score 85): Safari on a Mac, from LinkedIn"), "{first:#}");
    assert_eq!(first["endsAt"], "0001-01-01T00:00:00Z");
    assert_eq!(alerts[1]["labels"]["severity"], "warning");
    assert_eq!(alerts[3]["labels"]["severity"], "warning");
    assert_eq!(alerts[3]["annotations"]["summary"], "Error rate: alert");
    assert_eq!(alerts[3]["startsAt"], "2026-11-23T10:00:00Z");

    // Email is one more channel: the outbox has its message.
    let outbox = walk(&site.data.join("outbox"));
    assert_eq!(outbox.iter().filter(|p| p.extension().is_some_and(|e| e == "eml")).count(), 1);
}

#[test]
fn the_schema_refuses_what_alertmanager_would_not_send() {
    let schema: Value = serde_json::from_str(include_str!("support/alertmanager-webhook.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let good = json!({"version": "4", "groupKey": "{}:{}", "status": "firing", "receiver": "r",
        "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "",
        "alerts": [{"status": "firing", "labels": {"alertname": "A"}, "annotations": {},
            "startsAt": "2026-11-23T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
            "fingerprint": "0123456789abcdef"}]});
    assert!(validator.is_valid(&good));
    for (pointer, bad) in [("/status", json!("bogus")), ("/version", json!(4)),
        ("/alerts/0/labels/alertname", json!(1)), ("/alerts/0/fingerprint", json!("xyz"))] {
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
            for bad in ["<script>", "<!channel>", "<!here>", "<https://", "javascript:", "https://evil", "evil.example", "\r", "Bcc:<"] {
                assert!(!text.contains(bad), "{} shows {bad:?}: {text}", r["path"]);
            }
        }
        let all = shown.join("\n");
        assert!(all.contains("evil[.]example"), "{}: the URL is there, defused: {all}", r["path"]);
    }
    let slack = &server.bodies("/slack")[0];
    let lead = slack["blocks"][2]["text"]["text"].as_str().unwrap();
    let other = slack["blocks"][1]["text"]["text"].as_str().unwrap();
    assert!(other.contains("Chrome on Windows, with a referrer that is not a web address, read `/trial`."), "{other}");
    assert!(lead.contains("&lt;script&gt;alert(1)&lt;/script&gt; &lt;!here&gt;`"), "{lead}");
    assert!(lead.contains("(campaign `&lt;!channel&gt;`)"), "{lead}");
    let telegram = &server.bodies("/bot")[0];
    let text = telegram["text"].as_str().unwrap();
    assert!(text.contains("&lt;script&gt;alert(1)&lt;/script&gt; &lt;!here&gt;</code>"), "{text}");
    assert!(text.contains("(campaign <code>&lt;!channel&gt;</code>)"), "{text}");
}

fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}
