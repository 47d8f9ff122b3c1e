//! `rotate`: keeps arkwatch's own data within retention.
//!
//! - Visits: the live store keeps the newest `max_visits` and nothing older than `max_age_days`;
//!   the rest goes to `visits/archive/DAY.jsonl.gz`, and archives older than `archive_days` are
//!   deleted. A day that is only partly archived has its archived lines blanked in place (so the
//!   offsets in the state stay valid); a day archived whole leaves the state.
//! - Events older than `retention_days` are trimmed (`XTRIM MINID` in Redis), never past what
//!   the fold has read: the rollups and the projection already hold them.
//! - The state drops expired ledger entries and the checkpoints of log files long gone; the
//!   outbox drops messages older than `outbox_days`; the history of sent alerts keeps
//!   `archive_days`.
//!
//! Every step can be repeated: archiving merges into an archive without duplicating a line, so a
//! rotate killed at any point is finished by the next one, and a second rotate changes nothing.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, Result};
use chrono::{Duration, NaiveDate, Utc};
use serde::Serialize;

use crate::config::Config;
use crate::events::event::EventId;
use crate::exit::Status;
use crate::purge::{list, read_gz, write_gz_atomic};
use crate::state::{SCHEMA_VERSION, StateLock};
use crate::visits;

/// A checkpoint of a file not seen for this long, and no longer at its path, is dropped.
const GONE_AFTER: Duration = Duration::days(7);

#[derive(Debug, Default, Serialize)]
pub struct RotateReport {
    pub dry_run: bool,
    pub visits: VisitsReport,
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

#[derive(Debug, Default, Serialize)]
pub struct VisitsReport {
    /// Visits in the live store after the run.
    pub kept: u64,
    pub archived: u64,
    /// Day files taken out of the live store whole.
    pub days_archived: u64,
    pub archives_deleted: u64,
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

/// One live day's visits: the byte range of each non-blank line.
struct Day {
    date: NaiveDate,
    lines: Vec<(usize, usize)>,
    bytes: Vec<u8>,
}

pub fn rotate(config: &Config, lock: &StateLock, dry: bool) -> Result<(RotateReport, Status)> {
    let started = std::time::Instant::now();
    let now = Utc::now();
    let data_dir = lock.data_dir();
    let mut state = lock.load()?;
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

    // Visits: newest first, keep up to the cap and the age limit.
    let oldest_kept = today - Duration::days(i64::from(r.max_age_days));
    let mut days: Vec<Day> = Vec::new();
    for (&date, &committed) in state.visits.iter().rev() {
        let path = visits::day_path(data_dir, date);
        let bytes = read_prefix(&path, committed)?;
        let mut lines = Vec::new();
        let mut start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            if b == b'\n' {
                if bytes[start..i].iter().any(|c| !c.is_ascii_whitespace()) {
                    lines.push((start, i + 1));
                }
                start = i + 1;
            }
        }
        days.push(Day { date, lines, bytes });
    }
    let mut room = r.max_visits;
    let mut state_changed = false;
    for day in &days {
        let keep = if day.date < oldest_kept {
            0
        } else {
            room.min(day.lines.len() as u64) as usize
        };
        room -= keep as u64;
        report.visits.kept += keep as u64;
        let cut = day.lines.len() - keep; // the oldest `cut` lines go
        if cut == 0 {
            continue;
        }
        report.visits.archived += cut as u64;
        if keep == 0 {
            report.visits.days_archived += 1;
        }
        if dry {
            continue;
        }
        let archived: Vec<&[u8]> = day.lines[..cut]
            .iter()
            .map(|&(s, e)| &day.bytes[s..e])
            .collect();
        archive(data_dir, day.date, &archived)?;
        let path = visits::day_path(data_dir, day.date);
        if keep == 0 {
            // Out of the state first: a run that dies now leaves a file no state names, which the
            // next run's recovery deletes.
            state.visits.remove(&day.date);
            state.alerts.scanned.remove(&day.date);
            state.version = SCHEMA_VERSION;
            lock.save(&state)?;
            std::fs::remove_file(&path)
                .with_context(|| format!("cannot remove {}", path.display()))?;
        } else {
            let mut blanked = day.bytes.clone();
            for &(s, e) in &day.lines[..cut] {
                blanked[s..e - 1].fill(b' ');
            }
            // The file may have grown past the committed length: keep that tail as it is.
            let mut whole = blanked;
            whole.extend_from_slice(
                &std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?
                    [day.bytes.len()..],
            );
            crate::fsutil::write_atomic(&path, &whole, 0o600)?;
        }
    }

