//! Leads and what became of them (`arkwatch leads`, the `leads` section of `metrics` and the
//! report): every visitor who read a hot or very hot page in the period, with their score,
//! first-touch source, the product user linked to them (see [`crate::links`]) and that user's
//! outcome; the shares that registered and paid within `link_days`, by tier, score band and
//! source; and the period's new MRR by the first-touch source of the linked visitor.
//! Definitions with formulas: `docs/metrics.md`, "Leads".

use std::collections::BTreeMap;
use std::net::IpAddr;

use anyhow::Result;
use chrono::{DateTime, Duration, FixedOffset, Utc};
use rust_decimal::Decimal;
use serde::Serialize;

use super::{Period, Sources, ratio};
use crate::events::projection::{self, UserRecord};
use crate::links::{Link, LinkStore};
use crate::page_tier::PageTier;
use crate::visits::{self, Visit, journey};

/// Score bands, by their lowest score.
pub const BANDS: [(u32, &str); 4] = [(0, "0-49"), (50, "50-79"), (80, "80-99"), (100, "100+")];

/// Where a lead came from: its first visit's `utm_source` and `utm_campaign`, else the host of
/// its referrer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Source {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referrer_host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub utm_source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub utm_campaign: Option<String>,
    /// The name sources are grouped by: the `utm_source`, else the referrer's host (without
    /// `www.`), `(this site)` for the site's own pages, `(direct)` without a referrer.
    pub name: String,
}

impl Source {
    fn of(referrer: Option<&str>, utm: &BTreeMap<String, String>, site_hosts: &[String]) -> Source {
        let nonempty = |k: &str| utm.get(k).filter(|v| !v.is_empty()).cloned();
        let host = referrer
            .and_then(|r| crate::accesslog::classify::referrer_host(r.as_bytes()))
            .map(|h| String::from_utf8_lossy(h).to_ascii_lowercase());
        let own = host.as_deref().is_some_and(|h| {
            crate::accesslog::classify::is_site_host(
                h.as_bytes(),
                site_hosts.iter().map(String::as_bytes),
            )
        });
        let utm_source = nonempty("utm_source");
        let name = match (&utm_source, &host) {
            (Some(s), _) => s.to_ascii_lowercase(),
            (None, Some(_)) if own => "(this site)".to_string(),
            (None, Some(h)) => h.strip_prefix("www.").unwrap_or(h).to_string(),
            (None, None) => "(direct)".to_string(),
        };
        Source {
            referrer_host: host,
            utm_source,
            utm_campaign: nonempty("utm_campaign"),
            name,
        }
    }

    /// The first-touch source a link's evidence visit names.
    pub fn of_link(link: &Link, site_hosts: &[String]) -> Source {
        Source::of(link.visit_referrer.as_deref(), &link.visit_utm, site_hosts)
    }
}

/// Visits to the pages of each tier.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TierVisits {
    pub very_hot: usize,
    pub hot: usize,
    pub warm: usize,
}

/// One lead of the period.
#[derive(Clone, Debug, Serialize)]
pub struct Lead {
    pub ip: IpAddr,
    pub user_agent: String,
    /// The visitor's first visit in the period.
    pub first_seen: DateTime<FixedOffset>,
    /// The highest tier reached in the period.
    pub tier: PageTier,
    pub score: u32,
    /// Visits to tracked pages in the period, and of them to each tier.
    pub visits: usize,
    pub pages: TierVisits,
    pub source: Source,
    /// The product user linked to the visitor (the earliest link), with its evidence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linked_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registered: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub converted: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    /// The linked user's MRR now (zero: free, or no user).
    #[serde(serialize_with = "super::money::cents")]
    pub mrr: Decimal,
    /// The user registered within `link_days` after the first visit.
    pub registered_within: bool,
    /// The user first paid within `link_days` after the first visit.
    pub paid_within: bool,
}

impl Lead {
    /// The score band's name.
    pub fn band(&self) -> &'static str {
        BANDS
            .iter()
            .rev()
            .find(|(low, _)| self.score >= *low)
            .map_or(BANDS[0].1, |(_, name)| name)
    }

    /// Whether the lead's outcome is known at `now`: it paid, or its `link_days` are over.
    pub fn settled(&self, now: DateTime<Utc>, link_days: u32) -> bool {
        self.paid_within
            || self.first_seen.with_timezone(&Utc) + Duration::days(i64::from(link_days)) <= now
    }
}

