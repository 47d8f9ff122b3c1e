//! One request as a parser gives it, borrowed from its line, and the pieces of a line every
//! format shares: the request line, the target (absolute or not), an address with its port,
//! the status and the byte count. Imported by the token parser and the servers' parsers alike.

use memchr::{memchr, memchr2};

use super::time::Timestamp;

/// The fields of one request, as raw (still escaped) slices of the line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Request<'a> {
    pub remote_addr: &'a [u8],
    pub x_forwarded_for: &'a [u8],
    pub time: Timestamp,
    /// Empty when the request line could not be split (`""`, binary junk).
    pub method: &'a [u8],
    pub path: &'a [u8],
    pub query: &'a [u8],
    pub status: u16,
    pub bytes: u64,
    pub referer: &'a [u8],
    pub user_agent: &'a [u8],
    pub host: &'a [u8],
}

impl Request<'_> {
    /// A value that nginx or Apache wrote as `-` is absent.
    pub fn present(value: &[u8]) -> Option<&[u8]> {
        match value {
            b"" | b"-" => None,
            v => Some(v),
        }
    }
}

/// Why a line did not match its format. Kept small: it is counted, and sampled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Malformed {
    /// The line does not have the literal text the format expects at some point.
    Shape,
    /// A quoted field has no closing quote.
    Unterminated,
    Time,
    Status,
    Bytes,
    NoTime,
    /// A directive or comment line (`#Fields:` of a W3C log), not a request: not counted.
    Comment,
}

impl Malformed {
    pub fn describe(self) -> &'static str {
        match self {
            Malformed::Shape => "does not match the log format",
            Malformed::Unterminated => "a quoted field is not closed",
            Malformed::Time => "the time is not valid",
            Malformed::Status => "the status is not a 3-digit number",
            Malformed::Bytes => "the byte count is not a number",
            Malformed::NoTime => "the line has no time",
            Malformed::Comment => "a comment line",
        }
    }
}

/// The path and query of a request target; an absolute one (`https://host:443/x`, as the
/// load balancers log it) gives the host too, without its port.
pub fn set_target<'a>(req: &mut Request<'a>, target: &'a [u8]) {
    let mut target = target;
    for scheme in [&b"https://"[..], b"http://"] {
        if let Some(rest) = target.strip_prefix(scheme) {
            let end = memchr2(b'/', b'?', rest).unwrap_or(rest.len());
            if req.host.is_empty() {
                req.host = strip_port(&rest[..end]);
            }
            target = &rest[end..];
            break;
        }
    }
    match memchr(b'?', target) {
        Some(q) => {
            req.path = &target[..q];
            req.query = &target[q + 1..];
        }
        None => req.path = target,
    }
}

/// `203.0.113.5:41234` is `203.0.113.5`, `[2001:db8::1]:443` is `2001:db8::1`; an address
/// without a port stays as it is.
pub fn strip_port(value: &[u8]) -> &[u8] {
    if let Some(inner) = value.strip_prefix(b"[") {
        return inner.split(|&b| b == b']').next().unwrap_or(inner);
    }
    match memchr::memrchr(b':', value) {
        // One colon: IPv4 (or a name) and a port; more: a bare IPv6 address.
        Some(i) if memchr(b':', &value[..i]).is_none() => &value[..i],
        _ => value,
    }
}

/// Splits `GET /path?q HTTP/1.1` into the method (written to `method`) and the target. A
/// request line that is empty or junk gives an empty method and target.
pub fn split_request<'a>(value: &'a [u8], method: &mut &'a [u8]) -> &'a [u8] {
    let Some(sp) = memchr(b' ', value) else {
        return b"";
    };
    let (m, rest) = (&value[..sp], &value[sp + 1..]);
    if m.is_empty() || !m.iter().all(u8::is_ascii_uppercase) {
        return b"";
    }
    *method = m;
    match memchr::memrchr(b' ', rest) {
        Some(sp) if rest[sp + 1..].starts_with(b"HTTP/") => &rest[..sp],
        _ => rest,
    }
}

/// A 3-digit status; `-` (Traefik and the load balancers, for a request never answered) is 0,
/// which is no status class a visit counts in.
pub fn status(b: &[u8]) -> Option<u16> {
    match *b {
        [a, b, c] if a.is_ascii_digit() && b.is_ascii_digit() && c.is_ascii_digit() => {
            Some(u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0'))
        }
        [b'-'] => Some(0),
        _ => None,
    }
}

pub fn byte_count(b: &[u8]) -> Result<u64, Malformed> {
    if b == b"-" {
        return Ok(0);
    }
    if b.is_empty() || b.len() > 19 || !b.iter().all(u8::is_ascii_digit) {
        return Err(Malformed::Bytes);
    }
    Ok(b.iter().fold(0, |n, d| n * 10 + u64::from(d - b'0')))
}
