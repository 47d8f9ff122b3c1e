//! The events half of `verify`: the events still in the store, up to the committed fold cursor,
//! folded again from nothing exactly as `fold-events` folds them, and compared with the activity
//! rollups day by day and with the users projection record by record.
//!
//! What cannot be recounted is said, not guessed: days before a trim (`rotate`) or an adopted
//! or restored store are partial; so are days whose events `purge-ip` deleted, and those users'
//! records are left out. Revenue movements and the projection are compared only where every
//! event of a user's billing history is still in the store.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use chrono::NaiveDate;
use serde::Serialize;

use super::compare::{Difference, keys, push, push_amount};
use super::{Committed, DayReport, Verdict};
use crate::config::Config;
use crate::events::event::EventId;
use crate::events::fold::{Folding, PAGE};
use crate::events::projection::UserRecord;
use crate::events::store::EventStore;
use crate::rollup::activity::ActivityDay;

#[derive(Debug, Default, Serialize)]
pub struct EventsReport {
    pub store: String,
    /// Events folded again.
    pub events: u64,
    pub days: Vec<DayReport>,
    pub matched: u64,
    pub partial: u64,
    pub differing: u64,
    /// Projection records compared, and the users whose record differs (at most ten named).
    pub users_checked: u64,
    pub users_differing: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub users_named: Vec<String>,
    pub notes: Vec<String>,
}

/// What the recount may and may not compare.
struct Limits {
    /// Days up to this one may have lost events (trimmed, or of another store).
    partial_until: Option<NaiveDate>,
    /// Days with events `purge-ip` deleted.
    erased_days: BTreeSet<NaiveDate>,
    /// Users (keyed hashes) with deleted events.
    erased_users: BTreeSet<u64>,
    /// Users whose first event is before this were (maybe) trimmed in part.
    trimmed_before: Option<EventId>,
}

/// Folds the committed events again and compares. A store that does not answer is a note.
pub(super) fn check(config: &Config, committed: &Committed) -> Option<EventsReport> {
    let state = &committed.state;
    let cursor = state.events_cursor?;
    let mut report = EventsReport::default();
    let mut store = match crate::events::open(config) {
        Ok(store) => store,
        Err(err) => {
            report.notes.push(format!("events not verified: {err:#}"));
            return Some(report);
        }
    };
    report.store = store.describe();
    if let Err(err) = run(config, committed, store.as_mut(), cursor, &mut report) {
        report.notes.push(format!("events not verified: {err:#}"));
    }
    Some(report)
}

fn run(
    config: &Config,
    committed: &Committed,
    store: &mut dyn EventStore,
    cursor: EventId,
    report: &mut EventsReport,
) -> Result<()> {
    let state = &committed.state;
    if state.events_store.as_deref() != Some(store.identity().as_str()) {
        report.notes.push(format!(
            "the fold cursor belongs to another store than {}: events not verified",
            store.describe()
        ));
        return Ok(());
    }
    let mut folding = Folding::fresh(&committed.keys, config.timezone);
    let mut after = None;
    loop {
        let mut page = store.read_after(after, PAGE)?;
        let Some(last) = page.last().map(|e| e.id) else {
            break;
        };
        after = Some(last);
        page.retain(|e| e.id <= cursor);
        let done = page.len() < PAGE || last > cursor;
        folding.page(store, &page)?;
        if done {
            break;
        }
    }
    report.events = folding.summary.events;
    let limits = limits(config, committed);
    let recounted: BTreeMap<NaiveDate, ActivityDay> = folding
        .days()
        .into_iter()
        .map(|(date, (delta, moved))| {
            let mut day = ActivityDay::default();
            day.merge(delta)?;
            crate::events::activity::apply(&mut day, &moved)?;
            Ok((date, day))
        })
        .collect::<Result<_>>()?;
    let whole = limits.partial_until.is_none() && limits.erased_users.is_empty();
    if !whole {
        report.notes.push(
            "events were trimmed, deleted by purge-ip, or come from an adopted store: revenue \
             movements and the projection are compared only for what the store still holds \
             whole"
                .to_string(),
        );
    }
    judge_days(&committed.activity, &recounted, &limits, whole, report);
    let records: BTreeMap<&String, &UserRecord> = folding.records().collect();
    if store.projection_cursor()? == Some(cursor) {
        users(committed, &store.all_users()?, &records, &limits, report);
    } else {
        report.notes.push(
            "the projection is behind the activity rollups (a fold was interrupted): the next \
             fold finishes it, and records are not compared"
                .to_string(),
        );
    }
    Ok(())
}

fn limits(config: &Config, committed: &Committed) -> Limits {
    let mut resolver = crate::day::DayResolver::new(config.timezone);
    let trimmed_before = committed.state.events_trimmed_before;
    Limits {
        partial_until: trimmed_before
            .map(|id| crate::day::to_date(resolver.day(id.time().timestamp()))),
        erased_days: committed
            .erasures
            .iter()
            .flat_map(|e| e.days.iter())
            .filter(|(_, d)| d.events > 0)
            .map(|(date, _)| *date)
            .collect(),
        erased_users: committed
            .erasures
            .iter()
            .flat_map(|e| e.users.iter().copied())
            .collect(),
        trimmed_before,
    }
}

