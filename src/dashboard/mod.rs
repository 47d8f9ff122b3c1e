//! The static dashboard: one self-contained page (`index.html`: inline CSS and SVG charts, no
//! script, a Content-Security-Policy that forbids every request) and the analytics API as files
//! (`api/*.json`, `api/report/*.md`), written into a folder any web server can serve. The
//! numbers are those of `metrics --json`, `status --json` and `report`, from the same code.
//! Each file is replaced atomically, so a reader never sees half of one.

mod charts;
mod figures;
mod page;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use rust_decimal::prelude::ToPrimitive;
use serde::Serialize;

use crate::metrics::render::{SECTIONS, json};
use crate::metrics::{self, Metrics, Period, Sources};
use crate::page_tier::PageTier;
use crate::visits::journey::{self, Journey};

/// One local day of the charts.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Day {
    pub day: NaiveDate,
    pub users: u64,
    pub registrations: u64,
    pub active_users: u64,
    pub mrr: f64,
    /// New and reactivated MRR.
    pub mrr_new: f64,
    pub mrr_expansion: f64,
    /// Negative: contraction and churn take MRR away.
    pub mrr_contraction: f64,
    pub mrr_churned: f64,
    pub commands: u64,
    pub errors: u64,
    pub error_rate: Option<f64>,
    pub api_cost: f64,
    pub api_cost_by_provider: BTreeMap<String, f64>,
    pub pageviews: u64,
    pub unique_visitors: u64,
    pub bot_hits: u64,
    pub hits: u64,
}

/// What the page shows.
pub struct Data<'a> {
    pub site_name: &'a str,
    pub currency: &'a str,
    pub timezone: &'a str,
    pub refresh_secs: u32,
    pub show_ips: bool,
    pub now: DateTime<Utc>,
    pub m: &'a Metrics,
    pub previous: &'a Metrics,
    pub days: &'a [Day],
    /// Hot leads of the last 7 days, best first, and how many there were.
    pub leads: &'a [Journey],
    pub lead_count: usize,
    pub previous_lead_count: usize,
    pub alerts: &'a Alerts,
    pub health: &'a crate::health::Report,
}

/// `api/alerts.json`: the rules holding now and what waits to be delivered.
#[derive(Debug, Serialize)]
pub struct Alerts {
    pub firing: Vec<Firing>,
    pub pending_leads: usize,
    pub pending_rules: Vec<String>,
    pub last_sent: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize)]
pub struct Firing {
    pub rule: String,
    pub since: DateTime<Utc>,
    pub last_alert: Option<DateTime<Utc>>,
}

/// What one build wrote.
#[derive(Debug, Serialize)]
pub struct Built {
    pub dir: PathBuf,
    pub files: usize,
    pub index_bytes: usize,
    pub seconds: f64,
}

