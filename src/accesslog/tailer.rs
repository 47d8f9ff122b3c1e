//! Finds what is new in a log and its rotated siblings since the last checkpoint.
//!
//! A file is known by a fingerprint of its first bytes (up to [`FP_MAX`]) and an offset, never
//! by inode alone, because inodes are reused. One checkpoint follows one stream of lines wherever
//! rotation moves it: `access.log` renamed to `access.log.1`, then compressed to
//! `access.log.2.gz`, still starts with the same bytes, so its record is found again and only
//! what lies past the offset is read. copytruncate leaves a copy with the old fingerprint and a
//! live file with a new one; both are handled by the same rule.
//!
//! When several files match one record (the copy and the original during a copytruncate, the
//! plain file and its half-written `.gz`), the one holding the most bytes is read and the others
//! are recognised as duplicates, so no line is counted twice.

use std::ffi::OsString;
use std::fs::Metadata;
use std::hash::Hasher;
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use flate2::read::MultiGzDecoder;
use siphasher::sip::SipHasher13;

use crate::accesslog::checkpoint::{FileCheckpoint, GzMark};

/// How many leading bytes identify a file.
pub const FP_MAX: usize = 1024;

/// A file of a log's rotation set, as found on disk.
#[derive(Debug)]
pub struct Candidate {
    pub path: PathBuf,
    pub gz: bool,
    pub live: bool,
    pub size: u64,
    pub mtime_ns: i128,
}

impl Candidate {
    fn from_metadata(path: PathBuf, live: bool, meta: &Metadata) -> Candidate {
        let gz = path.extension().is_some_and(|e| e == "gz");
        Candidate {
            path,
            gz,
            live,
            size: meta.len(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
        }
    }

    fn gz_mark(&self) -> GzMark {
        GzMark {
            size: self.size,
            mtime_ns: self.mtime_ns,
        }
    }

    /// The first bytes of the content (decompressed for gzip).
    pub fn prefix(&self) -> io::Result<Vec<u8>> {
        let file = crate::fsutil::open_log(&self.path)?;
        let mut prefix = Vec::with_capacity(FP_MAX);
        if self.gz {
            match MultiGzDecoder::new(file)
                .take(FP_MAX as u64)
                .read_to_end(&mut prefix)
            {
                // A gzip file still being written: what decompressed so far is its prefix.
                Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => {}
                other => {
                    other?;
                }
            }
        } else {
            file.take(FP_MAX as u64).read_to_end(&mut prefix)?;
        }
        Ok(prefix)
    }
}

pub fn fingerprint(bytes: &[u8]) -> u64 {
    let mut h = SipHasher13::new();
    h.write(bytes);
    h.finish()
}

/// `access.log` plus its rotated siblings `access.log.1`, `access.log.2.gz` and the dateext
/// forms `access.log-20261122[.gz]`, oldest first, the live file last.
pub fn discover(live: &Path) -> io::Result<Vec<Candidate>> {
    let dir = crate::fsutil::parent(live);
    let base = live
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file path"))?;
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if name == base || !is_sibling(base, &name) {
            continue;
        }
        // A sibling can vanish between the listing and the stat (logrotate at work).
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_file() {
            found.push(Candidate::from_metadata(entry.path(), false, &meta));
        }
    }
    found.sort_by(|a, b| a.mtime_ns.cmp(&b.mtime_ns).then(b.path.cmp(&a.path)));
    match std::fs::metadata(live) {
        // A FIFO would block the run (holding the lock) and a device never ends.
        Ok(meta) if !meta.is_file() => return Err(crate::fsutil::not_regular(live)),
        Ok(meta) => found.push(Candidate::from_metadata(live.to_path_buf(), true, &meta)),
        Err(err) if err.kind() == io::ErrorKind::NotFound && !found.is_empty() => {}
        Err(err) => return Err(err),
    }
    Ok(found)
}

fn is_sibling(base: &std::ffi::OsStr, name: &OsString) -> bool {
    let (Some(base), Some(name)) = (base.to_str(), name.to_str()) else {
        return false;
    };
    let Some(rest) = name.strip_prefix(base) else {
        return false;
    };
    let rest = rest.strip_suffix(".gz").unwrap_or(rest);
    if let Some(n) = rest.strip_prefix('.') {
        return !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit());
    }
    if let Some(date) = rest.strip_prefix('-') {
        return !date.is_empty() && date.bytes().all(|b| b.is_ascii_digit() || b == b'-');
    }
    false
}

