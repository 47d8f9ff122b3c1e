//! `arkwatch fold-events`: fold new product events now and print what changed.

use anyhow::Result;
use std::fmt::Write as _;

use crate::cli::FoldEventsArgs;
use crate::exit::Status;
use crate::pipeline::{self, Run};
use crate::state::StateLock;

pub fn run(env: &super::Env, opts: &FoldEventsArgs) -> Result<Status> {
    let config = &env.config;
    let lock = StateLock::acquire(&config.data_dir, env.wait)?;
    let mut state = lock.load()?;
    let mut store = crate::events::open(config)?;
    if opts.new_store && state.events_store.as_deref() != Some(store.identity().as_str()) {
        state.events_cursor = None;
        state.events_store = None;
        // The new store's stream is not the history the rollups hold: verify recounts only
        // what comes after now.
        state.events_trimmed_before = Some(crate::events::event::EventId::at(env.clock.now()));
    }
    let run = Run {
        config,
        lock: &lock,
        clock: env.clock,
    };
    if opts.restore {
        let n = pipeline::fold::restore(&run, &mut state, store.as_mut())?;
        super::print(&format!(
            "restored {} into {}; folding its new stream from the start\n",
            crate::words::count(n, "user record"),
            store.describe()
        ))?;
    }
    let f = pipeline::fold::fold(&run, &mut state, store.as_mut())?;
    drop(lock);
    if opts.json {
        super::print(&(serde_json::to_string_pretty(&f)? + "\n"))?;
    } else {
        let mut text = String::new();
        let _ = writeln!(
            text,
            "folded {} from {} in {:.3}s (unknown types {}, malformed {})",
            crate::words::count(f.events, "event"),
            f.store,
            f.seconds,
            f.unknown,
            f.malformed
        );
        for bad in &f.malformed_ids {
            let _ = writeln!(text, "  malformed {}: {}", bad.id, bad.reason);
        }
        let _ = writeln!(
            text,
            "users {} (premium {}), MRR {}",
            f.users.total, f.users.premium, f.users.mrr
        );
        super::print(&text)?;
    }
    Ok(Status::Ok)
}
