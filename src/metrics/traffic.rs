//! The traffic section: hits, pageviews, unique visitors, sessions and bounces, bot share, top
//! pages and referrers, status classes, the tracked pages, the share of visitors who saw a hot
//! page, and a per-day series.

use std::collections::BTreeMap;

use anyhow::Result;
use chrono::NaiveDate;
use serde::Serialize;

use super::days::Days;
use super::{Named, Period, TOP, add_counts, ratio, top};
use crate::page_tier::PageTier;

#[derive(Clone, Debug, Default, Serialize)]
pub struct Traffic {
    pub hits: u64,
    pub pageviews: u64,
    /// Visitors (address, User-Agent) counted once per day they came.
    pub unique_visitors: u64,
    /// A visitor's pageviews of one day without a gap of more than 30 minutes.
    pub sessions: u64,
    /// Sessions of a single pageview.
    pub bounces: u64,
    /// Bounces ÷ sessions.
    pub bounce_rate: Option<f64>,
    pub bot_hits: u64,
    /// Bot hits ÷ hits.
    pub bot_share: Option<f64>,
    /// Bot hits by the layer that removed them (`crawler_list`, `not_a_browser`, `behaviour`).
    pub bot_layers: BTreeMap<String, u64>,
    /// Bot hits by kind of client (`search_engines`, `ai_crawlers`, …).
    pub bot_categories: BTreeMap<String, u64>,
    pub top_pages: Vec<Named>,
    pub top_referrers: Vec<Named>,
    pub status: BTreeMap<String, u64>,
    /// Pageviews of each tracked page (prefix) of the configuration.
    pub tracked_pages: Vec<TrackedPage>,
    /// Visitors of the `hot` pages (`/pricing` by default) ÷ all visitors.
    pub pricing_visitor_share: Option<f64>,
    /// Visitors of each tier's pages, summed over the days (the funnel's steps).
    pub tier_visitors: BTreeMap<PageTier, u64>,
    pub per_day: Vec<DayTraffic>,
}

#[derive(Clone, Debug, Serialize)]
pub struct TrackedPage {
    pub page: String,
    pub tier: PageTier,
    pub pageviews: u64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct DayTraffic {
    pub day: NaiveDate,
    pub pageviews: u64,
    pub unique_visitors: u64,
    pub active_users: u64,
}

/// Whether a path is under a tracked prefix (whole segments, as the classifier matches).
fn under(path: &str, prefix: &str) -> bool {
    path == prefix
        || (path.starts_with(prefix)
            && (prefix.ends_with('/') || path.as_bytes().get(prefix.len()) == Some(&b'/')))
}

pub fn compute(days: &Days<'_>, period: Period) -> Result<Traffic> {
    let config = days.src.config;
    let mut t = Traffic {
        hits: 0,
        pageviews: 0,
        unique_visitors: 0,
        sessions: 0,
        bounces: 0,
        bounce_rate: None,
        bot_hits: 0,
        bot_share: None,
        bot_layers: BTreeMap::new(),
        bot_categories: BTreeMap::new(),
        top_pages: Vec::new(),
        top_referrers: Vec::new(),
        status: BTreeMap::new(),
        tracked_pages: Vec::new(),
        pricing_visitor_share: None,
        tier_visitors: BTreeMap::new(),
        per_day: Vec::new(),
    };
    let mut pages: BTreeMap<String, u64> = BTreeMap::new();
    let mut referrers: BTreeMap<String, u64> = BTreeMap::new();
    for day in period.dates() {
        let d = days.traffic(day)?;
        t.hits += d.hits;
        t.pageviews += d.pageviews;
        t.unique_visitors += d.unique_visitors();
        let (sessions, bounces) = d.sessions_and_bounces();
        t.sessions += sessions;
        t.bounces += bounces;
        t.bot_hits += d.bot_hits;
        add_counts(&mut t.bot_layers, &d.bot_layers);
        add_counts(&mut t.bot_categories, &d.bot_categories);
        add_counts(&mut t.status, &d.status);
        add_counts(&mut pages, &d.pages);
        add_counts(&mut referrers, &d.referrers);
        for (tier, td) in &d.tiers {
            *t.tier_visitors.entry(*tier).or_default() += td.visitors.len() as u64;
        }
        t.per_day.push(DayTraffic {
            day,
            pageviews: d.pageviews,
            unique_visitors: d.unique_visitors(),
            active_users: days.activity(day)?.active_users.len() as u64,
        });
    }
    t.bot_share = ratio(t.bot_hits, t.hits);
    t.bounce_rate = ratio(t.bounces, t.sessions);
    let mut tracked: Vec<TrackedPage> = config
        .pages
        .iter()
        .map(|(prefix, tier)| TrackedPage {
            page: prefix.clone(),
            tier: *tier,
            pageviews: pages
                .iter()
                .filter(|(p, _)| under(p, prefix))
                .map(|(_, n)| n)
                .sum(),
        })
        .collect();
    tracked.sort_by(|a, b| b.tier.cmp(&a.tier).then(a.page.cmp(&b.page)));
    t.tracked_pages = tracked;
    t.pricing_visitor_share = ratio(
        t.tier_visitors.get(&PageTier::Hot).copied().unwrap_or(0),
        t.unique_visitors,
    );
    t.top_pages = top(pages, TOP);
    t.top_referrers = top(referrers, TOP);
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracked_prefixes_match_whole_segments() {
        assert!(under("/pricing", "/pricing"));
        assert!(under("/pricing/team", "/pricing"));
        assert!(!under("/pricingfoo", "/pricing"));
    }
}
