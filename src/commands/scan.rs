//! `arkwatch scan`: the cron job (see [`crate::scan`]), and its summary.

use anyhow::Result;
use std::fmt::Write as _;

use crate::alerts::ledger::{LeadAlert, RuleAlert};

use crate::cli::ScanArgs;
use crate::exit::Status;
use crate::pipeline::Run;
use crate::pipeline::scan::{Delivery, Product, ScanReport};
use crate::state::StateLock;
use crate::words::count;

pub fn run(env: &super::Env, opts: &ScanArgs) -> Result<Status> {
    let config = &env.config;
    // A broken [smtp] section or channel is a config error before anything is read.
    let channels = crate::notify::channels(config)?;
    let lock = if opts.dry_run {
        StateLock::acquire_for_reading(&config.data_dir, env.wait)?
    } else {
        StateLock::acquire(&config.data_dir, env.wait)?
    };
    if let Some(note) = lock.note() {
        super::warn(note);
    }
    let run = Run {
        config,
        lock: &lock,
        clock: env.clock,
    };
    let (report, status) = crate::pipeline::scan::scan(&run, &channels, opts.dry_run)?;
    drop(lock);
    if opts.json {
        super::print(&(serde_json::to_string_pretty(&report)? + "\n"))?;
    } else {
        super::print(&human(&report))?;
    }
    for error in &report.errors {
        super::warn(error);
    }
    Ok(dashboard(env, opts, status))
}

/// After the scan (its alerts are sent and its state saved): the dashboard, when configured.
/// A dashboard that cannot be built never undoes the scan; it is said, naming the folder, and
/// the run exits 1 (unless a more actionable status already stands).
fn dashboard(env: &super::Env, opts: &ScanArgs, status: Status) -> Status {
    let Some(out) = env.config.dashboard.out.as_deref() else {
        return status;
    };
    if opts.dry_run {
        return status;
    }
    match super::dashboard::build(env, out, env.config.dashboard.days) {
        Ok(_) => status,
        Err(err) => {
            super::warn(&format!("the dashboard was not built: {err:#}"));
            if matches!(status, Status::Ok | Status::TempFail) {
                Status::Partial
            } else {
                status
            }
        }
    }
}

fn human(r: &ScanReport) -> String {
    let mut out = summary_line(r);
    if let Some(p) = &r.product {
        out.push_str(&product_line(p));
    }
    out.push_str(&alert_lines(r));
    out.push_str(&delivery_lines(r));
    out
}

/// `scan in 0.011s: 21 new lines (6 visits); 13 new events; raised …; sent …; 0 pending`.
fn summary_line(r: &ScanReport) -> String {
    let mut parts = Vec::new();
    if let Some(i) = &r.ingest {
        parts.push(format!(
            "{} ({})",
            count(i.lines, "new line"),
            count(i.visits_recorded, "visit")
        ));
    }
    if let Some(f) = &r.fold {
        parts.push(count(f.events, "new event"));
    }
    if let Some(n) = r.events_previewed {
        parts.push(count(n, "new event"));
    }
    let raised_rules = r.rules.iter().filter(|x| x.alert.is_some()).count() as u64;
    parts.push(format!(
        "raised {} and {}",
        count(r.leads.len() as u64, "lead"),
        count(raised_rules, "alert")
    ));
    if r.automated_visits > 0 {
        parts.push(format!(
            "{} of automated visitors not leads",
            count(r.automated_visits as u64, "tracked visit")
        ));
    }
    if let Delivery::Sent { leads, rules, .. } = &r.delivery {
        parts.push(format!(
            "sent {} and {} in 1 message",
            count(*leads as u64, "lead"),
            count(*rules as u64, "alert")
        ));
    }
    parts.push(format!("{} pending", r.pending));
    format!(
        "{}scan in {:.3}s: {}\n",
        if r.dry_run { "dry-run " } else { "" },
        r.seconds,
        parts.join("; ")
    )
}

