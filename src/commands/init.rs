//! `arkwatch init` (a first configuration, see [`crate::init`]), `detect-format`, `completions`
//! and `man`: the commands that run without a configuration.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::cli::{CompletionsArgs, DetectFormatArgs, InitArgs, ManArgs};
use crate::exit::Status;
use crate::init::{Options, Proposal};

pub fn run(opts: &InitArgs) -> Result<Status> {
    // `$ARKWATCH_INIT_ROOT` reads a server's files under another directory than `/`: a tree
    // standing in for a server in tests, or a mounted image.
    let root = std::env::var_os("ARKWATCH_INIT_ROOT")
        .filter(|r| !r.is_empty())
        .map_or_else(|| PathBuf::from("/"), PathBuf::from);
    let root = &root;
    let proposal = crate::init::propose(&Options {
        root: root.clone(),
        logs: opts.logs.clone(),
    })?;
    if proposal.logs.is_empty() {
        anyhow::bail!(
            "no access log found: no nginx ({}) or Apache ({}) configuration declares one; \
             name a log with --log PATH",
            crate::init::rooted(root, Path::new("/etc/nginx/nginx.conf")).display(),
            crate::init::rooted(root, Path::new("/etc/apache2/apache2.conf")).display()
        );
    }
    let text = crate::init::render(&proposal, chrono::Utc::now());
    let to_stdout = opts.out.as_os_str() == "-";
    let out = if to_stdout {
        PathBuf::from("arkwatch.toml")
    } else {
        std::path::absolute(&opts.out).unwrap_or_else(|_| opts.out.clone())
    };
    // What is written must load: a proposal the loader refuses is a bug here, not a file to
    // leave for the user to find.
    crate::config::Config::parse(&out, &text)
        .context("the configuration init wrote does not validate (please report this)")?;
    for note in &proposal.notes {
        super::warn(note);
    }
    if to_stdout {
        super::print(&text)?;
        return Ok(Status::Ok);
    }
    if out.exists() && !opts.force {
        anyhow::bail!(
            "{} exists; nothing was written (--force replaces it, --out names another file)",
            out.display()
        );
    }
    summary(&proposal, &out)?;
    if !opts.yes && std::io::stdin().is_terminal() && !confirmed(&out)? {
        super::print("nothing written\n")?;
        return Ok(Status::Ok);
    }
    crate::fsutil::write_atomic(&out, text.as_bytes(), 0o644)
        .with_context(|| format!("cannot write {}", out.display()))?;
    next_steps(&proposal, &out)?;
    Ok(Status::Ok)
}

fn summary(p: &Proposal, out: &Path) -> Result<()> {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(s, "configuration for {}:", out.display());
    for log in &p.logs {
        let state = if let Some(why) = &log.unreadable {
            format!("its format cannot be read, commented out: {why}")
        } else if !log.exists {
            "not written yet: commented out".to_string()
        } else if log.sampled == 0 {
            "empty: its format is not confirmed yet".to_string()
        } else {
            format!("{} of its first {} lines parse", log.parsed, log.sampled)
        };
        let _ = writeln!(s, "  log    {} ({state})", log.path.display());
    }
    let _ = writeln!(s, "  zone   {} ({})", p.timezone, p.timezone_from);
    let _ = writeln!(s, "  hosts  {}", p.site_hosts.join(", "));
    let pages: Vec<String> = p
        .pages
        .iter()
        .map(|g| format!("{} {}", g.prefix, g.tier.words()))
        .collect();
    let _ = writeln!(s, "  pages  {}", pages.join(", "));
    let _ = writeln!(s, "  data   {}", p.data_dir.display());
    super::print(&s)
}

fn confirmed(out: &Path) -> Result<bool> {
    let mut stdout = std::io::stdout().lock();
    let _ = write!(stdout, "write {}? [Y/n] ", out.display());
    let _ = stdout.flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(!answer.trim().to_ascii_lowercase().starts_with('n'))
}

