//! The command line (clap). The only module that knows clap: it turns arguments into the plain
//! option structs the commands take.

// The doc comments of this file are the help text people read: plain words, not Markdown.
#![allow(clippy::doc_markdown)]

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "arkwatch",
    version,
    about = "Hot-lead alerts, SaaS metrics and reports from nginx logs and product events",
    after_help = "Exit status: 0 ok; 1 failed or finished with errors (see the message); 2 usage; \
                  65 corrupt state; 69 the event store lost its data (see fold-events --restore); \
                  75 busy or a service temporarily down (try later, nothing lost); 77 refused \
                  (credentials, a TLS certificate, or a data_dir of another user: retrying will \
                  not help); 78 configuration error."
)]
pub struct Args {
    /// Configuration file [default: $ARKWATCH_CONFIG, ./arkwatch.toml, /etc/arkwatch/arkwatch.toml]
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Seconds to wait for another run to release the lock before exiting with status 75
    #[arg(long, global = true, value_name = "SECS", default_value_t = 5.0)]
    pub wait: f64,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read what is new in the access logs (and their rotated siblings), record visits to
    /// tracked pages, and fold every request into daily traffic rollups
    IngestNginx(IngestNginxArgs),
    /// Append a product event to the configured event store (or import many with --from-file)
    Track(TrackArgs),
    /// Fold new product events into the users projection and the daily activity rollups
    FoldEvents(FoldEventsArgs),
    /// The cron job: ingest the logs, fold new events, raise hot-lead and threshold alerts,
    /// and send what is due (by SMTP, or to the outbox)
    Scan(ScanArgs),
    /// Health: last scan, unread log bytes, pending alerts, the lock, the event store and SMTP
    /// (exit 1 when something needs attention)
    Status(StatusArgs),
    /// Remove every record of an address or network from every store (GDPR erasure); with
    /// --dry-run --json, print them all instead (right of access)
    PurgeIp(PurgeIpArgs),
    /// Remove a product user (by id) from every store: projection, events, links, rollups'
    /// keyed hashes, outbox and alert records; with --dry-run --json, print them instead
    PurgeUser(PurgeUserArgs),
    /// Keep arkwatch's own data within retention: archive old visits, trim folded events,
    /// compact the state, clean the outbox
    Rotate(RotateArgs),
    /// SaaS and traffic numbers for a period: tables, JSON, CSV or Prometheus text
    Metrics(MetricsArgs),
    /// Every lead of a period (hot or very hot visitors) with its score, first-touch source,
    /// linked user and outcome; --calibrate suggests score weights from the outcomes
    Leads(LeadsArgs),
    /// The report of the last closed day, ISO week or month, as Markdown or HTML, or by email
    Report(ReportArgs),
    /// Prove exactly-once on the logs still on disk: read them again from their start, recount
    /// every day, and compare with what was committed (exit 65 when a count differs)
    Verify(VerifyArgs),
    /// Build the static dashboard: index.html (one self-contained page) and the analytics API
    /// as files (api/*.json, api/report/*.md), into [dashboard] out or --out
    Dashboard(DashboardArgs),
    /// Name the log format that reads a file: its first lines tried with each known format
    /// (exit 1 when none reads them all, with the nearest and the first line it fails on)
    DetectFormat(DetectFormatArgs),
    /// Why each visitor of an address is a person or automated: the layer and rule of bot
    /// detection that decided, and the requests it rests on (the logs still on disk)
    Explain(ExplainArgs),
    /// Write a first configuration from this server: its nginx or Apache access logs and their
    /// formats, its time zone, its server names, and the tracked pages its logs hold most
    Init(InitArgs),
    /// Print the completion script of a shell (bash, zsh, fish) to standard output
    Completions(CompletionsArgs),
    /// Write the man pages (arkwatch.1 and one per command) into a directory
    #[command(
        after_help = "Example:\n  arkwatch man --out-dir ~/.local/share/man/man1 && man arkwatch"
    )]
    Man(ManArgs),
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Example:
  arkwatch detect-format /var/log/nginx/access.log")]
pub struct DetectFormatArgs {
    /// The log
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  arkwatch dashboard --out /var/www/arkwatch     # then serve the folder behind basic auth
  arkwatch dashboard --days 30 --json            # the last 30 days; what was written, as JSON")]
pub struct DashboardArgs {
    /// The folder to write [default: [dashboard] out]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Local days shown (with the period before beside) [default: [dashboard] days, 90]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=3660))]
    pub days: Option<u32>,

