//! Trust at the edges, part one: values, pipes, odd files, periods, errors and text. Each test
//! is named after what broke (issue "hardening", items A, D and E), and drives the real binary.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use common::Site;
use common::redis::RedisServer;
use serde_json::Value;

const SAFARI: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15";

fn run(site: &Site, args: &[&str]) -> std::process::Output {
    site.command().args(args).output().unwrap()
}

fn ok(site: &Site, args: &[&str]) -> Value {
    let out = run(site, args);
    common::assert_success(&out);
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

fn no_panic(out: &std::process::Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("panicked") && !matches!(out.status.code(), Some(101 | 134) | None),
        "a panic ({:?}): {stderr}",
        out.status
    );
}

fn req(ip: &str, path: &str, ua: &str, mins_ago: i64) -> String {
    let t = Utc::now() - chrono::Duration::minutes(mins_ago);
    format!(
        "{ip} - - [{}] \"GET {path} HTTP/1.1\" 200 512 \"-\" \"{ua}\"",
        t.format("%d/%b/%Y:%H:%M:%S +0000")
    )
}

// A1. One bad value must never stop the pipeline.

/// `mrr=79228162514264337593543950335` twice made every later fold (and so every scan, and
/// every hot-lead alert) panic with "Addition overflowed"; `mrr=7e27` folded, then metrics and
/// report panicked on ARR.
#[test]
fn an_amount_too_large_is_a_malformed_event_and_alerting_goes_on() {
    let site = Site::new("");
    for mrr in [
        "79228162514264337593543950335",
        "7000000000000000000000000000",
    ] {
        let out = run(
            &site,
            &[
                "track",
                "conversion",
                "--user",
                "a",
                "plan=pro",
                &format!("mrr={mrr}"),
            ],
        );
        assert_eq!(out.status.code(), Some(1), "refused at the door");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("largest amount"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // A producer that writes straight into the store is not checked at the door.
    let line = |n: u32, mrr: &str| {
        format!(
            "{{\"id\":\"17000000000{n:02}-0\",\"type\":\"conversion\",\"user\":\"a\",\"plan\":\"pro\",\"mrr\":\"{mrr}\"}}\n"
        )
    };
    let events = [
        line(1, "79228162514264337593543950335"),
        line(2, "79228162514264337593543950335"),
        line(3, "7000000000000000000000000000"),
        line(4, "-5"),
        line(5, "0.12345678901234567890123456789"),
        line(6, "29.00"),
    ]
    .concat();
    std::fs::write(site.data.join("events.jsonl"), events).unwrap();
    site.append("access.log", &[req("203.0.113.9", "/pricing", SAFARI, 5)]);
    let scan = ok(&site, &["scan", "--json"]);
    assert_eq!(scan["fold"]["malformed"], 5, "{scan:#}");
    assert_eq!(scan["fold"]["events"], 6);
    assert_eq!(
        scan["leads"].as_array().unwrap().len(),
        1,
        "leads still go out"
    );
    let m = ok(
        &site,
        &[
            "metrics",
            "all",
            "--json",
            "--since",
            "2023-11-01",
            "--until",
            "2023-11-30",
        ],
    );
    assert_eq!(m["revenue"]["mrr"], 29.0, "{m:#}");
    let report = run(&site, &["report", "monthly"]);
    no_panic(&report);
    common::assert_success(&report);
}

/// `arkwatch --config bad.toml status 2>&1 | head -c 10` aborted with 134: `eprintln!` panics on
/// a closed pipe, and the release build aborts on a panic.
#[test]
fn a_closed_stdout_or_stderr_gives_the_documented_status_not_134() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "data_dir = [\n").unwrap();
    for args in [&["status"][..], &["metrics", "--json"]] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let status = Command::new(common::BIN)
            .arg("--config")
            .arg(&bad)
            .args(args)
            .stdout(writer.try_clone().unwrap())
            .stderr(writer)
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(78), "{args:?}: {status:?}");
    }
    // A good config and a long output into a closed pipe: status still exits with its code.
    let site = Site::new("");
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let status = site
        .command()
        .args(["status", "--offline"])
        .stdout(writer.try_clone().unwrap())
        .stderr(writer)
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(1), "no scan yet: needs attention");
}

