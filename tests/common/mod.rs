//! Shared harness for the integration tests: a temporary site (config, log directory, data
//! directory) driven through the real `arkwatch` binary.

#![allow(dead_code)] // each test binary uses a different part of it

pub mod geo;
pub mod http;
pub mod redis;
pub mod smtp;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use arkwatch::rollup::traffic::{self, TrafficDay};
use arkwatch::state::StateLock;
use arkwatch::visits;
use chrono::NaiveDate;
use tempfile::TempDir;

pub const BIN: &str = env!("CARGO_BIN_EXE_arkwatch");
/// Every site in a test shares this secret, so visitor keys of two sites can be compared.
pub const KEY: &str = "000102030405060708090a0b0c0d0e0f";

pub struct Site {
    pub dir: TempDir,
    pub config: PathBuf,
    pub log: PathBuf,
    pub data: PathBuf,
}

impl Site {
    /// A site whose one access log is `logs/access.log`; `extra` is appended to the config.
    pub fn new(extra: &str) -> Site {
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("logs");
        std::fs::create_dir(&logs).unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        std::fs::write(data.join("secret.key"), format!("{KEY}\n")).unwrap();
        let log = logs.join("access.log");
        let config = dir.path().join("arkwatch.toml");
        let tz = if extra.contains("timezone") {
            ""
        } else {
            "timezone = \"UTC\"\n"
        };
        std::fs::write(
            &config,
            format!(
                "data_dir = \"data\"\nsite_hosts = [\"acme.example\"]\n{tz}{extra}\n\
                 [[access_log]]\npath = \"logs/access.log\"\n"
            ),
        )
        .unwrap();
        Site {
            dir,
            config,
            log,
            data,
        }
    }

    pub fn command(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(BIN);
        cmd.arg("--config").arg(&self.config);
        cmd.env_remove("ARKWATCH_CONFIG")
            .env_remove("ARKWATCH_DATA_DIR");
        cmd
    }

    /// Runs `ingest-nginx --json` and returns the summary; fails the test on a non-zero exit.
    pub fn ingest(&self) -> serde_json::Value {
        let out = self
            .command()
            .args(["ingest-nginx", "--json"])
            .output()
            .unwrap();
        assert_success(&out);
        serde_json::from_slice(&out.stdout).unwrap()
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.log.parent().unwrap().join(name)
    }

    pub fn append(&self, name: &str, lines: &[String]) {
        append(&self.path(name), lines);
    }

    /// The committed rollups, read through the library under the state lock.
    pub fn rollups(&self) -> BTreeMap<NaiveDate, TrafficDay> {
        let lock = StateLock::acquire(&self.data, Duration::from_secs(30)).unwrap();
        let state = lock.load().unwrap();
        traffic::load_all(&self.data, &state.traffic).unwrap()
    }

    /// Every committed visit, without where it was read from (rotation changes that), sorted.
    pub fn visits(&self) -> Vec<String> {
        let lock = StateLock::acquire(&self.data, Duration::from_secs(30)).unwrap();
        let state = lock.load().unwrap();
        let mut all = Vec::new();
        for day in state.visits.keys() {
            for v in visits::read_day(&self.data, &state.visits, *day).unwrap() {
                all.push(format!(
                    "{day} {} {} {} {} {:?} {:?}",
                    v.time, v.ip, v.path, v.tier, v.user_agent, v.query
                ));
            }
        }
        all.sort();
        all
    }

    /// Asserts that this site's rollups and visits equal one clean pass over `lines`.
    pub fn assert_same_as_clean_pass(&self, lines: &[String]) {
        let clean = Site::new("");
        std::fs::copy(&self.config, &clean.config).unwrap();
        clean.append("access.log", lines);
        let summary = clean.ingest();
        assert_eq!(
            summary["lines"],
            lines.len() as u64,
            "the clean pass reads every line"
        );
        let (mine, theirs) = (self.rollups(), clean.rollups());
        assert_eq!(
            mine.keys().collect::<Vec<_>>(),
            theirs.keys().collect::<Vec<_>>(),
            "same days"
        );
        for (day, rollup) in &theirs {
            assert_eq!(
                &mine[day], rollup,
                "rollup of {day} differs from a clean pass"
            );
        }
        assert_eq!(
            self.visits(),
            clean.visits(),
            "visits differ from a clean pass"
        );
        self.assert_verify_matches();
    }

