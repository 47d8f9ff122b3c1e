//! `arkwatch report daily|weekly|monthly`: build the report, then print, write or send it.

use anyhow::Result;

use crate::alerts::digest::{Digest, ReportText};
use crate::cli::ReportArgs;
use crate::exit::Status;
use crate::report::{self, Kind};

pub fn run(env: &super::Env, opts: &ReportArgs) -> Result<Status> {
    let config = &env.config;
    let kind = match opts.kind.as_str() {
        "daily" => Kind::Daily,
        "weekly" => Kind::Weekly,
        _ => Kind::Monthly,
    };
    let notifier = if opts.email {
        Some(crate::notify::from_config(config)?)
    } else {
        None
    };
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
        None if !opts.email => super::print(&text)?,
        None => {}
    }
    for w in &warnings {
        super::warn(w);
    }
    if let Some(notifier) = notifier {
        let digest = Digest {
            id: Digest::new_id(),
            site_name: r.site_name.clone(),
            report: Some(ReportText {
                title: r.title.clone(),
                markdown: r.markdown(),
                html: r.html(),
            }),
            ..Digest::default()
        };
        notifier.deliver(&digest)?;
        super::warn(&format!("sent \"{}\" to {}", r.title, notifier.describe()));
    }
    Ok(Status::Ok)
}
