//! `report daily|weekly|monthly`: one model of a closed period (KPIs with their change against
//! the period before, top pages and referrers, the period's hot and warm leads with journeys,
//! the alerts sent, a per-day series), and one renderer per format: Markdown (with Unicode
//! sparklines) and HTML (pulldown-cmark's rendering of the same Markdown, with an inline SVG
//! chart). Visitor-supplied text only ever appears defused inside code spans, which neither
//! Markdown nor HTML interprets.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;

use anyhow::Result;
use chrono::{Datelike, Duration, NaiveDate};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::alerts::history::{self, Sent};
use crate::config::Config;
use crate::escape::code_span as code;
use crate::metrics::render::{money, percent};
use crate::metrics::{self, Metrics, Named, Period, Sources};
use crate::page_tier::PageTier;
use crate::visits::journey::{self, Journey};
use crate::visits::{self, Visit};

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
    pub hot_leads: Vec<Journey>,
    pub hot_lead_count: usize,
    pub warm_leads: Vec<WarmLead>,
    pub warm_lead_count: usize,
    pub alerts: Vec<Sent>,
    pub per_day: Vec<metrics::DayTraffic>,
    /// Registrations per day, beside the traffic.
    pub registrations_per_day: Vec<u64>,
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

enum Value {
    Count(u64),
    Money(Decimal),
    Rate(Option<f64>),
}

fn change(now: &Value, before: &Value) -> String {
    let pct = |a: f64, b: f64| {
        if b == 0.0 {
            String::new()
        } else {
            format!(" ({:+.1}%)", (a - b) / b * 100.0)
        }
    };
    match (now, before) {
        (Value::Count(a), Value::Count(b)) => {
            format!("{:+}{}", *a as i64 - *b as i64, pct(*a as f64, *b as f64))
        }
        (Value::Money(a), Value::Money(b)) => {
            let d = (*a - *b).round_dp(2);
            let f = |d: Decimal| d.to_string().parse::<f64>().unwrap_or(0.0);
            format!(
                "{}{:.2}{}",
                if d.is_sign_negative() { "" } else { "+" },
                d,
                pct(f(*a), f(*b))
            )
        }
        (Value::Rate(Some(a)), Value::Rate(Some(b))) => format!("{:+.1} pp", (a - b) * 100.0),
        _ => "n/a".to_string(),
    }
}

fn kpis(m: &Metrics, p: &Metrics, hot: (usize, usize)) -> Vec<Kpi> {
    let c = &m.period.currency;
    let show = |v: &Value| match v {
        Value::Count(n) => n.to_string(),
        Value::Money(d) => money(*d, c),
        Value::Rate(r) => percent(*r),
    };
    let rows: Vec<(&str, Value, Value)> = vec![
        (
            "Users",
            Value::Count(m.users.total),
            Value::Count(p.users.total),
        ),
        (
            "Paying users",
            Value::Count(m.users.premium),
            Value::Count(p.users.premium),
        ),
        (
            "New registrations",
            Value::Count(m.users.new_registrations),
            Value::Count(p.users.new_registrations),
        ),
        (
            "Active users",
            Value::Count(m.costs.active_users),
            Value::Count(p.costs.active_users),
        ),
        (
            "MRR",
            Value::Money(m.revenue.mrr),
            Value::Money(p.revenue.mrr),
        ),
        (
            "Net new MRR",
            Value::Money(m.revenue.net_new_mrr),
            Value::Money(p.revenue.net_new_mrr),
        ),
        (
            "Conversion rate",
            Value::Rate(m.revenue.conversion_rate),
            Value::Rate(p.revenue.conversion_rate),
        ),
        (
            "Customer churn",
            Value::Rate(m.revenue.customer_churn_rate),
            Value::Rate(p.revenue.customer_churn_rate),
        ),
        (
            "Commands",
            Value::Count(m.engagement.commands),
            Value::Count(p.engagement.commands),
        ),
        (
            "Error rate",
            Value::Rate(m.engagement.error_rate),
            Value::Rate(p.engagement.error_rate),
        ),
        (
            "API cost",
            Value::Money(m.costs.api_cost),
            Value::Money(p.costs.api_cost),
        ),
        (
            "Pageviews",
            Value::Count(m.traffic.pageviews),
            Value::Count(p.traffic.pageviews),
        ),
        (
            "Unique visitors",
            Value::Count(m.traffic.unique_visitors),
            Value::Count(p.traffic.unique_visitors),
        ),
        (
            "Hot leads",
            Value::Count(hot.0 as u64),
            Value::Count(hot.1 as u64),
        ),
    ];
    rows.into_iter()
        .map(|(name, now, before)| Kpi {
            name: name.to_string(),
            value: show(&now),
            previous: show(&before),
            change: change(&now, &before),
        })
        .collect()
}

