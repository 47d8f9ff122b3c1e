//! Retention of the visits store (`rotate`): the live store keeps the newest `max_visits` and
//! nothing older than `max_age_days`; older visits go to `visits/archive/DAY.jsonl.gz`, and
//! archives older than `archive_days` are deleted. A day only partly archived has its archived
//! lines blanked in place (the offsets in the state stay valid); a day archived whole leaves
//! the state before its file goes, so a rotate killed at any point is finished by the next.
//! Archiving merges into an archive without duplicating a line.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, Result};
use chrono::{Duration, NaiveDate};
use serde::Serialize;

use super::{Committed, archive_dir, day_path};
use crate::config::Retention;
use crate::fsutil;

#[derive(Debug, Default, Serialize)]
pub struct VisitsRetained {
    /// Visits in the live store after the run.
    pub kept: u64,
    pub archived: u64,
    /// Day files taken out of the live store whole.
    pub days_archived: u64,
    pub archives_deleted: u64,
}

/// One live day's visits: the byte range of each non-blank line.
struct Day {
    date: NaiveDate,
    lines: Vec<(usize, usize)>,
    bytes: Vec<u8>,
}

/// Applies retention. `forget` is called with a day archived whole, before its file is
/// deleted: the caller takes it out of the state and saves the state.
pub fn retain(
    data_dir: &Path,
    committed: &Committed,
    retention: &Retention,
    today: NaiveDate,
    dry: bool,
    forget: &mut dyn FnMut(NaiveDate) -> Result<()>,
) -> Result<VisitsRetained> {
    let mut out = VisitsRetained::default();
    let oldest_kept = today - Duration::days(i64::from(retention.max_age_days));
    let mut room = retention.max_visits;
    let mut archived_days = BTreeSet::new();
    for day in live_days(data_dir, committed)? {
        let keep = if day.date < oldest_kept {
            0
        } else {
            usize::try_from(room.min(day.lines.len() as u64)).unwrap_or(usize::MAX)
        };
        room -= keep as u64;
        out.kept += keep as u64;
        let cut = day.lines.len() - keep; // the oldest `cut` lines go
        if cut == 0 {
            continue;
        }
        out.archived += cut as u64;
        archived_days.insert(day.date);
        if keep == 0 {
            out.days_archived += 1;
        }
        if !dry {
            archive_day(data_dir, &day, cut, keep == 0, forget)?;
        }
    }
    let drop_before = today - Duration::days(i64::from(retention.archive_days));
    out.archives_deleted = delete_old_archives(data_dir, drop_before, &archived_days, dry)?;
    Ok(out)
}

/// The committed visits of every live day, newest first.
fn live_days(data_dir: &Path, committed: &Committed) -> Result<Vec<Day>> {
    let mut days = Vec::new();
    for (&date, &length) in committed.iter().rev() {
        let bytes = read_prefix(&day_path(data_dir, date), length)?;
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
    Ok(days)
}

/// Moves the oldest `cut` lines of `day` to its archive.
fn archive_day(
    data_dir: &Path,
    day: &Day,
    cut: usize,
    whole: bool,
    forget: &mut dyn FnMut(NaiveDate) -> Result<()>,
) -> Result<()> {
    let lines: Vec<&[u8]> = day.lines[..cut]
        .iter()
        .map(|&(s, e)| &day.bytes[s..e])
        .collect();
    append_to_archive(data_dir, day.date, &lines)?;
    let path = day_path(data_dir, day.date);
    if whole {
        // Out of the state first: a run that dies now leaves a file no state names, which the
        // next run's recovery deletes.
        forget(day.date)?;
        return fsutil::remove_file(&path);
    }
    let mut blanked = day.bytes.clone();
    for &(s, e) in &day.lines[..cut] {
        blanked[s..e - 1].fill(b' ');
    }
    // The file may have grown past the committed length: keep that tail as it is.
    let now = fsutil::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    blanked.extend_from_slice(now.get(day.bytes.len()..).unwrap_or_default());
    fsutil::write_atomic(&path, &blanked, 0o600)
}

/// Deletes archives of days before `drop_before`; a dry run also counts the archives this run
/// would have made (`made`), which a real run deletes as soon as it made them.
fn delete_old_archives(
    data_dir: &Path,
    drop_before: NaiveDate,
    made: &BTreeSet<NaiveDate>,
    dry: bool,
) -> Result<u64> {
    let mut days: BTreeSet<NaiveDate> = BTreeSet::new();
    for path in fsutil::list(&archive_dir(data_dir), ".jsonl.gz")? {
        let day = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".jsonl.gz"))
            .and_then(|d| d.parse::<NaiveDate>().ok());
        if let Some(day) = day.filter(|d| *d < drop_before) {
            days.insert(day);
            if !dry {
                fsutil::remove_file(&path)?;
            }
        }
    }
    if dry {
        days.extend(made.iter().filter(|d| **d < drop_before));
    }
    Ok(days.len() as u64)
}

/// The first `len` bytes of `path` (the committed part of a visits file).
fn read_prefix(path: &Path, len: u64) -> Result<Vec<u8>> {
    use std::io::Read;
    let file =
        fsutil::open_read(path).with_context(|| format!("cannot open {}", path.display()))?;
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
fn append_to_archive(data_dir: &Path, day: NaiveDate, lines: &[&[u8]]) -> Result<()> {
    let dir = fsutil::private_dir(data_dir, "visits/archive")?;
    let path = dir.join(format!("{day}.jsonl.gz"));
    let mut text = if path.exists() {
        String::from_utf8_lossy(&fsutil::read_gz(&path)?).into_owned()
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
    fsutil::write_gz_atomic(&path, text.as_bytes())
}