    /// Asserts that `arkwatch verify` finds every day the logs hold counted exactly once:
    /// no day differs, and while every file read is still on disk, every day matches.
    pub fn assert_verify_matches(&self) -> serde_json::Value {
        let out = self.command().args(["verify", "--json"]).output().unwrap();
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        assert!(
            out.status.success() && report["verdict"] == "match",
            "verify: {report:#}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut days = report["days"].as_array().cloned().unwrap_or_default();
        days.extend(
            report["events"]["days"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
        );
        assert!(!days.is_empty(), "verify compared no day: {report:#}");
        let lost = report["notes"].to_string().contains("no longer on disk");
        for day in &days {
            if lost {
                assert_ne!(day["verdict"], "differs", "{report:#}");
            } else {
                assert_eq!(day["verdict"], "match", "{report:#}");
            }
        }
        report
    }
}

pub fn append(path: &Path, lines: &[String]) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    for line in lines {
        f.write_all(line.as_bytes()).unwrap();
        f.write_all(b"\n").unwrap();
    }
}

pub fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "arkwatch failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

const AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
];
const PATHS: &[&str] = &[
    "/",
    "/pricing",
    "/trial?plan=team",
    "/demo",
    "/features",
    "/assets/app.js",
    "/blog/a%20b",
    "/pricing?utm_source=linkedin",
];

/// Line `i` of a deterministic test log: varied clients, pages, statuses and bots, about 12
/// lines a minute, so a few thousand lines cover several local days.
pub fn line(i: u64) -> String {
    let secs = 1_795_132_800 + i64::try_from(i * 5).unwrap(); // 2026-11-20T00:00:00Z
    let t = chrono::DateTime::from_timestamp(secs, 0).unwrap();
    let ip = if i.is_multiple_of(7) {
        format!("2001:db8::{:x}", i % 500 + 1)
    } else {
        format!("203.0.{}.{}", (i / 250) % 200, i % 250 + 1)
    };
    let status = [200, 200, 200, 304, 404, 200, 301][(i % 7) as usize];
    let method = if i.is_multiple_of(11) { "HEAD" } else { "GET" };
    let referer = [
        "-",
        "https://www.linkedin.com/feed/",
        "https://acme.example/",
        "https://news.ycombinator.com/",
    ][(i % 4) as usize];
    if i % 97 == 13 {
        return format!("garbage line {i} \\x16\\x03");
    }
    format!(
        "{ip} - - [{}] \"{method} {} HTTP/1.1\" {status} {} \"{referer}\" \"{}\"",
        t.format("%d/%b/%Y:%H:%M:%S +0000"),
        PATHS[(i % PATHS.len() as u64) as usize],
        100 + i % 5000,
        AGENTS[(i / 3 % AGENTS.len() as u64) as usize],
    )
}

pub fn lines(range: std::ops::Range<u64>) -> Vec<String> {
    range.map(line).collect()
}

/// gzip `from` into `to` and remove `from`, as logrotate's compress does.
pub fn gzip(from: &Path, to: &Path) {
    let data = std::fs::read(from).unwrap();
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(to).unwrap(),
        flate2::Compression::fast(),
    );
    enc.write_all(&data).unwrap();
    enc.finish().unwrap();
    std::fs::remove_file(from).unwrap();
}

