//! Retention of the event store: entries older than `retention_days` are trimmed (`XTRIM
//! MINID` in Redis; the embedded file is written again), never past what both folds have read:
//! their counts already live in the rollups and the projection, so no user, MRR or day of
//! history is lost.

use anyhow::Result;
use chrono::{DateTime, Utc};

use super::event::EventId;
use super::fold::PAGE;
use super::store::EventStore;

/// Trims (or, in a dry run, counts) the entries before `cutoff` that both folds have passed.
/// Returns how many, and the id they were trimmed before.
pub fn retain(
    store: &mut dyn EventStore,
    activity_cursor: Option<EventId>,
    cutoff: DateTime<Utc>,
    dry: bool,
) -> Result<(u64, Option<EventId>)> {
    let cutoff = EventId {
        ms: u64::try_from(cutoff.timestamp_millis()).unwrap_or(0),
        seq: 0,
    };
    let folded = match (activity_cursor, store.projection_cursor()?) {
        (Some(a), Some(p)) => a.min(p),
        _ => return Ok((0, None)),
    };
    let before = cutoff.min(folded);
    let n = if dry {
        count_before(store, before)?
    } else {
        store.trim_before(before)?
    };
    Ok((n, (n > 0).then_some(before)))
}

/// How many entries lie before `before` (for a dry run).
fn count_before(store: &mut dyn EventStore, before: EventId) -> Result<u64> {
    let mut n = 0;
    let mut cursor = None;
    loop {
        let page = store.read_after(cursor, PAGE)?;
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
