//! `scan`, the cron job: ingest the configured logs, fold new events, raise hot-lead and
//! threshold alerts, deliver what is due, save the state.
//!
//! Each step commits on its own, so a failing step loses nothing done before it: with Redis
//! down, the logs are still ingested and hot leads still sent; with SMTP down, the alerts stay
//! pending. The state is saved with the pending alerts *before* a send is tried and emptied only
//! after the server took the message (at-least-once: a crash between the two sends twice, never
//! zero times). A dry run does all the reading and none of the writing.

use std::time::Instant;

use anyhow::Result;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;

use crate::alerts::ledger::{Policy, RuleAlert};
use crate::alerts::message::Digest;
use crate::alerts::notify::{self, Notifier};
use crate::alerts::rules::{self, DayCache};
use crate::alerts::{RuleItem, ScanRecord, leads};
use crate::config::Config;
use crate::events::fold::{self, FoldSummary};
use crate::events::store::EventStore;
use crate::exit::Status;
use crate::ingest::{self, LogSource, Progress, Summary};
use crate::rollup::activity::ActivityDay;
use crate::state::{SCHEMA_VERSION, State, StateLock};

/// What a scan did, for its summary and `--json`.
#[derive(Debug, Serialize)]
pub struct ScanReport {
    pub dry_run: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ingest: Option<Summary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fold: Option<FoldSummary>,
    /// In a dry run: events read after the cursor (not folded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events_previewed: Option<u64>,
    /// Lead alerts raised by this run.
    pub leads: Vec<LeadReport>,
    /// Every enabled rule's verdict, and the alert it raised if any.
    pub rules: Vec<RuleReport>,
    /// Alerts waiting after this run.
    pub pending: usize,
    pub delivery: Delivery,
    pub errors: Vec<String>,
    pub seconds: f64,
}

#[derive(Debug, Serialize)]
pub struct LeadReport {
    pub ip: std::net::IpAddr,
    pub kind: crate::alerts::ledger::LeadAlert,
    pub tier: crate::page_tier::PageTier,
    pub score: u32,
}

#[derive(Debug, Serialize)]
pub struct RuleReport {
    pub name: &'static str,
    pub holds: bool,
    pub alert: Option<RuleAlert>,
    pub detail: String,
}

#[derive(Debug, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Delivery {
    NothingDue,
    Sent {
        to: String,
        subject: String,
        leads: usize,
        rules: usize,
    },
    /// `max_emails_per_hour` reached: the alerts wait for the next allowed message.
    RateLimited {
        next_allowed: DateTime<Utc>,
    },
    Failed {
        to: String,
        error: String,
    },
    /// A dry run: the message a real run would send now.
    WouldSend {
        to: String,
        subject: String,
        text: String,
    },
    /// A dry run under the rate limit.
    WouldWait {
        next_allowed: DateTime<Utc>,
    },
}

pub fn policy(config: &Config) -> Policy {
    let a = &config.alerts;
    Policy {
        dedup: Duration::hours(i64::from(a.dedup_hours)),
        cooldown: Duration::hours(i64::from(a.cooldown_hours)),
        resolved_notices: a.resolved_notices,
        max_per_hour: a.max_emails_per_hour as usize,
    }
}

