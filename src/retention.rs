//! `rotate`: keeps arkwatch's own data within retention, as a loop over the stores, each
//! applying `[retention]` to its own files (see their `retain`): the visits (archives), the
//! event store (trimmed behind the folds), the alert ledger and the history of sent alerts,
//! the log checkpoints, the outbox. Rollups are kept for ever: they hold no address, and
//! reports outlive the logs. Every step can be repeated, so a rotate killed at any point is
//! finished by the next one, and a second rotate changes nothing.

use chrono::Duration;
use serde::Serialize;

use anyhow::Result;

use crate::events::event::EventId;
use crate::exit::Status;
use crate::pipeline::Run;
use crate::state::SCHEMA_VERSION;
use crate::visits::archive::VisitsRetained;
use crate::{accesslog, alerts, events, notify, visits};

#[derive(Debug, Default, Serialize)]
pub struct RotateReport {
    pub dry_run: bool,
    pub visits: VisitsRetained,
    /// Events trimmed (or, in a dry run, that would be).
    pub events_trimmed: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events_trimmed_before: Option<EventId>,
    pub ledger_entries_dropped: u64,
    pub checkpoints_dropped: u64,
    pub outbox_messages_deleted: u64,
    /// Lines of the sent-alerts history older than `archive_days`.
    pub alert_history_dropped: u64,
    pub errors: Vec<String>,
    pub seconds: f64,
}

impl RotateReport {
    pub fn changed_anything(&self) -> bool {
        self.visits.archived > 0
            || self.visits.days_archived > 0
            || self.visits.archives_deleted > 0
            || self.events_trimmed > 0
            || self.ledger_entries_dropped > 0
            || self.checkpoints_dropped > 0
            || self.outbox_messages_deleted > 0
            || self.alert_history_dropped > 0
    }
}

/// Applies retention to every store. The caller holds the lock (shared, for a dry run).
pub fn rotate(run: &Run<'_>, dry: bool) -> Result<(RotateReport, Status)> {
    let started = std::time::Instant::now();
    let (config, data_dir) = (run.config, run.data_dir());
    let now = run.clock.now();
    let mut state = run.lock.load()?;
    if !dry {
        crate::pipeline::ingest::recover(data_dir, &state)?;
    }
    let mut report = RotateReport {
        dry_run: dry,
        ..RotateReport::default()
    };
    let mut status = Status::Ok;
    let today = now.with_timezone(&config.timezone).date_naive();
    let r = &config.retention;

    let committed = state.visits.clone();
    let mut forget = |day: chrono::NaiveDate| {
        state.visits.remove(&day);
        state.alerts.scanned.remove(&day);
        state.version = SCHEMA_VERSION;
        run.lock.save(&state)
    };
    report.visits = visits::archive::retain(data_dir, &committed, r, today, dry, &mut forget)?;

    let cutoff = now - Duration::days(i64::from(config.events.retention_days));
    let trimmed = events::open(config).and_then(|mut store| {
        if store.needs_snapshot() && !dry && crate::events::snapshot::path(data_dir).exists() {
            // The copy of the projection grows by every fold's changes: written again whole.
            let users = store.all_users()?;
            if let Some(cursor) = store.projection_cursor()? {
                let totals = store.projection_totals()?;
                crate::events::snapshot::compact(data_dir, &users, totals, cursor)?;
            }
        }
        events::retain::retain(store.as_mut(), state.events_cursor, cutoff, dry)
    });
    match trimmed {
        Ok((n, before)) => {
            report.events_trimmed = n;
            report.events_trimmed_before = before;
            if !dry && before > state.events_trimmed_before {
                state.events_trimmed_before = before;
            }
        }
        Err(err) => {
            status = Status::for_error(&err);
            report.errors.push(format!("{err:#}"));
        }
    }

    let policy = alerts::ledger::Policy::from_config(&config.alerts);
    let before = state.alerts.ledger.leads.len();
    state.alerts.ledger.compact(now, &policy);
    report.ledger_entries_dropped = (before - state.alerts.ledger.leads.len()) as u64;
    report.checkpoints_dropped = accesslog::checkpoint::retain(&mut state.logs, now);
    let before = state.alerts.scanned.len();
    let known = &state.visits;
    state.alerts.scanned.retain(|d, _| known.contains_key(d));
    let state_changed = report.ledger_entries_dropped > 0
        || report.checkpoints_dropped > 0
        || report.events_trimmed > 0
        || before != state.alerts.scanned.len();
    if state_changed && !dry {
        state.version = SCHEMA_VERSION;
        run.lock.save(&state)?;
    }

    report.outbox_messages_deleted = notify::outbox::retain(data_dir, r.outbox_days, dry)?;
    // The sent-alerts history is kept as long as the visit archives.
    let drop_before = today - Duration::days(i64::from(r.archive_days));
    let since = crate::day::end_of(config.timezone, drop_before);
    report.alert_history_dropped = alerts::history::retain(data_dir, since, dry)?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok((report, status))
}