fn judge_days(
    stored: &BTreeMap<NaiveDate, ActivityDay>,
    recounted: &BTreeMap<NaiveDate, ActivityDay>,
    limits: &Limits,
    whole: bool,
    report: &mut EventsReport,
) {
    let dates: BTreeSet<NaiveDate> = stored.keys().chain(recounted.keys()).copied().collect();
    let empty = ActivityDay::default();
    for date in dates {
        let a = stored.get(&date).unwrap_or(&empty);
        let b = recounted.get(&date).unwrap_or(&empty);
        let differences = activity(a, b, whole);
        let may_be_partial =
            limits.partial_until.is_some_and(|p| date <= p) || limits.erased_days.contains(&date);
        let verdict = if differences.is_empty() {
            Verdict::Match
        } else if may_be_partial && differences.iter().all(|d| !d.recount_exceeds()) {
            Verdict::Partial
        } else {
            Verdict::Differs
        };
        match verdict {
            Verdict::Match => report.matched += 1,
            Verdict::Partial | Verdict::Gone => report.partial += 1,
            Verdict::Differs => report.differing += 1,
        }
        report.days.push(DayReport {
            day: date,
            verdict,
            differences: if verdict == Verdict::Differs {
                differences
            } else {
                Vec::new()
            },
        });
    }
}

/// Every count of two activity days that differs; the revenue movements only when `whole`.
fn activity(a: &ActivityDay, b: &ActivityDay, whole: bool) -> Vec<Difference> {
    let mut out = Vec::new();
    push(&mut out, "events", a.events, b.events);
    push(&mut out, "events of unknown types", a.unknown, b.unknown);
    keys(&mut out, "active users", &a.active_users, &b.active_users);
    push(&mut out, "registrations", a.registrations, b.registrations);
    push(&mut out, "trials", a.trials, b.trials);
    push(&mut out, "errors", a.errors, b.errors);
    for (label, x, y) in [
        ("command", &a.commands, &b.commands),
        ("error", &a.errors_by_name, &b.errors_by_name),
        (
            "errors in command",
            &a.errors_by_command,
            &b.errors_by_command,
        ),
    ] {
        let names: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
        for name in names {
            let n = |m: &BTreeMap<String, u64>| m.get(name).copied().unwrap_or(0);
            push(
                &mut out,
                &format!("{label} {}", crate::escape::terminal(name)),
                n(x),
                n(y),
            );
        }
    }
    let providers: BTreeSet<&String> = a.api.keys().chain(b.api.keys()).collect();
    for provider in providers {
        let p = crate::escape::terminal(provider);
        let (x, y) = (a.api.get(provider), b.api.get(provider));
        let calls = |d: Option<&crate::rollup::activity::ApiDay>| d.map_or(0, |d| d.calls);
        push(&mut out, &format!("API calls of {p}"), calls(x), calls(y));
        let cost =
            |d: Option<&crate::rollup::activity::ApiDay>| d.map(|d| d.cost).unwrap_or_default();
        push_amount(&mut out, &format!("API cost of {p}"), cost(x), cost(y));
        let empty = BTreeMap::new();
        let (hx, hy) = (
            x.map_or(&empty, |d| &d.latency_ms),
            y.map_or(&empty, |d| &d.latency_ms),
        );
        if hx != hy {
            let total = |h: &BTreeMap<u64, u64>| h.values().sum::<u64>();
            out.push(Difference {
                field: format!("latencies of {p} (calls in the histogram)"),
                committed: total(hx).into(),
                recounted: total(hy).into(),
                excess: hy
                    .iter()
                    .any(|(ms, n)| hx.get(ms).copied().unwrap_or(0) < *n),
            });
        }
    }
    if whole {
        push(&mut out, "conversions", a.conversions, b.conversions);
        push(&mut out, "reactivations", a.reactivations, b.reactivations);
        push(&mut out, "cancellations", a.cancellations, b.cancellations);
        for (label, x, y) in [
            ("new MRR", a.mrr_new, b.mrr_new),
            ("reactivation MRR", a.mrr_reactivation, b.mrr_reactivation),
            ("expansion MRR", a.mrr_expansion, b.mrr_expansion),
            ("contraction MRR", a.mrr_contraction, b.mrr_contraction),
            ("churned MRR", a.mrr_churned, b.mrr_churned),
        ] {
            push_amount(&mut out, label, x, y);
        }
    }
    out
}

/// The projection's records against the recount's, for the users whose every event is still
/// in the store.
fn users(
    committed: &Committed,
    stored: &BTreeMap<String, UserRecord>,
    recounted: &BTreeMap<&String, &UserRecord>,
    limits: &Limits,
    report: &mut EventsReport,
) {
    let keys = &committed.keys;
    let checkable = |user: &String, record: &UserRecord| {
        !limits.erased_users.contains(&keys.user(user))
            && limits
                .trimmed_before
                .is_none_or(|t| record.first_seen > t.time())
    };
    // A user's first event is what the projection says (a recount may lack the trimmed start).
    let mut names: BTreeSet<&String> = BTreeSet::new();
    for (user, record) in stored {
        if checkable(user, record) {
            names.insert(user);
        }
    }
    for (user, record) in recounted {
        if !stored.contains_key(*user) && checkable(user, record) {
            names.insert(user);
        }
    }
    for user in names {
        report.users_checked += 1;
        if stored.get(user) != recounted.get(user).copied() {
            report.users_differing += 1;
            if report.users_named.len() < 10 {
                report.users_named.push(crate::escape::terminal(user));
            }
        }
    }
}
