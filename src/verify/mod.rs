//! `arkwatch verify`: proves on the user's own logs that every retained line was counted
//! exactly once. Every access log and rotated sibling still on disk is read again from its
//! start, up to what the checkpoints say was committed, and folded exactly as ingestion folds
//! it, into a scratch recount that touches no store. Each local day of the recount is then
//! compared with the committed traffic rollup and the visits store's records of that day.
//!
//! The state lock is held (shared) only while the committed records are read; the recount
//! runs without it, so a concurrent `scan` is not blocked. What `purge-ip` erased is accounted
//! for from its ledger ([`ledger`]). Days whose lines are only partly on disk (files deleted by
//! logrotate) are compared on the lines they hold.

pub mod compare;
pub mod events;
pub mod ledger;
mod recount;

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::config::Config;
use crate::rollup::keys::VisitorKeys;
use crate::rollup::traffic::{self, TrafficDay};
use crate::state::{State, StateLock};
use crate::visits::{self, Identities};
use compare::Difference;
use recount::{Recount, account_visits, recount, recounted_day};

/// How a day came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every count equals its recount.
    Match,
    /// Only part of the day's lines are still on disk; what they hold is in the store, once.
    Partial,
    /// The store has the day; none of its lines is on disk any more.
    Gone,
    /// A count differs from its recount.
    Differs,
}

#[derive(Debug, Serialize)]
pub struct DayReport {
    pub day: NaiveDate,
    pub verdict: Verdict,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub differences: Vec<Difference>,
}

/// One checkpointed file read again.
#[derive(Debug, Serialize)]
pub struct FileCheck {
    pub path: String,
    /// Lines the recount read, and lines the checkpoint says ingestion consumed.
    pub lines: u64,
    pub committed_lines: u64,
}

#[derive(Debug, Serialize)]
pub struct VerifyReport {
    pub at: DateTime<Utc>,
    pub verdict: Verdict,
    pub matched: u64,
    pub partial: u64,
    pub gone: u64,
    pub differing: u64,
    pub days: Vec<DayReport>,
    pub files: Vec<FileCheck>,
    pub lines: u64,
    /// The events half: activity rollups and projection recounted from the event store.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<events::EventsReport>,
    pub notes: Vec<String>,
    pub seconds: f64,
}

/// What `status` shows of the last verify (`data_dir/verify.json`).
#[derive(Debug, Serialize, Deserialize)]
pub struct LastVerify {
    pub at: DateTime<Utc>,
    pub verdict: Verdict,
    pub matched: u64,
    pub partial: u64,
    pub gone: u64,
    pub differing: u64,
    #[serde(default)]
    pub differing_days: Vec<NaiveDate>,
}

pub fn last_path(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("verify.json")
}

/// The last verify's verdict, if one ran.
pub fn last(data_dir: &Path) -> Result<Option<LastVerify>> {
    match crate::fsutil::read_if_exists(&last_path(data_dir))? {
        None => Ok(None),
        Some(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
    }
}

/// Options of one verify.
pub struct Options {
    /// Report only the last this many local days (all are read).
    pub days: Option<u32>,
}

/// What the recount starts from, read under the lock: the committed state (checkpoints, fold
/// cursor, the generations of every day), the erasures, the visitor keys.
struct Committed {
    state: State,
    erasures: Vec<ledger::Erasure>,
    keys: VisitorKeys,
}

fn read_committed(config: &Config, wait: Duration) -> Result<(Committed, Option<String>)> {
    let data_dir = &config.data_dir;
    let lock = StateLock::acquire_for_reading(data_dir, wait)?;
    let state = lock.load()?;
    let committed = Committed {
        erasures: ledger::load(data_dir)?,
        keys: VisitorKeys::load_for_reading(data_dir)?,
        state,
    };
    Ok((committed, lock.note().map(str::to_string)))
}

/// The stores' records of one day, read (under the lock again, after the recount) only when
/// they are still those of the state the recount started from: a day a concurrent commit
/// changed since is left for the next verify.
struct Stored<'a> {
    data_dir: &'a Path,
    before: &'a State,
    now: State,
}

