//! `arkwatch fold-events`: fold new product events now and print what changed.

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::Result;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::cli::FoldEventsArgs;
use crate::config::Config;
use crate::events::fold::{self, FoldSummary};
use crate::exit::Status;
use crate::state::StateLock;

#[derive(Serialize)]
struct Output {
    #[serde(flatten)]
    fold: FoldSummary,
    users: UsersNow,
}

/// The projection after the fold.
#[derive(Serialize)]
struct UsersNow {
    total: u64,
    premium: u64,
    mrr: Decimal,
}

pub fn run(config: &Config, wait: Duration, opts: FoldEventsArgs) -> Result<Status> {
    let lock = StateLock::acquire(&config.data_dir, wait)?;
    let mut state = lock.load()?;
    let mut store = crate::events::open(config)?;
    let summary = fold::fold(config, &lock, &mut state, store.as_mut())?;
    let users = store.all_users()?;
    drop(lock);
    let out = Output {
        users: UsersNow {
            total: users.len() as u64,
            premium: users.values().filter(|u| u.is_paying()).count() as u64,
            mrr: users.values().map(|u| u.mrr).sum(),
        },
        fold: summary,
    };
    if opts.json {
        super::print(&(serde_json::to_string_pretty(&out)? + "\n"))?;
    } else {
        let mut text = String::new();
        let f = &out.fold;
        let _ = writeln!(
            text,
            "folded {} events from {} in {:.3}s (unknown types {}, malformed {})",
            f.events, f.store, f.seconds, f.unknown, f.malformed
        );
        for bad in &f.malformed_ids {
            let _ = writeln!(text, "  malformed {}: {}", bad.id, bad.reason);
        }
        let _ = writeln!(
            text,
            "users {} (premium {}), MRR {}",
            out.users.total, out.users.premium, out.users.mrr
        );
        super::print(&text)?;
    }
    Ok(Status::Ok)
}
