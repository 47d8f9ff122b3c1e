//! What became of the leads that alerted: each alerted visitor is watched for `link_days`;
//! when the product user linked to it (see [`crate::links`]) converts (and, if configured,
//! registers) after the alert, the next digest says so, once. Alerts for a visitor already
//! linked name the user and their plan.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::ledger::RuleAlert;
use super::{LeadItem, RuleItem};
use crate::events::projection::UserRecord;
use crate::links::LinkStore;

/// The name outcome notices go out under.
pub const NAME: &str = "lead_outcome";

/// A lead that alerted, and which of its outcomes were told.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Watched {
    pub ip: IpAddr,
    /// The build before kept the browser here; the list's key holds its hash
    /// ([`super::leads::visitor_key`]), which is all a check needs.
    #[serde(default, rename = "user_agent", skip_serializing)]
    pub legacy_user_agent: Option<String>,
    /// When the visit that first alerted happened.
    pub alerted_at: DateTime<Utc>,
    #[serde(default)]
    pub registered_told: bool,
    #[serde(default)]
    pub converted_told: bool,
}

/// The watched leads, by visitor key (the state's record).
pub type Outcomes = BTreeMap<String, Watched>;

/// The watch list's entry for the lead of `item`. `known` is the linked user's record when the
/// alert names them: what they had done by then is in the alert, so it is not told again.
pub fn watched(item: &LeadItem, known: Option<&UserRecord>) -> Watched {
    Watched {
        ip: item.journey.ip,
        legacy_user_agent: None,
        alerted_at: item.raised_at,
        registered_told: known.is_some_and(|r| r.registered.is_some()),
        converted_told: known.is_some_and(|r| r.converted.is_some()),
    }
}

/// The user linked to a visitor (the earliest link), from [`LinkStore::by_visitor`].
pub fn linked_user<'a, S: std::hash::BuildHasher>(
    by_visitor: &HashMap<(IpAddr, &str), Vec<&'a crate::links::Link>, S>,
    ip: IpAddr,
    user_agent: &str,
) -> Option<&'a str> {
    by_visitor
        .get(&(ip, user_agent))
        .and_then(|l| l.first().map(|l| l.user.as_str()))
}

/// The earliest link of each visitor, by the visitor's key in the watch list.
fn by_key(links: &LinkStore) -> HashMap<String, &crate::links::Link> {
    links
        .by_visitor()
        .into_iter()
        .filter_map(|((ip, ua), l)| Some((super::leads::visitor_key(ip, ua), *l.first()?)))
        .collect()
}

/// `user 42 (pro, 29.00 USD/month)` or `user 42 (free)`.
pub fn describe_user(user: &str, record: Option<&UserRecord>, currency: &str) -> String {
    match record {
        Some(r) if r.is_paying() => format!(
            "user {user} ({}, {:.2} {currency}/month)",
            r.plan.as_deref().unwrap_or("paid"),
            r.mrr.round_dp(2)
        ),
        Some(_) => format!("user {user} (free)"),
        None => format!("user {user}"),
    }
}

/// Calendar days between the two, in the configured time zone.
fn ago(then: DateTime<Utc>, now: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
    let day = |t: DateTime<Utc>| t.with_timezone(&tz).date_naive();
    match (day(now) - day(then)).num_days() {
        0 => "today".to_string(),
        1 => "1 day ago".to_string(),
        n => format!("{n} days ago"),
    }
}

/// What a check reads.
pub struct Check<'a> {
    pub links: &'a LinkStore,
    pub users: &'a BTreeMap<String, UserRecord>,
    pub now: DateTime<Utc>,
    pub link_days: u32,
    pub registration: bool,
    pub currency: &'a str,
    pub timezone: chrono_tz::Tz,
}

impl Check<'_> {
    /// The users the watched leads are linked to (to load from the projection).
    pub fn wanted(links: &LinkStore, outcomes: &Outcomes) -> Vec<String> {
        let by = by_key(links);
        let mut out: Vec<String> = outcomes
            .keys()
            .filter_map(|key| by.get(key).map(|l| l.user.clone()))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The notices due, marking them told; leads watched longer than `link_days` are
    /// forgotten.
    pub fn run(&self, outcomes: &mut Outcomes) -> Vec<RuleItem> {
        let window = Duration::days(i64::from(self.link_days));
        outcomes.retain(|_, w| self.now - w.alerted_at <= window);
        let by = by_key(self.links);
        let mut out = Vec::new();
        for (key, w) in outcomes.iter_mut() {
            let Some(link) = by.get(key) else {
                continue;
            };
            let Some(record) = self.users.get(&link.user) else {
                continue;
            };
            // An outcome of before the lead (an old customer reading /pricing) is not news.
            let since = w.alerted_at - Duration::days(1);
            let after = |t: Option<DateTime<Utc>>| t.filter(|t| *t >= since);
            let registered = after(record.registered);
            let converted = after(record.converted);
            let mut said = None;
            if let Some(at) = converted.filter(|_| !w.converted_told) {
                let plan = crate::events::projection::plan_at(
                    &record.billing,
                    at + Duration::milliseconds(1),
                );
                let mrr = if plan.mrr.is_zero() {
                    record.mrr
                } else {
                    plan.mrr
                };
                let first = if registered.is_some() && !w.registered_told {
                    format!("registered as user {} and converted", link.user)
                } else {
                    format!("user {} converted", link.user)
                };
                said = Some(format!(
                    "{first} to {} at {:.2} {}/month",
                    plan.plan
                        .or_else(|| record.plan.clone())
                        .unwrap_or_else(|| "a paid plan".into()),
                    mrr.round_dp(2),
                    self.currency
                ));
                w.converted_told = true;
                w.registered_told = true;
            } else if registered.is_some() && self.registration && !w.registered_told {
                said = Some(format!("registered as user {}", link.user));
                w.registered_told = true;
            }
            if let Some(said) = said {
                out.push(RuleItem {
                    name: NAME.to_string(),
                    kind: RuleAlert::Fired,
                    raised_at: self.now,
                    since: Some(w.alerted_at),
                    detail: format!(
                        "{}, alerted {}, {said}",
                        w.ip,
                        ago(w.alerted_at, self.now, self.timezone)
                    ),
                });
            }
        }
        out
    }
}
