//! `purge-ip` end to end: every store emptied of an address in every spelling (files under
//! `data_dir` read through gzip, every key under the prefix in a real Redis), everyone else's data
//! unchanged, the right of access by `--dry-run --json`, SIGKILL at random moments, bad input.

// The files compared by extension are arkwatch's own, always named in lowercase.
#![allow(clippy::case_sensitive_file_extension_comparisons)]

mod common;

use std::fmt::Write as _;
use std::io::Read;

use chrono::{Duration, Utc};
use common::Site;
use common::redis::RedisServer;
use serde_json::Value;

const SAFARI: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15";
const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

fn req(ip: &str, path: &str, referer: &str, ua: &str, mins_ago: i64) -> String {
    let t = Utc::now() - Duration::minutes(mins_ago);
    format!(
        "{ip} - - [{}] \"GET {path} HTTP/1.1\" 200 512 \"{referer}\" \"{ua}\"",
        t.format("%d/%b/%Y:%H:%M:%S +0000")
    )
}

fn run(site: &Site, args: &[&str]) -> std::process::Output {
    site.command().args(args).output().unwrap()
}

fn ok(site: &Site, args: &[&str]) -> Value {
    let out = run(site, args);
    common::assert_success(&out);
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

/// The spellings of 203.0.113.7 a file could hold, written out here rather than taken from
/// arkwatch.
fn names_the_v4_address(text: &str) -> bool {
    let v4 = regex::Regex::new(r"(^|[^0-9.])203\.0\.113\.7([^0-9]|$)").unwrap();
    let mapped = regex::Regex::new(r"(?i)ffff:cb00:7107").unwrap();
    v4.is_match(text) || mapped.is_match(text)
}

fn redis_dump(redis: &RedisServer) -> String {
    let keys = redis.cli(&["--scan", "--pattern", "arkwatch:*"]).unwrap();
    let mut dump = String::new();
    for key in keys.lines() {
        let kind = redis.cli(&["TYPE", key]).unwrap();
        let value = match kind.as_str() {
            "stream" => redis.cli(&["XRANGE", key, "-", "+"]),
            "hash" => redis.cli(&["HGETALL", key]),
            "string" => redis.cli(&["GET", key]),
            other => panic!("unexpected key type {other} for {key}"),
        }
        .unwrap();
        let _ = writeln!(dump, "{key} {value}");
    }
    dump
}

#[test]
#[expect(
    clippy::too_many_lines,
    reason = "a scenario reads top to bottom, one step after the other"
)]
fn an_address_leaves_every_store_in_every_spelling_and_the_rest_stays() {
    let redis = RedisServer::start();
    let site = Site::new(&format!(
        "site_name = \"Acme\"\n[events]\nstore = \"{}\"\n[alerts]\nmax_emails_per_hour = 2\n",
        redis.url()
    ));
    let target = "203.0.113.7";
    let mut log = vec![
        req(target, "/pricing", "https://www.linkedin.com/", SAFARI, 30),
        req(target, "/", "-", SAFARI, 29),
        req(
            "198.51.100.1",
            "/pricing",
            "http://203.0.113.7/admin",
            FIREFOX,
            28,
        ),
    ];
    site.append("access.log", &log);
    for (args, _) in [
        (
            vec!["command", "--user", "u1", "name=x", "ip=203.0.113.7"],
            0,
        ),
        (
            vec!["command", "--user", "u2", "name=x", "ip=::ffff:203.0.113.7"],
            0,
        ),
        (
            vec![
                "error",
                "--user",
                "u3",
                "message=upstream 203.0.113.7 timed out",
            ],
            0,
        ),
        (
            vec!["command", "--user", "u4", "name=x", "ip=198.51.100.1"],
            0,
        ),
        (vec!["registration", "--user", "u5", "ip=198.51.100.2"], 0),
    ] {
        ok(&site, &[&["track"][..], &args].concat());
    }
    ok(&site, &["scan", "--json"]); // message 1: the target and 198.51.100.1
    let more = [req("198.51.100.2", "/trial", "-", SAFARI, 20)];
    site.append("access.log", &more);
    log.extend(more.iter().cloned());
    ok(&site, &["scan", "--json"]); // message 2: 198.51.100.2
    let more = [
        req("::ffff:203.0.113.7", "/trial", "-", SAFARI, 10),
        req("2001:db8::2", "/pricing", "-", FIREFOX, 9),
    ];
    site.append("access.log", &more);
    log.extend(more.iter().cloned());
    let third = ok(&site, &["scan", "--json"]);
    assert_eq!(third["delivery"]["outcome"], "rate_limited", "{third:#}");
    assert_eq!(
        third["pending"], 2,
        "the target's escalation and 2001:db8::2"
    );

    let before = common::files_under(&site.data);
    let before_redis = redis_dump(&redis);
    assert!(
        before
            .values()
            .any(|b| names_the_v4_address(&String::from_utf8_lossy(b)))
    );
    assert!(names_the_v4_address(&before_redis));

    // Right of access: everything held, store by store; nothing changes.
    let access = ok(&site, &["purge-ip", target, "--dry-run", "--json"]);
    assert_eq!(
        access["visits"]["records"], 3,
        "two visits, one mention: {access:#}"
    );
    assert_eq!(access["visits"]["found"].as_array().unwrap().len(), 3);
    assert_eq!(access["events"]["records"], 3);
    assert_eq!(
        access["state"]["records"], 4,
        "one pending alert, one ledger entry, one lead watched for its outcome, one line of the \
         sent-alerts history"
    );
    assert_eq!(access["outbox"]["records"], 1);
    assert!(access["rollups"]["records"].as_u64().unwrap() > 0);
    assert_eq!(
        common::files_under(&site.data),
        before,
        "a dry run changes nothing"
    );
    assert_eq!(redis_dump(&redis), before_redis);

    let purged = ok(&site, &["purge-ip", "::ffff:203.0.113.7", "--json"]);
    assert_eq!(
        purged["target"], target,
        "the mapped spelling is the same address"
    );
    assert_eq!(purged["events"]["records"], 3);

    for (path, bytes) in common::files_under(&site.data) {
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !names_the_v4_address(&text),
            "{} still names it:\n{text}",
            path.display()
        );
    }
    let after_redis = redis_dump(&redis);
    assert!(!names_the_v4_address(&after_redis), "{after_redis}");

    // Everyone else is unchanged: visits, events, the projection, pending and ledger entries,
    // and the visitor keys of a clean pass over the log without the address.
    let others: Vec<String> = log
        .iter()
        .filter(|l| !l.starts_with(target) && !l.starts_with("::ffff:"))
        .cloned()
        .collect();
    let visits = site.visits();
    assert_eq!(visits.len(), 3, "{visits:#?}");
    assert!(visits.iter().all(|v| !v.contains(" 203.0.113.7 ")));
    assert_eq!(
        redis.cli(&["XLEN", "arkwatch:events"]).as_deref(),
        Some("2")
    );
    let users_before = before_redis
        .lines()
        .find(|l| l.starts_with("arkwatch:users "))
        .unwrap()
        .to_string();
    assert!(
        after_redis.contains(&users_before),
        "the projection is untouched"
    );
    let state: Value =
        serde_json::from_slice(&std::fs::read(site.data.join("state.json")).unwrap()).unwrap();
    let pending: Vec<&str> = state["alerts"]["queues"]["email"]["pending"]["leads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["journey"]["ip"].as_str().unwrap())
        .collect();
    assert_eq!(pending, ["2001:db8::2"]);
    assert_eq!(
        state["alerts"]["ledger"]["leads"]
            .as_object()
            .unwrap()
            .len(),
        3
    );

    let clean = Site::new("");
    clean.append("access.log", &others);
    clean.ingest();
    let (mine, theirs) = (site.rollups(), clean.rollups());
    for (day, rollup) in &theirs {
        assert_eq!(mine[day].visitors, rollup.visitors, "visitor keys of {day}");
        for (tier, t) in &rollup.tiers {
            assert_eq!(
                mine[day].tiers[tier].visitors, t.visitors,
                "{tier} keys of {day}"
            );
        }
    }

    // The audit log: when, what, how many, and the address only as a hash.
    let audit = std::fs::read_to_string(site.data.join("audit.log")).unwrap();
    let done: Value = serde_json::from_str(audit.lines().last().unwrap()).unwrap();
    assert_eq!(done["phase"], "done");
    assert_eq!(done["records"]["events"], 3);
    assert_eq!(done["records"]["visits"], 3);

    // A second purge finds nothing; the next scan runs as before.
    let again = ok(&site, &["purge-ip", target, "--json"]);
    for store in ["visits", "events", "state", "outbox", "rollups"] {
        assert_eq!(again[store]["records"], 0, "{store}: {again:#}");
    }
    let next = ok(&site, &["scan", "--json"]);
    assert_eq!(next["ingest"]["lines"], 0, "nothing is read twice");
}

