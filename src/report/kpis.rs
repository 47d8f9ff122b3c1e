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
            let change = if a >= b {
                format!("+{}", a - b)
            } else {
                format!("-{}", b - a)
            };
            format!("{change}{}", pct(*a as f64, *b as f64))
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

/// How a KPI is read from a period's metrics.
type Read = fn(&Metrics) -> Value;

/// The KPIs of the report, in their order.
const ROWS: &[(&str, Read)] = &[
    ("Users", |m| Value::Count(m.users.total)),
    ("Paying users", |m| Value::Count(m.users.premium)),
    ("New registrations", |m| {
        Value::Count(m.users.new_registrations)
    }),
    ("Active users", |m| Value::Count(m.costs.active_users)),
    ("MRR", |m| Value::Money(m.revenue.mrr)),
    ("Net new MRR", |m| Value::Money(m.revenue.net_new_mrr)),
    ("Conversion rate", |m| {
        Value::Rate(m.revenue.conversion_rate)
    }),
    ("Customer churn", |m| {
        Value::Rate(m.revenue.customer_churn_rate)
    }),
    ("Commands", |m| Value::Count(m.engagement.commands)),
    ("Error rate", |m| Value::Rate(m.engagement.error_rate)),
    ("API cost", |m| Value::Money(m.costs.api_cost)),
    ("Pageviews", |m| Value::Count(m.traffic.pageviews)),
    ("Unique visitors", |m| {
        Value::Count(m.traffic.unique_visitors)
    }),
];

pub fn kpis(m: &Metrics, p: &Metrics, hot: (usize, usize)) -> Vec<Kpi> {
    let c = &m.period.currency;
    let show = |v: &Value| match v {
        Value::Count(n) => n.to_string(),
        Value::Money(d) => money(*d, c),
        Value::Rate(r) => percent(*r),
    };
    let hot_leads = (
        "Hot leads",
        Value::Count(hot.0 as u64),
        Value::Count(hot.1 as u64),
    );
    ROWS.iter()
        .map(|(name, read)| (*name, read(m), read(p)))
        .chain(std::iter::once(hot_leads))
        .map(|(name, now, before)| Kpi {
            name: name.to_string(),
            value: show(&now),
            previous: show(&before),
            change: change(&now, &before),
        })
        .collect()
}
