//! A visit's line for the visits store, written from the request's borrowed fields. The hot
//! path writes one per tracked pageview; the strings in it (User-Agent, path, referrer) nearly
//! never need escaping, so they are checked eight bytes at a time and copied, and only a string
//! that needs escaping goes through `serde_json`, byte for byte what it would write.
//! `serde_json` scans a string a byte at a time: that was a twentieth of the ingestion's
//! instructions (61 M of 1,170 M on a 200k-line log, cachegrind), and this writer made the
//! 1M-line ingestion about 3% faster in interleaved runs.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Write;
use std::net::IpAddr;

use serde::Serialize;

use crate::page_tier::PageTier;

/// [`crate::visits::Visit`]'s shape, borrowing instead of owning; a test checks the two agree.
#[derive(Serialize)]
pub(super) struct VisitRecord<'a> {
    pub time: chrono::DateTime<chrono::FixedOffset>,
    pub path: Cow<'a, str>,
    pub tier: PageTier,
    pub ip: IpAddr,
    pub user_agent: Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referrer: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub query: BTreeMap<String, String>,
    pub status: u16,
    pub source: &'a str,
    pub offset: u64,
}

impl VisitRecord<'_> {
    /// Appends the record as one JSON line (newline included): the bytes `serde_json` writes
    /// for it.
    pub fn write(&self, out: &mut Vec<u8>) {
        let fail = "a visit always serialises";
        out.extend_from_slice(b"{\"time\":");
        serde_json::to_writer(&mut *out, &self.time).expect(fail);
        out.extend_from_slice(b",\"path\":");
        string(out, &self.path);
        out.extend_from_slice(b",\"tier\":");
        serde_json::to_writer(&mut *out, &self.tier).expect(fail);
        out.extend_from_slice(b",\"ip\":");
        serde_json::to_writer(&mut *out, &self.ip).expect(fail);
        out.extend_from_slice(b",\"user_agent\":");
        string(out, &self.user_agent);
        if let Some(referrer) = &self.referrer {
            out.extend_from_slice(b",\"referrer\":");
            string(out, referrer);
        }
        if !self.query.is_empty() {
            out.extend_from_slice(b",\"query\":");
            serde_json::to_writer(&mut *out, &self.query).expect(fail);
        }
        write!(out, ",\"status\":{},\"source\":", self.status).expect(fail);
        string(out, self.source);
        writeln!(out, ",\"offset\":{}}}", self.offset).expect(fail);
    }
}

/// `s` as a JSON string.
fn string(out: &mut Vec<u8>, s: &str) {
    if needs_escape(s.as_bytes()) {
        serde_json::to_writer(&mut *out, s).expect("a string always serialises");
    } else {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    }
}

/// Whether JSON escapes a byte of `bytes`: a quote, a backslash or a control character below
/// 0x20 (what `serde_json` escapes; it writes every other byte as it is).
fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // Exact for "some byte is": zero after `^ c*ONES`, or below 0x20.
    let zero = |w: u64| w.wrapping_sub(ONES) & !w & HIGHS;
    let flagged = |w: u64| {
        zero(w ^ (ONES * u64::from(b'"')))
            | zero(w ^ (ONES * u64::from(b'\\')))
            | (w.wrapping_sub(ONES * 0x20) & !w & HIGHS)
    };
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let w = u64::from_le_bytes(word.try_into().expect("eight bytes"));
        if flagged(w) != 0 {
            return true;
        }
    }
    words
        .remainder()
        .iter()
        .any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fast_check_agrees_with_a_byte_at_a_time() {
        let slow = |b: &[u8]| b.iter().any(|&c| c < 0x20 || c == b'"' || c == b'\\');
        // Every byte value, at every place of a word and in the tail.
        for len in [1, 7, 8, 9, 16, 23] {
            for at in 0..len {
                for byte in 0..=255u8 {
                    let mut s = vec![b'a'; len];
                    s[at] = byte;
                    assert_eq!(
                        needs_escape(&s),
                        slow(&s),
                        "byte {byte:#x} at {at} of {len}"
                    );
                }
            }
        }
        assert!(!needs_escape(b""));
    }

    #[test]
    fn written_as_serde_json_writes_it() {
        let tricky = [
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36",
            "say \"hi\"",
            r"back\slash",
            "tab\there",
            "\u{7f} delete, é, 日本, /slash/",
            "",
        ];
        for s in tricky {
            let record = VisitRecord {
                time: chrono::DateTime::parse_from_rfc3339("2026-11-23T10:00:00+01:00").unwrap(),
                path: Cow::Borrowed(s),
                tier: PageTier::VeryHot,
                ip: "2001:db8::1".parse().unwrap(),
                user_agent: Cow::Borrowed(s),
                referrer: (!s.is_empty()).then_some(Cow::Borrowed(s)),
                query: if s.is_empty() {
                    BTreeMap::new()
                } else {
                    BTreeMap::from([(s.to_string(), s.to_string())])
                },
                status: 200,
                source: s,
                offset: 42,
            };
            let mut expected = serde_json::to_vec(&record).unwrap();
            expected.push(b'\n');
            let mut got = Vec::new();
            record.write(&mut got);
            assert_eq!(
                String::from_utf8(got).unwrap(),
                String::from_utf8(expected).unwrap()
            );
        }
    }
}