    // Archives past their time.
    let drop_before = today - Duration::days(i64::from(r.archive_days));
    for path in list(&visits::archive_dir(data_dir), ".jsonl.gz")? {
        let day = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".jsonl.gz"))
            .and_then(|d| d.parse::<NaiveDate>().ok());
        if day.is_some_and(|d| d < drop_before) {
            report.visits.archives_deleted += 1;
            if !dry {
                std::fs::remove_file(&path)
                    .with_context(|| format!("cannot remove {}", path.display()))?;
            }
        }
    }

    // Events: never past the fold.
    let cutoff = now - Duration::days(i64::from(config.events.retention_days));
    let cutoff = EventId {
        ms: u64::try_from(cutoff.timestamp_millis()).unwrap_or(0),
        seq: 0,
    };
    let trimmed = crate::events::open(config).and_then(|mut store| {
        let folded = match (state.events_cursor, store.projection_cursor()?) {
            (Some(a), Some(p)) => a.min(p),
            _ => return Ok((0, None)),
        };
        let before = cutoff.min(folded);
        let n = if dry {
            count_before(store.as_mut(), before)?
        } else {
            store.trim_before(before)?
        };
        Ok((n, Some(before)))
    });
    match trimmed {
        Ok((n, before)) => {
            report.events_trimmed = n;
            report.events_trimmed_before = before.filter(|_| n > 0);
        }
        Err(err) => {
            status = Status::for_error(&err);
            report.errors.push(format!("{err:#}"));
        }
    }

    // State.
    let policy = crate::alerts::ledger::Policy::from_config(&config.alerts);
    let before = state.alerts.ledger.leads.len();
    state.alerts.ledger.compact(now, &policy);
    report.ledger_entries_dropped = (before - state.alerts.ledger.leads.len()) as u64;
    for log in state.logs.values_mut() {
        let before = log.files.len();
        log.files
            .retain(|f| now - f.seen < GONE_AFTER || Path::new(&f.path).exists());
        report.checkpoints_dropped += (before - log.files.len()) as u64;
    }
    let known: BTreeSet<NaiveDate> = state.visits.keys().copied().collect();
    let before = state.alerts.scanned.len();
    state.alerts.scanned.retain(|d, _| known.contains(d));
    state_changed |= report.ledger_entries_dropped > 0
        || report.checkpoints_dropped > 0
        || before != state.alerts.scanned.len();
    if state_changed && !dry {
        state.version = SCHEMA_VERSION;
        lock.save(&state)?;
    }

    // Outbox.
    let outbox = crate::alerts::notify::outbox_dir(config);
    let max_age = std::time::Duration::from_secs(u64::from(r.outbox_days) * 86_400);
    for eml in list(&outbox, ".eml")? {
        let old = std::fs::metadata(&eml)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > max_age);
        if old {
            report.outbox_messages_deleted += 1;
            if !dry {
                std::fs::remove_file(&eml)
                    .with_context(|| format!("cannot remove {}", eml.display()))?;
                let _ = std::fs::remove_file(eml.with_extension("json"));
            }
        }
    }
    // The sent-alerts history: kept as long as the visit archives.
    let history = crate::alerts::history::path(data_dir);
    if let Ok(text) = std::fs::read_to_string(&history) {
        let since = crate::metrics::end_of(config, drop_before);
        let mut kept = String::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let old = serde_json::from_str::<crate::alerts::history::Sent>(line)
                .is_ok_and(|s| s.sent_at < since);
            if old {
                report.alert_history_dropped += 1;
            } else {
                kept.push_str(line);
                kept.push('\n');
            }
        }
        if report.alert_history_dropped > 0 && !dry {
            crate::fsutil::write_atomic(&history, kept.as_bytes(), 0o600)?;
        }
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok((report, status))
}

/// The first `len` bytes of `path` (the committed part of a visits file).
fn read_prefix(path: &Path, len: u64) -> Result<Vec<u8>> {
    use std::io::Read;
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(len)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {}", path.display()))?;
    // A committed length always ends a line; a shorter file (never expected) is cut to one.
    if let Some(end) = bytes.iter().rposition(|&b| b == b'\n') {
        bytes.truncate(end + 1);
    } else {
        bytes.clear();
    }
    Ok(bytes)
}

/// Adds `lines` to the day's archive, skipping lines it already holds (a repeated rotate).
fn archive(data_dir: &Path, day: NaiveDate, lines: &[&[u8]]) -> Result<()> {
    let dir = visits::archive_dir(data_dir);
    crate::fsutil::create_private_dir(&dir)?;
    let path = dir.join(format!("{day}.jsonl.gz"));
    let mut text = if path.exists() {
        read_gz(&path)?
    } else {
        String::new()
    };
    let held: BTreeSet<&str> = text.lines().collect();
    let mut added = String::new();
    for line in lines {
        let line = String::from_utf8_lossy(line);
        let line = line.trim_end_matches('\n');
        if !held.contains(line) {
            added.push_str(line);
            added.push('\n');
        }
    }
    if added.is_empty() {
        return Ok(());
    }
    text.push_str(&added);
    write_gz_atomic(&path, text.as_bytes())
}

/// How many entries lie before `before` (for a dry run).
fn count_before(store: &mut dyn crate::events::store::EventStore, before: EventId) -> Result<u64> {
    let mut n = 0;
    let mut cursor = None;
    loop {
        let page = store.read_after(cursor, crate::events::fold::PAGE)?;
        let Some(last) = page.last() else { break };
        cursor = Some(last.id);
        let below = page.iter().take_while(|e| e.id < before).count();
        n += below as u64;
        if below < page.len() {
            break;
        }
    }
    Ok(n)
}
