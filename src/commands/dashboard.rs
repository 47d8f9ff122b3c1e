//! `arkwatch dashboard` (see [`crate::dashboard`]), and the build every `scan` runs when
//! `[dashboard] out` is set.

use std::path::Path;

use anyhow::{Context, Result};

use crate::cli::DashboardArgs;
use crate::dashboard::Built;
use crate::exit::{Fatal, Status};

pub fn run(env: &super::Env, opts: &DashboardArgs) -> Result<Status> {
    let config = &env.config;
    let Some(out) = opts.out.as_deref().or(config.dashboard.out.as_deref()) else {
        return Err(Fatal::Usage(
            "no folder to write: give --out DIR, or set [dashboard] out in the configuration"
                .to_string(),
        )
        .into());
    };
    let built = build(env, out, opts.days.unwrap_or(config.dashboard.days))?;
    if opts.json {
        super::print(&(serde_json::to_string_pretty(&built)? + "\n"))?;
    } else {
        super::print(&format!(
            "dashboard in {:.3}s: {} files in {} (index.html {} KB)\n",
            built.seconds,
            built.files,
            built.dir.display(),
            built.index_bytes / 1024
        ))?;
    }
    Ok(Status::Ok)
}

/// Brings the stores up to date (as `metrics` does), then writes the dashboard into `out`.
pub(super) fn build(env: &super::Env, out: &Path, days: u32) -> Result<Built> {
    let config = &env.config;
    let current = crate::pipeline::refresh::refresh(config, env.clock, env.wait)?;
    for w in &current.warnings {
        super::warn(w);
    }
    let now = env.clock.now();
    let health = crate::health::report(config, now, false)?;
    crate::dashboard::build(
        &super::metrics::sources(&current, config),
        &health,
        now,
        out,
        days,
    )
    .with_context(|| format!("dashboard {}", out.display()))
}
