//! `arkwatch purge-ip`: erase (or, with --dry-run, show) everything held about an address.

use anyhow::Result;
use std::fmt::Write as _;

use crate::cli::PurgeIpArgs;
use crate::exit::Status;
use crate::purge::{self, Options, PurgeReport, Target};
use crate::state::StateLock;

pub fn run(env: &super::Env, opts: PurgeIpArgs) -> Result<Status> {
    let (config, wait) = (&env.config, env.wait);
    // A bad target touches nothing: checked before the lock is even taken.
    let target = match Target::parse(&opts.target, opts.force) {
        Ok(target) => target,
        Err(err) => {
            super::warn(&format!("purge-ip: {err}"));
            return Ok(Status::Usage);
        }
    };
    let lock = StateLock::acquire(&config.data_dir, wait)?;
    let report = purge::purge(
        config,
        &lock,
        &target,
        &Options {
            dry_run: opts.dry_run,
            include_access_logs: opts.include_access_logs,
        },
    )?;
    drop(lock);
    if opts.json {
        super::print(&(serde_json::to_string_pretty(&report)? + "\n"))?;
    } else {
        super::print(&human(&report))?;
    }
    Ok(Status::Ok)
}

fn human(r: &PurgeReport) -> String {
    let mut out = String::new();
    let verb = if r.dry_run { "found" } else { "removed" };
    let _ = writeln!(
        out,
        "{} {}: {verb} in {:.3}s",
        if r.dry_run {
            "dry-run purge of"
        } else {
            "purged"
        },
        r.target,
        r.seconds
    );
    let mut row = |name: &str, s: &purge::StoreReport| {
        let _ = writeln!(
            out,
            "  {name:<12} {} record{}{}",
            s.records,
            if s.records == 1 { "" } else { "s" },
            if r.dry_run || s.files == 0 {
                String::new()
            } else {
                format!(
                    ", {} file{} rewritten",
                    s.files,
                    if s.files == 1 { "" } else { "s" }
                )
            }
        );
    };
    row("visits", &r.visits);
    row("events", &r.events);
    row("state", &r.state);
    row("outbox", &r.outbox);
    row("rollups", &r.rollups);
    if let Some(logs) = &r.access_logs {
        row("access logs", logs);
    }
    for note in &r.notes {
        let _ = writeln!(out, "  note: {note}");
    }
    if r.dry_run {
        out.push_str("  (nothing was changed; --json lists every record)\n");
    }
    out
}
