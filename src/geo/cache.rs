//! The state's record of enrichments: per local day, per address, what the databases and the
//! reverse DNS said, so that a lead seen again the same day (an escalation) is not looked up
//! twice. Only today and yesterday are kept; `purge-ip` erases the address's entries.

use std::collections::BTreeMap;
use std::net::IpAddr;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::Origin;
use crate::erase::{Erased, Target};

/// Days kept besides today.
const DAYS_KEPT: i64 = 1;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct GeoCache(BTreeMap<NaiveDate, BTreeMap<IpAddr, Origin>>);

impl GeoCache {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, day: NaiveDate, ip: IpAddr) -> Option<&Origin> {
        self.0.get(&day)?.get(&ip.to_canonical())
    }

    pub fn insert(&mut self, day: NaiveDate, ip: IpAddr, origin: Origin) {
        self.0
            .entry(day)
            .or_default()
            .insert(ip.to_canonical(), origin);
    }

    /// Forgets the days before yesterday.
    pub fn retain(&mut self, today: NaiveDate) {
        let oldest = today - chrono::Duration::days(DAYS_KEPT);
        self.0.retain(|day, _| *day >= oldest);
    }

    pub fn len(&self) -> usize {
        self.0.values().map(BTreeMap::len).sum()
    }

    /// Erases (or, in a dry run, finds) the target's entries.
    pub fn erase(&mut self, target: &Target, dry: bool) -> Erased {
        let mut erased = Erased::default();
        for (day, entries) in &mut self.0 {
            entries.retain(|ip, origin| {
                let hit = target.matches(*ip);
                if hit {
                    erased.records += 1;
                    erased.seen.insert(*ip);
                    if dry {
                        erased.found.push(serde_json::json!({
                            "geo_cache": {"day": day, "ip": ip, "origin": origin}
                        }));
                    }
                }
                !hit || dry
            });
        }
        self.0.retain(|_, entries| !entries.is_empty());
        erased
    }
}
