//! `index.html`: KPI tiles with their change, charts per day with a table of the same numbers,
//! the funnel, top pages and referrers, the rules firing and alerts pending, the hot leads of
//! the last 7 days with their journeys, and the health of the cron job. No script; every
//! visitor-supplied string escaped (and URLs defused); light and dark; one column on a phone.

use std::fmt::Write as _;
use std::net::IpAddr;

use serde::Serialize;
use serde_json::Value;

use super::Data;
use crate::escape::{html, safe_html};

/// A KPI tile: its value as `metrics --json` gives it, and the previous period's.
#[derive(Debug, Serialize)]
pub struct Kpi {
    pub key: &'static str,
    pub name: &'static str,
    pub value: Value,
    pub previous: Value,
    /// "%" for rates shown as percentages, the currency for money, "" for counts.
    pub unit: String,
}

/// The KPIs, from the JSON of the metrics (so the page shows what `metrics --json` says).
pub fn kpis(d: &Data<'_>) -> Vec<Kpi> {
    let now = serde_json::to_value(d.m).unwrap_or_default();
    let before = serde_json::to_value(d.previous).unwrap_or_default();
    let cur = d.currency.to_string();
    let mut out: Vec<Kpi> = [
        ("users", "Users", "/users/total", ""),
        ("paying_users", "Paying users", "/users/premium", ""),
        ("mrr", "MRR", "/revenue/mrr", "money"),
        (
            "net_new_mrr",
            "Net new MRR",
            "/revenue/net_new_mrr",
            "money",
        ),
        (
            "conversion_rate",
            "Conversion",
            "/revenue/conversion_rate",
            "%",
        ),
        ("stickiness", "DAU / MAU", "/users/stickiness", "%"),
        ("error_rate", "Error rate", "/engagement/error_rate", "%"),
        ("api_cost", "API cost", "/costs/api_cost", "money"),
        ("pageviews", "Pageviews", "/traffic/pageviews", ""),
        (
            "unique_visitors",
            "Unique visitors",
            "/traffic/unique_visitors",
            "",
        ),
    ]
    .into_iter()
    .map(|(key, name, pointer, unit)| Kpi {
        key,
        name,
        value: now.pointer(pointer).cloned().unwrap_or(Value::Null),
        previous: before.pointer(pointer).cloned().unwrap_or(Value::Null),
        unit: if unit == "money" {
            cur.clone()
        } else {
            unit.to_string()
        },
    })
    .collect();
    out.push(Kpi {
        key: "hot_leads",
        name: "Hot leads, 7 days",
        value: d.lead_count.into(),
        previous: d.previous_lead_count.into(),
        unit: String::new(),
    });
    out
}

/// The JSON value as the tile's `data-value` (strings without their quotes).
pub fn raw(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        v => v.to_string(),
    }
}

fn shown(v: &Value, unit: &str) -> String {
    match (v.as_f64(), unit) {
        (None, _) => "n/a".to_string(),
        (Some(x), "%") => format!("{:.1}%", x * 100.0),
        (Some(x), "") => format!("{x:.0}"),
        (Some(x), currency) => format!("{x:.2} {}", html(currency)),
    }
}

fn change(now: &Value, before: &Value) -> String {
    match (now.as_f64(), before.as_f64()) {
        (Some(a), Some(b)) if b != 0.0 => format!("{:+.1}%", (a / b - 1.0) * 100.0),
        (Some(a), Some(_)) if a != 0.0 => "new".to_string(),
        (Some(_), Some(_)) => "±0".to_string(),
        _ => String::new(),
    }
}

