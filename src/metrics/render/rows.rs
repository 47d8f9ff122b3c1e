//! The sections as (metric, value) rows in words, for tables. Labels follow the configuration
//! (the funnel's own pages, not a fixed `/pricing`).

use crate::metrics::{Metrics, Named};
use crate::page_tier::PageTier;
use crate::rollup::bots::{Category, Layer};

use super::{money, money_opt, percent, unit_opt};

type Row = (String, String);

fn r(k: &str, v: String) -> Row {
    (k.to_string(), v)
}

fn named(kind: &str, list: &[Named]) -> Vec<Row> {
    list.iter()
        .map(|n| (format!("{kind} {}", n.name), n.count.to_string()))
        .collect()
}

fn or_na<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "n/a".into(), |v| v.to_string())
}

/// Rows of (metric, value) of one section.
pub fn rows(m: &Metrics, section: &str) -> Vec<Row> {
    match section {
        "users" => users(m),
        "revenue" => revenue(m),
        "engagement" => engagement(m),
        "costs" => costs(m),
        "traffic" => traffic(m),
        "funnel" => funnel(m),
        "leads" => leads(m),
        "customers" => customers(m),
        _ => Vec::new(),
    }
}

fn users(m: &Metrics) -> Vec<Row> {
    let u = &m.users;
    let mut rows = vec![
        r("users", u.total.to_string()),
        r("premium (paying)", u.premium.to_string()),
        r("free", u.free.to_string()),
        r("new registrations", u.new_registrations.to_string()),
        r("DAU", u.dau.to_string()),
        r("WAU", u.wau.to_string()),
        r("MAU", u.mau.to_string()),
        r("stickiness (DAU ÷ MAU)", percent(u.stickiness)),
        r(
            "DAU, average over the period",
            format!("{:.1}", u.dau_average),
        ),
        r(
            "WAU, average over the period",
            format!("{:.1}", u.wau_average),
        ),
    ];
    for c in &u.cohorts {
        let shares: Vec<String> = c.retention.iter().map(|s| percent(*s)).collect();
        rows.push(r(
            &format!(
                "cohort of week {} ({})",
                c.week,
                crate::words::count(c.users, "user")
            ),
            shares.join(" · "),
        ));
    }
    rows
}

fn revenue(m: &Metrics) -> Vec<Row> {
    let c = &m.period.currency;
    let v = &m.revenue;
    let mut rows = vec![
        r("MRR", money(v.mrr, c)),
        r("ARR", money(v.arr, c)),
        r("ARPU", money_opt(v.arpu, c)),
        r("new MRR", money(v.mrr_new, c)),
        r("reactivation MRR", money(v.mrr_reactivation, c)),
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
            "gross revenue retention",
            percent(v.gross_revenue_retention),
        ),
        r("net revenue retention", percent(v.net_revenue_retention)),
        r("gross MRR churn", percent(v.gross_mrr_churn_rate)),
        r("net MRR churn", percent(v.net_mrr_churn_rate)),
        r(
            "quick ratio",
            v.quick_ratio.map_or("n/a".into(), |q| format!("{q:.2}")),
        ),
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
    ];
    for p in &v.by_plan {
        rows.push(r(
            &format!("plan {}", p.plan),
            format!(
                "{}, {}, ARPU {}",
                crate::words::count(p.customers, "customer"),
                money(p.mrr, c),
                money_opt(p.arpu, c)
            ),
        ));
    }
    let t = &v.trials;
    rows.push(r(
        "trials",
        format!(
            "{} started, {} converted ({}), {} lapsed, median {} days to convert",
            t.started,
            t.converted,
            percent(t.conversion_rate),
            t.lapsed,
            t.median_days_to_convert
                .map_or("n/a".into(), |d| format!("{d:.1}"))
        ),
    ));
    rows
}

fn engagement(m: &Metrics) -> Vec<Row> {
    let e = &m.engagement;
    let mut rows = vec![
        r("commands", e.commands.to_string()),
        r("errors", e.errors.to_string()),
        r("error rate", percent(e.error_rate)),
    ];
    rows.extend(named("command", &e.top_commands));
    rows.extend(named("error", &e.top_errors));
    rows.extend(named("errors in", &e.errors_by_command));
    rows
}

