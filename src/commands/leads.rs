//! `arkwatch leads`: the leads of a period as a table, JSON or CSV, or (`--calibrate`) how the
//! score ranked the leads whose outcome is known and the weights that would rank them better.

use std::fmt::Write as _;
use std::io::IsTerminal;

use anyhow::Result;
use chrono::Utc;
use comfy_table::{ContentArrangement, Table, presets};

use crate::cli::LeadsArgs;
use crate::escape::terminal;
use crate::exit::Status;
use crate::metrics::calibrate::{self, Calibration, Rate};
use crate::metrics::leads::{self, Lead};
use crate::metrics::render::{money, percent};
use crate::pipeline::refresh::refresh;

pub fn run(env: &super::Env, opts: &LeadsArgs) -> Result<Status> {
    let config = &env.config;
    let now = env.clock.now();
    let today = now.with_timezone(&config.timezone).date_naive();
    let default_days = if opts.calibrate { 90 } else { 30 };
    let period = super::metrics::period(today, opts.since, opts.until, opts.days, default_days)?;
    let current = refresh(config, env.clock, env.wait)?;
    let all = leads::leads(&super::metrics::sources(&current, config), period)?;
    let currency = &config.metrics.currency;
    let text = if opts.calibrate {
        let known: Vec<&Lead> = all
            .iter()
            .filter(|l| l.settled(now, config.leads.link_days))
            .collect();
        let c = calibrate::calibrate(&known, config.alerts.score);
        if opts.json {
            serde_json::to_string_pretty(&c)? + "\n"
        } else {
            calibration_text(&c, period, config.leads.link_days)
        }
    } else if opts.json {
        serde_json::to_string_pretty(&all)? + "\n"
    } else if opts.csv {
        csv(&all, currency)
    } else {
        table(&all, currency, std::io::stdout().is_terminal())
    };
    super::print(&text)?;
    for w in &current.warnings {
        super::warn(w);
    }
    Ok(Status::Ok)
}

fn date(t: Option<chrono::DateTime<Utc>>) -> String {
    t.map_or_else(String::new, |t| t.format("%Y-%m-%d").to_string())
}

/// One CSV cell: quoted when needed, and a leading `=`, `+`, `-` or `@` defused (a
/// spreadsheet would run it as a formula; User-Agents and sources are the visitor's words).
fn cell(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

const COLUMNS: &str = "first_seen,ip,user_agent,tier,score,visits,source,referrer_host,\
                       utm_source,utm_campaign,user,registered,converted,plan,mrr,\
                       registered_within,paid_within";

fn csv(all: &[Lead], currency: &str) -> String {
    let mut out = format!("{COLUMNS},currency\n");
    for l in all {
        let fields = [
            l.first_seen.to_rfc3339(),
            l.ip.to_string(),
            l.user_agent.clone(),
            l.tier.name().to_string(),
            l.score.to_string(),
            l.visits.to_string(),
            l.source.name.clone(),
            l.source.referrer_host.clone().unwrap_or_default(),
            l.source.utm_source.clone().unwrap_or_default(),
            l.source.utm_campaign.clone().unwrap_or_default(),
            l.user.clone().unwrap_or_default(),
            date(l.registered),
            date(l.converted),
            l.plan.clone().unwrap_or_default(),
            format!("{:.2}", crate::metrics::money::round(l.mrr, 2)),
            l.registered_within.to_string(),
            l.paid_within.to_string(),
            currency.to_string(),
        ];
        let row: Vec<String> = fields.iter().map(|f| cell(f)).collect();
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

fn table(all: &[Lead], currency: &str, tty: bool) -> String {
    if all.is_empty() {
        return "no leads in the period (no hot or very hot visit)\n".to_string();
    }
    let mut t = Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    if !tty {
        t.force_no_tty();
    }
    t.set_header(vec![
        "first seen",
        "visitor",
        "tier",
        "score",
        "source",
        "user",
        "registered",
        "converted",
        "MRR now",
    ]);
    for l in all {
        t.add_row(vec![
            l.first_seen.format("%Y-%m-%d %H:%M").to_string(),
            terminal(&format!(
                "{} {}",
                l.ip,
                crate::visits::journey::describe_agent(&l.user_agent)
            )),
            l.tier.name().to_string(),
            l.score.to_string(),
            terminal(&l.source.name),
            terminal(l.user.as_deref().unwrap_or("-")),
            date(l.registered),
            date(l.converted),
            if l.user.is_some() {
                money(l.mrr, currency)
            } else {
                String::new()
            },
        ]);
    }
    let linked = all.iter().filter(|l| l.user.is_some()).count();
    let paid = all.iter().filter(|l| l.paid_within).count();
    format!(
        "{t}\n{}, {linked} linked to a user, {paid} paid within the link window\n",
        crate::words::count(all.len() as u64, "lead")
    )
}

fn rates(out: &mut String, title: &str, rates: &[Rate]) {
    let _ = writeln!(out, "{title}:");
    for r in rates.iter().filter(|r| r.leads > 0) {
        let _ = writeln!(
            out,
            "  {:<10} {:>5} leads {:>5} paid  {}",
            r.name,
            r.leads,
            r.paid,
            percent(r.rate)
        );
    }
}

fn auc(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".to_string(), |v| format!("{v:.4}"))
}

fn calibration_text(c: &Calibration, period: crate::metrics::Period, link_days: u32) -> String {
    let mut out = format!(
        "{} to {}: {} whose outcome is known (paid, or {link_days} days passed), {} paid\n\n",
        period.since,
        period.until,
        crate::words::count(c.leads, "lead"),
        c.paid
    );
    rates(&mut out, "paid, by tier reached", &c.by_tier);
    rates(&mut out, "paid, by visits", &c.by_visits);
    rates(
        &mut out,
        "paid, by score band (current weights)",
        &c.by_score,
    );
    out.push_str("\nsignals (log odds ratio with Haldane's correction; 10 points per unit):\n");
    for s in &c.signals {
        let _ = writeln!(
            out,
            "  {:<13} with: {}/{} paid  without: {}/{} paid  log odds {:+.4}  points {}",
            s.name,
            s.with_paid,
            s.with_paid + s.with_unpaid,
            s.without_paid,
            s.without_paid + s.without_unpaid,
            s.log_odds,
            s.points
        );
    }
    if let Some(mean) = c.mean_repeats {
        let _ = writeln!(
            out,
            "  (repeat_visit: per visit after the first; returning leads came back {mean:.4} times on average)"
        );
    }
    let _ = writeln!(
        out,
        "\nranking quality (ROC AUC): current weights {}, suggested {}",
        auc(c.auc_current),
        auc(c.auc_suggested)
    );
    let w = c.suggested;
    let _ = write!(
        out,
        "\nsuggested (nothing was changed; copy it into the config to use it):\n\
         [alerts.score]\nvery_hot = {}\nhot = {}\nwarm = {}\nrepeat_visit = {}\n",
        w.very_hot, w.hot, w.warm, w.repeat_visit
    );
    out
}
