//! The hot loop: turns a chunk of log lines into per-day traffic deltas, visits of tracked
//! pages, and the counts of the run summary. One [`Folder`] per thread; it owns its caches and
//! the deltas of the days it is folding, and hands over each day its chunks have moved past, so
//! that the threads do not each hold every day of a long log at once.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::IpAddr;

use foldhash::HashMap;
use memchr::memchr;

use super::chunks::Chunk;
use super::classify::{self, BotList, Classifier, RequestKind};
use super::parser::{self, Malformed, Parser, Request};
use super::visit_json::VisitRecord;
use super::visitor_cache::VisitorCache;
use crate::config::{ClientIp, Config};
use crate::day::DayResolver;
use crate::log_format::Escape;
use crate::page_tier::PageTier;
use crate::rollup::conduct::Counted;
use crate::rollup::keys::VisitorKeys;
use crate::rollup::traffic::{DayDelta, status_class};

use crate::log_format::LogFormat;

/// A chunk's visits in line order, each with its local day, as JSON lines in one buffer
/// (serialised on the folding thread, so the thread that writes them only copies bytes; one
/// buffer rather than an allocation per visit, freed on another thread).
#[derive(Default)]
pub struct VisitLines {
    bytes: Vec<u8>,
    /// Each visit's day and the end of its line in `bytes`.
    ends: Vec<(i32, usize)>,
}

impl VisitLines {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    fn push(&mut self, day: i32, record: &VisitRecord<'_>) {
        record.write(&mut self.bytes);
        self.ends.push((day, self.bytes.len()));
    }

    /// Each visit's day and line (with its newline).
    pub fn iter(&self) -> impl Iterator<Item = (i32, &[u8])> {
        let starts = std::iter::once(0).chain(self.ends.iter().map(|e| e.1));
        self.ends
            .iter()
            .zip(starts)
            .map(|(&(day, end), start)| (day, &self.bytes[start..end]))
    }
}

/// At most this many malformed lines are kept as samples per chunk (the summary keeps fewer).
const SAMPLES_PER_CHUNK: usize = 5;

/// A malformed line, for the summary.
#[derive(Clone, Debug)]
pub struct Sample {
    /// 0-based line index within its chunk; the caller makes it a file line number.
    pub line_in_chunk: u64,
    pub reason: &'static str,
    /// The start of the line, with control characters escaped.
    pub text: String,
}

/// What one chunk contributed besides the deltas its folder keeps.
#[derive(Default)]
pub struct ChunkReport {
    pub lines: u64,
    pub parsed: u64,
    pub malformed: u64,
    pub bots: u64,
    pub statics: u64,
    pub ignored: u64,
    pub by_tier: [u64; 3],
    pub visits: VisitLines,
    pub samples: Vec<Sample>,
    /// Malformed lines before the chunk's first parsed line: their day is the day of the line
    /// before them, which only the caller knows.
    pub leading_malformed: u64,
    pub first_day: Option<i32>,
    pub last_day: Option<i32>,
    /// The deltas of days before this chunk's first, handed over to be merged.
    pub done: Vec<(i32, DayDelta)>,
}

pub struct Folder<'c> {
    parser: Parser<'c>,
    classifier: Classifier<'c>,
    days: DayResolver,
    keys: &'c VisitorKeys,
    client_ip: ClientIp,
    escape: Escape,
    exclude_bots: bool,
    /// The format logs a User-Agent: without one (`common`), requests are not classified by
    /// User-Agent at all (a present but empty one still counts as a bot).
    has_agent: bool,
    /// Whether the behaviour layer is on: each visitor's conduct is then kept.
    behaviour: bool,
    visitors: VisitorCache,
    /// Day deltas of the days this folder's latest chunks held; what the behaviour layer
    /// counted is added up by visitor when a day is handed over ([`DayDelta::compact`]).
    deltas: HashMap<i32, DayDelta>,
}

