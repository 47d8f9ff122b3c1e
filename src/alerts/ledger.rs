//! The alert ledger: what was alerted when, so that a lead alerts once (again only when it
//! escalates from `hot` to `very_hot`, or after `dedup_hours`), a threshold rule fires once,
//! repeats at most every `cooldown_hours` while it holds and says "resolved" once when it stops,
//! It is plain data for the state file. (The hourly limit and the alerts due but not yet sent
//! are per channel, in [`super::queue`].)

use std::collections::BTreeMap;
use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::page_tier::PageTier;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertLedger {
    /// Per visitor (address and User-Agent hash): the last lead alert.
    #[serde(default)]
    pub leads: BTreeMap<String, LeadEntry>,
    /// Per threshold rule: whether it holds and when it last sent.
    #[serde(default)]
    pub rules: BTreeMap<String, RuleEntry>,
    /// Schema 2's record of sent messages, moved into the email channel's queue on load
    /// (`queue::Queue::sent`); never written.
    #[serde(default, skip_serializing)]
    pub sent: Vec<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeadEntry {
    pub ip: IpAddr,
    pub alerted_at: DateTime<Utc>,
    pub tier: PageTier,
    /// Visits seen since that alert without raising another.
    pub suppressed: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleEntry {
    /// Since when the rule holds (None: it does not).
    pub holding_since: Option<DateTime<Utc>>,
    pub last_alert: Option<DateTime<Utc>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeadAlert {
    New,
    Escalated,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleAlert {
    Fired,
    Repeated,
    Resolved,
}

/// The ledger's settings.
#[derive(Clone, Copy, Debug)]
pub struct Policy {
    pub dedup: Duration,
    pub cooldown: Duration,
    pub resolved_notices: bool,
}

impl Policy {
    /// The policy `[alerts]` configures.
    pub fn from_config(a: &crate::config::Alerts) -> Policy {
        Policy {
            dedup: Duration::hours(i64::from(a.dedup_hours)),
            cooldown: Duration::hours(i64::from(a.cooldown_hours)),
            resolved_notices: a.resolved_notices,
        }
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            dedup: Duration::hours(24),
            cooldown: Duration::hours(6),
            resolved_notices: true,
        }
    }
}

impl AlertLedger {
    /// A visit of `visitor` to a page of `tier` at `now`: does it raise a lead alert?
    pub fn lead(
        &mut self,
        visitor: &str,
        ip: IpAddr,
        tier: PageTier,
        now: DateTime<Utc>,
        policy: &Policy,
    ) -> Option<LeadAlert> {
        if tier < PageTier::Hot {
            return None; // warm pages go to the report, never to an alert
        }
        let alert = match self.leads.get_mut(visitor) {
            Some(entry) if now - entry.alerted_at < policy.dedup => {
                if tier > entry.tier {
                    Some(LeadAlert::Escalated)
                } else {
                    entry.suppressed += 1;
                    None
                }
            }
            _ => Some(LeadAlert::New),
        };
        if alert.is_some() {
            self.leads.insert(
                visitor.to_string(),
                LeadEntry {
                    ip,
                    alerted_at: now,
                    tier,
                    suppressed: 0,
                },
            );
        }
        alert
    }

    /// Rule `name` evaluated at `now`: does it send something?
    pub fn rule(
        &mut self,
        name: &str,
        holds: bool,
        now: DateTime<Utc>,
        policy: &Policy,
    ) -> Option<RuleAlert> {
        let entry = self.rules.entry(name.to_string()).or_default();
        let alert = match (holds, entry.holding_since, entry.last_alert) {
            (true, None, _) | (true, Some(_), None) => Some(RuleAlert::Fired),
            (true, Some(_), Some(last)) if now - last >= policy.cooldown => {
                Some(RuleAlert::Repeated)
            }
            (false, Some(_), _) if policy.resolved_notices => Some(RuleAlert::Resolved),
            (true, Some(_), Some(_)) | (false, _, _) => None,
        };
        if holds {
            entry.holding_since.get_or_insert(now);
        } else {
            entry.holding_since = None;
        }
        if alert.is_some() {
            entry.last_alert = Some(now);
        }
        alert
    }

    /// Forgets lead entries older than `dedup` (they can no longer suppress anything).
    pub fn compact(&mut self, now: DateTime<Utc>, policy: &Policy) {
        self.leads.retain(|_, e| now - e.alerted_at < policy.dedup);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(h: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_795_132_800 + h * 3600, 0).unwrap()
    }

    const IP: &str = "203.0.113.45";

    #[test]
    fn a_lead_alerts_once_escalates_once_and_again_after_dedup() {
        let p = Policy::default();
        let ip = IP.parse().unwrap();
        let mut l = AlertLedger::default();
        assert_eq!(
            l.lead("v", ip, PageTier::Warm, at(0), &p),
            None,
            "warm never alerts"
        );
        assert_eq!(
            l.lead("v", ip, PageTier::Hot, at(0), &p),
            Some(LeadAlert::New)
        );
        assert_eq!(l.lead("v", ip, PageTier::Hot, at(1), &p), None);
        assert_eq!(l.leads["v"].suppressed, 1);
        assert_eq!(
            l.lead("v", ip, PageTier::VeryHot, at(2), &p),
            Some(LeadAlert::Escalated)
        );
        assert_eq!(l.lead("v", ip, PageTier::VeryHot, at(3), &p), None);
        assert_eq!(
            l.lead("v", ip, PageTier::Hot, at(3), &p),
            None,
            "no de-escalation alert"
        );
        assert_eq!(
            l.lead("v", ip, PageTier::Hot, at(2 + 24), &p),
            Some(LeadAlert::New),
            "after dedup_hours"
        );
        assert_eq!(
            l.lead("w", ip, PageTier::Hot, at(3), &p),
            Some(LeadAlert::New),
            "another visitor"
        );
    }

    #[test]
    fn a_rule_fires_repeats_after_cooldown_and_resolves_once() {
        let p = Policy::default();
        let mut l = AlertLedger::default();
        assert_eq!(l.rule("error_rate", false, at(0), &p), None);
        assert_eq!(
            l.rule("error_rate", true, at(1), &p),
            Some(RuleAlert::Fired)
        );
        assert_eq!(l.rule("error_rate", true, at(2), &p), None);
        assert_eq!(
            l.rule("error_rate", true, at(7), &p),
            Some(RuleAlert::Repeated)
        );
        assert_eq!(l.rule("error_rate", true, at(8), &p), None);
        assert_eq!(
            l.rule("error_rate", false, at(9), &p),
            Some(RuleAlert::Resolved)
        );
        assert_eq!(
            l.rule("error_rate", false, at(10), &p),
            None,
            "resolved once"
        );
        assert_eq!(
            l.rule("error_rate", true, at(11), &p),
            Some(RuleAlert::Fired)
        );
        let quiet = Policy {
            resolved_notices: false,
            ..p
        };
        assert_eq!(l.rule("error_rate", false, at(12), &quiet), None);
    }

    #[test]
    fn the_ledger_round_trips_through_json() {
        let p = Policy::default();
        let mut l = AlertLedger::default();
        l.lead("v", IP.parse().unwrap(), PageTier::Hot, at(0), &p);
        l.rule("api_cost", true, at(0), &p);
        let back: AlertLedger = serde_json::from_str(&serde_json::to_string(&l).unwrap()).unwrap();
        assert_eq!(back, l);
        l.compact(at(25), &p);
        assert!(l.leads.is_empty());
    }
}