const STYLE: &str = r"
:root{color-scheme:light dark;--bg:#f8fafc;--card:#fff;--text:#111827;--muted:#6b7280;--line:#e5e7eb;--up:#15803d;--down:#b91c1c}
@media (prefers-color-scheme:dark){:root{--bg:#0b1120;--card:#111827;--text:#e5e7eb;--muted:#9ca3af;--line:#374151;--up:#4ade80;--down:#f87171}
figure svg text{fill:#d1d5db}figure svg line,figure svg polyline[stroke='#000000']{stroke:#4b5563}figure svg rect[fill='#FFFFFF']{fill:transparent}}
*{box-sizing:border-box}body{margin:0;padding:16px;font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;background:var(--bg);color:var(--text)}
header,main,footer{max-width:1400px;margin:0 auto}h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:0 0 8px}
.muted{color:var(--muted)}.grid{display:grid;gap:12px;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));margin:16px 0}
.kpi,.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:12px}
.kpi .value{display:block;font-size:22px;font-weight:600;margin:2px 0}.kpi .label{color:var(--muted);font-size:13px}
.up{color:var(--up)}.down{color:var(--down)}.cards{display:grid;gap:12px;grid-template-columns:repeat(auto-fill,minmax(420px,1fr))}
@media (max-width:480px){.cards{grid-template-columns:1fr}body{padding:10px}}
figure{margin:0}figure svg{width:100%;height:auto;display:block}table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:3px 6px;border-bottom:1px solid var(--line);vertical-align:top}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
details{margin-top:6px}summary{cursor:pointer;color:var(--muted);font-size:13px}.ok{color:var(--up)}.fail{color:var(--down);font-weight:600}
code{font-size:12px;word-break:break-all}.legend span{display:inline-block;margin-right:10px;font-size:12px}.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
";

/// The whole page.
pub fn render(d: &Data<'_>) -> String {
    let mut p = String::with_capacity(256 << 10);
    let period = &d.m.period;
    let _ = write!(
        p,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><link rel=\"icon\" href=\"data:,\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'\">\
         <meta http-equiv=\"refresh\" content=\"{}\">\
         <title>{} dashboard</title><style>{STYLE}</style></head><body>\
         <header><h1>{}</h1><div class=\"muted\">{} to {} ({} days, {}); beside each number, its change from the {} days before. Built {}.</div></header><main>",
        d.refresh_secs,
        html(d.site_name),
        html(d.site_name),
        period.since,
        period.until,
        period.days,
        html(d.timezone),
        period.days,
        d.now
            .with_timezone(
                &d.timezone
                    .parse::<chrono_tz::Tz>()
                    .unwrap_or(chrono_tz::UTC)
            )
            .format("%Y-%m-%d %H:%M %Z"),
    );
    tiles(&mut p, d);
    p.push_str("<div class=\"cards\">");
    for c in super::figures::all(d) {
        p.push_str(&c);
    }
    p.push_str("</div><div class=\"cards\" style=\"margin-top:12px\">");
    funnel(&mut p, d);
    top(&mut p, "Top pages", &d.m.traffic.top_pages);
    top(&mut p, "Top referrers", &d.m.traffic.top_referrers);
    alerts(&mut p, d);
    health(&mut p, d);
    p.push_str("</div>");
    leads(&mut p, d);
    p.push_str("</main><footer class=\"muted\"><p>arkwatch: the same numbers as <code>api/*.json</code> and <code>arkwatch metrics --json</code>.</p></footer></body></html>\n");
    p
}

fn tiles(p: &mut String, d: &Data<'_>) {
    p.push_str("<section class=\"grid\" aria-label=\"Key numbers\">");
    for k in kpis(d) {
        let ch = change(&k.value, &k.previous);
        let class = if ch.starts_with('+') {
            "up"
        } else if ch.starts_with('-') {
            "down"
        } else {
            "muted"
        };
        let _ = write!(
            p,
            "<div class=\"kpi\" data-kpi=\"{}\" data-value=\"{}\"><span class=\"label\">{}</span><span class=\"value\">{}</span><span class=\"{class}\">{}</span> <span class=\"muted\">(before: {})</span></div>",
            k.key,
            html(&raw(&k.value)),
            k.name,
            shown(&k.value, &k.unit),
            if ch.is_empty() { "n/a".to_string() } else { ch },
            shown(&k.previous, &k.unit),
        );
    }
    p.push_str("</section>");
}

fn funnel(p: &mut String, d: &Data<'_>) {
    p.push_str("<section class=\"card\"><h2>Funnel</h2><table><tr><th>step</th><th class=\"n\">visitors</th><th class=\"n\">from the step before</th></tr>");
    for s in &d.m.funnel.steps {
        let _ = write!(
            p,
            "<tr><td>{} ({})</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            html(&s.step),
            s.tier.words(),
            s.visitors,
            s.conversion_from_previous
                .map_or_else(String::new, |r| format!("{:.1}%", r * 100.0))
        );
    }
    p.push_str("</table></section>");
}