impl Stored<'_> {
    fn traffic(&self, day: NaiveDate) -> Result<Option<TrafficDay>> {
        if self.now.traffic.get(&day) != self.before.traffic.get(&day) {
            return Ok(None);
        }
        traffic::load_day(self.data_dir, &self.now.traffic, day).map(Some)
    }

    fn visits(&self, day: NaiveDate) -> Result<Option<Identities>> {
        if self.now.visits.get(&day) != self.before.visits.get(&day) {
            return Ok(None);
        }
        visits::identities_of(self.data_dir, &self.now.visits, day).map(Some)
    }

    fn activity(&self, day: NaiveDate) -> Result<Option<crate::rollup::activity::ActivityDay>> {
        if self.now.activity.get(&day) != self.before.activity.get(&day) {
            return Ok(None);
        }
        crate::rollup::activity::load_day(self.data_dir, &self.now.activity, day).map(Some)
    }
}

/// Runs one verify.
pub fn verify(
    config: &Config,
    wait: Duration,
    clock: Clock,
    opts: &Options,
) -> Result<VerifyReport> {
    let started = Instant::now();
    let (committed, lock_note) = read_committed(config, wait)?;
    let mut recount = recount(config, &committed, clock.now())?;
    recount.notes.extend(lock_note);
    for (day, bytes) in visits::uncommitted(&config.data_dir, &committed.state.visits) {
        recount.notes.push(format!(
            "the visits file of {day} has {bytes} bytes after its committed end (a run that \
             died, or an edit); they are not counted, and the next run cuts them off"
        ));
    }
    let malformed_allowance = account_visits(&mut recount, &committed);
    let today = crate::day::DayResolver::new(config.timezone).day(clock.now().timestamp());
    let from = opts
        .days
        .map(|n| crate::day::to_date(today - i32::try_from(n).unwrap_or(i32::MAX) + 1));
    let mut report = VerifyReport {
        at: clock.now(),
        verdict: Verdict::Match,
        matched: 0,
        partial: 0,
        gone: 0,
        differing: 0,
        days: Vec::new(),
        files: std::mem::take(&mut recount.files),
        lines: recount.lines,
        events: None,
        notes: std::mem::take(&mut recount.notes),
        seconds: 0.0,
    };
    let events_recount = events::recount(config, &committed);
    let lock = StateLock::acquire_for_reading(&config.data_dir, wait)?;
    let stored = Stored {
        data_dir: &config.data_dir,
        before: &committed.state,
        now: lock.load()?,
    };
    let mut checked = Checked {
        recount: &mut recount,
        from,
        archive_horizon: report.at.date_naive()
            - chrono::Duration::days(i64::from(config.retention.archive_days)),
    };
    judge(
        &committed,
        &stored,
        &mut checked,
        malformed_allowance,
        &mut report,
    )?;
    report.events = events_recount
        .map(|r| events::compare(r, &committed, &stored))
        .transpose()?;
    drop(lock);
    if let Some(e) = &mut report.events {
        e.days.retain(|d| from.is_none_or(|f| d.day >= f));
        if e.differing > 0 || e.users_differing > 0 {
            report.verdict = Verdict::Differs;
        }
    }
    report.seconds = started.elapsed().as_secs_f64();
    let mut notes = Vec::new();
    remember(config, &report, &mut notes);
    report.notes.extend(notes);
    Ok(report)
}

/// Saves the verdict for `status`; a `data_dir` this run may not write (another user's,
/// read-only) keeps the previous one, and the report says so.
fn remember(config: &Config, report: &VerifyReport, notes: &mut Vec<String>) {
    let last = LastVerify {
        at: report.at,
        verdict: report.verdict,
        matched: report.matched,
        partial: report.partial,
        gone: report.gone,
        differing: report.differing,
        differing_days: report
            .days
            .iter()
            .chain(report.events.iter().flat_map(|e| e.days.iter()))
            .filter(|d| d.verdict == Verdict::Differs)
            .map(|d| d.day)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect(),
    };
    let saved = crate::fsutil::check_data_dir(&config.data_dir).and_then(|()| {
        let bytes = serde_json::to_vec_pretty(&last)?;
        crate::fsutil::write_atomic(&last_path(&config.data_dir), &bytes, 0o600)
    });
    if let Err(err) = saved {
        notes.push(format!("the verdict was not saved for status: {err:#}"));
    }
}

/// What the comparison needs besides the stores.
struct Checked<'a> {
    recount: &'a mut Recount,
    /// Report only the days from this one.
    from: Option<NaiveDate>,
    /// Visits of days before this may have been deleted with their archives (`rotate`).
    archive_horizon: NaiveDate,
}