impl<'c> Folder<'c> {
    pub fn new(
        config: &'c Config,
        format: &'c LogFormat,
        client_ip: ClientIp,
        bots: &'c BotList,
        keys: &'c VisitorKeys,
    ) -> Folder<'c> {
        Folder {
            parser: Parser::new(format),
            classifier: Classifier::new(config, bots, keys),
            days: DayResolver::new(config.timezone),
            keys,
            client_ip,
            escape: format.escape,
            exclude_bots: config.filters.exclude_bots,
            has_agent: format.has(crate::log_format::Field::HttpUserAgent),
            behaviour: config.filters.behaviour.enabled,
            visitors: VisitorCache::default(),
            deltas: HashMap::default(),
        }
    }

    pub fn fold(&mut self, chunk: &Chunk, source: &str) -> ChunkReport {
        let mut report = ChunkReport::default();
        if chunk.oversized {
            report.lines = 1;
            self.malformed(
                &chunk.data,
                0,
                "the line is longer than 4 MiB (cut; the rest skipped)",
                &mut report,
            );
            return report;
        }
        let data = &chunk.data;
        // Room for a chunk of nothing but visits and more, so the buffer is not grown by
        // doubling (pages never written cost nothing).
        report.visits.bytes.reserve(data.len() / 2);
        let mut start = 0;
        let mut index = 0u64;
        while start < data.len() {
            let end = memchr(b'\n', &data[start..]).map_or(data.len(), |i| start + i);
            let line = &data[start..end];
            self.line(
                line,
                chunk.offset + start as u64,
                index,
                source,
                &mut report,
            );
            index += 1;
            start = end + 1;
        }
        report.lines = index;
        // A log is written in time order, so a day before this chunk's first is (nearly
        // always) done here; a late line of it would only start a small delta again.
        if let Some(first) = report.first_day
            && self.deltas.keys().any(|d| *d < first)
        {
            let done: Vec<i32> = self.deltas.keys().copied().filter(|d| *d < first).collect();
            for day in done {
                if let Some(mut delta) = self.deltas.remove(&day) {
                    delta.compact(self.keys, day);
                    report.done.push((day, delta));
                }
            }
        }
        report
    }

    /// The deltas of the days folded since the last hand-over, complete.
    pub fn finish(mut self) -> HashMap<i32, DayDelta> {
        for (day, delta) in &mut self.deltas {
            delta.compact(self.keys, *day);
        }
        self.deltas
    }

    fn line(
        &mut self,
        line: &[u8],
        offset: u64,
        index: u64,
        source: &str,
        report: &mut ChunkReport,
    ) {
        // A line `purge-ip` blanked, or an empty one: nothing to count.
        if line.iter().all(|&b| b == b' ' || b == b'\r') {
            return;
        }
        let req = match self.parser.parse(line) {
            Ok(req) => req,
            // A W3C directive (`#Fields:`) is part of the format, not a request.
            Err(Malformed::Comment) => return,
            Err(why) => return self.malformed(line, index, why.describe(), report),
        };
        let Some(ip) = self.client(&req) else {
            return self.malformed(
                line,
                index,
                "the client address is not an IP address",
                report,
            );
        };
        report.parsed += 1;
        let day = self.days.day(req.time.secs);
        report.first_day.get_or_insert(day);
        report.last_day = Some(day);

        let delta = self.deltas.entry(day).or_default();
        delta.hits += 1;
        delta.bytes += req.bytes;
        delta.status[status_class(req.status)] += 1;

        if self.classifier.is_ignored(ip) {
            delta.ignored_hits += 1;
            report.ignored += 1;
            return;
        }
        let agent = if self.has_agent {
            self.classifier.agent(req.user_agent)
        } else {
            self.classifier.no_agent()
        };
        if let Some((layer, kind)) = agent.bot {
            delta.bot_hits += 1;
            delta.bot_layers[layer.index()] += 1;
            delta.bot_categories[kind.index()] += 1;
            report.bots += 1;
            if self.exclude_bots {
                return;
            }
        }
        let counted = self.behaviour.then_some((ip, agent.hash));
        if not_a_pageview(&self.classifier, counted, delta, report, &req) {
            return;
        }
        let visitor = self.visitors.key(self.keys, ip, agent.hash, day);

        delta.pageviews += 1;
        // Seconds from the day's UTC midnight: in range for any time of the day, whatever the
        // zone.
        let at = i32::try_from(req.time.secs - i64::from(day) * 86_400).unwrap_or(i32::MAX);
        delta.view(visitor, at);
        let path = decode_path(req.path, self.escape);
        match delta.pages.get_mut(path.as_ref()) {
            Some(n) => *n += 1,
            None => {
                delta.pages.insert(path.as_ref().into(), 1);
            }
        }
        if let Some(host) = self.classifier.external_referrer(req.referer, req.host) {
            *delta.referrers.entry(host.as_ref().into()).or_default() += 1;
        }
        let Some(tier) = self.classifier.tier(&path) else {
            return;
        };
        if self.behaviour {
            delta.counted.push((ip, agent.hash, Counted::Tier(tier)));
        }
        let t = &mut delta.tiers[tier.index()];
        t.visits += 1;
        t.visitors.insert(visitor);
        report.by_tier[tier.index()] += 1;
        let record = self.visit_record(&req, &path, tier, ip, source, offset);
        report.visits.push(day, &record);
    }

    fn client(&self, req: &Request<'_>) -> Option<IpAddr> {
        classify::client_address(req, self.client_ip)
    }

    fn malformed(
        &mut self,
        line: &[u8],
        index: u64,
        reason: &'static str,
        report: &mut ChunkReport,
    ) {
        report.malformed += 1;
        match report.last_day {
            Some(day) => self.deltas.entry(day).or_default().malformed += 1,
            None => report.leading_malformed += 1,
        }
        if report.samples.len() < SAMPLES_PER_CHUNK {
            report.samples.push(Sample {
                line_in_chunk: index,
                reason,
                text: crate::escape::excerpt(line),
            });
        }
    }

    /// The visit's record for the store, borrowing the request's fields: a tenth of all lines
    /// may be visits, and owned copies of each field were a tenth of the run.
    fn visit_record<'r>(
        &self,
        req: &Request<'r>,
        path: &'r [u8],
        tier: PageTier,
        ip: IpAddr,
        source: &'r str,
        offset: u64,
    ) -> VisitRecord<'r> {
        VisitRecord {
            time: req.time.to_datetime(),
            path: String::from_utf8_lossy(path),
            tier,
            ip,
            user_agent: text(req.user_agent, self.escape),
            referrer: Request::present(req.referer).map(|r| text(r, self.escape)),
            query: parse_query(&parser::unescape(req.query, self.escape)),
            status: req.status,
            source,
            offset,
        }
    }
}

