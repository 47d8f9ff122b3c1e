//! The embedded event store: `data_dir/events.jsonl`, one JSON object per line with its `id`,
//! and the users projection in `data_dir/users.json`. Appends take an exclusive lock on the
//! events file, so producers (`arkwatch track`) never interleave half lines.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::event::{EventId, RawEntry};
use super::projection::{UserRecord, UserTotals};
use super::store::EventStore;

pub struct FileStore {
    events: PathBuf,
    users: PathBuf,
}

impl FileStore {
    pub fn new(data_dir: &Path) -> FileStore {
        FileStore::at(data_dir, None)
    }

    /// The store of `data_dir`, its events in `events` when given (else `data_dir/events.jsonl`).
    pub fn at(data_dir: &Path, events: Option<&Path>) -> FileStore {
        FileStore {
            events: events.map_or_else(|| data_dir.join("events.jsonl"), Path::to_path_buf),
            users: data_dir.join("users.json"),
        }
    }

    /// Rewrites the events file without the entries `drop` picks (atomically, under its lock);
    /// returns how many went.
    fn rewrite_without(&self, drop: &dyn Fn(EventId) -> bool) -> Result<u64> {
        let Some(file) = self.open_read()? else {
            return Ok(0);
        };
        file.lock()
            .with_context(|| format!("cannot lock {}", self.events.display()))?;
        let mut kept = Vec::new();
        let mut removed = 0;
        for line in BufReader::new(&file).split(b'\n') {
            let line = line.with_context(|| format!("cannot read {}", self.events.display()))?;
            match from_line(&line) {
                Some(entry) if drop(entry.id) => removed += 1,
                _ if line.is_empty() => {}
                _ => {
                    kept.extend_from_slice(&line);
                    kept.push(b'\n');
                }
            }
        }
        if removed > 0 {
            crate::fsutil::write_atomic(&self.events, &kept, 0o600)?;
        }
        Ok(removed)
    }

    fn open_read(&self) -> Result<Option<File>> {
        match crate::fsutil::open_read(&self.events) {
            Ok(f) => Ok(Some(f)),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(err).with_context(|| format!("cannot open {}", self.events.display())),
        }
    }
}

/// Whether the open `file` is the file at `path` now.
fn same_file(file: &File, path: &Path) -> Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let open = file
        .metadata()
        .with_context(|| format!("cannot stat {}", path.display()))?;
    Ok(match std::fs::metadata(path) {
        Ok(now) => now.ino() == open.ino() && now.dev() == open.dev(),
        Err(_) => false,
    })
}

/// One line of the file: the id, then the producer's fields in order.
fn to_line(id: EventId, fields: &[(String, String)]) -> Vec<u8> {
    let mut map = serde_json::Map::new();
    map.insert("id".into(), id.to_string().into());
    for (k, v) in fields {
        if k != "id" {
            map.insert(k.clone(), v.clone().into());
        }
    }
    let mut line = serde_json::to_vec(&map).expect("a map of strings serialises");
    line.push(b'\n');
    line
}

/// Reads a line back; a line that is not an object with an id is skipped by the caller.
fn from_line(line: &[u8]) -> Option<RawEntry> {
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(line).ok()?;
    let id = map.get("id")?.as_str()?.parse().ok()?;
    Some(RawEntry::from_pairs(
        id,
        super::event::fields_from_json(map),
    ))
}

/// The id of the last complete line of `file`.
fn last_id(file: &mut File) -> Result<Option<EventId>> {
    let len = file.seek(SeekFrom::End(0))?;
    let mut back = 4096u64;
    loop {
        let start = len.saturating_sub(back);
        file.seek(SeekFrom::Start(start))?;
        let mut tail = Vec::new();
        file.read_to_end(&mut tail)?;
        let lines: Vec<&[u8]> = tail
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        // The first piece may be a cut line unless we read from the start.
        let usable = if start == 0 {
            &lines[..]
        } else {
            lines.get(1..).unwrap_or(&[])
        };
        if let Some(entry) = usable.iter().rev().find_map(|l| from_line(l)) {
            return Ok(Some(entry.id));
        }
        if start == 0 {
            return Ok(None);
        }
        back *= 4;
    }
}

