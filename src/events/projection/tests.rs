//! The projection replays billing in event time: examples, and a property over arrival orders.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use rust_decimal::Decimal;

use super::*;
use crate::events::event::{Event, EventId, EventKind};

const UTC: Tz = chrono_tz::UTC;

/// An event at `time` that arrived as the `seq`-th of the stream.
fn event(seq: u64, time: &str, kind: EventKind) -> Event {
    Event {
        id: EventId {
            ms: 1_900_000_000_000,
            seq,
        },
        time: DateTime::parse_from_rfc3339(time)
            .unwrap()
            .with_timezone(&Utc),
        user: "u".into(),
        ip: None,
        user_agent: None,
        kind,
    }
}

fn conversion(plan: &str, mrr: i64) -> EventKind {
    EventKind::Conversion {
        plan: plan.into(),
        mrr: Decimal::new(mrr, 2),
    }
}

fn cancellation() -> EventKind {
    EventKind::Cancellation { plan: None }
}

/// Folds `events` in the order given; returns the record and the summed day deltas.
fn fold(events: &[Event]) -> (UserRecord, BTreeMap<i32, MovementDelta>) {
    let mut record = UserRecord::new(&events[0]);
    let mut total: BTreeMap<i32, MovementDelta> = BTreeMap::new();
    for e in events {
        for (day, d) in record.apply(e, UTC).unwrap_or_default() {
            let t = total.entry(day).or_default();
            t.new += d.new;
            t.reactivation += d.reactivation;
            t.expansion += d.expansion;
            t.contraction += d.contraction;
            t.churned += d.churned;
            t.conversions += d.conversions;
            t.reactivations += d.reactivations;
            t.cancellations += d.cancellations;
        }
    }
    total.retain(|_, d| !d.is_zero());
    (record, total)
}

fn sum(deltas: &BTreeMap<i32, MovementDelta>) -> (Decimal, Decimal, Decimal, Decimal) {
    deltas
        .values()
        .fold(Default::default(), |(n, e, c, ch), d| {
            (
                n + d.new,
                e + d.expansion,
                c + d.contraction,
                ch + d.churned,
            )
        })
}

#[test]
fn conversions_upgrades_and_cancellations_move_mrr() {
    let (u, d) = fold(&[
        event(0, "2026-10-01T10:00:00Z", EventKind::Registration),
        event(1, "2026-10-02T10:00:00Z", conversion("pro", 2000)),
        event(2, "2026-10-03T10:00:00Z", conversion("team", 5000)),
        event(3, "2026-10-04T10:00:00Z", conversion("pro", 2000)),
        event(4, "2026-10-05T10:00:00Z", cancellation()),
    ]);
    let (new, expansion, contraction, churned) = sum(&d);
    assert_eq!(new, Decimal::new(20, 0));
    assert_eq!(expansion, Decimal::new(30, 0));
    assert_eq!(contraction, Decimal::new(30, 0));
    assert_eq!(churned, Decimal::new(20, 0));
    assert!(!u.is_paying());
    assert!(u.converted.is_some() && u.cancelled.is_some());
}

#[test]
fn folding_an_event_twice_changes_nothing() {
    let e = event(1, "2026-10-02T10:00:00Z", conversion("pro", 2000));
    let mut u = UserRecord::new(&e);
    assert!(u.apply(&e, UTC).is_some());
    let before = u.clone();
    assert_eq!(u.apply(&e, UTC), None);
    assert_eq!(u, before);
}

/// The webhook of an upgrade stamped 12:00 arrived after the cancellation of 12:10: in arrival
/// order that gave MRR 99 and new/expansion/churned 128/0/29.
#[test]
fn a_late_upgrade_before_a_cancellation_is_applied_in_event_time() {
    let (u, d) = fold(&[
        event(0, "2026-10-01T09:00:00Z", EventKind::Registration),
        event(1, "2026-10-02T09:00:00Z", conversion("pro", 2900)),
        event(2, "2026-10-05T12:10:00Z", cancellation()),
        event(3, "2026-10-05T12:00:00Z", conversion("business", 9900)),
    ]);
    assert_eq!(u.mrr, Decimal::ZERO);
    assert!(!u.is_paying());
    let (new, expansion, _, churned) = sum(&d);
    assert_eq!(
        (new, expansion, churned),
        (
            Decimal::new(29, 0),
            Decimal::new(70, 0),
            Decimal::new(99, 0)
        )
    );
}

