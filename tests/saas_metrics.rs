//! The `SaaS` metrics of `docs/metrics.md` against values computed by hand on the five-week
//! fixture (`fixtures/saas/`), the arrival-order repro, days that begin without a midnight,
//! and unknown event types.

mod common;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

struct Fixture {
    _dir: tempfile::TempDir,
    config: PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/saas");
    for name in ["arkwatch.toml", "access.log"] {
        std::fs::copy(src.join(name), dir.path().join(name)).unwrap();
    }
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("secret.key"), format!("{}\n", common::KEY)).unwrap();
    std::fs::copy(src.join("events.jsonl"), data.join("events.jsonl")).unwrap();
    Fixture {
        config: dir.path().join("arkwatch.toml"),
        _dir: dir,
    }
}

fn metrics(config: &Path, args: &[&str]) -> Value {
    let out = std::process::Command::new(common::BIN)
        .arg("--config")
        .arg(config)
        .args(["metrics", "all", "--json"])
        .args(args)
        .env_remove("ARKWATCH_CONFIG")
        .env_remove("ARKWATCH_DATA_DIR")
        .output()
        .unwrap();
    common::assert_success(&out);
    serde_json::from_slice(&out.stdout).unwrap()
}

fn close(v: &Value, expected: f64) -> bool {
    (v.as_f64().unwrap_or(f64::NAN) - expected).abs() < 1e-6
}