fn top(p: &mut String, title: &str, rows: &[crate::metrics::Named]) {
    let _ = write!(
        p,
        "<section class=\"card\"><h2>{title}</h2><table><tr><th>name</th><th class=\"n\">pageviews</th></tr>"
    );
    for r in rows {
        let _ = write!(
            p,
            "<tr><td><code>{}</code></td><td class=\"n\">{}</td></tr>",
            safe_html(&r.name),
            r.count
        );
    }
    if rows.is_empty() {
        p.push_str("<tr><td class=\"muted\">none</td><td></td></tr>");
    }
    p.push_str("</table></section>");
}

fn alerts(p: &mut String, d: &Data<'_>) {
    let a = d.alerts;
    p.push_str("<section class=\"card\"><h2>Alerts</h2><table><tr><th>rule firing now</th><th>since</th></tr>");
    for f in &a.firing {
        let _ = write!(
            p,
            "<tr><td>{}</td><td>{}</td></tr>",
            html(&f.rule),
            f.since.format("%Y-%m-%d %H:%M UTC")
        );
    }
    if a.firing.is_empty() {
        p.push_str("<tr><td class=\"muted\">none</td><td></td></tr>");
    }
    let _ = write!(
        p,
        "</table><p>Pending delivery: {} and {}.</p></section>",
        crate::words::count(a.pending_leads as u64, "lead"),
        crate::words::count(a.pending_rules.len() as u64, "rule alert")
    );
}

fn health(p: &mut String, d: &Data<'_>) {
    let h = d.health;
    let _ = write!(
        p,
        "<section class=\"card\" data-healthy=\"{}\"><h2>Health: {}</h2><table>",
        h.healthy,
        if h.healthy { "ok" } else { "needs attention" }
    );
    for c in &h.checks {
        let _ = write!(
            p,
            "<tr><td class=\"{}\">{}</td><td>{}</td><td>{}</td></tr>",
            if c.ok { "ok" } else { "fail" },
            if c.ok { "ok" } else { "FAIL" },
            html(c.name),
            html(&c.detail)
        );
    }
    for log in &h.logs {
        let _ = write!(
            p,
            "<tr><td>lag</td><td>log</td><td>{} bytes not ingested: <code>{}</code></td></tr>",
            log.bytes,
            html(&log.path)
        );
    }
    p.push_str("</table></section>");
}

/// `203.0.113.x`, `2001:db8:85a3::x`.
fn mask(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.x", o[0], o[1], o[2])
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}::x", s[0], s[1], s[2])
        }
    }
}

fn leads(p: &mut String, d: &Data<'_>) {
    let _ = write!(
        p,
        "<section class=\"card\" style=\"margin-top:12px\"><h2>Hot leads, last 7 days ({})</h2><table><tr><th>visitor</th><th class=\"n\">score</th><th>journey</th></tr>",
        d.lead_count
    );
    for j in d.leads {
        let who = if d.show_ips {
            j.ip.to_string()
        } else {
            mask(j.ip)
        };
        let mut journey = String::new();
        for s in &j.sessions {
            let from = s
                .referrer
                .as_deref()
                .map_or_else(|| "direct".to_string(), safe_html);
            let pages: Vec<String> = s
                .pages
                .iter()
                .map(|h| {
                    format!(
                        "<code>{}</code> {}",
                        safe_html(&h.path),
                        h.time.format("%b %d %H:%M")
                    )
                })
                .collect();
            let _ = write!(journey, "<div>from {from}: {}</div>", pages.join(", then "));
        }
        let _ = write!(
            p,
            "<tr><td><code>{}</code><br><span class=\"muted\">{}, {}</span></td><td class=\"n\">{}</td><td>{journey}</td></tr>",
            html(&who),
            safe_html(&j.browser),
            j.top_tier.words(),
            j.score
        );
    }
    if d.leads.is_empty() {
        p.push_str("<tr><td class=\"muted\">none</td><td></td><td></td></tr>");
    }
    p.push_str("</table></section>");
}
