//! One day's committed record against its recount: every count, field by field, in words a
//! person reads (names escaped for a terminal).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::escape;
use crate::page_tier::PageTier;
use crate::rollup::traffic::TrafficDay;
use crate::visits::Identities;

/// One field that differs, with the value on each side (a count, or an amount as exact
/// decimal text).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Difference {
    pub field: String,
    pub committed: serde_json::Value,
    pub recounted: serde_json::Value,
    /// The recount holds more than the store: lines were counted fewer times than they are in
    /// the logs, which lines missing from the logs cannot explain.
    #[serde(skip)]
    pub excess: bool,
}

impl Difference {
    pub fn recount_exceeds(&self) -> bool {
        self.excess
    }
}

pub(super) fn push(out: &mut Vec<Difference>, field: &str, committed: u64, recounted: u64) {
    if committed != recounted {
        out.push(Difference {
            field: field.to_string(),
            committed: committed.into(),
            recounted: recounted.into(),
            excess: recounted > committed,
        });
    }
}

/// As [`push`], for an amount of money.
pub(super) fn push_amount(
    out: &mut Vec<Difference>,
    field: &str,
    committed: rust_decimal::Decimal,
    recounted: rust_decimal::Decimal,
) {
    if committed != recounted {
        out.push(Difference {
            field: field.to_string(),
            committed: committed.normalize().to_string().into(),
            recounted: recounted.normalize().to_string().into(),
            excess: recounted > committed,
        });
    }
}

/// Every field of the two records that differs. Visitors are compared as sets of keys: two
/// sets of one size but other members differ too (`recounted` is then the number the recount
/// holds that the store does not).
pub fn traffic(committed: &TrafficDay, recount: &TrafficDay) -> Vec<Difference> {
    let mut out = Vec::new();
    push(&mut out, "hits", committed.hits, recount.hits);
    push(&mut out, "bytes", committed.bytes, recount.bytes);
    push(
        &mut out,
        "pageviews",
        committed.pageviews,
        recount.pageviews,
    );
    push(&mut out, "bot hits", committed.bot_hits, recount.bot_hits);
    push(
        &mut out,
        "static hits",
        committed.static_hits,
        recount.static_hits,
    );
    push(
        &mut out,
        "ignored hits",
        committed.ignored_hits,
        recount.ignored_hits,
    );
    push(
        &mut out,
        "malformed lines",
        committed.malformed,
        recount.malformed,
    );
    for (label, of) in [
        (
            "status",
            (|d| &d.status) as fn(&TrafficDay) -> &BTreeMap<String, u64>,
        ),
        ("bot hits of layer", |d| &d.bot_layers),
        ("bot hits of kind", |d| &d.bot_categories),
    ] {
        let names: BTreeSet<&String> = of(committed).keys().chain(of(recount).keys()).collect();
        for name in names {
            let n = |d: &TrafficDay| of(d).get(name).copied().unwrap_or(0);
            push(
                &mut out,
                &format!("{label} {name}"),
                n(committed),
                n(recount),
            );
        }
    }
    let conduct_differs = |a: &TrafficDay, b: &TrafficDay| {
        a.conduct
            .iter()
            .filter(|(k, c)| b.conduct.get(k).is_none_or(|o| o != *c))
            .count() as u64
    };
    push(
        &mut out,
        "visitors whose conduct differs",
        conduct_differs(committed, recount),
        conduct_differs(recount, committed),
    );
    keys(
        &mut out,
        "unique visitors",
        &committed.visitor_keys(),
        &recount.visitor_keys(),
    );
    let (cs, cb) = committed.sessions_and_bounces();
    let (rs, rb) = recount.sessions_and_bounces();
    push(&mut out, "sessions", cs, rs);
    push(&mut out, "bounces", cb, rb);
    names(&mut out, committed, recount);
    tiers(&mut out, committed, recount);
    out
}

/// Pageviews by page and by referrer.
fn names(out: &mut Vec<Difference>, committed: &TrafficDay, recount: &TrafficDay) {
    for (label, a, b) in [
        ("page", &committed.pages, &recount.pages),
        ("referrer", &committed.referrers, &recount.referrers),
    ] {
        let names: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
        for name in names {
            let n = |m: &std::collections::BTreeMap<String, u64>| m.get(name).copied().unwrap_or(0);
            push(
                out,
                &format!("{label} {}", escape::terminal(name)),
                n(a),
                n(b),
            );
        }
    }
}

/// Visits and visitors by page tier.
fn tiers(out: &mut Vec<Difference>, committed: &TrafficDay, recount: &TrafficDay) {
    for tier in PageTier::ALL {
        let (a, b) = (committed.tiers.get(&tier), recount.tiers.get(&tier));
        let visits = |t: Option<&crate::rollup::traffic::TierDay>| t.map_or(0, |t| t.visits);
        push(
            out,
            &format!("visits to {} pages", tier.name()),
            visits(a),
            visits(b),
        );
        let empty = BTreeSet::new();
        keys(
            out,
            &format!("visitors of {} pages", tier.name()),
            a.map_or(&empty, |t| &t.visitors),
            b.map_or(&empty, |t| &t.visitors),
        );
    }
}

pub(super) fn keys(
    out: &mut Vec<Difference>,
    field: &str,
    committed: &BTreeSet<u64>,
    recount: &BTreeSet<u64>,
) {
    if committed == recount {
        return;
    }
    let (c, r) = (committed.len() as u64, recount.len() as u64);
    if c == r {
        let (only_c, only_r) = (
            committed.difference(recount).count() as u64,
            recount.difference(committed).count() as u64,
        );
        out.push(Difference {
            field: format!("{field} (other keys)"),
            committed: only_c.into(),
            recounted: only_r.into(),
            excess: only_r > 0,
        });
    } else {
        push(out, field, c, r);
    }
}

/// A visit the store holds more than once: never explained by lines missing from disk.
const TWICE: &str = "visits recorded more than once";

/// The visits store's records of a day against the visits the recount produced: how many, and
/// how many the store holds more than once.
pub fn visits(committed: &Identities, recount: &Identities) -> Vec<Difference> {
    let mut out = Vec::new();
    let total = |ids: &Identities| ids.values().map(|&n| u64::from(n)).sum::<u64>();
    push(&mut out, "visits", total(committed), total(recount));
    let twice = committed
        .iter()
        .filter(|(id, n)| **n > recount.get(*id).copied().unwrap_or(0).max(1))
        .count() as u64;
    push(&mut out, TWICE, twice, 0);
    let other = committed
        .keys()
        .filter(|id| !recount.contains_key(id))
        .count() as u64;
    if out.is_empty() && other > 0 {
        push(&mut out, "visits (other records)", other, 0);
    }
    out
}

/// Whether a recount that holds only part of a day's lines is consistent with the store:
/// nothing recounted that the store lacks.
pub fn within(committed: &TrafficDay, recount: &TrafficDay, differences: &[Difference]) -> bool {
    differences
        .iter()
        .all(|d| !d.recount_exceeds() && d.field != TWICE)
        && recount.visitor_keys().is_subset(&committed.visitor_keys())
}
