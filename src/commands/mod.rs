//! One module per subcommand. Each takes the loaded configuration and its options, does its
//! work, prints its output, and returns the exit status.

mod fold_events;
mod ingest_nginx;
mod metrics;
mod purge_ip;
mod report;
mod rotate;
mod scan;
mod status;
mod track;

use std::io::Write;
use std::time::Duration;

use anyhow::Result;

use crate::cli::{Args, Command};
use crate::config::Config;
use crate::exit::Status;

/// Runs one command line.
pub fn run(args: Args) -> Result<Status> {
    let config = Config::discover(args.config.as_deref())?;
    // Clamped: from_secs_f64 panics on infinity, and a day is longer than any cron period.
    let wait = Duration::from_secs_f64(args.wait.clamp(0.0, 86_400.0));
    match args.command {
        Command::IngestNginx(opts) => ingest_nginx::run(&config, wait, opts),
        Command::Track(opts) => track::run(&config, opts),
        Command::FoldEvents(opts) => fold_events::run(&config, wait, opts),
        Command::Scan(opts) => scan::run(&config, wait, opts),
        Command::Status(opts) => status::run(&config, opts),
        Command::PurgeIp(opts) => purge_ip::run(&config, wait, opts),
        Command::Rotate(opts) => rotate::run(&config, wait, opts),
        Command::Metrics(opts) => metrics::run(&config, wait, opts),
        Command::Report(opts) => report::run(&config, wait, opts),
    }
}

/// Writes to stdout; a closed pipe (`arkwatch ... | head`) is not an error.
pub(crate) fn print(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => Err(err.into()),
        _ => Ok(()),
    }
}
