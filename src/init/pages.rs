//! The tracked pages `init` proposes: the intent pages (pricing, trial, signup…) that the end
//! of each log reached most.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use super::{Page, Proposed};
use crate::accesslog::parser::Parser;
use crate::log_format::LogFormat;
use crate::page_tier::PageTier;

/// Bytes at the end of each log read to see its most visited paths.
const TAIL_BYTES: u64 = 8 << 20;

/// Path segments that say what a page is for, and the tier they propose.
const INTENT: [(&str, PageTier); 22] = [
    ("trial", PageTier::VeryHot),
    ("start-trial", PageTier::VeryHot),
    ("free-trial", PageTier::VeryHot),
    ("signup", PageTier::VeryHot),
    ("sign-up", PageTier::VeryHot),
    ("register", PageTier::VeryHot),
    ("get-started", PageTier::VeryHot),
    ("checkout", PageTier::VeryHot),
    ("subscribe", PageTier::VeryHot),
    ("book-a-demo", PageTier::VeryHot),
    ("request-demo", PageTier::VeryHot),
    ("contact-sales", PageTier::VeryHot),
    ("pricing", PageTier::Hot),
    ("plans", PageTier::Hot),
    ("demo", PageTier::Hot),
    ("quote", PageTier::Hot),
    ("upgrade", PageTier::Hot),
    ("features", PageTier::Warm),
    ("enterprise", PageTier::Warm),
    ("customers", PageTier::Warm),
    ("integrations", PageTier::Warm),
    ("compare", PageTier::Warm),
];

/// At most this many pages are proposed.
const MAX_PAGES: usize = 8;
/// The end of a log, whole lines only.
fn tail(path: &Path) -> Vec<u8> {
    let Ok(mut file) = crate::fsutil::open_log(path) else {
        return Vec::new();
    };
    let len = file.metadata().map_or(0, |m| m.len());
    let start = len.saturating_sub(TAIL_BYTES);
    let mut out = Vec::new();
    if file.seek(SeekFrom::Start(start)).is_err() || file.read_to_end(&mut out).is_err() {
        return Vec::new();
    }
    if start > 0 {
        let first = memchr::memchr(b'\n', &out).map_or(out.len(), |i| i + 1);
        out.drain(..first);
    }
    out
}

/// The tracked pages: the intent paths the logs' pageviews reached most, or the defaults.
pub(super) fn propose(logs: &[Proposed]) -> Vec<Page> {
    let mut views: BTreeMap<String, (PageTier, u64)> = BTreeMap::new();
    for log in logs {
        let Ok(format) = LogFormat::compile(&log.spec) else {
            continue;
        };
        let mut parser = Parser::new(&format);
        let text = tail(&log.path);
        for line in text.split(|b| *b == b'\n') {
            let Ok(req) = parser.parse(line) else {
                continue;
            };
            if req.method != b"GET" || !(200..400).contains(&req.status) {
                continue;
            }
            let path = String::from_utf8_lossy(req.path).to_ascii_lowercase();
            let Some(first) = path.trim_start_matches('/').split(['/', '?']).next() else {
                continue;
            };
            if let Some((word, tier)) = INTENT.iter().find(|(w, _)| *w == first) {
                views.entry(format!("/{word}")).or_insert((*tier, 0)).1 += 1;
            }
        }
    }
    if views.is_empty() {
        return crate::config::default_pages()
            .into_iter()
            .map(|(prefix, tier)| Page {
                prefix,
                tier,
                views: None,
            })
            .collect();
    }
    let mut seen: Vec<Page> = views
        .into_iter()
        .map(|(prefix, (tier, n))| Page {
            prefix,
            tier,
            views: Some(n),
        })
        .collect();
    seen.sort_by(|a, b| b.views.cmp(&a.views).then(a.prefix.cmp(&b.prefix)));
    seen.truncate(MAX_PAGES);
    seen
}
