//! Leads joined to product users: the links (by address on registration, by `identify`, and
//! three decoys that must not link), the `leads` listing and the `leads` section of `metrics`
//! against values computed by hand, and `leads --calibrate` against an independent
//! computation.

#![allow(
    clippy::cast_possible_wrap,
    clippy::cast_possible_truncation,
    clippy::cast_precision_loss,
    clippy::cast_sign_loss,
    reason = "small generated counts and days"
)]

mod common;

use std::fmt::Write as _;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::Site;
use serde_json::Value;

fn ua(i: usize) -> String {
    format!(
        "Mozilla/5.0 (X11; Linux x86_64; rv:{}.0) Gecko/20100101 Firefox/{}.0",
        100 + i,
        100 + i
    )
}

fn ip(i: usize) -> String {
    format!("203.0.113.{}", 10 + i)
}

fn log_line(at: DateTime<Utc>, ip: &str, path: &str, referrer: &str, ua: &str) -> String {
    format!(
        "{ip} - - [{}] \"GET {path} HTTP/1.1\" 200 512 \"{referrer}\" \"{ua}\"",
        at.format("%d/%b/%Y:%H:%M:%S +0000")
    )
}

/// Events as the embedded store's lines, in time order with ids from their times.
fn events_file(mut events: Vec<(DateTime<Utc>, Value)>) -> String {
    events.sort_by_key(|(t, _)| *t);
    let mut out = String::new();
    for (seq, (t, mut e)) in events.into_iter().enumerate() {
        e["id"] = format!("{}-{seq}", t.timestamp_millis()).into();
        e["ts"] = t.to_rfc3339().into();
        let _ = writeln!(out, "{e}");
    }
    out
}