/// Counts a request that is no pageview (an asset, `robots.txt`, a `HEAD`, a 404) in the day
/// and, when the behaviour layer gives the visitor's address and User-Agent hash, for the
/// visitor; `false` for a pageview, which the caller counts.
fn not_a_pageview(
    classifier: &Classifier<'_>,
    visitor: Option<(IpAddr, u64)>,
    delta: &mut DayDelta,
    report: &mut ChunkReport,
    req: &Request<'_>,
) -> bool {
    let kind = classifier.kind(req.path, req.method, req.status);
    if matches!(kind, RequestKind::Asset | RequestKind::RobotsTxt) {
        delta.static_hits += 1;
        report.statics += 1;
    }
    let counted = match kind {
        RequestKind::Pageview => return false,
        RequestKind::Asset => Counted::Asset,
        RequestKind::RobotsTxt => Counted::RobotsTxt,
        RequestKind::Head => Counted::Head,
        RequestKind::NotAVisit => Counted::Other,
    };
    // Counted by address and User-Agent, without the visitor's key: that costs two keyed
    // hashes, paid once per visitor when the day is handed over.
    if let Some((ip, agent)) = visitor {
        delta.counted.push((ip, agent, counted));
    }
    true
}

/// A logged value as text: server escapes undone, invalid UTF-8 replaced.
fn text(raw: &[u8], escape: Escape) -> Cow<'_, str> {
    match parser::unescape(raw, escape) {
        Cow::Borrowed(bytes) => String::from_utf8_lossy(bytes),
        Cow::Owned(bytes) => Cow::Owned(String::from_utf8_lossy(&bytes).into_owned()),
    }
}

/// The path as a person would read it: server escapes undone, then percent-decoding.
pub fn decode_path(raw: &[u8], escape: Escape) -> Cow<'_, [u8]> {
    let unescaped = parser::unescape(raw, escape);
    if memchr(b'%', &unescaped).is_none() {
        return unescaped;
    }
    let decoded: Vec<u8> = percent_encoding::percent_decode(&unescaped).collect();
    Cow::Owned(decoded)
}

