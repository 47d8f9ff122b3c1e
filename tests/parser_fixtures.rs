//! Table-driven parser tests over the project's fixture logs: every shape a real nginx or Apache
//! log throws at the parser, each line with the fields it must yield (or a malformed verdict).

use std::path::Path;

use arkwatch::accesslog::classify;
use arkwatch::accesslog::fold::decode_path;
use arkwatch::accesslog::parser::{Parser, Request, unescape};
use arkwatch::log_format::LogFormat;

#[derive(Debug, PartialEq)]
struct Fields {
    ip: String,
    time: String,
    method: String,
    path: String,
    query: String,
    status: u16,
    bytes: u64,
    referer: Option<String>,
    agent: Option<String>,
}

struct Row {
    ip: &'static str,
    time: &'static str,
    method: &'static str,
    path: &'static str,
    query: &'static str,
    status: u16,
    bytes: u64,
    referer: Option<&'static str>,
    agent: Option<&'static str>,
}

impl Row {
    fn fields(&self) -> Fields {
        Fields {
            ip: self.ip.into(),
            time: self.time.into(),
            method: self.method.into(),
            path: self.path.into(),
            query: self.query.into(),
            status: self.status,
            bytes: self.bytes,
            referer: self.referer.map(Into::into),
            agent: self.agent.map(Into::into),
        }
    }
}

const MALFORMED: Option<Row> = None;

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/logs")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Parses every line of `name` with `format` and compares it with `table` (one row per line).
fn check(name: &str, format: &str, use_xff: bool, table: &[Option<Row>]) {
    let format = LogFormat::compile(format).unwrap();
    let mut parser = Parser::new(&format);
    let data = fixture(name);
    let lines: Vec<&[u8]> = data
        .strip_suffix(b"\n")
        .unwrap_or(&data)
        .split(|&b| b == b'\n')
        .collect();
    assert_eq!(lines.len(), table.len(), "{name}: one table row per line");
    for (n, (line, expected)) in lines.iter().zip(table).enumerate() {
        let got = parser.parse(line).ok().and_then(|r: Request<'_>| {
            let ip = if use_xff {
                classify::first_forwarded(r.x_forwarded_for)
                    .or_else(|| classify::parse_ip(r.remote_addr))
            } else {
                classify::parse_ip(r.remote_addr)
            }?;
            let text = |v: &[u8]| String::from_utf8_lossy(&unescape(v, format.escape)).into_owned();
            Some(Fields {
                ip: ip.to_string(),
                time: r.time.to_datetime().to_rfc3339(),
                method: text(r.method),
                path: String::from_utf8_lossy(&decode_path(r.path, format.escape)).into_owned(),
                query: text(r.query),
                status: r.status,
                bytes: r.bytes,
                referer: Request::present(r.referer).map(text),
                agent: Request::present(r.user_agent).map(text),
            })
        });
        assert_eq!(
            got,
            expected.as_ref().map(Row::fields),
            "{name} line {}",
            n + 1
        );
    }
}

