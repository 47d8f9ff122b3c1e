//! The Redis event store: producers `XADD` to the stream `{prefix}events`; arkwatch reads it in
//! pages (`XRANGE … COUNT`), keeps the users projection in the hash `{prefix}users`, and trims
//! with `XTRIM MINID`. The schema is in `docs/redis-schema.md`.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result};
use redis::{Commands, ConnectionLike};

use super::event::{EventId, RawEntry};
use super::projection::{UserRecord, UserTotals};
use super::store::EventStore;
use crate::exit::Fatal;

pub struct RedisStore {
    conn: redis::Connection,
    /// The fast reader for `XRANGE` pages (TCP addresses; others use `conn`).
    pages: Option<super::resp::XrangeReader>,
    address: String,
    db: i64,
    stream: String,
    /// `event_id` → stream id of every event added with one (`track`, or the script).
    event_ids: String,
    /// A random marker set at the first fold: gone means the store lost its data.
    marker: String,
    users: String,
    cursor: String,
    totals: String,
}

const TIMEOUT: Duration = Duration::from_secs(5);

impl RedisStore {
    /// Connects; the password comes from `ARKWATCH_REDIS_PASSWORD` when set, else from the URL.
    /// An unreachable server is [`Fatal::ServiceDown`], named by host and port only.
    pub fn connect(url: &str, prefix: &str) -> Result<RedisStore> {
        let mut info: redis::ConnectionInfo = url
            .into_connection_info()
            .map_err(|err| Fatal::Config(format!("events.store: not a Redis URL ({err})")))?;
        let address = describe(&info);
        if let Ok(password) = std::env::var("ARKWATCH_REDIS_PASSWORD")
            && !password.is_empty()
        {
            let settings = info.redis_settings().clone().set_password(password);
            info = info.set_redis_settings(settings);
        }
        if matches!(info.addr(), redis::ConnectionAddr::TcpTls { .. }) {
            // rediss://: rustls needs its crypto provider named once per process (ring, which
            // builds with a C compiler alone); a second install is harmless.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let client = redis::Client::open(info.clone())
            .map_err(|err| Fatal::Config(format!("events.store: {err}")))?;
        let mut conn = client
            .get_connection_with_timeout(TIMEOUT)
            .map_err(|err| down(&address, &err))?;
        conn.set_read_timeout(Some(TIMEOUT)).ok();
        conn.set_write_timeout(Some(TIMEOUT)).ok();
        if !conn.check_connection() {
            return Err(Fatal::ServiceDown {
                service: "Redis".into(),
                address,
                reason: "it does not answer PING".into(),
            }
            .into());
        }
        let settings = info.redis_settings();
        let pages = match info.addr() {
            redis::ConnectionAddr::Tcp(host, port) => Some(
                super::resp::XrangeReader::connect(
                    host,
                    *port,
                    settings.db(),
                    settings.username(),
                    settings.password(),
                    TIMEOUT,
                )
                .map_err(|err| down_io(&address, &err))?,
            ),
            _ => None,
        };
        Ok(RedisStore {
            conn,
            pages,
            address,
            db: settings.db(),
            stream: format!("{prefix}events"),
            event_ids: format!("{prefix}event_ids"),
            marker: format!("{prefix}marker"),
            users: format!("{prefix}users"),
            cursor: format!("{prefix}users:cursor"),
            totals: format!("{prefix}users:totals"),
        })
    }

    fn fail(&self, err: &redis::RedisError) -> anyhow::Error {
        classify(&self.address, err)
    }
}

/// What a Redis error means for the run: a refused password or certificate is permanent
/// ([`Fatal::Denied`], exit 77: retrying changes nothing), an unreachable or slow server is
/// temporary ([`Fatal::ServiceDown`], exit 75), anything else a plain error.
fn classify(address: &str, err: &redis::RedisError) -> anyhow::Error {
    let text = err.to_string();
    let auth = err.kind() == redis::ErrorKind::AuthenticationFailed
        || err
            .code()
            .is_some_and(|c| matches!(c, "WRONGPASS" | "NOAUTH" | "NOPERM"));
    if auth {
        return refused_credentials(address, &text);
    }
    if let Some(words) = crate::exit::tls_failure(&text) {
        return Fatal::Denied(format!("TLS with Redis at {address} failed: {words}")).into();
    }
    if err.is_timeout() || crate::exit::timed_out(&text) {
        return unreachable(address, format!("timed out after {} s", TIMEOUT.as_secs()));
    }
    if err.is_io_error() || err.is_connection_dropped() || err.is_connection_refusal() {
        return unreachable(address, text);
    }
    anyhow::anyhow!("Redis {address}: {err}")
}

fn refused_credentials(address: &str, detail: &str) -> anyhow::Error {
    Fatal::Denied(format!(
        "Redis at {address} refused the credentials ({detail}); check the password (the URL's \
         in [events] store, or ARKWATCH_REDIS_PASSWORD) and the user"
    ))
    .into()
}

fn unreachable(address: &str, reason: String) -> anyhow::Error {
    Fatal::ServiceDown {
        service: "Redis".into(),
        address: address.to_string(),
        reason,
    }
    .into()
}

fn down_io(address: &str, err: &std::io::Error) -> anyhow::Error {
    let text = err.to_string();
    if ["WRONGPASS", "NOAUTH", "invalid password", "NOPERM"]
        .iter()
        .any(|m| text.contains(m))
    {
        return refused_credentials(address, &text);
    }
    if matches!(
        err.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    ) || crate::exit::timed_out(&text)
    {
        return unreachable(address, format!("timed out after {} s", TIMEOUT.as_secs()));
    }
    unreachable(address, text)
}

fn down(address: &str, err: &redis::RedisError) -> anyhow::Error {
    classify(address, err)
}

use redis::IntoConnectionInfo;

/// `redis://host:port/db`, never with a password.
fn describe(info: &redis::ConnectionInfo) -> String {
    let db = info.redis_settings().db();
    match info.addr() {
        redis::ConnectionAddr::Tcp(host, port) => format!("redis://{host}:{port}/{db}"),
        redis::ConnectionAddr::TcpTls { host, port, .. } => format!("rediss://{host}:{port}/{db}"),
        redis::ConnectionAddr::Unix(path) => format!("redis+unix://{}", path.display()),
        other => format!("{other}"),
    }
}

type StreamPage = Vec<(String, Vec<(String, String)>)>;

/// `last-generated-id` of an `XINFO STREAM` reply (RESP2: a flat list of names and values;
/// RESP3: a map).
fn last_generated_id(info: &redis::Value) -> Option<EventId> {
    let text = |v: &redis::Value| match v {
        redis::Value::BulkString(b) => String::from_utf8(b.clone()).ok(),
        redis::Value::SimpleString(s) => Some(s.clone()),
        _ => None,
    };
    let pairs: Vec<(&redis::Value, &redis::Value)> = match info {
        redis::Value::Array(items) => items
            .chunks(2)
            .filter_map(|p| Some((p.first()?, p.get(1)?)))
            .collect(),
        redis::Value::Map(items) => items.iter().map(|(k, v)| (k, v)).collect(),
        _ => Vec::new(),
    };
    pairs
        .into_iter()
        .find(|(k, _)| text(k).as_deref() == Some("last-generated-id"))
        .and_then(|(_, v)| text(v)?.parse().ok())
}

/// Adds an entry unless its `event_id` (ARGV[1]) is recorded in the hash KEYS[2]; records it
/// with the entry's stream id. Atomic: Redis runs a script whole. The script any producer may
/// use too is in docs/redis-schema.md.
const APPEND_UNIQUE: &str = "if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return false end \
     local id = redis.call('XADD', KEYS[1], '*', unpack(ARGV, 2)) \
     redis.call('HSET', KEYS[2], ARGV[1], id) return id";

impl EventStore for RedisStore {
    fn describe(&self) -> String {
        format!("{} (stream {})", self.address, self.stream)
    }