/// Runs one scan under `lock`. Returns the report and the exit status; errors of single steps
/// are in the report (the run goes on without that step), only a state that cannot be read or
/// saved is an `Err`.
pub fn scan(
    config: &Config,
    lock: &StateLock,
    notifier: &Notifier,
    dry_run: bool,
) -> Result<(ScanReport, Status)> {
    let started = Instant::now();
    let now = Utc::now();
    let policy = policy(config);
    let data_dir = lock.data_dir();
    let mut state = lock.load()?;
    let mut errors: Vec<anyhow::Error> = Vec::new();
    let mut report = ScanReport {
        dry_run,
        ingest: None,
        fold: None,
        events_previewed: None,
        leads: Vec::new(),
        rules: Vec::new(),
        pending: 0,
        delivery: Delivery::NothingDue,
        errors: Vec::new(),
        seconds: 0.0,
    };

    // 1. Logs. A failed ingestion may have changed the state in memory: reload what is on disk.
    let sources = LogSource::configured(config);
    let mut preview_visits = Vec::new();
    if !sources.is_empty() {
        let result = if dry_run {
            ingest::preview(config, lock, &state, &sources).map(|(summary, visits)| {
                preview_visits = visits;
                summary
            })
        } else {
            ingest::ingest(config, lock, &mut state, &sources, Progress::Hidden)
        };
        match result {
            Ok(summary) => {
                errors.extend(summary.errors.iter().map(|e| anyhow::anyhow!("{e}")));
                report.ingest = Some(summary);
            }
            Err(err) => {
                errors.push(err.context("ingesting the access logs failed"));
                state = lock.load()?;
            }
        }
    }

    // 2. Events.
    let mut store = match crate::events::open(config) {
        Ok(store) => Some(store),
        Err(err) => {
            errors.push(err);
            None
        }
    };
    let mut preview_days = std::collections::BTreeMap::new();
    let mut newest = state.events_cursor;
    if let Some(s) = store.as_mut() {
        let result = if dry_run {
            fold::preview(config, &state, s.as_mut()).map(|p| {
                report.events_previewed = Some(p.events);
                preview_days = p.days;
                newest = p.newest;
            })
        } else {
            fold::fold(config, lock, &mut state, s.as_mut()).map(|f| {
                newest = state.events_cursor;
                report.fold = Some(f);
            })
        };
        if let Err(err) = result {
            errors.push(err);
            store = None;
            state = lock.load()?;
        }
    }

    // 3. Hot leads.
    let max_age = Duration::hours(i64::from(config.alerts.lead_max_age_hours));
    let oldest: NaiveDate = if max_age.is_zero() {
        NaiveDate::MIN
    } else {
        (now - max_age - Duration::days(1)).date_naive()
    };
    let mut ledger = std::mem::take(&mut state.alerts.ledger);
    let lead_result = leads::unscanned(data_dir, &state, oldest).and_then(|unscanned| {
        let mut new = unscanned.visits;
        new.extend(preview_visits.iter().cloned());
        let items = leads::evaluate(
            &mut ledger,
            &policy,
            config.alerts.score,
            max_age,
            &new,
            &preview_visits,
            data_dir,
            &state,
            now,
        )?;
        Ok((items, unscanned.scanned))
    });
    match lead_result {
        Ok((items, scanned)) => {
            state.alerts.scanned = scanned;
            for item in items {
                report.leads.push(LeadReport {
                    ip: item.journey.ip,
                    kind: item.kind,
                    tier: item.journey.top_tier,
                    score: item.journey.score,
                });
                state.alerts.pending.push_lead(item);
            }
        }
        Err(err) => errors.push(err.context("reading the visits for hot leads failed")),
    }

    report.leads.sort_by_key(|l| std::cmp::Reverse(l.score));

    // 4. Threshold rules, only when the event store answered (a rule never resolves or fires on
    // numbers that could not be read).
    if let Some(s) = store.as_mut() {
        match evaluate_rules(config, &state, s.as_mut(), &preview_days, newest, now) {
            Ok(verdicts) => {
                for v in verdicts {
                    let alert = ledger.rule(v.name, v.holds, now, &policy);
                    if let Some(kind) = alert {
                        state.alerts.pending.rules.push(RuleItem {
                            name: v.name.to_string(),
                            kind,
                            raised_at: now,
                            detail: v.detail.clone(),
                        });
                    }
                    report.rules.push(RuleReport {
                        name: v.name,
                        holds: v.holds,
                        alert,
                        detail: v.detail,
                    });
                }
            }
            Err(err) => errors.push(err.context("evaluating the threshold rules failed")),
        }
    }
    ledger.compact(now, &policy);

    // 5. Delivery.
    let pending = &state.alerts.pending;
    let due = !pending.is_empty();
    let allowed = ledger.may_send(now, &policy);
    let next_allowed = ledger
        .sent
        .iter()
        .min()
        .map_or(now, |t| *t + Duration::hours(1));
    state.alerts.ledger = ledger;
    if dry_run {
        report.pending = state.alerts.pending.len();
        if due {
            report.delivery = if allowed {
                let digest = digest(config, &state);
                Delivery::WouldSend {
                    to: notifier.describe(),
                    subject: digest.subject(),
                    text: digest.text(),
                }
            } else {
                Delivery::WouldWait { next_allowed }
            };
        }
        return Ok(finish(report, errors, started));
    }

    let mut sent = 0;
    if due && !allowed {
        report.delivery = Delivery::RateLimited { next_allowed };
    } else if due {
        state.version = SCHEMA_VERSION;
        lock.save(&state)?;
        crate::crashpoint::here("scan:before-send");
        let digest = digest(config, &state);
        let outcome = notify::mailboxes(config)
            .and_then(|(from, to)| digest.message(&from, &to))
            .and_then(|message| notifier.send(&message, Some(&digest)));
        match outcome {
            Ok(()) => {
                crate::crashpoint::here("scan:after-send");
                sent = 1;
                report.delivery = Delivery::Sent {
                    to: notifier.describe(),
                    subject: digest.subject(),
                    leads: digest.leads.len(),
                    rules: digest.rules.len(),
                };
                // The history is for reports; failing to write it must not resend the alerts.
                if let Err(err) = crate::alerts::history::record(data_dir, &digest, now) {
                    errors.push(err.context("cannot record the sent alerts"));
                }
                state.alerts.pending = Default::default();
                state.alerts.ledger.record_sent(now);
                state.alerts.last_sent = Some(now);
            }
            Err(err) => {
                report.delivery = Delivery::Failed {
                    to: notifier.describe(),
                    error: format!("{err:#}"),
                };
                errors.push(err);
            }
        }
    }
    report.pending = state.alerts.pending.len();
    let (report, status) = finish(report, errors, started);
    state.alerts.last_scan = Some(ScanRecord {
        at: now,
        status: status as u8,
        errors: report.errors.clone(),
        leads_raised: report.leads.len(),
        rules_raised: report.rules.iter().filter(|r| r.alert.is_some()).count(),
        messages_sent: sent,
        pending: report.pending,
    });
    state.version = SCHEMA_VERSION;
    lock.save(&state)?;
    Ok((report, status))
}

