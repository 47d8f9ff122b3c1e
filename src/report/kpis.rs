//! The KPI table: each KPI of the period beside the period before, and the change.

use rust_decimal::Decimal;

use super::Kpi;
use crate::metrics::Metrics;
use crate::metrics::render::{money, percent};

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

pub fn kpis(m: &Metrics, p: &Metrics, hot: (usize, usize)) -> Vec<Kpi> {
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
