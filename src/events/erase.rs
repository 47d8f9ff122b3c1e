//! Erasure in the event store: entries whose `ip` field is the target, or whose any field
//! names it (an error message quoting it, say), are deleted (`XDEL` in Redis; the embedded file
//! is written again). The users projection holds no address.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use anyhow::Result;
use chrono::NaiveDate;
use chrono_tz::Tz;

use super::event::{Event, EventId, RawEntry};
use super::fold::PAGE;
use super::store::EventStore;
use crate::erase::{Erased, Target};

/// What the deleted entries were: how many on each local day (by event time), and whose.
#[derive(Debug, Default)]
pub struct ErasedEvents {
    pub days: BTreeMap<NaiveDate, u64>,
    pub users: BTreeSet<String>,
}

/// Erases (or, in a dry run, finds) the entries naming the target; returns what went, and
/// when and whose those events were (`verify` cannot recount them).
pub fn erase(
    store: &mut dyn EventStore,
    target: &Target,
    tz: Tz,
    dry: bool,
) -> Result<(Erased, ErasedEvents)> {
    let mut seen = BTreeSet::new();
    let hit = |entry: &RawEntry| {
        let by_field = entry
            .get("ip")
            .and_then(|ip| ip.trim().parse::<IpAddr>().ok())
            .filter(|ip| target.matches(*ip));
        if let Some(ip) = by_field {
            seen.insert(ip.to_canonical());
        }
        by_field.is_some() || entry.fields().any(|(_, v)| target.in_text(v.as_bytes()))
    };
    let (mut erased, gone) = erase_where(store, tz, dry, hit)?;
    erased.seen = seen;
    Ok((erased, gone))
}

/// Erases (or finds) the entries of one user (`purge-user`).
pub fn erase_user(
    store: &mut dyn EventStore,
    user: &str,
    tz: Tz,
    dry: bool,
) -> Result<(Erased, ErasedEvents)> {
    erase_where(store, tz, dry, |entry| entry.get("user") == Some(user))
}

fn erase_where(
    store: &mut dyn EventStore,
    tz: Tz,
    dry: bool,
    mut hit: impl FnMut(&RawEntry) -> bool,
) -> Result<(Erased, ErasedEvents)> {
    let mut erased = Erased::default();
    let mut gone = ErasedEvents::default();
    let mut days = crate::day::DayResolver::new(tz);
    let mut ids: BTreeSet<EventId> = BTreeSet::new();
    let mut cursor = None;
    loop {
        let page = store.read_after(cursor, PAGE)?;
        let Some(last) = page.last() else { break };
        cursor = Some(last.id);
        for entry in &page {
            if !hit(entry) {
                continue;
            }
            ids.insert(entry.id);
            if let Ok(event) = Event::parse(entry) {
                let day = crate::day::to_date(days.day(event.time.timestamp()));
                *gone.days.entry(day).or_default() += 1;
                gone.users.insert(event.user);
            }
            if dry {
                let mut map = serde_json::Map::new();
                map.insert("id".into(), entry.id.to_string().into());
                for (k, v) in entry.fields() {
                    map.insert(k.into(), v.into());
                }
                erased.found.push(map.into());
            }
        }
    }
    erased.records = ids.len() as u64;
    if !dry && !ids.is_empty() {
        let removed = store.remove(&ids)?;
        erased.files = 1;
        erased.changes.push(format!(
            "{}: {} deleted",
            store.describe(),
            crate::words::plural(removed, "entry", "entries")
        ));
    }
    Ok((erased, gone))
}
