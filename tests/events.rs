//! Product events, one conformance suite run against both stores (the embedded file and a real
//! `redis-server`), plus the Redis-only contract: the schema document's own `redis-cli XADD`
//! lines, and Redis going away and coming back.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use arkwatch::rollup::activity::ActivityDay;
use arkwatch::rollup::files::DayFiles;
use arkwatch::state::StateLock;
use chrono::NaiveDate;
use common::Site;
use common::redis::RedisServer;
use rust_decimal::Decimal;
use serde_json::Value;

enum Backend {
    File,
    Redis(RedisServer),
}

impl Backend {
    fn both() -> Vec<Backend> {
        vec![Backend::File, Backend::Redis(RedisServer::start())]
    }

    fn site(&self) -> Site {
        match self {
            Backend::File => Site::new(""),
            Backend::Redis(server) => {
                Site::new(&format!("[events]\nstore = \"{}\"\n", server.url()))
            }
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Backend::File => "file",
            Backend::Redis(_) => "redis",
        }
    }

    /// Writes an entry as a producer would, bypassing arkwatch's checks (so it may be
    /// malformed), with an explicit id.
    fn raw(&self, site: &Site, id: &str, fields: &[(&str, &str)]) {
        match self {
            Backend::File => {
                let mut map = serde_json::Map::new();
                map.insert("id".into(), id.into());
                for (k, v) in fields {
                    map.insert(k.to_string(), (*v).into());
                }
                common::append(
                    &site.data.join("events.jsonl"),
                    &[Value::Object(map).to_string()],
                );
            }
            Backend::Redis(server) => {
                let mut args = vec!["XADD", "arkwatch:events", id];
                for (k, v) in fields {
                    args.push(k);
                    args.push(v);
                }
                assert!(server.cli(&args).is_some(), "XADD failed");
            }
        }
    }
}

fn track(site: &Site, args: &[&str]) {
    let out = site.command().arg("track").args(args).output().unwrap();
    common::assert_success(&out);
}

fn fold(site: &Site) -> serde_json::Value {
    site.fold_events()
}

fn activity(site: &Site) -> BTreeMap<NaiveDate, ActivityDay> {
    let lock = StateLock::acquire(&site.data, Duration::from_secs(30)).unwrap();
    let state = lock.load().unwrap();
    DayFiles::new(&site.data, "activity")
        .load_all(&state.activity)
        .unwrap()
}

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

#[test]
#[expect(
    clippy::too_many_lines,
    reason = "a scenario reads top to bottom, one step after the other"
)]
fn conformance_events_are_folded_into_projection_and_activity() {
    for backend in Backend::both() {
        let site = backend.site();
        let at = "--at=2026-11-20T10:00:00Z";
        track(&site, &["registration", "--user", "42", at]);
        track(&site, &["registration", "--user", "43", at]);
        track(
            &site,
            &["conversion", "--user", "42", "plan=pro", "mrr=29.00", at],
        );
        for _ in 0..3 {
            track(&site, &["command", "--user", "42", "name=/price", at]);
        }
        track(
            &site,
            &[
                "api_call",
                "--user",
                "42",
                "provider=openai",
                "cost=0.50",
                "latency_ms=100",
                at,
            ],
        );
        track(
            &site,
            &[
                "api_call",
                "--user",
                "43",
                "provider=openai",
                "cost=0.25",
                "latency_ms=300",
                at,
            ],
        );
        track(
            &site,
            &[
                "error",
                "--user",
                "43",
                "message=timeout",
                "command=/price",
                at,
            ],
        );
        track(&site, &["page_share", "--user", "43", at]);

        let f = fold(&site);
        let b = backend.name();
        let store = f["store"].as_str().unwrap();
        match backend {
            Backend::File => assert!(store.ends_with("events.jsonl"), "{store}"),
            Backend::Redis(ref s) => assert!(store.starts_with(&s.url()), "{store}"),
        }
        assert_eq!(f["events"], 10, "{b}: {f:#}");
        assert_eq!(
            (f["unknown"].as_u64(), f["malformed"].as_u64()),
            (Some(1), Some(0)),
            "{b}"
        );
        assert_eq!(f["users"]["total"], 2, "{b}");
        assert_eq!(f["users"]["premium"], 1, "{b}");
        assert_eq!(dec(f["users"]["mrr"].as_str().unwrap()), dec("29"), "{b}");

        let days = activity(&site);
        let day = &days[&NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()];
        assert_eq!(day.events, 9, "{b}");
        assert_eq!(day.unknown, 1, "{b}");
        assert_eq!(day.registrations, 2, "{b}");
        assert_eq!(day.commands["/price"], 3, "{b}");
        assert_eq!(day.errors, 1, "{b}");
        let api = &day.api["openai"];
        assert_eq!((api.calls, api.cost), (2, dec("0.75")), "{b}");
        assert_eq!(api.latency_ms, BTreeMap::from([(100, 1), (300, 1)]), "{b}");
        assert_eq!((day.conversions, day.mrr_new), (1, dec("29.00")), "{b}");
        assert_eq!(day.active_users.len(), 2, "{b}");

        // Folding again changes nothing.
        let again = fold(&site);
        assert_eq!(again["events"], 0, "{b}");
        assert_eq!(again["users"], f["users"], "{b}");
        assert_eq!(activity(&site), days, "{b}");
    }
}