fn product_line(p: &Product) -> String {
    format!(
        "  product: {} ({} paying), MRR {:.2}; {}: {}, {}, {}, API cost {:.2}",
        count(p.users, "user"),
        p.paying,
        crate::metrics::money::round(p.mrr, 2),
        p.day
            .map_or("no activity yet".to_string(), |d| format!("on {d}")),
        count(p.registrations_today, "registration"),
        count(p.commands_today, "command"),
        count(p.errors_today, "error"),
        crate::metrics::money::round(p.api_cost_today, 2),
    ) + "\n"
}

/// One line per lead raised and per rule that holds or changed.
fn alert_lines(r: &ScanReport) -> String {
    let mut out = String::new();
    for lead in &r.leads {
        let kind = match lead.kind {
            LeadAlert::New => "new",
            LeadAlert::Escalated => "escalated",
        };
        let origin = lead
            .origin
            .as_ref()
            .and_then(crate::geo::Origin::headline)
            .map(|h| format!("{} - ", crate::escape::terminal(&h)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  lead ({kind}, {}, score {}): {origin}{}",
            lead.tier.words(),
            lead.score,
            lead.ip
        );
    }
    if r.ignored_network_leads > 0 {
        let _ = writeln!(
            out,
            "  {} from filters.ignore_networks left out",
            count(r.ignored_network_leads as u64, "lead")
        );
    }
    for problem in &r.geo_problems {
        let _ = writeln!(out, "  geo: {problem} (leads sent without those fields)");
    }
    for rule in r.rules.iter().filter(|x| x.alert.is_some() || x.holds) {
        let alert = match rule.alert {
            None => "holds, already alerted",
            Some(RuleAlert::Fired) => "fired",
            Some(RuleAlert::Repeated) => "still holds",
            Some(RuleAlert::Resolved) => "resolved",
        };
        let _ = writeln!(out, "  rule {} ({alert}): {}", rule.name, rule.detail);
    }
    out
}

/// What happened on each channel: sent, waiting, failed, or in a dry run what would be.
fn delivery_lines(r: &ScanReport) -> String {
    let mut out = String::new();
    for c in &r.channels {
        let pending = count(c.pending as u64, "alert");
        let on = if c.channel == crate::alerts::queue::EMAIL {
            String::new()
        } else {
            format!(" on {}", c.channel)
        };
        let time =
            |t: &chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M:%S UTC").to_string();
        let _ = match &c.delivery {
            Delivery::NothingDue => Ok(()),
            Delivery::Sent {
                to,
                subject,
                leads,
                rules,
                again,
            } => writeln!(
                out,
                "  sent \"{subject}\" ({}, {}) to {to}{}",
                count(*leads as u64, "lead"),
                count(*rules as u64, "alert"),
                if *again {
                    " (again: a run that stopped had frozen it)"
                } else {
                    ""
                }
            ),
            Delivery::RateLimited { next_allowed } => writeln!(
                out,
                "  {pending} pending{on}: its hourly limit reached, next message from {}",
                time(next_allowed)
            ),
            Delivery::Waiting { until } => writeln!(
                out,
                "  {pending} pending{on}: the server asked to wait until {}",
                time(until)
            ),
            Delivery::Failed { to, retry_at, .. } => writeln!(
                out,
                "  delivery to {to} failed; {pending} stay pending for {}",
                retry_at
                    .as_ref()
                    .map_or("the next run".to_string(), |t| format!(
                        "a run after {}",
                        time(t)
                    ))
            ),
            Delivery::WouldSend { to, subject, text } => {
                let _ = writeln!(out, "  would send to {to}: {subject}\n");
                for line in text.lines() {
                    let _ = writeln!(out, "    {line}");
                }
                Ok(())
            }
            Delivery::WouldWait { next_allowed } => writeln!(
                out,
                "  would keep {pending} pending{on} until {}",
                time(next_allowed)
            ),
        };
    }
    out
}