/// A conversion backfilled with an earlier time than the latest plan change overrode the
/// current plan (MRR 10, then a late MRR 5 dated before it, gave MRR 5 and a contraction
/// before the user ever converted).
#[test]
fn a_backfilled_conversion_does_not_override_the_current_plan() {
    let (u, d) = fold(&[
        event(0, "2026-10-10T09:00:00Z", conversion("pro", 1000)),
        event(1, "2026-10-01T09:00:00Z", conversion("starter", 500)),
    ]);
    assert_eq!(u.mrr, Decimal::new(1000, 2));
    assert_eq!(u.plan.as_deref(), Some("pro"));
    let (new, expansion, contraction, _) = sum(&d);
    assert_eq!(
        (new, expansion, contraction),
        (Decimal::new(5, 0), Decimal::new(5, 0), Decimal::ZERO)
    );
    assert_eq!(
        u.converted,
        Some(
            DateTime::parse_from_rfc3339("2026-10-01T09:00:00Z")
                .unwrap()
                .with_timezone(&Utc)
        )
    );
}

#[test]
fn a_cancelled_user_who_pays_again_is_a_reactivation() {
    let (u, d) = fold(&[
        event(0, "2026-10-01T09:00:00Z", conversion("pro", 2900)),
        event(1, "2026-10-03T09:00:00Z", cancellation()),
        event(2, "2026-10-09T09:00:00Z", conversion("pro", 2900)),
    ]);
    let reactivation: Decimal = d.values().map(|x| x.reactivation).sum();
    let reactivations: i64 = d.values().map(|x| x.reactivations).sum();
    let conversions: i64 = d.values().map(|x| x.conversions).sum();
    assert_eq!(reactivation, Decimal::new(29, 0));
    assert_eq!((reactivations, conversions), (1, 1));
    assert!(u.is_paying() && u.cancelled.is_none());
}

fn kinds() -> impl Strategy<Value = EventKind> {
    prop_oneof![
        Just(EventKind::Registration),
        (0i64..4, 0i64..20000).prop_map(|(p, mrr)| conversion(&format!("plan{p}"), mrr)),
        Just(cancellation()),
        Just(EventKind::Command { name: "x".into() }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Whatever order events arrive in, the record and every day's movements equal those of
    /// the same events in time order.
    #[test]
    fn any_arrival_order_equals_event_time_order(
        events in prop::collection::vec((0i64..30 * 24, kinds()), 1..14),
        order in Just(()).prop_perturb(|(), mut rng| rng.random::<u64>()),
    ) {
        // Distinct times (hours of October), so time order is one order.
        let mut seen = std::collections::BTreeSet::new();
        let events: Vec<(i64, EventKind)> =
            events.into_iter().filter(|(h, _)| seen.insert(*h)).collect();
        let at = |h: i64| "2026-10-01T00:00:00Z"
            .parse::<DateTime<Utc>>()
            .unwrap()
            + chrono::Duration::hours(h);
        let build = |items: &[(i64, EventKind)]| -> Vec<Event> {
            items.iter().enumerate().map(|(seq, (h, k))| Event {
                id: EventId { ms: 1_900_000_000_000, seq: seq as u64 },
                time: at(*h),
                user: "u".into(),
                ip: None,
                user_agent: None,
                kind: k.clone(),
            }).collect()
        };
        let mut by_time = events.clone();
        by_time.sort_by_key(|(h, _)| *h);
        let mut shuffled = events.clone();
        // A deterministic shuffle from the drawn seed.
        let mut state = order | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17;
            shuffled.swap(i, usize::try_from(state % (i as u64 + 1)).unwrap());
        }
        let (a, da) = fold(&build(&by_time));
        let (b, db) = fold(&build(&shuffled));
        prop_assert_eq!(da, db);
        prop_assert_eq!((a.mrr, a.plan, a.converted, a.cancelled, a.registered),
                        (b.mrr, b.plan, b.converted, b.cancelled, b.registered));
    }
}
