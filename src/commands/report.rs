//! `arkwatch report daily|weekly|monthly`: build the report, then print, write or send it.

use anyhow::Result;

use crate::alerts::digest::{Digest, KpiLine, ReportText};
use crate::alerts::queue::EMAIL;
use crate::cli::ReportArgs;
use crate::exit::Status;
use crate::notify::report_text::TOP_LEADS;
use crate::report::{self, Kind};

pub fn run(env: &super::Env, opts: &ReportArgs) -> Result<Status> {
    let config = &env.config;
    let kind = match opts.kind.as_str() {
        "daily" => Kind::Daily,
        "weekly" => Kind::Weekly,
        _ => Kind::Monthly,
    };
    // A broken channel is a config error before anything is built.
    let channels: Vec<crate::notify::Channel> = crate::notify::channels(config)?
        .into_iter()
        .filter(|c| opts.send && c.sends.reports || opts.email && c.name == EMAIL)
        .collect();
    let date = opts
        .date
        .unwrap_or_else(|| env.clock.now().with_timezone(&config.timezone).date_naive());
    let current = crate::pipeline::refresh::refresh(config, env.clock, env.wait)?;
    let r = report::build(&super::metrics::sources(&current, config), kind, date)?;
    let warnings = current.warnings;
    let text = if opts.format == "html" {
        r.html()
    } else {
        r.markdown()
    };
    match &opts.out {
        Some(path) => crate::fsutil::write_atomic(path, text.as_bytes(), 0o600)?,
        None if channels.is_empty() => super::print(&text)?,
        None => {}
    }
    for w in &warnings {
        super::warn(w);
    }
    if channels.is_empty() {
        return Ok(Status::Ok);
    }
    let digest = Digest {
        id: Digest::new_id(),
        site_name: r.site_name.clone(),
        site_hosts: config.site_hosts.clone(),
        report: Some(ReportText {
            title: r.title.clone(),
            markdown: r.markdown(),
            html: r.html(),
            kpis: r
                .kpis
                .iter()
                .map(|k| KpiLine {
                    name: k.name.clone(),
                    value: k.value.clone(),
                    change: k.change.clone(),
                })
                .collect(),
            top_leads: r.hot_leads.iter().take(TOP_LEADS).cloned().collect(),
        }),
        ..Digest::default()
    };
    // Every channel is tried; the first failure's status is the command's, the others said.
    let mut first_error = None;
    for c in &channels {
        let mut done = 0;
        match c.notifier.deliver(&digest, &mut done) {
            Ok(()) => super::warn(&format!(
                "sent \"{}\" to {}",
                r.title,
                c.notifier.describe()
            )),
            Err(err) => {
                let err = err.context(format!("the report was not sent on channel {}", c.name));
                super::warn(&format!("{err:#}"));
                first_error.get_or_insert(err);
            }
        }
    }
    match first_error {
        Some(err) => Ok(Status::for_error(&err)),
        None => Ok(Status::Ok),
    }
}
