//! `arkwatch metrics`: the numbers of a period, in the format asked for.

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::Result;
use chrono::{Duration as Days, NaiveDate, Utc};

use crate::cli::MetricsArgs;
use crate::config::Config;
use crate::exit::Status;
use crate::metrics::{self, Period, Sources, render};
use crate::state::StateLock;

pub fn run(config: &Config, wait: Duration, opts: MetricsArgs) -> Result<Status> {
    let today = Utc::now().with_timezone(&config.timezone).date_naive();
    let period = period(today, &opts);
    let sections: Vec<&str> = if opts.section == "all" {
        render::SECTIONS.to_vec()
    } else {
        vec![opts.section.as_str()]
    };
    let current = Current::load(config, wait)?;
    let m = metrics::compute(&current.sources(config), period)?;
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
        eprintln!("arkwatch: {w}");
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

/// The data `metrics` and `report` read, brought up to date first: what is new in the logs is
/// ingested (a log that cannot be read is a warning: the numbers are then as of the last
/// ingestion) and new events are folded (a store that does not answer is an error, exit 75:
/// revenue would be wrong). The lock is held only for that.
pub(crate) struct Current {
    state: crate::state::State,
    users: std::collections::BTreeMap<String, crate::events::projection::UserRecord>,
    totals: crate::events::projection::UserTotals,
    pub warnings: Vec<String>,
}

impl Current {
    pub fn load(config: &Config, wait: Duration) -> Result<Current> {
        let lock = StateLock::acquire(&config.data_dir, wait)?;
        let mut state = lock.load()?;
        let mut warnings = Vec::new();
        let sources = crate::ingest::LogSource::configured(config);
        if !sources.is_empty() {
            let progress = crate::ingest::Progress::Hidden;
            match crate::ingest::ingest(config, &lock, &mut state, &sources, progress) {
                Ok(summary) => warnings.extend(summary.errors),
                Err(err) => {
                    warnings.push(format!("ingesting the logs failed: {err:#}"));
                    state = lock.load()?;
                }
            }
        }
        let mut store = crate::events::open(config)?;
        crate::events::fold::fold(config, &lock, &mut state, store.as_mut())?;
        drop(lock);
        Ok(Current {
            users: store.all_users()?,
            totals: store.projection_totals()?,
            state,
            warnings,
        })
    }

    pub fn sources<'a>(&'a self, config: &'a Config) -> Sources<'a> {
        Sources {
            config,
            state: &self.state,
            users: &self.users,
            totals: self.totals,
        }
    }
}
