//! Daily traffic rollups: what every request of a local day adds up to.
//!
//! Each day is one JSON file under `rollups/traffic/`, committed with the log checkpoints (see
//! [`super::files`]).

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::Result;
use chrono::NaiveDate;
use foldhash::{HashMap, HashSet};
use serde::{Deserialize, Serialize};

use super::bots::{Category, Layer};
use super::conduct::{self, Conduct, Counted, Finding};
use super::files::{DayFiles, Generations};
use super::keys::VisitorKeys;
use crate::config::Behaviour;
use crate::page_tier::PageTier;

/// One local day of traffic, as stored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrafficDay {
    /// Every request that parsed.
    pub hits: u64,
    pub bytes: u64,
    /// Human, non-static, not ignored, counted method and status.
    pub pageviews: u64,
    pub bot_hits: u64,
    pub static_hits: u64,
    /// Requests from `filters.ignore_ips`.
    pub ignored_hits: u64,
    /// Lines that did not parse, counted on the day of the line before them.
    pub malformed: u64,
    /// Hits by status class: "1xx" .. "5xx", and "other".
    pub status: BTreeMap<String, u64>,
    /// Visitor keys (see `keys`) of the day's pageviews, as rollups written before sessions
    /// were counted hold them; a visitor of a newer rollup is a key of `sessions`.
    pub visitors: BTreeSet<u64>,
    /// Per visitor: the day's sessions, as (first, last, pageviews) with times in seconds from
    /// the day's UTC midnight. Rollups written before sessions were counted have none.
    pub sessions: BTreeMap<u64, Sessions>,
    /// Pageviews by path (percent-decoded, no query).
    pub pages: BTreeMap<String, u64>,
    /// Pageviews by external referrer host.
    pub referrers: BTreeMap<String, u64>,
    /// Visits and visitor keys by tracked page tier.
    pub tiers: BTreeMap<PageTier, TierDay>,
    /// Bot hits by the layer that caught them ([`Layer::name`]); the behaviour layer's are
    /// added when the day is judged ([`TrafficDay::judged`]).
    pub bot_layers: BTreeMap<String, u64>,
    /// Bot hits by kind of client ([`Category::name`]).
    pub bot_categories: BTreeMap<String, u64>,
    /// Per visitor key: what the visitor did besides pageviews, for the behaviour layer.
    /// Stored in the order of `sessions` (see [`super::traffic_file`]); a hash map, since a
    /// run adds one record per visitor of the day.
    pub conduct: HashMap<u64, Conduct>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierDay {
    pub visits: u64,
    pub visitors: BTreeSet<u64>,
}

pub use super::sessions::{SESSION_GAP_SECS, Session, Sessions};

impl TrafficDay {
    /// The day's visitors: the keys of `sessions`, and those an older rollup listed alone.
    pub fn unique_visitors(&self) -> u64 {
        let older = self
            .visitors
            .iter()
            .filter(|k| !self.sessions.contains_key(k))
            .count();
        (self.sessions.len() + older) as u64
    }

    /// Every visitor key of the day (see [`TrafficDay::unique_visitors`]).
    pub fn visitor_keys(&self) -> BTreeSet<u64> {
        let mut keys: BTreeSet<u64> = self.sessions.keys().copied().collect();
        keys.extend(self.visitors.iter().copied());
        keys
    }

    /// Sessions and bounces (sessions of one pageview) of the day.
    pub fn sessions_and_bounces(&self) -> (u64, u64) {
        let mut sessions = 0;
        let mut bounces = 0;
        for list in self.sessions.values() {
            sessions += list.len() as u64;
            bounces += list.iter().filter(|s| s.2 == 1).count() as u64;
        }
        (sessions, bounces)
    }

