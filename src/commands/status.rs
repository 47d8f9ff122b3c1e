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
    if let Some(t) = r.last_sent {
        let _ = writeln!(
            out,
            "  last message sent {}",
            t.format("%Y-%m-%d %H:%M:%S UTC")
        );
    }
    out
}
