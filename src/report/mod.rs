//! `report daily|weekly|monthly`: one model of a closed period (KPIs with their change against
//! the period before, top pages and referrers, the period's hot and warm leads with journeys,
//! the alerts sent, a per-day series), and one renderer per format: Markdown (with Unicode
//! sparklines) and HTML (pulldown-cmark's rendering of the same Markdown, with an inline SVG
//! chart), each in its own file. Visitor-supplied text only ever appears inside code spans,
//! which neither Markdown nor HTML interprets, defused where a client could make a link of it.

mod html;
mod kpis;
mod markdown;

use std::collections::BTreeMap;
use std::net::IpAddr;

use anyhow::Result;
use chrono::{Datelike, Duration, NaiveDate};
use serde::Serialize;

use crate::alerts::history::{self, Sent};
use crate::config::Config;
use crate::metrics::{self, Metrics, Named, Period, Sources};
use crate::page_tier::PageTier;
use crate::rollup::findings::Findings;
use crate::rollup::keys::VisitorKeys;
use crate::rollup::traffic;
use crate::visits::journey::{self, Journey};
use crate::visits::{self, Visit};

pub use markdown::sparkline;

/// Leads listed in full; the rest are counted.
pub const LISTED: usize = 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Daily,
    Weekly,
    Monthly,
}

impl Kind {
    /// The period closed before `date`, and the one before it.
    pub fn periods(self, date: NaiveDate) -> (Period, Period) {
        match self {
            Kind::Daily => {
                let day = date - Duration::days(1);
                let p = Period {
                    since: day,
                    until: day,
                };
                (p, p.previous())
            }
            Kind::Weekly => {
                let monday =
                    date - Duration::days(i64::from(date.weekday().num_days_from_monday()));
                let p = Period {
                    since: monday - Duration::days(7),
                    until: monday - Duration::days(1),
                };
                (p, p.previous())
            }
            Kind::Monthly => {
                let first = date.with_day(1).expect("day 1 exists");
                let until = first - Duration::days(1);
                let since = until.with_day(1).expect("day 1 exists");
                let prev_until = since - Duration::days(1);
                let prev_since = prev_until.with_day(1).expect("day 1 exists");
                (
                    Period { since, until },
                    Period {
                        since: prev_since,
                        until: prev_until,
                    },
                )
            }
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Kind::Daily => "Daily",
            Kind::Weekly => "Weekly",
            Kind::Monthly => "Monthly",
        }
    }