    fn identity(&self) -> String {
        format!("redis db {} stream {}", self.db, self.stream)
    }

    fn marker(&mut self) -> Result<Option<String>> {
        self.conn.get(&self.marker).map_err(|e| self.fail(&e))
    }

    fn set_marker(&mut self, marker: &str, only_if_absent: bool) -> Result<String> {
        let mut set = redis::cmd("SET");
        set.arg(&self.marker).arg(marker);
        if only_if_absent {
            set.arg("NX");
        }
        let _: Option<String> = set.query(&mut self.conn).map_err(|e| self.fail(&e))?;
        let now: Option<String> = self.conn.get(&self.marker).map_err(|e| self.fail(&e))?;
        Ok(now.unwrap_or_else(|| marker.to_string()))
    }

    fn last_id(&mut self) -> Result<Option<EventId>> {
        let exists: bool = self.conn.exists(&self.stream).map_err(|e| self.fail(&e))?;
        if !exists {
            return Ok(None);
        }
        let info: redis::Value = redis::cmd("XINFO")
            .arg("STREAM")
            .arg(&self.stream)
            .query(&mut self.conn)
            .map_err(|e| self.fail(&e))?;
        Ok(last_generated_id(&info))
    }

    fn needs_snapshot(&self) -> bool {
        true
    }

