//! Hot leads: which visits recorded since the last scan raise an alert, and the journey each
//! alert carries.
//!
//! A visitor is an address and a User-Agent. Only `hot` and `very_hot` pages alert (the ledger
//! decides new, escalated or suppressed); a visit that was already old when a scan first saw it
//! (a backfill of last month's logs) never alerts: it is history, not a lead. Bots, ignored
//! addresses and requests that are not visits never reach the visits store, so never alert.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::hash::Hasher;
use std::net::IpAddr;
use std::path::Path;

use anyhow::Result;
use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::LeadItem;
use super::ledger::{AlertLedger, LeadAlert, Policy};
use crate::config::ScoreWeights;
use crate::page_tier::PageTier;
use crate::visits::journey;
use crate::visits::{self, Committed, Visit};

/// A journey shows this many days of visits.
pub const JOURNEY_DAYS: i64 = 7;

/// The ledger key of a visitor: the address (so that `purge-ip` finds it) and a hash of the
/// User-Agent (long, and attacker-chosen).
pub fn visitor_key(ip: IpAddr, user_agent: &str) -> String {
    let mut h = siphasher::sip::SipHasher13::new();
    h.write(user_agent.as_bytes());
    format!("{ip} {:016x}", h.finish())
}

/// Committed visits that no scan has evaluated yet, and the offsets that mark them evaluated.
pub struct Unscanned {
    pub visits: Vec<Visit>,
    pub scanned: BTreeMap<NaiveDate, u64>,
}

/// Reads the visits committed since the last scan (`scanned`: how far each day file was
/// evaluated). Day files older than `oldest` cannot hold a lead young enough to alert, so they
/// are marked evaluated without being read.
pub fn unscanned(
    data_dir: &Path,
    committed: &Committed,
    scanned: &BTreeMap<NaiveDate, u64>,
    oldest: NaiveDate,
) -> Result<Unscanned> {
    let mut out = Unscanned {
        visits: Vec::new(),
        scanned: scanned.clone(),
    };
    for (&day, &length) in committed {
        let from = scanned.get(&day).copied().unwrap_or(0);
        if from >= length {
            continue;
        }
        if day >= oldest {
            out.visits
                .extend(visits::read_range(data_dir, day, from..length, &|_| true)?);
        }
        out.scanned.insert(day, length);
    }
    // Forget days whose visits files are gone (rotated away).
    out.scanned.retain(|day, _| committed.contains_key(day));
    Ok(out)
}

/// What lead evaluation reads besides the new visits.
pub struct Leads<'a> {
    pub policy: &'a Policy,
    pub weights: ScoreWeights,
    /// A visit older than this when first seen never alerts (zero: no limit).
    pub max_age: Duration,
    pub data_dir: &'a Path,
    pub committed: &'a Committed,
    pub now: DateTime<Utc>,
}

/// Per visitor: what to tell and when, and who they are.
type Raised = BTreeMap<String, (LeadAlert, DateTime<Utc>, IpAddr, String)>;

impl Leads<'_> {
    /// Raises lead alerts for `new` visits (in any order) and builds their journeys from the
    /// visitor's visits of the last days: those committed plus `extra` (not yet written, in a
    /// dry run).
    pub fn evaluate(
        &self,
        ledger: &mut AlertLedger,
        new: &[Visit],
        extra: &[Visit],
    ) -> Result<Vec<LeadItem>> {
        let raised = self.raise(ledger, new);
        if raised.is_empty() {
            return Ok(Vec::new());
        }
        let wanted: BTreeSet<(IpAddr, &str)> = raised
            .values()
            .map(|(_, _, ip, ua)| (*ip, ua.as_str()))
            .collect();
        let addresses: HashSet<IpAddr> = wanted.iter().map(|(ip, _)| *ip).collect();
        // A journey is the week before the lead's visit (and a day, for time zones), whenever
        // that was: a backfill's lead has its history too.
        let first = raised.values().map(|r| r.1).min().unwrap_or(self.now);
        let since = (first - Duration::days(JOURNEY_DAYS + 1)).date_naive();
        let history = visits::read_by_address(self.data_dir, self.committed, since, &addresses)?;
        let mut by_visitor: BTreeMap<(IpAddr, String), Vec<Visit>> = BTreeMap::new();
        for v in history.into_iter().chain(extra.iter().cloned()) {
            if wanted.contains(&(v.ip, v.user_agent.as_str())) {
                by_visitor
                    .entry((v.ip, v.user_agent.clone()))
                    .or_default()
                    .push(v);
            }
        }
        let mut items = Vec::new();
        for (visitor, (kind, at, ip, ua)) in raised {
            let visits = by_visitor.remove(&(ip, ua)).unwrap_or_default();
            if let Some(journey) = journey::build(&visits, self.weights) {
                items.push(LeadItem {
                    visitor,
                    kind,
                    raised_at: at,
                    queued_at: Some(self.now),
                    journey,
                    origin: None,
                    user: None,
                });
            }
        }
        Ok(items)
    }

    /// Asks the ledger about every hot visit young enough, oldest first (a visitor who went
    /// hot then very hot within one scan is one new lead).
    fn raise(&self, ledger: &mut AlertLedger, new: &[Visit]) -> Raised {
        let mut ordered: Vec<&Visit> = new.iter().filter(|v| v.tier >= PageTier::Hot).collect();
        ordered.sort_by_key(|v| v.time);
        let cutoff = if self.max_age.is_zero() {
            DateTime::<Utc>::MIN_UTC
        } else {
            self.now - self.max_age
        };
        let mut raised = Raised::new();
        for v in ordered {
            let at = v.time.with_timezone(&Utc);
            if at < cutoff {
                continue;
            }
            let key = visitor_key(v.ip, &v.user_agent);
            if let Some(kind) = ledger.lead(&key, v.ip, v.tier, at, self.policy) {
                raised.entry(key).and_modify(|e| e.1 = at).or_insert((
                    kind,
                    at,
                    v.ip,
                    v.user_agent.clone(),
                ));
            }
        }
        raised
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visitor_keys_hold_the_address_and_differ_by_agent() {
        let ip: IpAddr = "2001:db8::7".parse().unwrap();
        let a = visitor_key(ip, "Mozilla/5.0 A");
        assert!(a.starts_with("2001:db8::7 "));
        assert_ne!(a, visitor_key(ip, "Mozilla/5.0 B"));
        assert_eq!(a, visitor_key(ip, "Mozilla/5.0 A"));
    }
}
