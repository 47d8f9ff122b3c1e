//! One module per subcommand. Each takes the loaded configuration and its options, does its
//! work, prints its output, and returns the exit status.

mod dashboard;
mod explain;
mod fold_events;
mod ingest_nginx;
mod init;
mod leads;
mod metrics;
mod purge_ip;
mod report;
mod rotate;
mod scan;
mod status;
mod track;
mod verify;

use std::io::Write;
use std::time::Duration;

use anyhow::Result;

use crate::cli::{Args, Command};
use crate::clock::Clock;
use crate::config::Config;
use crate::exit::Status;

/// What every command gets besides its own options.
pub(crate) struct Env {
    pub config: Config,
    /// How long to wait for another run's lock.
    pub wait: Duration,
    pub clock: Clock,
}

/// Runs one command line.
pub fn run(args: Args) -> Result<Status> {
    // These need no configuration: they write one, or describe the command line.
    match &args.command {
        Command::Init(opts) => return init::run(opts),
        Command::Completions(opts) => return init::completions(opts),
        Command::Man(opts) => return init::man(opts),
        Command::DetectFormat(opts) => return init::detect_format(opts),
        _ => {}
    }
    let clock = Clock::from_env()?;
    let config = Config::discover(args.config.as_deref())?;
    // Clamped: from_secs_f64 panics on infinity, and a day is longer than any cron period.
    let wait = if args.wait.is_nan() {
        Duration::ZERO
    } else {
        Duration::from_secs_f64(args.wait.clamp(0.0, 86_400.0))
    };
    let env = Env {
        config,
        wait,
        clock,
    };
    match args.command {
        Command::IngestNginx(opts) => ingest_nginx::run(&env, &opts),
        Command::Track(opts) => track::run(&env, &opts),
        Command::FoldEvents(opts) => fold_events::run(&env, &opts),
        Command::Scan(opts) => scan::run(&env, &opts),
        Command::Status(opts) => status::run(&env, &opts),
        Command::PurgeIp(opts) => purge_ip::run(&env, &opts),
        Command::PurgeUser(opts) => purge_ip::run_user(&env, &opts),
        Command::Rotate(opts) => rotate::run(&env, &opts),
        Command::Metrics(opts) => metrics::run(&env, &opts),
        Command::Leads(opts) => leads::run(&env, &opts),
        Command::Report(opts) => report::run(&env, &opts),
        Command::Verify(opts) => verify::run(&env, &opts),
        Command::Dashboard(opts) => dashboard::run(&env, &opts),
        Command::Explain(opts) => explain::run(&env, &opts),
        Command::Init(_) | Command::Completions(_) | Command::Man(_) | Command::DetectFormat(_) => {
            unreachable!("run above")
        }
    }
}

/// Writes one line to stderr; a closed or broken stderr is not an error (a cron wrapper that
/// closed it, `2>&1 | head -c 10`): nothing in arkwatch may panic on it.
pub(crate) fn warn(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "arkwatch: {text}");
}

/// Writes to stdout; a closed pipe (`arkwatch ... | head`) is not an error.
pub(crate) fn print(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => Err(err.into()),
        _ => Ok(()),
    }
}
