//! `purge-user`: erasure by account id, as `purge-ip` is by address: the user's projection
//! record (in the store and in the copy under `data_dir`), their events, their links and
//! sightings, their keyed hash in the activity rollups, the outbox messages and the alert
//! records that name them. The audit line names the user only by a keyed hash of its own (not
//! the one the rollups use), so that no file keeps the id or the hash that found it.
//!
//! Counts that were added up without the user (events of a day, MRR movements) keep their
//! totals: they name no one. The erasure ledger records how many events each day lost, so
//! `verify` does not report the day as differing.

use std::net::IpAddr;

use anyhow::Result;
use serde::Serialize;

use crate::erase::Erased;
use crate::pipeline::Run;
use crate::rollup::keys::VisitorKeys;
use crate::state::SCHEMA_VERSION;
use crate::{alerts, events, links, notify, rollup, verify};

#[derive(Debug, Default, Serialize)]
pub struct UserPurgeReport {
    pub user: String,
    pub dry_run: bool,
    pub events: Erased,
    pub projection: Erased,
    pub links: Erased,
    pub rollups: Erased,
    pub outbox: Erased,
    /// Pending alerts, the alert ledger, watched leads, the history of sent alerts.
    pub state: Erased,
    pub seconds: f64,
}

impl UserPurgeReport {
    /// Every store's part, by name.
    pub fn stores(&self) -> [(&'static str, &Erased); 6] {
        [
            ("events", &self.events),
            ("projection", &self.projection),
            ("links", &self.links),
            ("rollups", &self.rollups),
            ("outbox", &self.outbox),
            ("state", &self.state),
        ]
    }
}

/// Purges `user` from every store. The caller holds the lock (shared, for a dry run).
pub fn purge_user(run: &Run<'_>, user: &str, dry: bool) -> Result<UserPurgeReport> {
    let started = std::time::Instant::now();
    let (config, data_dir) = (run.config, run.data_dir());
    let mut state = run.lock.load()?;
    let keys = if dry {
        VisitorKeys::load_for_reading(data_dir)?
    } else {
        VisitorKeys::load_or_create(data_dir)?
    };
    let mut report = UserPurgeReport {
        user: user.to_string(),
        dry_run: dry,
        ..UserPurgeReport::default()
    };
    // The event store first: when it does not answer, nothing was touched.
    let mut store = events::open(config)?;
    if !dry {
        audit(run, &keys, user, "started", None)?;
    }
    let (erased, gone) = events::erase::erase_user(store.as_mut(), user, config.timezone, dry)?;
    report.events = erased;
    report.projection = erase_projection(run, store.as_mut(), user, dry)?;
    let visitors: Vec<(IpAddr, String)> = links::LinkStore::load(data_dir)?
        .links
        .into_iter()
        .filter(|l| l.user == user)
        .map(|l| (l.ip, l.user_agent))
        .collect();
    report.links = links::erase::erase_user(data_dir, user, dry)?;
    report.outbox = notify::outbox::erase_user(config, user, dry)?;
    report.state = alerts::erase_user::erase_state(&mut state.alerts, data_dir, user, &visitors)?;
    let history = alerts::erase_user::erase_history(data_dir, user, dry)?;
    report.state.records += history.records;
    report.state.changes.extend(history.changes);
    report.state.found.extend(history.found);
    let generation = state.generation + 1;
    let mut records = rollup::erase::Records {
        traffic: &mut state.traffic,
        activity: &mut state.activity,
        user_costs: &mut state.user_costs,
        generation,
    };
    let written = rollup::erase::erase_user(
        data_dir,
        &mut records,
        keys.user(user),
        dry,
        &mut report.rollups,
    )?;
    if !dry {
        let erasure = events_erased(run.clock.now(), gone.days.iter());
        if !erasure.days.is_empty() {
            verify::ledger::append(data_dir, &erasure)?;
        }
        if written {
            state.generation = generation;
        }
        if written || report.state.records > 0 {
            state.version = SCHEMA_VERSION;
            state.alerts.outcomes.commit(data_dir, run.clock.now())?;
            run.lock.save(&state)?;
            state.alerts.outcomes.remove_unreferenced(data_dir)?;
            rollup::activity::remove_unreferenced(data_dir, &state.activity)?;
            rollup::user_cost::remove_unreferenced(data_dir, &state.user_costs)?;
        }
        audit(run, &keys, user, "done", Some(&report))?;
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// The verify ledger's record of the events taken out, by day.
fn events_erased<'a>(
    at: chrono::DateTime<chrono::Utc>,
    days: impl Iterator<Item = (&'a chrono::NaiveDate, &'a u64)>,
) -> verify::ledger::Erasure {
    verify::ledger::Erasure {
        at,
        days: days
            .map(|(day, n)| {
                let part = verify::ledger::DayErasure {
                    events: *n,
                    ..Default::default()
                };
                (*day, part)
            })
            .collect(),
        ..Default::default()
    }
}

/// The user's record in the projection and in its copy under `data_dir`, with the totals
/// brought down by what the user counted.
fn erase_projection(
    run: &Run<'_>,
    store: &mut dyn events::store::EventStore,
    user: &str,
    dry: bool,
) -> Result<Erased> {
    let mut erased = Erased::default();
    let data_dir = run.data_dir();
    let Some(record) = store.load_users(&[user])?.remove(user) else {
        return Ok(erased);
    };
    erased.records = 1;
    if dry {
        erased
            .found
            .push(serde_json::json!({ "user": user, "record": record }));
        return Ok(erased);
    }
    let mut totals = store.projection_totals()?;
    totals.total = totals.total.saturating_sub(1);
    totals.premium = totals.premium.saturating_sub(u64::from(record.is_paying()));
    totals.mrr = totals.mrr.saturating_sub(record.mrr);
    if store.needs_snapshot()
        && let Some(mut copy) = events::snapshot::load(data_dir)?
    {
        copy.users.remove(user);
        let cursor = copy.cursor.unwrap_or_default();
        events::snapshot::compact(data_dir, &copy.users, totals, cursor)?;
        erased.changed(&events::snapshot::path(data_dir), "the record taken out");
    }
    store.remove_users(&[user], totals)?;
    erased
        .changes
        .push(format!("{}: the record deleted", store.describe()));
    erased.files += 1;
    Ok(erased)
}

/// One line of `data_dir/audit.log`, naming the user by a keyed hash of its own.
fn audit(
    run: &Run<'_>,
    keys: &VisitorKeys,
    user: &str,
    phase: &str,
    report: Option<&UserPurgeReport>,
) -> Result<()> {
    let mut line = serde_json::json!({
        "at": run.clock.now().to_rfc3339(),
        "command": "purge-user",
        "phase": phase,
        "user_hash": format!("{:016x}", keys.name(&format!("purge-user:{user}"))),
    });
    if let Some(r) = report {
        let stores: serde_json::Map<String, serde_json::Value> = r
            .stores()
            .iter()
            .map(|(name, e)| ((*name).to_string(), e.records.into()))
            .collect();
        line["records"] = stores.into();
    }
    super::append_audit(run.data_dir(), &line)
}
