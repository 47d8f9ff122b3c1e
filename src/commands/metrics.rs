//! `arkwatch metrics`: the numbers of a period, in the format asked for.

use std::io::IsTerminal;

use anyhow::Result;
use chrono::{Duration as Days, NaiveDate};

use crate::cli::MetricsArgs;
use crate::exit::Fatal;
use crate::exit::Status;
use crate::metrics::render::{self, Renderer};
use crate::metrics::{self, Period, Sources};
use crate::pipeline::refresh::{Current, refresh};

pub fn run(env: &super::Env, opts: &MetricsArgs) -> Result<Status> {
    let config = &env.config;
    let today = env.clock.now().with_timezone(&config.timezone).date_naive();
    // A bad period touches nothing: checked before the refresh.
    let period = period(today, opts.since, opts.until, opts.days, 30)?;
    let sections: Vec<&str> = if opts.section == "all" {
        render::SECTIONS.to_vec()
    } else {
        vec![opts.section.as_str()]
    };
    let current = refresh(config, env.clock, env.wait)?;
    // Prometheus text holds every section; the other formats only those asked for.
    let m = if opts.prometheus {
        metrics::compute(&sources(&current, config), period)?
    } else {
        metrics::compute_only(&sources(&current, config), period, &sections)?
    };
    let warnings = current.warnings;
    let renderer: Box<dyn Renderer> = if opts.json {
        Box::new(render::Json)
    } else if opts.csv {
        Box::new(render::Csv)
    } else if opts.prometheus {
        Box::new(render::Prometheus)
    } else {
        let styled = opts.out.is_none()
            && std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        Box::new(render::Tables { styled })
    };
    let text = renderer.render(&m, &sections);
    match &opts.out {
        Some(path) => crate::fsutil::write_atomic(path, text.as_bytes(), 0o644)?,
        None => super::print(&text)?,
    }
    for w in &warnings {
        super::warn(w);
    }
    Ok(Status::Ok)
}

/// The period the options name. A reversed range, a date outside 1970..=9999 and a period
/// longer than [`metrics::MAX_DAYS`] are usage errors (exit 2): a period costs what its days
/// hold, so it is bounded as `--days` is.
pub(crate) fn period(
    today: NaiveDate,
    since: Option<NaiveDate>,
    until: Option<NaiveDate>,
    days: Option<u32>,
    default_days: u32,
) -> Result<Period> {
    let bad = |msg: String| -> anyhow::Error { Fatal::Usage(msg).into() };
    let earliest = NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date");
    let latest = NaiveDate::from_ymd_opt(9999, 12, 31).expect("a date");
    for (flag, date) in [("--since", since), ("--until", until)] {
        if let Some(d) = date.filter(|d| *d < earliest || *d > latest) {
            return Err(bad(format!(
                "{flag} {d} is outside 1970-01-01 to 9999-12-31"
            )));
        }
    }
    let len = Days::days(i64::from(days.unwrap_or(default_days)));
    let (since, until) = match (since, until, days) {
        (Some(s), Some(u), _) => (s, u),
        (Some(s), None, Some(_)) => (s, s + len - Days::days(1)),
        (Some(s), None, None) => (s, today),
        (None, Some(u), _) => (u - len + Days::days(1), u),
        (None, None, _) => (today - len + Days::days(1), today),
    };
    if until < since {
        return Err(bad(format!(
            "the period ends ({until}) before it begins ({since}); swap --since and --until"
        )));
    }
    let period = Period { since, until };
    if period.days() > metrics::MAX_DAYS {
        return Err(bad(format!(
            "the period {since} to {until} has {} days; at most {} are allowed (use --days, \
             or a shorter range)",
            period.days(),
            metrics::MAX_DAYS
        )));
    }
    Ok(period)
}

/// What the metrics read of the refreshed data.
pub(crate) fn sources<'a>(current: &'a Current, config: &'a crate::config::Config) -> Sources<'a> {
    Sources {
        config,
        state: &current.state,
        users: &current.users,
        totals: current.totals,
        keys: &current.keys,
    }
}
