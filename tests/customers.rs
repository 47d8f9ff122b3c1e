//! Cost to serve: `metrics customers` and the `alerts.rules.user_cost` rule on users whose API
//! cost is known (acceptance item d).

mod common;

use std::fmt::Write as _;

use common::Site;
use serde_json::Value;

/// Four users, November 2026 (30 days), the rule's window the 7 days up to Nov 30:
/// - `p1` pays 30.00: 11.00 of API calls on Nov 5 and 1.00 on Nov 28 (the window: 1.00, under
///   its limit 30 × 7 ÷ 30 × 50% = 3.50);
/// - `p2` pays 20.00: 25.00 on Nov 27 (limit 20 × 7 ÷ 30 × 50% = 2.33: alerts);
/// - `f1` is free: 10.00 on Nov 29 (limit 1.00 a day × 7 = 7.00: alerts);
/// - `f2` is free: 3.00 on Nov 29 (under 7.00).
fn site() -> Site {
    let site = Site::new("[alerts.rules.user_cost]\nenabled = true\n");
    let events = [
        (
            "2026-10-01T10:00:00Z",
            "p1",
            r#""type":"conversion","plan":"pro","mrr":"30.00""#,
        ),
        (
            "2026-10-01T10:00:00Z",
            "p2",
            r#""type":"conversion","plan":"basic","mrr":"20.00""#,
        ),
        ("2026-10-02T10:00:00Z", "f1", r#""type":"registration""#),
        ("2026-10-02T10:00:00Z", "f2", r#""type":"registration""#),
        (
            "2026-11-05T10:00:00Z",
            "p1",
            r#""type":"api_call","provider":"openai","cost":"11.00""#,
        ),
        (
            "2026-11-27T10:00:00Z",
            "p2",
            r#""type":"api_call","provider":"openai","cost":"25.00""#,
        ),
        (
            "2026-11-28T10:00:00Z",
            "p1",
            r#""type":"api_call","provider":"openai","cost":"1.00""#,
        ),
        (
            "2026-11-29T10:00:00Z",
            "f1",
            r#""type":"api_call","provider":"openai","cost":"6.00""#,
        ),
        (
            "2026-11-29T11:00:00Z",
            "f1",
            r#""type":"api_call","provider":"anthropic","cost":"4.00""#,
        ),
        (
            "2026-11-29T11:00:00Z",
            "f2",
            r#""type":"api_call","provider":"openai","cost":"3.00""#,
        ),
    ];
    let mut text = String::new();
    for (seq, (ts, user, rest)) in events.iter().enumerate() {
        let ms = chrono::DateTime::parse_from_rfc3339(ts)
            .unwrap()
            .timestamp_millis();
        let _ = writeln!(
            text,
            r#"{{"id":"{ms}-{seq}","ts":"{ts}","user":"{user}",{rest}}}"#
        );
    }
    std::fs::write(site.data.join("events.jsonl"), text).unwrap();
    site.append("access.log", &[]);
    site
}

fn json(site: &Site, now: &str, args: &[&str]) -> Value {
    let out = site
        .command()
        .args(args)
        .env("ARKWATCH_NOW", now)
        .output()
        .unwrap();
    common::assert_success(&out);
    serde_json::from_slice(&out.stdout).unwrap()
}

fn money(v: &Value) -> f64 {
    v.as_f64().unwrap()
}

#[test]
fn customers_show_cost_margin_and_who_costs_more_than_they_pay() {
    let site = site();
    let m = json(
        &site,
        "2026-11-30T12:00:00Z",
        &[
            "metrics",
            "customers",
            "--since",
            "2026-11-01",
            "--until",
            "2026-11-30",
            "--json",
        ],
    );
    let c = &m["customers"];
    assert_eq!(c["users_with_cost"], 4);
    // A 30-day period: the cost per month is the period's cost.
    let top: Vec<(&str, f64, f64, f64)> = c["top_by_cost"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["user"].as_str().unwrap(),
                money(&x["cost"]),
                money(&x["mrr"]),
                money(&x["margin"]),
            )
        })
        .collect();
    assert_eq!(
        top,
        [
            ("p2", 25.0, 20.0, -5.0),
            ("p1", 12.0, 30.0, 18.0),
            ("f1", 10.0, 0.0, -10.0),
            ("f2", 3.0, 0.0, -3.0),
        ]
    );
    let p1 = &c["top_by_cost"][1];
    assert!(
        (p1["margin_rate"].as_f64().unwrap() - 0.6).abs() < 1e-12,
        "18 of 30"
    );
    assert!(
        c["top_by_cost"][2]["margin_rate"].is_null(),
        "a free user has no margin rate"
    );
    let over: Vec<&str> = c["cost_exceeds_mrr"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["user"].as_str().unwrap())
        .collect();
    assert_eq!(
        over,
        ["f1", "p2", "f2"],
        "the largest loss first; p1 pays more than it costs"
    );
}

/// The rule alerts `p2` and `f1`, once each within the cooldown; `p1` and `f2` stay under.
#[test]
fn the_user_cost_rule_alerts_each_user_over_it_once_within_the_cooldown() {
    let site = site();
    let alerts = |report: &Value| -> Vec<(String, String)> {
        report["rules"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| !r["alert"].is_null())
            .map(|r| {
                (
                    r["name"].as_str().unwrap().to_string(),
                    r["alert"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let first = json(&site, "2026-11-30T12:00:00Z", &["scan", "--json"]);
    let fired: Vec<(String, String)> = alerts(&first)
        .into_iter()
        .filter(|(n, _)| n.starts_with("user_cost:"))
        .collect();
    assert_eq!(
        fired,
        [
            ("user_cost:f1".into(), "fired".into()),
            ("user_cost:p2".into(), "fired".into())
        ],
        "{first:#}"
    );
    let detail = first["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "user_cost:p2")
        .unwrap()["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        detail.contains("cost 25.00 USD") && detail.contains("limit 2.33 USD"),
        "{detail}"
    );
    // Within the cooldown (6 hours), still holding: nothing more.
    for now in ["2026-11-30T13:00:00Z", "2026-11-30T17:59:00Z"] {
        let again = json(&site, now, &["scan", "--json"]);
        assert!(
            alerts(&again)
                .iter()
                .all(|(n, _)| !n.starts_with("user_cost:")),
            "{again:#}"
        );
    }
}