/// The period is Monday 2026-10-05 to Sunday 2026-11-08: 35 days, five ISO weeks.
///
/// Customers before it: a (pro 50), b (basic 20), c (pro 50): 3 paying, MRR 120 at its start.
/// In it:
/// - a downgrades to basic 20 (Oct 7): contraction 30;
/// - b cancels (Oct 12): churned 20, and pays basic 20 again (Oct 20): reactivation 20;
/// - c's pro price rises to 60 (Oct 25): expansion 10;
/// - d registers and starts a trial (Oct 5), converts to pro 50 five days later (Oct 10): new 50;
/// - e registers and starts a trial (Oct 6), never pays: lapsed on Oct 20 (14 days);
/// - f registers (Oct 13); g registers (Oct 20) and starts a trial on Oct 30 that is still
///   running at the end (ends Nov 13); h registers (Oct 27) and pays basic 20 (Oct 28): new 20;
///   i registers (Nov 2).
#[test]
#[expect(
    clippy::too_many_lines,
    reason = "a scenario reads top to bottom, one step after the other"
)]
fn every_new_metric_of_the_saas_fixture_equals_its_hand_computed_value() {
    let f = fixture();
    let m = metrics(
        &f.config,
        &["--since", "2026-10-05", "--until", "2026-11-08"],
    );
    let r = &m["revenue"];
    // At the end: a basic 20, b basic 20, c pro 60, d pro 50, h basic 20.
    assert_eq!(r["mrr"], 170.0);
    assert_eq!(r["arr"], 2040.0);
    assert_eq!(r["arpu"], 34.0, "170 / 5");
    assert_eq!(r["mrr_new"], 70.0, "d 50 + h 20");
    assert_eq!(r["mrr_reactivation"], 20.0, "b, on its own line, not new");
    assert_eq!(r["reactivations"], 1);
    assert_eq!(r["mrr_expansion"], 10.0);
    assert_eq!(r["mrr_contraction"], 30.0);
    assert_eq!(r["mrr_churned"], 20.0);
    assert_eq!(
        r["net_new_mrr"], 50.0,
        "70 + 20 + 10 - 30 - 20: from 120 to 170"
    );
    assert_eq!(r["paying_at_start"], 3);
    assert_eq!(r["mrr_at_start"], 120.0);
    assert_eq!(r["paying_lost"], 1);
    assert!(close(&r["customer_churn_rate"], 1.0 / 3.0));
    // Starting customers: contraction 30 (a), churned 20 (b; its return is a reactivation,
    // left out), expansion 10 (c). GRR (120 - 30 - 20) / 120; NRR (120 + 10 - 30 - 20) / 120.
    assert!(close(&r["gross_revenue_retention"], 70.0 / 120.0), "{r:#}");
    assert!(close(&r["net_revenue_retention"], 80.0 / 120.0), "{r:#}");
    assert!(close(&r["gross_mrr_churn_rate"], 50.0 / 120.0));
    assert!(close(&r["net_mrr_churn_rate"], 40.0 / 120.0));
    // (new 70 + reactivation 20 + expansion 10) / (churned 20 + contraction 30).
    assert!(close(&r["quick_ratio"], 2.0));
    // 30 days to Nov 8 start on Oct 10: paying then a, b, c (d converts at 10:00 that day);
    // b cancels on Oct 12. Monthly churn 1/3; LTV = ARPU 34 / (1/3).
    assert!(close(&r["monthly_churn_rate"], 1.0 / 3.0));
    assert_eq!(r["ltv"], 102.0);
    // Registered in the period: d, e, f, g, h, i; converted by its end: d, h.
    assert_eq!(r["registrations"], 6);
    assert_eq!(r["converted_registrations"], 2);
    let plans: Vec<(String, u64, f64, f64)> = r["by_plan"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["plan"].as_str().unwrap().to_string(),
                p["customers"].as_u64().unwrap(),
                p["mrr"].as_f64().unwrap(),
                p["arpu"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        plans,
        [
            ("pro".to_string(), 2, 110.0, 55.0),
            ("basic".to_string(), 3, 60.0, 20.0)
        ],
        "pro: c 60 + d 50; basic: a, b, h at 20"
    );
    let t = &r["trials"];
    // d (converted after 5 days), e (lapsed Oct 20), g (Oct 30, still running).
    assert_eq!(
        (
            t["started"].as_u64(),
            t["converted"].as_u64(),
            t["lapsed"].as_u64()
        ),
        (Some(3), Some(1), Some(1))
    );
    assert!(close(&t["conversion_rate"], 1.0 / 3.0));
    assert!(close(&t["median_days_to_convert"], 5.0));

    let u = &m["users"];
    assert_eq!(u["total"], 9, "a..i");
    assert_eq!(
        (u["premium"].as_u64(), u["free"].as_u64()),
        (Some(5), Some(4))
    );
    assert_eq!(u["new_registrations"], 6);
    // Nov 8: c. Nov 2-8: i, d, c. Oct 10 - Nov 8: b, c, d, e, f, g, h, i (a's last event is
    // Oct 7).
    assert_eq!(
        (u["dau"].as_u64(), u["wau"].as_u64(), u["mau"].as_u64()),
        (Some(1), Some(3), Some(8))
    );
    // Daily active users over the 35 days add up to 22 (see the fixture's dates: 2 on Oct 13,
    // Oct 14 and Nov 3, 3 on Oct 20, 1 on 13 other days); the 35 trailing-week counts to 115.
    assert!(close(&u["dau_average"], 22.0 / 35.0), "{u:#}");
    assert!(close(&u["wau_average"], 115.0 / 35.0), "{u:#}");
    let cohorts: Vec<(String, u64, Vec<u64>)> = u["cohorts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["week"].as_str().unwrap().to_string(),
                c["users"].as_u64().unwrap(),
                c["active"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a.as_u64().unwrap())
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        cohorts,
        [
            // d and e: both in weeks 1 and 2; d alone in week 3; nobody in week 4; d in week 5.
            ("2026-10-05".to_string(), 2, vec![2, 2, 1, 0, 1]),
            // f: weeks 2 and 3.
            ("2026-10-12".to_string(), 1, vec![1, 1, 0, 0]),
            // g: registered Oct 20, trial Oct 30.
            ("2026-10-19".to_string(), 1, vec![1, 1, 0]),
            ("2026-10-26".to_string(), 1, vec![1, 0]),
            ("2026-11-02".to_string(), 1, vec![1]),
        ]
    );
    assert!(close(&u["cohorts"][0]["retention"][2], 0.5));

    let e = &m["engagement"];
    // export: d x3, e, c; report: e, f x2, i. Errors: d Timeout x2 (in export), i "bad input".
    assert_eq!(e["commands"], 9);
    assert_eq!(e["top_commands"][0]["name"], "export");
    assert_eq!(e["top_commands"][0]["count"], 5);
    assert_eq!(e["errors"], 3);
    assert!(close(&e["error_rate"], 3.0 / 9.0));
    assert_eq!(e["top_errors"][0]["name"], "Timeout");
    assert_eq!(e["top_errors"][0]["count"], 2);
    assert_eq!(e["top_errors"][1]["name"], "bad input");
    assert_eq!(e["errors_by_command"][0]["name"], "export");
    assert_eq!(e["errors_by_command"][0]["count"], 2);

    let c = &m["costs"];
    // anthropic: 20 calls at 10, 20, ..., 200 ms, 0.05 each; openai: 1 call, 1.00, 100 ms.
    assert_eq!(c["api_cost"], 2.0);
    assert_eq!(c["api_calls"], 21);
    let anthropic = &c["providers"][0];
    assert_eq!(anthropic["provider"], "anthropic");
    // Nearest rank of 20: p50 the 10th (100), p95 the 19th (190), p99 the 20th (200).
    assert_eq!(
        (
            anthropic["latency_p50_ms"].as_u64(),
            anthropic["latency_p95_ms"].as_u64(),
            anthropic["latency_p99_ms"].as_u64()
        ),
        (Some(100), Some(190), Some(200))
    );
    assert_eq!(c["api_cost_per_paying_user"], 0.4, "2.00 / 5");
    // Infra 100 a month: 100 x 35 / 30 = 116.666…; (2 + 116.666…) / 9 active users.
    assert_eq!(c["infra_cost"], 116.67);
    assert_eq!(c["active_users"], 9);
    assert_eq!(c["cost_per_active_user"], 13.1852);
    // 170 - 2.00 x 30 / 35 - 100 = 68.2857…
    assert_eq!(c["gross_margin"], 68.29);
    assert!(close(
        &c["gross_margin_rate"],
        (170.0 - 60.0 / 35.0 - 100.0) / 170.0
    ));

    let t = &m["traffic"];
    // Oct 6: .1 at 10:00, 10:20 (one session) and 11:00 (40 minutes later: another), .2 at
    // 12:00; Oct 7: .1 at 09:00 (a new day, a new visitor). Written out of order on purpose.
    assert_eq!(t["pageviews"], 5);
    assert_eq!(t["unique_visitors"], 3);
    assert_eq!(t["sessions"], 4);
    assert_eq!(t["bounces"], 3);
    assert!(close(&t["bounce_rate"], 0.75));
}

/// A registration one second before local midnight counts on its day: in the new
/// registrations, in the day's user total and in the registrations per day.
fn registered_at_the_last_second(zone: &str, local: &str, day: &str) {
    let site = common::Site::new(&format!("timezone = \"{zone}\"\n"));
    let out = site
        .command()
        .args(["track", "registration", "--user", "late", "--at", local])
        .output()
        .unwrap();
    common::assert_success(&out);
    let m = metrics(&site.config, &["--since", day, "--until", day]);
    assert_eq!(m["users"]["new_registrations"], 1, "{zone}: {m:#}");
    assert_eq!(
        m["users"]["total"], 1,
        "{zone}: the user exists at the end of {day}"
    );
    assert_eq!(m["users"]["registrations_per_day"][day], 1, "{zone}");
}

/// In America/Santiago DST starts at 00:00 (Sep 6, 2026): Sep 5 ended at 04:00Z. `end_of()` took
/// the missing midnight as UTC, four hours early, so a registration at 23:59:59 local on Sep 5
/// was in Sep 5's new registrations but not in that day's user total.
#[test]
fn santiago_a_registration_just_before_a_missing_midnight_counts_on_its_day() {
    registered_at_the_last_second(
        "America/Santiago",
        "2026-09-05T23:59:59-04:00",
        "2026-09-05",
    );
}

/// Havana springs forward at 00:00 on Mar 8, 2026 (UTC-5 to UTC-4).
#[test]
fn havana_a_registration_just_before_a_missing_midnight_counts_on_its_day() {
    registered_at_the_last_second("America/Havana", "2026-03-07T23:59:59-05:00", "2026-03-07");
}

/// Asunción sprang forward at 00:00 on Oct 1, 2023.
#[test]
fn asuncion_a_registration_just_before_a_missing_midnight_counts_on_its_day() {
    registered_at_the_last_second(
        "America/Asuncion",
        "2023-09-30T23:59:59-04:00",
        "2023-09-30",
    );
}

/// Lord Howe moves its clocks by half an hour, at 02:00.
#[test]
fn lord_howe_a_day_of_a_half_hour_shift_is_whole() {
    registered_at_the_last_second(
        "Australia/Lord_Howe",
        "2026-04-05T23:59:59+10:30",
        "2026-04-05",
    );
}

/// Samoa skipped Dec 30, 2011: Dec 29 ended when Dec 31 began.
#[test]
fn apia_the_day_before_a_skipped_day_ends_when_the_next_begins() {
    registered_at_the_last_second("Pacific/Apia", "2011-12-29T23:59:59-10:00", "2011-12-29");
}

/// Apia's skipped day is empty, and the days around it are whole.
#[test]
fn a_skipped_day_holds_nothing() {
    let site = common::Site::new("timezone = \"Pacific/Apia\"\n");
    for at in ["2011-12-29T23:00:00-10:00", "2011-12-31T00:30:00+14:00"] {
        let out = site
            .command()
            .args(["track", "registration", "--user", at, "--at", at])
            .output()
            .unwrap();
        common::assert_success(&out);
    }
    let m = metrics(
        &site.config,
        &["--since", "2011-12-29", "--until", "2011-12-31"],
    );
    let per_day = &m["users"]["registrations_per_day"];
    assert_eq!(
        (
            per_day["2011-12-29"].as_u64(),
            per_day["2011-12-30"].as_u64(),
            per_day["2011-12-31"].as_u64()
        ),
        (Some(1), Some(0), Some(1)),
        "{m:#}"
    );
}

/// `track login --user ghost` created a counted user.
#[test]
fn unknown_event_types_create_no_user() {
    let site = common::Site::new("");
    for args in [
        &["track", "login", "--user", "ghost"][..],
        &["track", "registration", "--user", "real"],
    ] {
        common::assert_success(&site.command().args(args).output().unwrap());
    }
    let m = metrics(&site.config, &[]);
    assert_eq!(m["users"]["total"], 1, "{m:#}");
}

/// Four users paying 9, 9, 29.99 and 9, one of the 9s cancelling within the 30 days: ARPU is
/// 47.99 / 3 = 15.9967 and the monthly churn 1 / 4, so LTV is 63.9867, shown 63.99. Rounding
/// ARPU to 16.00 first gave 64.00.
#[test]
fn ltv_is_computed_from_the_unrounded_arpu() {
    let site = common::Site::new("");
    let file = site.dir.path().join("ltv.jsonl");
    let mut lines = String::new();
    for (user, mrr) in [("a", "9"), ("b", "9"), ("c", "29.99"), ("d", "9")] {
        let _ = writeln!(
            lines,
            "{{\"type\":\"conversion\",\"user\":\"{user}\",\"plan\":\"p{mrr}\",\"mrr\":\"{mrr}\",\"ts\":\"2026-09-01T10:00:00Z\"}}"
        );
    }
    lines.push_str("{\"type\":\"cancellation\",\"user\":\"d\",\"ts\":\"2026-09-20T10:00:00Z\"}\n");
    std::fs::write(&file, lines).unwrap();
    let out = site
        .command()
        .args(["track", "--from-file"])
        .arg(&file)
        .output()
        .unwrap();
    common::assert_success(&out);
    let m = metrics(
        &site.config,
        &["--since", "2026-09-05", "--until", "2026-10-04"],
    );
    let r = &m["revenue"];
    assert_eq!(r["mrr"], 47.99, "{r:#}");
    assert_eq!(r["arpu"], 16.0, "ARPU shown rounded: {r:#}");
    assert!(close(&r["monthly_churn_rate"], 0.25), "{r:#}");
    assert_eq!(r["ltv"], 63.99, "from the unrounded ARPU: {r:#}");
}
