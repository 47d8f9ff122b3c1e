//! The bytes of a [`TrafficDay`] file: its fields as JSON, the behaviour layer's records laid
//! out along the sessions.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::conduct::Conduct;
use super::traffic::{Sessions, TierDay, TrafficDay};
use crate::page_tier::PageTier;

/// A [`TrafficDay`] as its file holds it. A busy day has a conduct record per visitor, so the
/// records of visitors with sessions are a list in the order of `sessions` rather than a map
/// that would spell each 20-digit key a second time; `conduct_alone` holds the few visitors
/// with no pageview (a monitor's `HEAD`s).
#[derive(Serialize)]
struct StoredRef<'a> {
    hits: u64,
    bytes: u64,
    pageviews: u64,
    bot_hits: u64,
    static_hits: u64,
    ignored_hits: u64,
    malformed: u64,
    status: &'a BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    visitors: &'a BTreeSet<u64>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    sessions: &'a BTreeMap<u64, Sessions>,
    pages: &'a BTreeMap<String, u64>,
    referrers: &'a BTreeMap<String, u64>,
    tiers: &'a BTreeMap<PageTier, TierDay>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    bot_layers: &'a BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    bot_categories: &'a BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    conduct: Vec<Conduct>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    conduct_alone: BTreeMap<u64, Conduct>,
}

/// [`StoredRef`], read back.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    hits: u64,
    bytes: u64,
    pageviews: u64,
    bot_hits: u64,
    static_hits: u64,
    ignored_hits: u64,
    malformed: u64,
    status: BTreeMap<String, u64>,
    #[serde(default)]
    visitors: BTreeSet<u64>,
    #[serde(default)]
    sessions: BTreeMap<u64, Sessions>,
    pages: BTreeMap<String, u64>,
    referrers: BTreeMap<String, u64>,
    tiers: BTreeMap<PageTier, TierDay>,
    #[serde(default)]
    bot_layers: BTreeMap<String, u64>,
    #[serde(default)]
    bot_categories: BTreeMap<String, u64>,
    #[serde(default)]
    conduct: Vec<Conduct>,
    #[serde(default)]
    conduct_alone: BTreeMap<u64, Conduct>,
}

impl Serialize for TrafficDay {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // One pass along the sessions (a hash lookup each); the records left over, if any,
        // are the visitors without a pageview.
        let mut found = 0;
        let aligned: Vec<Conduct> = self
            .sessions
            .keys()
            .map(|k| {
                let c = self.conduct.get(k).copied();
                found += usize::from(c.is_some());
                c.unwrap_or_default()
            })
            .collect();
        let conduct = if found == 0 { Vec::new() } else { aligned };
        let conduct_alone = if found == self.conduct.len() {
            BTreeMap::new()
        } else {
            self.conduct
                .iter()
                .filter(|(k, _)| !self.sessions.contains_key(k))
                .map(|(k, c)| (*k, *c))
                .collect()
        };
        StoredRef {
            hits: self.hits,
            bytes: self.bytes,
            pageviews: self.pageviews,
            bot_hits: self.bot_hits,
            static_hits: self.static_hits,
            ignored_hits: self.ignored_hits,
            malformed: self.malformed,
            status: &self.status,
            visitors: &self.visitors,
            sessions: &self.sessions,
            pages: &self.pages,
            referrers: &self.referrers,
            tiers: &self.tiers,
            bot_layers: &self.bot_layers,
            bot_categories: &self.bot_categories,
            conduct,
            conduct_alone,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for TrafficDay {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Stored::deserialize(d)?;
        if !s.conduct.is_empty() && s.conduct.len() != s.sessions.len() {
            return Err(serde::de::Error::custom(format!(
                "{} conduct records for {} visitors with sessions",
                s.conduct.len(),
                s.sessions.len()
            )));
        }
        let mut conduct: foldhash::HashMap<u64, Conduct> = s.conduct_alone.into_iter().collect();
        for (k, c) in s.sessions.keys().zip(s.conduct) {
            if c != Conduct::default() {
                conduct.insert(*k, c);
            }
        }
        Ok(TrafficDay {
            hits: s.hits,
            bytes: s.bytes,
            pageviews: s.pageviews,
            bot_hits: s.bot_hits,
            static_hits: s.static_hits,
            ignored_hits: s.ignored_hits,
            malformed: s.malformed,
            status: s.status,
            visitors: s.visitors,
            sessions: s.sessions,
            pages: s.pages,
            referrers: s.referrers,
            tiers: s.tiers,
            bot_layers: s.bot_layers,
            bot_categories: s.bot_categories,
            conduct,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conduct_is_laid_out_along_the_sessions_and_reads_back() {
        let mut day = TrafficDay::default();
        for key in [5u64, 9, 12] {
            day.sessions.insert(key, Sessions::view(100));
        }
        let assets = Conduct {
            assets: 4,
            ..Conduct::default()
        };
        let heads = Conduct {
            heads: 60,
            ..Conduct::default()
        };
        day.conduct.insert(9, assets);
        day.conduct.insert(7, heads);
        let json = serde_json::to_string(&day).unwrap();
        assert!(
            json.contains(r#""conduct":[[],[4],[]],"conduct_alone":{"7":[0,0,60]}"#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<TrafficDay>(&json).unwrap(), day);
        let short = json.replace("[[],[4],[]]", "[[],[4]]");
        let err = serde_json::from_str::<TrafficDay>(&short).unwrap_err();
        assert!(
            err.to_string().contains("2 conduct records for 3 visitors"),
            "{err}"
        );
    }
}
