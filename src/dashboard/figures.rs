//! The dashboard's chart cards: each a title, a legend, the SVG of [`super::charts`], and a
//! table of the same numbers per day. Which series each chart holds is one table below.

use std::fmt::Write as _;

use plotters::style::RGBColor;

use super::charts::{self, BLUE, GREEN, GREY, Kind, ORANGE, PURPLE, RED, Series};
use super::{Data, Day};
use crate::escape::html;

/// A chart: title, unit (`None`: the currency), how it is drawn, and its series.
type Spec = (
    &'static str,
    Option<&'static str>,
    Kind,
    &'static [(&'static str, RGBColor, fn(&Day) -> f64)],
);

#[allow(clippy::cast_precision_loss)] // counts of a day: far below 2^52
const CHARTS: [Spec; 6] = [
    (
        "Users and registrations",
        Some("users"),
        Kind::Lines,
        &[
            ("users", BLUE, |x| x.users as f64),
            ("registrations", GREEN, |x| x.registrations as f64),
        ],
    ),
    ("MRR", None, Kind::Lines, &[("MRR", GREEN, |x| x.mrr)]),
    (
        "MRR movements",
        None,
        Kind::Bars,
        &[
            ("new", GREEN, |x| x.mrr_new),
            ("expansion", BLUE, |x| x.mrr_expansion),
            ("contraction", ORANGE, |x| x.mrr_contraction),
            ("churned", RED, |x| x.mrr_churned),
        ],
    ),
    (
        "Active users",
        Some("users"),
        Kind::Lines,
        &[("active users", PURPLE, |x| x.active_users as f64)],
    ),
    (
        "Commands and errors",
        Some("events"),
        Kind::Lines,
        &[
            ("commands", BLUE, |x| x.commands as f64),
            ("errors", RED, |x| x.errors as f64),
        ],
    ),
    (
        "Pageviews and visitors",
        Some("requests"),
        Kind::Lines,
        &[
            ("pageviews", BLUE, |x| x.pageviews as f64),
            ("unique visitors", GREEN, |x| x.unique_visitors as f64),
            ("bot hits", GREY, |x| x.bot_hits as f64),
        ],
    ),
];

/// Every chart card of the page, the API cost by provider among them.
pub fn all(d: &Data<'_>) -> Vec<String> {
    let mut out: Vec<String> = CHARTS
        .iter()
        .map(|(title, unit, kind, lines)| {
            let series: Vec<Series> = lines
                .iter()
                .map(|(name, color, f)| Series {
                    name: (*name).to_string(),
                    values: d.days.iter().map(f).collect(),
                    color: *color,
                })
                .collect();
            card(title, unit.unwrap_or(d.currency), d.days, &series, *kind)
        })
        .collect();
    let cost = card(
        "API cost by provider",
        d.currency,
        d.days,
        &cost_series(d.days),
        Kind::Bars,
    );
    out.insert(out.len() - 1, cost);
    out
}

/// API cost per day, a series per provider (the first five by name).
fn cost_series(days: &[Day]) -> Vec<Series> {
    let mut providers: Vec<&String> = days
        .iter()
        .flat_map(|x| x.api_cost_by_provider.keys())
        .collect();
    providers.sort();
    providers.dedup();
    providers
        .iter()
        .zip([BLUE, ORANGE, GREEN, PURPLE, GREY])
        .map(|(name, color)| Series {
            name: (*name).clone(),
            values: days
                .iter()
                .map(|x| x.api_cost_by_provider.get(*name).copied().unwrap_or(0.0))
                .collect(),
            color,
        })
        .collect()
}

/// A chart card: title, legend, SVG, and a table of the same numbers.
fn card(title: &str, unit: &str, days: &[Day], series: &[Series], kind: Kind) -> String {
    let dates: Vec<_> = days.iter().map(|d| d.day).collect();
    let mut c = format!(
        "<figure class=\"card\"><h2>{}</h2><div class=\"legend\">",
        html(title)
    );
    for s in series {
        let _ = write!(
            c,
            "<span><i style=\"background:#{:02x}{:02x}{:02x}\"></i>{}</span>",
            s.color.0,
            s.color.1,
            s.color.2,
            html(&s.name)
        );
    }
    c.push_str("</div>");
    c.push_str(&charts::chart(&dates, series, kind, unit));
    let _ = write!(
        c,
        "<details><summary>Table: {} per day ({})</summary><table><tr><th>day</th>",
        html(title),
        html(unit)
    );
    for s in series {
        let _ = write!(c, "<th class=\"n\">{}</th>", html(&s.name));
    }
    c.push_str("</tr>");
    for (i, day) in dates.iter().enumerate() {
        let _ = write!(c, "<tr><td>{day}</td>");
        for s in series {
            let v = s.values.get(i).copied().unwrap_or(0.0);
            let _ = write!(c, "<td class=\"n\">{}</td>", trim(v));
        }
        c.push_str("</tr>");
    }
    c.push_str("</table></details></figure>");
    c
}

fn trim(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}
