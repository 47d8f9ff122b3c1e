//! The scan stage, the cron job: ingest the configured logs, fold new events, raise hot-lead
//! and threshold alerts, deliver what is due, save the state.
//!
//! Each step commits on its own, so a failing step loses nothing done before it: with Redis
//! down, the logs are still ingested and hot leads still sent; with SMTP down, the alerts stay
//! pending. The state is saved with the pending alerts *before* a send is tried and emptied only
//! after the server took the message (at-least-once: a crash between the two sends twice, never
//! zero times). A dry run does all the reading and none of the writing.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Instant;

use anyhow::Result;
use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::Run;
use crate::accesslog::read::{LogSource, Progress};
use crate::alerts::leads::{self, Leads};
use crate::alerts::ledger::{AlertLedger, Policy};
use crate::alerts::queue::Takes;
use crate::alerts::rules::{self, DayCache};
use crate::alerts::{LeadItem, RuleItem};
use crate::events::event::EventId;
use crate::events::fold;
use crate::events::store::EventStore;
use crate::exit::Status;
use crate::geo;
use crate::notify::Channel;
use crate::rollup::activity::{self, ActivityDay};
use crate::rollup::findings::Findings;
use crate::rollup::keys::VisitorKeys;
use crate::rollup::traffic::{self, TrafficDay};
use crate::rollup::user_cost;
use crate::state::State;

use crate::visits::Visit;

mod deliver;
mod linked;
mod report;

pub use report::{ChannelReport, Delivery, LeadReport, Product, RuleReport, ScanReport};

/// Runs one scan under `run.lock`. Returns the report and the exit status; errors of single
/// steps are in the report (the run goes on without that step), only a state that cannot be
/// read or saved is an `Err`.
pub fn scan(run: &Run<'_>, channels: &[Channel], dry_run: bool) -> Result<(ScanReport, Status)> {
    let mut scan = Scan::start(run, dry_run)?;
    let takes: Vec<_> = channels.iter().map(Channel::takes).collect();
    scan.state.alerts.keep_channels(&takes);
    scan.logs()?;
    scan.events()?;
    scan.leads(&takes);
    scan.rules(&takes);
    scan.deliver(channels)
}

