//! `[events]`: where product events live (the embedded file, or a Redis stream).

use std::path::PathBuf;

use redis::IntoConnectionInfo;
use serde::Deserialize;

use super::Bad;

/// Where product events live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventStoreKind {
    /// `data_dir/events.jsonl`: no server needed.
    File,
    /// A `redis://` URL (the password may come from `ARKWATCH_REDIS_PASSWORD` instead).
    Redis(String),
}

#[derive(Clone, Debug)]
pub struct Events {
    pub store: EventStoreKind,
    /// Prefix of every Redis key arkwatch owns.
    pub prefix: String,
    pub retention_days: u32,
    /// The embedded store's events file, when not `data_dir/events.jsonl`.
    pub file: Option<std::path::PathBuf>,
}

pub(super) fn validate(
    e: RawEvents,
    resolve: &dyn Fn(&std::path::Path) -> std::path::PathBuf,
    bad: &Bad<'_>,
) -> anyhow::Result<Events> {
    let store = match e.store.trim() {
        "" | "file" => EventStoreKind::File,
        url if url.starts_with("redis://")
            || url.starts_with("rediss://")
            || url.starts_with("redis+unix://") =>
        {
            // Parsed now, so that a typo in the URL is a configuration error at start, not a
            // failure of the first fold.
            if let Err(err) = url.into_connection_info() {
                return Err(bad.at(
                    "events.store",
                    format!("{:?} is not a valid Redis URL ({err})", redact(url)),
                ));
            }
            EventStoreKind::Redis(url.to_string())
        }
        other => {
            return Err(bad.at(
                "events.store",
                format!("{:?} is neither \"file\" nor a redis:// URL", redact(other)),
            ));
        }
    };
    if e.retention_days == 0 || e.retention_days > 36_500 {
        return Err(bad.at("events.retention_days", "must be between 1 and 36500"));
    }
    if e.file.is_some() && store != EventStoreKind::File {
        return Err(bad.at("events.file", "is only for store = \"file\""));
    }
    Ok(Events {
        store,
        prefix: e.prefix,
        retention_days: e.retention_days,
        file: e.file.as_deref().map(resolve),
    })
}

/// A URL with any password replaced, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

/// The section as TOML gives it, with its defaults.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawEvents {
    pub store: String,
    pub prefix: String,
    pub retention_days: u32,
    pub file: Option<PathBuf>,
}

impl Default for RawEvents {
    fn default() -> Self {
        RawEvents {
            store: "file".into(),
            prefix: "arkwatch:".into(),
            retention_days: 30,
            file: None,
        }
    }
}