/// A configured log that is a FIFO (or `/dev/zero`) hung `scan` for ever while it held the lock.
#[test]
fn a_log_that_is_a_fifo_or_a_device_is_refused_and_the_others_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let fifo = logs.join("fifo.log");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    std::fs::write(
        logs.join("access.log"),
        req("203.0.113.1", "/", SAFARI, 1) + "\n",
    )
    .unwrap();
    let config = dir.path().join("arkwatch.toml");
    std::fs::write(
        &config,
        "data_dir = \"data\"\n[[access_log]]\npath = \"logs/fifo.log\"\n[[access_log]]\npath = \"/dev/zero\"\n[[access_log]]\npath = \"logs/access.log\"\n",
    )
    .unwrap();
    let mut child = Command::new(common::BIN)
        .arg("--config")
        .arg(&config)
        .args(["scan", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(20) {
            child.kill().unwrap();
            panic!("scan hangs on a FIFO");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "done with part failed");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["ingest"]["lines"], 1,
        "the regular log was read: {report:#}"
    );
    let errors = report["errors"].to_string();
    assert!(
        errors.contains("fifo.log")
            && errors.contains("/dev/zero")
            && errors.contains("not a regular file"),
        "{errors}"
    );
}

/// `metrics --since 0001-01-01 --until 9999-12-31 --json` took 26 s and 7.7 GB; a reversed
/// range was swapped silently.
#[test]
fn a_period_is_bounded_and_a_reversed_range_is_an_error() {
    let site = Site::new("");
    for (args, says) in [
        (
            &["--since", "0001-01-01", "--until", "9999-12-31"][..],
            "outside",
        ),
        (
            &["--since", "1971-01-01", "--until", "9999-12-31"],
            "at most 3660",
        ),
        (
            &["--since", "2026-11-30", "--until", "2026-11-01"],
            "before it begins",
        ),
    ] {
        let started = Instant::now();
        let out = site
            .command()
            .args(["metrics", "--json"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{args:?}: it costs the calendar"
        );
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(says),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(
        !site.data.join("state.json").exists(),
        "a bad period touches nothing"
    );
}

// D13. Errors a person can trust.

/// A wrong Redis password exited 75 ("temporarily down, nothing lost"), so cron retried for
/// ever in silence; a wrong SMTP password exited 1.
#[test]
fn a_wrong_redis_password_is_a_permanent_error_with_a_hint_and_track_says_not_recorded() {
    let mut redis = RedisServer::start();
    redis.cli(&["CONFIG", "SET", "requirepass", "right-one"]);
    let site = Site::new(&format!(
        "[events]\nstore = \"redis://:wrong-one@127.0.0.1:{}/0\"\n",
        redis.port
    ));
    let out = run(&site, &["track", "registration", "--user", "1"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(77), "{stderr}");
    assert!(
        stderr.contains("was not recorded") && stderr.contains("refused the credentials"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("wrong-one"),
        "never the password: {stderr}"
    );
    let out = run(&site, &["fold-events"]);
    assert_eq!(out.status.code(), Some(77));
    // Down: temporary, and track says the event is not recorded.
    redis.stop();
    let out = run(&site, &["track", "registration", "--user", "1"]);
    assert_eq!(out.status.code(), Some(75));
    assert!(String::from_utf8_lossy(&out.stderr).contains("the event was not recorded"));
}

/// A self-signed certificate was reported as a raw rustls error; it is said once, in words.
#[test]
fn a_self_signed_redis_certificate_is_said_in_words() {
    let redis = RedisServer::start_tls();
    let site = Site::new(&format!(
        "[events]\nstore = \"rediss://127.0.0.1:{}/0\"\n",
        redis.port
    ));
    let out = run(&site, &["fold-events"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(77), "{stderr}");
    assert!(stderr.contains("self-signed certificate?"), "{stderr}");
    assert_eq!(
        stderr.matches("self-signed").count(),
        1,
        "said once: {stderr}"
    );
    assert!(
        !stderr.contains("OtherError") && !stderr.contains("invalid peer"),
        "in words: {stderr}"
    );
}

/// A server that accepts the connection and never answers gave `os error 11`.
#[test]
fn a_redis_that_never_answers_times_out_in_words() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let _hold = std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().flatten() {
            held.push(conn);
        }
    });
    let site = Site::new(&format!(
        "[events]\nstore = \"redis://127.0.0.1:{port}/0\"\n"
    ));
    let out = run(&site, &["fold-events"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(75), "{stderr}");
    assert!(
        stderr.contains("timed out after 5 s") && !stderr.contains("os error"),
        "{stderr}"
    );
}

// D14. Control characters from visitors never reach a terminal raw; CSV is formula-safe.

#[test]
fn control_characters_are_escaped_in_tables_and_csv_cells_cannot_be_formulas() {
    let site = Site::new("");
    site.append(
        "access.log",
        &[
            req("203.0.113.1", "/%1b%5b2J%1b%5b31mPWNED", SAFARI, 5),
            req("203.0.113.2", "/=cmd|'%20/C%20calc'!A0", SAFARI, 4),
        ],
    );
    let table = run(&site, &["metrics", "traffic", "--days", "1"]);
    common::assert_success(&table);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        !table.stdout.contains(&0x1b),
        "an escape byte reached the terminal: {text}"
    );
    assert!(text.contains("\\u{1b}[2J"), "{text}");
    let csv = run(&site, &["metrics", "traffic", "--days", "1", "--csv"]);
    let text = String::from_utf8_lossy(&csv.stdout);
    assert!(!csv.stdout.contains(&0x1b), "{text}");
    for line in text.lines() {
        for cell in line.split(',') {
            let cell = cell.trim_matches('"');
            assert!(
                !(cell.starts_with(['=', '+', '@'])
                    || cell.starts_with('-') && cell.parse::<f64>().is_err()),
                "a formula cell: {line}"
            );
        }
    }
    assert!(text.contains("\\u{1b}[2J"), "{text}");
}

// E16. `format = "common"` recorded no visit at all: lines without a User-Agent were bots.

#[test]
fn the_common_format_records_visits_and_counts_no_bot_by_user_agent() {
    let site = Site::new("[pages]\n\"/blog\" = \"hot\"\n\"/projects\" = \"warm\"\n");
    let real = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/real-logs/elastic_apache_logs.log");
    let Ok(text) = std::fs::read_to_string(&real) else {
        eprintln!(
            "NOT RUN on real data: {} is absent; the fixture runs instead",
            real.display()
        );
        let fixture =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/logs/common.log");
        std::fs::copy(fixture, &site.log).unwrap();
        common_config(&site);
        let s = site.ingest();
        assert_eq!(s["bots"], 0, "{s:#}");
        return;
    };
    // The real lines cut to the common format: everything after the byte count goes.
    let mut expected = 0;
    let mut lines = Vec::new();
    for line in text.lines() {
        let Some(end) = line.find("\" ").and_then(|q| {
            let after = &line[q + 2..];
            let mut parts = after.splitn(3, ' ');
            let status = parts.next()?;
            let bytes = parts.next()?;
            Some(q + 2 + status.len() + 1 + bytes.len())
        }) else {
            continue;
        };
        let common = &line[..end];
        let fields: Vec<&str> = common.split(' ').collect();
        let (method, path, status) = (fields[5].trim_start_matches('"'), fields[6], fields[8]);
        let path = path.split('?').next().unwrap();
        let last = path.rsplit('/').next().unwrap();
        let asset = last.rsplit_once('.').is_some_and(|(_, ext)| {
            arkwatch::config::DEFAULT_STATIC_EXTENSIONS
                .iter()
                .any(|e| e.eq_ignore_ascii_case(ext))
        });
        let tracked = ["/blog", "/projects"]
            .iter()
            .any(|p| path == *p || path.starts_with(&format!("{p}/")));
        if method == "GET"
            && (status.starts_with('2') || status.starts_with('3'))
            && tracked
            && !asset
        {
            expected += 1;
        }
        lines.push(common.to_string());
    }
    site.append("access.log", &lines);
    common_config(&site);
    let s = site.ingest();
    assert_eq!(
        s["bots"], 0,
        "no User-Agent field: no bot by User-Agent: {s:#}"
    );
    assert_eq!(s["visits_recorded"], expected, "{s:#}");
    assert!(
        expected > 500,
        "the real log has many /blog and /projects pageviews"
    );
}

fn common_config(site: &Site) {
    let text = std::fs::read_to_string(&site.config).unwrap();
    std::fs::write(
        &site.config,
        text.replace(
            "path = \"logs/access.log\"\n",
            "path = \"logs/access.log\"\nformat = \"common\"\n",
        ),
    )
    .unwrap();
}

// E17. The demo alert said "visits in the last 7 days: 0" above the visits it listed.

#[test]
fn the_demo_journey_counts_the_visits_it_lists() {
    let dir = tempfile::tempdir().unwrap();
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo");
    std::fs::copy(src.join("access.log"), dir.path().join("access.log")).unwrap();
    let config = std::fs::read_to_string(src.join("arkwatch.toml"))
        .unwrap()
        .replace("../../target/arkwatch-demo", "data");
    std::fs::write(dir.path().join("arkwatch.toml"), config).unwrap();
    let out = Command::new(common::BIN)
        .arg("--config")
        .arg(dir.path().join("arkwatch.toml"))
        .args(["scan", "--dry-run", "--json"])
        .output()
        .unwrap();
    common::assert_success(&out);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = report["delivery"]["text"].as_str().unwrap();
    assert!(!text.contains("visits in the last 7 days: 0"), "{text}");
}

// E18. The scan summary said "0 hot leads and 0 alerts raised" and then sent 3 pending leads.

#[test]
fn the_scan_summary_says_raised_sent_and_pending_apart() {
    let site = Site::new("[alerts]\nmax_emails_per_hour = 1\n");
    site.append("access.log", &[req("203.0.113.1", "/pricing", SAFARI, 5)]);
    let first = run(&site, &["scan"]);
    let text = String::from_utf8_lossy(&first.stdout);
    assert!(
        text.contains(
            "raised 1 lead and 0 alerts; sent 1 lead and 0 alerts in 1 message; 0 pending"
        ),
        "{text}"
    );
    site.append(
        "access.log",
        &[
            req("203.0.113.2", "/pricing", SAFARI, 4),
            req("203.0.113.3", "/trial", SAFARI, 3),
        ],
    );
    let second = run(&site, &["scan"]);
    let text = String::from_utf8_lossy(&second.stdout);
    assert!(
        text.contains("raised 2 leads and 0 alerts; 2 pending"),
        "held by the hourly limit: {text}"
    );
    assert!(
        !text.contains(" 1 leads") && !text.contains(" 1 alerts") && !text.contains("1 calls"),
        "{text}"
    );
}

// E19. Status said untrue things.

#[test]
fn status_says_the_true_thing_about_a_missing_events_file_a_queued_alert_and_a_broken_archive() {
    let site = Site::new("[alerts]\nmax_emails_per_hour = 1\n");
    site.append("access.log", &[req("203.0.113.1", "/pricing", SAFARI, 5)]);
    let status: Value = serde_json::from_slice(&run(&site, &["status", "--json"]).stdout).unwrap();
    let store = status["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "event store")
        .unwrap()
        .clone();
    assert!(
        store["detail"].as_str().unwrap().contains("does not exist"),
        "{store}"
    );
    // A lead from a visit three hours old, queued now behind the hourly limit: not "stuck".
    let site = Site::new("[alerts]\nmax_emails_per_hour = 1\n");
    site.append("access.log", &[req("203.0.113.7", "/pricing", SAFARI, 1)]);
    ok(&site, &["scan", "--json"]);
    site.append("access.log", &[req("203.0.113.8", "/pricing", SAFARI, 180)]);
    ok(&site, &["scan", "--json"]);
    let status: Value =
        serde_json::from_slice(&run(&site, &["status", "--json", "--offline"]).stdout).unwrap();
    let pending = status["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "pending alerts")
        .unwrap()
        .clone();
    assert_eq!(
        pending["ok"], true,
        "counted from when it was queued: {pending}"
    );
    // A corrupt rotated archive is named as what it is.
    std::fs::write(
        site.path("access.log.2.gz"),
        b"\x1f\x8b\x08\x00garbagegarbagegarbage",
    )
    .unwrap();
    let out = run(&site, &["status", "--offline"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("access.log.2.gz") && text.contains("a rotated file of"),
        "{text}"
    );
}

// E20. With other `[pages]`, `metrics` still printed `/pricing visitors ÷ visitors` and the
// report `Warm leads, /demo only`.

#[test]
fn labels_follow_the_configured_pages_in_metrics_and_the_report() {
    let site =
        Site::new("[pages]\n\"/tour\" = \"warm\"\n\"/plans\" = \"hot\"\n\"/buy\" = \"very_hot\"\n");
    site.append(
        "access.log",
        &[
            req("203.0.113.8", "/tour", SAFARI, 30),
            req("203.0.113.8", "/plans", SAFARI, 20),
            req("203.0.113.8", "/buy", SAFARI, 10),
        ],
    );
    let out = run(&site, &["metrics", "funnel"]);
    common::assert_success(&out);
    let table = String::from_utf8_lossy(&out.stdout);
    for page in ["/tour", "/plans", "/buy"] {
        assert!(table.contains(page), "{page} in {table}");
    }
    assert!(
        !table.contains("/pricing") && !table.contains("/demo"),
        "{table}"
    );
    let json = ok(&site, &["metrics", "all", "--json"]);
    let text = json.to_string();
    assert!(
        !text.contains("/pricing") && !text.contains("/trial"),
        "{text}"
    );
    let out = run(
        &site,
        &[
            "report",
            "daily",
            "--date",
            &(Utc::now().date_naive() + chrono::Duration::days(1)).to_string(),
        ],
    );
    common::assert_success(&out);
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.contains("/tour only") && !md.contains("/demo"), "{md}");
}

// E21. Two spellings of one prefix, and a bad store URL, are config errors at load time.

#[test]
fn a_doubled_page_prefix_and_a_bad_store_url_are_config_errors_naming_the_key() {
    for extra in [
        "[pages]\n\"/pricing\" = \"hot\"\n\"/pricing/\" = \"very_hot\"\n",
        "[events]\nstore = \"redis://127.0.0.1:notaport/0\"\n",
    ] {
        let site = Site::new(extra);
        let out = run(&site, &["status", "--offline"]);
        assert_eq!(out.status.code(), Some(78), "{extra}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("arkwatch.toml")
                && (stderr.contains("pages") || stderr.contains("events.store")),
            "{stderr}"
        );
    }
}

// E22. `track` accepted unknown fields, and an unknown type created a counted user.

#[test]
fn track_refuses_unknown_fields() {
    let site = Site::new("");
    let out = run(&site, &["track", "registration", "--user", "1", "plam=pro"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown field \"plam\""));
    let file = site.dir.path().join("e.jsonl");
    std::fs::write(
        &file,
        "{\"type\":\"registration\",\"user\":\"1\",\"colour\":\"red\"}\n",
    )
    .unwrap();
    let out = site
        .command()
        .args(["track", "--from-file"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(!site.data.join("events.jsonl").exists(), "nothing imported");
}

// E23. Report polish.

#[test]
fn the_report_shows_times_in_the_zone_collapses_repeats_and_names_one_day() {
    // APT is no browser, and forty asset-less requests of one client are what the behaviour
    // layer catches; this test is about the report's text, so both layers are off.
    let site = Site::new(
        "timezone = \"Asia/Tokyo\"\n[pages]\n\"/downloads\" = \"hot\"\n\"/tour\" = \"warm\"\n\
         [filters]\nnot_a_browser = false\n[filters.behaviour]\npages_without_assets = 0\n",
    );
    let yesterday = Utc::now()
        .with_timezone(&chrono_tz::Asia::Tokyo)
        .date_naive()
        - chrono::Duration::days(1);
    let at = |h: u32, m: u32| {
        yesterday
            .and_hms_opt(h, m, 0)
            .unwrap()
            .and_local_timezone(chrono_tz::Asia::Tokyo)
            .unwrap()
            .format("%d/%b/%Y:%H:%M:%S %z")
            .to_string()
    };
    let mut lines = Vec::new();
    for i in 0..40 {
        lines.push(format!(
            "203.0.113.5 - - [{}] \"GET /downloads HTTP/1.1\" 200 9 \"-\" \"APT-HTTP/1.3 (2.6.1)\"",
            at(10, i / 2)
        ));
    }
    lines.push(format!(
        "203.0.113.6 - - [{}] \"GET /tour HTTP/1.1\" 200 9 \"-\" \"{SAFARI}\"",
        at(11, 0)
    ));
    site.append("access.log", &lines);
    let out = run(&site, &["report", "daily"]);
    common::assert_success(&out);
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(
        md.contains(&format!(
            "{yesterday}, compared with {}",
            yesterday - chrono::Duration::days(1)
        )),
        "one day: {md}"
    );
    assert!(md.contains("×40"), "repeated hits collapse: {md}");
    assert!(md.matches("`/downloads`").count() < 5, "{md}");
    assert!(
        md.contains("APT-HTTP/1.3") && !md.contains("APT-hxxp"),
        "{md}"
    );
    assert!(md.contains("Warm leads, /tour only"), "{md}");
    assert!(md.contains("10:00"), "times in Tokyo: {md}");
    assert!(md.contains("times in Asia/Tokyo"), "{md}");
}

// E24. `rotate --dry-run` said 0 archives to delete, then the run deleted 19; shown paths held
// `fixtures/demo/../../target`.

#[test]
fn rotate_dry_run_says_what_the_run_does_and_paths_are_normalised() {
    let site = Site::new("[retention]\nmax_age_days = 10\narchive_days = 30\n");
    let mut lines = Vec::new();
    for days_ago in [60, 50, 40, 2] {
        lines.push(req("203.0.113.1", "/pricing", SAFARI, days_ago * 24 * 60));
    }
    site.append("access.log", &lines);
    ok(&site, &["ingest-nginx", "--json"]);
    let dry = ok(&site, &["rotate", "--dry-run", "--json"]);
    let real = ok(&site, &["rotate", "--json"]);
    assert_eq!(
        dry["visits"], real["visits"],
        "the dry run says what the run did"
    );
    assert!(
        real["visits"]["archives_deleted"].as_u64().unwrap() >= 3,
        "{real:#}"
    );
    let status: Value =
        serde_json::from_slice(&run(&site, &["status", "--json", "--offline"]).stdout).unwrap();
    assert!(
        !status["data_dir"].as_str().unwrap().contains(".."),
        "{status:#}"
    );
    let _ = std::io::stdout().flush();
}
