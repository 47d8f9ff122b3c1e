//! Parses one access-log line against a compiled [`LogFormat`], borrowing every field from the
//! line: nothing is allocated unless a value has to be unescaped for keeping.

use std::borrow::Cow;

use memchr::{memchr, memchr2};

pub use super::request::{Malformed, Request};
use super::request::{byte_count, set_target, split_request, status, strip_port};
use super::time::{self, TimeCache, Timestamp};
use crate::log_format::{Escape, Field, Layout, LogFormat, Token};

/// A compiled format plus the per-thread caches its parsing uses.
pub struct Parser<'f> {
    format: &'f LogFormat,
    times: TimeCache,
}

impl<'f> Parser<'f> {
    pub fn new(format: &'f LogFormat) -> Parser<'f> {
        Parser {
            format,
            times: TimeCache::default(),
        }
    }

    pub fn escape(&self) -> Escape {
        self.format.escape
    }

    /// Parses `line` (without its newline).
    pub fn parse<'a>(&mut self, line: &'a [u8]) -> Result<Request<'a>, Malformed> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        match &self.format.layout {
            Layout::Tokens => self.parse_tokens(line),
            Layout::Caddy => super::servers::caddy(line),
            Layout::TraefikJson => super::servers::traefik_json(line),
            Layout::Haproxy { captures } => {
                super::servers::haproxy(line, captures, &mut self.times)
            }
            // A format still to be found reads nothing (`detect::reading_format` finds it first).
            Layout::Unresolved { .. } => Err(Malformed::Shape),
        }
    }

    fn parse_tokens<'a>(&mut self, line: &'a [u8]) -> Result<Request<'a>, Malformed> {
        if self.format.escape == Escape::W3c && line.first() == Some(&b'#') {
            return Err(Malformed::Comment);
        }
        let tokens = &self.format.tokens;
        let mut req = Request::default();
        let mut st = LineState::default();
        let mut pos = 0;
        for (k, token) in tokens.iter().enumerate() {
            match token {
                Token::Literal(lit) => {
                    if !starts_with(&line[pos..], lit) {
                        return Err(Malformed::Shape);
                    }
                    pos += lit.len();
                }
                Token::Var { field, quoted } => {
                    let rest = &line[pos..];
                    let len = match tokens.get(k + 1) {
                        // A number never holds a space; stopping there lets a shorter format
                        // (common) read lines that carry more fields (combined).
                        None if field.is_numeric() => memchr(b' ', rest).unwrap_or(rest.len()),
                        None => rest.len(),
                        Some(Token::Literal(_)) if *quoted => {
                            closing_quote(rest).ok_or(Malformed::Unterminated)?
                        }
                        Some(Token::Literal(next)) => {
                            find_literal(rest, next).ok_or(Malformed::Shape)?
                        }
                        Some(Token::Var { .. }) => unreachable!("compile() rejects adjacent vars"),
                    };
                    let value = &rest[..len];
                    pos += len;
                    self.field(*field, value, &mut req, &mut st)?;
                }
            }
        }
        if !st.have_time {
            return Err(Malformed::NoTime);
        }
        match st.uri {
            Some(path) => req.path = path,
            None => set_target(&mut req, st.target),
        }
        Ok(req)
    }

    /// Keeps one field's value where the request wants it.
    #[inline]
    fn field<'a>(
        &mut self,
        field: Field,
        value: &'a [u8],
        req: &mut Request<'a>,
        st: &mut LineState<'a>,
    ) -> Result<(), Malformed> {
        match field {
            Field::RemoteAddr => req.remote_addr = value,
            Field::RemoteAddrPort => req.remote_addr = strip_port(value),
            Field::HttpXForwardedFor => req.x_forwarded_for = value,
            Field::TimeLocal => {
                req.time = self.times.time_local(value).ok_or(Malformed::Time)?;
                st.have_time = true;
            }
            Field::TimeIso8601 => {
                req.time = time::time_iso8601(value).ok_or(Malformed::Time)?;
                st.have_time = true;
            }
            Field::Msec if !st.have_time => {
                req.time = time::msec(value).ok_or(Malformed::Time)?;
                st.have_time = true;
            }
            Field::W3cDate => st.w3c_days = Some(time::iso_date(value).ok_or(Malformed::Time)?),
            Field::W3cTime => {
                let clock = time::clock(value).ok_or(Malformed::Time)?;
                let days = st.w3c_days.ok_or(Malformed::Time)?;
                req.time = Timestamp {
                    secs: days * 86_400 + clock,
                    offset_secs: 0,
                };
                st.have_time = true;
            }
            Field::Request => st.target = split_request(value, &mut req.method),
            Field::RequestMethod => req.method = value,
            Field::RequestUri => st.target = value,
            Field::Uri => st.uri = Some(value),
            Field::Args => req.query = Request::present(value).unwrap_or_default(),
            Field::Status => req.status = status(value).ok_or(Malformed::Status)?,
            Field::BodyBytesSent => req.bytes = byte_count(value)?,
            Field::HttpReferer => req.referer = value,
            Field::HttpUserAgent => req.user_agent = value,
            Field::Host => req.host = value,
            Field::RemoteUser | Field::RequestTime | Field::Msec | Field::Other => {}
        }
        Ok(())
    }
}