/// What logrotate does to `access.log`: shift `.N[.gz]` to `.N+1[.gz]`, then either compress
/// `.1` into `.2.gz` (`compress`, with delaycompress) or move it to `.2`, then move the live log
/// to `.1`. Nothing is ever overwritten.
pub fn logrotate(site: &Site, compress: bool) {
    let mut n = 1;
    while site.path(&format!("access.log.{n}")).exists()
        || site.path(&format!("access.log.{n}.gz")).exists()
    {
        n += 1;
    }
    for k in (2..n).rev() {
        for ext in ["", ".gz"] {
            let from = site.path(&format!("access.log.{k}{ext}"));
            if from.exists() {
                std::fs::rename(&from, site.path(&format!("access.log.{}{ext}", k + 1))).unwrap();
            }
        }
    }
    let one = site.path("access.log.1");
    if one.exists() {
        if compress {
            gzip(&one, &site.path("access.log.2.gz"));
        } else {
            std::fs::rename(&one, site.path("access.log.2")).unwrap();
        }
    }
    if site.log.exists() {
        std::fs::rename(&site.log, &one).unwrap();
    }
}

/// Every file under `dir` by path, gzip files decompressed, the lock file left out (its holder
/// line changes with each run): what "no file holds X" and "nothing changed" look at.
pub fn files_under(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    use std::io::Read;
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            if p.file_name().is_some_and(|n| n == "arkwatch.lock") {
                continue;
            }
            let mut bytes = std::fs::read(&p).unwrap();
            if p.extension().is_some_and(|x| x == "gz") {
                let mut text = Vec::new();
                flate2::read::MultiGzDecoder::new(&bytes[..])
                    .read_to_end(&mut text)
                    .unwrap();
                bytes = text;
            }
            out.insert(p, bytes);
        }
    }
    out
}

/// xorshift: a seeded, repeatable source of kill moments and block sizes for the crash tests.
pub struct Rng(pub u64);

impl Rng {
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

impl Site {
    /// Starts `arkwatch ARGS…` and SIGKILLs it after `delay`; returns whether it was still
    /// running then (killed mid-run) rather than already finished.
    pub fn run_and_kill(&self, args: &[&str], delay: Duration) -> bool {
        let mut child = self
            .command()
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let interrupted = child.try_wait().unwrap().is_none();
        child.kill().unwrap();
        child.wait().unwrap();
        interrupted
    }

    /// Runs `fold-events --json` and returns the summary; fails the test on a non-zero exit.
    pub fn fold_events(&self) -> serde_json::Value {
        let out = self
            .command()
            .args(["fold-events", "--json"])
            .output()
            .unwrap();
        assert_success(&out);
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

/// Debian's headless Chromium with the flags this machine needs (no background networking,
/// a fresh profile); a missing one fails with how to install it.
pub fn chromium() -> Command {
    assert!(
        Command::new("chromium").arg("--version").output().is_ok(),
        "the browser tests need Debian's chromium (apt-get install chromium)"
    );
    let profile = tempfile::tempdir().unwrap().keep();
    let mut c = Command::new("chromium");
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        // Chromium's own clock check (clients2.google.com/time), not the page's.
        "--disable-features=NetworkTimeServiceQuerying",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

/// A PNG of `page` (a file) in headless Chromium at `width`×`height`, written to `shot`; its
/// bytes, checked to be a PNG. The browser failing fails the test with what it printed.
pub fn screenshot(page: &Path, width: u32, height: u32, shot: &Path) -> Vec<u8> {
    let out = chromium()
        .arg(format!("--window-size={width},{height}"))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let png = std::fs::read(shot).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "{}: not a PNG", shot.display());
    png
}

/// `../shared/data/FOLDER` beside the checkout (data written outside this project), when it is
/// there; otherwise says the check did not run.
pub fn shared_data(folder: &str) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data")
        .join(folder);
    if dir.join("SOURCES.md").exists() {
        Some(dir)
    } else {
        eprintln!(
            "check over {folder} NOT RUN: {} is not present",
            dir.display()
        );
        None
    }
}