    fn check(&mut self) -> Result<String> {
        let len: u64 = redis::cmd("XLEN")
            .arg(&self.stream)
            .query(&mut self.conn)
            .map_err(|e| self.fail(&e))?;
        Ok(format!(
            "{} answers; {len} entries in {}",
            self.address, self.stream
        ))
    }

    fn append(&mut self, events: &[Vec<(String, String)>]) -> Result<Vec<EventId>> {
        let mut pipe = redis::pipe();
        for fields in events {
            pipe.cmd("XADD").arg(&self.stream).arg("*").arg(fields);
        }
        let ids: Vec<String> = pipe.query(&mut self.conn).map_err(|e| self.fail(&e))?;
        ids.iter()
            .map(|id| id.parse().map_err(|e: String| anyhow::anyhow!(e)))
            .collect()
    }

    fn append_unique(&mut self, events: &[Vec<(String, String)>]) -> Result<Vec<Option<EventId>>> {
        let mut out = Vec::with_capacity(events.len());
        for batch in events.chunks(1000) {
            let mut pipe = redis::pipe();
            for fields in batch {
                let id = fields
                    .iter()
                    .find(|(k, _)| k == "event_id")
                    .map_or("", |(_, v)| v.as_str());
                pipe.cmd("EVAL")
                    .arg(APPEND_UNIQUE)
                    .arg(2)
                    .arg(&self.stream)
                    .arg(&self.event_ids)
                    .arg(id)
                    .arg(fields);
            }
            let ids: Vec<Option<String>> = pipe.query(&mut self.conn).map_err(|e| self.fail(&e))?;
            for id in ids {
                out.push(
                    id.map(|id| id.parse().map_err(|e: String| anyhow::anyhow!(e)))
                        .transpose()?,
                );
            }
        }
        Ok(out)
    }

    fn read_after(&mut self, after: Option<EventId>, count: usize) -> Result<Vec<RawEntry>> {
        let start = match after {
            Some(id) => format!("({id}"),
            None => "-".to_string(),
        };
        if let Some(pages) = &mut self.pages {
            return pages.xrange(&self.stream, &start, count).map_err(|err| {
                if err.kind() == std::io::ErrorKind::InvalidData {
                    anyhow::anyhow!("Redis {}: XRANGE {}: {err}", self.address, self.stream)
                } else {
                    down_io(&self.address, &err)
                }
            });
        }
        let page: StreamPage = redis::cmd("XRANGE")
            .arg(&self.stream)
            .arg(start)
            .arg("+")
            .arg("COUNT")
            .arg(count)
            .query(&mut self.conn)
            .map_err(|e| self.fail(&e))?;
        page.into_iter()
            .map(|(id, fields)| {
                let id = id
                    .parse()
                    .map_err(|e: String| anyhow::anyhow!("{}: {e}", self.stream))?;
                Ok(RawEntry::from_pairs(id, fields))
            })
            .collect()
    }