/// Compares every day and fills the report, loading one day's records at a time.
fn judge(
    committed: &Committed,
    stored: &Stored<'_>,
    checked: &mut Checked<'_>,
    mut malformed_allowance: u64,
    report: &mut VerifyReport,
) -> Result<()> {
    let recount = &mut *checked.recount;
    let dates = dates(committed, recount);
    let empty_day = TrafficDay::default();
    let empty_ids = Identities::default();
    let mut changed = 0u64;
    for date in dates
        .into_iter()
        .filter(|d| checked.from.is_none_or(|f| *d >= f))
    {
        let Some(stored_day) = stored.traffic(date)? else {
            changed += 1;
            continue;
        };
        let again = recounted_day(recount, committed, date);
        // A day of a file logrotate deleted (its checkpoint says until when it held lines).
        let may_be_partial = recount.vanished_until.is_some_and(|v| date <= v);
        let Some(again) = &again else {
            let verdict = if may_be_partial {
                Verdict::Gone
            } else {
                Verdict::Differs
            };
            let differences = if verdict == Verdict::Differs {
                compare::traffic(&stored_day, &empty_day)
            } else {
                Vec::new()
            };
            add(report, date, verdict, differences);
            continue;
        };
        let mut differences = compare::traffic(&stored_day, again);
        allow_blanked_malformed(&mut differences, &mut malformed_allowance);
        match stored.visits(date)? {
            None => changed += 1,
            Some(ids) if ids.is_empty() && date < checked.archive_horizon => {}
            Some(ids) => differences.extend(compare::visits(
                &ids,
                recount.visits.get(&date).unwrap_or(&empty_ids),
            )),
        }
        let verdict = if differences.is_empty() {
            Verdict::Match
        } else if may_be_partial && compare::within(&stored_day, again, &differences) {
            Verdict::Partial
        } else {
            Verdict::Differs
        };
        add(report, date, verdict, differences);
    }
    if report.differing > 0 {
        report.verdict = Verdict::Differs;
    }
    if changed > 0 {
        report.notes.push(format!(
            "{} changed while verifying (a run committed new lines): verify them next time",
            crate::words::count(changed, "record of a day")
        ));
    }
    if recount.vanished_until.is_some() {
        report.notes.push(
            "some lines read before are no longer on disk (a file logrotate deleted, or a \
             copytruncate copy taken before its last lines): the days they held are compared \
             on the lines that remain"
                .to_string(),
        );
    }
    Ok(())
}

/// Every day the store, the recount or a purge of log lines knows of, in order.
fn dates(committed: &Committed, recount: &Recount) -> Vec<NaiveDate> {
    let blanked = committed
        .erasures
        .iter()
        .flat_map(|e| e.days.iter())
        .filter(|(_, d)| d.log_lines.is_some())
        .map(|(date, _)| date);
    let mut dates: Vec<NaiveDate> = committed
        .state
        .traffic
        .keys()
        .chain(recount.days.keys())
        .chain(blanked)
        .copied()
        .collect();
    dates.sort_unstable();
    dates.dedup();
    dates
}

/// Blanked malformed lines of an unknown day: the recount misses them somewhere, so a
/// shortfall of malformed lines is spent from the allowance before it is a difference.
fn allow_blanked_malformed(differences: &mut Vec<Difference>, allowance: &mut u64) {
    differences.retain(|d| {
        let (c, r) = (
            d.committed.as_u64().unwrap_or(0),
            d.recounted.as_u64().unwrap_or(0),
        );
        if d.field == "malformed lines" && c > r {
            let missing = c - r;
            if missing <= *allowance {
                *allowance -= missing;
                return false;
            }
        }
        true
    });
}

fn add(report: &mut VerifyReport, day: NaiveDate, verdict: Verdict, differences: Vec<Difference>) {
    match verdict {
        Verdict::Match => report.matched += 1,
        Verdict::Partial => report.partial += 1,
        Verdict::Gone => report.gone += 1,
        Verdict::Differs => report.differing += 1,
    }
    // A partial day's differences are the lines no longer on disk: not news.
    let differences = if verdict == Verdict::Differs {
        differences
    } else {
        Vec::new()
    };
    report.days.push(DayReport {
        day,
        verdict,
        differences,
    });
}