/// What a line's fields left for the end of its parse.
#[derive(Default)]
struct LineState<'a> {
    have_time: bool,
    target: &'a [u8],
    uri: Option<&'a [u8]>,
    w3c_days: Option<i64>,
}

/// `hay.starts_with(prefix)` for the 1-4 byte literals of a format, compared inline: the slice
/// method calls libc's memcmp, which costs more than the comparison itself at this size.
#[inline]
fn starts_with(hay: &[u8], prefix: &[u8]) -> bool {
    hay.len() >= prefix.len() && hay.iter().zip(prefix).all(|(a, b)| a == b)
}

/// Where `literal` first occurs. Fields are a few bytes long, so a first-byte `memchr` and a
/// check of the rest beat a SIMD substring search, whose set-up costs more than the scan.
fn find_literal(hay: &[u8], literal: &[u8]) -> Option<usize> {
    let (first, rest) = literal.split_first()?;
    let mut from = 0;
    while let Some(i) = memchr(*first, &hay[from..]) {
        let at = from + i;
        if starts_with(&hay[at + 1..], rest) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Length up to the closing `"`, skipping backslash escapes (`\"` from Apache and escape=json).
fn closing_quote(rest: &[u8]) -> Option<usize> {
    let mut i = 0;
    loop {
        i += memchr2(b'"', b'\\', &rest[i..])?;
        if rest[i] == b'"' {
            return Some(i);
        }
        i += 2;
        if i > rest.len() {
            return None;
        }
    }
}

/// Undoes the server's escaping of a value. Borrows when there is nothing to undo.
pub fn unescape(value: &[u8], escape: Escape) -> Cow<'_, [u8]> {
    if escape == Escape::W3c {
        // IIS writes a space as `+`; CloudFront percent-encodes (`%20`).
        if memchr2(b'+', b'%', value).is_none() {
            return Cow::Borrowed(value);
        }
        let plus: Vec<u8> = value
            .iter()
            .map(|&c| if c == b'+' { b' ' } else { c })
            .collect();
        return Cow::Owned(percent_encoding::percent_decode(&plus).collect());
    }
    if memchr(b'\\', value).is_none() {
        return Cow::Borrowed(value);
    }
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        let c = value[i];
        if c != b'\\' || i + 1 == value.len() {
            out.push(c);
            i += 1;
            continue;
        }
        let next = value[i + 1];
        match (escape, next) {
            (_, b'"' | b'\\') => {
                out.push(next);
                i += 2;
            }
            (Escape::Default, b'x') => {
                if let Some(byte) = hex2(&value[i + 2..]) {
                    out.push(byte);
                    i += 4;
                } else {
                    out.push(c);
                    i += 1;
                }
            }
            (Escape::Json, b'/') => {
                out.push(b'/');
                i += 2;
            }
            (Escape::Json, b'n' | b'r' | b't' | b'b' | b'f') => {
                out.push(match next {
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'b' => 8,
                    _ => 12,
                });
                i += 2;
            }
            (Escape::Json, b'u') => {
                if let Some((ch, used)) = json_unicode(&value[i..]) {
                    let mut buf = [0; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                    i += used;
                } else {
                    out.push(c);
                    i += 1;
                }
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    Cow::Owned(out)
}

fn hex2(b: &[u8]) -> Option<u8> {
    let h = |c: u8| (c as char).to_digit(16);
    match b {
        [a, b, ..] => Some((h(*a)? * 16 + h(*b)?) as u8),
        _ => None,
    }
}

/// `\uXXXX`, or a surrogate pair `\uD83D\uDE00`; returns the char and the bytes used.
fn json_unicode(b: &[u8]) -> Option<(char, usize)> {
    let unit = |b: &[u8]| -> Option<u32> {
        let hex = std::str::from_utf8(b.get(2..6)?).ok()?;
        if !b.starts_with(b"\\u") {
            return None;
        }
        u32::from_str_radix(hex, 16).ok()
    };
    let hi = unit(b)?;
    if (0xD800..0xDC00).contains(&hi) {
        let lo = unit(b.get(6..)?)?;
        if !(0xDC00..0xE000).contains(&lo) {
            return None;
        }
        let code = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
        return Some((char::from_u32(code)?, 12));
    }
    Some((char::from_u32(hi)?, 6))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse<'a>(format: &str, line: &'a str) -> Result<Request<'a>, Malformed> {
        // Leaked so the parser may borrow it for the test's lifetime.
        let format: &'static LogFormat = Box::leak(Box::new(LogFormat::compile(format).unwrap()));
        Parser::new(format).parse(line.as_bytes())
    }

    #[test]
    fn literals_are_found_where_they_start() {
        assert_eq!(find_literal(b"a] \"b] \"", b"] \""), Some(1));
        assert_eq!(find_literal(b"]]] \"", b"] \""), Some(2));
        assert_eq!(find_literal(b"abc", b"] "), None);
        assert_eq!(find_literal(b"x]", b"] "), None);
    }

    #[test]
    fn closing_quote_skips_escapes() {
        assert_eq!(closing_quote(br#"a \"b\" c" x"#), Some(9));
        assert_eq!(closing_quote(br#"a\\" x"#), Some(3));
        assert_eq!(closing_quote(br"no end\"), None);
        assert_eq!(closing_quote(br"no end"), None);
    }

    #[test]
    fn request_line_shapes() {
        let mut m: &[u8] = b"";
        assert_eq!(split_request(b"GET /a?b=1 HTTP/1.1", &mut m), b"/a?b=1");
        assert_eq!(m, b"GET");
        let mut m: &[u8] = b"";
        assert_eq!(split_request(b"GET /http09", &mut m), b"/http09");
        let mut m: &[u8] = b"";
        assert_eq!(split_request(b"", &mut m), b"");
        assert_eq!(m, b"");
        let mut m: &[u8] = b"";
        assert_eq!(split_request(br"\x16\x03\x01\x00\xA5\x01", &mut m), b"");
        assert_eq!(m, b"");
    }

    #[test]
    fn unescape_default_and_json() {
        assert_eq!(
            unescape(br#"say \"hi\" \x22x\x22 \\"#, Escape::Default).as_ref(),
            br#"say "hi" "x" \"#
        );
        assert_eq!(
            unescape(br"a\u00e9\ud83d\ude00\/\n", Escape::Json).as_ref(),
            "aé😀/\n".as_bytes()
        );
        assert!(matches!(unescape(b"plain", Escape::Json), Cow::Borrowed(_)));
    }

    #[test]
    fn status_and_bytes() {
        assert_eq!(status(b"200"), Some(200));
        assert_eq!(status(b"20"), None);
        assert_eq!(byte_count(b"-"), Ok(0));
        assert_eq!(byte_count(b"12x"), Err(Malformed::Bytes));
    }

    #[test]
    fn trailing_fields_beyond_the_format_are_ignored() {
        let r = parse(
            "combined",
            r#"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 5 "-" "ua" "9.9.9.9""#,
        )
        .unwrap();
        assert_eq!(r.user_agent, b"ua");
    }
}
