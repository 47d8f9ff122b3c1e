//! `explain`: for one address, each of its visitors (a User-Agent on a local day) in the logs
//! still on disk, the verdict of bot detection, the layer and the rule that decided (the
//! matching part of the User-Agent, or the behaviour figure and its threshold), and the
//! requests it rests on. The lines are folded as ingestion folds them, so the behaviour layer
//! judges the same conduct a scan does.

use std::collections::BTreeMap;
use std::net::IpAddr;

use anyhow::{Context, Result};
use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::Serialize;

use super::chunks::Chunk;
use super::classify::{self, BotList, Classifier};
use super::fold::{Folder, decode_path};
use super::parser::Parser;
use super::tailer;
use crate::config::Config;
use crate::day::{self, DayResolver};
use crate::log_format::Field;
use crate::rollup::bots::Layer;
use crate::rollup::conduct::Finding;
use crate::rollup::keys::VisitorKeys;
use crate::rollup::traffic::{DayDelta, TrafficDay};

#[derive(Debug, Serialize)]
pub struct Explanation {
    pub ip: IpAddr,
    pub days: Vec<ExplainedDay>,
}

#[derive(Debug, Serialize)]
pub struct ExplainedDay {
    pub day: NaiveDate,
    pub visitors: Vec<ExplainedVisitor>,
}

#[derive(Debug, Serialize)]
pub struct ExplainedVisitor {
    pub user_agent: String,
    /// `person`, `automated`, or `ignored` (`filters.ignore_ips`).
    pub verdict: &'static str,
    /// The layer that decided ([`Layer::name`]), for an automated visitor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer: Option<&'static str>,
    /// The kind of client ([`crate::rollup::bots::Category::name`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<&'static str>,
    /// The rule, in words.
    pub rule: String,
    pub counts: Counts,
    pub requests: Vec<ExplainedRequest>,
}

/// The visitor's requests by what they are to the behaviour layer.
#[derive(Debug, Default, Serialize)]
pub struct Counts {
    pub requests: u64,
    pub pageviews: u64,
    pub assets: u64,
    pub heads: u64,
    pub robots_txt: u64,
    pub others: u64,
}

#[derive(Debug, Serialize)]
pub struct ExplainedRequest {
    pub time: DateTime<FixedOffset>,
    pub method: String,
    pub path: String,
    pub status: u16,
    /// `pageview`, `asset`, `robots.txt`, `HEAD` or `not a visit`.
    pub kind: &'static str,
    pub file: String,
    pub line: u64,
}

/// One matching line, kept until its day is folded.
struct Found {
    day: i32,
    agent: Vec<u8>,
    request: ExplainedRequest,
    line: Vec<u8>,
}

/// Explains `ip` on `date` (every day the logs hold it, without one).
pub fn explain(config: &Config, ip: IpAddr, date: Option<NaiveDate>) -> Result<Explanation> {
    let ip = ip.to_canonical();
    let bots = BotList::configured(&config.filters);
    // Keys only need to agree within this run: nothing is stored.
    let keys = VisitorKeys::new([0; 16]);
    let read = read(config, ip, date, &bots, &keys)?;
    let classifier = Classifier::new(config, &bots, &keys);
    let judging = Judging {
        classifier: &classifier,
        bots: &bots,
    };
    let mut found_by_day = BTreeMap::new();
    for (day, delta) in read.deltas {
        let mut rollup = TrafficDay::default();
        rollup.absorb(delta);
        found_by_day.insert(day, rollup.automated(&config.filters.behaviour));
    }
    let mut days: BTreeMap<i32, Vec<ExplainedVisitor>> = BTreeMap::new();
    for ((d, agent, has_agent), mut requests) in read.visitors {
        requests.sort_by_key(|r| r.time);
        let mut v = ExplainedVisitor {
            user_agent: String::from_utf8_lossy(&agent).into_owned(),
            verdict: "person",
            layer: None,
            category: None,
            rule: "no layer finds it automated".to_string(),
            counts: counts(&requests),
            requests,
        };
        let agent_hash = keys.agent_hash(if has_agent { &agent } else { b"" });
        let finding = found_by_day
            .get(&d)
            .and_then(|f| f.get(&keys.visitor(ip, agent_hash, d)));
        judging.decide(&mut v, ip, has_agent.then_some(agent.as_slice()), finding);
        days.entry(d).or_default().push(v);
    }
    Ok(Explanation {
        ip,
        days: days
            .into_iter()
            .map(|(d, mut visitors)| {
                visitors.sort_by_key(|v| v.requests.first().map(|r| r.time));
                ExplainedDay {
                    day: day::to_date(d),
                    visitors,
                }
            })
            .collect(),
    })
}