/// The visits of a period's days, grouped by visitor.
fn visitors_of(
    config: &Config,
    state: &crate::state::State,
    period: Period,
) -> Result<BTreeMap<(IpAddr, String), Vec<Visit>>> {
    let mut by: BTreeMap<(IpAddr, String), Vec<Visit>> = BTreeMap::new();
    for day in period.dates() {
        for v in visits::read_day(&config.data_dir, &state.visits, day)? {
            by.entry((v.ip, v.user_agent.clone())).or_default().push(v);
        }
    }
    Ok(by)
}

/// Builds the report of `kind` for the period closed before `date`.
pub fn build(src: &Sources<'_>, kind: Kind, date: NaiveDate) -> Result<Report> {
    let config = src.config;
    let (period, previous) = kind.periods(date);
    let [m, p]: [Metrics; 2] = metrics::compute_all(src, &[period, previous])?
        .try_into()
        .expect("two periods give two results");
    let end = metrics::end_of(config, period.until);
    let start = metrics::end_of(config, period.since - Duration::days(1));

    let mut hot = Vec::new();
    let mut warm = Vec::new();
    for visits in visitors_of(config, src.state, period)?.into_values() {
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
    hot.sort_by(|a, b| b.score.cmp(&a.score).then(a.ip.cmp(&b.ip)));
    warm.sort_by_key(|w| w.first_visit);
    let previous_hot = visitors_of(config, src.state, previous)?
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
        kpis: kpis(&m, &p, (hot_count, previous_hot)),
        top_pages,
        top_referrers,
        hot_leads: hot,
        hot_lead_count: hot_count,
        warm_leads: warm,
        warm_lead_count: warm_count,
        alerts: history::read(&config.data_dir, start, end)?,
        registrations_per_day: m.users.registrations_per_day.values().copied().collect(),
        per_day: m.traffic.per_day,
    })
}

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// One character per value.
pub fn sparkline(values: &[u64]) -> String {
    let max = values.iter().copied().max().unwrap_or(0);
    values
        .iter()
        .map(|&v| {
            let level = (v * 7 + max / 2).checked_div(max).unwrap_or(0);
            BARS[level as usize]
        })
        .collect()
}

impl Report {
    fn series(&self) -> Vec<(&'static str, Vec<u64>)> {
        vec![
            (
                "Pageviews",
                self.per_day.iter().map(|d| d.pageviews).collect(),
            ),
            (
                "Unique visitors",
                self.per_day.iter().map(|d| d.unique_visitors).collect(),
            ),
            (
                "Active users",
                self.per_day.iter().map(|d| d.active_users).collect(),
            ),
            ("Registrations", self.registrations_per_day.clone()),
        ]
    }