/// Builds the dashboard of the last `days` local days (ending today) into `out`.
pub fn build(
    src: &Sources<'_>,
    health: &crate::health::Report,
    now: DateTime<Utc>,
    out: &Path,
    days: u32,
) -> Result<Built> {
    let started = Instant::now();
    let config = src.config;
    let today = now.with_timezone(&config.timezone).date_naive();
    let period = Period {
        since: today - Duration::days(i64::from(days.max(1)) - 1),
        until: today,
    };
    let rollups = metrics::Days::new(src);
    let (m, previous) = (
        &metrics::compute_in(&rollups, period)?,
        &metrics::compute_in(&rollups, period.previous())?,
    );
    let series = series(m, &metrics::daily_in(&rollups, period)?);
    let week = Period {
        since: today - Duration::days(6),
        until: today,
    };
    let (leads, lead_count) = hot_leads(src, week)?;
    let (_, previous_lead_count) = hot_leads(src, week.previous())?;
    let alerts = alerts(src.state);
    let data = Data {
        site_name: &config.site_name,
        currency: &config.metrics.currency,
        timezone: config.timezone.name(),
        refresh_secs: config.dashboard.refresh_secs,
        show_ips: config.dashboard.show_ips,
        now,
        m,
        previous,
        days: &series,
        leads: &leads,
        lead_count,
        previous_lead_count,
        alerts: &alerts,
        health,
    };
    let index = page::render(&data);

    let mut files = api_files(&rollups, &data, out, today)?;
    let index_bytes = index.len();
    files.push(("index.html".into(), index.into_bytes()));
    write_all(out, &files)?;
    Ok(Built {
        dir: out.to_path_buf(),
        files: files.len(),
        index_bytes,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The API as files: each `metrics` section, the overview, the alerts, the health, and the
/// three reports.
fn api_files(
    rollups: &metrics::Days<'_>,
    data: &Data<'_>,
    out: &Path,
    today: NaiveDate,
) -> Result<Vec<(PathBuf, Vec<u8>)>> {
    let (m, previous, now, series) = (data.m, data.previous, data.now, data.days);
    let mut files: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    let pretty = |v: &serde_json::Value| -> Vec<u8> {
        (serde_json::to_string_pretty(v).expect("JSON values serialise") + "\n").into_bytes()
    };
    for section in SECTIONS {
        files.push((
            PathBuf::from(format!("api/{section}.json")),
            pretty(&json(m, &[section])),
        ));
    }
    files.push((
        "api/overview.json".into(),
        pretty(&serde_json::json!({
            "period": m.period,
            "previous_period": previous.period,
            "built_at": now,
            "kpis": page::kpis(data),
            "hot_leads_last_7_days": data.lead_count,
            "per_day": series,
        })),
    ));
    files.push((
        "api/alerts.json".into(),
        pretty(&serde_json::to_value(data.alerts)?),
    ));
    files.push((
        "api/health.json".into(),
        pretty(&serde_json::to_value(data.health)?),
    ));
    files.extend(reports(rollups, out, today, now)?);
    Ok(files)
}

/// How long a report of a closed period is kept before it is built again (late events of
/// that period arrive, but a report is not news by the minute).
const REPORT_FRESH: Duration = Duration::hours(1);

/// The daily, weekly and monthly reports, each built again when its period changed or an
/// hour passed (`api/report/built.json` says when each was built, and for what period).
fn reports(
    rollups: &metrics::Days<'_>,
    out: &Path,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Vec<(PathBuf, Vec<u8>)>> {
    let ledger = out.join("api/report/built.json");
    let mut built: BTreeMap<String, (String, DateTime<Utc>)> = std::fs::read(&ledger)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let mut files = Vec::new();
    for (kind, name) in [
        (crate::report::Kind::Daily, "daily"),
        (crate::report::Kind::Weekly, "weekly"),
        (crate::report::Kind::Monthly, "monthly"),
    ] {
        let (period, _) = kind.periods(today);
        let key = format!("{}..{}", period.since, period.until);
        let rel = PathBuf::from(format!("api/report/{name}.md"));
        let fresh = built
            .get(name)
            .is_some_and(|(p, at)| *p == key && *at <= now && now - *at < REPORT_FRESH)
            && out.join(&rel).is_file();
        if fresh {
            continue;
        }
        let report = crate::report::build_in(rollups, kind, today)?;
        files.push((rel, report.markdown().into_bytes()));
        built.insert(name.to_string(), (key, now));
    }
    files.push((
        "api/report/built.json".into(),
        serde_json::to_vec_pretty(&built)?,
    ));
    Ok(files)
}

/// Writes every file through a temporary file and a rename; the folders are created (0755:
/// the folder is meant to be served).
fn write_all(out: &Path, files: &[(PathBuf, Vec<u8>)]) -> Result<()> {
    for (rel, bytes) in files {
        let path = out.join(rel);
        let dir = crate::fsutil::parent(&path);
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the dashboard folder {}", dir.display()))?;
        crate::fsutil::write_atomic(&path, bytes, 0o644)
            .with_context(|| format!("cannot write the dashboard file {}", path.display()))?;
    }
    Ok(())
}

fn money(d: rust_decimal::Decimal) -> f64 {
    d.to_f64().unwrap_or(0.0)
}

/// The chart days: what each day adds, and the totals at each day's end (users counted back
/// from the period's end by their registrations, MRR forward from its start by its movements).
fn series(m: &Metrics, daily: &[metrics::Daily]) -> Vec<Day> {
    let mut users_after = daily.iter().map(|d| d.registrations).sum::<u64>();
    let mut mrr = money(m.revenue.mrr_at_start);
    daily
        .iter()
        .map(|d| {
            users_after -= d.registrations;
            let gained = money(d.mrr_new + d.mrr_reactivation);
            let expansion = money(d.mrr_expansion);
            let (contraction, churned) = (money(d.mrr_contraction), money(d.mrr_churned));
            mrr += gained + expansion - contraction - churned;
            let cost: BTreeMap<String, f64> = d
                .api_cost
                .iter()
                .map(|(p, c)| (p.clone(), money(*c)))
                .collect();
            Day {
                day: d.day,
                users: m.users.total.saturating_sub(users_after),
                registrations: d.registrations,
                active_users: d.active_users,
                mrr,
                mrr_new: gained,
                mrr_expansion: expansion,
                mrr_contraction: -contraction.abs(),
                mrr_churned: -churned.abs(),
                commands: d.commands,
                errors: d.errors,
                error_rate: (d.commands > 0).then(|| d.errors as f64 / d.commands as f64),
                api_cost: cost.values().sum(),
                api_cost_by_provider: cost,
                pageviews: d.pageviews,
                unique_visitors: d.unique_visitors,
                bot_hits: d.bot_hits,
                hits: d.hits,
            }
        })
        .collect()
}

/// The hot leads of a period: visitors whose visits reached a hot or very hot page, with
/// their journeys, best first (at most 20), and how many there were.
fn hot_leads(src: &Sources<'_>, period: Period) -> Result<(Vec<Journey>, usize)> {
    let mut by: BTreeMap<(IpAddr, String), Vec<crate::visits::Visit>> = BTreeMap::new();
    for d in period.dates() {
        for v in crate::visits::read_day(&src.config.data_dir, &src.state.visits, d)? {
            by.entry((v.ip, v.user_agent.clone())).or_default().push(v);
        }
    }
    let mut leads: Vec<Journey> = by
        .values()
        .filter(|v| v.iter().any(|v| v.tier >= PageTier::Hot))
        .filter_map(|v| journey::build(v, src.config.alerts.score))
        .collect();
    leads.sort_by(|a, b| b.score.cmp(&a.score).then(a.ip.cmp(&b.ip)));
    let count = leads.len();
    leads.truncate(20);
    Ok((leads, count))
}

fn alerts(state: &crate::state::State) -> Alerts {
    let a = &state.alerts;
    // Every alert goes to email, so its queue says what waits.
    let email = a.queues.get(crate::alerts::queue::EMAIL);
    Alerts {
        firing: a
            .ledger
            .rules
            .iter()
            .filter_map(|(rule, e)| {
                e.holding_since.map(|since| Firing {
                    rule: rule.clone(),
                    since,
                    last_alert: e.last_alert,
                })
            })
            .collect(),
        pending_leads: email.map_or(0, |q| q.pending.leads.len()),
        pending_rules: email
            .map(|q| q.pending.rules.iter().map(|r| r.name.clone()).collect())
            .unwrap_or_default(),
        last_sent: a.last_sent(),
    }
}
