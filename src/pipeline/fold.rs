//! The fold stage: fold every event after the cursors, then commit in two steps. The activity
//! rollups are committed with the state (and the activity cursor) first; the projection is
//! committed afterwards, atomically with its own cursor in the store. So the projection is
//! never ahead of the activity: after a crash between the two commits, the next fold applies
//! the missing events to the projection only.

use std::collections::BTreeMap;

use anyhow::Result;

use super::Run;
use crate::events::fold::{FoldSummary, Folding, PAGE};
use crate::events::projection::UserTotals;
use crate::events::store::EventStore;
use crate::exit::Fatal;
use crate::rollup::keys::VisitorKeys;
use crate::rollup::{activity, user_cost};
use crate::state::{SCHEMA_VERSION, State};

/// Puts the copy of the projection kept in `data_dir` back into a store that lost its data,
/// and makes the next fold read the new stream from its start (the activity history is kept).
/// Refused when the store did not lose its data.
pub fn restore(run: &Run<'_>, state: &mut State, store: &mut dyn EventStore) -> Result<u64> {
    if !store.needs_snapshot() {
        anyhow::bail!(
            "{} keeps its projection in data_dir already: there is nothing to restore",
            store.describe()
        );
    }
    if state.events_marker.is_some() && store.marker()? == state.events_marker {
        anyhow::bail!(
            "{} has not lost its data (its marker is the one arkwatch set): nothing to restore",
            store.describe()
        );
    }
    let data_dir = run.data_dir();
    let copy = crate::events::snapshot::load(data_dir)?.ok_or_else(|| {
        anyhow::anyhow!(
            "there is no copy of the projection in {} to restore",
            crate::events::snapshot::path(data_dir).display()
        )
    })?;
    let totals = UserTotals::count(copy.users.values());
    let start = crate::events::event::EventId::default();
    store.save_users(&copy.users, totals, start)?;
    crate::events::snapshot::compact(data_dir, &copy.users, totals, start)?;
    state.events_marker = Some(store.set_marker(&crate::alerts::digest::Digest::new_id(), false)?);
    state.events_cursor = None;
    // The users' history before the restore lives in the projection only.
    state.events_trimmed_before = Some(crate::events::event::EventId::at(run.clock.now()));
    state.version = SCHEMA_VERSION;
    run.lock.save(state)?;
    Ok(copy.users.len() as u64)
}

