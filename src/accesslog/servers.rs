//! The parsers of the formats that are not a row of fields: Caddy's JSON access log, Traefik's
//! JSON access log, and HAProxy's `option httplog` (after any syslog prefix). Each gives the
//! same borrowed [`Request`] as the token parser; JSON strings are kept escaped (the format's
//! escape is JSON, undone where a value is kept), and a field the server did not log is absent.

use memchr::memchr;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::request::{self as parser, Malformed, Request};
use super::time::{self, TimeCache};
use crate::log_format::Field;

/// A JSON string's contents, still escaped; a number as written; `null` is absent.
fn raw(v: Option<&RawValue>) -> &[u8] {
    let Some(v) = v else { return b"" };
    let text = v.get().as_bytes();
    match text {
        [b'"', inner @ .., b'"'] => inner,
        b"null" => b"",
        other => other,
    }
}

fn first<'a>(values: Option<&Vec<&'a RawValue>>) -> Option<&'a RawValue> {
    values.and_then(|v| v.first().copied())
}

#[derive(Deserialize)]
struct CaddyLine<'a> {
    #[serde(borrow)]
    msg: Option<&'a RawValue>,
    #[serde(borrow)]
    request: CaddyRequest<'a>,
    #[serde(borrow)]
    ts: &'a RawValue,
    status: u16,
    #[serde(default)]
    size: u64,
}

#[derive(Deserialize)]
struct CaddyRequest<'a> {
    #[serde(borrow)]
    remote_ip: Option<&'a RawValue>,
    #[serde(borrow)]
    client_ip: Option<&'a RawValue>,
    #[serde(borrow)]
    method: Option<&'a RawValue>,
    #[serde(borrow)]
    host: Option<&'a RawValue>,
    #[serde(borrow)]
    uri: Option<&'a RawValue>,
    #[serde(borrow, default)]
    headers: Headers<'a>,
}

/// Go writes header names in their canonical form.
#[derive(Default, Deserialize)]
struct Headers<'a> {
    #[serde(rename = "User-Agent", borrow)]
    user_agent: Option<Vec<&'a RawValue>>,
    #[serde(rename = "Referer", borrow)]
    referer: Option<Vec<&'a RawValue>>,
    #[serde(rename = "X-Forwarded-For", borrow)]
    x_forwarded_for: Option<Vec<&'a RawValue>>,
}

/// A line of Caddy's access log (`"msg":"handled request"`): `ts` as seconds (a float, or an
/// ISO 8601 string when `time_format` asks for one), `request.client_ip` (the client behind
/// trusted proxies; else `remote_ip`), `request.uri` with its query, the headers' first values.
pub fn caddy(line: &[u8]) -> Result<Request<'_>, Malformed> {
    let l: CaddyLine<'_> = serde_json::from_slice(line).map_err(|_| Malformed::Shape)?;
    // The error log (`http.log.error`) shares the format; only access lines are requests.
    if l.msg.is_some_and(|m| raw(Some(m)) != b"handled request") {
        return Err(Malformed::Comment);
    }
    let ts = l.ts.get().as_bytes();
    let time = match ts.strip_prefix(b"\"").and_then(|t| t.strip_suffix(b"\"")) {
        Some(iso) => time::time_iso8601(iso),
        None => time::msec(ts),
    }
    .ok_or(Malformed::Time)?;
    let r = &l.request;
    let client = raw(r.client_ip);
    let mut req = Request {
        remote_addr: if client.is_empty() {
            raw(r.remote_ip)
        } else {
            client
        },
        x_forwarded_for: raw(first(r.headers.x_forwarded_for.as_ref())),
        time,
        method: raw(r.method),
        status: l.status,
        bytes: l.size,
        referer: raw(first(r.headers.referer.as_ref())),
        user_agent: raw(first(r.headers.user_agent.as_ref())),
        host: parser::strip_port(raw(r.host)),
        ..Request::default()
    };
    parser::set_target(&mut req, raw(r.uri));
    Ok(req)
}

#[derive(Deserialize)]
struct TraefikLine<'a> {
    #[serde(rename = "ClientHost", borrow)]
    client_host: Option<&'a RawValue>,
    #[serde(rename = "StartUTC", borrow)]
    start_utc: Option<&'a RawValue>,
    #[serde(rename = "RequestMethod", borrow)]
    method: Option<&'a RawValue>,
    #[serde(rename = "RequestPath", borrow)]
    path: Option<&'a RawValue>,
    #[serde(rename = "RequestHost", borrow)]
    host: Option<&'a RawValue>,
    #[serde(rename = "DownstreamStatus", default)]
    status: u16,
    #[serde(rename = "DownstreamContentSize", default)]
    size: u64,
    #[serde(rename = "request_User-Agent", borrow)]
    user_agent: Option<&'a RawValue>,
    #[serde(rename = "request_Referer", borrow)]
    referer: Option<&'a RawValue>,
    #[serde(rename = "request_X-Forwarded-For", borrow)]
    x_forwarded_for: Option<&'a RawValue>,
}