#[test]
fn expanded_and_uppercase_ipv6_spellings_go_too() {
    let site = Site::new("");
    site.append(
        "access.log",
        &[
            req("2001:db8::7", "/pricing", "-", SAFARI, 5),
            req("2001:db8::70", "/pricing", "-", SAFARI, 4),
        ],
    );
    ok(
        &site,
        &[
            "track",
            "command",
            "--user",
            "u1",
            "name=x",
            "ip=2001:0DB8:0000:0000:0000:0000:0000:0007",
        ],
    );
    ok(&site, &["scan", "--json"]);
    let purged = ok(&site, &["purge-ip", "2001:db8:0:0::7", "--json"]);
    assert_eq!(purged["target"], "2001:db8::7");
    assert_eq!(purged["events"]["records"], 1);
    assert_eq!(purged["visits"]["records"], 1);
    let spelled = regex::Regex::new(
        r"(?i)(^|[^0-9a-f:])(2001:db8::7|2001:0db8:0000:0000:0000:0000:0000:0007|2001:db8:0:0:0:0:0:7)([^0-9a-f:]|$)",
    )
    .unwrap();
    for (path, bytes) in common::files_under(&site.data) {
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !spelled.is_match(&text),
            "{} still names it:\n{text}",
            path.display()
        );
    }
    let visits = site.visits();
    assert_eq!(visits.len(), 1);
    assert!(
        visits[0].contains("2001:db8::70"),
        "its neighbour stays: {visits:?}"
    );
}

