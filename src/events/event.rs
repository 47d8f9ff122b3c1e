//! The product event model and its parsing from the flat field lists that both stores hold
//! (a Redis stream entry's fields, or one line of the embedded file).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// A position in the event stream: Redis's `<ms>-<seq>`, also used by the embedded store.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventId {
    pub ms: u64,
    pub seq: u64,
}

impl EventId {
    /// The first id of an instant.
    pub fn at(time: DateTime<Utc>) -> EventId {
        EventId {
            ms: u64::try_from(time.timestamp_millis()).unwrap_or(0),
            seq: 0,
        }
    }

    pub fn time(self) -> DateTime<Utc> {
        i64::try_from(self.ms)
            .ok()
            .and_then(DateTime::from_timestamp_millis)
            .unwrap_or_default()
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

impl FromStr for EventId {
    type Err = String;
    fn from_str(s: &str) -> Result<EventId, String> {
        let (ms, seq) = s.split_once('-').unwrap_or((s, "0"));
        match (ms.parse(), seq.parse()) {
            (Ok(ms), Ok(seq)) => Ok(EventId { ms, seq }),
            _ => Err(format!("{s:?} is not an event id (<ms>-<seq>)")),
        }
    }
}

impl Serialize for EventId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for EventId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<EventId, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// One stored entry, not yet interpreted: its fields as (name, value) pairs, kept in one string
/// (a fold reads a million of these; two allocations each instead of two per field).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RawEntry {
    pub id: EventId,
    text: String,
    /// Where each name and each value ends in `text`, alternately.
    ends: Vec<u32>,
}

/// A producer's JSON object as a field list: strings as they are, other values as JSON text,
/// `id` dropped (the store assigns it).
pub fn fields_from_json(map: serde_json::Map<String, serde_json::Value>) -> Vec<(String, String)> {
    map.into_iter()
        .filter(|(k, _)| k != "id")
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => (k, s),
            other => (k, other.to_string()),
        })
        .collect()
}

/// A line of an import file (`track --from-file`) as a field list: like a producer's object,
/// with its `id`, if any, kept as the event's `event_id`.
pub fn fields_from_import(
    mut map: serde_json::Map<String, serde_json::Value>,
) -> Vec<(String, String)> {
    if let Some(id) = map.remove("id") {
        map.entry("event_id").or_insert(id);
    }
    fields_from_json(map)
}

/// The fields an event may carry (`track` refuses others; a producer's other fields are kept in
/// the stream and ignored).
pub const FIELDS: &[&str] = &[
    "type",
    "user",
    "ts",
    "ip",
    "user_agent",
    "name",
    "plan",
    "mrr",
    "provider",
    "cost",
    "latency_ms",
    "message",
    "command",
    "event_id",
];

impl RawEntry {
    pub fn new(id: EventId) -> RawEntry {
        RawEntry {
            id,
            text: String::with_capacity(96),
            ends: Vec::with_capacity(12),
        }
    }

    pub fn from_pairs<K: AsRef<str>, V: AsRef<str>>(
        id: EventId,
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> RawEntry {
        let mut entry = RawEntry::new(id);
        for (k, v) in pairs {
            entry.push(k.as_ref());
            entry.push(v.as_ref());
        }
        entry
    }

    /// Appends a name or a value (names and values alternate).
    pub fn push(&mut self, text: &str) {
        self.text.push_str(text);
        self.ends.push(self.text.len() as u32);
    }

    /// The (name, value) pairs, in order.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &str)> {
        let mut start = 0usize;
        self.ends.chunks_exact(2).map(move |pair| {
            let (k, v) = (pair[0] as usize, pair[1] as usize);
            let field = (&self.text[start..k], &self.text[k..v]);
            start = v;
            field
        })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
            .filter(|v| !v.is_empty())
    }
}

/// A product event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub id: EventId,
    pub time: DateTime<Utc>,
    pub user: String,
    pub ip: Option<IpAddr>,
    /// The browser the producer saw (with `ip`, it links the user to that visitor only).
    pub user_agent: Option<String>,
    pub kind: EventKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventKind {
    Registration,
    Command {
        name: String,
    },
    /// Free to a paid plan, or a change of paid plan.
    Conversion {
        plan: String,
        mrr: Decimal,
    },
    Cancellation {
        plan: Option<String>,
    },
    /// A free trial began (of a plan, perhaps).
    TrialStarted {
        plan: Option<String>,
    },
    ApiCall {
        provider: String,
        cost: Decimal,
        latency_ms: u64,
    },
    Error {
        name: Option<String>,
        message: Option<String>,
        command: Option<String>,
    },
    /// The app saw this user at `ip` (and `user_agent`): it links them to that visitor, and
    /// means nothing else (no activity, no change to the user).
    Identify,
    /// A type arkwatch does not know: kept in the store, counted, left out of metrics.
    Unknown {
        kind: String,
    },
}

