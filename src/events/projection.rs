//! The users projection: one record per user, folded from events, kept durably so that trimming
//! old events loses no user and no MRR.

use chrono::serde::{ts_milliseconds, ts_milliseconds_option};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::event::{Event, EventId, EventKind};

/// Times are stored as Unix milliseconds: a fold reads and writes thousands of records, and
/// RFC 3339 text took most of that time.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    /// When the user registered (unknown when their registration predates the events).
    #[serde(default, with = "ts_milliseconds_option")]
    pub registered: Option<DateTime<Utc>>,
    /// The paid plan, while there is one.
    #[serde(default)]
    pub plan: Option<String>,
    /// Monthly price of the current paid plan; zero when free.
    #[serde(default)]
    pub mrr: Decimal,
    /// The first conversion to a paid plan.
    #[serde(default, with = "ts_milliseconds_option")]
    pub converted: Option<DateTime<Utc>>,
    /// The last cancellation, while the user stays free after it.
    #[serde(default, with = "ts_milliseconds_option")]
    pub cancelled: Option<DateTime<Utc>>,
    #[serde(with = "ts_milliseconds")]
    pub first_seen: DateTime<Utc>,
    #[serde(with = "ts_milliseconds")]
    pub last_seen: DateTime<Utc>,
    /// The last event applied; an event at or before it is not applied again.
    pub last_event: EventId,
}

/// Users, paying users and MRR over the whole projection, kept with it so that reading them
/// costs nothing, and updated by each fold from the records it changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserTotals {
    pub total: u64,
    pub premium: u64,
    pub mrr: Decimal,
}

impl UserTotals {
    pub fn count<'a>(records: impl IntoIterator<Item = &'a UserRecord>) -> UserTotals {
        let mut totals = UserTotals::default();
        for record in records {
            totals.update(None, record);
        }
        totals
    }

    /// Replaces one user's contribution: `before` is their MRR before (None: a new user).
    pub fn update(&mut self, before: Option<Decimal>, after: &UserRecord) {
        match before {
            None => self.total += 1,
            Some(mrr) => {
                self.mrr -= mrr;
                self.premium -= u64::from(mrr > Decimal::ZERO);
            }
        }
        self.mrr += after.mrr;
        self.premium += u64::from(after.is_paying());
    }
}

/// What an event did to revenue, for the day's activity rollup.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Movement {
    pub new: Decimal,
    pub churned: Decimal,
    pub expansion: Decimal,
    pub contraction: Decimal,
    pub conversion: bool,
    pub cancellation: bool,
}

impl UserRecord {
    pub fn new(event: &Event) -> UserRecord {
        UserRecord {
            first_seen: event.time,
            last_seen: event.time,
            ..UserRecord::default()
        }
    }

    pub fn is_paying(&self) -> bool {
        self.mrr > Decimal::ZERO
    }

    /// Applies `event` (of this user) unless it was applied already; returns its movement.
    pub fn apply(&mut self, event: &Event) -> Option<Movement> {
        if event.id <= self.last_event {
            return None;
        }
        self.last_event = event.id;
        self.first_seen = self.first_seen.min(event.time);
        self.last_seen = self.last_seen.max(event.time);
        let mut movement = Movement::default();
        match &event.kind {
            EventKind::Registration => {
                self.registered = Some(self.registered.map_or(event.time, |r| r.min(event.time)));
            }
            EventKind::Conversion { plan, mrr } => {
                let old = self.mrr;
                if old.is_zero() {
                    movement.new = *mrr;
                    movement.conversion = true;
                } else if *mrr > old {
                    movement.expansion = *mrr - old;
                } else {
                    movement.contraction = old - *mrr;
                }
                self.plan = Some(plan.clone());
                self.mrr = *mrr;
                self.converted.get_or_insert(event.time);
                self.cancelled = None;
            }
            EventKind::Cancellation { .. } => {
                if self.is_paying() {
                    movement.churned = self.mrr;
                    movement.cancellation = true;
                }
                self.plan = None;
                self.mrr = Decimal::ZERO;
                self.cancelled = Some(event.time);
            }
            _ => {}
        }
        Some(movement)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: u64, kind: EventKind) -> Event {
        let id = EventId {
            ms: 1_795_132_800_000,
            seq,
        };
        Event {
            id,
            time: id.time(),
            user: "u".into(),
            ip: None,
            kind,
        }
    }

    #[test]
    fn conversions_upgrades_and_cancellations_move_mrr() {
        let mut u = UserRecord::new(&event(0, EventKind::Registration));
        u.apply(&event(0, EventKind::Registration)).unwrap();
        let m = u
            .apply(&event(
                1,
                EventKind::Conversion {
                    plan: "pro".into(),
                    mrr: Decimal::new(2000, 2),
                },
            ))
            .unwrap();
        assert_eq!((m.new, m.conversion), (Decimal::new(20, 0), true));
        let m = u
            .apply(&event(
                2,
                EventKind::Conversion {
                    plan: "team".into(),
                    mrr: Decimal::new(50, 0),
                },
            ))
            .unwrap();
        assert_eq!(m.expansion, Decimal::new(30, 0));
        let m = u
            .apply(&event(
                3,
                EventKind::Conversion {
                    plan: "pro".into(),
                    mrr: Decimal::new(20, 0),
                },
            ))
            .unwrap();
        assert_eq!(m.contraction, Decimal::new(30, 0));
        let m = u
            .apply(&event(4, EventKind::Cancellation { plan: None }))
            .unwrap();
        assert_eq!((m.churned, m.cancellation), (Decimal::new(20, 0), true));
        assert!(!u.is_paying());
        assert!(u.converted.is_some() && u.cancelled.is_some());
    }

    #[test]
    fn folding_an_event_twice_changes_nothing() {
        let mut u = UserRecord::new(&event(1, EventKind::Registration));
        let conv = event(
            1,
            EventKind::Conversion {
                plan: "pro".into(),
                mrr: Decimal::new(20, 0),
            },
        );
        assert!(u.apply(&conv).is_some());
        let before = u.clone();
        assert_eq!(u.apply(&conv), None);
        assert_eq!(u, before);
    }
}