    fn this(self) -> &'static str {
        match self {
            Kind::Daily => "day",
            Kind::Weekly => "week",
            Kind::Monthly => "month",
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub kind: Kind,
    pub site_name: String,
    pub title: String,
    pub period: Period,
    pub previous: Period,
    pub currency: String,
    pub kpis: Vec<Kpi>,
    pub top_pages: Vec<Named>,
    pub top_referrers: Vec<Named>,
    /// The period's new MRR by the first-touch source of the paying users' linked visitors.
    pub top_sources: Vec<metrics::leads::SourceRevenue>,
    pub hot_leads: Vec<Journey>,
    pub hot_lead_count: usize,
    pub warm_leads: Vec<WarmLead>,
    pub warm_lead_count: usize,
    pub alerts: Vec<AlertSent>,
    pub per_day: Vec<metrics::DayTraffic>,
    /// Registrations per day, beside the traffic.
    pub registrations_per_day: Vec<u64>,
    /// The configured warm pages, and the hot and very hot ones, for labels (`/demo`,
    /// `/pricing or /trial`).
    pub warm_pages: String,
    pub intent_pages: String,
    /// Times are shown in the configured zone.
    #[serde(skip)]
    pub timezone: chrono_tz::Tz,
}

/// An alert of the period, and what the behaviour layer has found since about the lead's
/// address that day (an alert already sent is not taken back; the report says so).
#[derive(Clone, Debug, Serialize)]
pub struct AlertSent {
    #[serde(flatten)]
    pub sent: Sent,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub automated: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Kpi {
    pub name: String,
    pub value: String,
    pub previous: String,
    pub change: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct WarmLead {
    pub ip: IpAddr,
    pub browser: String,
    pub first_visit: chrono::DateTime<chrono::FixedOffset>,
    pub visits: usize,
    pub referrer: Option<String>,
}

/// The visits of a period's days, grouped by visitor.
/// The period's visits by visitor, those the behaviour layer finds automated left out.
fn visitors_of(
    config: &Config,
    state: &crate::state::State,
    period: Period,
    findings: &mut Findings<'_>,
) -> Result<BTreeMap<(IpAddr, String), Vec<Visit>>> {
    let mut by: BTreeMap<(IpAddr, String), Vec<Visit>> = BTreeMap::new();
    for day in period.dates() {
        for v in visits::read_day(&config.data_dir, &state.visits, day)? {
            if findings.of_visitor(v.ip, &v.user_agent, v.time)?.is_none() {
                by.entry((v.ip, v.user_agent.clone())).or_default().push(v);
            }
        }
    }
    Ok(by)
}

/// The period's visitors as hot leads (with their journeys) and warm ones.
fn leads_of(
    config: &Config,
    by_visitor: BTreeMap<(IpAddr, String), Vec<Visit>>,
) -> (Vec<Journey>, Vec<WarmLead>) {
    let mut hot = Vec::new();
    let mut warm = Vec::new();
    for visits in by_visitor.into_values() {
        let top = visits
            .iter()
            .map(|v| v.tier)
            .max()
            .unwrap_or(PageTier::Warm);
        if top >= PageTier::Hot {
            if let Some(j) = journey::build(&visits, config.alerts.score) {
                hot.push(j);
            }
        } else {
            let first = visits
                .iter()
                .min_by_key(|v| v.time)
                .expect("a visitor has visits");
            warm.push(WarmLead {
                ip: first.ip,
                browser: journey::describe_agent(&first.user_agent),
                first_visit: first.time,
                visits: visits.len(),
                referrer: first.referrer.clone(),
            });
        }
    }
    (hot, warm)
}

/// The alerts sent in `[start, end)`, each lead marked if its address has since been found
/// automated that day.
fn alerts_sent(
    config: &Config,
    (start, end): (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>),
    findings: &mut Findings<'_>,
) -> Result<Vec<AlertSent>> {
    history::read(&config.data_dir, start, end)?
        .into_iter()
        .map(|sent| {
            let automated = match sent.ip {
                Some(ip) if sent.kind == "lead" => findings
                    .of_address(ip, sent.sent_at)?
                    .map(|f| f.to_string()),
                _ => None,
            };
            Ok(AlertSent { sent, automated })
        })
        .collect()
}

/// Builds the report of `kind` for the period closed before `date`.
pub fn build(src: &Sources<'_>, kind: Kind, date: NaiveDate) -> Result<Report> {
    build_in(&metrics::Days::new(src), kind, date)
}

/// [`build`], from rollup days already read (the dashboard builds three reports beside its
/// own metrics from one reading).
pub fn build_in(days: &metrics::Days<'_>, kind: Kind, date: NaiveDate) -> Result<Report> {
    let src = days.src;
    let config = src.config;
    let (period, previous) = kind.periods(date);
    let (m, p): (Metrics, Metrics) = (
        metrics::compute_in(days, period)?,
        metrics::compute_in(days, previous)?,
    );
    let end = metrics::end_of(config, period.until);
    let start = metrics::start_of(config, period.since);

    let mut findings = Findings::new(
        |day| traffic::load_day(&config.data_dir, &src.state.traffic, day),
        config.filters.behaviour,
        VisitorKeys::load_for_reading(&config.data_dir)?,
        config.timezone,
    );
    let (mut hot, mut warm) = leads_of(
        config,
        visitors_of(config, src.state, period, &mut findings)?,
    );
    hot.sort_by(|a, b| b.score.cmp(&a.score).then(a.ip.cmp(&b.ip)));
    warm.sort_by_key(|w| w.first_visit);
    let previous_hot = visitors_of(config, src.state, previous, &mut findings)?
        .values()
        .filter(|v| v.iter().any(|v| v.tier >= PageTier::Hot))
        .count();
    let (hot_count, warm_count) = (hot.len(), warm.len());
    hot.truncate(LISTED);
    warm.truncate(LISTED);

    let mut top_pages = m.traffic.top_pages.clone();
    top_pages.truncate(5);
    let mut top_referrers = m.traffic.top_referrers.clone();
    top_referrers.truncate(5);
    let mut top_sources = m.leads.revenue_by_source.clone();
    top_sources.truncate(5);
    let title = match kind {
        Kind::Daily => format!("{} report, {}", kind.noun(), period.since),
        Kind::Weekly => format!(
            "{} report, week {} ({} to {})",
            kind.noun(),
            period.since.iso_week().week(),
            period.since,
            period.until
        ),
        Kind::Monthly => format!("{} report, {}", kind.noun(), period.since.format("%B %Y")),
    };
    Ok(Report {
        kind,
        site_name: config.site_name.clone(),
        title,
        period,
        previous,
        currency: config.metrics.currency.clone(),
        kpis: kpis::kpis(&m, &p, (hot_count, previous_hot)),
        top_pages,
        top_referrers,
        top_sources,
        hot_leads: hot,
        hot_lead_count: hot_count,
        warm_leads: warm,
        warm_lead_count: warm_count,
        alerts: alerts_sent(config, (start, end), &mut findings)?,
        registrations_per_day: m.users.registrations_per_day.values().copied().collect(),
        per_day: m.traffic.per_day,
        warm_pages: config.pages_of(PageTier::Warm),
        intent_pages: intent_pages(config),
        timezone: config.timezone,
    })
}

/// The hot and very hot pages, as a label (`/pricing or /trial`).
fn intent_pages(config: &Config) -> String {
    let mut pages: Vec<&str> = config
        .pages
        .iter()
        .filter(|(_, t)| *t >= PageTier::Hot)
        .map(|(p, _)| p.as_str())
        .collect();
    pages.sort_unstable();
    match pages.as_slice() {
        [] => "a hot page".to_string(),
        [one] => (*one).to_string(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn periods_closed_before_the_date() {
        let (p, q) = Kind::Daily.periods(d("2026-11-23"));
        assert_eq!(
            (p.since, p.until, q.since),
            (d("2026-11-22"), d("2026-11-22"), d("2026-11-21"))
        );
        // Monday the 23rd: the week of the 16th to the 22nd.
        let (p, q) = Kind::Weekly.periods(d("2026-11-23"));
        assert_eq!((p.since, p.until), (d("2026-11-16"), d("2026-11-22")));
        assert_eq!((q.since, q.until), (d("2026-11-09"), d("2026-11-15")));
        let (p, _) = Kind::Weekly.periods(d("2026-11-25"));
        assert_eq!(
            p.since,
            d("2026-11-16"),
            "any day of the week gives the week before"
        );
        let (p, q) = Kind::Monthly.periods(d("2026-03-10"));
        assert_eq!((p.since, p.until), (d("2026-02-01"), d("2026-02-28")));
        assert_eq!((q.since, q.until), (d("2026-01-01"), d("2026-01-31")));
    }

    #[test]
    fn sparklines_scale_to_the_maximum() {
        assert_eq!(sparkline(&[0, 4, 8]), "▁▅█");
        assert_eq!(sparkline(&[0, 0]), "▁▁");
    }
}
