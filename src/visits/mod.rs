//! The visits store: one JSON object per line for every human visit to a tracked page, one file
//! per local day (`visits/DAY.jsonl`, mode 0600: it holds IP addresses).
//!
//! Files are only appended to. The state records each file's committed length; a run that dies
//! after appending but before saving the state leaves a longer file, and the next run cuts it
//! back to the committed length before it reads anything (see [`recover`]). That is what makes
//! a killed run leave no duplicate visit.
//!
//! `purge-ip` and `rotate` remove visits by overwriting their lines with spaces (through a
//! temporary file and a rename), so that the committed lengths and the scan offsets in the state
//! stay valid without a second commit; readers skip blank lines, and archiving drops them.

pub mod archive;
pub mod erase;
pub mod journey;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::page_tier::PageTier;

/// Per visits day file: the length that was committed (the store's record in the state).
/// Anything beyond was written by a run that died before saving the state, and is cut off by
/// the next run.
pub type Committed = BTreeMap<NaiveDate, u64>;

/// One human visit to a tracked page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Visit {
    /// The request time with the UTC offset the server wrote.
    pub time: DateTime<FixedOffset>,
    pub path: String,
    pub tier: PageTier,
    pub ip: IpAddr,
    pub user_agent: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referrer: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub query: BTreeMap<String, String>,
    pub status: u16,
    /// The file the line was read from, and the byte offset of the line in it.
    pub source: String,
    pub offset: u64,
}

impl Visit {
    /// The visit as one line of the store, newline included.
    pub fn to_json_line(&self) -> Vec<u8> {
        let mut line = serde_json::to_vec(self).expect("a visit always serialises");
        line.push(b'\n');
        line
    }
}

pub fn visits_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("visits")
}

/// Where `rotate` keeps day files it took out of the live store, as `DAY.jsonl.gz`.
pub fn archive_dir(data_dir: &Path) -> PathBuf {
    visits_dir(data_dir).join("archive")
}

pub fn day_path(data_dir: &Path, day: NaiveDate) -> PathBuf {
    visits_dir(data_dir).join(format!("{day}.jsonl"))
}

/// Where the visits of a read of the logs go: the store ([`VisitWriter`]), or a recount.
pub trait VisitSink {
    /// Takes one visit line (the format of [`Visit::to_json_line`]) of local day `day`.
    fn append_line(&mut self, day: NaiveDate, line: &[u8]) -> Result<()>;
}

impl VisitSink for VisitWriter {
    fn append_line(&mut self, day: NaiveDate, line: &[u8]) -> Result<()> {
        VisitWriter::append_line(self, day, line)
    }
}

/// Appends visits to day files; [`VisitWriter::finish`] makes them durable and reports the new
/// lengths, which the caller commits in the state.
pub struct VisitWriter {
    data_dir: PathBuf,
    open: BTreeMap<NaiveDate, BufWriter<File>>,
    /// Set for a writer that keeps lines in memory (a dry run).
    memory: Option<Vec<Vec<u8>>>,
}

impl VisitWriter {
    pub fn new(data_dir: &Path) -> VisitWriter {
        VisitWriter {
            data_dir: data_dir.to_path_buf(),
            open: BTreeMap::new(),
            memory: None,
        }
    }

    /// A writer that writes no file: [`VisitWriter::into_memory`] returns the lines.
    pub fn in_memory() -> VisitWriter {
        VisitWriter {
            memory: Some(Vec::new()),
            ..VisitWriter::new(Path::new(""))
        }
    }

    /// The lines an in-memory writer was given, in order.
    pub fn into_memory(self) -> Vec<Vec<u8>> {
        self.memory.unwrap_or_default()
    }