/// Leads, registrations and payments of one group (a tier, a band, a source).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Group {
    pub name: String,
    pub leads: u64,
    pub registered: u64,
    pub paid: u64,
    pub registered_share: Option<f64>,
    pub paid_share: Option<f64>,
}

/// New MRR of the period from users whose linked visitor came from one source.
#[derive(Clone, Debug, Serialize)]
pub struct SourceRevenue {
    pub source: String,
    pub users: u64,
    #[serde(serialize_with = "super::money::cents")]
    pub new_mrr: Decimal,
}

/// The `leads` section.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LeadsSection {
    pub link_days: u32,
    /// Leads (hot or very hot), and of them those that reached very hot.
    pub leads: u64,
    pub hot: u64,
    pub very_hot: u64,
    pub linked: u64,
    pub registered: u64,
    pub paid: u64,
    pub registered_share: Option<f64>,
    pub paid_share: Option<f64>,
    pub by_tier: Vec<Group>,
    pub by_score: Vec<Group>,
    /// Most leads first.
    pub by_source: Vec<Group>,
    /// Most new MRR first; users not linked to any visitor are `(not linked)`.
    pub revenue_by_source: Vec<SourceRevenue>,
}

/// Every lead of `period`, earliest first.
pub fn leads(src: &Sources<'_>, period: Period) -> Result<Vec<Lead>> {
    leads_with(src, period, &LinkStore::load(&src.config.data_dir)?)
}

fn leads_with(src: &Sources<'_>, period: Period, store: &LinkStore) -> Result<Vec<Lead>> {
    let config = src.config;
    let mut by_visitor: BTreeMap<(IpAddr, String), Vec<Visit>> = BTreeMap::new();
    for day in period.dates() {
        for v in visits::read_day(&config.data_dir, &src.state.visits, day)? {
            by_visitor
                .entry((v.ip, v.user_agent.clone()))
                .or_default()
                .push(v);
        }
    }
    let links = store.by_visitor();
    let window = Duration::days(i64::from(config.leads.link_days));
    let mut out = Vec::new();
    for ((ip, ua), visits) in by_visitor {
        if !visits.iter().any(|v| v.tier >= PageTier::Hot) {
            continue;
        }
        let Some(j) = journey::build(&visits, config.alerts.score) else {
            continue;
        };
        let first = &j.sessions[0];
        let link = links.get(&(ip, ua.as_str())).and_then(|l| l.first());
        let record = link.and_then(|l| src.users.get(&l.user));
        let within = |t: Option<DateTime<Utc>>| {
            let from = first.start.with_timezone(&Utc);
            t.is_some_and(|t| t >= from && t <= from + window)
        };
        out.push(Lead {
            ip,
            first_seen: first.start,
            tier: j.top_tier,
            score: j.score,
            visits: visits.len(),
            pages: TierVisits {
                very_hot: visits
                    .iter()
                    .filter(|v| v.tier == PageTier::VeryHot)
                    .count(),
                hot: visits.iter().filter(|v| v.tier == PageTier::Hot).count(),
                warm: visits.iter().filter(|v| v.tier == PageTier::Warm).count(),
            },
            source: Source::of(first.referrer.as_deref(), &first.utm, &config.site_hosts),
            user: link.map(|l| l.user.clone()),
            linked_by: link.map(|l| {
                format!(
                    "{} event {} at {}{}",
                    l.kind,
                    l.event,
                    l.event_time.to_rfc3339(),
                    if l.by_agent { ", same browser" } else { "" }
                )
            }),
            registered: record.and_then(|r| r.registered),
            converted: record.and_then(|r| r.converted),
            plan: record.and_then(|r| r.plan.clone()),
            mrr: record.map_or(Decimal::ZERO, |r| r.mrr),
            registered_within: within(record.and_then(|r| r.registered)),
            paid_within: within(record.and_then(|r| r.converted)),
            user_agent: ua,
        });
    }
    out.sort_by_key(|l| (l.first_seen, l.ip));
    Ok(out)
}