    /// Print what was written as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  sudo arkwatch init --out /etc/arkwatch/arkwatch.toml --force   # replace the packaged example
  arkwatch init --log /var/log/nginx/acme.log --out acme.toml     # one log, its format detected
  arkwatch init --out - --yes                                     # print it, ask nothing")]
pub struct InitArgs {
    /// An access log to configure (repeatable); without it, the logs nginx's and Apache's
    /// configurations declare
    #[arg(long = "log", value_name = "PATH")]
    pub logs: Vec<PathBuf>,

    /// Where to write the configuration ("-": standard output)
    #[arg(long, value_name = "FILE", default_value = "arkwatch.toml")]
    pub out: PathBuf,

    /// Replace FILE if it exists
    #[arg(long)]
    pub force: bool,

    /// Ask nothing (as without a terminal)
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  arkwatch completions bash > ~/.local/share/bash-completion/completions/arkwatch
  arkwatch completions zsh > ~/.zfunc/_arkwatch
  arkwatch completions fish > ~/.config/fish/completions/arkwatch.fish")]
pub struct CompletionsArgs {
    /// The shell
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// The directory to write the pages into
    #[arg(long, value_name = "DIR")]
    pub out_dir: PathBuf,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  arkwatch explain 203.0.113.10                  # every day the logs on disk hold it
  arkwatch explain 2001:db8::7 --date 2026-11-23 --json")]
pub struct ExplainArgs {
    /// The address
    #[arg(value_name = "IP")]
    pub ip: std::net::IpAddr,

    /// Only this local day
    #[arg(long, value_name = "DAY")]
    pub date: Option<chrono::NaiveDate>,

    /// Print the explanation as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  arkwatch verify                 # every day the logs on disk hold
  arkwatch verify --days 7 --json # the last week, for monitoring")]
pub struct VerifyArgs {
    /// Report only the last N local days (every file is still read)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=36_600))]
    pub days: Option<u32>,

    /// Print the report as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  arkwatch report weekly                    # last Monday-to-Sunday, Markdown on stdout
  arkwatch report monthly --date 2026-11-01 --format html --out october.html
  arkwatch report daily --email")]
pub struct ReportArgs {
    /// Which period
    #[arg(value_name = "PERIOD", value_parser = ["daily", "weekly", "monthly"])]
    pub kind: String,

    /// Report the period closed before this local day [default: today]
    #[arg(long, value_name = "DATE")]
    pub date: Option<chrono::NaiveDate>,

    /// Write to FILE (atomically) instead of standard output
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// md or html
    #[arg(long, value_name = "FORMAT", default_value = "md", value_parser = ["md", "html"])]
    pub format: String,

    /// Send it (Markdown text part, HTML part) to [alerts] to, by SMTP or to the outbox
    #[arg(long)]
    pub email: bool,

    /// Send it to every channel whose `send` holds "reports" (email as --email; chat gets the
    /// key figures and the top leads as text)
    #[arg(long)]
    pub send: bool,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  arkwatch metrics                          # every section, the last 30 days
  arkwatch metrics revenue --since 2026-11-01 --until 2026-11-30
  arkwatch metrics all --json --days 7
  arkwatch metrics --prometheus --out /var/lib/node_exporter/textfile/arkwatch.prom")]
pub struct MetricsArgs {
    /// Which numbers
    #[arg(value_name = "SECTION", default_value = "all",
          value_parser = ["users", "revenue", "engagement", "costs", "traffic", "funnel", "leads", "customers", "all"])]
    pub section: String,

    /// First local day of the period [default: 30 days before --until]
    #[arg(long, value_name = "DATE")]
    pub since: Option<chrono::NaiveDate>,

    /// Last local day of the period [default: today]
    #[arg(long, value_name = "DATE", conflicts_with = "days")]
    pub until: Option<chrono::NaiveDate>,

    /// Length of the period in days (from --since, or ending today)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=3660))]
    pub days: Option<u32>,

    /// One JSON object: period, users, revenue, engagement, costs, traffic, funnel
    #[arg(long, group = "format")]
    pub json: bool,

    /// section,metric,value rows
    #[arg(long, group = "format")]
    pub csv: bool,

    /// Prometheus text format (node_exporter's textfile collector)
    #[arg(long, group = "format")]
    pub prometheus: bool,

    /// Write to FILE (atomically) instead of standard output
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  arkwatch leads                            # the last 30 days, as a table
  arkwatch leads --since 2026-11-01 --csv > leads.csv
  arkwatch leads --calibrate --days 90      # suggested [alerts.score] weights")]
pub struct LeadsArgs {
    /// First local day of the period [default: 30 days before --until; 90 with --calibrate]
    #[arg(long, value_name = "DATE")]
    pub since: Option<chrono::NaiveDate>,

    /// Last local day of the period [default: today]
    #[arg(long, value_name = "DATE", conflicts_with = "days")]
    pub until: Option<chrono::NaiveDate>,