fn run(site: &Site, args: &[&str]) -> Value {
    let out = site
        .command()
        .args(args)
        .env("ARKWATCH_NOW", "2026-11-30T00:00:00Z")
        .output()
        .unwrap();
    common::assert_success(&out);
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The fixture of acceptance item a. Visitor `i` (0..40) is `ip(i)` with browser `ua(i)`, on
/// day `d(i) = 1 + i % 28` of October 2026 (UTC):
/// - every one reads `/pricing` at 10:00 (hot); `i % 4 == 0` also `/trial` at 10:05 (very hot);
///   `i % 5 == 0` first read `/demo` at 09:55 (warm);
/// - the first visit comes from `LinkedIn` (`utm_source=linkedin`) when `i % 3 == 0`, from
///   Google when `i % 3 == 1`, with no referrer when `i % 3 == 2`; later ones from the site.
///
/// Two visitors read only `/demo`: not leads. Users:
/// - `u0`..`u14` register at `d(i) + 2` days, 12:00, with the visitor's address (and, for even
///   `i`, its browser): linked;
/// - `u15`..`u24` send `identify` (address and browser) at `d(i) + 1` day; `u15`..`u19`
///   register (without address) at `d(i) + 3` days, `u20`..`u24` registered on 2026-09-01;
/// - even `i` below 24 convert at `d(i) + 5` days to MRR `10 + i`; `u24` converts 20 days
///   after its first visit, outside `link_days` (14);
/// - decoys, each converting a day after registering at MRR 100: `decoy-ua` registers from
///   visitor 30's address with another browser; `decoy-ip` identifies with visitor 31's browser
///   from another address; `decoy-old` registers from visitor 32's address and browser 15 days
///   after its visit.
#[expect(
    clippy::too_many_lines,
    reason = "the fixture reads top to bottom, as its comment"
)]
fn fixture() -> Site {
    let site = Site::new("");
    let day = |i: usize| {
        Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).unwrap() + Duration::days((i % 28) as i64)
    };
    let mut lines = Vec::new();
    let mut events = Vec::new();
    for i in 0..40 {
        let d = day(i);
        let (first_path, referrer) = match i % 3 {
            0 => (
                "?utm_source=linkedin&utm_campaign=autumn",
                "https://www.linkedin.com/",
            ),
            1 => ("", "https://www.google.com/"),
            _ => ("", "-"),
        };
        let mut pages = Vec::new();
        if i % 5 == 0 {
            pages.push((Duration::minutes(9 * 60 + 55), "/demo"));
        }
        pages.push((Duration::hours(10), "/pricing"));
        if i % 4 == 0 {
            pages.push((Duration::minutes(10 * 60 + 5), "/trial"));
        }
        for (n, (at, page)) in pages.into_iter().enumerate() {
            let (path, referrer) = if n == 0 {
                (format!("{page}{first_path}"), referrer.to_string())
            } else {
                (page.to_string(), "https://acme.example/".to_string())
            };
            lines.push(log_line(d + at, &ip(i), &path, &referrer, &ua(i)));
        }
    }
    for (n, i) in [100usize, 101].into_iter().enumerate() {
        let at = Utc
            .with_ymd_and_hms(2026, 10, 3 + n as u32, 11, 0, 0)
            .unwrap();
        lines.push(log_line(at, &ip(i), "/demo", "-", &ua(i)));
    }
    lines.sort_by_key(|l| l[l.find('[').unwrap()..].to_string());
    site.append("access.log", &lines);

    let noon = Duration::hours(12);
    for i in 0..25 {
        let d = day(i);
        let user = format!("u{i}");
        if i < 15 {
            let mut e = serde_json::json!({"type": "registration", "user": user, "ip": ip(i)});
            if i % 2 == 0 {
                e["user_agent"] = ua(i).into();
            }
            events.push((d + Duration::days(2) + noon, e));
        } else {
            events.push((
                d + Duration::days(1) + noon,
                serde_json::json!({"type": "identify", "user": user, "ip": ip(i), "user_agent": ua(i)}),
            ));
            let registered = if i < 20 {
                d + Duration::days(3) + noon
            } else {
                Utc.with_ymd_and_hms(2026, 9, 1, 9, 0, 0).unwrap()
            };
            events.push((
                registered,
                serde_json::json!({"type": "registration", "user": user}),
            ));
        }
        if i % 2 == 0 {
            let after = if i == 24 { 20 } else { 5 };
            events.push((
                d + Duration::days(after) + noon,
                serde_json::json!({"type": "conversion", "user": user, "plan": "pro", "mrr": format!("{}.00", 10 + i)}),
            ));
        }
    }
    let decoys = [
        (
            "decoy-ua",
            day(30) + Duration::days(1),
            ip(30),
            Some("Mozilla/5.0 (Windows NT 10.0) Chrome/131.0".to_string()),
        ),
        (
            "decoy-ip",
            day(31) + Duration::days(1),
            "198.51.100.31".to_string(),
            Some(ua(31)),
        ),
        (
            "decoy-old",
            day(32) + Duration::days(15),
            ip(32),
            Some(ua(32)),
        ),
    ];
    for (user, at, address, agent) in decoys {
        let kind = if user == "decoy-ip" {
            "identify"
        } else {
            "registration"
        };
        let mut e = serde_json::json!({"type": kind, "user": user, "ip": address});
        if let Some(agent) = agent {
            e["user_agent"] = agent.into();
        }
        events.push((at, e));
        if kind == "identify" {
            events.push((
                at,
                serde_json::json!({"type": "registration", "user": user}),
            ));
        }
        events.push((
            at + Duration::days(1),
            serde_json::json!({"type": "conversion", "user": user, "plan": "pro", "mrr": "100.00"}),
        ));
    }
    std::fs::write(site.data.join("events.jsonl"), events_file(events)).unwrap();
    site
}

fn group<'a>(list: &'a Value, name: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == name || g["source"] == name)
        .unwrap_or_else(|| panic!("no group {name} in {list}"))
}

fn counts(g: &Value) -> (u64, u64, u64) {
    (
        g["leads"].as_u64().unwrap(),
        g["registered"].as_u64().unwrap(),
        g["paid"].as_u64().unwrap(),
    )
}

