//! `purge-ip`: the right to erasure (and, with `--dry-run`, the right of access) for one address
//! or network: a loop over the stores, each erasing its own records (see their `erase`
//! modules), and an append-only audit log that names the address only by a keyed hash.
//!
//! Every rewrite goes through a temporary file and a rename, under the state lock; visits and
//! log lines are blanked in place, so no offset the state holds moves, and a purge killed at
//! any moment is completed by running it again.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::accesslog;
use crate::erase::{Erased, Target};
use crate::pipeline::Run;
use crate::rollup::keys::VisitorKeys;
use crate::state::{SCHEMA_VERSION, State};
use crate::{alerts, events, fsutil, links, notify, rollup, verify, visits};

pub mod user;

#[derive(Debug, Default, Serialize)]
pub struct PurgeReport {
    pub target: String,
    pub dry_run: bool,
    pub visits: Erased,
    pub events: Erased,
    /// Pending alerts, the alert ledger, the history of sent alerts.
    pub state: Erased,
    pub outbox: Erased,
    pub rollups: Erased,
    /// Users linked to the address, and the events that saw them there.
    pub links: Erased,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_logs: Option<Erased>,
    /// Things the user should know (the live access log holds the address, say).
    pub notes: Vec<String>,
    pub seconds: f64,
}

/// The options of one purge.
pub struct Options {
    pub dry_run: bool,
    pub include_access_logs: bool,
}