    fn trim_before(&mut self, min: EventId) -> Result<u64> {
        let removed: u64 = redis::cmd("XTRIM")
            .arg(&self.stream)
            .arg("MINID")
            .arg(min.to_string())
            .query(&mut self.conn)
            .map_err(|e| self.fail(&e))?;
        Ok(removed)
    }

    fn remove(&mut self, ids: &std::collections::BTreeSet<EventId>) -> Result<u64> {
        let mut removed = 0;
        let ids: Vec<String> = ids.iter().map(EventId::to_string).collect();
        for batch in ids.chunks(1000) {
            let n: u64 = redis::cmd("XDEL")
                .arg(&self.stream)
                .arg(batch)
                .query(&mut self.conn)
                .map_err(|e| self.fail(&e))?;
            removed += n;
        }
        Ok(removed)
    }

    fn projection_cursor(&mut self) -> Result<Option<EventId>> {
        let cursor: Option<String> = self.conn.get(&self.cursor).map_err(|e| self.fail(&e))?;
        cursor
            .map(|c| {
                c.parse()
                    .map_err(|e: String| anyhow::anyhow!("{}: {e}", self.cursor))
            })
            .transpose()
    }

    fn load_users(&mut self, users: &[&str]) -> Result<BTreeMap<String, UserRecord>> {
        let mut out = BTreeMap::new();
        for batch in users.chunks(1000) {
            let values: Vec<Option<String>> = redis::cmd("HMGET")
                .arg(&self.users)
                .arg(batch)
                .query(&mut self.conn)
                .map_err(|e| self.fail(&e))?;
            for (user, value) in batch.iter().zip(values) {
                if let Some(json) = value {
                    let record = serde_json::from_str(&json).with_context(|| {
                        format!("{} field {user:?} is not a user record", self.users)
                    })?;
                    out.insert(user.to_string(), record);
                }
            }
        }
        Ok(out)
    }

    fn all_users(&mut self) -> Result<BTreeMap<String, UserRecord>> {
        let all: BTreeMap<String, String> =
            self.conn.hgetall(&self.users).map_err(|e| self.fail(&e))?;
        all.into_iter()
            .map(|(user, json)| {
                let record = serde_json::from_str(&json).with_context(|| {
                    format!("{} field {user:?} is not a user record", self.users)
                })?;
                Ok((user, record))
            })
            .collect()
    }

    fn projection_totals(&mut self) -> Result<UserTotals> {
        let totals: Option<String> = self.conn.get(&self.totals).map_err(|e| self.fail(&e))?;
        match totals {
            None => Ok(UserTotals::default()),
            Some(json) => serde_json::from_str(&json)
                .with_context(|| format!("{} is not a totals record", self.totals)),
        }
    }

    fn save_users(
        &mut self,
        users: &BTreeMap<String, UserRecord>,
        totals: UserTotals,
        cursor: EventId,
    ) -> Result<()> {
        // One MULTI/EXEC: the records and the cursor they were folded to change together.
        let mut pipe = redis::pipe();
        pipe.atomic();
        let records: Vec<(String, String)> = users
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    serde_json::to_string(v).expect("a user record serialises"),
                )
            })
            .collect();
        for batch in records.chunks(1000) {
            pipe.cmd("HSET").arg(&self.users).arg(batch).ignore();
        }
        let totals = serde_json::to_string(&totals).expect("totals serialise");
        pipe.cmd("SET").arg(&self.totals).arg(totals).ignore();
        pipe.cmd("SET")
            .arg(&self.cursor)
            .arg(cursor.to_string())
            .ignore();
        let () = pipe.query(&mut self.conn).map_err(|e| self.fail(&e))?;
        Ok(())
    }

    fn remove_users(&mut self, users: &[&str], totals: UserTotals) -> Result<()> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        if !users.is_empty() {
            pipe.cmd("HDEL").arg(&self.users).arg(users).ignore();
        }
        let totals = serde_json::to_string(&totals).expect("totals serialise");
        pipe.cmd("SET").arg(&self.totals).arg(totals).ignore();
        let () = pipe.query(&mut self.conn).map_err(|e| self.fail(&e))?;
        Ok(())
    }
}
