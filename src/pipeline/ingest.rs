//! The ingest stage: read what is new in the logs, then commit visits, rollups and checkpoints
//! together.
//!
//! The commit order is what makes a killed run harmless: visits are appended and fsynced, new
//! rollup files are written under a new generation, and only then is the state (checkpoints,
//! committed visits lengths, rollup generations) replaced in one atomic rename. Before reading,
//! every run undoes what an interrupted run left behind (see [`recover`]).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use chrono::NaiveDate;

use super::Run;
use crate::accesslog::checkpoint;
use crate::accesslog::read::{LogSource, Progress, Read, Reader};
use crate::accesslog::summary::Summary;
use crate::day;
use crate::rollup::keys::VisitorKeys;
use crate::rollup::traffic::{self, TrafficDay};
use crate::state::{SCHEMA_VERSION, State};
use crate::visits::{self, Visit, VisitWriter};

/// Undoes what an interrupted run left: visits appended past their committed length, rollup
/// files of a generation that was never committed, temporary files.
pub fn recover(data_dir: &Path, state: &State) -> Result<()> {
    visits::recover(data_dir, &state.visits)?;
    traffic::remove_unreferenced(data_dir, &state.traffic)?;
    crate::fsutil::remove_stale_temps(data_dir)
}

/// Reads what is new in `sources`, folds it, and commits. The caller holds the lock and has
/// loaded `state`; on return the state on disk equals `state`.
pub fn ingest(
    run: &Run<'_>,
    state: &mut State,
    sources: &[LogSource],
    progress: Progress,
) -> Result<Summary> {
    let started = std::time::Instant::now();
    let data_dir = run.data_dir();
    recover(data_dir, state)?;
    let keys = VisitorKeys::load_or_create(data_dir)?;
    let mut writer = VisitWriter::new(data_dir);
    let reader = Reader {
        config: run.config,
        sources,
        keys: &keys,
        now: run.clock.now(),
        progress,
        stop_at: None,
    };
    let read = reader.read(checkpoint::flatten(state.logs.clone()), &mut writer)?;
    let mut summary = commit(run, state, read, writer)?;
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// What a dry run would have committed.
pub struct Preview {
    pub summary: Summary,
    pub visits: Vec<Visit>,
    /// What the new lines add to each day's traffic.
    pub traffic: BTreeMap<NaiveDate, TrafficDay>,
}

/// Reads what is new in `sources` as [`ingest`] would, but writes nothing (for
/// `scan --dry-run`).
pub fn preview(run: &Run<'_>, state: &State, sources: &[LogSource]) -> Result<Preview> {
    let keys = VisitorKeys::load_for_reading(run.data_dir())?;
    let mut writer = VisitWriter::in_memory();
    let reader = Reader {
        config: run.config,
        sources,
        keys: &keys,
        now: run.clock.now(),
        progress: Progress::Hidden,
        stop_at: None,
    };
    let mut read = reader.read(checkpoint::flatten(state.logs.clone()), &mut writer)?;
    let mut visits = Vec::new();
    for line in writer.into_memory() {
        visits.push(serde_json::from_slice(&line).context("a visit line does not parse back")?);
    }
    read.summary.days = read.deltas.keys().map(|d| day::to_date(*d)).collect();
    let traffic = read
        .deltas
        .into_iter()
        .map(|(d, delta)| {
            let mut day = TrafficDay::default();
            day.absorb(delta);
            (day::to_date(d), day)
        })
        .collect();
    Ok(Preview {
        summary: read.summary,
        visits,
        traffic,
    })
}

/// Commits a read: visits first, then rollups under a new generation, then the state.
fn commit(run: &Run<'_>, state: &mut State, read: Read, writer: VisitWriter) -> Result<Summary> {
    let data_dir = run.data_dir();
    let Read {
        deltas,
        records,
        mut summary,
    } = read;
    let lengths = writer.finish()?;
    crate::crashpoint::here("ingest:after-visits");
    let generation = state.generation + 1;
    for (day, delta) in deltas {
        let date = day::to_date(day);
        let mut rollup = traffic::load_day(data_dir, &state.traffic, date)?;
        rollup.absorb(delta);
        traffic::write_day(data_dir, date, generation, &rollup)?;
        state.traffic.insert(date, generation);
        summary.days.insert(date);
    }
    if !summary.days.is_empty() {
        traffic::sync_written(data_dir)?;
    }
    state.visits.extend(lengths);
    state.generation = generation;
    state.version = SCHEMA_VERSION;
    state.last_ingest = Some(run.clock.now());
    state.logs = checkpoint::gather(records, &state.logs);
    crate::crashpoint::here("ingest:before-state");
    run.lock.save(state)?;
    crate::crashpoint::here("ingest:after-state");
    traffic::remove_unreferenced(data_dir, &state.traffic)?;
    Ok(summary)
}
