//! The enrichment cache, `data_dir/geo-cache.json`: per local day, per address, what the
//! databases and the reverse DNS said, so that a lead seen again the same day (an escalation)
//! is not looked up twice. Only today and yesterday are kept; `purge-ip` erases the address's
//! entries. A file of its own, not a part of the state: the state is written several times a
//! run, this only when a lookup added to it.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::Origin;
use crate::erase::{Erased, Target};
use crate::fsutil;

/// Days kept besides today.
const DAYS_KEPT: i64 = 1;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct GeoCache {
    days: BTreeMap<NaiveDate, BTreeMap<IpAddr, Origin>>,
    /// Whether it differs from the file.
    #[serde(skip)]
    changed: bool,
}

fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("geo-cache.json")
}

impl GeoCache {
    /// The cache as the file holds it (empty when there is none).
    pub fn load(data_dir: &Path) -> Result<GeoCache> {
        let path = path(data_dir);
        match fsutil::read_if_exists(&path)? {
            None => Ok(GeoCache::default()),
            Some(bytes) => serde_json::from_slice(&bytes)
                .with_context(|| format!("{} is not an enrichment cache", path.display())),
        }
    }

    /// Writes the file when anything changed.
    pub fn save(&mut self, data_dir: &Path) -> Result<()> {
        if !self.changed {
            return Ok(());
        }
        let path = path(data_dir);
        if self.days.is_empty() {
            fsutil::remove_file(&path)?;
        } else {
            fsutil::write_atomic(&path, &serde_json::to_vec(self)?, 0o600)?;
        }
        self.changed = false;
        Ok(())
    }

    pub fn get(&self, day: NaiveDate, ip: IpAddr) -> Option<&Origin> {
        self.days.get(&day)?.get(&ip.to_canonical())
    }

    pub fn insert(&mut self, day: NaiveDate, ip: IpAddr, origin: Origin) {
        self.days
            .entry(day)
            .or_default()
            .insert(ip.to_canonical(), origin);
        self.changed = true;
    }

    /// Forgets the days before yesterday.
    pub fn retain(&mut self, today: NaiveDate) {
        let oldest = today - chrono::Duration::days(DAYS_KEPT);
        let before = self.days.len();
        self.days.retain(|day, _| *day >= oldest);
        self.changed |= self.days.len() != before;
    }

    /// `purge-ip`: erases (or, in a dry run, finds) the target's entries in the file.
    pub fn erase_file(data_dir: &Path, target: &Target, dry: bool) -> Result<Erased> {
        let mut cache = GeoCache::load(data_dir)?;
        let mut erased = cache.erase(target, dry);
        if erased.records > 0 {
            if !dry {
                cache.save(data_dir)?;
            }
            let what = format!(
                "{} removed, written again",
                crate::words::plural(erased.records, "enrichment", "enrichments")
            );
            erased.changed(&path(data_dir), what);
        }
        Ok(erased)
    }

    /// Erases (or, in a dry run, finds) the target's entries.
    pub fn erase(&mut self, target: &Target, dry: bool) -> Erased {
        let mut erased = Erased::default();
        for (day, entries) in &mut self.days {
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
        self.days.retain(|_, entries| !entries.is_empty());
        self.changed |= erased.records > 0 && !dry;
        erased
    }
}