/// Query parameters as a map (first value wins), `+` as space, percent-decoded. Bounded, since
/// a hostile query string should not fill the visits store.
pub fn parse_query(query: &[u8]) -> BTreeMap<String, String> {
    const MAX_PARAMS: usize = 32;
    const MAX_LEN: usize = 512;
    let decode = |b: &[u8]| {
        let plus: Vec<u8> = b
            .iter()
            .map(|&c| if c == b'+' { b' ' } else { c })
            .collect();
        let s: Vec<u8> = percent_encoding::percent_decode(&plus).collect();
        let mut s = String::from_utf8_lossy(&s).into_owned();
        if s.len() > MAX_LEN {
            let mut cut = MAX_LEN;
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            s.truncate(cut);
        }
        s
    };
    let mut params = BTreeMap::new();
    for pair in query.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        if params.len() >= MAX_PARAMS {
            break;
        }
        let (k, v) = match memchr(b'=', pair) {
            Some(eq) => (&pair[..eq], &pair[eq + 1..]),
            None => (pair, &b""[..]),
        };
        params.entry(decode(k)).or_insert_with(|| decode(v));
    }
    params
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters() {
        let q = parse_query(
            b"utm_source=linkedin&utm_campaign=spring+sale&x&utm_source=twice&n=%C3%A9",
        );
        assert_eq!(q["utm_source"], "linkedin");
        assert_eq!(q["utm_campaign"], "spring sale");
        assert_eq!(q["x"], "");
        assert_eq!(q["n"], "é");
    }

    #[test]
    fn paths_are_decoded_once() {
        assert_eq!(
            decode_path(b"/pricing/%C3%A9t%C3%A9", Escape::Default).as_ref(),
            "/pricing/été".as_bytes()
        );
        assert_eq!(
            decode_path(br"/caf\xC3\xA9", Escape::Default).as_ref(),
            "/café".as_bytes()
        );
        assert_eq!(decode_path(b"/100%25", Escape::Default).as_ref(), b"/100%");
        assert!(matches!(
            decode_path(b"/plain", Escape::Default),
            Cow::Borrowed(_)
        ));
    }

    /// The borrowed record the hot path writes reads back as the store's `Visit`.
    #[test]
    fn visit_record_matches_visit() {
        use crate::visits::Visit;
        let format = crate::log_format::LogFormat::compile("combined").unwrap();
        let line = br#"2001:db8::1 - - [23/Nov/2026:10:00:00 +0100] "GET /pricing/%C3%A9?utm_source=x&a=b HTTP/1.1" 200 5 "https://r.example/" "UA \"q\" \xC3\xA9""#;
        let mut parser = Parser::new(&format);
        let req = parser.parse(line).unwrap();
        let config =
            crate::config::Config::parse(std::path::Path::new("/x.toml"), "data_dir = \"d\"")
                .unwrap();
        let bots = BotList::new(&[]);
        let keys = VisitorKeys::new([0; 16]);
        let folder = Folder::new(&config, &format, ClientIp::RemoteAddr, &bots, &keys);
        let path = decode_path(req.path, format.escape);
        let ip = classify::parse_ip(req.remote_addr).unwrap();
        let mut json = Vec::new();
        folder
            .visit_record(&req, &path, PageTier::Hot, ip, "/var/log/a.log", 42)
            .write(&mut json);
        let visit: Visit = serde_json::from_slice(&json).unwrap();
        assert_eq!(visit.path, "/pricing/é");
        assert_eq!(visit.user_agent, "UA \"q\" é");
        assert_eq!(visit.referrer.as_deref(), Some("https://r.example/"));
        assert_eq!(visit.query["utm_source"], "x");
        assert_eq!(visit.time.to_rfc3339(), "2026-11-23T10:00:00+01:00");
        assert_eq!(
            (visit.offset, visit.source.as_str(), visit.status),
            (42, "/var/log/a.log", 200)
        );
        assert_eq!(visit.to_json_line(), json, "both write the same bytes");
    }
}