/// Purges `target` from every store. The caller holds the lock (shared, for a dry run).
pub fn purge(run: &Run<'_>, target: &Target, opts: &Options) -> Result<PurgeReport> {
    let started = std::time::Instant::now();
    let (config, data_dir, dry) = (run.config, run.data_dir(), opts.dry_run);
    let mut state = run.lock.load()?;
    let keys = if dry {
        VisitorKeys::load_for_reading(data_dir)?
    } else {
        VisitorKeys::load_or_create(data_dir)?
    };
    let mut report = PurgeReport {
        target: target.describe(),
        dry_run: dry,
        ..PurgeReport::default()
    };
    // The event store first: when it does not answer, nothing was touched (not even the audit).
    let mut store = events::open(config)?;
    if !dry {
        audit(run, &keys, target, "started", None)?;
    }
    let (erased, events_erased) =
        events::erase::erase(store.as_mut(), target, config.timezone, dry)?;
    report.events = erased;
    let (erased, visits_removed) = visits::erase::erase(data_dir, target, dry)?;
    report.visits = erased;
    report.outbox = notify::outbox::erase(config, target, dry)?;
    report.links = links::erase::erase_address(data_dir, target, dry)?;
    let mut log_lines = accesslog::erase::ErasedLines::default();
    if opts.include_access_logs {
        let (erased, lines) = erase_access_logs(run, &mut state, &keys, target, dry)?;
        report.access_logs = Some(erased);
        log_lines = lines;
    }
    report.state = alerts::erase::erase_state(&mut state.alerts, data_dir, target, dry)?;
    merge(
        &mut report.state,
        crate::geo::GeoCache::erase_file(data_dir, target, dry)?,
    );
    let history = alerts::erase::erase_history(data_dir, target, dry)?;
    merge(&mut report.state, history);
    let rollups = erase_rollups(run, &mut state, &keys, target, &mut report)?;
    let rollups_written = rollups.written;
    report.notes.extend(network_note(target));
    let mut notes = Vec::new();
    for erased in stores(&mut report) {
        notes.append(&mut erased.notes);
    }
    report.notes.extend(notes);
    if !dry {
        // Before the state: a purge killed after this and run again records the rollups'
        // part a second time, which a recount applies twice to the same effect.
        let erasure = verify::ledger::Erasure::of_purge(
            run.clock.now(),
            &keys,
            target,
            verify::ledger::Purged {
                traffic: &rollups.traffic,
                addresses: &rollups.addresses,
                visits: visits_removed,
                log_lines,
                events: events_erased,
            },
        );
        if !erasure.is_empty() {
            verify::ledger::append(data_dir, &erasure)?;
        }
        let logs_changed = report.access_logs.as_ref().is_some_and(|l| l.files > 0);
        if rollups_written || report.state.records > 0 || logs_changed {
            state.version = SCHEMA_VERSION;
            state.alerts.outcomes.commit(data_dir, run.clock.now())?;
            run.lock.save(&state)?;
            state.alerts.outcomes.remove_unreferenced(data_dir)?;
            rollup::traffic::remove_unreferenced(data_dir, &state.traffic)?;
            rollup::activity::remove_unreferenced(data_dir, &state.activity)?;
            rollup::user_cost::remove_unreferenced(data_dir, &state.user_costs)?;
        }
        audit(run, &keys, target, "done", Some(&report))?;
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// What an IPv6 network's purge cannot promise.
fn network_note(target: &Target) -> Option<String> {
    (matches!(target.net, ipnet::IpNet::V6(_)) && !target.single()).then(|| {
        "visitor keys of an IPv6 network are found only for the addresses arkwatch recorded \
         elsewhere (a keyed hash cannot be reversed, and a /64 cannot be enumerated)"
            .to_string()
    })
}

/// Every store's part of a report.
fn stores(report: &mut PurgeReport) -> Vec<&mut Erased> {
    let mut all = vec![
        &mut report.visits,
        &mut report.events,
        &mut report.state,
        &mut report.outbox,
        &mut report.rollups,
        &mut report.links,
    ];
    if let Some(logs) = &mut report.access_logs {
        all.push(logs);
    }
    all
}

fn merge(into: &mut Erased, other: Erased) {
    into.records += other.records;
    into.files += other.files;
    into.changes.extend(other.changes);
    into.found.extend(other.found);
    into.seen.extend(other.seen);
    into.notes.extend(other.notes);
}

/// The rotated access logs, saving the state when a checkpoint learns a new fingerprint.
fn erase_access_logs(
    run: &Run<'_>,
    state: &mut State,
    keys: &VisitorKeys,
    target: &Target,
    dry: bool,
) -> Result<(Erased, accesslog::erase::ErasedLines)> {
    let mut logs = std::mem::take(&mut state.logs);
    let snapshot = state.clone();
    let mut save = |logs: &BTreeMap<String, _>| {
        let mut with = snapshot.clone();
        with.logs.clone_from(logs);
        with.version = SCHEMA_VERSION;
        run.lock.save(&with)
    };
    let mut checkpoints = accesslog::erase::Checkpoints {
        logs: &mut logs,
        save: &mut save,
    };
    let erased = accesslog::erase::erase(run.config, keys, &mut checkpoints, target, dry);
    state.logs = logs;
    erased
}

/// What the rollups' part of a purge did, and the addresses whose keys it took out.
struct RollupsErased {
    written: bool,
    traffic: rollup::erase::TrafficChanges,
    addresses: Vec<std::net::IpAddr>,
}

/// The rollups, last: a network's visitor keys need the addresses the other stores met.
fn erase_rollups(
    run: &Run<'_>,
    state: &mut State,
    keys: &VisitorKeys,
    target: &Target,
    report: &mut PurgeReport,
) -> Result<RollupsErased> {
    let mut seen = std::collections::BTreeSet::new();
    for erased in stores(report) {
        seen.extend(erased.seen.iter().copied());
    }
    let addresses = target.addresses(&seen);
    let generation = state.generation + 1;
    let mut records = rollup::erase::Records {
        traffic: &mut state.traffic,
        activity: &mut state.activity,
        user_costs: &mut state.user_costs,
        generation,
    };
    let erasure = rollup::erase::erase(
        run.data_dir(),
        &mut records,
        keys,
        &addresses,
        target,
        report.dry_run,
    )?;
    report.rollups = erasure.erased;
    if erasure.written {
        state.generation = generation;
    }
    Ok(RollupsErased {
        written: erasure.written,
        traffic: erasure.traffic,
        addresses,
    })
}

/// Appends one line to `data_dir/audit.log`: when, what (the address only as a keyed hash),
/// and how many records each store held.
fn audit(
    run: &Run<'_>,
    keys: &VisitorKeys,
    target: &Target,
    phase: &str,
    report: Option<&PurgeReport>,
) -> Result<()> {
    let hash = format!(
        "{:016x}/{}",
        keys.address(target.net.network()),
        target.net.prefix_len()
    );
    let mut line = serde_json::json!({
        "at": run.clock.now().to_rfc3339(),
        "command": "purge-ip",
        "phase": phase,
        "address_hash": hash,
    });
    if let Some(r) = report {
        let mut stores = BTreeMap::new();
        stores.insert("visits", r.visits.records);
        stores.insert("events", r.events.records);
        stores.insert("state", r.state.records);
        stores.insert("outbox", r.outbox.records);
        stores.insert("rollups", r.rollups.records);
        stores.insert("links", r.links.records);
        if let Some(logs) = &r.access_logs {
            stores.insert("access_logs", logs.records);
        }
        line["records"] = serde_json::json!(stores);
    }
    append_audit(run.data_dir(), &line)
}

fn append_audit(data_dir: &Path, line: &serde_json::Value) -> Result<()> {
    let path = data_dir.join("audit.log");
    let mut file = fsutil::open_append(&path)?;
    let mut bytes = serde_json::to_vec(line).context("cannot serialise an audit line")?;
    bytes.push(b'\n');
    file.write_all(&bytes)
        .and_then(|()| file.sync_data())
        .with_context(|| format!("cannot append to {}", path.display()))
}