fn costs(m: &Metrics) -> Vec<Row> {
    let c = &m.period.currency;
    let k = &m.costs;
    let mut rows = vec![
        r("API cost", money(k.api_cost, c)),
        r("API calls", k.api_calls.to_string()),
    ];
    for p in &k.providers {
        rows.push(r(
            &format!("  {}", p.provider),
            format!(
                "{}, {} calls, p50 {} ms, p95 {} ms, p99 {} ms",
                money(p.cost, c),
                p.calls,
                or_na(p.latency_p50_ms),
                or_na(p.latency_p95_ms),
                or_na(p.latency_p99_ms)
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
        r("cost per active user", unit_opt(k.cost_per_active_user, c)),
        r(
            "API cost per paying user",
            unit_opt(k.api_cost_per_paying_user, c),
        ),
        r(
            "gross margin (a month)",
            format!(
                "{} ({})",
                money(k.gross_margin, c),
                percent(k.gross_margin_rate)
            ),
        ),
    ]);
    rows
}

fn traffic(m: &Metrics) -> Vec<Row> {
    let t = &m.traffic;
    let hot = m
        .funnel
        .steps
        .iter()
        .find(|s| s.tier == PageTier::Hot)
        .map_or("hot page".to_string(), |s| s.step.clone());
    let mut rows = vec![
        r("hits", t.hits.to_string()),
        r("pageviews", t.pageviews.to_string()),
        r("unique visitors", t.unique_visitors.to_string()),
        r("sessions", t.sessions.to_string()),
        r(
            "bounce rate",
            format!("{} ({} bounces)", percent(t.bounce_rate), t.bounces),
        ),
        r("bot share", percent(t.bot_share)),
        r(
            &format!("{hot} visitors ÷ visitors"),
            percent(t.pricing_visitor_share),
        ),
    ];
    for layer in Layer::ALL {
        let n = t.bot_layers.get(layer.name()).copied().unwrap_or(0);
        rows.push(r(&format!("bot hits: {}", layer.words()), n.to_string()));
    }
    for (kind, n) in &t.bot_categories {
        let words = Category::from_name(kind).map_or(kind.as_str(), |c| c.words());
        rows.push(r(&format!("bots: {words}"), n.to_string()));
    }
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

fn funnel(m: &Metrics) -> Vec<Row> {
    m.funnel
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
        .collect()
}

fn leads(m: &Metrics) -> Vec<Row> {
    let l = &m.leads;
    let shares = |g: &crate::metrics::leads::Group| {
        format!(
            "{}, {} registered, {} paid",
            crate::words::count(g.leads, "lead"),
            percent(g.registered_share),
            percent(g.paid_share)
        )
    };
    let mut rows = vec![
        r("leads (hot or very hot)", l.leads.to_string()),
        r("very hot", l.very_hot.to_string()),
        r("linked to a user", l.linked.to_string()),
        r(
            &format!("registered within {} days", l.link_days),
            format!("{} ({})", l.registered, percent(l.registered_share)),
        ),
        r(
            &format!("paid within {} days", l.link_days),
            format!("{} ({})", l.paid, percent(l.paid_share)),
        ),
    ];
    for g in &l.by_tier {
        rows.push(r(&format!("tier {}", g.name), shares(g)));
    }
    for g in l.by_score.iter().filter(|g| g.leads > 0) {
        rows.push(r(&format!("score {}", g.name), shares(g)));
    }
    for g in l.by_source.iter().take(crate::metrics::TOP) {
        rows.push(r(&format!("source {}", g.name), shares(g)));
    }
    for s in l.revenue_by_source.iter().take(crate::metrics::TOP) {
        rows.push(r(
            &format!("new MRR from {}", s.source),
            format!(
                "{} ({})",
                money(s.new_mrr, &m.period.currency),
                crate::words::count(s.users, "user")
            ),
        ));
    }
    rows
}

fn customers(m: &Metrics) -> Vec<Row> {
    let c = &m.period.currency;
    let k = &m.customers;
    let line = |x: &crate::metrics::customers::Customer| {
        format!(
            "cost {} ({} a month) against MRR {}: margin {} ({})",
            money(x.cost, c),
            money(x.cost_per_month, c),
            money(x.mrr, c),
            money(x.margin, c),
            percent(x.margin_rate)
        )
    };
    let mut rows = vec![r("users with API cost", k.users_with_cost.to_string())];
    for x in &k.top_by_cost {
        rows.push(r(&format!("user {}", x.user), line(x)));
    }
    for x in k.cost_exceeds_mrr.iter().take(crate::metrics::TOP) {
        rows.push(r(&format!("costs more than pays: {}", x.user), line(x)));
    }
    if !k.unattributed_cost.is_zero() {
        rows.push(r("cost of erased users", money(k.unattributed_cost, c)));
    }
    rows
}