#[test]
fn conformance_malformed_events_are_counted_listed_and_skipped() {
    for backend in Backend::both() {
        let site = backend.site();
        let b = backend.name();
        backend.raw(&site, "1795132800000-0", &[("user", "1")]);
        backend.raw(
            &site,
            "1795132800000-1",
            &[
                ("type", "api_call"),
                ("user", "1"),
                ("provider", "x"),
                ("cost", "abc"),
            ],
        );
        backend.raw(
            &site,
            "1795132800000-2",
            &[("type", "registration"), ("user", "1")],
        );
        let f = fold(&site);
        assert_eq!(
            (f["events"].as_u64(), f["malformed"].as_u64()),
            (Some(3), Some(2)),
            "{b}: {f:#}"
        );
        let ids: Vec<&str> = f["malformed_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["1795132800000-0", "1795132800000-1"], "{b}");
        assert!(
            f["malformed_ids"][1]["reason"]
                .as_str()
                .unwrap()
                .contains("cost"),
            "{b}"
        );
        assert_eq!(f["users"]["total"], 1, "{b}");
    }
}

#[test]
fn conformance_trimming_old_events_keeps_users_premium_and_mrr() {
    let now_ms = chrono::Utc::now().timestamp_millis();
    let old = |days: i64, seq: u32| format!("{}-{seq}", now_ms - days * 86_400_000);
    for backend in Backend::both() {
        let site = backend.site();
        let b = backend.name();
        // 40 days ago: three users register, two convert, one of them cancels.
        backend.raw(
            &site,
            &old(40, 0),
            &[("type", "registration"), ("user", "a")],
        );
        backend.raw(
            &site,
            &old(40, 1),
            &[("type", "registration"), ("user", "b")],
        );
        backend.raw(
            &site,
            &old(40, 2),
            &[("type", "registration"), ("user", "c")],
        );
        backend.raw(
            &site,
            &old(39, 0),
            &[
                ("type", "conversion"),
                ("user", "a"),
                ("plan", "pro"),
                ("mrr", "20"),
            ],
        );
        backend.raw(
            &site,
            &old(39, 1),
            &[
                ("type", "conversion"),
                ("user", "b"),
                ("plan", "team"),
                ("mrr", "50.50"),
            ],
        );
        backend.raw(
            &site,
            &old(35, 0),
            &[("type", "cancellation"), ("user", "a")],
        );
        // Recent: one more user and a command.
        track(&site, &["registration", "--user", "d"]);
        track(&site, &["command", "--user", "b", "name=/chart"]);
        let before = fold(&site);
        assert_eq!(before["users"]["total"], 4, "{b}: {before:#}");
        assert_eq!(before["users"]["premium"], 1, "{b}");
        assert_eq!(
            dec(before["users"]["mrr"].as_str().unwrap()),
            dec("50.50"),
            "{b}"
        );
        let days_before = activity(&site);

        // Trim everything older than 30 days, as `rotate` will.
        let config = arkwatch::config::Config::load(&site.config).unwrap();
        let mut store = arkwatch::events::open(&config).unwrap();
        let cutoff = arkwatch::events::event::EventId {
            ms: u64::try_from(now_ms - 30 * 86_400_000).unwrap(),
            seq: 0,
        };
        assert_eq!(store.trim_before(cutoff).unwrap(), 6, "{b}");
        drop(store);

        let after = fold(&site);
        assert_eq!(after["events"], 0, "{b}");
        assert_eq!(
            after["users"], before["users"],
            "{b}: users, premium and MRR survive trimming"
        );
        assert_eq!(
            activity(&site),
            days_before,
            "{b}: every day of history survives trimming"
        );
    }
}

/// Acceptance (a): the `redis-cli XADD` lines of docs/redis-schema.md, run as written.
#[test]
fn xadd_lines_from_the_schema_document_are_read() {
    let server = RedisServer::start();
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/redis-schema.md"))
        .unwrap();
    let lines: Vec<&str> = doc
        .lines()
        .filter(|l| l.starts_with("redis-cli XADD"))
        .collect();
    assert_eq!(
        lines.len(),
        8,
        "the document's examples changed; update this test"
    );
    for line in &lines {
        // Words as the shell splits them: a '…' quoted one may hold spaces.
        let mut args: Vec<String> = Vec::new();
        for (i, part) in line["redis-cli ".len()..].split('\'').enumerate() {
            if i % 2 == 1 {
                args.push(part.to_string());
            } else {
                args.extend(part.split_whitespace().map(str::to_string));
            }
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert!(server.cli(&args).is_some(), "failed: {line}");
    }
    let site = Site::new(&format!("[events]\nstore = \"{}\"\n", server.url()));
    let f = fold(&site);
    assert_eq!(
        (f["events"].as_u64(), f["malformed"].as_u64()),
        (Some(8), Some(0)),
        "{f:#}"
    );
    assert_eq!(f["users"]["total"], 2, "an identify creates no user");
    assert_eq!(f["users"]["premium"], 0, "42 converted, then cancelled");
    let days = activity(&site);
    let total = |f: fn(&ActivityDay) -> u64| days.values().map(f).sum::<u64>();
    assert_eq!(total(|d| d.registrations), 2);
    assert_eq!(total(|d| d.commands.values().sum()), 1);
    assert_eq!(total(|d| d.errors), 1);
    assert_eq!(total(|d| d.conversions), 1);
    assert_eq!(total(|d| d.cancellations), 1);
    assert_eq!(
        days.values().map(|d| d.mrr_churned).sum::<Decimal>(),
        dec("29.00")
    );
    assert_eq!(
        days.values()
            .map(|d| d.api.get("openai").map_or(0, |a| a.calls))
            .sum::<u64>(),
        1
    );
    assert!(
        days.contains_key(&NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()),
        "ts is honoured"
    );
}

/// Acceptance (e): with Redis down, commands exit 75 naming the address (never the password)
/// and advance nothing; once it is back, the next fold catches up.
#[test]
fn redis_down_exits_75_and_the_next_run_catches_up() {
    let mut server = RedisServer::start();
    let site = Site::new(&format!("[events]\nstore = \"{}\"\n", server.url()));
    for user in ["1", "2", "3"] {
        track(&site, &["registration", "--user", user]);
    }
    server.stop();
    let address = format!("redis://127.0.0.1:{}/0", server.port);
    for args in [
        &["track", "registration", "--user", "4"][..],
        &["fold-events"][..],
    ] {
        let out = site
            .command()
            .args(args)
            .env("ARKWATCH_REDIS_PASSWORD", "hunter2")
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(75),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&address), "{err}");
        assert!(!err.contains("hunter2"), "the password leaked: {err}");
    }
    let lock = StateLock::acquire(&site.data, Duration::from_secs(5)).unwrap();
    assert_eq!(
        lock.load().unwrap().events_cursor,
        None,
        "the cursor did not move"
    );
    drop(lock);
    server.restart();
    let f = fold(&site);
    assert_eq!(f["events"], 3, "{f:#}");
    assert_eq!(f["users"]["total"], 3);
}