    /// Appends one visit line (the format of [`Visit::to_json_line`]).
    pub fn append_line(&mut self, day: NaiveDate, line: &[u8]) -> Result<()> {
        if let Some(memory) = &mut self.memory {
            memory.push(line.to_vec());
            return Ok(());
        }
        if !self.open.contains_key(&day) {
            let dir = visits_dir(&self.data_dir);
            crate::fsutil::create_private_dir(&dir)?;
            let file = crate::fsutil::open_append(&day_path(&self.data_dir, day))?;
            self.open
                .insert(day, BufWriter::with_capacity(64 * 1024, file));
        }
        let path = || day_path(&self.data_dir, day);
        self.open
            .get_mut(&day)
            .expect("opened above")
            .write_all(line)
            .with_context(|| format!("cannot append to {}", path().display()))
    }

    /// Flushes and fsyncs every file written, returning each one's new length.
    pub fn finish(self) -> Result<BTreeMap<NaiveDate, u64>> {
        let mut lengths = BTreeMap::new();
        let created = !self.open.is_empty();
        for (day, writer) in self.open {
            let path = day_path(&self.data_dir, day);
            let file = writer
                .into_inner()
                .map_err(std::io::IntoInnerError::into_error)
                .with_context(|| format!("cannot write {}", path.display()))?;
            file.sync_all()
                .with_context(|| format!("cannot fsync {}", path.display()))?;
            let len = file
                .metadata()
                .with_context(|| format!("cannot stat {}", path.display()))?
                .len();
            lengths.insert(day, len);
        }
        if created {
            crate::fsutil::sync_dir(&visits_dir(&self.data_dir))?;
        }
        Ok(lengths)
    }
}

