//! The health of the cron job, as `status` prints it and the dashboard shows it: the last
//! scan, pending alerts, the lock, the last verify, unread log bytes, the event store and mail.
//! Reads the state without taking the lock, so it answers while a scan runs.

use std::fmt::Write as _;

use anyhow::Result;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::accesslog::read::{self, Backlog, LogSource};
use crate::state;

/// A scan older than this means cron stopped running it (four missed 15-minute runs).
const STALE_SCAN: Duration = Duration::hours(1);
/// A pending alert older than this means delivery is stuck (the rate limit alone holds an
/// alert for at most an hour).
const STUCK_ALERT: Duration = Duration::hours(2);
/// A run holding the lock this long hangs.
const LONG_LOCK: Duration = Duration::hours(1);

#[derive(Debug, Serialize)]
pub struct Report {
    pub healthy: bool,
    pub config: String,
    pub data_dir: String,
    pub checks: Vec<Check>,
    pub logs: Vec<Backlog>,
    /// Alerts waiting, summed over the channels (one alert waiting for two counts twice).
    pub pending_alerts: usize,
    /// Each channel, email first.
    pub channels: Vec<ChannelHealth>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_scan: Option<crate::alerts::ScanRecord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_sent: Option<DateTime<Utc>>,
}

/// One channel as `status` shows it: where it goes (never a secret), whether it answers, what
/// waits for it and how its last delivery went.
#[derive(Debug, Serialize)]
pub struct ChannelHealth {
    pub channel: String,
    pub to: String,
    /// None: not asked (`--offline`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reachable: Option<bool>,
    pub pending: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_sent: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    pub detail: String,
}

/// Every check; `offline` skips the event store and mail, which ask a server.
pub fn report(config: &crate::config::Config, now: DateTime<Utc>, offline: bool) -> Result<Report> {
    let st = state::peek(&config.data_dir)?;
    let mut checks = vec![
        last_scan(&st, now),
        pending_alerts(&st, now),
        lock(config, now)?,
    ];
    checks.push(verify(config));
    checks.extend(geo(config, &st, now));
    let logs = read::backlog(&st.logs, &LogSource::configured(config), now);
    for log in &logs {
        if let Some(error) = &log.error {
            checks.push(Check::new("access log", false, error.clone()));
        }
    }
    if offline {
        checks.push(Check::new(
            "event store",
            true,
            "not checked (--offline)".into(),
        ));
        checks.push(Check::new("mail", true, "not checked (--offline)".into()));
    } else {
        checks.push(event_store(config, &st));
    }
    let channels = channels(config, &st, offline, &mut checks);
    let report = Report {
        healthy: checks.iter().all(|c| c.ok),
        config: config.path.display().to_string(),
        data_dir: config.data_dir.display().to_string(),
        checks,
        logs,
        pending_alerts: st.alerts.waiting(),
        channels,
        last_scan: st.alerts.last_scan.clone(),
        last_sent: st.alerts.last_sent(),
    };
    Ok(report)
}

impl Check {
    fn new(name: &'static str, ok: bool, detail: String) -> Check {
        Check { name, ok, detail }
    }
}

/// A database older than this is stale: MaxMind and IPinfo publish weekly or daily.
const STALE_DATABASE: Duration = Duration::days(45);

/// Each `[geo]` database (opened and walked), and what the last scan could not look up.
fn geo(config: &crate::config::Config, st: &state::State, now: DateTime<Utc>) -> Vec<Check> {
    let mut checks = Vec::new();
    for db in crate::geo::health(&config.geo) {
        let check = match (&db.error, db.built) {
            (Some(error), _) => Check::new("geo database", false, error.clone()),
            (None, built) => {
                let mut detail = format!(
                    "{} {}: {}",
                    db.role,
                    db.path.display(),
                    db.database_type.as_deref().unwrap_or("unnamed")
                );
                if let Some(built) = built {
                    let age = (now - built).num_days();
                    let _ = write!(
                        detail,
                        ", built {} ({age} days ago)",
                        built.format("%Y-%m-%d")
                    );
                    if now - built > STALE_DATABASE {
                        detail.push_str("; stale: is geoipupdate in cron?");
                    }
                }
                Check::new("geo database", true, detail)
            }
        };
        checks.push(check);
    }
    if let Some(scan) = &st.alerts.last_scan
        && !scan.geo_problems.is_empty()
    {
        checks.push(Check::new(
            "geo lookups",
            false,
            format!(
                "the last scan sent leads without some fields: {}",
                scan.geo_problems.join("; ")
            ),
        ));
    }
    checks
}

fn last_scan(st: &state::State, now: DateTime<Utc>) -> Check {
    let Some(s) = &st.alerts.last_scan else {
        return Check::new(
            "last scan",
            false,
            "no scan has run yet: is `arkwatch scan` in the crontab?".into(),
        );
    };
    let age = now - s.at;
    let mut detail = format!(
        "{} ({} min ago), exit {}",
        s.at.format("%Y-%m-%d %H:%M:%S UTC"),
        age.num_minutes(),
        s.status
    );
    for e in &s.errors {
        let _ = write!(detail, "; {e}");
    }
    if age >= STALE_SCAN {
        detail.push_str("; older than an hour: is cron still running it?");
    }
    Check::new("last scan", s.status == 0 && age < STALE_SCAN, detail)
}

