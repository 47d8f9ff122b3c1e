//! A copy of the users projection under `data_dir` (`projection.jsonl`), for a Redis store
//! whose data can vanish (a restart without persistence, a `FLUSHDB`): once the events are
//! trimmed, the projection in Redis is the only record of who pays what, so every fold also
//! appends the records it changed here, before it saves them to Redis. `fold-events --restore`
//! puts the copy back into a fresh Redis.
//!
//! A journal of JSON lines: `{"user": ID, "record": {…}}` for each changed record, then
//! `{"cursor": …, "totals": {…}}` closing each fold; the last line of a user wins. It is
//! written again whole (compacted) when it holds more lines than users. A line cut by a crash
//! is skipped on reading.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::event::EventId;
use super::projection::{UserRecord, UserTotals};
use crate::fsutil;

pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("projection.jsonl")
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Line {
    User { user: String, record: UserRecord },
    End { cursor: EventId, totals: UserTotals },
}

/// The projection as the copy holds it.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub users: BTreeMap<String, UserRecord>,
    pub totals: UserTotals,
    pub cursor: Option<EventId>,
    /// Lines in the journal (to decide when to compact it).
    pub lines: u64,
}

/// How a record is written: a [`Line::User`] by reference, so writing the copy clones nothing.
#[derive(Serialize)]
struct UserLine<'a> {
    user: &'a str,
    record: &'a UserRecord,
}

/// The lines of `users` and the closing line, written to `out`.
fn lines(
    out: &mut impl Write,
    users: &BTreeMap<String, UserRecord>,
    totals: UserTotals,
    cursor: EventId,
) -> Result<()> {
    for (user, record) in users {
        serde_json::to_writer(&mut *out, &UserLine { user, record })?;
        out.write_all(b"\n")?;
    }
    serde_json::to_writer(&mut *out, &Line::End { cursor, totals })?;
    out.write_all(b"\n")?;
    Ok(())
}

/// Appends the records a fold changed and the cursor it reached. Returns the lines appended.
pub fn append(
    data_dir: &Path,
    users: &BTreeMap<String, UserRecord>,
    totals: UserTotals,
    cursor: EventId,
) -> Result<u64> {
    let mut out = Vec::new();
    lines(&mut out, users, totals, cursor)?;
    let path = path(data_dir);
    let mut file = fsutil::open_append(&path)?;
    file.write_all(&out)
        .and_then(|()| file.sync_data())
        .with_context(|| format!("cannot append to {}", path.display()))?;
    Ok(users.len() as u64 + 1)
}

/// Writes the copy again from the whole projection, streamed into a temporary file that then
/// replaces it.
pub fn compact(
    data_dir: &Path,
    users: &BTreeMap<String, UserRecord>,
    totals: UserTotals,
    cursor: EventId,
) -> Result<()> {
    let path = path(data_dir);
    let mut tmp = fsutil::TempFile::beside(&path, 0o600)?;
    let mut out = std::io::BufWriter::with_capacity(256 * 1024, tmp.file());
    lines(&mut out, users, totals, cursor)
        .and_then(|()| out.flush().map_err(Into::into))
        .with_context(|| format!("cannot write {}", path.display()))?;
    drop(out);
    tmp.commit()
}

/// Reads the copy (None: there is none).
pub fn load(data_dir: &Path) -> Result<Option<Snapshot>> {
    let path = path(data_dir);
    let Some(bytes) = fsutil::read_if_exists(&path)? else {
        return Ok(None);
    };
    let mut snap = Snapshot::default();
    let mut pending: BTreeMap<String, UserRecord> = BTreeMap::new();
    for line in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        snap.lines += 1;
        match serde_json::from_slice::<Line>(line) {
            Ok(Line::User { user, record }) => {
                pending.insert(user, record);
            }
            // Records count only with the end of their fold.
            Ok(Line::End { cursor, totals }) => {
                snap.users.append(&mut pending);
                snap.cursor = Some(cursor);
                snap.totals = totals;
            }
            Err(_) => {}
        }
    }
    Ok(Some(snap))
}
