//! Renderers of [`Metrics`]: terminal tables (comfy-table), JSON, CSV, and Prometheus text
//! (node_exporter's textfile-collector format). They only format: every number comes from the
//! model.

use std::fmt::Write as _;

use comfy_table::{Attribute, Cell, ContentArrangement, Table, presets};
use rust_decimal::Decimal;
use serde_json::Value;

use super::{Metrics, Named};

/// The sections a command line can ask for.
pub const SECTIONS: &[&str] = &[
    "users",
    "revenue",
    "engagement",
    "costs",
    "traffic",
    "funnel",
];

/// The model as JSON, with only `sections` (and `period`).
pub fn json(m: &Metrics, sections: &[&str]) -> Value {
    let all = serde_json::to_value(m).expect("metrics serialise");
    let mut out = serde_json::Map::new();
    out.insert("period".into(), all["period"].clone());
    for s in sections {
        out.insert((*s).into(), all[*s].clone());
    }
    Value::Object(out)
}

pub fn percent(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".to_string(), |v| format!("{:.1}%", v * 100.0))
}

pub fn money(v: Decimal, currency: &str) -> String {
    format!("{:.2} {currency}", v.round_dp(2))
}

fn money_opt(v: Option<Decimal>, currency: &str) -> String {
    v.map_or_else(|| "n/a".to_string(), |v| money(v, currency))
}