/// The event types, as written in the `type` field.
pub const TYPES: &[&str] = &[
    "registration",
    "command",
    "conversion",
    "cancellation",
    "trial_started",
    "api_call",
    "error",
    "identify",
];

/// Why an entry could not be read as an event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Malformed {
    pub id: EventId,
    pub reason: String,
}

/// `2026-11-23T10:00:00Z`, `2026-11-23T10:00:00+01:00`, Unix seconds, or Unix milliseconds
/// (13 digits or more).
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(n) = text.parse::<i64>() {
        return if text.trim_start_matches('-').len() >= 13 {
            DateTime::from_timestamp_millis(n)
        } else {
            DateTime::from_timestamp(n, 0)
        };
    }
    let secs: f64 = text.parse().ok().filter(|s: &f64| s.is_finite())?;
    DateTime::from_timestamp_millis((secs * 1000.0).round() as i64)
}

/// The largest amount one event may carry (a price, a cost), in the configured currency.
/// Larger ones are malformed events: no sum of real amounts comes near what the arithmetic can
/// hold, so no input can overflow it.
pub const MAX_AMOUNT: u64 = 1_000_000_000;
/// Decimal places an amount may have.
pub const MAX_AMOUNT_SCALE: u32 = 10;
/// The longest latency one event may report: a day, in milliseconds.
pub const MAX_LATENCY_MS: f64 = 86_400_000.0;
/// The longest identifier (user, type, plan, provider, name, command), in bytes.
pub const MAX_NAME: usize = 256;
/// The longest User-Agent an event may carry, in bytes (real ones stay under 1 KB).
pub const MAX_AGENT: usize = 4096;
/// An error message is kept to this many characters.
const MAX_MESSAGE: usize = 500;
/// Event times must lie in [2000-01-01, 2100-01-01).
const EARLIEST_MS: i64 = 946_684_800_000;
const LATEST_MS: i64 = 4_102_444_800_000;

/// A value for a reason, shortened: a hostile 1 MB field must not become a 1 MB message.
fn quoted(text: &str) -> String {
    if text.chars().count() <= 40 {
        return format!("{text:?}");
    }
    let cut: String = text.chars().take(40).collect();
    format!("{cut:?}…")
}

fn money(field: &str, text: Option<&str>) -> Result<Decimal, String> {
    let text = text.ok_or_else(|| format!("{field} is missing"))?;
    let trimmed = text.trim();
    let value = Decimal::from_str_exact(trimmed)
        .or_else(|_| Decimal::from_scientific(trimmed))
        .map_err(|_| format!("{field} {} is not a number", quoted(text)))?;
    if value.is_sign_negative() && !value.is_zero() {
        return Err(format!("{field} {} is negative", quoted(text)));
    }
    if value > Decimal::from(MAX_AMOUNT) {
        return Err(format!(
            "{field} {} is above the largest amount an event may carry ({MAX_AMOUNT})",
            quoted(text)
        ));
    }
    if value.scale() > MAX_AMOUNT_SCALE && value.normalize().scale() > MAX_AMOUNT_SCALE {
        return Err(format!(
            "{field} {} has more than {MAX_AMOUNT_SCALE} decimal places",
            quoted(text)
        ));
    }
    let value = if value.scale() > MAX_AMOUNT_SCALE {
        value.normalize()
    } else {
        value
    };
    Ok(value.abs())
}

fn latency(text: &str) -> Result<u64, String> {
    let value = text
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|l| l.is_finite())
        .ok_or_else(|| format!("latency_ms {} is not a number", quoted(text)))?;
    if !(0.0..=MAX_LATENCY_MS).contains(&value) {
        return Err(format!(
            "latency_ms {} is outside 0 to {MAX_LATENCY_MS} (a day)",
            quoted(text)
        ));
    }
    // In range, so the conversion is exact to the millisecond.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(value.round() as u64)
}

impl Event {
    /// Interprets a stored entry; a missing or unreadable required field is [`Malformed`].
    pub fn parse(entry: &RawEntry) -> Result<Event, Malformed> {
        let bad = |reason: String| Malformed {
            id: entry.id,
            reason,
        };
        let f = Fields::gather(entry);
        let kind_name = f.kind.ok_or_else(|| bad("type is missing".into()))?;
        let user = f.user.ok_or_else(|| bad("user is missing".into()))?;
        f.check_lengths().map_err(bad)?;
        Ok(Event {
            id: entry.id,
            time: f.time(entry.id).map_err(bad)?,
            user: user.to_string(),
            ip: f.ip().map_err(bad)?,
            user_agent: f.user_agent.map(str::to_string),
            kind: f.event_kind(kind_name).map_err(bad)?,
        })
    }
}

