//! The users projection: one record per user, folded from events, kept durably so that trimming
//! old events loses no user and no MRR.
//!
//! Billing follows **event time, not arrival order** (payment webhooks arrive late and out of
//! order): each record keeps the user's billing history (conversions and cancellations, by time),
//! and a user's plan, MRR and revenue movements are those of that history replayed in time
//! order. Applying an event returns how it changed the user's movements on each local day, so
//! the daily activity rollups always equal a fold of the same events in time order, however they
//! arrived and however they were split across folds.

use std::collections::BTreeMap;

use chrono::serde::{ts_milliseconds, ts_milliseconds_option};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::event::{Event, EventId, EventKind};
use crate::day::DayResolver;

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
    /// The first `trial_started` event.
    #[serde(
        default,
        with = "ts_milliseconds_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub trial_started: Option<DateTime<Utc>>,
    #[serde(with = "ts_milliseconds")]
    pub first_seen: DateTime<Utc>,
    #[serde(with = "ts_milliseconds")]
    pub last_seen: DateTime<Utc>,
    /// The last event applied; an event at or before it is not applied again.
    pub last_event: EventId,
    /// Every conversion and cancellation, in time order (ties by id).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub billing: Vec<Billing>,
}

/// One change of a user's plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Billing {
    #[serde(with = "ts_milliseconds")]
    pub time: DateTime<Utc>,
    pub id: EventId,
    /// The plan and monthly price paid from then on; `None`: cancelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    #[serde(default)]
    pub mrr: Decimal,
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
                self.mrr = self.mrr.saturating_sub(mrr);
                self.premium = self.premium.saturating_sub(u64::from(mrr > Decimal::ZERO));
            }
        }
        self.mrr = self.mrr.saturating_add(after.mrr);
        self.premium += u64::from(after.is_paying());
    }
}

/// What one billing change did to revenue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Movement {
    /// A first conversion to a paid plan.
    pub new: Decimal,
    /// A user who had cancelled pays again.
    pub reactivation: Decimal,
    pub expansion: Decimal,
    pub contraction: Decimal,
    pub churned: Decimal,
    pub conversion: bool,
    pub reactivated: bool,
    pub cancellation: bool,
}

/// How one event changed a user's movements on one local day (days since 1970-01-01): the
/// movements after the event minus those before. Counts may go down: a late conversion can
/// turn a later one from a reactivation into an expansion.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MovementDelta {
    pub new: Decimal,
    pub reactivation: Decimal,
    pub expansion: Decimal,
    pub contraction: Decimal,
    pub churned: Decimal,
    pub conversions: i64,
    pub reactivations: i64,
    pub cancellations: i64,
}

impl MovementDelta {
    fn add(&mut self, m: &Movement, sign: i64) {
        let s = Decimal::from(sign);
        self.new += m.new * s;
        self.reactivation += m.reactivation * s;
        self.expansion += m.expansion * s;
        self.contraction += m.contraction * s;
        self.churned += m.churned * s;
        self.conversions += i64::from(m.conversion) * sign;
        self.reactivations += i64::from(m.reactivated) * sign;
        self.cancellations += i64::from(m.cancellation) * sign;
    }

    pub fn is_zero(&self) -> bool {
        *self == MovementDelta::default()
    }
}

/// The state of a billing history replayed up to some point.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub plan: Option<String>,
    pub mrr: Decimal,
    /// Whether the user ever paid before (a conversion from zero is then a reactivation).
    pub paid_before: bool,
}

/// Replays `billing` (in time order), calling `each` with every change and its movement.
pub fn replay<'a>(
    billing: &'a [Billing],
    mut each: impl FnMut(&'a Billing, &Movement, &Plan),
) -> Plan {
    let mut state = Plan::default();
    for b in billing {
        let mut m = Movement::default();
        let old = state.mrr;
        if let Some(plan) = &b.plan {
            if old.is_zero() && b.mrr > Decimal::ZERO {
                if state.paid_before {
                    m.reactivation = b.mrr;
                    m.reactivated = true;
                } else {
                    m.new = b.mrr;
                    m.conversion = true;
                }
            } else if b.mrr > old {
                m.expansion = b.mrr - old;
            } else {
                m.contraction = old - b.mrr;
            }
            state.plan = (b.mrr > Decimal::ZERO).then(|| plan.clone());
            state.mrr = b.mrr;
            state.paid_before |= b.mrr > Decimal::ZERO;
        } else {
            if old > Decimal::ZERO {
                m.churned = old;
                m.cancellation = true;
            }
            state.plan = None;
            state.mrr = Decimal::ZERO;
        }
        each(b, &m, &state);
    }
    state
}