    /// The Markdown before the chart, the chart as sparklines, and the Markdown after it.
    fn markdown_parts(&self) -> (String, String, String) {
        let mut head = String::new();
        let _ = writeln!(head, "# {}: {}\n", self.site_name, self.title);
        let _ = writeln!(
            head,
            "{} to {}, compared with {} to {}. Amounts in {}.\n",
            self.period.since,
            self.period.until,
            self.previous.since,
            self.previous.until,
            self.currency
        );
        let this = self.kind.this();
        let _ = writeln!(head, "| KPI | this {this} | previous {this} | change |");
        let _ = writeln!(head, "| --- | ---: | ---: | ---: |");
        for k in &self.kpis {
            let _ = writeln!(
                head,
                "| {} | {} | {} | {} |",
                k.name, k.value, k.previous, k.change
            );
        }
        head.push('\n');

        let mut chart = String::from("## Per day\n\n```text\n");
        for (name, values) in self.series() {
            let max = values.iter().max().copied().unwrap_or(0);
            let _ = writeln!(chart, "{name:<16} {}  max {max}", sparkline(&values));
        }
        let _ = writeln!(
            chart,
            "{:<16} {} to {}\n```\n",
            "", self.period.since, self.period.until
        );

        let mut rest = String::new();
        for (title, list) in [
            ("Top pages", &self.top_pages),
            ("Top referrers", &self.top_referrers),
        ] {
            let _ = writeln!(rest, "## {title}\n");
            if list.is_empty() {
                rest.push_str("None.\n\n");
                continue;
            }
            let _ = writeln!(rest, "| | pageviews |\n| --- | ---: |");
            for n in list {
                let _ = writeln!(rest, "| {} | {} |", code(&n.name), n.count);
            }
            rest.push('\n');
        }
        let _ = writeln!(rest, "## Hot leads ({})\n", self.hot_lead_count);
        if self.hot_leads.is_empty() {
            rest.push_str("None.\n\n");
        }
        for (i, j) in self.hot_leads.iter().enumerate() {
            let visits: usize = j.sessions.iter().map(|s| s.pages.len()).sum();
            let _ = writeln!(
                rest,
                "{}. {} — {}, {}, score {}, {} visit{} in the period{}",
                i + 1,
                code(&j.ip.to_string()),
                code(&j.browser),
                j.top_tier,
                j.score,
                visits,
                if visits == 1 { "" } else { "s" },
                j.time_to_intent_secs.map_or(String::new(), |s| format!(
                    ", {} min to /pricing or /trial",
                    s / 60
                ))
            );
            for s in &j.sessions {
                let from = s.referrer.as_deref().map_or("direct".to_string(), code);
                let pages: Vec<String> = s
                    .pages
                    .iter()
                    .map(|p| format!("{} {}", p.time.format("%m-%d %H:%M"), code(&p.path)))
                    .collect();
                let utm: Vec<String> = s
                    .utm
                    .iter()
                    .map(|(k, v)| code(&format!("{k}={v}")))
                    .collect();
                let _ = writeln!(
                    rest,
                    "   - from {from}{}: {}",
                    if utm.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", utm.join(", "))
                    },
                    pages.join(", ")
                );
            }
        }
        if self.hot_lead_count > self.hot_leads.len() {
            let _ = writeln!(
                rest,
                "\n…and {} more.",
                self.hot_lead_count - self.hot_leads.len()
            );
        }
        rest.push('\n');
        let _ = writeln!(
            rest,
            "## Warm leads, /demo only ({})\n",
            self.warm_lead_count
        );
        if self.warm_leads.is_empty() {
            rest.push_str("None.\n\n");
        }
        for w in &self.warm_leads {
            let _ = writeln!(
                rest,
                "- {} — {}, {} visit{}, first {}, from {}",
                code(&w.ip.to_string()),
                code(&w.browser),
                w.visits,
                if w.visits == 1 { "" } else { "s" },
                w.first_visit.format("%m-%d %H:%M"),
                w.referrer.as_deref().map_or("direct".to_string(), code)
            );
        }
        if self.warm_lead_count > self.warm_leads.len() {
            let _ = writeln!(
                rest,
                "\n…and {} more.",
                self.warm_lead_count - self.warm_leads.len()
            );
        }
        rest.push('\n');
        let _ = writeln!(rest, "## Alerts sent ({})\n", self.alerts.len());
        if self.alerts.is_empty() {
            rest.push_str("None.\n");
        }
        for a in &self.alerts {
            let who =
                a.ip.map_or(String::new(), |ip| format!(" {}", code(&ip.to_string())));
            let _ = writeln!(
                rest,
                "- {} {}{who}: {}",
                a.sent_at.format("%Y-%m-%d %H:%M UTC"),
                a.kind,
                a.summary.replace(['\n', '\r'], " ")
            );
        }
        (head, chart, rest)
    }

    pub fn markdown(&self) -> String {
        let (head, chart, rest) = self.markdown_parts();
        head + &chart + &rest
    }

    /// A standalone HTML page (also the HTML part of the email): the Markdown rendered by
    /// pulldown-cmark, with an SVG chart (one point per day) for the sparklines.
    pub fn html(&self) -> String {
        let (head, _, rest) = self.markdown_parts();
        let mut out = String::from("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"/><title>");
        out.push_str(&crate::escape::html(&format!(
            "{}: {}",
            self.site_name, self.title
        )));
        out.push_str(
            "</title><style>body{font-family:system-ui,sans-serif;max-width:52em;margin:2em auto;\
             padding:0 1em;color:#222}table{border-collapse:collapse}td,th{padding:.2em .7em;\
             border-bottom:1px solid #ddd}td:not(:first-child){text-align:right}code{background:\
             #f4f4f4;padding:0 .2em}</style></head><body>\n",
        );
        out.push_str(&cmark(&head));
        out.push_str("<h2>Per day</h2>\n");
        out.push_str(&self.svg());
        out.push_str(&cmark(&rest));
        out.push_str("</body></html>\n");
        out
    }

    /// A line chart of pageviews, visitors and active users: one point per day.
    pub fn svg(&self) -> String {
        let (w, h, pad) = (640.0_f64, 200.0_f64, 30.0_f64);
        let n = self.per_day.len().max(1);
        let series = self.series();
        let max = series
            .iter()
            .take(3)
            .flat_map(|(_, v)| v.iter().copied())
            .max()
            .unwrap_or(0)
            .max(1) as f64;
        let x = |i: usize| {
            if n == 1 {
                w / 2.0
            } else {
                pad + (w - 2.0 * pad) * i as f64 / (n - 1) as f64
            }
        };
        let y = |v: u64| h - pad - (h - 2.0 * pad) * v as f64 / max;
        let colours = ["#1f77b4", "#2ca02c", "#d62728"];
        let mut out = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{}\" viewBox=\"0 0 {w} {}\" role=\"img\">",
            h + 20.0,
            h + 20.0
        );
        let _ = write!(
            out,
            "<line x1=\"{pad}\" y1=\"{0}\" x2=\"{1}\" y2=\"{0}\" stroke=\"#999\"/>",
            h - pad,
            w - pad
        );
        let _ = write!(
            out,
            "<text x=\"2\" y=\"{}\" font-size=\"10\">{}</text>",
            pad - 4.0,
            max as u64
        );
        for (k, (name, values)) in series.iter().take(3).enumerate() {
            let points: Vec<String> = values
                .iter()
                .enumerate()
                .map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v)))
                .collect();
            let _ = write!(
                out,
                "<polyline class=\"series\" data-name=\"{name}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\"/>",
                colours[k],
                points.join(" ")
            );
            for (i, v) in values.iter().enumerate() {
                let _ = write!(
                    out,
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\" fill=\"{}\"><title>{} {name}: {v}</title></circle>",
                    x(i),
                    y(*v),
                    colours[k],
                    self.per_day[i].day
                );
            }
            let _ = write!(
                out,
                "<text x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"{}\">{name}</text>",
                pad + 150.0 * k as f64,
                h + 14.0,
                colours[k]
            );
        }
        let _ = write!(
            out,
            "<text x=\"{pad}\" y=\"{0}\" font-size=\"10\">{1}</text><text x=\"{2}\" y=\"{0}\" font-size=\"10\" text-anchor=\"end\">{3}</text>",
            h - pad + 12.0,
            self.period.since,
            w - pad,
            self.period.until
        );
        out.push_str("</svg>\n");
        out
    }
}

fn cmark(markdown: &str) -> String {
    use pulldown_cmark::{Event, Options, Parser, html};
    // Raw HTML in the Markdown is shown as text, never passed through: the Markdown is
    // arkwatch's, but a defused visitor string must not become markup even by mistake.
    let parser = Parser::new_ext(markdown, Options::ENABLE_TABLES).map(|e| match e {
        Event::Html(t) | Event::InlineHtml(t) => Event::Text(t),
        e => e,
    });
    let mut out = String::new();
    html::push_html(&mut out, parser);
    out
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
    fn code_spans_hold_anything() {
        let html = cmark(&format!("- {}\n", code("<script>alert(1)</script>")));
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(!html.contains("<script>"));
    }

    #[test]
    fn sparklines_scale_to_the_maximum() {
        assert_eq!(sparkline(&[0, 4, 8]), "▁▅█");
        assert_eq!(sparkline(&[0, 0]), "▁▁");
    }
}