/// The offset of the first line whose id is above `after`, by binary search over line starts
/// (ids only grow down the file).
fn seek_after(file: &mut File, after: EventId) -> Result<u64> {
    let len = file.metadata()?.len();
    let (mut lo, mut hi) = (0u64, len);
    // Invariant: every line starting before `lo` has id <= after; the answer is in [lo, hi].
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        file.seek(SeekFrom::Start(mid))?;
        let mut reader = BufReader::new(&mut *file);
        let mut skipped = Vec::new();
        let start = if mid == 0 {
            0
        } else {
            reader.read_until(b'\n', &mut skipped)?;
            mid + skipped.len() as u64
        };
        if start >= hi {
            hi = mid;
            continue;
        }
        let mut line = Vec::new();
        reader.read_until(b'\n', &mut line)?;
        match from_line(&line) {
            Some(entry) if entry.id <= after => lo = start + line.len() as u64,
            Some(_) => hi = start,
            // An unreadable line: step past it.
            None => lo = start + line.len() as u64,
        }
    }
    Ok(lo)
}

/// `users.json`: the projection and the cursor it was folded to, replaced together.
#[derive(Default, serde::Serialize, serde::Deserialize)]
struct Projection {
    cursor: Option<EventId>,
    #[serde(default)]
    totals: UserTotals,
    users: BTreeMap<String, UserRecord>,
}

impl FileStore {
    fn projection(&self) -> Result<Projection> {
        match crate::fsutil::read_if_exists(&self.users)? {
            Some(bytes) => serde_json::from_slice(&bytes)
                .with_context(|| format!("users projection {} is corrupt", self.users.display())),
            None => Ok(Projection::default()),
        }
    }
}

/// The `event_id` of a field list.
fn event_id(fields: &[(String, String)]) -> Option<&str> {
    fields
        .iter()
        .find(|(k, v)| k == "event_id" && !v.is_empty())
        .map(|(_, v)| v.as_str())
}

impl FileStore {
    /// The events file, open for appending and locked. Trimming and purging replace the file
    /// (under its lock); a producer that opened the old one before must not append to it
    /// after: reopen until the locked file is the one at the path.
    fn lock_for_append(&self) -> Result<File> {
        if let Some(dir) = self.events.parent() {
            crate::fsutil::create_private_dir(dir)?;
        }
        loop {
            let file = crate::fsutil::open_append_read(&self.events)?;
            file.lock()
                .with_context(|| format!("cannot lock {}", self.events.display()))?;
            if same_file(&file, &self.events)? {
                return Ok(file);
            }
        }
    }

    /// Every `event_id` the locked file holds.
    fn event_ids(&self, file: &mut File) -> Result<std::collections::HashSet<String>> {
        file.seek(SeekFrom::Start(0))
            .with_context(|| format!("cannot read {}", self.events.display()))?;
        let mut ids = std::collections::HashSet::new();
        for line in BufReader::new(&mut *file).split(b'\n') {
            let line = line.with_context(|| format!("cannot read {}", self.events.display()))?;
            if memchr::memmem::find(&line, b"\"event_id\"").is_none() {
                continue;
            }
            if let Some(entry) = from_line(&line)
                && let Some(id) = entry.get("event_id")
            {
                ids.insert(id.to_string());
            }
        }
        Ok(ids)
    }

    fn append_locked<'e>(
        &self,
        file: &mut File,
        events: impl Iterator<Item = &'e Vec<(String, String)>>,
    ) -> Result<Vec<EventId>> {
        let last =
            last_id(file).with_context(|| format!("cannot read {}", self.events.display()))?;
        let now = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0);
        let mut next = match last {
            Some(last) if last.ms >= now => EventId {
                ms: last.ms,
                seq: last.seq + 1,
            },
            _ => EventId { ms: now, seq: 0 },
        };
        let mut out = Vec::new();
        let mut ids = Vec::new();
        for fields in events {
            out.extend_from_slice(&to_line(next, fields));
            ids.push(next);
            next.seq += 1;
        }
        if !out.is_empty() {
            file.write_all(&out)
                .and_then(|()| file.sync_data())
                .with_context(|| format!("cannot append to {}", self.events.display()))?;
        }
        Ok(ids)
    }
}

impl EventStore for FileStore {
    fn describe(&self) -> String {
        self.events.display().to_string()
    }

    fn identity(&self) -> String {
        if self.events.parent() == self.users.parent()
            && self.events.file_name().is_some_and(|n| n == "events.jsonl")
        {
            "file events.jsonl".to_string()
        } else {
            format!("file {}", self.events.display())
        }
    }

    fn marker(&mut self) -> Result<Option<String>> {
        Ok(None)
    }

    fn set_marker(&mut self, marker: &str, _only_if_absent: bool) -> Result<String> {
        Ok(marker.to_string())
    }

    fn last_id(&mut self) -> Result<Option<EventId>> {
        match self.open_read()? {
            Some(mut file) => {
                last_id(&mut file).with_context(|| format!("cannot read {}", self.events.display()))
            }
            None => Ok(None),
        }
    }