/// One scan in progress.
pub(super) struct Scan<'a> {
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
    preview_traffic: BTreeMap<NaiveDate, TrafficDay>,
    /// The newest event known (folded, or previewed).
    newest: Option<EventId>,
    /// The links store, read once (after the fold) for the leads and their outcomes.
    links: Option<crate::links::LinkStore>,
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
                automated_visits: 0,
                ignored_network_leads: 0,
                geo_problems: Vec::new(),
                rules: Vec::new(),
                product: None,
                pending: 0,
                delivery: Delivery::NothingDue,
                channels: Vec::new(),
                errors: Vec::new(),
                seconds: 0.0,
            },
            store: None,
            preview_visits: Vec::new(),
            preview_days: BTreeMap::new(),
            preview_traffic: BTreeMap::new(),
            links: None,
        })
    }

    /// Step 1, logs: A failed ingestion may have changed the state in memory: reload what is on disk.
    fn logs(&mut self) -> Result<()> {
        let sources = LogSource::configured(self.run.config);
        if sources.is_empty() {
            return Ok(());
        }
        let result = if self.dry_run {
            super::ingest::preview(self.run, &self.state, &sources).map(|p| {
                self.preview_visits = p.visits;
                self.preview_traffic = p.traffic;
                p.summary
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
    fn leads(&mut self, takes: &[Takes<'_>]) {
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
        let mut automated = 0;
        let result = leads::unscanned(leads.data_dir, leads.committed, scanned, oldest).and_then(
            |unscanned| {
                let mut new = unscanned.visits;
                new.extend(self.preview_visits.iter().cloned());
                automated = drop_automated(self.run, &self.state, &self.preview_traffic, &mut new)?;
                let items = leads.evaluate(&mut self.ledger, &new, &self.preview_visits)?;
                Ok((items, unscanned.scanned))
            },
        );
        self.report.automated_visits = automated;
        match result {
            Ok((items, scanned)) => {
                self.state.alerts.scanned = scanned;
                let items = self.enrich(items);
                let items = self.name_users(items);
                for item in items {
                    self.report.leads.push(LeadReport {
                        ip: item.journey.ip,
                        kind: item.kind,
                        tier: item.journey.top_tier,
                        score: item.journey.score,
                        origin: item.origin.clone(),
                    });
                    self.state.alerts.push_lead(&item, takes);
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

    /// Names each lead's network and place (`[geo]`), drops those of `ignore_networks`, and
    /// scores those of hosting networks lower.
    fn enrich(&mut self, items: Vec<LeadItem>) -> Vec<LeadItem> {
        let config = self.run.config;
        if items.is_empty() || !config.geo.enabled() {
            return items;
        }
        let today = self.now.with_timezone(&config.timezone).date_naive();
        let data_dir = self.run.data_dir();
        let mut cache = geo::GeoCache::load(data_dir).unwrap_or_else(|err| {
            self.report.geo_problems.push(format!("{err:#}"));
            geo::GeoCache::default()
        });
        let addresses: Vec<IpAddr> = items.iter().map(|i| i.journey.ip).collect();
        let mut enricher = geo::Enricher::open(&config.geo, &mut cache, today);
        let origins = enricher.origins(&addresses);
        self.report.geo_problems.append(&mut enricher.problems);
        if !self.dry_run
            && let Err(err) = cache.save(data_dir)
        {
            self.report.geo_problems.push(format!("{err:#}"));
        }
        let mut kept = Vec::with_capacity(items.len());
        for mut item in items {
            let origin = origins.get(&item.journey.ip).cloned();
            if let Some(o) = &origin {
                let ignored = config
                    .filters
                    .ignore_networks
                    .iter()
                    .any(|n| n.matches(o.asn, o.organisation.as_deref()));
                if ignored {
                    self.report.ignored_network_leads += 1;
                    continue;
                }
                if o.likely_automated() {
                    item.journey.score = item
                        .journey
                        .score
                        .saturating_sub(config.geo.hosting_penalty);
                }
            }
            item.origin = origin;
            kept.push(item);
        }
        kept
    }

    /// Step 4, threshold rules: only when the event store answered (a rule never resolves or
    /// fires on numbers that could not be read).
    fn rules(&mut self, takes: &[Takes<'_>]) {
        let Some(mut store) = self.store.take() else {
            self.ledger.compact(self.now, &self.policy);
            return;
        };
        self.report.product = self.product(store.as_mut()).ok();
        if let Err(err) = self.outcomes(store.as_mut(), takes) {
            self.errors
                .push(err.context("checking what became of alerted leads failed"));
        }
        match self.verdicts(store.as_mut()) {
            Ok(verdicts) => {
                for v in verdicts {
                    let since = self.ledger.rules.get(&v.name).and_then(|e| e.holding_since);
                    let alert = self.ledger.rule(&v.name, v.holds, self.now, &self.policy);
                    if let Some(kind) = alert {
                        let item = RuleItem {
                            name: v.name.clone(),
                            kind,
                            raised_at: self.now,
                            since: Some(since.unwrap_or(self.now)),
                            detail: v.detail.clone(),
                        };
                        self.state.alerts.push_rule(&item, takes);
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
        let mut verdicts = rules::evaluate(&config.alerts.rules, &inputs, self.now);
        if let Some(rule) = &config.alerts.rules.user_cost {
            let costs = self.user_costs(store, rule.window_days)?;
            let held: Vec<String> = self
                .ledger
                .rules
                .iter()
                .filter(|(name, e)| name.starts_with("user_cost:") && e.holding_since.is_some())
                .map(|(name, _)| name.clone())
                .collect();
            let currency = &config.metrics.currency;
            verdicts.extend(rules::user_cost(rule, &costs, &held, currency));
        }
        Ok(verdicts)
    }

    /// Each user's API cost over the last `window` local days (today included), with their
    /// MRR; the projection is read only when some user has a cost.
    fn user_costs(&self, store: &mut dyn EventStore, window: u32) -> Result<Vec<rules::UserCost>> {
        let today = self
            .now
            .with_timezone(&self.run.config.timezone)
            .date_naive();
        let days: Vec<NaiveDate> = (0..i64::from(window))
            .map(|back| today - chrono::Duration::days(back))
            .collect();
        let data_dir = self.run.data_dir();
        let mut by_hash = user_cost::sum(data_dir, &self.state.user_costs, days.iter().copied())?;
        for preview in days.iter().filter_map(|d| self.preview_days.get(d)) {
            user_cost::merge(&mut by_hash, preview.cost_by_user.clone())?;
        }
        if by_hash.is_empty() {
            return Ok(Vec::new());
        }
        let keys = VisitorKeys::load_for_reading(self.run.data_dir())?;
        let mut out = Vec::new();
        for (user, record) in store.all_users()? {
            if let Some(cost) = by_hash.get(&keys.user(&user)) {
                out.push(rules::UserCost {
                    user,
                    cost: *cost,
                    mrr: record.mrr,
                });
            }
        }
        Ok(out)
    }
}

/// Takes out the visits of visitors the behaviour layer finds automated (a scraper's
/// `/pricing` never alerts); returns how many.
fn drop_automated(
    run: &Run<'_>,
    state: &State,
    preview: &BTreeMap<NaiveDate, TrafficDay>,
    visits: &mut Vec<Visit>,
) -> Result<usize> {
    let config = run.config;
    if !config.filters.behaviour.enabled || visits.is_empty() {
        return Ok(0);
    }
    let data_dir = run.data_dir();
    let mut findings = Findings::new(
        |date| {
            let mut day = traffic::load_day(data_dir, &state.traffic, date)?;
            if let Some(more) = preview.get(&date) {
                day.merge(more);
            }
            Ok(day)
        },
        config.filters.behaviour,
        VisitorKeys::load_for_reading(data_dir)?,
        config.timezone,
    );
    let before = visits.len();
    let mut kept = Vec::with_capacity(before);
    for v in visits.drain(..) {
        if findings.of_visitor(v.ip, &v.user_agent, v.time)?.is_none() {
            kept.push(v);
        }
    }
    *visits = kept;
    Ok(before - visits.len())
}
