//! The logs half of `verify`: every checkpointed file read again from its start up to its
//! committed offset, folded exactly as ingestion folds it (visits as identities only), and each
//! day brought to what the stores hold after every purge, one day at a time.

use std::collections::BTreeMap;

use anyhow::Result;
use chrono::{DateTime, NaiveDate, Utc};

use super::{Committed, FileCheck};
use crate::accesslog::checkpoint::{self, FileCheckpoint};
use crate::accesslog::read::{LogSource, Progress, Reader};
use crate::config::Config;
use crate::rollup::keys::VisitorKeys;
use crate::rollup::traffic::{DayDelta, TrafficDay};
use crate::visits::{self, Identities, VisitSink};

/// The logs read again, as ingestion would have folded them.
pub(super) struct Recount {
    /// Each day as the fold left it: made a [`TrafficDay`] one day at a time, when it is
    /// compared, so that the recount of a long log is not held twice.
    pub(super) days: BTreeMap<NaiveDate, DayDelta>,
    pub(super) visits: BTreeMap<NaiveDate, Identities>,
    pub(super) files: Vec<FileCheck>,
    pub(super) lines: u64,
    /// The last day of a checkpointed file no longer on disk (days up to it may be partial).
    pub(super) vanished_until: Option<NaiveDate>,
    pub(super) notes: Vec<String>,
}

/// Collects the identities of the visits a recount produces.
#[derive(Default)]
struct VisitCounts(BTreeMap<NaiveDate, Identities>);

impl VisitSink for VisitCounts {
    fn append_line(&mut self, day: NaiveDate, line: &[u8]) -> Result<()> {
        if let Some(id) = visits::identity(line) {
            *self.0.entry(day).or_default().entry(id).or_default() += 1;
        }
        Ok(())
    }
}

/// Reads every checkpointed file from its start up to its committed offset.
pub(super) fn recount(
    config: &Config,
    committed: &Committed,
    now: DateTime<Utc>,
) -> Result<Recount> {
    let records = checkpoint::flatten(committed.state.logs.clone());
    let stops: Vec<u64> = records.iter().map(|(_, r)| r.offset).collect();
    let fresh = records
        .iter()
        .map(|(key, r)| {
            let fresh = FileCheckpoint {
                offset: 0,
                mid_line: false,
                lines: 0,
                last_day: None,
                gz_done: None,
                ..r.clone()
            };
            (key.clone(), fresh)
        })
        .collect();
    let sources = LogSource::configured(config);
    let reader = Reader {
        config,
        sources: &sources,
        keys: &committed.keys,
        now,
        progress: Progress::Auto,
        stop_at: Some(&stops),
    };
    let mut sink = VisitCounts::default();
    let read = reader.read(fresh, &mut sink)?;
    let mut out = Recount {
        days: BTreeMap::new(),
        visits: sink.0,
        files: Vec::new(),
        lines: read.summary.lines,
        vanished_until: committed
            .state
            .logs
            .values()
            .filter_map(|l| l.retired_until)
            .max(),
        notes: read.summary.errors.clone(),
    };
    for (day, delta) in read.deltas {
        out.days.insert(crate::day::to_date(day), delta);
    }
    for (i, (_, was)) in records.iter().enumerate() {
        let again = &read.records[i].1;
        if again.offset > 0 || was.offset == 0 {
            out.files.push(FileCheck {
                path: again.path.clone(),
                lines: again.lines,
                committed_lines: was.lines,
            });
        }
        // Read before, and now not found (logrotate deleted it, or it cannot be read) or
        // shorter (a copytruncate copy taken before the last lines were written): some of its
        // lines are no longer on disk.
        if again.offset < was.offset {
            out.vanished_until = out.vanished_until.max(was.last_day);
        }
    }
    Ok(out)
}

/// Brings the recounted visits to what the store holds after every purge (the visits of
/// blanked log lines back in, the visits each purge took out, out). Returns how many malformed
/// lines purges blanked without a known day.
pub(super) fn account_visits(recount: &mut Recount, committed: &Committed) -> u64 {
    let mut malformed = 0;
    for e in &committed.erasures {
        malformed += e.malformed_lines;
        for (date, d) in &e.days {
            let ids = recount.visits.entry(*date).or_default();
            for id in &d.log_visits {
                *ids.entry(*id).or_default() += 1;
            }
        }
    }
    for e in &committed.erasures {
        for (date, d) in &e.days {
            if let Some(ids) = recount.visits.get_mut(date) {
                for id in &d.visits {
                    if let Some(n) = ids.get_mut(id) {
                        *n -= 1;
                        if *n == 0 {
                            ids.remove(id);
                        }
                    }
                }
            }
        }
    }
    malformed
}

/// One recounted day (taken out of the recount), brought to what the store holds after every
/// purge: what blanked log lines had counted added back, then the keys and names each purge
/// took out taken out. None when neither the logs nor a purge counted anything that day.
pub(super) fn recounted_day(
    recount: &mut Recount,
    committed: &Committed,
    date: NaiveDate,
) -> Option<TrafficDay> {
    let delta = recount.days.remove(&date);
    let blanked: Vec<&TrafficDay> = committed
        .erasures
        .iter()
        .filter_map(|e| e.days.get(&date)?.log_lines.as_ref())
        .collect();
    if delta.is_none() && blanked.is_empty() {
        return None;
    }
    let mut day = TrafficDay::default();
    if let Some(delta) = delta {
        day.absorb(delta);
    }
    for lines in blanked {
        day.merge(lines);
    }
    for d in committed.erasures.iter().filter_map(|e| e.days.get(&date)) {
        for k in &d.visitor_keys {
            day.forget_visitor(*k);
        }
        rename(&mut day.pages, &d.pages, &committed.keys);
        rename(&mut day.referrers, &d.referrers, &committed.keys);
    }
    Some(day)
}

/// Renames the names a purge redacted, known by the keyed hash of the name they had.
fn rename(map: &mut BTreeMap<String, u64>, renamed: &[(u64, String)], keys: &VisitorKeys) {
    if renamed.is_empty() {
        return;
    }
    let by_hash: BTreeMap<u64, &String> = renamed.iter().map(|(h, n)| (*h, n)).collect();
    let hit: Vec<(String, String)> = map
        .keys()
        .filter_map(|name| {
            by_hash
                .get(&keys.name(name))
                .map(|new| (name.clone(), (*new).clone()))
        })
        .collect();
    for (old, new) in hit {
        let n = map.remove(&old).unwrap_or_default();
        *map.entry(new).or_default() += n;
    }
}