fn pending_alerts(st: &state::State, now: DateTime<Utc>) -> Check {
    match st.alerts.oldest_waiting() {
        None => Check::new("pending alerts", true, "none".into()),
        Some(oldest) => Check::new(
            "pending alerts",
            now - oldest < STUCK_ALERT,
            format!(
                "{} waiting, the oldest since {} ({} min)",
                st.alerts.waiting(),
                oldest.format("%Y-%m-%d %H:%M UTC"),
                (now - oldest).num_minutes()
            ),
        ),
    }
}

fn lock(config: &crate::config::Config, now: DateTime<Utc>) -> Result<Check> {
    let Some(holder) = state::lock_holder(&config.data_dir)? else {
        return Ok(Check::new("lock", true, "free".into()));
    };
    let since = holder
        .split("since ")
        .nth(1)
        .and_then(|t| DateTime::parse_from_rfc3339(t.trim()).ok());
    let hangs = since.is_some_and(|t| now - t.with_timezone(&Utc) >= LONG_LOCK);
    Ok(Check::new(
        "lock",
        !hangs,
        format!(
            "held by {holder}{}",
            if hangs { " for over an hour" } else { "" }
        ),
    ))
}

/// Whether the store answers, and for Redis whether it still holds what arkwatch folded.
fn event_store(config: &crate::config::Config, st: &state::State) -> Check {
    let store = crate::events::open(config).and_then(|mut s| {
        s.projection_cursor()?;
        if s.needs_snapshot() && st.events_marker.is_some() && s.marker()? != st.events_marker {
            return Err(crate::pipeline::fold::lost(
                s.as_ref(),
                "the marker arkwatch set in it is gone or changed",
            ));
        }
        s.check()
    });
    match store {
        Ok(answer) => {
            let last = st
                .events_cursor
                .map_or("no event folded yet".to_string(), |c| {
                    format!(
                        "last event folded {}",
                        c.time().format("%Y-%m-%d %H:%M UTC")
                    )
                });
            Check::new("event store", true, format!("{answer}; {last}"))
        }
        Err(err) => Check::new("event store", false, format!("{err:#}")),
    }
}

/// The last `arkwatch verify`: when, and whether every count matched its recount.
fn verify(config: &crate::config::Config) -> Check {
    match crate::verify::last(&config.data_dir) {
        Ok(None) => Check::new(
            "verify",
            true,
            "never run (`arkwatch verify` recounts the logs on disk)".into(),
        ),
        Ok(Some(v)) => {
            let when = v.at.format("%Y-%m-%d %H:%M UTC");
            if v.verdict == crate::verify::Verdict::Differs {
                let days: Vec<String> = v.differing_days.iter().map(ToString::to_string).collect();
                let what = if days.is_empty() {
                    "user records differ from the events".to_string()
                } else {
                    format!(
                        "{} {} from the logs or events ({})",
                        crate::words::count(days.len() as u64, "day"),
                        crate::words::differ(days.len() as u64),
                        days.join(", ")
                    )
                };
                Check::new(
                    "verify",
                    false,
                    format!("{when}: {what}; run `arkwatch verify` for the fields"),
                )
            } else {
                Check::new(
                    "verify",
                    true,
                    format!(
                        "{when}: every day matches the logs ({} match, {} partial, {} gone)",
                        v.matched, v.partial, v.gone
                    ),
                )
            }
        }
        Err(err) => Check::new("verify", false, format!("{err:#}")),
    }
}

/// Each channel's queue, and unless `offline` whether it answers (the email channel's answer
/// is the `mail` check, the others' a `channel` check each).
fn channels(
    config: &crate::config::Config,
    st: &state::State,
    offline: bool,
    checks: &mut Vec<Check>,
) -> Vec<ChannelHealth> {
    let mut out = Vec::new();
    // A channel that cannot even be set up (an SMTP password file missing) is a failing check,
    // not a status that cannot be shown.
    let channels = match crate::notify::channels(config) {
        Ok(channels) => channels,
        Err(err) => {
            checks.push(Check::new("mail", false, format!("{err:#}")));
            return out;
        }
    };
    for c in channels {
        let queue = st.alerts.queues.get(&c.name).cloned().unwrap_or_default();
        let to = c.notifier.describe();
        let reachable = if offline {
            None
        } else {
            let answer = c.notifier.check();
            let name = if c.name == crate::alerts::queue::EMAIL {
                "mail"
            } else {
                "channel"
            };
            let label = if name == "mail" {
                String::new()
            } else {
                format!("{}: ", c.name)
            };
            checks.push(match &answer {
                Ok(()) => Check::new(name, true, format!("{label}{to} answers")),
                Err(err) => Check::new(name, false, format!("{label}{err:#}")),
            });
            Some(answer.is_ok())
        };
        out.push(ChannelHealth {
            channel: c.name.clone(),
            to,
            reachable,
            pending: queue.waiting(),
            last_sent: queue.last_sent,
            retry_at: queue.retry_at,
            last_error: queue.last_error.clone(),
        });
    }
    out
}