/// Which log a record belongs to, and the record.
pub type Records = Vec<(String, FileCheckpoint)>;

/// One file to read this run.
#[derive(Debug)]
pub struct ReadPlan {
    pub candidate: Candidate,
    /// Index into the records; the record is updated after the read.
    pub record: usize,
    pub start: u64,
    /// The start is inside an over-long line a previous read began: skip to its end.
    pub mid_line: bool,
    /// Where reading stops (`verify` recounts what was committed, not what came since);
    /// `None`: the end of the file.
    pub stop: Option<u64>,
    prefix: Vec<u8>,
}

/// A file that could not be examined; the run goes on without it.
#[derive(Debug)]
pub struct FileError {
    pub path: PathBuf,
    pub error: String,
}

/// Matches the files of `log` (checkpoint key `key`) against `records`, adding a record for each
/// new file, and returns what to read, oldest first.
pub fn plan(
    key: &str,
    log: &Path,
    records: &mut Records,
    claimed: &mut Vec<bool>,
    now: DateTime<Utc>,
    errors: &mut Vec<FileError>,
) -> Vec<ReadPlan> {
    let candidates = match discover(log) {
        Ok(c) => c,
        Err(err) => {
            errors.push(FileError {
                path: log.to_path_buf(),
                error: err.to_string(),
            });
            return Vec::new();
        }
    };
    claimed.resize(records.len(), false);
    let open = skip_finished_archives(candidates, records, claimed, now);
    let files = read_prefixes(open, errors);
    let chosen = claim_records(key, &files, records, claimed, now);
    files
        .into_iter()
        .zip(chosen)
        .filter_map(|((candidate, prefix), chosen)| {
            let (record, start, mid_line) = chosen?;
            Some(ReadPlan {
                candidate,
                record,
                start,
                mid_line,
                stop: None,
                prefix,
            })
        })
        .collect()
}

/// Archives read to their end before are recognised without decompressing them: their records
/// are claimed, and they are left out.
fn skip_finished_archives(
    candidates: Vec<Candidate>,
    records: &mut Records,
    claimed: &mut [bool],
    now: DateTime<Utc>,
) -> Vec<Candidate> {
    let mut open = Vec::new();
    for c in candidates {
        let done = c.gz
            && records
                .iter()
                .position(|(_, r)| r.gz_done == Some(c.gz_mark()))
                .inspect(|&i| {
                    claimed[i] = true;
                    records[i].1.seen = now;
                })
                .is_some();
        if !done {
            open.push(c);
        }
    }
    open
}

/// Each file with its first bytes; an empty file is left out (it has no identity yet).
fn read_prefixes(open: Vec<Candidate>, errors: &mut Vec<FileError>) -> Vec<(Candidate, Vec<u8>)> {
    let mut files = Vec::new();
    for c in open {
        match c.prefix() {
            Ok(prefix) if prefix.is_empty() => {}
            Ok(prefix) => files.push((c, prefix)),
            Err(err) => errors.push(FileError {
                path: c.path.clone(),
                error: err.to_string(),
            }),
        }
    }
    files
}

/// For each file, the record it continues with the offset and line state to start from, or
/// `None` for a duplicate of a file read this run. Records are claimed best file first (plain
/// before gzip, more bytes before fewer, live first), so of several files matching one record
/// the one holding the most is read. A file matching no record gets a new one.
fn claim_records(
    key: &str,
    files: &[(Candidate, Vec<u8>)],
    records: &mut Records,
    claimed: &mut Vec<bool>,
    now: DateTime<Utc>,
) -> Vec<Option<(usize, u64, bool)>> {
    let mut order: Vec<usize> = (0..files.len()).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (&files[a].0, &files[b].0);
        a.gz.cmp(&b.gz)
            .then(b.size.cmp(&a.size))
            .then(b.live.cmp(&a.live))
    });
    let mut chosen = vec![None; files.len()];
    for idx in order {
        let (c, prefix) = &files[idx];
        match matching_record(prefix, records) {
            Some(i) if claimed[i] => {} // a duplicate of a file read this run
            Some(i) => {
                claimed[i] = true;
                chosen[idx] = Some((i, records[i].1.offset, records[i].1.mid_line));
            }
            None => {
                records.push((key.to_string(), new_record(prefix, &c.path, now)));
                claimed.push(true);
                chosen[idx] = Some((records.len() - 1, 0, false));
            }
        }
    }
    chosen
}