/// `rediss://`: the same store over TLS (a TLS-only server with a self-signed certificate).
#[test]
fn rediss_store_over_tls() {
    let server = RedisServer::start_tls();
    let site = Site::new(&format!("[events]\nstore = \"{}\"\n", server.url()));
    track(&site, &["registration", "--user", "1"]);
    track(
        &site,
        &["conversion", "--user", "1", "plan=pro", "mrr=9.00"],
    );
    let f = fold(&site);
    assert!(
        f["store"]
            .as_str()
            .unwrap()
            .starts_with("rediss://127.0.0.1:"),
        "{f:#}"
    );
    assert_eq!(
        (f["events"].as_u64(), f["users"]["premium"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(
        server.cli(&["XLEN", "arkwatch:events"]).as_deref(),
        Some("2")
    );
}

/// Regression: totals kept beside a projection that was reset by hand (cursor deleted, stale
/// totals left) are recounted, not trusted.
#[test]
fn a_projection_reset_by_hand_gets_fresh_totals() {
    let server = RedisServer::start();
    let site = Site::new(&format!("[events]\nstore = \"{}\"\n", server.url()));
    track(
        &site,
        &["conversion", "--user", "1", "plan=pro", "mrr=9.00"],
    );
    assert_eq!(fold(&site)["users"]["total"], 1);
    server
        .cli(&["DEL", "arkwatch:users", "arkwatch:users:cursor"])
        .unwrap();
    std::fs::remove_dir_all(&site.data).unwrap();
    std::fs::create_dir(&site.data).unwrap();
    let f = fold(&site);
    assert_eq!(f["events"], 1);
    assert_eq!(
        (f["users"]["total"].as_u64(), f["users"]["premium"].as_u64()),
        (Some(1), Some(1)),
        "{f:#}"
    );
}

/// Regression: switching `[events] store` does not fold the new store from the old one's
/// cursor; it is refused with an explanation, and `--new-store` adopts the new store.
#[test]
fn switching_the_event_store_is_refused_until_adopted() {
    let server = RedisServer::start();
    let site = Site::new("");
    track(&site, &["registration", "--user", "1"]);
    assert_eq!(fold(&site)["events"], 1);
    let config = std::fs::read_to_string(&site.config).unwrap();
    std::fs::write(
        &site.config,
        format!("{config}\n[events]\nstore = \"{}\"\n", server.url()),
    )
    .unwrap();
    track(&site, &["registration", "--user", "2"]);
    let out = site.command().arg("fold-events").output().unwrap();
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("file events.jsonl") && err.contains("--new-store"),
        "{err}"
    );
    let out = site
        .command()
        .args(["fold-events", "--json", "--new-store"])
        .output()
        .unwrap();
    common::assert_success(&out);
    let f: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        f["events"], 1,
        "the new store is folded from its start: {f:#}"
    );
    assert_eq!(fold(&site)["events"], 0);
}
