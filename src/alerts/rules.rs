//! Threshold rules on product events: error rate over the last hour, conversion rate over the
//! last days, API cost of the current day, and silence (no event at all for hours).
//!
//! Inputs come from where they are exact and cheap: the error-rate window is read from the
//! event store itself (rollups are daily), the day and week sums from the activity rollups
//! (plus, in a dry run, the events not folded yet), silence from the newest event id (the
//! arrival time, so a backfill with old timestamps does not look like silence).

use std::collections::BTreeMap;

use anyhow::Result;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use rust_decimal::Decimal;

use crate::config::{Config, Rules};
use crate::events::event::{Event, EventId, EventKind};
use crate::events::store::EventStore;
use crate::rollup::activity::ActivityDay;

/// What the rules look at.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Inputs {
    pub window_commands: u64,
    pub window_errors: u64,
    pub today_api_cost: Decimal,
    pub period_registrations: u64,
    pub period_conversions: u64,
    /// Arrival time of the newest event; None when the store has never had one.
    pub last_event: Option<DateTime<Utc>>,
}

/// One rule's verdict.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    /// The rule's name in the ledger (`user_cost:ID` for one user).
    pub name: String,
    pub holds: bool,
    /// What was measured, in words, for the message.
    pub detail: String,
}

/// Reads the inputs. `days` gives the activity of a local day (committed rollups, plus unfolded
/// events in a dry run); `newest` is the newest event id known.
pub fn gather(
    config: &Config,
    store: &mut dyn EventStore,
    days: &dyn Fn(NaiveDate) -> Result<ActivityDay>,
    newest: Option<EventId>,
    now: DateTime<Utc>,
) -> Result<Inputs> {
    let rules = &config.alerts.rules;
    let mut inputs = Inputs {
        last_event: newest.map(EventId::time),
        ..Inputs::default()
    };
    if let Some(rule) = &rules.error_rate {
        let start = now - Duration::minutes(i64::from(rule.window_minutes));
        let start_ms = u64::try_from(start.timestamp_millis()).unwrap_or(0);
        let mut cursor = Some(EventId {
            ms: start_ms.saturating_sub(1),
            seq: u64::MAX,
        });
        loop {
            let page = store.read_after(cursor, crate::events::fold::PAGE)?;
            let Some(last) = page.last() else { break };
            cursor = Some(last.id);
            for entry in &page {
                let Ok(event) = Event::parse(entry) else {
                    continue;
                };
                if event.time < start {
                    continue;
                }
                match event.kind {
                    EventKind::Command { .. } => inputs.window_commands += 1,
                    EventKind::Error { .. } => inputs.window_errors += 1,
                    _ => {}
                }
                inputs.last_event = inputs.last_event.max(Some(event.id.time()));
            }
        }
    }
    let today = now.with_timezone(&config.timezone).date_naive();
    if rules.api_cost.is_some() {
        inputs.today_api_cost = days(today)?.api.values().map(|a| a.cost).sum();
    }
    if let Some(rule) = &rules.conversion_rate {
        for back in 0..i64::from(rule.days) {
            let day = days(today - Duration::days(back))?;
            inputs.period_registrations += day.registrations;
            inputs.period_conversions += day.conversions;
        }
    }
    Ok(inputs)
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// Every enabled rule's verdict on `inputs`.
pub fn evaluate(rules: &Rules, inputs: &Inputs, now: DateTime<Utc>) -> Vec<Verdict> {
    let mut out = Vec::new();
    if let Some(r) = &rules.error_rate {
        let rate = percent(inputs.window_errors, inputs.window_commands);
        out.push(Verdict {
            name: "error_rate".into(),
            holds: inputs.window_commands >= r.min_commands && rate > r.percent,
            detail: format!(
                "error rate {rate:.1}% ({} errors, {} commands) in the last {} min; alert above \
                 {}% with at least {} commands",
                inputs.window_errors,
                inputs.window_commands,
                r.window_minutes,
                r.percent,
                r.min_commands
            ),
        });
    }
    if let Some(r) = &rules.conversion_rate {
        let rate = percent(inputs.period_conversions, inputs.period_registrations);
        out.push(Verdict {
            name: "conversion_rate".into(),
            holds: inputs.period_registrations >= r.min_registrations && rate < r.percent,
            detail: format!(
                "conversion rate {rate:.1}% ({} conversions, {} registrations) in the last {} \
                 days; alert below {}% with at least {} registrations",
                inputs.period_conversions,
                inputs.period_registrations,
                r.days,
                r.percent,
                r.min_registrations
            ),
        });
    }
    if let Some(r) = &rules.api_cost {
        out.push(Verdict {
            name: "api_cost".into(),
            holds: inputs.today_api_cost > r.per_day,
            detail: format!(
                "API cost today {} (alert above {})",
                inputs.today_api_cost.round_dp(2),
                r.per_day
            ),
        });
    }
    if let Some(r) = &rules.silence {
        let limit = Duration::hours(i64::from(r.hours));
        let (holds, detail) = match inputs.last_event {
            None => (false, "no event has ever arrived".to_string()),
            Some(last) => (
                now - last >= limit,
                format!(
                    "last event at {} ({} min ago); alert after {} h of silence",
                    last.format("%Y-%m-%d %H:%M UTC"),
                    (now - last).num_minutes(),
                    r.hours
                ),
            ),
        };
        out.push(Verdict {
            name: "silence".into(),
            holds,
            detail,
        });
    }
    out
}

/// One user's API cost over the rule's window, and what they pay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserCost {
    pub user: String,
    pub cost: Decimal,
    pub mrr: Decimal,
}

