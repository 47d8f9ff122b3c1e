//! Daily traffic rollups: what every request of a local day adds up to.
//!
//! Each day is one JSON file, `rollups/traffic/DAY.gN.json`, where N is the state generation
//! that wrote it. The state names the current generation of every day, so the rollups and the
//! log checkpoints change together in one atomic state write: a run that dies before that write
//! leaves only files no state refers to, which the next run deletes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::NaiveDate;
use foldhash::{HashMap, HashSet};
use serde::{Deserialize, Serialize};

use crate::config::PageTier;
use crate::state::State;

/// One local day of traffic, as stored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
    /// Visitor keys (see `visitor`) of the day's pageviews.
    pub visitors: BTreeSet<u64>,
    /// Pageviews by path (percent-decoded, no query).
    pub pages: BTreeMap<String, u64>,
    /// Pageviews by external referrer host.
    pub referrers: BTreeMap<String, u64>,
    /// Visits and visitor keys by tracked page tier.
    pub tiers: BTreeMap<PageTier, TierDay>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierDay {
    pub visits: u64,
    pub visitors: BTreeSet<u64>,
}

impl TrafficDay {
    pub fn unique_visitors(&self) -> u64 {
        self.visitors.len() as u64
    }

    /// Adds what one run saw of this day.
    pub fn absorb(&mut self, delta: DayDelta) {
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
        self.visitors.extend(delta.visitors);
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
    pub visitors: HashSet<u64>,
    /// Pageviews by decoded path (see `accesslog::fold::decode_path`).
    pub pages: HashMap<Box<[u8]>, u64>,
    pub referrers: HashMap<Box<[u8]>, u64>,
    pub tiers: [TierDelta; 3],
}

#[derive(Default)]
pub struct TierDelta {
    pub visits: u64,
    pub visitors: HashSet<u64>,
}

impl DayDelta {
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
        self.visitors.extend(other.visitors);
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
    }
}

pub fn traffic_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("rollups").join("traffic")
}

fn day_file(data_dir: &Path, day: NaiveDate, generation: u64) -> PathBuf {
    traffic_dir(data_dir).join(format!("{day}.g{generation}.json"))
}

/// Reads the current rollup of `day`, or an empty one if the state has none.
pub fn load_day(data_dir: &Path, state: &State, day: NaiveDate) -> Result<TrafficDay> {
    let Some(generation) = state.traffic.get(&day) else {
        return Ok(TrafficDay::default());
    };
    let path = day_file(data_dir, day, *generation);
    let bytes = std::fs::read(&path).with_context(|| {
        format!(
            "cannot read traffic rollup {} named by the state",
            path.display()
        )
    })?;
    serde_json::from_slice(&bytes)
        .with_context(|| format!("traffic rollup {} is corrupt", path.display()))
}

/// Reads every day the state names, oldest first.
pub fn load_all(data_dir: &Path, state: &State) -> Result<BTreeMap<NaiveDate, TrafficDay>> {
    state
        .traffic
        .keys()
        .map(|day| Ok((*day, load_day(data_dir, state, *day)?)))
        .collect()
}

/// Writes `day` as generation `generation` and fsyncs it. No temp file and rename are needed:
/// no state names this generation yet, so a half-written file is never read, and the next run
/// removes it. Call [`sync_written`] once after the last day, before committing the state.
pub fn write_day(
    data_dir: &Path,
    day: NaiveDate,
    generation: u64,
    rollup: &TrafficDay,
) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let dir = traffic_dir(data_dir);
    crate::fsutil::create_private_dir(&dir)?;
    let bytes = serde_json::to_vec(rollup).context("cannot serialise a traffic rollup")?;
    let path = day_file(data_dir, day, generation);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(&bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Makes the files [`write_day`] created durable in their directory.
pub fn sync_written(data_dir: &Path) -> Result<()> {
    crate::fsutil::sync_dir(&traffic_dir(data_dir))
}

/// Deletes every rollup file the state does not name: leftovers of a run that died before its
/// commit, or generations a later commit replaced.
pub fn remove_unreferenced(data_dir: &Path, state: &State) -> Result<()> {
    let dir = traffic_dir(data_dir);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(err).with_context(|| format!("cannot list {}", dir.display())),
    };
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let current = parse_day_file(&name)
            .is_some_and(|(day, generation)| state.traffic.get(&day) == Some(&generation));
        if !current {
            let path = entry.path();
            std::fs::remove_file(&path)
                .with_context(|| format!("cannot remove stale rollup {}", path.display()))?;
        }
    }
    Ok(())
}

fn parse_day_file(name: &str) -> Option<(NaiveDate, u64)> {
    let stem = name.strip_suffix(".json")?;
    let (day, generation) = stem.split_once(".g")?;
    Some((day.parse().ok()?, generation.parse().ok()?))
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
        delta.visitors.insert(9);
        let mut day = TrafficDay::default();
        day.pages.insert("/café".to_string(), 1);
        day.absorb(delta);
        assert_eq!(day.pages["/café"], 3);
        assert_eq!(day.status["2xx"], 2);
        assert_eq!(day.status["4xx"], 1);
        assert_eq!(day.unique_visitors(), 1);
    }

    #[test]
    fn file_names_round_trip() {
        let day = NaiveDate::from_ymd_opt(2026, 3, 29).unwrap();
        let name = day_file(Path::new("/d"), day, 42);
        let name = name.file_name().unwrap().to_string_lossy();
        assert_eq!(parse_day_file(&name), Some((day, 42)));
        assert_eq!(parse_day_file(".2026-03-29.g42.json.tmp"), None);
    }
}
