//! The fold: reads events after the cursors in pages and turns them into the users projection
//! and the daily activity rollups.
//!
//! Two cursors make a killed fold harmless. The activity rollups are committed with the state
//! (cursor `events_cursor`) first; the projection is committed afterwards, atomically with its
//! own cursor in the store. So the projection is never ahead of the activity: after a crash
//! between the two commits, the next fold applies the missing events to the projection only.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use anyhow::Result;
use chrono::{NaiveDate, Utc};
use serde::Serialize;

use super::event::{Event, EventId};
use super::projection::{UserRecord, UserTotals};
use super::store::EventStore;
use crate::config::Config;
use crate::day::{self, DayResolver};
use crate::exit::Fatal;
use crate::rollup::activity::ActivityDay;
use crate::rollup::files::DayFiles;
use crate::state::{SCHEMA_VERSION, State, StateLock};

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
    pub seconds: f64,
}

#[derive(Debug, Serialize)]
pub struct MalformedEvent {
    pub id: EventId,
    pub reason: String,
}

/// A user's projection record during a fold, and whether the fold changed it.
struct Slot {
    record: Option<UserRecord>,
    /// The user's MRR when loaded (None: not in the projection yet), for the totals.
    before: Option<rust_decimal::Decimal>,
    changed: bool,
}

pub fn activity_files(config: &Config) -> DayFiles {
    DayFiles::new(&config.data_dir, "activity")
}

/// Folds every event after the cursors, then commits. The caller holds the lock.
pub fn fold(
    config: &Config,
    lock: &StateLock,
    state: &mut State,
    store: &mut dyn EventStore,
) -> Result<FoldSummary> {
    let started = Instant::now();
    let files = activity_files(config);
    files.remove_unreferenced(&state.activity)?;
    let identity = store.identity();
    if let (Some(cursor), Some(known)) = (state.events_cursor, &state.events_store)
        && *known != identity
    {
        return Err(Fatal::Config(format!(
            "the fold cursor {cursor} in {} is a position in the event store \"{known}\", but \
             [events] store in {} is now \"{identity}\"; folding it from that cursor could skip \
             or repeat events. Point [events] store back, or run `arkwatch fold-events \
             --new-store` to fold the new store from its start on top of the history kept",
            lock.state_path().display(),
            config.path.display(),
        ))
        .into());
    }
    state.events_store = Some(identity);
    let activity_cursor = state.events_cursor;
    let projection_cursor = store.projection_cursor()?;
    // Read from the earlier of the two; each part skips what it already has.
    let mut cursor = match (activity_cursor, projection_cursor) {
        (Some(a), Some(p)) => Some(a.min(p)),
        _ => None,
    };
    let mut summary = FoldSummary {
        store: store.describe(),
        ..FoldSummary::default()
    };
    let mut users: foldhash::HashMap<String, Slot> = foldhash::HashMap::default();
    let mut deltas: BTreeMap<i32, ActivityDay> = BTreeMap::new();
    let mut active: BTreeMap<i32, foldhash::HashSet<u64>> = BTreeMap::new();
    let keys = crate::visitor::VisitorKeys::load_or_create(lock.data_dir())?;
    let mut days = DayResolver::new(config.timezone);
    loop {
        let page = store.read_after(cursor, PAGE)?;
        let Some(last) = page.last() else { break };
        cursor = Some(last.id);
        let mut unseen: foldhash::HashSet<&str> = foldhash::HashSet::default();
        for user in page.iter().filter_map(|e| e.get("user")) {
            if !users.contains_key(user) {
                unseen.insert(user);
            }
        }
        let unseen: Vec<&str> = unseen.into_iter().collect();
        let mut loaded = store.load_users(&unseen)?;
        for user in unseen {
            let record = loaded.remove(user);
            let before = record.as_ref().map(|r| r.mrr);
            users.insert(
                user.to_string(),
                Slot {
                    record,
                    before,
                    changed: false,
                },
            );
        }
        for entry in &page {
            summary.events += 1;
            let event = match Event::parse(entry) {
                Ok(event) => event,
                Err(bad) => {
                    summary.malformed += 1;
                    if summary.malformed_ids.len() < MAX_MALFORMED_LISTED {
                        summary.malformed_ids.push(MalformedEvent {
                            id: bad.id,
                            reason: bad.reason,
                        });
                    }
                    continue;
                }
            };
            let slot = users
                .get_mut(&event.user)
                .expect("every user of the page was looked up");
            let in_projection = projection_cursor.is_none_or(|c| event.id > c);
            let movement = if in_projection {
                slot.changed = true;
                slot.record
                    .get_or_insert_with(|| UserRecord::new(&event))
                    .apply(&event)
                    .unwrap_or_default()
            } else {
                Default::default()
            };
            if activity_cursor.is_none_or(|c| event.id > c) {
                if let super::event::EventKind::Unknown { .. } = event.kind {
                    summary.unknown += 1;
                }
                let day = days.day(event.time.timestamp());
                if deltas.entry(day).or_default().add(&event, movement) {
                    active
                        .entry(day)
                        .or_default()
                        .insert(keys.user(&event.user));
                }
            }
        }
    }
    summary.cursor = cursor.or(activity_cursor);

    // Commit the activity with the state first, then the projection (see the module docs).
    if !deltas.is_empty() {
        let generation = state.generation + 1;
        for (day, mut delta) in deltas {
            delta
                .active_users
                .extend(active.remove(&day).unwrap_or_default());
            let date = day::to_date(day);
            let mut rollup: ActivityDay = files.load(&state.activity, date)?;
            rollup.merge(delta);
            files.write(date, generation, &rollup)?;
            state.activity.insert(date, generation);
            summary.days.insert(date);
        }
        files.sync()?;
        state.generation = generation;
    }
    if cursor > state.events_cursor {
        state.events_cursor = cursor;
    }
    state.version = SCHEMA_VERSION;
    state.last_fold = Some(Utc::now());
    crate::crashpoint::here("fold:before-state");
    lock.save(state)?;
    crate::crashpoint::here("fold:between-commits");
    files.remove_unreferenced(&state.activity)?;
    if let Some(cursor) = cursor
        && projection_cursor.is_none_or(|p| cursor > p)
    {
        // Totals are only trusted next to a cursor; a projection without one (new, or reset by
        // hand) is counted from the records it holds.
        let mut totals = match projection_cursor {
            Some(_) => store.projection_totals()?,
            None => UserTotals::count(store.all_users()?.values()),
        };
        let mut records = BTreeMap::new();
        for (user, slot) in users {
            if let (true, Some(record)) = (slot.changed, slot.record) {
                totals.update(slot.before, &record);
                records.insert(user, record);
            }
        }
        store.save_users(&records, totals, cursor)?;
        summary.users = totals;
    }
    if summary.users == UserTotals::default() {
        summary.users = store.projection_totals()?;
    }
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
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
pub fn preview(config: &Config, state: &State, store: &mut dyn EventStore) -> Result<Preview> {
    let mut out = Preview {
        newest: state.events_cursor,
        ..Preview::default()
    };
    let mut days = DayResolver::new(config.timezone);
    let mut cursor = state.events_cursor;
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
            let movement = super::projection::Movement {
                conversion: matches!(event.kind, super::event::EventKind::Conversion { .. }),
                ..Default::default()
            };
            let day = day::to_date(days.day(event.time.timestamp()));
            out.days.entry(day).or_default().add(&event, movement);
        }
    }
    Ok(out)
}
