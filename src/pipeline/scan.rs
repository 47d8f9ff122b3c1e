//! The scan stage, the cron job: ingest the configured logs, fold new events, raise hot-lead
//! and threshold alerts, deliver what is due, save the state.
//!
//! Each step commits on its own, so a failing step loses nothing done before it: with Redis
//! down, the logs are still ingested and hot leads still sent; with SMTP down, the alerts stay
//! pending. The state is saved with the pending alerts *before* a send is tried and emptied only
//! after the server took the message (at-least-once: a crash between the two sends twice, never
//! zero times). A dry run does all the reading and none of the writing.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::Result;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;

use super::Run;
use crate::accesslog::read::{LogSource, Progress};
use crate::accesslog::summary::Summary;
use crate::alerts::digest::Digest;
use crate::alerts::leads::{self, Leads};
use crate::alerts::ledger::{AlertLedger, Policy, RuleAlert};
use crate::alerts::rules::{self, DayCache};
use crate::alerts::{RuleItem, ScanRecord};
use crate::events::event::EventId;
use crate::events::fold::{self, FoldSummary};
use crate::events::store::EventStore;
use crate::exit::Status;
use crate::notify::{Notifier, mail};
use crate::rollup::activity::{self, ActivityDay};
use crate::state::{SCHEMA_VERSION, State};

use crate::visits::Visit;

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
    /// The product side at the end of the run: users, paying users, MRR, and today so far.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<Product>,
    /// Alerts waiting after this run.
    pub pending: usize,
    pub delivery: Delivery,
    pub errors: Vec<String>,
    pub seconds: f64,
}

/// The product numbers a scan shows beside its leads.
#[derive(Debug, Serialize)]
pub struct Product {
    pub users: u64,
    pub paying: u64,
    #[serde(serialize_with = "crate::metrics::money::cents")]
    pub mrr: rust_decimal::Decimal,
    /// The latest local day with activity, up to today, and what it holds so far.
    pub day: Option<chrono::NaiveDate>,
    pub registrations_today: u64,
    pub commands_today: u64,
    pub errors_today: u64,
    #[serde(serialize_with = "crate::metrics::money::cents")]
    pub api_cost_today: rust_decimal::Decimal,
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
        /// A message a run that died had frozen, delivered again as it was.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        again: bool,
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

/// Runs one scan under `run.lock`. Returns the report and the exit status; errors of single
/// steps are in the report (the run goes on without that step), only a state that cannot be
/// read or saved is an `Err`.
pub fn scan(run: &Run<'_>, notifier: &dyn Notifier, dry_run: bool) -> Result<(ScanReport, Status)> {
    let mut scan = Scan::start(run, dry_run)?;
    scan.logs()?;
    scan.events()?;
    scan.leads();
    scan.rules();
    scan.deliver(notifier)
}

/// One scan in progress.
struct Scan<'a> {
    run: &'a Run<'a>,
    dry_run: bool,
    started: Instant,
    now: DateTime<Utc>,
    policy: Policy,
    state: State,
    ledger: AlertLedger,
    errors: Vec<anyhow::Error>,
    report: ScanReport,
    store: Option<Box<dyn EventStore>>,
    /// In a dry run: the visits and the activity the run would have committed.
    preview_visits: Vec<Visit>,
    preview_days: BTreeMap<NaiveDate, ActivityDay>,
    /// The newest event known (folded, or previewed).
    newest: Option<EventId>,
}

