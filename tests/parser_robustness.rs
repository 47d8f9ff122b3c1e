//! Arbitrary bytes never panic the parser or the helpers that decode what it returns.

use arkwatch::accesslog::classify;
use arkwatch::accesslog::fold::{decode_path, parse_query};
use arkwatch::accesslog::parser::{Parser, unescape};
use arkwatch::escape::excerpt;
use arkwatch::log_format::LogFormat;
use proptest::prelude::*;

const FORMATS: &[&str] = &[
    "combined",
    "common",
    "vcombined",
    r#"escape=json {"t":"$time_iso8601","a":"$remote_addr","r":"$request","s":$status,"b":$body_bytes_sent,"u":"$http_user_agent"}"#,
    r#"$remote_addr [$time_local] "$request_method $request_uri" $status "$http_x_forwarded_for" $msec"#,
];

fn exercise(line: &[u8]) {
    for spec in FORMATS {
        let format = LogFormat::compile(spec).unwrap();
        let mut parser = Parser::new(&format);
        if let Ok(r) = parser.parse(line) {
            let _ = classify::parse_ip(r.remote_addr);
            let _ = classify::first_forwarded(r.x_forwarded_for);
            let _ = decode_path(r.path, format.escape);
            let _ = parse_query(&unescape(r.query, format.escape));
            let _ = unescape(r.user_agent, format.escape);
            let _ = r.time.to_datetime();
        }
    }
    let _ = excerpt(line);
}

const VALID: &str = r#"203.0.113.9 - - [23/Nov/2026:10:00:00 +0100] "GET /pricing?a=%C3%A9&b=c+d HTTP/1.1" 200 512 "https://x.example/" "Mozilla/5.0 \"q\" \x22""#;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes(line in proptest::collection::vec(any::<u8>(), 0..400)) {
        exercise(&line);
    }

    /// Valid lines with bytes replaced or cut: the near misses a fuzzer finds first.
    #[test]
    fn mutated_valid_lines(edits in proptest::collection::vec((0usize..VALID.len(), any::<u8>()), 1..8), cut in 0usize..=VALID.len()) {
        let mut line = VALID.as_bytes().to_vec();
        for (at, byte) in edits {
            line[at] = byte;
        }
        line.truncate(cut.max(1));
        exercise(&line);
    }

    #[test]
    fn escapes_and_percents(text in "[\\\\%xu0-9a-fA-F\"]{0,40}") {
        let _ = unescape(text.as_bytes(), arkwatch::log_format::Escape::Json);
        let _ = unescape(text.as_bytes(), arkwatch::log_format::Escape::Default);
        let _ = decode_path(text.as_bytes(), arkwatch::log_format::Escape::Default);
    }
}