    /// Adds another record of the same day (a recount's part, say).
    pub fn merge(&mut self, other: &TrafficDay) {
        self.hits += other.hits;
        self.bytes += other.bytes;
        self.pageviews += other.pageviews;
        self.bot_hits += other.bot_hits;
        self.static_hits += other.static_hits;
        self.ignored_hits += other.ignored_hits;
        self.malformed += other.malformed;
        for (class, n) in &other.status {
            *self.status.entry(class.clone()).or_default() += n;
        }
        self.visitors.extend(other.visitors.iter().copied());
        for (visitor, sessions) in &other.sessions {
            self.sessions.entry(*visitor).or_default().merge(sessions);
        }
        for (name, n) in &other.pages {
            *self.pages.entry(name.clone()).or_default() += n;
        }
        for (name, n) in &other.referrers {
            *self.referrers.entry(name.clone()).or_default() += n;
        }
        for (tier, t) in &other.tiers {
            let into = self.tiers.entry(*tier).or_default();
            into.visits += t.visits;
            into.visitors.extend(t.visitors.iter().copied());
        }
        add_named(&mut self.bot_layers, &other.bot_layers);
        add_named(&mut self.bot_categories, &other.bot_categories);
        for (visitor, c) in &other.conduct {
            self.conduct.entry(*visitor).or_default().add(c);
        }
    }

    /// Adds what one run saw of this day.
    pub fn absorb(&mut self, delta: DayDelta) {
        debug_assert!(
            delta.counted.is_empty(),
            "a delta reaches its day compacted (Folder::finish)"
        );
        self.hits += delta.hits;
        self.bytes += delta.bytes;
        self.pageviews += delta.pageviews;
        self.bot_hits += delta.bot_hits;
        self.static_hits += delta.static_hits;
        self.ignored_hits += delta.ignored_hits;
        self.malformed += delta.malformed;
        for (class, n) in delta.status.iter().enumerate() {
            if *n > 0 {
                *self
                    .status
                    .entry(status_class_name(class).to_string())
                    .or_default() += n;
            }
        }
        for (visitor, sessions) in delta.sessions {
            match self.sessions.entry(visitor) {
                std::collections::btree_map::Entry::Occupied(e) => e.into_mut().merge(&sessions),
                std::collections::btree_map::Entry::Vacant(e) => {
                    e.insert(sessions);
                }
            }
        }
        for (path, n) in delta.pages {
            *self
                .pages
                .entry(String::from_utf8_lossy(&path).into_owned())
                .or_default() += n;
        }
        for (host, n) in delta.referrers {
            *self
                .referrers
                .entry(String::from_utf8_lossy(&host).into_owned())
                .or_default() += n;
        }
        for tier in PageTier::ALL {
            let d = &delta.tiers[tier.index()];
            if d.visits > 0 {
                let t = self.tiers.entry(tier).or_default();
                t.visits += d.visits;
                t.visitors.extend(d.visitors.iter().copied());
            }
        }
        for layer in Layer::ALL {
            let n = delta.bot_layers[layer.index()];
            if n > 0 {
                *self.bot_layers.entry(layer.name().to_string()).or_default() += n;
            }
        }
        for kind in Category::ALL {
            let n = delta.bot_categories[kind.index()];
            if n > 0 {
                *self
                    .bot_categories
                    .entry(kind.name().to_string())
                    .or_default() += n;
            }
        }
        for (visitor, c) in delta.conduct {
            self.conduct.entry(visitor).or_default().add(&c);
        }
    }

    /// Takes a visitor key out of every record that holds it (an erasure).
    pub fn forget_visitor(&mut self, key: u64) {
        self.visitors.remove(&key);
        self.sessions.remove(&key);
        self.conduct.remove(&key);
        for tier in self.tiers.values_mut() {
            tier.visitors.remove(&key);
        }
    }

    /// The behaviour layer's findings on the day's visitors.
    pub fn automated(&self, rules: &Behaviour) -> BTreeMap<u64, Finding> {
        if !rules.enabled {
            return BTreeMap::new();
        }
        let none = Conduct::default();
        let with_pages = self.sessions.iter().filter_map(|(visitor, s)| {
            let c = self.conduct.get(visitor).unwrap_or(&none);
            conduct::judge(c, Some(s), rules).map(|f| (*visitor, f))
        });
        let without = self
            .conduct
            .iter()
            .filter(|(visitor, _)| !self.sessions.contains_key(visitor))
            .filter_map(|(visitor, c)| conduct::judge(c, None, rules).map(|f| (*visitor, f)));
        with_pages.chain(without).collect()
    }