impl<'a> Scan<'a> {
    fn start(run: &'a Run<'a>, dry_run: bool) -> Result<Scan<'a>> {
        let state = run.lock.load()?;
        Ok(Scan {
            run,
            dry_run,
            started: Instant::now(),
            now: run.clock.now(),
            policy: Policy::from_config(&run.config.alerts),
            newest: state.events_cursor,
            state,
            ledger: AlertLedger::default(),
            errors: Vec::new(),
            report: ScanReport {
                dry_run,
                ingest: None,
                fold: None,
                events_previewed: None,
                leads: Vec::new(),
                rules: Vec::new(),
                product: None,
                pending: 0,
                delivery: Delivery::NothingDue,
                errors: Vec::new(),
                seconds: 0.0,
            },
            store: None,
            preview_visits: Vec::new(),
            preview_days: BTreeMap::new(),
        })
    }

    /// Step 1, logs: A failed ingestion may have changed the state in memory: reload what is on disk.
    fn logs(&mut self) -> Result<()> {
        let sources = LogSource::configured(self.run.config);
        if sources.is_empty() {
            return Ok(());
        }
        let result = if self.dry_run {
            super::ingest::preview(self.run, &self.state, &sources).map(|(summary, visits)| {
                self.preview_visits = visits;
                summary
            })
        } else {
            super::ingest::ingest(self.run, &mut self.state, &sources, Progress::Hidden)
        };
        match result {
            Ok(summary) => {
                self.errors
                    .extend(summary.errors.iter().map(|e| anyhow::anyhow!("{e}")));
                self.report.ingest = Some(summary);
            }
            Err(err) => {
                self.errors
                    .push(err.context("ingesting the access logs failed"));
                self.state = self.run.lock.load()?;
            }
        }
        Ok(())
    }

    /// Step 2, events.
    fn events(&mut self) -> Result<()> {
        let mut store = match crate::events::open(self.run.config) {
            Ok(store) => store,
            Err(err) => {
                self.errors.push(err);
                return Ok(());
            }
        };
        let result = if self.dry_run {
            fold::preview(
                self.run.config.timezone,
                self.state.events_cursor,
                store.as_mut(),
            )
            .map(|p| {
                self.report.events_previewed = Some(p.events);
                self.preview_days = p.days;
                self.newest = p.newest;
            })
        } else {
            super::fold::fold(self.run, &mut self.state, store.as_mut()).map(|f| {
                self.newest = self.state.events_cursor;
                self.report.fold = Some(f);
            })
        };
        match result {
            Ok(()) => self.store = Some(store),
            Err(err) => {
                self.errors.push(err);
                self.state = self.run.lock.load()?;
                self.newest = self.state.events_cursor;
            }
        }
        Ok(())
    }

    /// Step 3, hot leads from the visits committed since the last scan.
    fn leads(&mut self) {
        let config = self.run.config;
        let max_age = Duration::hours(i64::from(config.alerts.lead_max_age_hours));
        let oldest: NaiveDate = if max_age.is_zero() {
            NaiveDate::MIN
        } else {
            (self.now - max_age - Duration::days(1)).date_naive()
        };
        self.ledger = std::mem::take(&mut self.state.alerts.ledger);
        let leads = Leads {
            policy: &self.policy,
            weights: config.alerts.score,
            max_age,
            data_dir: self.run.data_dir(),
            committed: &self.state.visits,
            now: self.now,
        };
        let scanned = &self.state.alerts.scanned;
        let result = leads::unscanned(leads.data_dir, leads.committed, scanned, oldest).and_then(
            |unscanned| {
                let mut new = unscanned.visits;
                new.extend(self.preview_visits.iter().cloned());
                let items = leads.evaluate(&mut self.ledger, &new, &self.preview_visits)?;
                Ok((items, unscanned.scanned))
            },
        );
        match result {
            Ok((items, scanned)) => {
                self.state.alerts.scanned = scanned;
                for item in items {
                    self.report.leads.push(LeadReport {
                        ip: item.journey.ip,
                        kind: item.kind,
                        tier: item.journey.top_tier,
                        score: item.journey.score,
                    });
                    self.state.alerts.pending.push_lead(item);
                }
            }
            Err(err) => self
                .errors
                .push(err.context("reading the visits for hot leads failed")),
        }
        self.report
            .leads
            .sort_by_key(|l| std::cmp::Reverse(l.score));
    }

    /// Step 4, threshold rules: only when the event store answered (a rule never resolves or
    /// fires on numbers that could not be read).
    fn rules(&mut self) {
        let Some(mut store) = self.store.take() else {
            self.ledger.compact(self.now, &self.policy);
            return;
        };
        self.report.product = self.product(store.as_mut()).ok();
        match self.verdicts(store.as_mut()) {
            Ok(verdicts) => {
                for v in verdicts {
                    let alert = self.ledger.rule(v.name, v.holds, self.now, &self.policy);
                    if let Some(kind) = alert {
                        self.state.alerts.pending.rules.push(RuleItem {
                            name: v.name.to_string(),
                            kind,
                            raised_at: self.now,
                            detail: v.detail.clone(),
                        });
                    }
                    self.report.rules.push(RuleReport {
                        name: v.name,
                        holds: v.holds,
                        alert,
                        detail: v.detail,
                    });
                }
            }
            Err(err) => self
                .errors
                .push(err.context("evaluating the threshold rules failed")),
        }
        self.store = Some(store);
        self.ledger.compact(self.now, &self.policy);
    }

    fn product(&self, store: &mut dyn EventStore) -> Result<Product> {
        let totals = store.projection_totals()?;
        let today = self
            .now
            .with_timezone(&self.run.config.timezone)
            .date_naive();
        let latest = self
            .state
            .activity
            .range(..=today)
            .next_back()
            .map(|(d, _)| *d)
            .into_iter()
            .chain(self.preview_days.keys().copied().filter(|d| *d <= today))
            .max();
        let mut day = match latest {
            Some(d) => activity::load_day(self.run.data_dir(), &self.state.activity, d)?,
            None => ActivityDay::default(),
        };
        if let Some(extra) = latest.and_then(|d| self.preview_days.get(&d)) {
            day.merge(extra.clone())?;
        }
        let mut api_cost = rust_decimal::Decimal::ZERO;
        for api in day.api.values() {
            api_cost = crate::metrics::money::add(api_cost, api.cost)?;
        }
        Ok(Product {
            users: totals.total,
            paying: totals.premium,
            mrr: totals.mrr,
            day: latest,
            registrations_today: day.registrations,
            commands_today: day.commands.values().sum(),
            errors_today: day.errors,
            api_cost_today: api_cost,
        })
    }

    fn verdicts(&self, store: &mut dyn EventStore) -> Result<Vec<rules::Verdict>> {
        let data_dir = self.run.data_dir();
        let cache = DayCache::new(|day| {
            let mut committed = activity::load_day(data_dir, &self.state.activity, day)?;
            if let Some(extra) = self.preview_days.get(&day) {
                committed.merge(extra.clone())?;
            }
            Ok(committed)
        });
        let config = self.run.config;
        let inputs = rules::gather(config, store, &|day| cache.get(day), self.newest, self.now)?;
        Ok(rules::evaluate(&config.alerts.rules, &inputs, self.now))
    }

    /// Step 5, delivery, then the state with this scan's record.
    fn deliver(mut self, notifier: &dyn Notifier) -> Result<(ScanReport, Status)> {
        let allowed = self.ledger.may_send(self.now, &self.policy);
        let next_allowed = self
            .ledger
            .sent
            .iter()
            .min()
            .map_or(self.now, |t| *t + Duration::hours(1));
        self.state.alerts.ledger = std::mem::take(&mut self.ledger);
        if self.dry_run {
            self.preview_delivery(notifier, allowed, next_allowed);
            return Ok(self.finish());
        }
        let mut sent = 0;
        // A message frozen by a run that died goes out first, as it was (its alerts were let
        // through the hourly limit then).
        if let Some(outgoing) = self.state.alerts.outgoing.take() {
            sent += self.send(notifier, outgoing, true);
        }
        if !self.state.alerts.pending.is_empty() {
            let allowed =
                sent == 0 && allowed || self.state.alerts.ledger.may_send(self.now, &self.policy);
            if allowed {
                let digest = self.freeze()?;
                sent += self.send(notifier, digest, false);
            } else {
                self.report.delivery = Delivery::RateLimited { next_allowed };
            }
        }
        self.report.pending = self.state.alerts.pending.len();
        let now = self.now;
        let run = self.run;
        let mut state = std::mem::take(&mut self.state);
        let (report, status) = self.finish();
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
        run.lock.save(&state)?;
        Ok((report, status))
    }

    /// What a real run would deliver now, for a dry run.
    fn preview_delivery(
        &mut self,
        notifier: &dyn Notifier,
        allowed: bool,
        next_allowed: DateTime<Utc>,
    ) {
        let alerts = &self.state.alerts;
        self.report.pending = alerts.pending.len()
            + alerts
                .outgoing
                .as_ref()
                .map_or(0, |d| d.leads.len() + d.rules.len());
        if alerts.pending.is_empty() && alerts.outgoing.is_none() {
            return;
        }
        self.report.delivery = if allowed || alerts.outgoing.is_some() {
            let digest = alerts
                .outgoing
                .clone()
                .unwrap_or_else(|| pending_digest(self.run, &alerts.pending));
            Delivery::WouldSend {
                to: notifier.describe(),
                subject: mail::subject(&digest),
                text: mail::text(&digest),
            }
        } else {
            Delivery::WouldWait { next_allowed }
        };
    }

    /// Moves everything pending into one message with its own id, and saves the state with it
    /// before anything is delivered: from now on the message is delivered as it is.
    fn freeze(&mut self) -> Result<Digest> {
        let pending = std::mem::take(&mut self.state.alerts.pending);
        let mut digest = pending_digest(self.run, &pending);
        digest.id = Digest::new_id();
        self.state.alerts.outgoing = Some(digest.clone());
        self.state.version = SCHEMA_VERSION;
        self.run.lock.save(&self.state)?;
        crate::crashpoint::here("scan:before-send");
        Ok(digest)
    }

    /// Delivers a frozen message. Taken: recorded in the history (once, even when delivered
    /// again after a crash) and out of the state. Refused: its alerts go back to the queue.
    /// Returns how many messages went out.
    fn send(&mut self, notifier: &dyn Notifier, digest: Digest, again: bool) -> usize {
        self.state.alerts.outgoing = None;
        match notifier.deliver(&digest) {
            Ok(()) => {
                crate::crashpoint::here("scan:after-send");
                self.report.delivery = Delivery::Sent {
                    to: notifier.describe(),
                    subject: mail::subject(&digest),
                    leads: digest.leads.len(),
                    rules: digest.rules.len(),
                    again,
                };
                // The history is for reports; failing to write it must not resend the alerts.
                let data_dir = self.run.data_dir();
                if let Err(err) = crate::alerts::history::record(data_dir, &digest, self.now) {
                    self.errors
                        .push(err.context("cannot record the sent alerts"));
                }
                self.state.alerts.ledger.record_sent(self.now);
                self.state.alerts.last_sent = Some(self.now);
                1
            }
            Err(err) => {
                self.report.delivery = Delivery::Failed {
                    to: notifier.describe(),
                    error: format!("{err:#}"),
                };
                self.errors.push(err);
                self.state.alerts.pending.restore(digest);
                0
            }
        }
    }

    fn finish(self) -> (ScanReport, Status) {
        let mut report = self.report;
        // The most actionable status wins: fix the config, then the data, then a failure, then
        // "try later".
        let status = [
            Status::Config,
            Status::Denied,
            Status::StoreLost,
            Status::DataError,
            Status::Partial,
            Status::TempFail,
        ]
        .into_iter()
        .find(|s| self.errors.iter().any(|e| Status::for_error(e) == *s))
        .unwrap_or(Status::Ok);
        report.errors = self.errors.iter().map(|e| format!("{e:#}")).collect();
        report.seconds = self.started.elapsed().as_secs_f64();
        (report, status)
    }
}

/// The message for everything in `pending`, leads by score (without an id yet).
fn pending_digest(run: &Run<'_>, pending: &crate::alerts::Pending) -> Digest {
    let mut digest = Digest {
        id: String::new(),
        site_name: run.config.site_name.clone(),
        leads: pending.leads.clone(),
        rules: pending.rules.clone(),
        report: None,
    };
    digest.sort();
    digest
}