#[test]
fn links_and_the_leads_section_equal_the_hand_computed_table() {
    let site = fixture();
    let period = ["--since", "2026-10-01", "--until", "2026-10-30", "--json"];
    let mut args = vec!["leads"];
    args.extend(period);
    let leads = run(&site, &args);
    let leads = leads.as_array().unwrap();
    assert_eq!(
        leads.len(),
        40,
        "40 visitors read a hot page; two read only /demo"
    );
    for l in leads {
        let address = l["ip"].as_str().unwrap();
        let i: usize = address
            .rsplit('.')
            .next()
            .unwrap()
            .parse::<usize>()
            .unwrap()
            - 10;
        let expected = (i < 25).then(|| format!("u{i}"));
        assert_eq!(
            l["user"].as_str(),
            expected.as_deref(),
            "the user linked to visitor {i}"
        );
        let source = ["linkedin", "google.com", "(direct)"][i % 3];
        assert_eq!(l["source"]["name"], source, "visitor {i}'s first touch");
    }

    let mut args = vec!["metrics", "leads"];
    args.extend(period);
    let m = run(&site, &args);
    let s = &m["leads"];
    // 40 leads; very hot: i % 4 == 0 of 0..40, 10. Linked: u0..u24, 25.
    assert_eq!(s["leads"], 40);
    assert_eq!(s["very_hot"], 10);
    assert_eq!(s["hot"], 30);
    assert_eq!(s["linked"], 25);
    // Registered within 14 days of the first visit: u0..u14 (at +2 days) and u15..u19 (+3):
    // 20; u20..u24 registered before it. Paid within: even i of 0..=22, 12 (u24 after 20 days).
    assert_eq!(
        (s["registered"].as_u64(), s["paid"].as_u64()),
        (Some(20), Some(12))
    );
    assert!((s["paid_share"].as_f64().unwrap() - 12.0 / 40.0).abs() < 1e-12);
    // Very hot (0, 4, …, 36): registered 0, 4, 8, 12 and 16 (5); paid 0, 4, 8, 12, 16, 20 (6).
    assert_eq!(counts(group(&s["by_tier"], "very_hot")), (10, 5, 6));
    assert_eq!(counts(group(&s["by_tier"], "hot")), (30, 15, 6));
    // Scores: 30 for /pricing, +50 /trial, +10 /demo, +5 per visit after the first. i % 20 ==
    // 0 (0, 20): 100; other i % 4 == 0 (4, 8, …, 36): 85; the rest 45 or 30.
    assert_eq!(counts(group(&s["by_score"], "100+")), (2, 1, 2));
    assert_eq!(counts(group(&s["by_score"], "80-99")), (8, 4, 4));
    assert_eq!(counts(group(&s["by_score"], "50-79")), (0, 0, 0));
    assert_eq!(counts(group(&s["by_score"], "0-49")), (30, 15, 6));
    // Sources: i % 3 == 0 LinkedIn (14 of 0..40), 1 Google (13), 2 direct (13). Registered
    // (0..=19): 0,3,…,18 (7); 1,4,…,19 (7); 2,5,…,17 (6). Paid: 0,6,12,18; 4,10,16,22; 2,8,14,20.
    assert_eq!(counts(group(&s["by_source"], "linkedin")), (14, 7, 4));
    assert_eq!(counts(group(&s["by_source"], "google.com")), (13, 7, 4));
    assert_eq!(counts(group(&s["by_source"], "(direct)")), (13, 6, 4));
    // New MRR in October: 10 + i for the even i that paid: LinkedIn 10+16+22+28 = 76, Google
    // 14+20+26+32 = 92, direct 12+18+24+30 = 84; the three decoys (not linked) 3 × 100.
    let money = |name: &str| {
        let g = group(&s["revenue_by_source"], name);
        (g["users"].as_u64().unwrap(), g["new_mrr"].as_f64().unwrap())
    };
    assert_eq!(money("linkedin"), (4, 76.0));
    assert_eq!(money("google.com"), (4, 92.0));
    assert_eq!(money("(direct)"), (4, 84.0));
    assert_eq!(money("(not linked)"), (3, 300.0));
    assert_eq!(s["revenue_by_source"].as_array().unwrap().len(), 4);
}

