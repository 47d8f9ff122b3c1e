//! Erasure in the event store: entries whose `ip` field is the target, or whose any field
//! names it (an error message quoting it, say), are deleted (`XDEL` in Redis; the embedded file
//! is written again). The users projection holds no address.

use std::collections::BTreeSet;
use std::net::IpAddr;

use anyhow::Result;

use super::event::EventId;
use super::fold::PAGE;
use super::store::EventStore;
use crate::erase::{Erased, Target};

/// Erases (or, in a dry run, finds) the entries naming the target.
pub fn erase(store: &mut dyn EventStore, target: &Target, dry: bool) -> Result<Erased> {
    let mut erased = Erased::default();
    let mut ids: BTreeSet<EventId> = BTreeSet::new();
    let mut cursor = None;
    loop {
        let page = store.read_after(cursor, PAGE)?;
        let Some(last) = page.last() else { break };
        cursor = Some(last.id);
        for entry in &page {
            let by_field = entry
                .get("ip")
                .and_then(|ip| ip.trim().parse::<IpAddr>().ok())
                .filter(|ip| target.matches(*ip));
            let hit =
                by_field.is_some() || entry.fields().any(|(_, v)| target.in_text(v.as_bytes()));
            if !hit {
                continue;
            }
            if let Some(ip) = by_field {
                erased.seen.insert(ip.to_canonical());
            }
            ids.insert(entry.id);
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
    Ok(erased)
}
