//! `arkwatch metrics`: the numbers of a period, in the format asked for.

use std::io::IsTerminal;

use anyhow::Result;
use chrono::{Duration as Days, NaiveDate};

use crate::cli::MetricsArgs;
use crate::exit::Status;
use crate::metrics::{self, Period, Sources, render};
use crate::pipeline::refresh::{Current, refresh};

pub fn run(env: &super::Env, opts: MetricsArgs) -> Result<Status> {
    let config = &env.config;
    let today = env.clock.now().with_timezone(&config.timezone).date_naive();
    let period = period(today, &opts);
    let sections: Vec<&str> = if opts.section == "all" {
        render::SECTIONS.to_vec()
    } else {
        vec![opts.section.as_str()]
    };
    let current = refresh(config, env.clock, env.wait)?;
    let m = metrics::compute(&sources(&current, config), period)?;
    let warnings = current.warnings;
    let text = if opts.json {
        serde_json::to_string_pretty(&render::json(&m, &sections))? + "\n"
    } else if opts.csv {
        render::csv(&m, &sections)
    } else if opts.prometheus {
        render::prometheus(&m)
    } else {
        let styled = opts.out.is_none()
            && std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        render::tables(&m, &sections, styled)
    };
    match &opts.out {
        Some(path) => crate::fsutil::write_atomic(path, text.as_bytes(), 0o644)?,
        None => super::print(&text)?,
    }
    for w in &warnings {
        super::warn(w);
    }
    Ok(Status::Ok)
}

fn period(today: NaiveDate, o: &MetricsArgs) -> Period {
    let len = Days::days(i64::from(o.days.unwrap_or(30)));
    let (since, until) = match (o.since, o.until, o.days) {
        (Some(s), Some(u), _) => (s, u),
        (Some(s), None, Some(_)) => (s, s + len - Days::days(1)),
        (Some(s), None, None) => (s, today),
        (None, Some(u), _) => (u - len + Days::days(1), u),
        (None, None, _) => (today - len + Days::days(1), today),
    };
    Period {
        since: since.min(until),
        until: until.max(since),
    }
}

/// What the metrics read of the refreshed data.
pub(crate) fn sources<'a>(current: &'a Current, config: &'a crate::config::Config) -> Sources<'a> {
    Sources {
        config,
        state: &current.state,
        users: &current.users,
        totals: current.totals,
    }
}