    fn needs_snapshot(&self) -> bool {
        false
    }

    fn check(&mut self) -> Result<String> {
        match std::fs::symlink_metadata(&self.events) {
            Ok(meta) if meta.is_file() => Ok(format!(
                "{} holds {} bytes of events",
                self.events.display(),
                meta.len()
            )),
            Ok(_) => anyhow::bail!("{} is not a regular file", self.events.display()),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(format!(
                "no event recorded yet ({} does not exist)",
                self.events.display()
            )),
            Err(err) => Err(err).with_context(|| format!("cannot stat {}", self.events.display())),
        }
    }

    fn append(&mut self, events: &[Vec<(String, String)>]) -> Result<Vec<EventId>> {
        let mut file = self.lock_for_append()?;
        self.append_locked(&mut file, events.iter())
    }

    fn append_unique(&mut self, events: &[Vec<(String, String)>]) -> Result<Vec<Option<EventId>>> {
        let mut file = self.lock_for_append()?;
        let mut known = self.event_ids(&mut file)?;
        let mut fresh = Vec::new();
        let mut keep = Vec::with_capacity(events.len());
        for fields in events {
            let id = event_id(fields);
            let new = id.is_none_or(|id| known.insert(id.to_string()));
            keep.push(new);
            if new {
                fresh.push(fields);
            }
        }
        let mut ids = self
            .append_locked(&mut file, fresh.into_iter())?
            .into_iter();
        Ok(keep
            .into_iter()
            .map(|new| if new { ids.next() } else { None })
            .collect())
    }

    fn read_after(&mut self, after: Option<EventId>, count: usize) -> Result<Vec<RawEntry>> {
        let Some(mut file) = self.open_read()? else {
            return Ok(Vec::new());
        };
        let path = self.events.display().to_string();
        let start = match after {
            Some(after) => {
                seek_after(&mut file, after).with_context(|| format!("cannot read {path}"))?
            }
            None => 0,
        };
        file.seek(SeekFrom::Start(start))?;
        let mut reader = BufReader::with_capacity(256 * 1024, file);
        let mut entries = Vec::new();
        let mut line = Vec::new();
        while entries.len() < count {
            line.clear();
            let n = reader
                .read_until(b'\n', &mut line)
                .with_context(|| format!("cannot read {path}"))?;
            if n == 0 || line.last() != Some(&b'\n') {
                break; // the end, or a line still being written
            }
            match from_line(&line) {
                Some(entry) if after.is_none_or(|a| entry.id > a) => entries.push(entry),
                _ => {}
            }
        }
        Ok(entries)
    }

    fn trim_before(&mut self, min: EventId) -> Result<u64> {
        self.rewrite_without(&|id| id < min)
    }

    fn remove(&mut self, ids: &std::collections::BTreeSet<EventId>) -> Result<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        self.rewrite_without(&|id| ids.contains(&id))
    }

    fn projection_cursor(&mut self) -> Result<Option<EventId>> {
        Ok(self.projection()?.cursor)
    }

    fn load_users(&mut self, users: &[&str]) -> Result<BTreeMap<String, UserRecord>> {
        let mut all = self.projection()?.users;
        all.retain(|k, _| users.contains(&k.as_str()));
        Ok(all)
    }

    fn all_users(&mut self) -> Result<BTreeMap<String, UserRecord>> {
        Ok(self.projection()?.users)
    }

    fn projection_totals(&mut self) -> Result<UserTotals> {
        Ok(self.projection()?.totals)
    }

    fn save_users(
        &mut self,
        users: &BTreeMap<String, UserRecord>,
        totals: UserTotals,
        cursor: EventId,
    ) -> Result<()> {
        let mut projection = self.projection()?;
        projection.totals = totals;
        projection
            .users
            .extend(users.iter().map(|(k, v)| (k.clone(), v.clone())));
        projection.cursor = Some(cursor);
        let bytes =
            serde_json::to_vec(&projection).context("cannot serialise the users projection")?;
        crate::fsutil::write_atomic(&self.users, &bytes, 0o600)
    }

    fn remove_users(&mut self, users: &[&str], totals: UserTotals) -> Result<()> {
        let mut projection = self.projection()?;
        for user in users {
            projection.users.remove(*user);
        }
        projection.totals = totals;
        let bytes =
            serde_json::to_vec(&projection).context("cannot serialise the users projection")?;
        crate::fsutil::write_atomic(&self.users, &bytes, 0o600)
    }
}