#[test]
fn bad_targets_are_refused_and_touch_nothing() {
    let site = Site::new("");
    site.append("access.log", &[req("10.1.2.3", "/pricing", "-", SAFARI, 5)]);
    ok(&site, &["scan", "--json"]);
    let before = common::files_under(&site.data);
    for (args, needle) in [
        (vec!["purge-ip", "10.0.0.1/8"], "--force"),
        (vec!["purge-ip", "2001:db8::/32"], "--force"),
        (
            vec!["purge-ip", "not-an-ip"],
            "neither an IP address nor a CIDR",
        ),
        (vec!["purge-ip", "0.0.0.0/0", "--force"], "every address"),
        (vec!["purge-ip", "::/0", "--force"], "every address"),
        (vec!["purge-ip", "10.0.0.300"], "neither"),
    ] {
        let out = run(&site, &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert_eq!(
            common::files_under(&site.data),
            before,
            "{args:?} touched nothing"
        );
    }
    assert!(!site.data.join("audit.log").exists());
    // With --force, a wide network is purged.
    let out = ok(&site, &["purge-ip", "10.0.0.1/8", "--force", "--json"]);
    assert_eq!(out["visits"]["records"], 1);
}

#[test]
#[expect(
    clippy::too_many_lines,
    reason = "a scenario reads top to bottom, one step after the other"
)]
fn sigkill_at_random_moments_then_a_rerun_completes_the_purge() {
    // Enough data that a purge takes a while: 60,000 lines over 6 days, one in eight by the
    // address, each visiting a tracked page.
    let pristine = Site::new("[alerts]\nlead_max_age_hours = 1\n");
    let target = "203.0.113.7";
    let mut lines = Vec::new();
    for i in 0..60_000i64 {
        let ip = if i % 8 == 0 {
            target.to_string()
        } else {
            format!("198.51.{}.{}", (i / 200) % 100, i % 200 + 1)
        };
        let path = ["/pricing", "/trial", "/demo", "/"][usize::try_from(i % 4).unwrap()];
        lines.push(req(
            &ip,
            path,
            "https://www.linkedin.com/",
            SAFARI,
            6 * 24 * 60 - i / 10,
        ));
    }
    pristine.append("access.log", &lines);
    ok(&pristine, &["scan", "--json"]);
    let expected_others: Vec<String> = pristine
        .visits()
        .into_iter()
        .filter(|v| !v.contains(" 203.0.113.7 "))
        .collect();

    // How long one purge takes here, to aim the kills.
    let timing = copy_site(&pristine);
    let t0 = std::time::Instant::now();
    ok(&timing, &["purge-ip", target, "--json"]);
    let took = t0.elapsed();

    let mut rng = common::Rng(0x5eed_1234);
    let mut interrupted = 0;
    // At least 20 rounds with at least 10 kills mid-run: on a loaded machine a purge may run
    // faster than the timing one, so a kill that came too late shortens the next aims.
    let mut took = took;
    let mut round = 0;
    while round < 20 || (interrupted < 10 && round < 60) {
        round += 1;
        let site = copy_site(&pristine);
        let delay = took.mul_f64(rng.below(1000) as f64 / 1000.0);
        let killed = site.run_and_kill(&["purge-ip", target], delay);
        interrupted += u32::from(killed);
        if !killed {
            took = took.mul_f64(0.8);
        }
        // No half-written file: every store file parses.
        for (path, bytes) in common::files_under(&site.data) {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with('.') || name == "arkwatch.lock" || name == "secret.key" {
                continue;
            }
            let text = String::from_utf8(bytes).unwrap();
            if name.ends_with(".jsonl") || name.ends_with(".log") {
                for line in text.lines().filter(|l| !l.trim().is_empty()) {
                    serde_json::from_str::<Value>(line).unwrap_or_else(|e| {
                        panic!(
                            "round {round}: {} has a broken line ({e}): {line}",
                            path.display()
                        )
                    });
                }
            } else if name.ends_with(".json") {
                serde_json::from_str::<Value>(&text).unwrap_or_else(|e| {
                    panic!("round {round}: {} is broken ({e})", path.display())
                });
            }
        }
        ok(&site, &["purge-ip", target, "--json"]);
        for (path, bytes) in common::files_under(&site.data) {
            let text = String::from_utf8_lossy(&bytes);
            assert!(
                !names_the_v4_address(&text),
                "round {round}: {} still names it",
                path.display()
            );
        }
        assert_eq!(
            site.visits(),
            expected_others,
            "round {round}: the others' visits"
        );
        let next = ok(&site, &["ingest-nginx", "--json"]);
        assert_eq!(next["lines"], 0, "round {round}: nothing read twice");
    }
    assert!(
        interrupted >= 10,
        "only {interrupted} of {round} kills landed mid-run"
    );
}