/// Rows of (metric, value) per section, as words.
pub fn rows(m: &Metrics, section: &str) -> Vec<(String, String)> {
    let c = &m.period.currency;
    let r = |k: &str, v: String| (k.to_string(), v);
    match section {
        "users" => {
            let u = &m.users;
            vec![
                r("users", u.total.to_string()),
                r("premium (paying)", u.premium.to_string()),
                r("free", u.free.to_string()),
                r("new registrations", u.new_registrations.to_string()),
                r("DAU", u.dau.to_string()),
                r("WAU", u.wau.to_string()),
                r("MAU", u.mau.to_string()),
                r("stickiness (DAU ÷ MAU)", percent(u.stickiness)),
            ]
        }
        "revenue" => {
            let v = &m.revenue;
            vec![
                r("MRR", money(v.mrr, c)),
                r("ARR", money(v.arr, c)),
                r("ARPU", money_opt(v.arpu, c)),
                r("new MRR", money(v.mrr_new, c)),
                r("expansion MRR", money(v.mrr_expansion, c)),
                r("contraction MRR", money(v.mrr_contraction, c)),
                r("churned MRR", money(v.mrr_churned, c)),
                r("net new MRR", money(v.net_new_mrr, c)),
                r(
                    "customer churn",
                    format!(
                        "{} ({} of {} paying)",
                        percent(v.customer_churn_rate),
                        v.paying_lost,
                        v.paying_at_start
                    ),
                ),
                r("monthly churn (30 days)", percent(v.monthly_churn_rate)),
                r(
                    "conversion",
                    format!(
                        "{} ({} of {} registrations)",
                        percent(v.conversion_rate),
                        v.converted_registrations,
                        v.registrations
                    ),
                ),
                r("LTV", money_opt(v.ltv, c)),
            ]
        }
        "engagement" => {
            let e = &m.engagement;
            let mut rows = vec![
                r("commands", e.commands.to_string()),
                r("errors", e.errors.to_string()),
                r("error rate", percent(e.error_rate)),
            ];
            rows.extend(named("command", &e.top_commands));
            rows
        }
        "costs" => {
            let k = &m.costs;
            let mut rows = vec![
                r("API cost", money(k.api_cost, c)),
                r("API calls", k.api_calls.to_string()),
            ];
            for p in &k.providers {
                rows.push(r(
                    &format!("  {}", p.provider),
                    format!(
                        "{}, {} calls, p50 {} ms, p95 {} ms",
                        money(p.cost, c),
                        p.calls,
                        p.latency_p50_ms.map_or("n/a".into(), |v| v.to_string()),
                        p.latency_p95_ms.map_or("n/a".into(), |v| v.to_string())
                    ),
                ));
            }
            rows.extend([
                r(
                    "infra cost",
                    format!(
                        "{} ({} a month)",
                        money(k.infra_cost, c),
                        money(k.infra_cost_per_month, c)
                    ),
                ),
                r("active users", k.active_users.to_string()),
                r("cost per active user", money_opt(k.cost_per_active_user, c)),
            ]);
            rows
        }
        "traffic" => {
            let t = &m.traffic;
            let mut rows = vec![
                r("hits", t.hits.to_string()),
                r("pageviews", t.pageviews.to_string()),
                r("unique visitors", t.unique_visitors.to_string()),
                r("bot share", percent(t.bot_share)),
                r(
                    "/pricing visitors ÷ visitors",
                    percent(t.pricing_visitor_share),
                ),
            ];
            for (class, n) in &t.status {
                rows.push(r(&format!("status {class}"), n.to_string()));
            }
            for p in &t.tracked_pages {
                rows.push(r(
                    &format!("{} ({})", p.page, p.tier),
                    p.pageviews.to_string(),
                ));
            }
            rows.extend(named("page", &t.top_pages));
            rows.extend(named("referrer", &t.top_referrers));
            rows
        }
        "funnel" => m
            .funnel
            .steps
            .iter()
            .map(|s| {
                r(
                    &s.step,
                    match s.conversion_from_previous {
                        Some(c) => format!(
                            "{} visitors ({} of the step before)",
                            s.visitors,
                            percent(Some(c))
                        ),
                        None => format!("{} visitors", s.visitors),
                    },
                )
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn named(kind: &str, list: &[Named]) -> Vec<(String, String)> {
    list.iter()
        .map(|n| (format!("{kind} {}", n.name), n.count.to_string()))
        .collect()
}

/// Terminal tables, one per section; bold headers only when `styled`.
pub fn tables(m: &Metrics, sections: &[&str], styled: bool) -> String {
    let mut out = format!(
        "{} to {} ({} days, {}, amounts in {})\n",
        m.period.since, m.period.until, m.period.days, m.period.timezone, m.period.currency
    );
    for s in sections {
        let mut table = Table::new();
        table
            .load_style(presets::UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Dynamic);
        if !styled {
            table.force_no_tty();
        }
        let header = |t: &str| {
            let cell = Cell::new(t);
            if styled {
                cell.add_attribute(Attribute::Bold)
            } else {
                cell
            }
        };
        table.set_header(vec![header(s), header("value")]);
        for (k, v) in rows(m, s) {
            table.add_row(vec![k, v]);
        }
        let _ = writeln!(out, "{table}");
    }
    out
}

/// CSV: `section,metric,value`, one row per number, lists flattened with their names.
pub fn csv(m: &Metrics, sections: &[&str]) -> String {
    let mut out = String::from("section,metric,value\n");
    let value = json(m, sections);
    for s in sections {
        let mut rows = Vec::new();
        flatten("", &value[*s], &mut rows);
        for (k, v) in rows {
            let _ = writeln!(out, "{},{},{}", field(s), field(&k), field(&v));
        }
    }
    out
}

fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
    let join = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                flatten(&join(k), v, out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                // A list of named things is keyed by its name.
                let key = ["name", "provider", "step", "page", "day"]
                    .iter()
                    .find_map(|k| {
                        item.get(*k)
                            .map(|n| n.as_str().map_or(n.to_string(), String::from))
                    })
                    .unwrap_or_else(|| i.to_string());
                match item {
                    Value::Object(map) => {
                        for (k, v) in map {
                            if !["name", "provider", "step", "page", "day"].contains(&k.as_str()) {
                                flatten(&join(&format!("{key}.{k}")), v, out);
                            }
                        }
                    }
                    other => flatten(&join(&key), other, out),
                }
            }
        }
        Value::Null => out.push((prefix.to_string(), String::new())),
        Value::String(s) => out.push((prefix.to_string(), s.clone())),
        other => out.push((prefix.to_string(), other.to_string())),
    }
}

/// A CSV field, quoted when it must be (RFC 4180).
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Prometheus text exposition format. Values of the period are gauges; an undefined rate is
/// left out rather than written as NaN.
pub fn prometheus(m: &Metrics) -> String {
    let mut p = Prom::default();
    let c = m.period.currency.as_str();
    let money = |d: Decimal| d.round_dp(6).to_string();
    p.metric(
        "arkwatch_period_days",
        "Days in the period the other metrics cover.",
    );
    p.sample(&[], m.period.days.to_string());
    let u = &m.users;
    p.metric(
        "arkwatch_users",
        "Users known at the end of the period, by kind.",
    );
    p.sample(&[("kind", "total")], u.total.to_string());
    p.sample(&[("kind", "premium")], u.premium.to_string());
    p.sample(&[("kind", "free")], u.free.to_string());
    p.metric("arkwatch_registrations", "Registrations in the period.");
    p.sample(&[], u.new_registrations.to_string());
    p.metric(
        "arkwatch_active_users",
        "Distinct users with any event in the trailing window ending with the period.",
    );
    p.sample(&[("window", "1d")], u.dau.to_string());
    p.sample(&[("window", "7d")], u.wau.to_string());
    p.sample(&[("window", "30d")], u.mau.to_string());
    p.ratio(
        "arkwatch_stickiness_ratio",
        "DAU divided by MAU.",
        u.stickiness,
    );
    let v = &m.revenue;
    p.metric(
        "arkwatch_mrr",
        "Monthly recurring revenue at the end of the period.",
    );
    p.sample(&[("currency", c)], money(v.mrr));
    p.metric("arkwatch_arr", "Annual recurring revenue (12 x MRR).");
    p.sample(&[("currency", c)], money(v.arr));
    if let Some(arpu) = v.arpu {
        p.metric("arkwatch_arpu", "MRR divided by paying users.");
        p.sample(&[("currency", c)], money(arpu));
    }
    p.metric(
        "arkwatch_mrr_movement",
        "MRR movements in the period, by kind.",
    );
    for (kind, d) in [
        ("new", v.mrr_new),
        ("expansion", v.mrr_expansion),
        ("contraction", v.mrr_contraction),
        ("churned", v.mrr_churned),
    ] {
        p.sample(&[("currency", c), ("kind", kind)], money(d));
    }
    p.ratio(
        "arkwatch_customer_churn_ratio",
        "Paying users lost in the period divided by paying users at its start.",
        v.customer_churn_rate,
    );
    p.ratio(
        "arkwatch_conversion_ratio",
        "Registrations of the period that converted divided by registrations of the period.",
        v.conversion_rate,
    );
    if let Some(ltv) = v.ltv {
        p.metric("arkwatch_ltv", "ARPU divided by the monthly churn rate.");
        p.sample(&[("currency", c)], money(ltv));
    }
    let e = &m.engagement;
    p.metric("arkwatch_commands", "Commands executed in the period.");
    p.sample(&[], e.commands.to_string());
    p.metric("arkwatch_errors", "Errors in the period.");
    p.sample(&[], e.errors.to_string());
    p.ratio(
        "arkwatch_error_ratio",
        "Errors divided by commands.",
        e.error_rate,
    );
    let k = &m.costs;
    p.metric("arkwatch_api_cost", "API cost in the period, by provider.");
    for pr in &k.providers {
        p.sample(
            &[("currency", c), ("provider", &pr.provider)],
            money(pr.cost),
        );
    }
    p.metric(
        "arkwatch_api_calls",
        "API calls in the period, by provider.",
    );
    for pr in &k.providers {
        p.sample(&[("provider", &pr.provider)], pr.calls.to_string());
    }
    p.metric(
        "arkwatch_api_latency_ms",
        "API call latency percentiles in the period, by provider.",
    );
    for pr in &k.providers {
        for (q, v) in [("0.5", pr.latency_p50_ms), ("0.95", pr.latency_p95_ms)] {
            if let Some(v) = v {
                p.sample(
                    &[("provider", &pr.provider), ("quantile", q)],
                    v.to_string(),
                );
            }
        }
    }
    p.metric(
        "arkwatch_infra_cost",
        "Infrastructure cost for the period's days.",
    );
    p.sample(&[("currency", c)], money(k.infra_cost));
    if let Some(cost) = k.cost_per_active_user {
        p.metric(
            "arkwatch_cost_per_active_user",
            "API and infra cost divided by active users of the period.",
        );
        p.sample(&[("currency", c)], money(cost));
    }
    let t = &m.traffic;
    p.metric("arkwatch_http_hits", "Requests that parsed, in the period.");
    p.sample(&[], t.hits.to_string());
    p.metric("arkwatch_pageviews", "Pageviews in the period.");
    p.sample(&[], t.pageviews.to_string());
    p.metric(
        "arkwatch_unique_visitors",
        "Visitors in the period, each counted once per day.",
    );
    p.sample(&[], t.unique_visitors.to_string());
    p.metric("arkwatch_bot_hits", "Requests by bots in the period.");
    p.sample(&[], t.bot_hits.to_string());
    p.metric(
        "arkwatch_http_status",
        "Requests in the period by status class.",
    );
    for (class, n) in &t.status {
        p.sample(&[("class", class)], n.to_string());
    }
    p.metric(
        "arkwatch_tracked_page_views",
        "Pageviews of each tracked page in the period.",
    );
    for tp in &t.tracked_pages {
        p.sample(
            &[("page", &tp.page), ("tier", tp.tier.name())],
            tp.pageviews.to_string(),
        );
    }
    p.metric(
        "arkwatch_funnel_visitors",
        "Visitors reaching each funnel step in the period.",
    );
    for s in &m.funnel.steps {
        p.sample(
            &[("step", &s.step), ("tier", s.tier.name())],
            s.visitors.to_string(),
        );
    }
    p.out
}

#[derive(Default)]
struct Prom {
    out: String,
    name: String,
}

impl Prom {
    fn metric(&mut self, name: &str, help: &str) {
        self.name = name.to_string();
        let _ = writeln!(self.out, "# HELP {name} {help}\n# TYPE {name} gauge");
    }

    fn sample(&mut self, labels: &[(&str, &str)], value: String) {
        let labels: Vec<String> = labels
            .iter()
            .map(|(k, v)| {
                let v = v
                    .replace('\\', "\\\\")
                    .replace('"', "\\\"")
                    .replace('\n', "\\n");
                format!("{k}=\"{v}\"")
            })
            .collect();
        if labels.is_empty() {
            let _ = writeln!(self.out, "{} {value}", self.name);
        } else {
            let _ = writeln!(self.out, "{}{{{}}} {value}", self.name, labels.join(","));
        }
    }

    fn ratio(&mut self, name: &str, help: &str, v: Option<f64>) {
        if let Some(v) = v {
            self.metric(name, help);
            self.sample(&[], format!("{v}"));
        }
    }
}