    /// Length of the period in days (from --since, or ending today)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=3660))]
    pub days: Option<u32>,

    /// One JSON array of leads (with --calibrate: the calibration as one object)
    #[arg(long, group = "format")]
    pub json: bool,

    /// One row per lead, with a header
    #[arg(long, group = "format", conflicts_with = "calibrate")]
    pub csv: bool,

    /// Conversion rates per tier, visits and score band over the leads whose outcome is
    /// known, and score weights that would have ranked them better (prints; changes nothing)
    #[arg(long)]
    pub calibrate: bool,
}

#[derive(Debug, clap::Args)]
pub struct RotateArgs {
    /// Show what would be done, change nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Print the report as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  arkwatch purge-ip 203.0.113.7 --dry-run --json   # everything held about it
  arkwatch purge-ip 203.0.113.7                    # erase it
  arkwatch purge-ip 2001:db8:42::/48               # a network")]
pub struct PurgeIpArgs {
    /// An address (IPv4 or IPv6, any spelling) or a CIDR
    #[arg(value_name = "IP|CIDR")]
    pub target: String,

    /// Find and print, change nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Print the report as JSON (with --dry-run: every record found, store by store)
    #[arg(long)]
    pub json: bool,

    /// Also blank the address's lines in the rotated access logs arkwatch reads (not the live
    /// one: see the README)
    #[arg(long)]
    pub include_access_logs: bool,

    /// Allow a network wider than /16 (IPv4) or /48 (IPv6)
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  arkwatch purge-user 42 --dry-run --json   # everything held about the account
  arkwatch purge-user 42                    # erase it")]
pub struct PurgeUserArgs {
    /// The user id, as the product's events name it
    #[arg(value_name = "ID")]
    pub user: String,

    /// Find and print, change nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Print the report as JSON (with --dry-run: every record found, store by store)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    /// Show what would be sent, without sending, writing or advancing anything
    #[arg(long)]
    pub dry_run: bool,

    /// Print the report as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Print the report as JSON
    #[arg(long)]
    pub json: bool,

    /// Do not connect to the event store or the SMTP server
    #[arg(long)]
    pub offline: bool,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  arkwatch track registration --user 42
  arkwatch track conversion --user 42 plan=pro mrr=29.00
  arkwatch track api_call --user 42 provider=openai cost=0.0021 latency_ms=840
  arkwatch track --from-file backfill.jsonl")]
pub struct TrackArgs {
    /// Event type: registration, command, conversion, cancellation, trial_started, api_call,
    /// error (others are kept and counted, but left out of metrics and create no user)
    #[arg(value_name = "TYPE", required_unless_present = "from_file")]
    pub kind: Option<String>,

    /// The user the event is about
    #[arg(long, required_unless_present = "from_file")]
    pub user: Option<String>,

    /// When it happened (RFC 3339 or Unix seconds) [default: now]
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,

    /// Import a JSON Lines file, one event object a line (`{"type": ..., "user": ..., ...}`);
    /// all or nothing: a file with an invalid line imports no event
    #[arg(long, value_name = "FILE", conflicts_with_all = ["kind", "user", "at", "fields"])]
    pub from_file: Option<PathBuf>,

    /// Fields of the event as name=value (name, plan, mrr, provider, cost, latency_ms,
    /// message, command, ip, user_agent, event_id); others are refused
    #[arg(value_name = "FIELD=VALUE")]
    pub fields: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct FoldEventsArgs {
    /// Print the summary as JSON
    #[arg(long)]
    pub json: bool,

    /// `[events] store` names another store than the last fold read: fold it from its start,
    /// adding to the activity history already kept (use when its events are not the old
    /// store's, or the history would count them twice)
    #[arg(long)]
    pub new_store: bool,

    /// The event store lost its data (exit 69): put the copy of the users projection kept in
    /// data_dir back into it, then fold its new stream from the start
    #[arg(long, conflicts_with = "new_store")]
    pub restore: bool,
}

#[derive(Debug, clap::Args)]
pub struct IngestNginxArgs {
    /// Print the summary as JSON
    #[arg(long)]
    pub json: bool,

    /// Log format for the PATHs given here (a name or an nginx `log_format` string) [default: the
    /// format configured for that path, else the first configured log's, else combined]
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,

    /// Log files to read instead of the configured ones (each with its rotated siblings)
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

/// Parses the process arguments, exiting with clap's message (status 2) when they are wrong.
pub fn parse() -> Args {
    Args::parse()
}

/// The command line's definition, for completions and man pages.
pub fn command() -> clap::Command {
    <Args as clap::CommandFactory>::command()
}
