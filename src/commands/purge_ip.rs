//! `arkwatch purge-ip`: erase (or, with --dry-run, show) everything held about an address.

use anyhow::Result;
use std::fmt::Write as _;

use crate::cli::{PurgeIpArgs, PurgeUserArgs};
use crate::erase::{Erased, Target};
use crate::exit::Status;
use crate::pipeline::Run;
use crate::privacy::{self, Options, PurgeReport};
use crate::state::StateLock;

pub fn run(env: &super::Env, opts: &PurgeIpArgs) -> Result<Status> {
    let (config, wait) = (&env.config, env.wait);
    // A bad target touches nothing: checked before the lock is even taken.
    let target = match Target::parse(&opts.target, opts.force) {
        Ok(target) => target,
        Err(err) => {
            super::warn(&format!("purge-ip: {err}"));
            return Ok(Status::Usage);
        }
    };
    let lock = if opts.dry_run {
        StateLock::acquire_for_reading(&config.data_dir, wait)?
    } else {
        StateLock::acquire(&config.data_dir, wait)?
    };
    if let Some(note) = lock.note() {
        super::warn(note);
    }
    let run = Run {
        config,
        lock: &lock,
        clock: env.clock,
    };
    let report = privacy::purge(
        &run,
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

pub fn run_user(env: &super::Env, opts: &PurgeUserArgs) -> Result<Status> {
    let (config, wait) = (&env.config, env.wait);
    if opts.user.trim().is_empty() || opts.user.len() > crate::events::event::MAX_NAME {
        super::warn(&format!(
            "purge-user: {:?} is not a user id (1 to {} bytes)",
            opts.user,
            crate::events::event::MAX_NAME
        ));
        return Ok(Status::Usage);
    }
    let lock = if opts.dry_run {
        StateLock::acquire_for_reading(&config.data_dir, wait)?
    } else {
        StateLock::acquire(&config.data_dir, wait)?
    };
    let run = Run {
        config,
        lock: &lock,
        clock: env.clock,
    };
    let report = privacy::user::purge_user(&run, &opts.user, opts.dry_run)?;
    drop(lock);
    if opts.json {
        return super::print(&(serde_json::to_string_pretty(&report)? + "\n")).map(|()| Status::Ok);
    }
    let verb = if report.dry_run { "found" } else { "removed" };
    let mut out = format!(
        "{} user {}: {verb} in {:.3}s\n",
        if report.dry_run {
            "dry-run purge of"
        } else {
            "purged"
        },
        crate::escape::terminal(&report.user),
        report.seconds
    );
    for (name, e) in report.stores() {
        let _ = writeln!(
            out,
            "  {name:<12} {}",
            crate::words::count(e.records, "record")
        );
        for change in &e.changes {
            let _ = writeln!(out, "    {change}");
        }
    }
    super::print(&out)?;
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
    let mut row = |name: &str, s: &Erased| {
        let _ = writeln!(
            out,
            "  {name:<12} {}{}",
            crate::words::count(s.records, "record"),
            if r.dry_run || s.files == 0 {
                String::new()
            } else {
                format!(", {} changed", crate::words::count(s.files, "file"))
            }
        );
    };
    row("visits", &r.visits);
    row("events", &r.events);
    row("state", &r.state);
    row("outbox", &r.outbox);
    row("rollups", &r.rollups);
    row("links", &r.links);
    if let Some(logs) = &r.access_logs {
        row("access logs", logs);
    }
    for erased in [
        &r.visits, &r.events, &r.state, &r.outbox, &r.rollups, &r.links,
    ]
    .into_iter()
    .chain(r.access_logs.as_ref())
    {
        for change in &erased.changes {
            let _ = writeln!(out, "    {change}");
        }
    }
    for note in &r.notes {
        let _ = writeln!(out, "  note: {note}");
    }
    if r.dry_run {
        out.push_str("  (nothing was changed; --json lists every record)\n");
    }
    out
}