/// The plan a history leaves in place at `at` (changes before `at` only).
pub fn plan_at(billing: &[Billing], at: DateTime<Utc>) -> Plan {
    let upto = billing.partition_point(|b| b.time < at);
    replay(&billing[..upto], |_, _, _| {})
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

    /// Applies `event` (of this user) unless it was applied already. Returns the change it
    /// made to the user's movements on each local day of `tz` (empty: none).
    pub fn apply(&mut self, event: &Event, tz: Tz) -> Option<BTreeMap<i32, MovementDelta>> {
        if event.id <= self.last_event {
            return None;
        }
        self.last_event = event.id;
        self.first_seen = self.first_seen.min(event.time);
        self.last_seen = self.last_seen.max(event.time);
        let change = match &event.kind {
            EventKind::Registration => {
                self.registered = Some(self.registered.map_or(event.time, |r| r.min(event.time)));
                None
            }
            EventKind::TrialStarted { .. } => {
                self.trial_started =
                    Some(self.trial_started.map_or(event.time, |t| t.min(event.time)));
                None
            }
            EventKind::Conversion { plan, mrr } => Some((Some(plan.clone()), *mrr)),
            EventKind::Cancellation { .. } => Some((None, Decimal::ZERO)),
            _ => None,
        };
        let Some((plan, mrr)) = change else {
            return Some(BTreeMap::new());
        };
        self.seed_legacy_history();
        let before = movements(&self.billing, tz);
        let entry = Billing {
            time: event.time,
            id: event.id,
            plan,
            mrr,
        };
        let at = self
            .billing
            .partition_point(|b| (b.time, b.id) < (entry.time, entry.id));
        self.billing.insert(at, entry);
        let after = movements(&self.billing, tz);
        self.settle();
        let mut delta: BTreeMap<i32, MovementDelta> = BTreeMap::new();
        for (day, m) in &before {
            delta.entry(*day).or_default().add(m, -1);
        }
        for (day, m) in &after {
            delta.entry(*day).or_default().add(m, 1);
        }
        delta.retain(|_, d| !d.is_zero());
        Some(delta)
    }

    /// The plan, MRR, first conversion and last cancellation, from the history.
    fn settle(&mut self) {
        let mut converted = None;
        let state = replay(&self.billing, |b, m, _| {
            if (m.conversion || m.reactivated) && converted.is_none() {
                converted = Some(b.time);
            }
        });
        self.plan = state.plan;
        self.mrr = state.mrr;
        self.converted = converted;
        self.cancelled = match self.billing.last() {
            Some(b) if b.plan.is_none() && self.mrr.is_zero() => Some(b.time),
            _ => None,
        };
    }

    /// A record folded before histories were kept knows only its current plan: that becomes
    /// the start of its history, at its first conversion (or first sighting).
    fn seed_legacy_history(&mut self) {
        if !self.billing.is_empty() || (self.mrr.is_zero() && self.cancelled.is_none()) {
            return;
        }
        if self.mrr > Decimal::ZERO {
            self.billing.push(Billing {
                time: self.converted.unwrap_or(self.first_seen),
                id: EventId::default(),
                plan: self.plan.clone(),
                mrr: self.mrr,
            });
        }
    }
}

/// Every movement of a history, with its local day.
fn movements(billing: &[Billing], tz: Tz) -> Vec<(i32, Movement)> {
    let mut days = DayResolver::new(tz);
    let mut out = Vec::new();
    replay(billing, |b, m, _| {
        if *m != Movement::default() {
            out.push((days.day(b.time.timestamp()), *m));
        }
    });
    out
}

#[cfg(test)]
mod tests;
