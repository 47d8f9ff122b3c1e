//! A visitor's journey, as a hot-lead alert shows it: sessions (split after 30 minutes idle),
//! tracked pages in order with their times, the referrer and UTM tags that brought each session,
//! how long the visitor took from their first visit (or from `/demo`) to `/pricing` or `/trial`,
//! browser and OS in words, visits in the last 7 days, and a lead score.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, FixedOffset};
use serde::{Deserialize, Serialize};

use crate::config::ScoreWeights;
use crate::page_tier::PageTier;
use crate::visits::Visit;

/// Idle time that ends a session.
pub const SESSION_IDLE: Duration = Duration::minutes(30);

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageHit {
    pub time: DateTime<FixedOffset>,
    pub path: String,
    pub tier: PageTier,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub start: DateTime<FixedOffset>,
    pub end: DateTime<FixedOffset>,
    pub pages: Vec<PageHit>,
    /// The referrer of the session's first visit.
    pub referrer: Option<String>,
    /// `utm_*` parameters of the session's first visit that carried any.
    pub utm: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journey {
    pub ip: std::net::IpAddr,
    pub user_agent: String,
    /// "Safari 17.5 on Mac OSX", or the raw agent's start when it is not recognised.
    pub browser: String,
    pub sessions: Vec<Session>,
    /// The highest tier reached.
    pub top_tier: PageTier,
    /// From the first visit, or from the first `warm` (demo) visit if there was one, to the
    /// first `hot` or `very_hot` visit after it, in seconds.
    pub time_to_intent_secs: Option<i64>,
    pub visits_last_7_days: usize,
    pub score: u32,
}

/// Browser and OS in words.
pub fn describe_agent(user_agent: &str) -> String {
    match woothee::parser::Parser::new().parse(user_agent) {
        Some(r) if r.name != "UNKNOWN" => {
            let version = r.version.split('.').take(2).collect::<Vec<_>>().join(".");
            let browser = if version.is_empty() || version == "UNKNOWN" {
                r.name.to_string()
            } else {
                format!("{} {version}", r.name)
            };
            if r.os == "UNKNOWN" {
                browser
            } else {
                format!("{browser} on {}", r.os)
            }
        }
        _ => {
            let cut: String = user_agent.chars().take(60).collect();
            if cut.is_empty() {
                "unknown browser".to_string()
            } else {
                format!("unrecognised agent \"{cut}\"")
            }
        }
    }
}

/// Builds the journey of one visitor from their visits (any order; at least one). Counts and
/// windows are taken from the visitor's last visit, not from the clock: the journey of a lead
/// found in a backfill, or read a day later in a report, says the same thing.
pub fn build(visits: &[Visit], weights: ScoreWeights) -> Option<Journey> {
    let mut visits: Vec<&Visit> = visits.iter().collect();
    visits.sort_by_key(|v| (v.time, v.offset));
    let first = *visits.first()?;

    let mut sessions: Vec<Session> = Vec::new();
    for visit in &visits {
        let hit = PageHit {
            time: visit.time,
            path: visit.path.clone(),
            tier: visit.tier,
        };
        match sessions.last_mut() {
            Some(s) if visit.time - s.end <= SESSION_IDLE => {
                s.end = visit.time;
                if s.utm.is_empty() {
                    s.utm = utm(visit);
                }
                s.pages.push(hit);
            }
            _ => sessions.push(Session {
                start: visit.time,
                end: visit.time,
                pages: vec![hit],
                referrer: visit.referrer.clone(),
                utm: utm(visit),
            }),
        }
    }

    let top_tier = visits.iter().map(|v| v.tier).max().unwrap_or(first.tier);
    let from = visits
        .iter()
        .find(|v| v.tier == PageTier::Warm)
        .map_or(first.time, |v| v.time);
    let time_to_intent_secs = visits
        .iter()
        .find(|v| v.tier >= PageTier::Hot && v.time >= from)
        .map(|v| (v.time - from).num_seconds());
    let last = visits.last().map_or(first.time, |v| v.time);
    let week_before = last - Duration::days(7);
    let visits_last_7_days = visits.iter().filter(|v| v.time > week_before).count();

    let mut score = 0;
    for tier in PageTier::ALL {
        if visits.iter().any(|v| v.tier == tier) {
            score += match tier {
                PageTier::VeryHot => weights.very_hot,
                PageTier::Hot => weights.hot,
                PageTier::Warm => weights.warm,
            };
        }
    }
    score += weights.repeat_visit * (visits.len() as u32 - 1);

    Some(Journey {
        ip: first.ip,
        user_agent: first.user_agent.clone(),
        browser: describe_agent(&first.user_agent),
        sessions,
        top_tier,
        time_to_intent_secs,
        visits_last_7_days,
        score,
    })
}

fn utm(visit: &Visit) -> BTreeMap<String, String> {
    visit
        .query
        .iter()
        .filter(|(k, _)| k.starts_with("utm_"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAFARI: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15";

    fn visit(
        time: &str,
        path: &str,
        tier: PageTier,
        query: &[(&str, &str)],
        referrer: Option<&str>,
    ) -> Visit {
        Visit {
            time: DateTime::parse_from_rfc3339(time).unwrap(),
            path: path.into(),
            tier,
            ip: "203.0.113.45".parse().unwrap(),
            user_agent: SAFARI.into(),
            referrer: referrer.map(Into::into),
            query: query
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            status: 200,
            source: "access.log".into(),
            offset: 0,
        }
    }

    #[test]
    fn sessions_split_after_idle_and_carry_their_source() {
        let visits = [
            visit(
                "2026-11-23T09:04:00+01:00",
                "/pricing",
                PageTier::Hot,
                &[("utm_source", "linkedin"), ("x", "1")],
                Some("https://www.linkedin.com/"),
            ),
            visit(
                "2026-11-23T09:20:00+01:00",
                "/trial",
                PageTier::VeryHot,
                &[],
                Some("https://acme.example/pricing"),
            ),
            // 31 minutes of silence: a new session.
            visit(
                "2026-11-23T09:51:01+01:00",
                "/pricing",
                PageTier::Hot,
                &[],
                None,
            ),
        ];
        let j = build(&visits, ScoreWeights::default()).unwrap();
        assert_eq!(j.sessions.len(), 2);
        assert_eq!(j.sessions[0].pages.len(), 2);
        assert_eq!(
            j.sessions[0].referrer.as_deref(),
            Some("https://www.linkedin.com/")
        );
        assert_eq!(
            j.sessions[0].utm,
            BTreeMap::from([("utm_source".to_string(), "linkedin".to_string())])
        );
        assert_eq!(j.sessions[1].referrer, None);
        assert_eq!(j.top_tier, PageTier::VeryHot);
        assert_eq!(
            j.time_to_intent_secs,
            Some(0),
            "the first visit was already /pricing"
        );
        assert_eq!(j.visits_last_7_days, 3);
        assert_eq!(j.score, 50 + 30 + 2 * 5);
        assert_eq!(j.browser, "Safari 17.5 on Mac OSX");
    }

    #[test]
    fn time_to_intent_counts_from_the_demo() {
        let visits = [
            visit("2026-11-16T08:00:00Z", "/pricing", PageTier::Hot, &[], None),
            visit("2026-11-23T09:00:00Z", "/demo", PageTier::Warm, &[], None),
            visit(
                "2026-11-23T09:12:00Z",
                "/trial",
                PageTier::VeryHot,
                &[],
                None,
            ),
        ];
        let j = build(&visits, ScoreWeights::default()).unwrap();
        assert_eq!(j.time_to_intent_secs, Some(12 * 60));
        assert_eq!(
            j.visits_last_7_days, 2,
            "the visit of the 16th is more than a week before the last one"
        );
        assert_eq!(j.score, 50 + 30 + 10 + 2 * 5);
    }

    /// The demo's alert said "visits in the last 7 days: 0" above the visits it listed: the
    /// count followed the wall clock, not the visits.
    #[test]
    fn visits_in_the_last_7_days_count_back_from_the_last_visit_not_the_clock() {
        let visits = [
            visit("2025-01-01T08:00:00Z", "/pricing", PageTier::Hot, &[], None),
            visit(
                "2025-01-01T08:10:00Z",
                "/trial",
                PageTier::VeryHot,
                &[],
                None,
            ),
        ];
        let j = build(&visits, ScoreWeights::default()).unwrap();
        assert_eq!(j.visits_last_7_days, 2);
    }

    #[test]
    fn agents_in_words() {
        assert_eq!(
            describe_agent(
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
            ),
            "Chrome 131.0 on Windows 10"
        );
        assert!(describe_agent("zz-unknown-agent/1").starts_with("unrecognised agent"));
        assert_eq!(describe_agent(""), "unknown browser");
        assert!(build(&[], ScoreWeights::default()).is_none());
    }
}
