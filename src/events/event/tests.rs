//! Parsing events from stored fields: what each kind needs, the bounds of every value.

use super::*;

fn entry(fields: &[(&str, &str)]) -> RawEntry {
    RawEntry::from_pairs("1795132800000-3".parse().unwrap(), fields.iter().copied())
}

#[test]
fn raw_entries_keep_fields_in_order() {
    let e = entry(&[
        ("type", "command"),
        ("user", "42"),
        ("name", ""),
        ("note", "é"),
    ]);
    let fields: Vec<(&str, &str)> = e.fields().collect();
    assert_eq!(
        fields,
        [
            ("type", "command"),
            ("user", "42"),
            ("name", ""),
            ("note", "é")
        ]
    );
    assert_eq!(e.get("user"), Some("42"));
    assert_eq!(e.get("name"), None, "empty values are absent");
    assert_eq!(e.get("missing"), None);
}

#[test]
fn ids_order_and_print() {
    let a: EventId = "1700000000000-0".parse().unwrap();
    let b: EventId = "1700000000000-1".parse().unwrap();
    assert!(a < b);
    assert_eq!(b.to_string(), "1700000000000-1");
    assert!("x-1".parse::<EventId>().is_err());
}

#[test]
fn every_type_parses() {
    let e = Event::parse(&entry(&[
        ("type", "conversion"),
        ("user", "42"),
        ("plan", "pro"),
        ("mrr", "29.90"),
    ]))
    .unwrap();
    assert_eq!(
        e.kind,
        EventKind::Conversion {
            plan: "pro".into(),
            mrr: Decimal::new(2990, 2)
        }
    );
    assert_eq!(e.time, e.id.time(), "no ts: the entry id's time");
    let e = Event::parse(&entry(&[
        ("type", "api_call"),
        ("user", "7"),
        ("provider", "openai"),
        ("cost", "0.0021"),
        ("latency_ms", "812"),
        ("ts", "2026-11-23T10:00:00+01:00"),
        ("ip", "::ffff:1.2.3.4"),
    ]))
    .unwrap();
    assert_eq!(
        e.kind,
        EventKind::ApiCall {
            provider: "openai".into(),
            cost: Decimal::new(21, 4),
            latency_ms: 812
        }
    );
    assert_eq!(e.time.to_rfc3339(), "2026-11-23T09:00:00+00:00");
    assert_eq!(e.ip, "1.2.3.4".parse().ok());
    let e = Event::parse(&entry(&[
        ("type", "error"),
        ("user", "7"),
        ("message", "timeout"),
        ("command", "/price"),
    ]))
    .unwrap();
    assert!(matches!(e.kind, EventKind::Error { name: None, .. }));
    let e = Event::parse(&entry(&[("type", "page_share"), ("user", "7")])).unwrap();
    assert_eq!(
        e.kind,
        EventKind::Unknown {
            kind: "page_share".into()
        }
    );
}

#[test]
fn malformed_events_say_why() {
    let why = |fields: &[(&str, &str)]| Event::parse(&entry(fields)).unwrap_err().reason;
    assert_eq!(why(&[("user", "1")]), "type is missing");
    assert_eq!(why(&[("type", "command")]), "user is missing");
    assert_eq!(
        why(&[("type", "command"), ("user", "1")]),
        "name is missing"
    );
    assert!(
        why(&[
            ("type", "api_call"),
            ("user", "1"),
            ("provider", "x"),
            ("cost", "abc")
        ])
        .contains("not a number")
    );
    assert!(
        why(&[
            ("type", "conversion"),
            ("user", "1"),
            ("plan", "p"),
            ("mrr", "-5")
        ])
        .contains("negative")
    );
    assert!(why(&[("type", "error"), ("user", "1")]).contains("name or a message"));
    assert!(
        why(&[("type", "registration"), ("user", "1"), ("ts", "yesterday")]).contains("not a time")
    );
}

#[test]
fn times() {
    assert_eq!(
        parse_time("1700000000"),
        DateTime::from_timestamp(1_700_000_000, 0)
    );
    assert_eq!(
        parse_time("1700000000123"),
        DateTime::from_timestamp_millis(1_700_000_000_123)
    );
    assert_eq!(
        parse_time("1700000000.5"),
        DateTime::from_timestamp_millis(1_700_000_000_500)
    );
    assert_eq!(parse_time("nope"), None);
}