/// The record whose fingerprint `prefix` starts with (the longest such fingerprint).
fn matching_record(prefix: &[u8], records: &Records) -> Option<usize> {
    // Records mostly share one fingerprint length: hash the prefix once per length.
    let mut hashes: Vec<(u32, u64)> = Vec::new();
    let mut matches = |r: &FileCheckpoint| {
        let len = r.fp_len;
        if len == 0 || prefix.len() < len as usize {
            return false;
        }
        let hash = if let Some((_, h)) = hashes.iter().find(|(l, _)| *l == len) {
            *h
        } else {
            let h = fingerprint(&prefix[..len as usize]);
            hashes.push((len, h));
            h
        };
        hash == r.fp || Some(hash) == r.alt_fp
    };
    records
        .iter()
        .enumerate()
        .filter(|(_, (_, r))| matches(r))
        .max_by_key(|(_, (_, r))| r.fp_len)
        .map(|(i, _)| i)
}

/// The record of a file seen for the first time: nothing of it read yet.
fn new_record(prefix: &[u8], path: &Path, now: DateTime<Utc>) -> FileCheckpoint {
    FileCheckpoint {
        fp_len: prefix.len() as u32,
        fp: fingerprint(prefix),
        alt_fp: None,
        offset: 0,
        mid_line: false,
        lines: 0,
        last_day: None,
        gz_done: None,
        path: path.display().to_string(),
        seen: now,
    }
}

/// How far a read got.
pub struct ReadEnd {
    /// End of the last complete line handed out (or of the bytes of an over-long line
    /// skipped).
    pub offset: u64,
    /// The whole file was read (for an archive: the trailing partial line too).
    pub reached_end: bool,
    /// The read ended inside an over-long line whose start was handed out: the next read
    /// skips the rest of it.
    pub mid_line: bool,
    /// Why the read stopped early; the lines before `offset` were handed out and stay valid.
    pub error: Option<String>,
}

impl ReadEnd {
    pub(super) fn at(offset: u64, reached_end: bool, mid_line: bool) -> ReadEnd {
        ReadEnd {
            offset,
            reached_end,
            mid_line,
            error: None,
        }
    }
}

/// Updates a record after its file was read to `end` (the end of a complete line, or inside
/// an over-long one) and `lines` more lines were handed out.
pub fn advance(
    plan: &ReadPlan,
    record: &mut FileCheckpoint,
    end: &ReadEnd,
    lines: u64,
    now: DateTime<Utc>,
) {
    let (offset, reached_end) = (end.offset, end.reached_end);
    record.mid_line = end.mid_line;
    // The fingerprint grows with the file, up to FP_MAX: a longer one tells files apart better.
    if plan.prefix.len() > record.fp_len as usize {
        record.fp_len = plan.prefix.len() as u32;
        record.fp = fingerprint(&plan.prefix);
        record.alt_fp = None;
    }
    record.offset = offset;
    record.lines += lines;
    record.path = plan.candidate.path.display().to_string();
    record.seen = now;
    if plan.candidate.gz && reached_end {
        record.gz_done = Some(plan.candidate.gz_mark());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sibling_names() {
        let base = std::ffi::OsStr::new("access.log");
        for yes in [
            "access.log.1",
            "access.log.2.gz",
            "access.log-20261122",
            "access.log-20261122.gz",
        ] {
            assert!(is_sibling(base, &OsString::from(yes)), "{yes}");
        }
        for no in [
            "access.log.bak",
            "access.log.",
            "error.log.1",
            "access.log.1.tmp",
            "access.logx",
        ] {
            assert!(!is_sibling(base, &OsString::from(no)), "{no}");
        }
    }
}
