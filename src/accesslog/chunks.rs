//! Reading one planned file of a log in chunks of whole lines, from its checkpoint on: gzip
//! archives decompressed, over-long lines cut to one malformed line, and the buffers recycled.

use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use anyhow::Result;
use flate2::read::MultiGzDecoder;

use super::tailer::{ReadEnd, ReadPlan};

/// A "line" longer than this is cut and counted as malformed (nginx's own limits on a request
/// line and headers are far lower).
const MAX_LINE: usize = 4 << 20;

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
    pub fn give(&self, buf: Vec<u8>) {
        // Kept at the length it was filled to: that much is initialised, and the next user
        // zeroes only what it needs beyond (a few bytes, a carried line). Resizing it to its
        // capacity here zeroed half of every buffer that once grew to twice a chunk: a memset
        // the size of the whole log.
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
    let source = match open_at(plan) {
        Ok(Some(source)) => source,
        Ok(None) => return Ok(ReadEnd::at(plan.start, true, plan.mid_line)),
        Err(error) => {
            return Ok(ReadEnd {
                error: Some(error),
                ..ReadEnd::at(plan.start, false, plan.mid_line)
            });
        }
    };
    let mut lines = Lines {
        source,
        path: &plan.candidate.path,
        gz: plan.candidate.gz,
        offset: plan.start,
        stop: plan.stop,
        at_stop: false,
        skipping: plan.mid_line,
        carry: Vec::new(),
    };
    loop {
        let (buf, at_eof) = match lines.next_buffer(pool, chunk_size) {
            Ok(next) => next,
            Err(end) => return Ok(end),
        };
        let end = if lines.skipping {
            lines.skip(buf, pool, at_eof)
        } else {
            lines.hand_out(buf, at_eof, emit)?
        };
        if let Some(end) = end {
            return Ok(end);
        }
    }
}

/// One file being read: where it is, and what the last buffer left over.
struct Lines<'a> {
    source: Box<dyn Read>,
    path: &'a Path,
    gz: bool,
    /// Offset of the first byte not handed out (nor skipped) yet.
    offset: u64,
    /// Where to stop reading (a committed checkpoint), and whether the last buffer reached it:
    /// what lies before a checkpoint was handed out whole, so it is handed out whole again.
    stop: Option<u64>,
    at_stop: bool,
    /// Inside an over-long line: its rest is skipped up to its newline.
    skipping: bool,
    /// Bytes read but not handed out: the start of an unfinished line.
    carry: Vec<u8>,
}

impl Lines<'_> {
    /// The carried bytes followed by up to `chunk_size` new ones, and whether the file ended;
    /// a read error ends the file with what was handed out so far.
    fn next_buffer(
        &mut self,
        pool: &BufferPool,
        chunk_size: usize,
    ) -> std::result::Result<(Vec<u8>, bool), ReadEnd> {
        let filled_from = self.carry.len();
        let size = match self.stop {
            Some(stop) => {
                let read_to = self.offset + filled_from as u64;
                chunk_size.min(usize::try_from(stop.saturating_sub(read_to)).unwrap_or(chunk_size))
            }
            None => chunk_size,
        };
        let mut buf = pool.take(filled_from + size);
        buf[..filled_from].copy_from_slice(&self.carry);
        self.carry.clear();
        match fill(&mut *self.source, &mut buf, filled_from, size) {
            Ok(filled) => {
                buf.truncate(filled);
                let read_to = self.offset + filled as u64;
                self.at_stop = self.stop.is_some_and(|stop| read_to >= stop);
                Ok((buf, self.at_stop || filled < filled_from + size))
            }
            Err(err) => Err(ReadEnd {
                error: Some(format!(
                    "cannot read {} past byte {}: {err}",
                    self.path.display(),
                    self.offset
                )),
                ..ReadEnd::at(self.offset, false, self.skipping)
            }),
        }
    }

    /// Skips the rest of an over-long line; returns where the read ends, if it does.
    fn skip(&mut self, buf: Vec<u8>, pool: &BufferPool, at_eof: bool) -> Option<ReadEnd> {
        match memchr::memchr(b'\n', &buf) {
            Some(nl) => {
                self.offset += nl as u64 + 1;
                self.carry.extend_from_slice(&buf[nl + 1..]);
                self.skipping = false;
            }
            None => self.offset += buf.len() as u64,
        }
        pool.give(buf);
        (at_eof && (self.skipping || self.carry.is_empty())).then(|| {
            ReadEnd::at(
                self.offset,
                !self.skipping || self.gz,
                self.skipping && !self.gz,
            )
        })
    }

    /// Hands out the complete lines of `buf` and carries the rest; returns where the read
    /// ends, if it does.
    fn hand_out(
        &mut self,
        mut buf: Vec<u8>,
        at_eof: bool,
        emit: &mut dyn FnMut(Chunk) -> Result<()>,
    ) -> Result<Option<ReadEnd>> {
        let cut = match memchr::memrchr(b'\n', &buf) {
            _ if at_eof && (self.gz || self.at_stop) => buf.len(),
            Some(nl) => nl + 1,
            // No access-log line is this long: its start is handed out, to be counted as one
            // malformed line, and the rest skipped, rather than held in memory.
            None if buf.len() >= MAX_LINE => {
                let len = buf.len() as u64;
                buf.truncate(MAX_LINE);
                emit(Chunk {
                    data: buf,
                    offset: self.offset,
                    oversized: true,
                })?;
                self.offset += len;
                self.skipping = true;
                return Ok(at_eof.then(|| ReadEnd::at(self.offset, self.gz, !self.gz)));
            }
            None if at_eof => 0,
            // One line longer than a chunk: keep reading until it ends.
            None => {
                self.carry = buf;
                return Ok(None);
            }
        };
        self.carry.extend_from_slice(&buf[cut..]);
        buf.truncate(cut);
        if !buf.is_empty() {
            let len = buf.len() as u64;
            emit(Chunk {
                data: buf,
                offset: self.offset,
                oversized: false,
            })?;
            self.offset += len;
        }
        Ok(at_eof.then(|| ReadEnd::at(self.offset, self.carry.is_empty(), false)))
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