/// Cuts every visits file back to its committed length (removing files no commit knows of).
/// Runs under the lock before anything is read.
pub fn recover(data_dir: &Path, committed: &Committed) -> Result<()> {
    let dir = visits_dir(data_dir);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(err).with_context(|| format!("cannot list {}", dir.display())),
    };
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        let path = entry.path();
        let name = entry.file_name();
        let Some(day) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".jsonl"))
            .and_then(|d| d.parse::<NaiveDate>().ok())
        else {
            continue;
        };
        let len = entry
            .metadata()
            .with_context(|| format!("cannot stat {}", path.display()))?
            .len();
        match committed.get(&day) {
            None => std::fs::remove_file(&path)
                .with_context(|| format!("cannot remove uncommitted {}", path.display()))?,
            Some(&committed) if len > committed => {
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .with_context(|| format!("cannot open {}", path.display()))?;
                file.set_len(committed)
                    .and_then(|()| file.sync_all())
                    .with_context(|| format!("cannot truncate {}", path.display()))?;
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Reads the committed visits of one day, in the order they were recorded.
pub fn read_day(data_dir: &Path, committed: &Committed, day: NaiveDate) -> Result<Vec<Visit>> {
    let Some(&committed) = committed.get(&day) else {
        return Ok(Vec::new());
    };
    read_range(data_dir, day, 0..committed, &|_| true)
}

/// The committed visits of the days from `since` whose address is one of `addresses`. Lines
/// are filtered on the address before they are parsed.
pub fn read_by_address(
    data_dir: &Path,
    committed: &Committed,
    since: NaiveDate,
    addresses: &std::collections::HashSet<IpAddr, impl std::hash::BuildHasher>,
) -> Result<Vec<Visit>> {
    let keep = |line: &str| line_ip(line.as_bytes()).is_some_and(|ip| addresses.contains(&ip));
    let mut out = Vec::new();
    for (&day, &length) in committed.range(since..) {
        out.extend(read_range(data_dir, day, 0..length, &keep)?);
    }
    Ok(out)
}

/// The address a visit line is the record of, read from the raw line without parsing it (the
/// address is the only field written exactly as `IpAddr` displays it, `"ip":"…"`).
pub fn line_ip(line: &[u8]) -> Option<IpAddr> {
    let at = memchr::memmem::find(line, b"\"ip\":\"")? + 6;
    let len = memchr::memchr(b'"', &line[at..])?;
    std::str::from_utf8(&line[at..at + len]).ok()?.parse().ok()
}

/// What identifies a visit line across rotations: its time as written and the byte offset of
/// its log line. A log file's name changes when it is rotated, its offsets do not, and masking
/// an address in the line changes neither. `None` for a line that is not a visit.
pub fn identity(line: &[u8]) -> Option<u64> {
    use std::hash::Hasher;
    let time_at = memchr::memmem::find(line, b"\"time\":\"")? + 8;
    let time_len = memchr::memchr(b'"', &line[time_at..])?;
    let offset_at = memchr::memmem::rfind(line, b"\"offset\":")? + 9;
    let digits = line[offset_at..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    let mut h = siphasher::sip::SipHasher13::new();
    h.write(&line[time_at..time_at + time_len]);
    h.write_u8(0);
    h.write(&line[offset_at..offset_at + digits]);
    Some(h.finish())
}

/// Identities of visits (see [`identity`]) and how many lines hold each.
pub type Identities = foldhash::HashMap<u64, u32>;

/// The identities of the committed visits of one day, in the live store and its archive.
pub fn identities_of(data_dir: &Path, committed: &Committed, day: NaiveDate) -> Result<Identities> {
    let mut ids = Identities::default();
    let mut add = |bytes: &[u8]| {
        for line in bytes.split(|&b| b == b'\n') {
            if let Some(id) = identity(line) {
                *ids.entry(id).or_default() += 1;
            }
        }
    };
    if let Some(&length) = committed.get(&day) {
        use std::io::Read;
        let path = day_path(data_dir, day);
        let mut bytes = Vec::new();
        crate::fsutil::open_read(&path)
            .and_then(|f| f.take(length).read_to_end(&mut bytes))
            .with_context(|| format!("cannot read {}", path.display()))?;
        add(&bytes);
    }
    let archive = archive_dir(data_dir).join(format!("{day}.jsonl.gz"));
    if std::fs::symlink_metadata(&archive).is_ok() {
        add(&crate::fsutil::read_gz(&archive)?);
    }
    Ok(ids)
}

/// The days the store holds visits of: live, or archived.
pub fn days(
    data_dir: &Path,
    committed: &Committed,
) -> Result<std::collections::BTreeSet<NaiveDate>> {
    let mut days: std::collections::BTreeSet<NaiveDate> = committed.keys().copied().collect();
    for path in crate::fsutil::list(&archive_dir(data_dir), ".jsonl.gz")? {
        let day = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".jsonl.gz"))
            .and_then(|d| d.parse::<NaiveDate>().ok());
        days.extend(day);
    }
    Ok(days)
}

/// Day files longer than their committed length, and by how many bytes: what a run that died
/// (or a hand) added, which the next run cuts off.
pub fn uncommitted(data_dir: &Path, committed: &Committed) -> Vec<(NaiveDate, u64)> {
    committed
        .iter()
        .filter_map(|(&day, &length)| {
            let len = std::fs::symlink_metadata(day_path(data_dir, day))
                .ok()?
                .len();
            (len > length).then_some((day, len - length))
        })
        .collect()
}

/// Reads the visits recorded in bytes `range` of one day's file (`range.start` is the start of
/// a line), keeping those whose raw line passes `keep` (a cheap filter before the JSON parse).
pub fn read_range(
    data_dir: &Path,
    day: NaiveDate,
    range: std::ops::Range<u64>,
    keep: &dyn Fn(&str) -> bool,
) -> Result<Vec<Visit>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut visits = Vec::new();
    if range.is_empty() {
        return Ok(visits);
    }
    let path = day_path(data_dir, day);
    let mut file = File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
    file.seek(SeekFrom::Start(range.start))
        .with_context(|| format!("cannot read {}", path.display()))?;
    let mut reader = BufReader::new(file.take(range.end - range.start));
    let mut line = String::new();
    let mut offset = range.start;
    loop {
        line.clear();
        let n = reader
            .read_line(&mut line)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        // A line of spaces is a visit `purge-ip` or `rotate` blanked in place (keeping every
        // offset the state holds valid).
        if !line.trim().is_empty() && keep(&line) {
            let visit = serde_json::from_str(&line).with_context(|| {
                format!("{} at byte {offset}: not a visit record", path.display())
            })?;
            visits.push(visit);
        }
        offset += n as u64;
    }
    Ok(visits)
}