    /// The day as the behaviour layer leaves it: each visitor it finds automated no longer a
    /// visitor, their pageviews, sessions, assets and tracked visits moved to the bot hits
    /// (under the `behaviour` layer and the finding's kind). The pages and referrers tables
    /// keep the pageviews, which the day holds only summed over visitors.
    pub fn judged(&self, rules: &Behaviour) -> TrafficDay {
        let found = self.automated(rules);
        let mut day = self.clone();
        for (visitor, finding) in found {
            let c = day.conduct.get(&visitor).copied().unwrap_or_default();
            let views: u64 = day
                .sessions
                .remove(&visitor)
                .map_or(0, |s| s.iter().map(|s| u64::from(s.2)).sum());
            day.visitors.remove(&visitor);
            let statics = u64::from(c.assets) + u64::from(c.robots);
            let hits = views + statics + u64::from(c.heads) + u64::from(c.others);
            day.pageviews = day.pageviews.saturating_sub(views);
            day.static_hits = day.static_hits.saturating_sub(statics);
            day.bot_hits += hits;
            *day.bot_layers
                .entry(Layer::Behaviour.name().to_string())
                .or_default() += hits;
            *day.bot_categories
                .entry(finding.category().name().to_string())
                .or_default() += hits;
            for tier in PageTier::ALL {
                if let Some(t) = day.tiers.get_mut(&tier) {
                    t.visits = t.visits.saturating_sub(u64::from(c.tiers[tier.index()]));
                    t.visitors.remove(&visitor);
                }
            }
        }
        day.tiers
            .retain(|_, t| t.visits > 0 || !t.visitors.is_empty());
        day
    }
}

fn add_named(into: &mut BTreeMap<String, u64>, from: &BTreeMap<String, u64>) {
    for (name, n) in from {
        *into.entry(name.clone()).or_default() += n;
    }
}

fn status_class_name(class: usize) -> &'static str {
    ["other", "1xx", "2xx", "3xx", "4xx", "5xx"][class]
}

/// Index into [`DayDelta::status`].
pub fn status_class(status: u16) -> usize {
    match status / 100 {
        c @ 1..=5 => usize::from(c),
        _ => 0,
    }
}

/// What one run adds to a day, built on the hot path with fast maps keyed by raw bytes.
#[derive(Default)]
pub struct DayDelta {
    pub hits: u64,
    pub bytes: u64,
    pub pageviews: u64,
    pub bot_hits: u64,
    pub static_hits: u64,
    pub ignored_hits: u64,
    pub malformed: u64,
    pub status: [u64; 6],
    /// Per visitor key: its sessions (the keys are the day's visitors).
    pub sessions: HashMap<u64, Sessions>,
    /// Pageviews by decoded path (see `accesslog::fold::decode_path`).
    pub pages: HashMap<Box<[u8]>, u64>,
    pub referrers: HashMap<Box<[u8]>, u64>,
    pub tiers: [TierDelta; 3],
    /// Bot hits by [`Layer::index`] and by [`Category::index`].
    pub bot_layers: [u64; 3],
    pub bot_categories: [u64; 8],
    /// What the behaviour layer counts (only when it is on), as the hot path saw it: by
    /// address and User-Agent hash, one entry per request. Appending is all the hot path does:
    /// a lookup per asset in a map of the day's visitors (which does not stay in a core's
    /// cache), and the visitor's key, were a tenth of the ingestion.
    /// [`DayDelta::compact`] turns them into `conduct`.
    pub counted: Vec<(IpAddr, u64, Counted)>,
    /// Per visitor key: the behaviour layer's counts, one record per visitor and compacted
    /// part (merged deltas keep each part's; [`TrafficDay::absorb`] adds them up).
    pub conduct: Vec<(u64, Conduct)>,
}

#[derive(Default)]
pub struct TierDelta {
    pub visits: u64,
    pub visitors: HashSet<u64>,
}

