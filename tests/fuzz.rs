//! No value from outside reaches a panic: 10,000 cases per entry point (a log line through the
//! fold, an event's fields through the projection and the rollups, a configuration, a purge
//! target), in-process; then hostile event values through the real binary's fold, metrics and
//! report, on both stores.

mod common;

use std::fmt::Write as _;
use std::path::Path;

use arkwatch::accesslog::chunks::Chunk;
use arkwatch::accesslog::classify::BotList;
use arkwatch::accesslog::fold::Folder;
use arkwatch::config::{ClientIp, Config};
use arkwatch::erase::Target;
use arkwatch::events::event::{Event, EventId, RawEntry};
use arkwatch::events::projection::UserRecord;
use arkwatch::log_format::LogFormat;
use arkwatch::rollup::activity::ActivityDay;
use arkwatch::rollup::keys::VisitorKeys;
use arkwatch::rollup::traffic::TrafficDay;
use proptest::prelude::*;

const CASES: u32 = 10_000;

fn config() -> Config {
    Config::parse(
        Path::new("/x/arkwatch.toml"),
        "data_dir = \"d\"\ntimezone = \"Europe/Berlin\"\n",
    )
    .unwrap()
}

/// Values an attacker or a broken producer sends: huge, negative, 29 decimal places, odd
/// spellings, invalid UTF-8 (as the store reads it: lossily), and sometimes a megabyte.
fn hostile() -> impl Strategy<Value = String> {
    let small = prop_oneof![
        Just("79228162514264337593543950335".to_string()),
        Just("-79228162514264337593543950335".to_string()),
        Just("7000000000000000000000000000".to_string()),
        Just("0.12345678901234567890123456789".to_string()),
        Just("1e30".to_string()),
        Just("-1e-30".to_string()),
        Just("NaN".to_string()),
        Just("inf".to_string()),
        Just("-0".to_string()),
        Just("18446744073709551616".to_string()),
        Just("9999-12-31T23:59:59Z".to_string()),
        Just("-62135596800".to_string()),
        (any::<i64>()).prop_map(|n| n.to_string()),
        (any::<f64>()).prop_map(|f| f.to_string()),
        prop::collection::vec(any::<u8>(), 0..40)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        "[0-9.eE+-]{0,30}",
    ];
    prop_oneof![200 => small, 1 => Just("x".repeat(1 << 20))]
}

fn entry(kind: &str, fields: &[(String, String)]) -> RawEntry {
    let mut pairs = vec![
        ("type".to_string(), kind.to_string()),
        ("user".to_string(), "u".to_string()),
    ];
    pairs.extend(fields.iter().cloned());
    RawEntry::from_pairs(
        EventId {
            ms: 1_800_000_000_000,
            seq: 0,
        },
        pairs,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// A log line (arbitrary bytes, or a valid one with bytes replaced) through the whole fold
    /// of a chunk: parse, classify, rollup deltas, visit lines.
    #[test]
    fn a_log_line_never_panics_the_fold(
        line in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..300),
            (prop::collection::vec((0usize..160, any::<u8>()), 1..6)).prop_map(|edits| {
                let mut l = br#"203.0.113.9 - - [23/Nov/2026:10:00:00 +0100] "GET /pricing?a=%C3%A9 HTTP/1.1" 200 512 "https://x.example/" "Mozilla/5.0 (X11) Firefox/1""#.to_vec();
                for (at, b) in edits { if at < l.len() { l[at] = b; } }
                l
            }),
        ],
        spec in prop_oneof![Just("combined"), Just("common"), Just("vcombined")],
    ) {
        let config = config();
        let format = LogFormat::compile(spec).unwrap();
        let bots = BotList::new(&[]);
        let keys = VisitorKeys::new([3; 16]);
        let mut folder = Folder::new(&config, &format, ClientIp::RemoteAddr, &bots, &keys);
        let mut data = line.clone();
        data.push(b'\n');
        let lines = memchr::memchr_iter(b'\n', &data).count() as u64;
        let report = folder.fold(&Chunk { data, offset: 0, oversized: false }, "a.log");
        for (_, delta) in folder.finish() {
            let mut day = TrafficDay::default();
            day.absorb(delta);
            let _ = day.sessions_and_bounces();
        }
        prop_assert_eq!(report.lines, lines, "every line counted once");
    }

    /// An event's fields, hostile values in every field, through parsing, the projection and
    /// the activity rollups (applied twice: sums grow).
    #[test]
    fn event_fields_never_panic_the_projection_or_the_rollups(
        kind in prop_oneof![
            Just("conversion".to_string()),
            Just("api_call".to_string()),
            Just("error".to_string()),
            Just("command".to_string()),
            Just("cancellation".to_string()),
            Just("registration".to_string()),
            Just("trial_started".to_string()),
            "[a-z_]{1,12}",
        ],
        values in prop::collection::vec((prop_oneof![Just("mrr"), Just("cost"), Just("latency_ms"), Just("ts"), Just("plan"), Just("provider"), Just("name"), Just("message"), Just("ip"), Just("command")], hostile()), 0..6),
    ) {
        let fields: Vec<(String, String)> = values.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        let raw = entry(&kind, &fields);
        if let Ok(event) = Event::parse(&raw) {
            let mut user = UserRecord::new(&event);
            let moved = user.apply(&event, chrono_tz::Europe::Berlin).unwrap_or_default();
            let mut day = ActivityDay::default();
            for _ in 0..2 {
                let _ = arkwatch::events::activity::add_event(&mut day, &event);
                for d in moved.values() {
                    let _ = arkwatch::events::activity::apply(&mut day, d);
                }
            }
            let mut sum = ActivityDay::default();
            let _ = sum.merge(day.clone());
            let _ = sum.merge(day);
        }
    }

    /// A configuration file with hostile values for its keys loads or is refused, never panics.
    #[test]
    fn a_config_never_panics_its_validation(
        values in prop::collection::vec((0usize..14, prop_oneof![
            (any::<i64>()).prop_map(|n| n.to_string()),
            (any::<f64>()).prop_map(|f| if f.is_finite() { f.to_string() } else { "1e309".to_string() }),
            "\"[ -~]{0,20}\"",
            Just("\"\"".to_string()),
            Just("[\"/pricing\", \"/pricing/\"]".to_string()),
            Just("18446744073709551616".to_string()),
        ]), 0..6),
    ) {
        const KEYS: [&str; 14] = [
            "timezone", "alerts.dedup_hours", "alerts.cooldown_hours", "alerts.lead_max_age_hours",
            "alerts.max_emails_per_hour", "alerts.rules.silence.hours", "alerts.rules.error_rate.percent",
            "alerts.rules.conversion_rate.days", "events.retention_days", "events.store",
            "retention.max_age_days", "retention.archive_days", "metrics.infra_cost_per_month",
            "metrics.trial_days",
        ];
        let mut text = String::from("data_dir = \"d\"\n");
        for (k, v) in values {
            let (table, key) = KEYS[k].rsplit_once('.').unwrap_or(("", KEYS[k]));
            if table.is_empty() {
                let _ = writeln!(text, "{key} = {v}");
            } else {
                let _ = writeln!(text, "[{table}]\n{key} = {v}");
            }
        }
        let _ = Config::parse(Path::new("/x/arkwatch.toml"), &text);
    }

    /// A purge target (and the text it is looked for in) never panics.
    #[test]
    fn a_purge_target_never_panics(
        spec in prop_oneof![
            "[0-9a-fA-F:./]{0,45}",
            (any::<[u8; 4]>(), 0u8..=40).prop_map(|(a, p)| format!("{}.{}.{}.{}/{p}", a[0], a[1], a[2], a[3])),
            (any::<[u16; 8]>(), 0u8..=140).prop_map(|(s, p)| format!("{}/{p}", std::net::Ipv6Addr::from(s))),
            any::<String>(),
        ],
        force in any::<bool>(),
        text in "[0-9a-fA-F:. ,\\[\\]\"x]{0,80}",
    ) {
        if let Ok(target) = Target::parse(&spec, force) {
            let _ = target.in_text(text.as_bytes());
            let _ = target.redact(&text);
            let mut bytes = text.clone().into_bytes();
            target.mask(&mut bytes);
            prop_assert_eq!(bytes.len(), text.len(), "masking keeps the length");
            let _ = target.matching_lines(text.as_bytes());
        }
    }
}

