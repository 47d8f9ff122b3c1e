//! `arkwatch rotate`: retention for arkwatch's own data (see [`crate::rotate`]).

use anyhow::Result;
use std::fmt::Write as _;

use crate::cli::RotateArgs;
use crate::exit::Status;
use crate::state::StateLock;
use crate::words::{count, plural};

pub fn run(env: &super::Env, opts: &RotateArgs) -> Result<Status> {
    let (config, wait) = (&env.config, env.wait);
    let lock = if opts.dry_run {
        StateLock::acquire_for_reading(&config.data_dir, wait)?
    } else {
        StateLock::acquire(&config.data_dir, wait)?
    };
    if let Some(note) = lock.note() {
        super::warn(note);
    }
    let run = crate::pipeline::Run {
        config,
        lock: &lock,
        clock: env.clock,
    };
    let (r, status) = crate::retention::rotate(&run, opts.dry_run)?;
    drop(lock);
    if opts.json {
        super::print(&(serde_json::to_string_pretty(&r)? + "\n"))?;
    } else {
        let mut out = String::new();
        let would = if r.dry_run { "would be " } else { "" };
        let _ = writeln!(
            out,
            "{}rotate in {:.3}s{}",
            if r.dry_run { "dry-run " } else { "" },
            r.seconds,
            if r.changed_anything() {
                ""
            } else {
                ": nothing to do"
            }
        );
        let v = &r.visits;
        let _ = writeln!(
            out,
            "  visits: {} kept, {} {would}archived ({}), {} {would}deleted",
            v.kept,
            v.archived,
            count(v.days_archived, "whole day"),
            count(v.archives_deleted, "archive")
        );
        let _ = writeln!(
            out,
            "  events: {} {would}trimmed{}",
            r.events_trimmed,
            r.events_trimmed_before
                .map_or(String::new(), |b| format!(" (ids before {b})"))
        );
        let _ = writeln!(
            out,
            "  state: {} and {} {would}dropped; outbox: {} {would}deleted; alert history: {} \
             {would}dropped",
            plural(r.ledger_entries_dropped, "ledger entry", "ledger entries"),
            count(r.checkpoints_dropped, "checkpoint"),
            count(r.outbox_messages_deleted, "message"),
            count(r.alert_history_dropped, "line")
        );
        super::print(&out)?;
    }
    for error in &r.errors {
        super::warn(error);
    }
    Ok(status)
}