/// A copy of `site`'s config, log and data directory.
fn copy_site(site: &Site) -> Site {
    let copy = Site::new("");
    std::fs::copy(&site.config, &copy.config).unwrap();
    std::fs::copy(&site.log, &copy.log).unwrap();
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", site.data.display()))
        .arg(&copy.data)
        .status()
        .unwrap();
    assert!(status.success());
    copy
}

#[test]
#[expect(
    clippy::too_many_lines,
    reason = "a scenario reads top to bottom, one step after the other"
)]
fn rotated_access_logs_are_blanked_and_no_line_is_read_twice() {
    for crash in [
        None,
        Some("purge:log-before-replace"),
        Some("purge:log-replaced"),
    ] {
        let site = Site::new("");
        let target = "203.0.113.7";
        // The address's line first, so that blanking it changes the file's fingerprint.
        let first = [
            req(target, "/pricing", "-", SAFARI, 300),
            req("198.51.100.1", "/", "-", SAFARI, 299),
            req("198.51.100.2", "/x?from=203.0.113.7", "-", SAFARI, 298),
        ];
        site.append("access.log", &first);
        ok(&site, &["ingest-nginx", "--json"]);
        common::logrotate(&site, false);
        site.append("access.log", &[req(target, "/trial", "-", SAFARI, 200)]);
        ok(&site, &["ingest-nginx", "--json"]);
        common::logrotate(&site, true); // access.log.1 -> .2.gz, access.log -> .1
        site.append(
            "access.log",
            &[
                req(target, "/", "-", SAFARI, 100),
                req("198.51.100.3", "/", "-", SAFARI, 99),
            ],
        );
        let before = ok(&site, &["ingest-nginx", "--json"]);
        assert_eq!(before["lines"], 2);
        let hits_before: u64 = site.rollups().values().map(|r| r.hits).sum();

        let mut cmd = site.command();
        cmd.args(["purge-ip", target, "--include-access-logs", "--json"]);
        if let Some(point) = crash {
            let out = cmd.env("ARKWATCH_CRASH_AT", point).output().unwrap();
            assert!(!out.status.success(), "{point}: the run died");
            // Ingestion between the crash and the rerun reads nothing again.
            let mid = ok(&site, &["ingest-nginx", "--json"]);
            assert_eq!(mid["lines"], 0, "{point}: {mid:#}");
            assert_eq!(mid["malformed"], 0, "{point}");
        } else {
            let out = cmd.output().unwrap();
            common::assert_success(&out);
            let r: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(
                r["access_logs"]["records"], 3,
                "two lines of it, one mention: {r:#}"
            );
            let notes = r["notes"].as_array().unwrap();
            assert!(
                notes
                    .iter()
                    .any(|n| n.as_str().unwrap().contains("live log")),
                "the live log is named: {r:#}"
            );
        }
        ok(
            &site,
            &["purge-ip", target, "--include-access-logs", "--json"],
        );
        for name in ["access.log.1", "access.log.2.gz"] {
            let path = site.path(name);
            let mut text = String::new();
            if name.ends_with(".gz") {
                flate2::read::MultiGzDecoder::new(std::fs::File::open(&path).unwrap())
                    .read_to_string(&mut text)
                    .unwrap();
            } else {
                text = std::fs::read_to_string(&path).unwrap();
            }
            assert!(!names_the_v4_address(&text), "{crash:?}: {name}:\n{text}");
            if name.ends_with(".gz") {
                assert!(text.contains("198.51.100.1"), "others' lines stay: {text}");
            }
        }
        assert!(
            names_the_v4_address(&std::fs::read_to_string(&site.log).unwrap()),
            "the live log is never rewritten"
        );
        let after = ok(&site, &["ingest-nginx", "--json"]);
        assert_eq!(
            after["lines"], 0,
            "{crash:?}: no line read twice: {after:#}"
        );
        let hits_after: u64 = site.rollups().values().map(|r| r.hits).sum();
        assert_eq!(
            hits_after, hits_before,
            "{crash:?}: traffic counts unchanged"
        );
    }
}

