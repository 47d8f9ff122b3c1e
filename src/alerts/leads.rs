//! Hot leads: which visits recorded since the last scan raise an alert, and the journey each
//! alert carries.
//!
//! A visitor is an address and a User-Agent. Only `hot` and `very_hot` pages alert (the ledger
//! decides new, escalated or suppressed); a visit that was already old when a scan first saw it
//! (a backfill of last month's logs) never alerts: it is history, not a lead. Bots, ignored
//! addresses and requests that are not visits never reach the visits store, so never alert.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::Hasher;
use std::net::IpAddr;
use std::path::Path;

use anyhow::Result;
use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::LeadItem;
use super::journey;
use super::ledger::{AlertLedger, LeadAlert, Policy};
use crate::config::ScoreWeights;
use crate::page_tier::PageTier;
use crate::state::State;
use crate::visits::{self, Visit};

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

/// Reads the visits committed since the last scan. Day files older than `oldest` cannot hold
/// a lead young enough to alert, so they are marked evaluated without being read.
pub fn unscanned(data_dir: &Path, state: &State, oldest: NaiveDate) -> Result<Unscanned> {
    let mut out = Unscanned {
        visits: Vec::new(),
        scanned: state.alerts.scanned.clone(),
    };
    for (&day, &committed) in &state.visits {
        let from = state.alerts.scanned.get(&day).copied().unwrap_or(0);
        if from >= committed {
            continue;
        }
        if day >= oldest {
            out.visits
                .extend(visits::read_range(data_dir, day, from..committed, &|_| {
                    true
                })?);
        }
        out.scanned.insert(day, committed);
    }
    // Forget days whose visits files are gone (rotated away).
    out.scanned.retain(|day, _| state.visits.contains_key(day));
    Ok(out)
}

/// Raises lead alerts for `new` visits (in any order) and builds their journeys from the
/// visitor's visits of the last days: those committed (`state`) plus `extra` (not yet written,
/// in a dry run).
#[allow(clippy::too_many_arguments)]
pub fn evaluate(
    ledger: &mut AlertLedger,
    policy: &Policy,
    weights: ScoreWeights,
    max_age: Duration,
    new: &[Visit],
    extra: &[Visit],
    data_dir: &Path,
    state: &State,
    now: DateTime<Utc>,
) -> Result<Vec<LeadItem>> {
    let mut ordered: Vec<&Visit> = new.iter().filter(|v| v.tier >= PageTier::Hot).collect();
    ordered.sort_by_key(|v| v.time);
    // A zero max age means no limit.
    let cutoff = if max_age.is_zero() {
        DateTime::<Utc>::MIN_UTC
    } else {
        now - max_age
    };
    // Per visitor: what to tell (a visitor who went hot then very hot within one scan is one
    // new lead), and when.
    let mut raised: BTreeMap<String, (LeadAlert, DateTime<Utc>, IpAddr, String)> = BTreeMap::new();
    for v in ordered {
        let at = v.time.with_timezone(&Utc);
        if at < cutoff {
            continue;
        }
        let key = visitor_key(v.ip, &v.user_agent);
        if let Some(kind) = ledger.lead(&key, v.ip, v.tier, at, policy) {
            raised.entry(key).and_modify(|e| e.1 = at).or_insert((
                kind,
                at,
                v.ip,
                v.user_agent.clone(),
            ));
        }
    }
    if raised.is_empty() {
        return Ok(Vec::new());
    }

    let wanted: BTreeSet<(IpAddr, &str)> = raised
        .values()
        .map(|(_, _, ip, ua)| (*ip, ua.as_str()))
        .collect();
    let mut by_visitor: BTreeMap<(IpAddr, String), Vec<Visit>> = BTreeMap::new();
    for v in history(data_dir, state, &wanted, now)?
        .into_iter()
        .chain(extra.iter().cloned())
    {
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
        if let Some(journey) = journey::build(&visits, now, weights) {
            items.push(LeadItem {
                visitor,
                kind,
                raised_at: at,
                journey,
            });
        }
    }
    Ok(items)
}

/// The committed visits of the last [`JOURNEY_DAYS`] (and a day, for time zones) by the
/// wanted visitors. Lines are filtered on the address before they are parsed.
fn history(
    data_dir: &Path,
    state: &State,
    wanted: &BTreeSet<(IpAddr, &str)>,
    now: DateTime<Utc>,
) -> Result<Vec<Visit>> {
    let first = (now - Duration::days(JOURNEY_DAYS + 1)).date_naive();
    let addresses: std::collections::HashSet<String> =
        wanted.iter().map(|(ip, _)| ip.to_string()).collect();
    // The address is the only field spelled exactly as `IpAddr` displays it.
    let keep = |line: &str| {
        line.split_once("\"ip\":\"")
            .and_then(|(_, rest)| rest.split_once('"'))
            .is_some_and(|(ip, _)| addresses.contains(ip))
    };
    let mut out = Vec::new();
    for (&day, &committed) in state.visits.range(first..) {
        out.extend(visits::read_range(data_dir, day, 0..committed, &keep)?);
    }
    Ok(out)
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