/// A line of Traefik's JSON access log: `ClientHost`, `StartUTC`, `RequestMethod`,
/// `RequestPath` (with its query), `DownstreamStatus`, `DownstreamContentSize`; the request's
/// headers only when Traefik keeps them (`fields.headers.defaultmode = keep`).
pub fn traefik_json(line: &[u8]) -> Result<Request<'_>, Malformed> {
    let l: TraefikLine<'_> = serde_json::from_slice(line).map_err(|_| Malformed::Shape)?;
    let time = time::time_iso8601(raw(l.start_utc)).ok_or(Malformed::Time)?;
    let mut req = Request {
        remote_addr: raw(l.client_host),
        x_forwarded_for: raw(l.x_forwarded_for),
        time,
        method: raw(l.method),
        status: l.status,
        bytes: l.size,
        referer: raw(l.referer),
        user_agent: raw(l.user_agent),
        host: parser::strip_port(raw(l.host)),
        ..Request::default()
    };
    if req.remote_addr.is_empty() {
        return Err(Malformed::Shape);
    }
    parser::set_target(&mut req, raw(l.path));
    Ok(req)
}

/// A line of HAProxy's `option httplog`, after the syslog prefix if there is one:
/// `203.0.113.5:53332 [25/Feb/2019:16:19:48.143] front back/srv 0/0/7/1457/1487 200 11394 - -
/// ---- 2/1/0/0/0 0/0 {captured|request|headers} {response} "GET /path HTTP/1.1"`. The captured
/// request headers are read as `captures` names them; HAProxy's time carries no offset and is
/// read as UTC. HAProxy's own messages (`Proxy … started.`) are not requests: not counted.
pub fn haproxy<'a>(
    line: &'a [u8],
    captures: &[Field],
    times: &mut TimeCache,
) -> Result<Request<'a>, Malformed> {
    let body = match memchr::memmem::find(line, b"]: ") {
        Some(i) if i < 128 => &line[i + 3..],
        _ => line,
    };
    // HAProxy's own messages (`Proxy web started.`, `Server back/s1 is DOWN`) are not requests.
    if !body
        .first()
        .is_some_and(|b| b.is_ascii_hexdigit() || *b == b'[' || *b == b':')
    {
        return Err(Malformed::Comment);
    }
    let mut fields = body.splitn(8, |&b| b == b' ');
    let client = fields.next().ok_or(Malformed::Shape)?;
    let date = fields
        .next()
        .and_then(|d| d.strip_prefix(b"["))
        .and_then(|d| d.strip_suffix(b"]"))
        .ok_or(Malformed::Shape)?;
    let frontend = fields.next().ok_or(Malformed::Shape)?;
    // A connection's error (`front/bind: SSL handshake failure`) is a message, not a request.
    if frontend.ends_with(b":") {
        return Err(Malformed::Comment);
    }
    let (backend, timers) = (fields.next(), fields.next());
    if backend.is_none_or(|b| memchr(b'/', b).is_none()) || timers.is_none() {
        return Err(Malformed::Shape);
    }
    let status = parser::status(fields.next().ok_or(Malformed::Shape)?).ok_or(Malformed::Status)?;
    let bytes = fields.next().ok_or(Malformed::Shape)?;
    // `+` before a byte count logged before the end (`option logasap`).
    let bytes = parser::byte_count(bytes.strip_prefix(b"+").unwrap_or(bytes))?;
    let rest = fields.next().unwrap_or_default();
    let time = time::haproxy_date(times, date).ok_or(Malformed::Time)?;
    // The request is the last quoted field (HAProxy writes a `"` inside it as %22).
    let close = memchr::memrchr(b'"', rest).ok_or(Malformed::Shape)?;
    let open = memchr::memrchr(b'"', &rest[..close]).ok_or(Malformed::Unterminated)?;
    let mut req = Request {
        remote_addr: parser::strip_port(client),
        time,
        status,
        bytes,
        ..Request::default()
    };
    if let Some(start) = memchr(b'{', &rest[..open]) {
        let end = memchr(b'}', &rest[start..open]).map_or(open, |e| start + e);
        let values = rest[start + 1..end].split(|&b| b == b'|');
        for (field, value) in captures.iter().zip(values) {
            match field {
                Field::HttpUserAgent => req.user_agent = value,
                Field::HttpReferer => req.referer = value,
                Field::Host => req.host = parser::strip_port(value),
                Field::HttpXForwardedFor => req.x_forwarded_for = value,
                _ => {}
            }
        }
    }
    let request = &rest[open + 1..close];
    let mut method: &[u8] = b"";
    let target = parser::split_request(request, &mut method);
    req.method = method;
    parser::set_target(&mut req, target);
    Ok(req)
}