fn group<'a>(name: &str, leads: impl Iterator<Item = &'a Lead>) -> Group {
    let mut g = Group {
        name: name.to_string(),
        ..Group::default()
    };
    for l in leads {
        g.leads += 1;
        g.registered += u64::from(l.registered_within);
        g.paid += u64::from(l.paid_within);
    }
    g.registered_share = ratio(g.registered, g.leads);
    g.paid_share = ratio(g.paid, g.leads);
    g
}

/// The `leads` section of `period`.
pub fn compute(src: &Sources<'_>, period: Period) -> Result<LeadsSection> {
    let store = LinkStore::load(&src.config.data_dir)?;
    let all = leads_with(src, period, &store)?;
    let total = group("all", all.iter());
    let by_tier = [PageTier::Hot, PageTier::VeryHot]
        .into_iter()
        .map(|t| group(t.name(), all.iter().filter(|l| l.tier == t)))
        .collect();
    let by_score = BANDS
        .iter()
        .map(|(_, band)| group(band, all.iter().filter(|l| l.band() == *band)))
        .collect();
    let mut sources: BTreeMap<&str, Vec<&Lead>> = BTreeMap::new();
    for l in &all {
        sources.entry(l.source.name.as_str()).or_default().push(l);
    }
    let mut by_source: Vec<Group> = sources
        .into_iter()
        .map(|(name, leads)| group(name, leads.into_iter()))
        .collect();
    by_source.sort_by(|a, b| b.leads.cmp(&a.leads).then(a.name.cmp(&b.name)));
    Ok(LeadsSection {
        link_days: src.config.leads.link_days,
        leads: total.leads,
        hot: all.iter().filter(|l| l.tier == PageTier::Hot).count() as u64,
        very_hot: all.iter().filter(|l| l.tier == PageTier::VeryHot).count() as u64,
        linked: all.iter().filter(|l| l.user.is_some()).count() as u64,
        registered: total.registered,
        paid: total.paid,
        registered_share: total.registered_share,
        paid_share: total.paid_share,
        by_tier,
        by_score,
        by_source,
        revenue_by_source: revenue_by_source(src, period, &store),
    })
}

/// The MRR of a user's first conversion, if it happened in `[from, to)`.
fn new_mrr(record: &UserRecord, from: DateTime<Utc>, to: DateTime<Utc>) -> Option<Decimal> {
    let mut found = None;
    projection::replay(&record.billing, |b, m, _| {
        if m.conversion && found.is_none() && b.time >= from && b.time < to {
            found = Some(m.new);
        }
    });
    found
}

/// The period's new MRR (first conversions) by the first-touch source of each user's earliest
/// link.
fn revenue_by_source(src: &Sources<'_>, period: Period, store: &LinkStore) -> Vec<SourceRevenue> {
    let config = src.config;
    let from = super::start_of(config, period.since);
    let to = super::end_of(config, period.until);
    let mut first_link: BTreeMap<&str, &Link> = BTreeMap::new();
    for l in &store.links {
        let slot = first_link.entry(l.user.as_str()).or_insert(l);
        if (l.event_time, l.event, l.visit_time) < (slot.event_time, slot.event, slot.visit_time) {
            *slot = l;
        }
    }
    let mut by: BTreeMap<String, (u64, Decimal)> = BTreeMap::new();
    for (user, record) in src.users {
        let Some(mrr) = new_mrr(record, from, to) else {
            continue;
        };
        let name = first_link.get(user.as_str()).map_or_else(
            || "(not linked)".to_string(),
            |l| Source::of_link(l, &config.site_hosts).name,
        );
        let slot = by.entry(name).or_default();
        slot.0 += 1;
        slot.1 += mrr;
    }
    let mut out: Vec<SourceRevenue> = by
        .into_iter()
        .map(|(source, (users, new_mrr))| SourceRevenue {
            source,
            users,
            new_mrr,
        })
        .collect();
    out.sort_by(|a, b| b.new_mrr.cmp(&a.new_mrr).then(a.source.cmp(&b.source)));
    out
}