/// The same hostile values, stored straight into each store (producers are not checked at the
/// door), then folded, reported and measured by the real binary: no panic, and the fold says
/// which events were malformed.
fn hostile_events_through_the_binary(
    site: &common::Site,
    mut store: Box<dyn arkwatch::events::store::EventStore>,
) {
    let mut rng = common::Rng(0xbad_f00d);
    let values = [
        "79228162514264337593543950335",
        "-5",
        "0.12345678901234567890123456789",
        "1e30",
        "NaN",
        "29.00",
        "9999-12-31T23:59:59Z",
        "\u{1b}[2J",
    ];
    let kinds = [
        "conversion",
        "api_call",
        "error",
        "cancellation",
        "command",
        "login",
    ];
    let fields = [
        "mrr",
        "cost",
        "latency_ms",
        "ts",
        "plan",
        "name",
        "message",
        "provider",
    ];
    let mut events = Vec::new();
    for i in 0..300u64 {
        let mut f = vec![
            (
                "type".to_string(),
                kinds[rng.below(kinds.len() as u64) as usize].to_string(),
            ),
            ("user".to_string(), format!("u{}", i % 17)),
        ];
        for _ in 0..3 {
            f.push((
                fields[rng.below(fields.len() as u64) as usize].to_string(),
                values[rng.below(values.len() as u64) as usize].to_string(),
            ));
        }
        if i % 50 == 0 {
            f.push(("message".to_string(), "y".repeat(1 << 20)));
        }
        events.push(f);
    }
    store.append(&events).unwrap();
    let fold = site
        .command()
        .args(["fold-events", "--json"])
        .output()
        .unwrap();
    common::assert_success(&fold);
    let summary: serde_json::Value = serde_json::from_slice(&fold.stdout).unwrap();
    assert!(summary["malformed"].as_u64().unwrap() > 50, "{summary:#}");
    for args in [
        &["metrics", "all", "--json"][..],
        &["metrics", "all", "--csv"],
        &["metrics", "all"],
        &["metrics", "--prometheus"],
        &["report", "monthly"],
        &["report", "weekly", "--format", "html"],
        &["scan", "--json"],
    ] {
        let out = site.command().args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(
            out.status.code().is_some_and(|c| c <= 1),
            "{args:?}: {:?} {stderr}",
            out.status
        );
    }
}

#[test]
fn hostile_event_values_never_panic_the_binary_on_the_file_store() {
    let site = common::Site::new("");
    let config = Config::load(&site.config).unwrap();
    hostile_events_through_the_binary(&site, arkwatch::events::open(&config).unwrap());
}

#[test]
fn hostile_event_values_never_panic_the_binary_on_redis() {
    let redis = common::redis::RedisServer::start();
    let site = common::Site::new(&format!("[events]\nstore = \"{}\"\n", redis.url()));
    let config = Config::load(&site.config).unwrap();
    hostile_events_through_the_binary(&site, arkwatch::events::open(&config).unwrap());
}