fn finish(
    mut report: ScanReport,
    errors: Vec<anyhow::Error>,
    started: Instant,
) -> (ScanReport, Status) {
    // The most actionable status wins: fix the config, then the data, then a failure, then
    // "try later".
    let status = [
        Status::Config,
        Status::DataError,
        Status::Partial,
        Status::TempFail,
    ]
    .into_iter()
    .find(|s| errors.iter().any(|e| Status::for_error(e) == *s))
    .unwrap_or(Status::Ok);
    report.errors = errors.iter().map(|e| format!("{e:#}")).collect();
    report.seconds = started.elapsed().as_secs_f64();
    (report, status)
}

fn evaluate_rules(
    config: &Config,
    state: &State,
    store: &mut dyn EventStore,
    preview: &std::collections::BTreeMap<NaiveDate, ActivityDay>,
    newest: Option<crate::events::event::EventId>,
    now: DateTime<Utc>,
) -> Result<Vec<rules::Verdict>> {
    let files = fold::activity_files(config);
    let cache = DayCache::new(|day| {
        let mut committed: ActivityDay = files.load(&state.activity, day)?;
        if let Some(extra) = preview.get(&day) {
            committed.merge(extra.clone());
        }
        Ok(committed)
    });
    let inputs = rules::gather(config, store, &|day| cache.get(day), newest, now)?;
    Ok(rules::evaluate(&config.alerts.rules, &inputs, now))
}

/// The message for everything pending, leads by score.
fn digest(config: &Config, state: &State) -> Digest {
    let pending = &state.alerts.pending;
    let mut digest = Digest {
        site_name: config.site_name.clone(),
        leads: pending.leads.to_vec(),
        rules: pending.rules.clone(),
    };
    digest.sort();
    digest
}
