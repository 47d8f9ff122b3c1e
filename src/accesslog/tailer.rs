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
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::Result;
use chrono::{DateTime, Utc};
use flate2::read::MultiGzDecoder;
use siphasher::sip::SipHasher13;

use crate::accesslog::checkpoint::{FileCheckpoint, GzMark};

/// How many leading bytes identify a file.
pub const FP_MAX: usize = 1024;

/// A "line" longer than this is cut and counted as malformed (nginx's own limits on a request
/// line and headers are far lower).
const MAX_LINE: usize = 4 << 20;

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

    // Archives read to their end before are recognised without decompressing them.
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

    let mut with_prefix = Vec::new();
    for c in open {
        match c.prefix() {
            Ok(prefix) if prefix.is_empty() => {}
            Ok(prefix) => with_prefix.push((c, prefix)),
            Err(err) => errors.push(FileError {
                path: c.path.clone(),
                error: err.to_string(),
            }),
        }
    }
    // Claim records best file first: plain before gzip, more bytes before fewer, live first.
    let mut order: Vec<usize> = (0..with_prefix.len()).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (&with_prefix[a].0, &with_prefix[b].0);
        a.gz.cmp(&b.gz)
            .then(b.size.cmp(&a.size))
            .then(b.live.cmp(&a.live))
    });
    let mut chosen: Vec<Option<(usize, u64, bool)>> = vec![None; with_prefix.len()];
    for idx in order {
        let (c, prefix) = &with_prefix[idx];
        // Records mostly share one fingerprint length: hash the prefix once per length.
        let mut hashes: Vec<(u32, u64)> = Vec::new();
        let mut matches = |r: &FileCheckpoint| {
            let len = r.fp_len;
            if len == 0 || prefix.len() < len as usize {
                return false;
            }
            let hash = match hashes.iter().find(|(l, _)| *l == len) {
                Some((_, h)) => *h,
                None => {
                    let h = fingerprint(&prefix[..len as usize]);
                    hashes.push((len, h));
                    h
                }
            };
            hash == r.fp || Some(hash) == r.alt_fp
        };
        let matching = records
            .iter()
            .enumerate()
            .filter(|(_, (_, r))| matches(r))
            .max_by_key(|(_, (_, r))| r.fp_len)
            .map(|(i, _)| i);
        match matching {
            Some(i) if claimed[i] => {} // a duplicate of a file read this run
            Some(i) => {
                claimed[i] = true;
                chosen[idx] = Some((i, records[i].1.offset, records[i].1.mid_line));
            }
            None => {
                records.push((
                    key.to_string(),
                    FileCheckpoint {
                        fp_len: prefix.len() as u32,
                        fp: fingerprint(prefix),
                        alt_fp: None,
                        offset: 0,
                        mid_line: false,
                        lines: 0,
                        last_day: None,
                        gz_done: None,
                        path: c.path.display().to_string(),
                        seen: now,
                    },
                ));
                claimed.push(true);
                chosen[idx] = Some((records.len() - 1, 0, false));
            }
        }
    }
    with_prefix
        .into_iter()
        .zip(chosen)
        .filter_map(|((candidate, prefix), chosen)| {
            let (record, start, mid_line) = chosen?;
            Some(ReadPlan {
                candidate,
                record,
                start,
                mid_line,
                prefix,
            })
        })
        .collect()
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

/// A run of complete lines (the last one may lack its newline only at the end of an archive).
pub struct Chunk {
    pub data: Vec<u8>,
    /// Offset of `data[0]` in the (decompressed) file.
    pub offset: u64,
    /// `data` is the start of one line longer than 4 MiB, cut: one malformed line.
    pub oversized: bool,
}

/// Chunk buffers handed back after folding, so a long read does not allocate (and zero, and
/// fault in) a fresh megabyte per chunk.
#[derive(Default)]
pub struct BufferPool(std::sync::Mutex<Vec<Vec<u8>>>);

impl BufferPool {
    pub fn give(&self, mut buf: Vec<u8>) {
        // Full length, so the next user need not initialise it again.
        buf.resize(buf.capacity(), 0);
        if let Ok(mut pool) = self.0.lock()
            && pool.len() < 16
        {
            pool.push(buf);
        }
    }

