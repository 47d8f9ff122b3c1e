//! Folding events: pages of entries after the cursors turned into changed users-projection
//! records and per-day activity. Nothing is written here; the pipeline's fold stage commits
//! the activity with the state, then the projection with its own cursor in the store.
//!
//! Two cursors make a killed fold harmless: events at or before the activity cursor are not
//! added to the activity again, events at or before the projection cursor are not applied to
//! the projection again.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use chrono::NaiveDate;
use chrono_tz::Tz;
use serde::Serialize;

use super::event::{Event, EventId, EventKind};
use super::projection::{MovementDelta, UserRecord, UserTotals};
use super::store::EventStore;
use crate::day::{self, DayResolver};
use crate::rollup::activity::ActivityDay;
use crate::rollup::keys::VisitorKeys;

/// Entries per `XRANGE … COUNT` page: memory stays bounded whatever the backlog.
pub const PAGE: usize = 10_000;
const MAX_MALFORMED_LISTED: usize = 20;

#[derive(Debug, Default, Serialize)]
pub struct FoldSummary {
    pub store: String,
    /// Entries read.
    pub events: u64,
    pub unknown: u64,
    pub malformed: u64,
    /// Ids (and reasons) of malformed entries, the first few.
    pub malformed_ids: Vec<MalformedEvent>,
    pub cursor: Option<EventId>,
    pub days: BTreeSet<NaiveDate>,
    /// The projection's users, paying users and MRR after the fold.
    pub users: UserTotals,
    /// Links the fold added to the links store (users linked to visitors).
    pub links: usize,
    pub seconds: f64,
}

#[derive(Debug, Serialize)]
pub struct MalformedEvent {
    pub id: EventId,
    pub reason: String,
}

/// A user's projection record during a fold, and whether the fold changed it.
pub struct Slot {
    pub record: Option<UserRecord>,
    /// The user's MRR when loaded (None: not in the projection yet), for the totals.
    pub before: Option<rust_decimal::Decimal>,
    pub changed: bool,
}

/// One fold in progress.
pub struct Folding<'k> {
    activity_cursor: Option<EventId>,
    projection_cursor: Option<EventId>,
    keys: &'k VisitorKeys,
    days: DayResolver,
    tz: Tz,
    pub users: foldhash::HashMap<String, Slot>,
    pub deltas: BTreeMap<i32, ActivityDay>,
    /// How the events changed each day's revenue movements (signed: a late event can move a
    /// movement to another day or change its kind).
    movements: BTreeMap<i32, MovementDelta>,
    active: BTreeMap<i32, foldhash::HashSet<u64>>,
    /// A recount (`verify`): every user starts from nothing, not from the stored projection.
    fresh: bool,
    /// Events that carried an address (for the links store).
    pub with_address: Vec<Event>,
    pub summary: FoldSummary,
}