/// One generated lead of the calibration set, as the test knows it.
struct Truth {
    very_hot: bool,
    warm: bool,
    visits: usize,
    paid: bool,
}

/// Haldane-corrected log odds ratio, computed here from the counts, independently of arkwatch.
fn log_odds(truth: &[Truth], has: impl Fn(&Truth) -> bool) -> f64 {
    let n = |with: bool, paid: bool| {
        truth
            .iter()
            .filter(|t| has(t) == with && t.paid == paid)
            .count() as f64
            + 0.5
    };
    ((n(true, true) * n(false, false)) / (n(true, false) * n(false, true))).ln()
}

/// The area under the ROC curve by comparing every (paid, unpaid) pair.
fn pairwise_auc(scores: &[(u32, bool)]) -> f64 {
    let (mut wins, mut pairs) = (0.0, 0.0);
    for (p, _) in scores.iter().filter(|s| s.1) {
        for (n, _) in scores.iter().filter(|s| !s.1) {
            pairs += 1.0;
            wins += match p.cmp(n) {
                std::cmp::Ordering::Greater => 1.0,
                std::cmp::Ordering::Equal => 0.5,
                std::cmp::Ordering::Less => 0.0,
            };
        }
    }
    wins / pairs
}

fn score(t: &Truth, w: [u32; 4]) -> u32 {
    // Every lead read /pricing (hot).
    w[1] + if t.very_hot { w[0] } else { 0 }
        + if t.warm { w[2] } else { 0 }
        + w[3] * (t.visits as u32 - 1)
}