#[test]
#[expect(
    clippy::too_many_lines,
    reason = "a scenario reads top to bottom, one step after the other"
)]
fn combined_edge_cases() {
    let ua_ff = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
    check(
        "combined-edge-cases.log",
        "combined",
        false,
        &[
            // IPv6 client
            Some(Row {
                ip: "2001:db8:85a3::8a2e:370:7334",
                time: "2026-11-23T10:00:00+01:00",
                method: "GET",
                path: "/pricing",
                query: "",
                status: 200,
                bytes: 512,
                referer: Some("https://www.linkedin.com/"),
                agent: Some(ua_ff),
            }),
            // '-' everywhere it may be
            Some(Row {
                ip: "203.0.113.9",
                time: "2026-11-23T10:00:01+01:00",
                method: "GET",
                path: "/",
                query: "",
                status: 200,
                bytes: 0,
                referer: None,
                agent: None,
            }),
            // empty request: parsed, but no method or path
            Some(Row {
                ip: "203.0.113.9",
                time: "2026-11-23T10:00:02+01:00",
                method: "",
                path: "",
                query: "",
                status: 400,
                bytes: 0,
                referer: None,
                agent: None,
            }),
            // binary junk request
            Some(Row {
                ip: "185.220.101.4",
                time: "2026-11-23T10:00:03+01:00",
                method: "",
                path: "",
                query: "",
                status: 400,
                bytes: 157,
                referer: None,
                agent: None,
            }),
            // Apache's \" and \\ in the User-Agent
            Some(Row {
                ip: "198.51.100.7",
                time: "2026-11-23T10:00:04+01:00",
                method: "GET",
                path: "/demo",
                query: "",
                status: 200,
                bytes: 77,
                referer: None,
                agent: Some(r#"Mozilla/5.0 "Quoted" Agent\x"#),
            }),
            // nginx's \x22
            Some(Row {
                ip: "198.51.100.8",
                time: "2026-11-23T10:00:05+01:00",
                method: "GET",
                path: "/demo",
                query: "",
                status: 200,
                bytes: 77,
                referer: None,
                agent: Some(r#"Agent "nginx""#),
            }),
            // a remote user
            Some(Row {
                ip: "192.0.2.10",
                time: "2026-11-23T10:00:06+01:00",
                method: "GET",
                path: "/trial",
                query: "plan=team",
                status: 302,
                bytes: 0,
                referer: Some("https://acme.example/pricing"),
                agent: Some(
                    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0.0.0 Safari/537.36",
                ),
            }),
            // percent-encoded UTF-8 path
            Some(Row {
                ip: "192.0.2.11",
                time: "2026-11-23T10:00:07+01:00",
                method: "GET",
                path: "/pricing/été",
                query: "plan=%E2%9C%93&utm_source=news+letter",
                status: 200,
                bytes: 900,
                referer: None,
                agent: Some("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Safari/604.1"),
            }),
            // hostile text is data, kept verbatim for later escaping
            Some(Row {
                ip: "192.0.2.12",
                time: "2026-11-23T10:00:08+01:00",
                method: "GET",
                path: "/pricing",
                query: "",
                status: 200,
                bytes: 900,
                referer: Some("javascript:alert(1)"),
                agent: Some("<script>alert(1)</script>"),
            }),
            // truncated inside the User-Agent
            MALFORMED,
            // HTTP/0.9 request line and a CRLF ending, another offset
            Some(Row {
                ip: "192.0.2.14",
                time: "2026-11-23T10:00:10-05:00",
                method: "GET",
                path: "/old",
                query: "",
                status: 200,
                bytes: 10,
                referer: None,
                agent: Some("Lynx/2.8"),
            }),
            // IPv4-mapped IPv6 becomes IPv4
            Some(Row {
                ip: "192.0.2.15",
                time: "2026-11-23T10:00:11+01:00",
                method: "HEAD",
                path: "/pricing",
                query: "",
                status: 200,
                bytes: 0,
                referer: None,
                agent: Some("Mozilla/5.0 (Macintosh) Safari/605.1.15"),
            }),
            // not a log line
            MALFORMED,
            // 31 February
            MALFORMED,
            // the last line, without a newline
            Some(Row {
                ip: "192.0.2.17",
                time: "2026-11-23T10:00:12+01:00",
                method: "GET",
                path: "/trial",
                query: "",
                status: 200,
                bytes: 5,
                referer: Some("https://t.co/abc"),
                agent: Some(
                    "Mozilla/5.0 (Linux; Android 14) Chrome/131.0.0.0 Mobile Safari/537.36",
                ),
            }),
        ],
    );
}

#[test]
fn common_format_without_referrer_and_agent() {
    check(
        "common.log",
        "common",
        false,
        &[
            Some(Row {
                ip: "203.0.113.20",
                time: "2026-11-23T11:00:00+00:00",
                method: "GET",
                path: "/pricing",
                query: "",
                status: 200,
                bytes: 1234,
                referer: None,
                agent: None,
            }),
            Some(Row {
                ip: "2001:db8::20",
                time: "2026-11-23T11:00:01+00:00",
                method: "POST",
                path: "/trial",
                query: "",
                status: 201,
                bytes: 0,
                referer: None,
                agent: None,
            }),
            Some(Row {
                ip: "203.0.113.21",
                time: "2026-11-23T11:00:02+00:00",
                method: "GET",
                path: "/pricing",
                query: "",
                status: 200,
                bytes: 1234,
                referer: None,
                agent: None,
            }),
        ],
    );
}

#[test]
fn virtual_host_prefix() {
    let ua = "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0";
    check(
        "vcombined.log",
        "vcombined",
        false,
        &[
            Some(Row {
                ip: "203.0.113.30",
                time: "2026-11-23T12:00:00+01:00",
                method: "GET",
                path: "/trial",
                query: "",
                status: 200,
                bytes: 321,
                referer: Some("https://acme.example/pricing"),
                agent: Some(ua),
            }),
            Some(Row {
                ip: "2001:db8::30",
                time: "2026-11-23T12:00:01+01:00",
                method: "GET",
                path: "/demo",
                query: "",
                status: 200,
                bytes: 321,
                referer: Some("https://docs.acme.example/"),
                agent: Some(ua),
            }),
        ],
    );
}

#[test]
fn x_forwarded_for_quoted_list() {
    let ua = Some("Mozilla/5.0 Firefox/133.0");
    check(
        "xff-quoted.log",
        r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for""#,
        true,
        &[
            Some(Row {
                ip: "203.0.113.40",
                time: "2026-11-23T13:00:00+01:00",
                method: "GET",
                path: "/pricing",
                query: "",
                status: 200,
                bytes: 10,
                referer: None,
                agent: ua,
            }),
            Some(Row {
                ip: "2001:db8::40",
                time: "2026-11-23T13:00:01+01:00",
                method: "GET",
                path: "/pricing",
                query: "",
                status: 200,
                bytes: 10,
                referer: None,
                agent: ua,
            }),
            // no forwarded address: the connection's address
            Some(Row {
                ip: "10.0.0.2",
                time: "2026-11-23T13:00:02+01:00",
                method: "GET",
                path: "/pricing",
                query: "",
                status: 200,
                bytes: 10,
                referer: None,
                agent: ua,
            }),
        ],
    );
}

#[test]
fn x_forwarded_for_plain_list() {
    check(
        "xff-plain.log",
        r#"$remote_addr [$time_local] "$request" $status $body_bytes_sent $http_x_forwarded_for"#,
        true,
        &[
            Some(Row {
                ip: "203.0.113.41",
                time: "2026-11-23T13:00:03+01:00",
                method: "GET",
                path: "/trial",
                query: "",
                status: 200,
                bytes: 10,
                referer: None,
                agent: None,
            }),
            Some(Row {
                ip: "10.0.0.3",
                time: "2026-11-23T13:00:04+01:00",
                method: "GET",
                path: "/trial",
                query: "",
                status: 200,
                bytes: 10,
                referer: None,
                agent: None,
            }),
        ],
    );
}

#[test]
fn json_log_format() {
    check(
        "json.log",
        r#"escape=json '{"time":"$time_iso8601","remote_addr":"$remote_addr","request":"$request","status":$status,"bytes":$body_bytes_sent,"referer":"$http_referer","agent":"$http_user_agent","host":"$host","rt":$request_time}'"#,
        false,
        &[
            Some(Row {
                ip: "203.0.113.50",
                time: "2026-11-23T14:00:00+01:00",
                method: "GET",
                path: "/pricing",
                query: "utm_source=linkedin",
                status: 200,
                bytes: 512,
                referer: Some("https://www.linkedin.com/"),
                agent: Some(r#"Mozilla/5.0 "json" agent"#),
            }),
            Some(Row {
                ip: "2001:db8::50",
                time: "2026-11-23T14:00:01+01:00",
                method: "GET",
                path: "/café",
                query: "",
                status: 200,
                bytes: 0,
                referer: None,
                agent: Some("Mozilla/5.0 Firefox/133.0"),
            }),
            Some(Row {
                ip: "203.0.113.51",
                time: "2026-11-23T14:00:02+01:00",
                method: "",
                path: "",
                query: "",
                status: 400,
                bytes: 0,
                referer: None,
                agent: None,
            }),
            MALFORMED,
        ],
    );
}
