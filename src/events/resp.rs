//! A reader for `XRANGE` replies straight off the socket: the one hot path of the Redis store.
//!
//! The redis crate parses replies with a general combinator parser; on a fold of 1,000,000
//! events it spent 1.8 s of CPU parsing pages, and the time grew faster than the page size.
//! This reader handles only what `XRANGE` returns (an array of `[id, [field, value, …]]`) and
//! reads it linearly from a buffer. Every other command still goes through the redis crate.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use super::event::RawEntry;

pub struct XrangeReader {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    request: Vec<u8>,
    /// The page already asked for (key, start, count), whose reply is on its way: Redis
    /// builds it while the caller folds the previous one.
    pending: Option<(String, String, usize)>,
    /// The current header line, reused: a page has a dozen headers per entry.
    line: Vec<u8>,
    /// The current bulk string, reused likewise.
    body: Vec<u8>,
}

fn invalid(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

impl XrangeReader {
    /// Connects to `host:port`, authenticates and selects `db` like the main connection.
    pub fn connect(
        host: &str,
        port: u16,
        db: i64,
        username: Option<&str>,
        password: Option<&str>,
        timeout: Duration,
    ) -> io::Result<XrangeReader> {
        let addr = std::net::ToSocketAddrs::to_socket_addrs(&(host, port))?
            .next()
            .ok_or_else(|| invalid(format!("{host} has no address")))?;
        let stream = TcpStream::connect_timeout(&addr, timeout)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        stream.set_nodelay(true)?;
        let mut conn = XrangeReader {
            reader: BufReader::with_capacity(1 << 20, stream.try_clone()?),
            writer: stream,
            request: Vec::new(),
            pending: None,
            line: Vec::with_capacity(64),
            body: Vec::with_capacity(256),
        };
        if let Some(password) = password {
            match username {
                Some(user) => conn.simple(&["AUTH", user, password])?,
                None => conn.simple(&["AUTH", password])?,
            }
        }
        if db != 0 {
            conn.simple(&["SELECT", &db.to_string()])?;
        }
        Ok(conn)
    }

    fn send(&mut self, args: &[&str]) -> io::Result<()> {
        self.request.clear();
        write!(self.request, "*{}\r\n", args.len())?;
        for arg in args {
            write!(self.request, "${}\r\n", arg.len())?;
            self.request.extend_from_slice(arg.as_bytes());
            self.request.extend_from_slice(b"\r\n");
        }
        self.writer.write_all(&self.request)
    }

    /// A command answered by `+OK` (or an error).
    fn simple(&mut self, args: &[&str]) -> io::Result<()> {
        self.send(args)?;
        self.read_line()?;
        match self.line.first() {
            Some(b'+') => Ok(()),
            _ => Err(invalid(format!(
                "{}: {}",
                args[0],
                String::from_utf8_lossy(&self.line)
            ))),
        }
    }

    /// `XRANGE key start + COUNT count`. A full page also asks for the next one before
    /// returning, so the two sides work at the same time.
    pub fn xrange(&mut self, key: &str, start: &str, count: usize) -> io::Result<Vec<RawEntry>> {
        let asked = (key.to_string(), start.to_string(), count);
        match self.pending.take() {
            Some(pending) if pending == asked => {}
            Some(_) => {
                self.page()?; // a prefetch nobody wants: read it off the wire
                self.send_xrange(&asked)?;
            }
            None => self.send_xrange(&asked)?,
        }
        let page = self.page()?;
        if page.len() == count
            && let Some(last) = page.last()
        {
            let next = (asked.0, format!("({}", last.id), count);
            self.send_xrange(&next)?;
            self.pending = Some(next);
        }
        Ok(page)
    }

    fn send_xrange(&mut self, (key, start, count): &(String, String, usize)) -> io::Result<()> {
        self.send(&["XRANGE", key, start, "+", "COUNT", &count.to_string()])
    }

    fn page(&mut self) -> io::Result<Vec<RawEntry>> {
        let n = self.array_len()?;
        let mut entries = Vec::with_capacity(n);
        for _ in 0..n {
            if self.array_len()? != 2 {
                return Err(invalid("an XRANGE entry is not [id, fields]"));
            }
            self.bulk()?;
            let id = std::str::from_utf8(&self.body)
                .ok()
                .and_then(|id| id.parse().ok())
                .ok_or_else(|| invalid("a stream id that is not <ms>-<seq>"))?;
            let mut entry = RawEntry::new(id);
            let len = self.array_len()? / 2 * 2;
            for _ in 0..len {
                self.bulk()?;
                match std::str::from_utf8(&self.body) {
                    Ok(text) => entry.push(text),
                    Err(_) => entry.push(&String::from_utf8_lossy(&self.body)),
                }
            }
            entries.push(entry);
        }
        Ok(entries)
    }

    /// Reads one `\r\n`-terminated line into `self.line`, without its terminator.
    fn read_line(&mut self) -> io::Result<()> {
        self.line.clear();
        self.reader.read_until(b'\n', &mut self.line)?;
        if !self.line.ends_with(b"\r\n") {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "Redis closed the connection",
            ));
        }
        self.line.truncate(self.line.len() - 2);
        Ok(())
    }

    /// The number after a `kind` byte (`*3`, `$12`), or the error Redis sent instead.
    fn header(&mut self, kind: u8) -> io::Result<i64> {
        self.read_line()?;
        match self.line.split_first() {
            Some((k, rest)) if *k == kind => {
                let mut n: i64 = 0;
                let (negative, digits) = match rest.split_first() {
                    Some((b'-', d)) => (true, d),
                    _ => (false, rest),
                };
                if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                    return Err(invalid("a malformed length in a reply"));
                }
                for d in digits {
                    n = n * 10 + i64::from(d - b'0');
                }
                Ok(if negative { -n } else { n })
            }
            Some((b'-', rest)) => Err(invalid(String::from_utf8_lossy(rest).into_owned())),
            _ => Err(invalid(format!(
                "unexpected reply {:?}",
                String::from_utf8_lossy(&self.line)
            ))),
        }
    }

    fn array_len(&mut self) -> io::Result<usize> {
        Ok(usize::try_from(self.header(b'*')?).unwrap_or(0))
    }

    /// Reads one bulk string into `self.body` (empty for a nil).
    fn bulk(&mut self) -> io::Result<()> {
        let len = self.header(b'$')?;
        self.body.clear();
        let Ok(len) = usize::try_from(len) else {
            return Ok(());
        };
        self.body.resize(len + 2, 0);
        self.reader.read_exact(&mut self.body)?;
        self.body.truncate(len);
        Ok(())
    }
}