/// Acceptance item c: visits after the first predict payment, the warm page and the very hot
/// one do not; the suggested weights rank better than the defaults, and every printed number
/// equals this test's own computation.
#[test]
#[expect(
    clippy::too_many_lines,
    reason = "generate, then check each printed number"
)]
fn calibration_prefers_repeat_visits_and_its_numbers_are_independently_reproduced() {
    let site = Site::new("");
    let mut rng = common::Rng(0x9e37_79b9_7f4a_7c15);
    let start = Utc.with_ymd_and_hms(2026, 8, 1, 0, 0, 0).unwrap();
    let (mut lines, mut events, mut truth) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..150 {
        let (address, agent) = (format!("198.51.{}.{}", i / 200, 1 + i % 200), ua(i));
        let first = start + Duration::days((i % 40) as i64) + Duration::hours(9);
        let very_hot = rng.below(4) == 0;
        let warm = rng.below(2) == 0;
        let repeats = rng.below(4) as usize;
        // 10% without a return, up to 85% with three.
        let paid = rng.below(100) < 10 + 25 * repeats as u64;
        let mut at = first;
        if warm {
            lines.push(log_line(at, &address, "/demo", "-", &agent));
            at += Duration::minutes(2);
        }
        lines.push(log_line(at, &address, "/pricing", "-", &agent));
        if very_hot {
            lines.push(log_line(
                at + Duration::minutes(3),
                &address,
                "/trial",
                "-",
                &agent,
            ));
        }
        for r in 1..=repeats {
            at = first + Duration::days(r as i64);
            lines.push(log_line(at, &address, "/pricing", "-", &agent));
        }
        let visits = 1 + usize::from(warm) + usize::from(very_hot) + repeats;
        if paid || i % 3 == 0 {
            let user = format!("c{i}");
            events.push((
                at + Duration::hours(1),
                serde_json::json!({"type": "registration", "user": user, "ip": address, "user_agent": agent}),
            ));
            if paid {
                events.push((
                    at + Duration::days(2),
                    serde_json::json!({"type": "conversion", "user": user, "plan": "pro", "mrr": "20"}),
                ));
            }
        }
        truth.push(Truth {
            very_hot,
            warm,
            visits,
            paid,
        });
    }
    lines.sort_by_key(|l| {
        DateTime::parse_from_str(
            &l[l.find('[').unwrap() + 1..l.find(']').unwrap()],
            "%d/%b/%Y:%H:%M:%S %z",
        )
        .unwrap()
    });
    site.append("access.log", &lines);
    std::fs::write(site.data.join("events.jsonl"), events_file(events)).unwrap();

    let c = run(
        &site,
        &[
            "leads",
            "--calibrate",
            "--since",
            "2026-08-01",
            "--until",
            "2026-09-30",
            "--json",
        ],
    );
    assert_eq!(c["leads"], 150);
    assert_eq!(c["paid"], truth.iter().filter(|t| t.paid).count());

    let signals = c["signals"].as_array().unwrap();
    let expected = [
        log_odds(&truth, |t| t.very_hot),
        log_odds(&truth, |_| true),
        log_odds(&truth, |t| t.warm),
    ];
    // "Came back" is any visit after the first: the warm and very hot pages are visits too.
    let came_back = log_odds(&truth, |t| t.visits > 1);
    for (s, want) in signals
        .iter()
        .zip([expected[0], expected[1], expected[2], came_back])
    {
        let got = s["log_odds"].as_f64().unwrap();
        assert!(
            (got - want).abs() < 1e-9,
            "{}: {got} against {want}",
            s["name"]
        );
    }
    let returning: Vec<usize> = truth
        .iter()
        .filter(|t| t.visits > 1)
        .map(|t| t.visits - 1)
        .collect();
    let mean = returning.iter().sum::<usize>() as f64 / returning.len() as f64;
    assert!((c["mean_repeats"].as_f64().unwrap() - mean).abs() < 1e-9);
    let points = |lo: f64| (lo * 10.0).round().max(0.0) as u32;
    let suggested = [
        points(expected[0]),
        points(expected[1]),
        points(expected[2]),
        points(came_back / mean),
    ];
    let w = &c["suggested"];
    assert_eq!(
        [&w["very_hot"], &w["hot"], &w["warm"], &w["repeat_visit"]]
            .map(|v| v.as_u64().unwrap() as u32),
        suggested
    );
    let auc_of = |w: [u32; 4]| {
        pairwise_auc(
            &truth
                .iter()
                .map(|t| (score(t, w), t.paid))
                .collect::<Vec<_>>(),
        )
    };
    let (before, after) = (auc_of([50, 30, 10, 5]), auc_of(suggested));
    assert!((c["auc_current"].as_f64().unwrap() - before).abs() < 1e-12);
    assert!((c["auc_suggested"].as_f64().unwrap() - after).abs() < 1e-12);
    assert!(
        after > before,
        "the suggested weights rank better: {after} against {before}"
    );
    assert!(
        suggested[3] > 0 && suggested[2] <= 2,
        "repeats weigh, the warm page barely: {suggested:?}"
    );

    // The text output prints the same block, and nothing was changed.
    let config_before = std::fs::read(&site.config).unwrap();
    let out = site
        .command()
        .args([
            "leads",
            "--calibrate",
            "--since",
            "2026-08-01",
            "--until",
            "2026-09-30",
        ])
        .env("ARKWATCH_NOW", "2026-11-30T00:00:00Z")
        .output()
        .unwrap();
    common::assert_success(&out);
    let text = String::from_utf8(out.stdout).unwrap();
    let block = format!(
        "[alerts.score]\nvery_hot = {}\nhot = {}\nwarm = {}\nrepeat_visit = {}\n",
        suggested[0], suggested[1], suggested[2], suggested[3]
    );
    assert!(text.contains(&block), "{text}");
    assert!(
        text.contains(&format!(
            "current weights {before:.4}, suggested {after:.4}"
        )),
        "{text}"
    );
    assert_eq!(std::fs::read(&site.config).unwrap(), config_before);
}
