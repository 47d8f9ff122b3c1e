//! `metrics` and `report` on the fixture week (`fixtures/metrics/`): every metric against a
//! value computed by hand, the Prometheus text through a real parser, CSV, the reports as
//! snapshots, the HTML chart, and a monthly report that stays right after old events are
//! trimmed.

mod common;

use mailparse::MailHeaderMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

struct Fixture {
    _dir: tempfile::TempDir,
    config: PathBuf,
    data: PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/metrics");
    for name in ["arkwatch.toml", "access.log"] {
        std::fs::copy(src.join(name), dir.path().join(name)).unwrap();
    }
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("secret.key"), format!("{}\n", common::KEY)).unwrap();
    std::fs::copy(src.join("events.jsonl"), data.join("events.jsonl")).unwrap();
    Fixture {
        config: dir.path().join("arkwatch.toml"),
        data,
        _dir: dir,
    }
}

fn run(f: &Fixture, args: &[&str]) -> Output {
    let out = std::process::Command::new(common::BIN)
        .arg("--config")
        .arg(&f.config)
        .args(args)
        .env_remove("ARKWATCH_CONFIG")
        .env_remove("ARKWATCH_DATA_DIR")
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    common::assert_success(&out);
    out
}

fn week_json(f: &Fixture) -> Value {
    let out = run(
        f,
        &[
            "metrics",
            "all",
            "--json",
            "--since",
            "2026-11-01",
            "--until",
            "2026-11-07",
        ],
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The hand computation is in the comments: the fixture's events and log lines, one by one.
#[test]
#[expect(
    clippy::too_many_lines,
    reason = "a scenario reads top to bottom, one step after the other"
)]
fn every_metric_of_the_fixture_week_equals_its_hand_computed_value() {
    let f = fixture();
    let m = week_json(&f);
    let keys: Vec<&str> = m.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "costs",
            "customers",
            "engagement",
            "funnel",
            "leads",
            "period",
            "revenue",
            "traffic",
            "users"
        ]
    );
    assert_eq!(m["period"]["currency"], "USD");
    assert_eq!(m["period"]["days"], 7);

    let u = &m["users"];
    // u1..u6 are all known by the end of 2026-11-07.
    assert_eq!(u["total"], 6);
    // Paying at the end: u1 (pro 30), u4 (pro 30), u6 (basic, down to 5); u3 cancelled.
    assert_eq!(u["premium"], 3);
    assert_eq!(u["free"], 3);
    // Registrations: u1 and u2 on the 1st, u3 on the 2nd, u5 on the 4th.
    assert_eq!(u["new_registrations"], 4);
    assert_eq!(u["registrations_per_day"]["2026-11-01"], 2);
    assert_eq!(u["registrations_per_day"]["2026-11-04"], 1);
    assert_eq!(u["registrations_per_day"]["2026-11-07"], 0);
    // On the 7th only u4 did anything; all six did something in the week and the month.
    assert_eq!(
        (u["dau"].as_u64(), u["wau"].as_u64(), u["mau"].as_u64()),
        (Some(1), Some(6), Some(6))
    );
    assert!((u["stickiness"].as_f64().unwrap() - 1.0 / 6.0).abs() < 1e-9);

    let r = &m["revenue"];
    assert_eq!(r["mrr"], 65.0, "30 + 30 + 5");
    assert_eq!(r["arr"], 780.0);
    assert_eq!(r["arpu"], 21.67, "65 / 3");
    // New: u1 30, u3 10. Expansion: u3 10 -> 30. Contraction: u6 10 -> 5. Churn: u3's 30.
    assert_eq!(r["mrr_new"], 40.0);
    assert_eq!(r["mrr_expansion"], 20.0);
    assert_eq!(r["mrr_contraction"], 5.0);
    assert_eq!(r["mrr_churned"], 30.0);
    assert_eq!(
        r["net_new_mrr"], 25.0,
        "40 + 20 - 5 - 30: from 40 at the start to 65"
    );
    // Paying at the start: u4 and u6. Lost in the week: u3 (who was not paying at the start,
    // as the definition counts every paying user lost in the period).
    assert_eq!(r["paying_at_start"], 2);
    assert_eq!(r["paying_lost"], 1);
    assert_eq!(r["customer_churn_rate"], 0.5);
    // The 30 days to the 7th: u4 paying at their start (u6 converted on 10-26); u3 lost.
    assert_eq!(r["monthly_churn_rate"], 1.0);
    assert_eq!(r["ltv"], 21.67, "ARPU / 1.0");
    // Registered in the week: u1, u2, u3, u5; converted by its end: u1, u3.
    assert_eq!(r["registrations"], 4);
    assert_eq!(r["converted_registrations"], 2);
    assert_eq!(r["conversion_rate"], 0.5);

    let e = &m["engagement"];
    // export x2 (u1), import (u2), export (u4); one Timeout error.
    assert_eq!(e["commands"], 4);
    assert_eq!(e["top_commands"][0]["name"], "export");
    assert_eq!(e["top_commands"][0]["count"], 3);
    assert_eq!(e["top_commands"][1]["name"], "import");
    assert_eq!(e["errors"], 1);
    assert_eq!(e["error_rate"], 0.25);

    let c = &m["costs"];
    assert_eq!(c["api_cost"], 1.75, "0.50 + 0.25 + 1.00");
    assert_eq!(c["api_calls"], 3);
    let anthropic = &c["providers"][0];
    assert_eq!(
        (anthropic["provider"].as_str(), anthropic["calls"].as_u64()),
        (Some("anthropic"), Some(1))
    );
    assert_eq!(anthropic["latency_p50_ms"], 200);
    let openai = &c["providers"][1];
    assert_eq!(openai["cost"], 0.75);
    // Latencies 100 and 300: nearest rank 1 of 2 for p50, 2 of 2 for p95.
    assert_eq!(
        (
            openai["latency_p50_ms"].as_u64(),
            openai["latency_p95_ms"].as_u64()
        ),
        (Some(100), Some(300))
    );
    assert_eq!(c["infra_cost_per_month"], 300.0);
    assert_eq!(c["infra_cost"], 70.0, "300 x 7 / 30");
    assert_eq!(c["active_users"], 6);
    assert_eq!(c["cost_per_active_user"], 11.9583, "(1.75 + 70) / 6");

    let t = &m["traffic"];
    // Eleven lines, all parse; one by Googlebot.
    assert_eq!(t["hits"], 11);
    assert_eq!(t["bot_hits"], 1);
    assert!((t["bot_share"].as_f64().unwrap() - 1.0 / 11.0).abs() < 1e-9);
    // Not pageviews: the stylesheet, the bot, the 404 and the HEAD.
    assert_eq!(t["pageviews"], 7);
    // 1st: .1 Safari and .2 Firefox; 2nd: .1 Safari and .3 Chrome; 5th: .5 Safari.
    assert_eq!(t["unique_visitors"], 5);
    assert_eq!(t["status"]["2xx"], 10);
    assert_eq!(t["status"]["4xx"], 1);
    let pages: Vec<(String, u64)> = t["top_pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        pages,
        [
            ("/demo", 2),
            ("/pricing", 2),
            ("/", 1),
            ("/pricing/team", 1),
            ("/trial", 1)
        ]
        .map(|(p, n)| (p.to_string(), n))
    );
    let referrers: Vec<(&str, u64)> = t["top_referrers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), p["count"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        referrers,
        [
            ("www.google.com", 2),
            ("news.ycombinator.com", 1),
            ("www.linkedin.com", 1)
        ]
    );
    let tracked: Vec<(&str, u64)> = t["tracked_pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["page"].as_str().unwrap(),
                p["pageviews"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(tracked, [("/trial", 1), ("/pricing", 3), ("/demo", 2)]);
    // /pricing visitors: .1 on the 1st and the 2nd, .5 on the 5th: 3 of 5.
    assert_eq!(t["pricing_visitor_share"], 0.6);

    let steps = m["funnel"]["steps"].as_array().unwrap();
    let funnel: Vec<(&str, u64)> = steps
        .iter()
        .map(|s| (s["step"].as_str().unwrap(), s["visitors"].as_u64().unwrap()))
        .collect();
    assert_eq!(funnel, [("/demo", 2), ("/pricing", 3), ("/trial", 1)]);
    assert_eq!(steps[1]["conversion_from_previous"], 1.5);
    assert!((steps[2]["conversion_from_previous"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-9);
}

#[test]
fn prometheus_text_is_accepted_by_the_python_client_parser() {
    let f = fixture();
    let prom = f.data.parent().unwrap().join("arkwatch.prom");
    run(
        &f,
        &[
            "metrics",
            "--prometheus",
            "--since",
            "2026-11-01",
            "--until",
            "2026-11-07",
            "--out",
            prom.to_str().unwrap(),
        ],
    );
    let script = r#"
import sys
try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    sys.exit("python3-prometheus-client is missing: apt-get install python3-prometheus-client")
samples = {}
for family in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in family.samples:
        samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
print(samples[("arkwatch_mrr", (("currency", "USD"),))])
print(samples[("arkwatch_users", (("kind", "premium"),))])
print(samples[("arkwatch_api_latency_ms", (("provider", "openai"), ("quantile", "0.95")))])
print(len(samples))
"#;
    let parsed = std::process::Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(script)
        .arg(&prom)
        .output()
        .expect("python3 is needed: apt-get install python3 python3-prometheus-client");
    assert!(
        parsed.status.success(),
        "the parser refused it: {}",
        String::from_utf8_lossy(&parsed.stderr)
    );
    let text = String::from_utf8(parsed.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[..3], ["65.0", "3.0", "300.0"]);
    assert!(lines[3].parse::<u32>().unwrap() > 40, "{text}");
}

#[test]
fn csv_has_one_row_per_number() {
    let f = fixture();
    let out = run(
        &f,
        &[
            "metrics",
            "revenue",
            "--csv",
            "--since",
            "2026-11-01",
            "--until",
            "2026-11-07",
        ],
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("section,metric,value\n"));
    assert!(text.contains("\nrevenue,mrr,65.0\n"), "{text}");
    assert!(text.contains("\nrevenue,conversion_rate,0.5\n"), "{text}");
}

#[test]
fn tables_fit_and_have_no_colour_off_a_terminal() {
    let f = fixture();
    let out = run(
        &f,
        &[
            "metrics",
            "users",
            "--since",
            "2026-11-01",
            "--until",
            "2026-11-07",
        ],
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains('\u{1b}'), "no escape codes: {text}");
    assert!(
        text.contains("stickiness (DAU ÷ MAU)") && text.contains("16.7%"),
        "{text}"
    );
}

fn report(f: &Fixture, args: &[&str]) -> String {
    String::from_utf8(run(f, &[&["report"][..], args].concat()).stdout).unwrap()
}

#[test]
fn the_monthly_report_in_markdown_and_html() {
    let f = fixture();
    let md = report(&f, &["monthly", "--date", "2026-12-01"]);
    insta::assert_snapshot!("monthly_markdown", md);
    let html = report(&f, &["monthly", "--date", "2026-12-01", "--format", "html"]);
    insta::assert_snapshot!("monthly_html", html);

    // Well-formed, and one point per day of November in each series.
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    let doc = roxmltree::Document::parse_with_options(&html, options)
        .expect("the HTML report is well-formed");
    let lines: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("polyline"))
        .collect();
    assert_eq!(lines.len(), 3);
    for line in lines {
        assert_eq!(line.attribute("points").unwrap().split(' ').count(), 30);
    }
    let circles = doc
        .descendants()
        .filter(|n| n.has_tag_name("circle"))
        .count();
    assert_eq!(circles, 3 * 30);
}

#[test]
fn a_weekly_and_a_daily_report() {
    let f = fixture();
    let week = report(&f, &["weekly", "--date", "2026-11-09"]);
    insta::assert_snapshot!("weekly_markdown", week);
    let day = report(&f, &["daily", "--date", "2026-11-02"]);
    assert!(day.contains("# Acme: Daily report, 2026-11-01"), "{day}");
    assert!(day.contains("| New registrations | 2 | 0 | +2 |"), "{day}");
}

#[test]
fn a_monthly_report_stays_right_after_old_events_are_trimmed() {
    let f = fixture();
    // October against September: built while every event is still there.
    let before = report(&f, &["monthly", "--date", "2026-11-01"]);
    assert!(
        before.contains("| MRR | 40.00 USD | 30.00 USD | +10.00 (+33.3%) |"),
        "{before}"
    );
    // Trim everything older than 30 days (the fixture is from the autumn of 2026; the fold
    // has read it all).
    let out = run(&f, &["rotate", "--json"]);
    let rotated: Value = serde_json::from_slice(&out.stdout).unwrap();
    // At least September's two (more as the calendar moves on).
    assert!(
        rotated["events_trimmed"].as_u64().unwrap() >= 2,
        "{rotated:#}"
    );
    let after = report(&f, &["monthly", "--date", "2026-11-01"]);
    assert_eq!(after, before, "the report does not need the raw events");
    let left = std::fs::read_to_string(f.data.join("events.jsonl")).unwrap();
    assert!(left.lines().count() < 21);
}

#[test]
fn the_report_by_email_has_the_markdown_and_its_html_with_visitor_text_harmless() {
    let f = fixture();
    let log = f.config.parent().unwrap().join("access.log");
    let mut text = std::fs::read_to_string(&log).unwrap();
    text.push_str(
        "203.0.113.66 - - [03/Nov/2026:10:00:00 +0000] \"GET /pricing/\\x0D\\x0ABcc:x@y?utm_source=https://evil.example/ HTTP/1.1\" 200 10 \"javascript:alert(1)\" \"<script>alert(1)</script> (X11; Linux x86_64)\"\n",
    );
    std::fs::write(&log, text).unwrap();
    std::fs::write(
        &f.config,
        std::fs::read_to_string(&f.config).unwrap()
            + "\n[alerts]\nto = [\"founders@acme.example\"]\n",
    )
    .unwrap();
    let out = run(
        &f,
        &["report", "monthly", "--date", "2026-12-01", "--email"],
    );
    assert!(out.stdout.is_empty(), "sent, not printed");
    let outbox = f.data.join("outbox");
    let emls: Vec<_> = std::fs::read_dir(&outbox)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    assert_eq!(emls.len(), 1);
    let raw = std::fs::read(&emls[0]).unwrap();
    let mail = mailparse::parse_mail(&raw).unwrap();
    assert_eq!(
        mail.headers.get_first_value("Subject").as_deref(),
        Some("[Acme] Monthly report, November 2026")
    );
    assert!(mail.headers.get_first_value("Bcc").is_none());
    assert_eq!(mail.subparts.len(), 2);
    let md = mail.subparts[0].get_body().unwrap();
    assert!(
        md.starts_with("# Acme: Monthly report, November 2026"),
        "{md}"
    );
    assert!(md.contains("`javascript[:]alert(1)`"), "{md}");
    assert!(md.contains("hxxps[:]//evil[.]example/"), "{md}");
    assert!(!md.contains("https://evil"), "{md}");
    let html = mail.subparts[1].get_body().unwrap();
    assert_eq!(mail.subparts[1].ctype.mimetype, "text/html");
    assert!(
        html.contains("<h1>Acme: Monthly report, November 2026</h1>"),
        "{html}"
    );
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(!html.contains("<script>"), "{html}");
    assert!(!html.contains("href"), "no link at all");
    assert!(!html.to_ascii_lowercase().contains("javascript:"), "{html}");
}

#[test]
fn with_the_event_store_down_metrics_exits_75_rather_than_guess() {
    let mut redis = common::redis::RedisServer::start();
    let f = fixture();
    std::fs::write(
        &f.config,
        std::fs::read_to_string(&f.config).unwrap()
            + &format!("\n[events]\nstore = \"{}\"\n", redis.url()),
    )
    .unwrap();
    redis.stop();
    let out = std::process::Command::new(common::BIN)
        .arg("--config")
        .arg(&f.config)
        .args(["metrics", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(75));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("127.0.0.1:{}", redis.port)),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "no numbers printed");
}
