//! `arkwatch report daily|weekly|monthly`: build the report, then print, write or send it.

use anyhow::{Context, Result};
use lettre::message::{Message, MultiPart};

use crate::alerts::notify::{self, Notifier};
use crate::cli::ReportArgs;
use crate::exit::Status;
use crate::report::{self, Kind};

pub fn run(env: &super::Env, opts: ReportArgs) -> Result<Status> {
    let config = &env.config;
    let kind = match opts.kind.as_str() {
        "daily" => Kind::Daily,
        "weekly" => Kind::Weekly,
        _ => Kind::Monthly,
    };
    let notifier = if opts.email {
        Some(Notifier::from_config(config)?)
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
        let (from, to) = notify::mailboxes(config)?;
        let mut builder = Message::builder()
            .from(from)
            .message_id(None)
            .subject(format!(
                "[{}] {}",
                r.site_name.replace(['\r', '\n'], " "),
                r.title
            ));
        for mailbox in to {
            builder = builder.to(mailbox);
        }
        let message = builder
            .multipart(MultiPart::alternative_plain_html(r.markdown(), r.html()))
            .context("cannot build the report message")?;
        notifier.send(&message, None)?;
        super::warn(&format!("sent \"{}\" to {}", r.title, notifier.describe()));
    }
    Ok(Status::Ok)
}
