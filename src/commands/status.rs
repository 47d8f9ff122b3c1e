//! `arkwatch status`: the health page of a cron tool (see [`crate::health`]), as text or JSON;
//! exit 1 when something needs attention.

use std::fmt::Write as _;

use anyhow::Result;

use crate::cli::StatusArgs;
use crate::exit::Status;
use crate::health::Report;

pub fn run(env: &super::Env, opts: &StatusArgs) -> Result<Status> {
    let report = crate::health::report(&env.config, env.clock.now(), opts.offline)?;
    if opts.json {
        super::print(&(serde_json::to_string_pretty(&report)? + "\n"))?;
    } else {
        super::print(&human(&report))?;
    }
    Ok(if report.healthy {
        Status::Ok
    } else {
        Status::Partial
    })
}

fn human(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "arkwatch {} (config {}, data {})",
        if r.healthy {
            "is healthy"
        } else {
            "NEEDS ATTENTION"
        },
        r.config,
        r.data_dir
    );
    for c in &r.checks {
        let _ = writeln!(
            out,
            "  {:<5} {:<15} {}",
            if c.ok { "ok" } else { "FAIL" },
            c.name,
            c.detail
        );
    }
    for log in &r.logs {
        let _ = writeln!(
            out,
            "  log   {} bytes not ingested: {}",
            log.bytes, log.path
        );
    }
    let time = |t: &chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M:%S UTC").to_string();
    for c in &r.channels {
        let answers = match c.reachable {
            None => "",
            Some(true) => ", answers",
            Some(false) => ", DOES NOT ANSWER",
        };
        let mut line = format!(
            "  channel {:<9} {}{answers}; {} pending; last delivery {}",
            c.channel,
            c.to,
            c.pending,
            c.last_sent
                .as_ref()
                .map_or_else(|| "never".to_string(), time)
        );
        if let Some(t) = &c.retry_at {
            let _ = write!(line, "; asked to wait until {}", time(t));
        }
        if let Some(e) = &c.last_error {
            let _ = write!(line, "; last error: {e}");
        }
        let _ = writeln!(out, "{line}");
    }
    if let Some(t) = r.last_sent {
        let _ = writeln!(out, "  last message sent {}", time(&t));
    }
    out
}