fn next_steps(p: &Proposal, out: &Path) -> Result<()> {
    let config = out.display();
    super::print(&format!(
        "wrote {config}: {}, time zone {}, {}\n\
         next:\n  \
         1. arkwatch --config {config} scan --dry-run      # what the first scan would do\n  \
         2. with the Debian package: systemctl enable --now arkwatch-scan.timer\n     \
            from source, in the crontab of the user that owns {}:\n     \
            */15 * * * * arkwatch --config {config} scan >> $HOME/arkwatch.log 2>&1\n",
        crate::words::count(
            p.logs
                .iter()
                .filter(|l| l.exists && l.unreadable.is_none())
                .count() as u64,
            "log"
        ),
        p.timezone,
        crate::words::count(p.pages.len() as u64, "tracked page"),
        p.data_dir.display(),
    ))
}

pub fn completions(opts: &CompletionsArgs) -> Result<Status> {
    let mut command = crate::cli::command();
    let mut bytes = Vec::new();
    clap_complete::generate(opts.shell, &mut command, "arkwatch", &mut bytes);
    super::print(&String::from_utf8_lossy(&bytes))?;
    Ok(Status::Ok)
}

/// `arkwatch.1`, and `arkwatch-COMMAND.1` for each visible command.
pub fn man(opts: &ManArgs) -> Result<Status> {
    std::fs::create_dir_all(&opts.out_dir)
        .with_context(|| format!("cannot create {}", opts.out_dir.display()))?;
    let command = crate::cli::command();
    let write = |name: &str, cmd: clap::Command| -> Result<()> {
        let mut bytes = Vec::new();
        clap_mangen::Man::new(cmd).render(&mut bytes)?;
        let path = opts.out_dir.join(format!("{name}.1"));
        crate::fsutil::write_atomic(&path, &bytes, 0o644)
            .with_context(|| format!("cannot write {}", path.display()))
    };
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("arkwatch-{}", sub.get_name());
        let page = sub
            .clone()
            .display_name(name.clone())
            .bin_name(format!("arkwatch {}", sub.get_name()));
        write(&name, page)?;
    }
    write("arkwatch", command)?;
    Ok(Status::Ok)
}

/// `arkwatch detect-format FILE`: exit 0 with the format that reads every line (or most of
/// them, with the share), else 1 with the nearest and its first failure.
pub fn detect_format(opts: &DetectFormatArgs) -> Result<Status> {
    let d = crate::accesslog::detect::detect(&opts.file)?;
    if opts.json {
        super::print(&(serde_json::to_string_pretty(&d)? + "\n"))?;
    } else {
        let failure = |n: &crate::accesslog::detect::Candidate| {
            n.first_failure
                .as_ref()
                .map(|(line, why, text)| format!("  line {line} {why}: {text}\n"))
                .unwrap_or_default()
        };
        let s = match (&d.format, d.chosen(), d.nearest()) {
            (Some(f), Some(n), _) if d.share < 1.0 => format!(
                "{}: format = {} ({} of {} requests read, {:.1}%{})\n{}",
                d.file,
                toml_quoted(f),
                n.parsed,
                d.lines - n.not_requests,
                d.share * 100.0,
                not_requests(n.not_requests),
                failure(n)
            ),
            (Some(f), Some(n), _) => format!(
                "{}: format = {} ({} of {} requests read{})\n",
                d.file,
                toml_quoted(f),
                n.parsed,
                n.parsed,
                not_requests(n.not_requests)
            ),
            (None, _, Some(n)) if n.parsed == 0 => {
                format!("{}: no known format reads any of its lines\n", d.file)
            }
            (None, _, Some(n)) if d.lines > 0 => format!(
                "{}: no known format reads every line; the nearest is {} ({} of {} lines)\n{}",
                d.file,
                toml_quoted(&n.format),
                n.parsed,
                d.lines,
                failure(n)
            ),
            _ => format!("{}: no line to read\n", d.file),
        };
        super::print(&s)?;
    }
    Ok(if d.format.is_some() {
        Status::Ok
    } else {
        Status::Partial
    })
}

fn not_requests(n: u64) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(
            "; {}",
            crate::words::plural(
                n,
                "other line is not a request",
                "other lines are not requests"
            )
        )
    }
}

fn toml_quoted(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}
