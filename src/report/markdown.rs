//! The report as Markdown: the KPI table, Unicode sparklines per day, the top lists, the hot
//! and warm leads with their journeys, and the alerts sent. Visitor text goes into code spans
//! ([`crate::escape::code_span`]); User-Agents are shown as they are (escaped, not defused:
//! `APT-HTTP/1.3` stays as written).

use std::fmt::Write as _;

use super::Report;
use crate::escape::{code_span as code, code_span_plain as shown};
use crate::visits::journey::PageHit;
use crate::words::{count, minutes};

/// A session's pages, repeated hits on one page collapsed (`09:04 `/downloads` ×312`), times
/// in `tz`.
fn collapsed(pages: &[PageHit], tz: chrono_tz::Tz) -> Vec<String> {
    let mut out: Vec<(String, &str, usize)> = Vec::new();
    for p in pages {
        match out.last_mut() {
            Some((_, path, n)) if *path == p.path => *n += 1,
            _ => out.push((
                p.time.with_timezone(&tz).format("%m-%d %H:%M").to_string(),
                &p.path,
                1,
            )),
        }
    }
    out.into_iter()
        .map(|(at, path, n)| {
            if n == 1 {
                format!("{at} {}", code(path))
            } else {
                format!("{at} {} ×{n}", code(path))
            }
        })
        .collect()
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
    pub(super) fn series(&self) -> Vec<(&'static str, Vec<u64>)> {
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
    pub(super) fn markdown_parts(&self) -> (String, String, String) {
        let mut rest = self.top_lists();
        rest.push_str(&self.sources_section());
        rest.push_str(&self.hot_leads_section());
        rest.push_str(&self.warm_leads_section());
        rest.push_str(&self.alerts_section());
        (self.head(), self.chart(), rest)
    }

    /// The title, the period compared and the KPI table.
    fn head(&self) -> String {
        let mut head = String::new();
        let _ = writeln!(head, "# {}: {}\n", self.site_name, self.title);
        let _ = writeln!(
            head,
            "{}, compared with {}. Amounts in {}; times in {}.\n",
            span(self.period),
            span(self.previous),
            self.currency,
            self.timezone.name()
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
        head
    }

    fn chart(&self) -> String {
        let mut chart = String::from("## Per day\n\n```text\n");
        for (name, values) in self.series() {
            let max = values.iter().max().copied().unwrap_or(0);
            let _ = writeln!(chart, "{name:<16} {}  max {max}", sparkline(&values));
        }
        let _ = writeln!(chart, "{:<16} {}\n```\n", "", span(self.period));
        chart
    }

    fn top_lists(&self) -> String {
        let mut out = String::new();
        for (title, list) in [
            ("Top pages", &self.top_pages),
            ("Top referrers", &self.top_referrers),
        ] {
            let _ = writeln!(out, "## {title}\n");
            if list.is_empty() {
                out.push_str("None.\n\n");
                continue;
            }
            let _ = writeln!(out, "| | pageviews |\n| --- | ---: |");
            for n in list {
                let _ = writeln!(out, "| {} | {} |", code(&n.name), n.count);
            }
            out.push('\n');
        }
        out
    }

    /// New MRR by first-touch source (only when some user paid for the first time).
    fn sources_section(&self) -> String {
        if self.top_sources.is_empty() {
            return String::new();
        }
        let mut out = String::from(
            "## Top sources by new MRR\n\n| | users | new MRR |\n| --- | ---: | ---: |\n",
        );
        for s in &self.top_sources {
            let _ = writeln!(
                out,
                "| {} | {} | {:.2} {} |",
                code(&s.source),
                s.users,
                crate::metrics::money::round(s.new_mrr, 2),
                self.currency
            );
        }
        out.push('\n');
        out
    }

    fn hot_leads_section(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "## Hot leads ({})\n", self.hot_lead_count);
        if self.hot_leads.is_empty() {
            out.push_str("None.\n\n");
        }
        for (i, j) in self.hot_leads.iter().enumerate() {
            let visits: usize = j.sessions.iter().map(|s| s.pages.len()).sum();
            let _ = writeln!(
                out,
                "{}. {}{} — {}, {}, score {}, {} in the period{}",
                i + 1,
                code(&j.ip.to_string()),
                self.origin_of(j.ip)
                    .map_or(String::new(), |h| format!(" ({})", shown(&h))),
                shown(&j.browser),
                j.top_tier.words(),
                j.score,
                count(visits as u64, "visit"),
                j.time_to_intent_secs.map_or(String::new(), |s| format!(
                    ", {} to {}",
                    minutes(s),
                    self.intent_pages
                ))
            );
            for s in &j.sessions {
                out.push_str(&self.session_line(s));
            }
        }
        more(&mut out, self.hot_lead_count, self.hot_leads.len());
        out.push('\n');
        out
    }

    /// One session of a hot lead: where it came from (with its `utm_*` tags) and its pages.
    fn session_line(&self, s: &crate::visits::journey::Session) -> String {
        let from = s.referrer.as_deref().map_or("direct".to_string(), code);
        let pages = collapsed(&s.pages, self.timezone);
        let utm: Vec<String> = s
            .utm
            .iter()
            .map(|(k, v)| code(&format!("{k}={v}")))
            .collect();
        format!(
            "   - from {from}{}: {}\n",
            if utm.is_empty() {
                String::new()
            } else {
                format!(" ({})", utm.join(", "))
            },
            pages.join(", ")
        )
    }

    fn warm_leads_section(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "## Warm leads, {} only ({})\n",
            self.warm_pages, self.warm_lead_count
        );
        if self.warm_leads.is_empty() {
            out.push_str("None.\n\n");
        }
        for w in &self.warm_leads {
            let _ = writeln!(
                out,
                "- {} — {}, {}, first {}, from {}",
                code(&w.ip.to_string()),
                shown(&w.browser),
                count(w.visits as u64, "visit"),
                w.first_visit
                    .with_timezone(&self.timezone)
                    .format("%m-%d %H:%M"),
                w.referrer.as_deref().map_or("direct".to_string(), code)
            );
        }
        more(&mut out, self.warm_lead_count, self.warm_leads.len());
        out.push('\n');
        out
    }

    /// Who a lead's address was, as the last alert about it said (`[geo]`).
    fn origin_of(&self, ip: std::net::IpAddr) -> Option<String> {
        self.alerts
            .iter()
            .rev()
            .filter(|a| a.sent.ip == Some(ip))
            .find_map(|a| a.sent.origin.as_ref()?.headline())
    }

    fn alerts_section(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "## Alerts sent ({})\n", self.alerts.len());
        if self.alerts.is_empty() {
            out.push_str("None.\n");
        }
        for line in &self.alerts {
            let a = &line.sent;
            let mut who =
                a.ip.map_or(String::new(), |ip| format!(" {}", code(&ip.to_string())));
            if let Some(h) = a.origin.as_ref().and_then(crate::geo::Origin::headline) {
                let _ = write!(who, " ({})", shown(&h));
            }
            let later = line.automated.as_ref().map_or(String::new(), |why| {
                format!(" (since found automated by the behaviour layer: {why})")
            });
            let _ = writeln!(
                out,
                "- {} {}{who}: {}{later}",
                a.sent_at
                    .with_timezone(&self.timezone)
                    .format("%Y-%m-%d %H:%M %Z"),
                a.kind,
                a.summary.replace(['\n', '\r'], " ")
            );
        }
        out
    }

    pub fn markdown(&self) -> String {
        let (head, chart, rest) = self.markdown_parts();
        head + &chart + &rest
    }
}

/// A period in words: one day, or `since to until`.
fn span(p: crate::metrics::Period) -> String {
    if p.since == p.until {
        p.since.to_string()
    } else {
        format!("{} to {}", p.since, p.until)
    }
}

/// `…and N more.` after a list cut to its first entries.
fn more(out: &mut String, total: usize, shown: usize) {
    if total > shown {
        let _ = writeln!(out, "\n…and {} more.", total - shown);
    }
}