    /// A buffer of at least `len` initialised bytes.
    fn take(&self, len: usize) -> Vec<u8> {
        let recycled = self.0.lock().ok().and_then(|mut pool| pool.pop());
        let mut buf = recycled.unwrap_or_default();
        if buf.len() < len {
            buf.resize(len, 0);
        }
        buf
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

/// Reads `plan`'s file from its start offset, handing out chunks of whole lines. A trailing
/// line without a newline is left for the next run, except at the end of a gzip archive, which
/// never grows. A line longer than 4 MiB is handed out once, cut, as one chunk of its own to
/// be counted as one malformed line; the rest of it is skipped, in this read or the next. A
/// read error ends the file early (see [`ReadEnd::error`]); an error from `emit` aborts the
/// read.
pub fn read(
    plan: &ReadPlan,
    chunk_size: usize,
    pool: &BufferPool,
    emit: &mut dyn FnMut(Chunk) -> Result<()>,
) -> Result<ReadEnd> {
    let mut source = match open_at(plan) {
        Ok(Some(source)) => source,
        Ok(None) => return Ok(ReadEnd::at(plan.start, true, plan.mid_line)),
        Err(error) => {
            return Ok(ReadEnd {
                error: Some(error),
                ..ReadEnd::at(plan.start, false, plan.mid_line)
            });
        }
    };
    let gz = plan.candidate.gz;
    let mut offset = plan.start;
    let mut skipping = plan.mid_line;
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let filled_from = carry.len();
        let mut buf = pool.take(filled_from + chunk_size);
        buf[..filled_from].copy_from_slice(&carry);
        carry.clear();
        let filled = match fill(&mut *source, &mut buf, filled_from, chunk_size) {
            Ok(filled) => filled,
            Err(err) => {
                let error = format!(
                    "cannot read {} past byte {offset}: {err}",
                    plan.candidate.path.display()
                );
                return Ok(ReadEnd {
                    error: Some(error),
                    ..ReadEnd::at(offset, false, skipping)
                });
            }
        };
        buf.truncate(filled);
        let at_eof = filled < filled_from + chunk_size;
        if skipping {
            match memchr::memchr(b'\n', &buf) {
                Some(nl) => {
                    offset += nl as u64 + 1;
                    carry.extend_from_slice(&buf[nl + 1..]);
                    skipping = false;
                }
                None => offset += buf.len() as u64,
            }
            pool.give(buf);
            if at_eof && (skipping || carry.is_empty()) {
                return Ok(ReadEnd::at(offset, !skipping || gz, skipping && !gz));
            }
            continue;
        }
        let cut = match memchr::memrchr(b'\n', &buf) {
            _ if at_eof && gz => buf.len(),
            Some(nl) => nl + 1,
            // No access-log line is this long: its start is handed out, to be counted as one
            // malformed line, and the rest skipped, rather than held in memory.
            None if buf.len() >= MAX_LINE => {
                let len = buf.len() as u64;
                buf.truncate(MAX_LINE);
                emit(Chunk {
                    data: buf,
                    offset,
                    oversized: true,
                })?;
                offset += len;
                skipping = true;
                if at_eof {
                    return Ok(ReadEnd::at(offset, gz, !gz));
                }
                continue;
            }
            None if at_eof => 0,
            // One line longer than a chunk: keep reading until it ends.
            None => {
                carry = buf;
                continue;
            }
        };
        carry.extend_from_slice(&buf[cut..]);
        buf.truncate(cut);
        if !buf.is_empty() {
            let len = buf.len() as u64;
            emit(Chunk {
                data: buf,
                offset,
                oversized: false,
            })?;
            offset += len;
        }
        if at_eof {
            return Ok(ReadEnd::at(offset, carry.is_empty(), false));
        }
    }
}

impl ReadEnd {
    fn at(offset: u64, reached_end: bool, mid_line: bool) -> ReadEnd {
        ReadEnd {
            offset,
            reached_end,
            mid_line,
            error: None,
        }
    }
}

/// Reads into `buf[from..from + size]` until it is full or the source ends; returns the end.
fn fill(source: &mut dyn Read, buf: &mut [u8], from: usize, size: usize) -> io::Result<usize> {
    let mut filled = from;
    while filled < from + size {
        match source.read(&mut buf[filled..from + size]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(filled)
}

/// The plan's file positioned at its start offset (decompressing an archive up to it); `None`
/// when it holds nothing past the checkpoint. Refuses anything but a regular file.
fn open_at(plan: &ReadPlan) -> std::result::Result<Option<Box<dyn Read>>, String> {
    let path = &plan.candidate.path;
    let fail = |what: &str, err: io::Error| format!("cannot {what} {}: {err}", path.display());
    let mut file = crate::fsutil::open_log(path).map_err(|err| fail("open", err))?;
    if plan.candidate.gz {
        let mut gz = MultiGzDecoder::new(io::BufReader::with_capacity(256 * 1024, file));
        return match io::copy(&mut (&mut gz).take(plan.start), &mut io::sink()) {
            // The archive holds no more than was read before: nothing new in it.
            Ok(skipped) if skipped < plan.start => Ok(None),
            Ok(_) => Ok(Some(Box::new(gz))),
            Err(err) => Err(fail("decompress", err)),
        };
    }
    match file.metadata() {
        // Shrunk but still starting with the same bytes: nothing past the checkpoint.
        Ok(meta) if meta.len() < plan.start => return Ok(None),
        Ok(_) => {}
        Err(err) => return Err(fail("stat", err)),
    }
    file.seek(SeekFrom::Start(plan.start))
        .map_err(|err| fail("seek in", err))?;
    Ok(Some(Box::new(file)))
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