/// Folds every event after the cursors, then commits. The caller holds the lock.
pub fn fold(run: &Run<'_>, state: &mut State, store: &mut dyn EventStore) -> Result<FoldSummary> {
    let started = std::time::Instant::now();
    let data_dir = run.data_dir();
    activity::remove_unreferenced(data_dir, &state.activity)?;
    user_cost::remove_unreferenced(data_dir, &state.user_costs)?;
    check_identity(run, state, store)?;
    check_not_lost(state, store)?;
    let projection_cursor = store.projection_cursor()?;
    let keys = VisitorKeys::load_or_create(data_dir)?;
    let mut folding = Folding::new(
        state.events_cursor,
        projection_cursor,
        &keys,
        run.config.timezone,
    );
    folding.summary.store = store.describe();
    let mut cursor = folding.start();
    loop {
        let page = store.read_after(cursor, PAGE)?;
        let Some(last) = page.last() else { break };
        cursor = Some(last.id);
        folding.page(store, &page)?;
    }
    folding.summary.cursor = cursor.or(state.events_cursor);
    // Before the state: a run killed between the two matches the same pairs again.
    let refresh = crate::links::Refresh {
        data_dir,
        committed: &state.visits,
        link_days: run.config.leads.link_days,
    };
    let sightings = std::mem::take(&mut folding.with_address)
        .iter()
        .filter_map(crate::links::sighting)
        .collect();
    let (matched, refreshed) = refresh.run(sightings, &state.links)?;
    state.links = matched;
    folding.summary.links = refreshed.links;
    commit_activity(run, state, &mut folding, cursor)?;
    crate::crashpoint::here("fold:between-commits");
    activity::remove_unreferenced(data_dir, &state.activity)?;
    user_cost::remove_unreferenced(data_dir, &state.user_costs)?;
    commit_projection(data_dir, store, &mut folding, cursor, projection_cursor)?;
    let mut summary = folding.summary;
    if summary.users == UserTotals::default() {
        summary.users = store.projection_totals()?;
    }
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// Refuses to read another store from this one's cursor.
fn check_identity(run: &Run<'_>, state: &mut State, store: &dyn EventStore) -> Result<()> {
    let identity = store.identity();
    if let (Some(cursor), Some(known)) = (state.events_cursor, &state.events_store)
        && *known != identity
    {
        return Err(Fatal::Config(format!(
            "the fold cursor {cursor} in {} is a position in the event store \"{known}\", but \
             [events] store in {} is now \"{identity}\"; folding it from that cursor could skip \
             or repeat events. Point [events] store back, or run `arkwatch fold-events \
             --new-store` to fold the new store from its start on top of the history kept",
            run.lock.state_path().display(),
            run.config.path.display(),
        ))
        .into());
    }
    state.events_store = Some(identity);
    Ok(())
}

/// Stops when the store lost the data being folded: its marker is gone or changed, or its
/// stream ends before the cursor (a restart without persistence, a `FLUSHDB`). Folding on would
/// report 0 users and 0 MRR and, once events are trimmed, lose the projection for good.
fn check_not_lost(state: &mut State, store: &mut dyn EventStore) -> Result<()> {
    if !store.needs_snapshot() {
        return Ok(());
    }
    let now = store.marker()?;
    let why = match (&state.events_marker, &now) {
        (Some(known), Some(now)) if known == now => None,
        (Some(_), Some(_)) => Some("its marker is another arkwatch's".to_string()),
        (Some(_), None) => Some("the marker arkwatch set in it is gone".to_string()),
        (None, _) => {
            state.events_marker =
                Some(store.set_marker(&crate::alerts::digest::Digest::new_id(), true)?);
            None
        }
    };
    let why = why.or_else(|| match (state.events_cursor, store.last_id()) {
        (Some(cursor), Ok(last)) if last.is_none_or(|l| l < cursor) => Some(format!(
            "its stream ends at {} but arkwatch had folded up to {cursor}",
            last.map_or("nothing".to_string(), |l| l.to_string())
        )),
        _ => None,
    });
    match why {
        None => Ok(()),
        Some(why) => Err(lost(store, &why)),
    }
}

/// The error of a store that lost its data.
pub fn lost(store: &dyn EventStore, why: &str) -> anyhow::Error {
    Fatal::StoreLost(format!(
        "the event store {} lost the data arkwatch was folding ({why}: a restart without \
         persistence, or a FLUSHDB?). Nothing was folded, and no user or MRR is lost: the \
         projection is kept in data_dir. Run `arkwatch fold-events --restore` to put it back \
         and fold the new stream from its start",
        store.describe()
    ))
    .into()
}

/// The activity rollups of the days touched, as a new generation, with the state.
fn commit_activity(
    run: &Run<'_>,
    state: &mut State,
    folding: &mut Folding<'_>,
    cursor: Option<crate::events::event::EventId>,
) -> Result<()> {
    let data_dir = run.data_dir();
    let days = folding.days();
    if !days.is_empty() {
        let generation = state.generation + 1;
        let mut costs_written = false;
        for (date, (delta, moved)) in days {
            let mut rollup = activity::load_day(data_dir, &state.activity, date)?;
            let overflow = |err| anyhow::Error::new(err).context(format!("folding {date}"));
            rollup.merge(delta).map_err(overflow)?;
            crate::events::activity::apply(&mut rollup, &moved).map_err(overflow)?;
            let costs = std::mem::take(&mut rollup.cost_by_user);
            if !costs.is_empty() {
                let mut day = user_cost::load_day(data_dir, &state.user_costs, date)?;
                user_cost::merge(&mut day, costs).map_err(overflow)?;
                user_cost::write_day(data_dir, date, generation, &day)?;
                state.user_costs.insert(date, generation);
                costs_written = true;
            }
            activity::write_day(data_dir, date, generation, &rollup)?;
            state.activity.insert(date, generation);
            folding.summary.days.insert(date);
        }
        activity::sync_written(data_dir)?;
        if costs_written {
            user_cost::sync_written(data_dir)?;
        }
        state.generation = generation;
    }
    if cursor > state.events_cursor {
        state.events_cursor = cursor;
    }
    state.version = SCHEMA_VERSION;
    state.last_fold = Some(run.clock.now());
    crate::crashpoint::here("fold:before-state");
    run.lock.save(state)
}

/// The changed projection records, the totals and the cursor, in one atomic step.
fn commit_projection(
    data_dir: &std::path::Path,
    store: &mut dyn EventStore,
    folding: &mut Folding<'_>,
    cursor: Option<crate::events::event::EventId>,
    projection_cursor: Option<crate::events::event::EventId>,
) -> Result<()> {
    let Some(cursor) = cursor else {
        return Ok(());
    };
    if projection_cursor.is_some_and(|p| cursor <= p) {
        return Ok(());
    }
    // A copy of the projection in data_dir is started from everything the store holds before
    // this fold's records (for a new projection: nothing), rather than read back after them.
    let copy_missing = store.needs_snapshot() && !crate::events::snapshot::path(data_dir).exists();
    let held = if copy_missing || projection_cursor.is_none() {
        Some(store.all_users()?)
    } else {
        None
    };
    // Totals are only trusted next to a cursor; a projection without one (new, or reset by
    // hand) is counted from the records it holds.
    let mut totals = match (&held, projection_cursor) {
        (Some(held), None) => UserTotals::count(held.values()),
        _ => store.projection_totals()?,
    };
    let mut records = BTreeMap::new();
    for (user, slot) in std::mem::take(&mut folding.users) {
        if let (true, Some(record)) = (slot.changed, slot.record) {
            totals.update(slot.before, &record);
            records.insert(user, record);
        }
    }
    if store.needs_snapshot() {
        // The copy first: after a crash here it is ahead of Redis, and the next fold writes
        // the same records again (the last line of a user wins).
        match held.filter(|_| copy_missing) {
            Some(mut all) => {
                all.extend(records.iter().map(|(u, r)| (u.clone(), r.clone())));
                crate::events::snapshot::compact(data_dir, &all, totals, cursor)?;
            }
            None => {
                crate::events::snapshot::append(data_dir, &records, totals, cursor)?;
            }
        }
    }
    store.save_users(&records, totals, cursor)?;
    folding.summary.users = totals;
    Ok(())
}