/// The address's requests by visitor (day, raw User-Agent, whether the log's format has a
/// User-Agent at all), and its lines folded by day.
struct Read {
    deltas: BTreeMap<i32, DayDelta>,
    visitors: BTreeMap<(i32, Vec<u8>, bool), Vec<ExplainedRequest>>,
}

fn read(
    config: &Config,
    ip: IpAddr,
    date: Option<NaiveDate>,
    bots: &BotList,
    keys: &VisitorKeys,
) -> Result<Read> {
    let mut read = Read {
        deltas: BTreeMap::new(),
        visitors: BTreeMap::new(),
    };
    for log in &config.access_logs {
        let format = super::detect::reading_format(&log.format, &log.path);
        let has_agent = format.has(Field::HttpUserAgent);
        let classifier = Classifier::new(config, bots, keys);
        let mut found = Vec::new();
        let candidates = tailer::discover(&log.path)
            .with_context(|| format!("cannot list {}", log.path.display()))?;
        for c in candidates {
            let bytes = if c.gz {
                crate::fsutil::read_gz(&c.path)?
            } else {
                std::fs::read(&c.path)
                    .with_context(|| format!("cannot read {}", c.path.display()))?
            };
            let file = c.path.display().to_string();
            let source = (file.as_str(), &*format, log.client_ip);
            matching(&bytes, source, ip, config, &classifier, &mut found);
        }
        let mut folder = Folder::new(config, &format, log.client_ip, bots, keys);
        for f in found
            .into_iter()
            .filter(|f| date.is_none_or(|d| day::to_date(f.day) == d))
        {
            let chunk = Chunk {
                data: f.line,
                offset: 0,
                oversized: false,
            };
            folder.fold(&chunk, "");
            read.visitors
                .entry((f.day, f.agent, has_agent))
                .or_default()
                .push(f.request);
        }
        for (day, delta) in folder.finish() {
            read.deltas.entry(day).or_default().merge(delta);
        }
    }
    Ok(read)
}

/// What a verdict is taken with.
struct Judging<'a> {
    classifier: &'a Classifier<'a>,
    bots: &'a BotList,
}

impl Judging<'_> {
    /// Ignored, automated by a User-Agent layer, automated by `finding` of the behaviour
    /// layer, or a person, in that order (as ingestion asks). `agent` is `None` for a log
    /// whose format has no User-Agent, where the User-Agent layers do not ask.
    fn decide(
        &self,
        v: &mut ExplainedVisitor,
        ip: IpAddr,
        agent: Option<&[u8]>,
        finding: Option<&Finding>,
    ) {
        if self.classifier.is_ignored(ip) {
            v.verdict = "ignored";
            v.rule = "filters.ignore_ips holds the address".to_string();
        } else if let Some((layer, rule)) = agent.and_then(|a| self.bots.explain(a)) {
            v.verdict = "automated";
            v.layer = Some(layer.name());
            v.category = Some(super::categories::category(&v.user_agent).name());
            v.rule = rule;
        } else if let Some(finding) = finding {
            v.verdict = "automated";
            v.layer = Some(Layer::Behaviour.name());
            v.category = Some(finding.category().name());
            v.rule = format!("{}: {finding}", finding.rule());
        }
    }
}

/// The lines of `bytes` from `ip`, with what each request is.
fn matching(
    bytes: &[u8],
    (file, format, client_ip): (&str, &crate::log_format::LogFormat, crate::config::ClientIp),
    ip: IpAddr,
    config: &Config,
    classifier: &Classifier<'_>,
    found: &mut Vec<Found>,
) {
    let mut parser = Parser::new(format);
    let mut days = DayResolver::new(config.timezone);
    for (n, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let Ok(req) = parser.parse(line) else {
            continue;
        };
        if classify::client_address(&req, client_ip) != Some(ip) {
            continue;
        }
        let path = decode_path(req.path, format.escape);
        let kind = classifier.kind(req.path, req.method, req.status).word();
        found.push(Found {
            day: days.day(req.time.secs),
            agent: req.user_agent.to_vec(),
            request: ExplainedRequest {
                time: req.time.to_datetime(),
                method: String::from_utf8_lossy(req.method).into_owned(),
                path: String::from_utf8_lossy(&path).into_owned(),
                status: req.status,
                kind,
                file: file.to_string(),
                line: n as u64 + 1,
            },
            line: line.to_vec(),
        });
    }
}

fn counts(requests: &[ExplainedRequest]) -> Counts {
    let mut c = Counts::default();
    for r in requests {
        c.requests += 1;
        match r.kind {
            "pageview" => c.pageviews += 1,
            "asset" => c.assets += 1,
            "HEAD" => c.heads += 1,
            "robots.txt" => c.robots_txt += 1,
            _ => c.others += 1,
        }
    }
    c
}