impl<'k> Folding<'k> {
    pub fn new(
        activity_cursor: Option<EventId>,
        projection_cursor: Option<EventId>,
        keys: &'k VisitorKeys,
        tz: Tz,
    ) -> Folding<'k> {
        Folding {
            activity_cursor,
            projection_cursor,
            keys,
            days: DayResolver::new(tz),
            tz,
            users: foldhash::HashMap::default(),
            deltas: BTreeMap::new(),
            movements: BTreeMap::new(),
            active: BTreeMap::new(),
            fresh: false,
            with_address: Vec::new(),
            summary: FoldSummary::default(),
        }
    }

    /// A fold from nothing, for a recount: no cursor, and no user loaded from the store.
    pub fn fresh(keys: &'k VisitorKeys, tz: Tz) -> Folding<'k> {
        Folding {
            fresh: true,
            ..Folding::new(None, None, keys, tz)
        }
    }

    /// The records the fold built, by user (for a recount).
    pub fn records(&self) -> impl Iterator<Item = (&String, &UserRecord)> {
        self.users
            .iter()
            .filter_map(|(user, slot)| slot.record.as_ref().map(|r| (user, r)))
    }

    /// Where reading starts: the earlier of the two cursors (each part skips what it has).
    pub fn start(&self) -> Option<EventId> {
        match (self.activity_cursor, self.projection_cursor) {
            (Some(a), Some(p)) => Some(a.min(p)),
            _ => None,
        }
    }

    /// Folds one page, loading the projection records of users not seen yet in this fold.
    pub fn page(
        &mut self,
        store: &mut dyn EventStore,
        page: &[super::event::RawEntry],
    ) -> Result<()> {
        let mut unseen: foldhash::HashSet<&str> = foldhash::HashSet::default();
        for user in page.iter().filter_map(|e| e.get("user")) {
            if !self.users.contains_key(user) {
                unseen.insert(user);
            }
        }
        let unseen: Vec<&str> = unseen.into_iter().collect();
        let mut loaded = if self.fresh {
            BTreeMap::new()
        } else {
            store.load_users(&unseen)?
        };
        for user in unseen {
            let record = loaded.remove(user);
            let before = record.as_ref().map(|r| r.mrr);
            self.users.insert(
                user.to_string(),
                Slot {
                    record,
                    before,
                    changed: false,
                },
            );
        }
        for entry in page {
            self.summary.events += 1;
            match Event::parse(entry) {
                Ok(event) => self.event(&event)?,
                Err(bad) => {
                    self.summary.malformed += 1;
                    if self.summary.malformed_ids.len() < MAX_MALFORMED_LISTED {
                        self.summary.malformed_ids.push(MalformedEvent {
                            id: bad.id,
                            reason: bad.reason,
                        });
                    }
                }
            }
        }
        Ok(())
    }

    fn event(&mut self, event: &Event) -> Result<()> {
        if event.ip.is_some() {
            self.with_address.push(event.clone());
        }
        let slot = self
            .users
            .get_mut(&event.user)
            .expect("every user of the page was looked up");
        let unknown = matches!(event.kind, EventKind::Unknown { .. });
        let in_projection = self.projection_cursor.is_none_or(|c| event.id > c);
        // An event of an unknown type is counted, but creates no user and changes none; an
        // identify only links (see `links`).
        let passive = unknown || matches!(event.kind, EventKind::Identify);
        let moved = if in_projection && !passive {
            slot.changed = true;
            slot.record
                .get_or_insert_with(|| UserRecord::new(event))
                .apply(event, self.tz)
                .unwrap_or_default()
        } else {
            BTreeMap::new()
        };
        if self.activity_cursor.is_none_or(|c| event.id > c) {
            if unknown {
                self.summary.unknown += 1;
            }
            let day = self.days.day(event.time.timestamp());
            let delta = self.deltas.entry(day).or_default();
            if super::activity::add_event(delta, event)? {
                let user = self.keys.user(&event.user);
                self.active.entry(day).or_default().insert(user);
                if let EventKind::ApiCall { cost, .. } = &event.kind {
                    let slot = delta.cost_by_user.entry(user).or_default();
                    *slot = crate::rollup::activity::add(*slot, *cost)?;
                }
            }
            for (day, d) in moved {
                let m = self.movements.entry(day).or_default();
                m.new += d.new;
                m.reactivation += d.reactivation;
                m.expansion += d.expansion;
                m.contraction += d.contraction;
                m.churned += d.churned;
                m.conversions += d.conversions;
                m.reactivations += d.reactivations;
                m.cancellations += d.cancellations;
            }
        }
        Ok(())
    }

    /// The activity of each local day touched, with its active users, and how its revenue
    /// movements changed.
    pub fn days(&mut self) -> BTreeMap<NaiveDate, (ActivityDay, MovementDelta)> {
        let mut out = BTreeMap::new();
        let mut deltas = std::mem::take(&mut self.deltas);
        let mut movements = std::mem::take(&mut self.movements);
        let touched: std::collections::BTreeSet<i32> =
            deltas.keys().chain(movements.keys()).copied().collect();
        for day in touched {
            let mut delta = deltas.remove(&day).unwrap_or_default();
            delta
                .active_users
                .extend(self.active.remove(&day).unwrap_or_default());
            let moved = movements.remove(&day).unwrap_or_default();
            out.insert(day::to_date(day), (delta, moved));
        }
        out
    }
}

/// What a fold would add, computed without writing anything (for `scan --dry-run`).
#[derive(Debug, Default)]
pub struct Preview {
    pub events: u64,
    /// Per local day: the activity of the events after the cursor.
    pub days: BTreeMap<NaiveDate, ActivityDay>,
    pub newest: Option<EventId>,
}

/// Reads the events after the activity cursor into activity days, in memory. Revenue movements
/// need the projection, which a preview does not change: a conversion event counts as a
/// conversion, and MRR is left out.
pub fn preview(tz: Tz, cursor: Option<EventId>, store: &mut dyn EventStore) -> Result<Preview> {
    let mut out = Preview {
        newest: cursor,
        ..Preview::default()
    };
    let mut days = DayResolver::new(tz);
    let mut cursor = cursor;
    loop {
        let page = store.read_after(cursor, PAGE)?;
        let Some(last) = page.last() else { break };
        cursor = Some(last.id);
        out.newest = Some(last.id);
        for entry in &page {
            out.events += 1;
            let Ok(event) = Event::parse(entry) else {
                continue;
            };
            let day = day::to_date(days.day(event.time.timestamp()));
            let activity = out.days.entry(day).or_default();
            super::activity::add_event(activity, &event)?;
            if matches!(event.kind, EventKind::Conversion { .. }) {
                activity.conversions += 1;
            }
        }
    }
    Ok(out)
}