impl<'a> Fields<'a> {
    /// The fields of `entry`, in one pass (this runs for every event of a fold); the first of
    /// a repeated field wins, an empty one is absent.
    fn gather(entry: &'a RawEntry) -> Fields<'a> {
        let mut f = Fields::default();
        for (k, v) in entry.fields() {
            if v.is_empty() {
                continue;
            }
            let slot = match k {
                "type" => &mut f.kind,
                "user" => &mut f.user,
                "ts" => &mut f.ts,
                "ip" => &mut f.ip,
                "user_agent" => &mut f.user_agent,
                "name" => &mut f.name,
                "plan" => &mut f.plan,
                "mrr" => &mut f.mrr,
                "provider" => &mut f.provider,
                "cost" => &mut f.cost,
                "latency_ms" => &mut f.latency_ms,
                "message" => &mut f.message,
                "command" => &mut f.command,
                _ => continue,
            };
            slot.get_or_insert(v);
        }
        f
    }

    fn check_lengths(&self) -> Result<(), String> {
        for (name, value) in [
            ("type", self.kind),
            ("user", self.user),
            ("plan", self.plan),
            ("provider", self.provider),
            ("name", self.name),
            ("command", self.command),
        ] {
            if value.is_some_and(|v| v.len() > MAX_NAME) {
                return Err(format!("{name} is longer than {MAX_NAME} bytes"));
            }
        }
        if self.user_agent.is_some_and(|v| v.len() > MAX_AGENT) {
            return Err(format!("user_agent is longer than {MAX_AGENT} bytes"));
        }
        Ok(())
    }

    /// `ts`, or the entry id's time when there is none.
    fn time(&self, id: EventId) -> Result<DateTime<Utc>, String> {
        match self.ts {
            Some(ts) => parse_time(ts)
                .filter(|t| (EARLIEST_MS..LATEST_MS).contains(&t.timestamp_millis()))
                .ok_or_else(|| format!("ts {} is not a time between 2000 and 2100", quoted(ts))),
            None => Ok(id.time()),
        }
    }

    fn ip(&self) -> Result<Option<IpAddr>, String> {
        self.ip
            .map(|ip| {
                ip.trim()
                    .parse::<IpAddr>()
                    .map(|ip| ip.to_canonical())
                    .map_err(|_| format!("ip {} is not an IP address", quoted(ip)))
            })
            .transpose()
    }

    fn event_kind(&self, kind_name: &str) -> Result<EventKind, String> {
        let text = |v: Option<&str>| v.map(str::to_string);
        let required =
            |field: &str, v: Option<&str>| text(v).ok_or_else(|| format!("{field} is missing"));
        Ok(match kind_name {
            "registration" => EventKind::Registration,
            "identify" => EventKind::Identify,
            "command" => EventKind::Command {
                name: required("name", self.name)?,
            },
            "conversion" => EventKind::Conversion {
                plan: required("plan", self.plan)?,
                mrr: money("mrr", self.mrr)?,
            },
            "cancellation" => EventKind::Cancellation {
                plan: text(self.plan),
            },
            "trial_started" => EventKind::TrialStarted {
                plan: text(self.plan),
            },
            "api_call" => EventKind::ApiCall {
                provider: required("provider", self.provider)?,
                cost: money("cost", self.cost)?,
                latency_ms: self.latency_ms.map_or(Ok(0), latency)?,
            },
            "error" => {
                if self.name.is_none() && self.message.is_none() {
                    return Err("an error needs a name or a message".into());
                }
                EventKind::Error {
                    name: text(self.name),
                    // A message is a label in the rollups: a stack trace is cut to its start.
                    message: self.message.map(|m| m.chars().take(MAX_MESSAGE).collect()),
                    command: text(self.command),
                }
            }
            other => EventKind::Unknown {
                kind: other.to_string(),
            },
        })
    }
}

/// The fields an event may carry, found in one pass.
#[derive(Default)]
struct Fields<'a> {
    kind: Option<&'a str>,
    user: Option<&'a str>,
    ts: Option<&'a str>,
    ip: Option<&'a str>,
    user_agent: Option<&'a str>,
    name: Option<&'a str>,
    plan: Option<&'a str>,
    mrr: Option<&'a str>,
    provider: Option<&'a str>,
    cost: Option<&'a str>,
    latency_ms: Option<&'a str>,
    message: Option<&'a str>,
    command: Option<&'a str>,
}

#[cfg(test)]
mod tests;