#[test]
fn the_geo_cache_of_an_address_goes_with_it() {
    let target = "203.0.113.7";
    let dns = common::geo::Dnsmasq::start(&[
        (target, "203-0-113-7.dsl.example.net"),
        ("198.51.100.1", "mail.acme-corp.com"),
    ]);
    let site = Site::new(&format!(
        "[geo]\nasn_db = \"asn.mmdb\"\nreverse_dns = true\nnameserver = \"127.0.0.1:{}\"\n",
        dns.port
    ));
    common::geo::asn_db(
        &site.dir.path().join("asn.mmdb"),
        &[
            ("203.0.113.0/24", 64505, "Example Telecom"),
            ("198.51.100.0/24", 64500, "ACME-NET"),
        ],
    );
    site.append(
        "access.log",
        &[
            req(target, "/pricing", "-", SAFARI, 5),
            req("198.51.100.1", "/pricing", "-", FIREFOX, 4),
        ],
    );
    let scan = ok(&site, &["scan", "--json"]);
    assert_eq!(scan["leads"].as_array().unwrap().len(), 2, "{scan:#}");
    let cache = || std::fs::read_to_string(site.data.join("geo-cache.json")).unwrap();
    let cached = cache();
    assert!(
        cached.contains(target) && cached.contains("203-0-113-7.dsl.example.net"),
        "{cached}"
    );

    let access = ok(&site, &["purge-ip", target, "--dry-run", "--json"]);
    assert!(
        access["state"]["found"].to_string().contains("geo_cache"),
        "the right of access shows the cached enrichment: {access:#}"
    );
    ok(&site, &["purge-ip", target, "--json"]);
    for (path, bytes) in common::files_under(&site.data) {
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !names_the_v4_address(&text) && !text.contains("203-0-113-7"),
            "{} still names it:\n{text}",
            path.display()
        );
    }
    let cached = cache();
    assert!(
        cached.contains("mail.acme-corp.com"),
        "the other lead's stays: {cached}"
    );
}