impl DayDelta {
    /// A pageview of `visitor` at `at` seconds from the day's UTC midnight.
    pub fn view(&mut self, visitor: u64, at: i32) {
        match self.sessions.entry(visitor) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut().add((at, at, 1)),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(Sessions::view(at));
            }
        }
    }

    /// Adds up what was counted into one record per visitor (the delta is of day `day`). Done
    /// on the folding threads, so that the day's map takes one record per visitor.
    pub fn compact(&mut self, keys: &VisitorKeys, day: i32) {
        // Sorted, a visitor's requests are a run: one key each, and no map.
        self.counted.sort_unstable_by_key(|r| (r.0, r.1));
        for run in self.counted.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)) {
            let mut c = Conduct::default();
            for (_, _, what) in run {
                c.count(*what);
            }
            let (ip, agent, _) = run[0];
            self.conduct.push((keys.visitor(ip, agent, day), c));
        }
        self.counted = Vec::new();
    }

    /// Folds another delta of the same day into this one.
    pub fn merge(&mut self, other: DayDelta) {
        self.hits += other.hits;
        self.bytes += other.bytes;
        self.pageviews += other.pageviews;
        self.bot_hits += other.bot_hits;
        self.static_hits += other.static_hits;
        self.ignored_hits += other.ignored_hits;
        self.malformed += other.malformed;
        for (a, b) in self.status.iter_mut().zip(other.status) {
            *a += b;
        }
        for (visitor, sessions) in other.sessions {
            match self.sessions.entry(visitor) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut().merge(&sessions),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(sessions);
                }
            }
        }
        for (k, n) in other.pages {
            *self.pages.entry(k).or_default() += n;
        }
        for (k, n) in other.referrers {
            *self.referrers.entry(k).or_default() += n;
        }
        for (a, b) in self.tiers.iter_mut().zip(other.tiers) {
            a.visits += b.visits;
            a.visitors.extend(b.visitors);
        }
        for (a, b) in self.bot_layers.iter_mut().zip(other.bot_layers) {
            *a += b;
        }
        for (a, b) in self.bot_categories.iter_mut().zip(other.bot_categories) {
            *a += b;
        }
        self.counted.extend(other.counted);
        self.conduct.extend(other.conduct);
    }
}

fn files(data_dir: &Path) -> DayFiles {
    DayFiles::new(data_dir, "traffic")
}

/// Reads the current rollup of `day`, or an empty one if the state has none.
pub fn load_day(data_dir: &Path, current: &Generations, day: NaiveDate) -> Result<TrafficDay> {
    files(data_dir).load(current, day)
}

/// Reads every day the state names, oldest first.
pub fn load_all(data_dir: &Path, current: &Generations) -> Result<BTreeMap<NaiveDate, TrafficDay>> {
    files(data_dir).load_all(current)
}

/// Writes `day` as generation `generation` (see [`DayFiles::write`]); returns its path.
pub fn write_day(
    data_dir: &Path,
    day: NaiveDate,
    generation: u64,
    rollup: &TrafficDay,
) -> Result<PathBuf> {
    files(data_dir).write(day, generation, rollup)
}

/// Makes the days written durable; call before committing the state.
pub fn sync_written(data_dir: &Path) -> Result<()> {
    files(data_dir).sync()
}

/// Deletes every traffic rollup file the state does not name.
pub fn remove_unreferenced(data_dir: &Path, current: &Generations) -> Result<()> {
    files(data_dir).remove_unreferenced(current)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absorb_adds_to_what_the_day_had() {
        let mut delta = DayDelta {
            hits: 3,
            status: [0, 0, 2, 0, 1, 0],
            ..DayDelta::default()
        };
        delta.pages.insert((*b"/caf\xc3\xa9").into(), 2);
        delta.view(9, 100);
        let mut day = TrafficDay::default();
        day.pages.insert("/café".to_string(), 1);
        day.absorb(delta);
        assert_eq!(day.pages["/café"], 3);
        assert_eq!(day.status["2xx"], 2);
        assert_eq!(day.status["4xx"], 1);
        assert_eq!(day.unique_visitors(), 1);
    }

    #[test]
    fn sessions_are_the_runs_of_pageviews_in_any_order() {
        // 0, 1000, 2700 (1700 after 1000): one session; 4600 (1900 after 2700): another.
        let times = [2700, 0, 4600, 1000];
        let mut a = DayDelta::default();
        for t in times {
            a.view(1, t);
        }
        let mut b = DayDelta::default();
        let mut c = DayDelta::default();
        for t in times.iter().rev() {
            if *t > 1500 {
                b.view(1, *t);
            } else {
                c.view(1, *t);
            }
        }
        b.merge(c);
        assert_eq!(
            a.sessions[&1].iter().collect::<Vec<_>>(),
            vec![(0, 2700, 3), (4600, 4600, 1)]
        );
        assert_eq!(a.sessions[&1], b.sessions[&1]);
        let mut day = TrafficDay::default();
        day.absorb(a);
        assert_eq!(day.sessions_and_bounces(), (2, 1));
    }
}
