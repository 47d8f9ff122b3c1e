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

/// The events folded again, before they are compared.
pub(super) struct EventsRecount {
    report: EventsReport,
    /// None: nothing could be recounted (the notes say why).
    days: Option<BTreeMap<NaiveDate, ActivityDay>>,
    records: BTreeMap<String, UserRecord>,
    /// The store's projection, when it is at the fold cursor.
    projection: Option<BTreeMap<String, UserRecord>>,
    limits: Limits,
    whole: bool,
}

/// Folds the committed events again from nothing, without the lock. A store that does not
/// answer is a note. None when nothing was ever folded.
pub(super) fn recount(config: &Config, committed: &Committed) -> Option<EventsRecount> {
    let cursor = committed.state.events_cursor?;
    let limits = limits(config, committed);
    let whole = limits.partial_until.is_none() && limits.erased_users.is_empty();
    let mut out = EventsRecount {
        report: EventsReport::default(),
        days: None,
        records: BTreeMap::new(),
        projection: None,
        limits,
        whole,
    };
    match crate::events::open(config) {
        Ok(mut store) => {
            out.report.store = store.describe();
            if let Err(err) = fold(config, committed, store.as_mut(), cursor, &mut out) {
                out.days = None;
                out.report
                    .notes
                    .push(format!("events not verified: {err:#}"));
            }
        }
        Err(err) => out
            .report
            .notes
            .push(format!("events not verified: {err:#}")),
    }
    Some(out)
}

fn fold(
    config: &Config,
    committed: &Committed,
    store: &mut dyn EventStore,
    cursor: EventId,
    out: &mut EventsRecount,
) -> Result<()> {
    let state = &committed.state;
    if state.events_store.as_deref() != Some(store.identity().as_str()) {
        out.report.notes.push(format!(
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
    out.report.events = folding.summary.events;
    let days = folding
        .days()
        .into_iter()
        .map(|(date, (delta, moved))| {
            let mut day = ActivityDay::default();
            day.merge(delta)?;
            crate::events::activity::apply(&mut day, &moved)?;
            Ok((date, day))
        })
        .collect::<Result<_>>()?;
    out.days = Some(days);
    out.records = folding
        .records()
        .map(|(u, r)| (u.clone(), r.clone()))
        .collect();
    if store.projection_cursor()? == Some(cursor) {
        out.projection = Some(store.all_users()?);
    } else {
        out.report.notes.push(
            "the projection is not at the fold cursor (a fold was interrupted, or one ran since): \
             records are not compared this time"
                .to_string(),
        );
    }
    Ok(())
}

/// Compares the recount with the activity rollups (read one day at a time, under the lock)
/// and the projection.
pub(super) fn compare(
    recount: EventsRecount,
    committed: &Committed,
    stored: &super::Stored<'_>,
) -> Result<EventsReport> {
    let mut report = recount.report;
    let Some(days) = recount.days else {
        return Ok(report);
    };
    if !recount.whole {
        report.notes.push(
            "events were trimmed, deleted by purge-ip, or come from an adopted store: revenue \
             movements and the projection are compared only for what the store still holds \
             whole"
                .to_string(),
        );
    }
    judge_days(
        committed,
        stored,
        &days,
        &recount.limits,
        recount.whole,
        &mut report,
    )?;
    if let Some(projection) = &recount.projection {
        let records: BTreeMap<&String, &UserRecord> = recount.records.iter().collect();
        users(
            committed,
            projection,
            &records,
            &recount.limits,
            &mut report,
        );
    }
    Ok(report)
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
    committed: &Committed,
    stored: &super::Stored<'_>,
    recounted: &BTreeMap<NaiveDate, ActivityDay>,
    limits: &Limits,
    whole: bool,
    report: &mut EventsReport,
) -> Result<()> {
    let dates: BTreeSet<NaiveDate> = committed
        .state
        .activity
        .keys()
        .chain(recounted.keys())
        .copied()
        .collect();
    let empty = ActivityDay::default();
    let mut changed = 0_u64;
    for date in dates {
        let Some(a) = stored.activity(date)? else {
            changed += 1;
            continue;
        };
        let b = recounted.get(&date).unwrap_or(&empty);
        let differences = activity(&a, b, whole);
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
    if changed > 0 {
        report.notes.push(format!(
            "{} changed while verifying (a fold committed): verify them next time",
            crate::words::count(changed, "activity day")
        ));
    }
    Ok(())
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
