//! `arkwatch ingest-nginx`: ingest the configured logs (or the PATHs given) and print a summary.

use anyhow::Result;
use std::fmt::Write as _;

use crate::accesslog::read::{LogSource, Progress};
use crate::accesslog::summary::Summary;
use crate::cli::IngestNginxArgs;
use crate::config::{ClientIp, Config};
use crate::exit::{Fatal, Status};
use crate::log_format::LogFormat;
use crate::pipeline::{self, Run};
use crate::state::StateLock;

pub fn run(env: &super::Env, opts: &IngestNginxArgs) -> Result<Status> {
    let config = &env.config;
    let sources = sources(config, opts)?;
    if sources.is_empty() {
        return Err(Fatal::Config(format!(
            "config {}: no [[access_log]] is configured and no PATH was given",
            config.path.display()
        ))
        .into());
    }
    let lock = StateLock::acquire(&config.data_dir, env.wait)?;
    let mut state = lock.load()?;
    let progress = if opts.json {
        Progress::Hidden
    } else {
        Progress::Auto
    };
    let run = Run {
        config,
        lock: &lock,
        clock: env.clock,
    };
    let summary = pipeline::ingest::ingest(&run, &mut state, &sources, progress)?;
    drop(lock);
    if opts.json {
        super::print(&(serde_json::to_string_pretty(&summary)? + "\n"))?;
    } else {
        super::print(&human(&summary))?;
    }
    Ok(if summary.errors.is_empty() {
        Status::Ok
    } else {
        Status::Partial
    })
}

/// The logs to read: the PATHs given (with the configured format of a matching path), or the
/// configured logs.
fn sources(config: &Config, opts: &IngestNginxArgs) -> Result<Vec<LogSource>> {
    if opts.paths.is_empty() {
        return Ok(LogSource::configured(config));
    }
    let explicit = match &opts.format {
        Some(spec) => {
            Some(LogFormat::compile(spec).map_err(|err| anyhow::anyhow!("--format: {err}"))?)
        }
        None => None,
    };
    let mut sources = Vec::new();
    for path in &opts.paths {
        let path = std::path::absolute(path)?;
        let configured = config.access_logs.iter().find(|log| log.path == path);
        let (format, client_ip) = match (&explicit, configured) {
            (Some(format), _) => (format.clone(), ClientIp::RemoteAddr),
            (None, Some(log)) => (log.format.clone(), log.client_ip),
            (None, None) => match config.access_logs.first() {
                Some(log) => (log.format.clone(), log.client_ip),
                None => (
                    LogFormat::compile("combined").expect("builtin"),
                    ClientIp::RemoteAddr,
                ),
            },
        };
        sources.push(LogSource {
            path,
            format,
            client_ip,
        });
    }
    Ok(sources)
}

fn human(s: &Summary) -> String {
    let mut out = String::new();
    let bytes: u64 = s.files.iter().map(|f| f.bytes_read).sum();
    let _ = writeln!(
        out,
        "read {} ({}) from {} in {:.3}s",
        crate::words::count(s.lines, "line"),
        human_bytes(bytes),
        crate::words::count(s.files.len() as u64, "file"),
        s.seconds
    );
    let _ = writeln!(
        out,
        "  parsed {}, malformed {}, bots {}, static {}, ignored {}",
        s.parsed, s.malformed, s.bots, s.statics, s.ignored
    );
    let _ = writeln!(
        out,
        "  visits recorded {} (very hot {}, hot {}, warm {})",
        s.visits_recorded, s.by_tier.very_hot, s.by_tier.hot, s.by_tier.warm
    );
    for sample in &s.malformed_samples {
        let _ = writeln!(
            out,
            "  malformed {}:{}: {}: {}",
            sample.file, sample.line, sample.reason, sample.text
        );
    }
    for error in &s.errors {
        let _ = writeln!(out, "  error: {error}");
    }
    out
}

fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GiB", n as f64 / f64::from(1u32 << 30)),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / f64::from(1u32 << 20)),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}
