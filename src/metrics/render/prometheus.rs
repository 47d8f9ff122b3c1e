//! Prometheus text exposition format (`node_exporter`'s textfile collector). Values of the
//! period are gauges; an undefined rate is left out rather than written as NaN.

use std::fmt::Write as _;

use rust_decimal::Decimal;

use super::Renderer;
use crate::metrics::Metrics;

pub struct Prometheus;

impl Renderer for Prometheus {
    fn render(&self, m: &Metrics, _sections: &[&str]) -> String {
        prometheus(m)
    }
}

/// Prometheus text exposition format. Values of the period are gauges; an undefined rate is
/// left out rather than written as NaN.
fn prometheus(m: &Metrics) -> String {
    let mut p = Prom::default();
    p.metric(
        "arkwatch_period_days",
        "Days in the period the other metrics cover.",
    );
    p.sample(&[], m.period.days);
    users(&mut p, m);
    revenue(&mut p, m);
    engagement(&mut p, m);
    costs(&mut p, m);
    traffic(&mut p, m);
    funnel(&mut p, m);
    p.out
}

/// An amount in the exposition: exact to 6 places, without trailing zeros.
fn money(d: Decimal) -> String {
    crate::metrics::money::round(d, 6).normalize().to_string()
}

fn users(p: &mut Prom, m: &Metrics) {
    let u = &m.users;
    p.metric(
        "arkwatch_users",
        "Users known at the end of the period, by kind.",
    );
    p.sample(&[("kind", "total")], u.total);
    p.sample(&[("kind", "premium")], u.premium);
    p.sample(&[("kind", "free")], u.free);
    p.metric("arkwatch_registrations", "Registrations in the period.");
    p.sample(&[], u.new_registrations);
    p.metric(
        "arkwatch_active_users",
        "Distinct users with any event in the trailing window ending with the period.",
    );
    p.sample(&[("window", "1d")], u.dau);
    p.sample(&[("window", "7d")], u.wau);
    p.sample(&[("window", "30d")], u.mau);
    p.ratio(
        "arkwatch_stickiness_ratio",
        "DAU divided by MAU.",
        u.stickiness,
    );
}

fn revenue(p: &mut Prom, m: &Metrics) {
    let c = m.period.currency.as_str();
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
        ("reactivation", v.mrr_reactivation),
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
    p.ratio(
        "arkwatch_gross_revenue_retention_ratio",
        "MRR the period's starting customers still pay at its end, each at most their start, divided by their starting MRR.",
        v.gross_revenue_retention,
    );
    p.ratio(
        "arkwatch_net_revenue_retention_ratio",
        "MRR the period's starting customers pay at its end divided by their starting MRR.",
        v.net_revenue_retention,
    );
    p.ratio(
        "arkwatch_quick_ratio",
        "New, reactivation and expansion MRR divided by churned and contraction MRR.",
        v.quick_ratio,
    );
    if let Some(ltv) = v.ltv {
        p.metric("arkwatch_ltv", "ARPU divided by the monthly churn rate.");
        p.sample(&[("currency", c)], money(ltv));
    }
}

fn engagement(p: &mut Prom, m: &Metrics) {
    let e = &m.engagement;
    p.metric("arkwatch_commands", "Commands executed in the period.");
    p.sample(&[], e.commands);
    p.metric("arkwatch_errors", "Errors in the period.");
    p.sample(&[], e.errors);
    p.ratio(
        "arkwatch_error_ratio",
        "Errors divided by commands.",
        e.error_rate,
    );
}

fn costs(p: &mut Prom, m: &Metrics) {
    let c = m.period.currency.as_str();
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
        p.sample(&[("provider", &pr.provider)], pr.calls);
    }
    p.metric(
        "arkwatch_api_latency_ms",
        "API call latency percentiles in the period, by provider.",
    );
    for pr in &k.providers {
        for (q, v) in [
            ("0.5", pr.latency_p50_ms),
            ("0.95", pr.latency_p95_ms),
            ("0.99", pr.latency_p99_ms),
        ] {
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
}

fn traffic(p: &mut Prom, m: &Metrics) {
    let t = &m.traffic;
    p.metric("arkwatch_http_hits", "Requests that parsed, in the period.");
    p.sample(&[], t.hits);
    p.metric("arkwatch_pageviews", "Pageviews in the period.");
    p.sample(&[], t.pageviews);
    p.metric(
        "arkwatch_unique_visitors",
        "Visitors in the period, each counted once per day.",
    );
    p.sample(&[], t.unique_visitors);
    p.metric(
        "arkwatch_sessions",
        "Sessions in the period (pageviews of a visitor and day without a 30-minute gap).",
    );
    p.sample(&[], t.sessions);
    p.ratio(
        "arkwatch_bounce_ratio",
        "Sessions of one pageview divided by sessions.",
        t.bounce_rate,
    );
    p.metric("arkwatch_bot_hits", "Requests by bots in the period.");
    p.sample(&[], t.bot_hits);
    p.metric(
        "arkwatch_bot_hits_by_layer",
        "Requests by bots in the period, by the detection layer that removed them.",
    );
    for (layer, n) in &t.bot_layers {
        p.sample(&[("layer", layer)], n);
    }
    p.metric(
        "arkwatch_bot_hits_by_category",
        "Requests by bots in the period, by kind of client.",
    );
    for (kind, n) in &t.bot_categories {
        p.sample(&[("category", kind)], n);
    }
    p.metric(
        "arkwatch_http_status",
        "Requests in the period by status class.",
    );
    for (class, n) in &t.status {
        p.sample(&[("class", class)], n);
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
}

fn funnel(p: &mut Prom, m: &Metrics) {
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

    fn sample(&mut self, labels: &[(&str, &str)], value: impl std::fmt::Display) {
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