/// The ledger name of a user's `user_cost` rule.
pub fn user_cost_name(user: &str) -> String {
    format!("user_cost:{user}")
}

/// The `user_cost` verdicts: one for each user with a cost in the window, and a verdict that
/// does not hold for each user the ledger still has holding (`held`) who has none now, so that
/// it resolves.
pub fn user_cost(
    rule: &crate::config::UserCostRule,
    costs: &[UserCost],
    held: &[String],
    currency: &str,
) -> Vec<Verdict> {
    let days = Decimal::from(rule.window_days);
    let share = Decimal::try_from(rule.percent_of_mrr / 100.0).unwrap_or_default();
    let mut out: Vec<Verdict> = costs
        .iter()
        .map(|c| {
            let (limit, what) = if c.mrr > Decimal::ZERO {
                (
                    c.mrr * days / Decimal::from(30) * share,
                    format!(
                        "{}% of their MRR {} {currency} for {} days",
                        rule.percent_of_mrr,
                        c.mrr.round_dp(2),
                        rule.window_days
                    ),
                )
            } else {
                (
                    rule.free_user_per_day * days,
                    format!(
                        "{} {currency} a day for a free user",
                        rule.free_user_per_day
                    ),
                )
            };
            Verdict {
                name: user_cost_name(&c.user),
                holds: c.cost > limit,
                detail: format!(
                    "user {} cost {} {currency} in API calls in the last {} days (limit {} \
                     {currency}: {what})",
                    crate::escape::terminal(&c.user),
                    c.cost.round_dp(2),
                    rule.window_days,
                    limit.round_dp(2)
                ),
            }
        })
        .collect();
    for name in held {
        if !out.iter().any(|v| v.name == *name) {
            out.push(Verdict {
                name: name.clone(),
                holds: false,
                detail: format!(
                    "user {} has no API cost in the last {} days",
                    crate::escape::terminal(name.trim_start_matches("user_cost:")),
                    rule.window_days
                ),
            });
        }
    }
    out
}

/// Activity days from committed rollups, each loaded once.
pub struct DayCache<'a> {
    load: Box<dyn Fn(NaiveDate) -> Result<ActivityDay> + 'a>,
    cache: std::cell::RefCell<BTreeMap<NaiveDate, ActivityDay>>,
}

impl<'a> DayCache<'a> {
    pub fn new(load: impl Fn(NaiveDate) -> Result<ActivityDay> + 'a) -> DayCache<'a> {
        DayCache {
            load: Box::new(load),
            cache: Default::default(),
        }
    }

    pub fn get(&self, day: NaiveDate) -> Result<ActivityDay> {
        if let Some(d) = self.cache.borrow().get(&day) {
            return Ok(d.clone());
        }
        let d = (self.load)(day)?;
        self.cache.borrow_mut().insert(day, d.clone());
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ApiCostRule, ConversionRateRule, ErrorRateRule, SilenceRule};

    fn rules() -> Rules {
        Rules {
            error_rate: Some(ErrorRateRule::default()),
            conversion_rate: Some(ConversionRateRule::default()),
            api_cost: Some(ApiCostRule::default()),
            silence: Some(SilenceRule::default()),
            user_cost: None,
        }
    }

    fn holding(inputs: &Inputs, now: DateTime<Utc>) -> Vec<String> {
        evaluate(&rules(), inputs, now)
            .into_iter()
            .filter(|v| v.holds)
            .map(|v| v.name)
            .collect()
    }

    #[test]
    fn the_original_defaults() {
        let now = Utc::now();
        let quiet = Inputs {
            window_commands: 100,
            window_errors: 5,
            today_api_cost: Decimal::new(500, 2),
            period_registrations: 20,
            period_conversions: 1,
            last_event: Some(now - Duration::minutes(119)),
        };
        assert!(
            holding(&quiet, now).is_empty(),
            "5% is not above 5%, $5.00 not above $5, 1/20 not below 5%, 119 min not 2 h"
        );
        let loud = Inputs {
            window_errors: 6,
            today_api_cost: Decimal::new(501, 2),
            period_conversions: 0,
            last_event: Some(now - Duration::minutes(120)),
            ..quiet.clone()
        };
        assert_eq!(
            holding(&loud, now),
            ["error_rate", "conversion_rate", "api_cost", "silence"]
        );
        let few = Inputs {
            window_commands: 19,
            window_errors: 19,
            period_registrations: 19,
            ..loud
        };
        assert_eq!(
            holding(&few, now),
            ["api_cost", "silence"],
            "too few commands and registrations to judge"
        );
        let never = Inputs {
            last_event: None,
            ..Inputs::default()
        };
        assert!(
            holding(&never, now).is_empty(),
            "an unused store is not silent"
        );
    }
}
