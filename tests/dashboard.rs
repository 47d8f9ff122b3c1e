//! The static dashboard, checked in Debian's headless Chromium: its KPIs are the numbers of
//! `metrics --json` for the same period, its `api/*.json` equal `metrics SECTION --json` and
//! `status --json`, the page asks for nothing but itself (served by a real HTTP server on
//! loopback, whose log is read), hostile text is text, and a scan whose dashboard folder
//! cannot be written still sends its alerts and says which folder.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::chromium;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_arkwatch");
/// The fixture week ends 2026-11-07; 30 days to the 10th cover it.
const NOW: &str = "2026-11-10T12:00:00Z";

struct Site {
    _dir: tempfile::TempDir,
    root: PathBuf,
    config: PathBuf,
}

impl Site {
    /// The metrics fixture (tests/metrics.rs computed every number of it by hand).
    fn fixture(extra: &str) -> Site {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/metrics");
        let config = root.join("arkwatch.toml");
        let text = std::fs::read_to_string(fixtures.join("arkwatch.toml")).unwrap();
        std::fs::write(&config, format!("{text}\n{extra}\n")).unwrap();
        std::fs::copy(fixtures.join("access.log"), root.join("access.log")).unwrap();
        std::fs::create_dir(root.join("data")).unwrap();
        std::fs::copy(
            fixtures.join("events.jsonl"),
            root.join("data/events.jsonl"),
        )
        .unwrap();
        Site {
            _dir: dir,
            root,
            config,
        }
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        Command::new(BIN)
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .env("ARKWATCH_NOW", NOW)
            .env_remove("ARKWATCH_DATA_DIR")
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn dashboard(&self) -> PathBuf {
        let out = self.root.join("dash");
        self.ok(&["dashboard", "--days", "30", "--out", out.to_str().unwrap()]);
        out
    }
}

fn dump_dom(url: &str) -> String {
    let out = chromium().args(["--dump-dom", url]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `data-kpi` → `data-value` of every tile in the DOM.
fn tiles(dom: &str) -> Vec<(String, String)> {
    let re = regex::Regex::new(r#"data-kpi="([a-z_]+)" data-value="([^"]*)""#).unwrap();
    re.captures_iter(dom)
        .map(|c| (c[1].to_string(), c[2].to_string()))
        .collect()
}

fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        v => v.to_string(),
    }
}

#[test]
fn the_dashboard_shows_the_numbers_metrics_json_gives_in_chromium() {
    let site = Site::fixture("");
    let dash = site.dashboard();
    let dom = dump_dom(&format!("file://{}", dash.join("index.html").display()));
    let metrics: Value = serde_json::from_str(&site.ok(&[
        "metrics",
        "all",
        "--json",
        "--since",
        "2026-10-12",
        "--until",
        "2026-11-10",
    ]))
    .unwrap();
    let expected = [
        ("users", "/users/total"),
        ("paying_users", "/users/premium"),
        ("mrr", "/revenue/mrr"),
        ("net_new_mrr", "/revenue/net_new_mrr"),
        ("conversion_rate", "/revenue/conversion_rate"),
        ("stickiness", "/users/stickiness"),
        ("error_rate", "/engagement/error_rate"),
        ("api_cost", "/costs/api_cost"),
        ("pageviews", "/traffic/pageviews"),
        ("unique_visitors", "/traffic/unique_visitors"),
    ];
    let shown = tiles(&dom);
    assert_eq!(shown.len(), expected.len() + 1, "{shown:?}");
    for (key, pointer) in expected {
        let want = as_text(metrics.pointer(pointer).unwrap());
        let got = shown
            .iter()
            .find(|(k, _)| k == key)
            .unwrap_or_else(|| panic!("tile {key}"));
        assert_eq!(got.1, want, "{key}");
    }
    // The fixture's numbers, not just equal ones: 7 pageviews, MRR 65 (see tests/metrics.rs).
    assert!(
        shown.contains(&("pageviews".into(), "7".into())),
        "{shown:?}"
    );
    assert!(shown.contains(&("mrr".into(), "65.0".into())), "{shown:?}");
    for chart in [
        "Users and registrations",
        "MRR movements",
        "API cost by provider",
        "Pageviews and visitors",
    ] {
        assert!(dom.contains(chart), "{chart}");
    }
    assert_eq!(dom.matches("<svg").count(), 7, "one chart per figure");
    assert!(
        dom.matches("<table>").count() >= 7,
        "a table beside every chart"
    );
    // The pictures of the README: wide and phone.
    let docs = std::env::var_os("ARKWATCH_DASHBOARD_SHOTS").map(PathBuf::from);
    for (w, h) in [(1440, 900), (390, 844)] {
        let shot = site.root.join(format!("dashboard-{w}.png"));
        let png = common::screenshot(&dash.join("index.html"), w, h, &shot);
        assert!(png.len() > 10_000, "{w}px: {} bytes", png.len());
        if let Some(dir) = &docs {
            std::fs::copy(&shot, dir.join(format!("dashboard-{w}.png"))).unwrap();
        }
    }
}

#[test]
fn the_api_files_equal_metrics_json_and_status_json() {
    let site = Site::fixture("");
    let dash = site.dashboard();
    for section in [
        "users",
        "revenue",
        "engagement",
        "costs",
        "traffic",
        "funnel",
    ] {
        let file: Value = serde_json::from_slice(
            &std::fs::read(dash.join(format!("api/{section}.json"))).unwrap(),
        )
        .unwrap();
        let cli: Value = serde_json::from_str(&site.ok(&[
            "metrics",
            section,
            "--json",
            "--since",
            "2026-10-12",
            "--until",
            "2026-11-10",
        ]))
        .unwrap();
        assert_eq!(file, cli, "api/{section}.json");
    }
    let health: Value =
        serde_json::from_slice(&std::fs::read(dash.join("api/health.json")).unwrap()).unwrap();
    let status = site.run(&["status", "--json"]);
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(health, status, "api/health.json is status --json");
    for name in ["overview", "alerts"] {
        let v: Value =
            serde_json::from_slice(&std::fs::read(dash.join(format!("api/{name}.json"))).unwrap())
                .unwrap();
        assert!(v.is_object(), "{name}");
    }
    let overview: Value =
        serde_json::from_slice(&std::fs::read(dash.join("api/overview.json")).unwrap()).unwrap();
    let per_day = overview["per_day"].as_array().unwrap();
    assert_eq!(per_day.len(), 30);
    // The days add up to the period: the last day's totals are the period's, and its
    // pageviews and registrations are the sum of the days'.
    let section = |name: &str| -> Value {
        serde_json::from_slice(&std::fs::read(dash.join(format!("api/{name}.json"))).unwrap())
            .unwrap()
    };
    let (revenue, users, traffic) = (section("revenue"), section("users"), section("traffic"));
    let last = per_day.last().unwrap();
    let mrr = revenue["revenue"]["mrr"].as_f64().unwrap();
    assert!(
        (last["mrr"].as_f64().unwrap() - mrr).abs() < 0.005,
        "{last} vs MRR {mrr}"
    );
    assert_eq!(last["users"], users["users"]["total"]);
    let sum = |key: &str| {
        per_day
            .iter()
            .map(|d| d[key].as_u64().unwrap())
            .sum::<u64>()
    };
    assert_eq!(
        sum("pageviews"),
        traffic["traffic"]["pageviews"].as_u64().unwrap()
    );
    assert_eq!(
        sum("registrations"),
        users["users"]["new_registrations"].as_u64().unwrap()
    );
    for kind in ["daily", "weekly", "monthly"] {
        let md = std::fs::read_to_string(dash.join(format!("api/report/{kind}.md"))).unwrap();
        assert!(md.starts_with("# Acme"), "{kind}: {md}");
    }
}

/// A tiny HTTP server on a free loopback port that logs every request line on stdout.
fn serve(
    dir: &Path,
) -> (
    std::process::Child,
    u16,
    BufReader<std::process::ChildStdout>,
) {
    let script = r#"
import http.server, socketserver, sys, functools
class H(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        print("GET " + self.path, flush=True)
        return super().do_GET()
h = functools.partial(H, directory=sys.argv[1])
with socketserver.TCPServer(("127.0.0.1", 0), h) as s:
    print(s.server_address[1], flush=True)
    s.serve_forever()
"#;
    let mut child = Command::new("/usr/bin/python3")
        .args(["-c", script])
        .arg(dir)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut port = String::new();
    out.read_line(&mut port).unwrap();
    (child, port.trim().parse().unwrap(), out)
}

#[test]
fn the_page_requests_nothing_but_itself() {
    let site = Site::fixture("");
    let dash = site.dashboard();
    let (mut server, port, mut log) = serve(&dash);
    let netlog = site.root.join("netlog.json");
    let out = chromium()
        .arg(format!("--log-net-log={}", netlog.display()))
        .args(["--dump-dom", &format!("http://127.0.0.1:{port}/index.html")])
        .output()
        .unwrap();
    let _ = server.kill();
    assert!(String::from_utf8_lossy(&out.stdout).contains("data-kpi"));
    let mut requests = Vec::new();
    let mut line = String::new();
    while log.read_line(&mut line).unwrap_or(0) > 0 {
        requests.push(line.trim().to_string());
        line.clear();
    }
    assert_eq!(
        requests,
        ["GET /index.html"],
        "the server saw only the page"
    );
    // And the browser's network log names no other URL, but for Chromium's own services
    // (component updates, network time, accounts), which it asks for whatever it shows; a page
    // that named any host at all is caught below, since it holds no absolute URL.
    let net = std::fs::read_to_string(&netlog).unwrap_or_default();
    let urls = regex::Regex::new(r#""url":"([a-z]+://([^/"]+)[^"]*)""#).unwrap();
    let own = ["google.com", "googleapis.com", "gvt1.com", "gstatic.com"];
    let mut seen = 0;
    for u in urls.captures_iter(&net) {
        let host = &u[2];
        if own
            .iter()
            .any(|o| host == *o || host.ends_with(&format!(".{o}")))
        {
            continue;
        }
        seen += 1;
        let page = format!("http://127.0.0.1:{port}/");
        assert!(
            u[1] == format!("{page}index.html") || u[1] == page,
            "a request for {}",
            &u[1]
        );
    }
    assert!(seen > 0, "the network log holds the page itself");
    let page = std::fs::read_to_string(dash.join("index.html")).unwrap();
    assert!(page.contains("Content-Security-Policy") && page.contains("default-src 'none'"));
    assert!(!page.contains("<script") && !page.contains("http://") && !page.contains("https://"));
}

#[test]
fn hostile_text_is_text_on_the_page_and_in_the_json() {
    let site = Site::fixture("");
    let hostile_ua = "<script>alert(1)</script> Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15";
    let lines = [
        format!(
            r#"203.0.113.66 - - [09/Nov/2026:10:00:00 +0000] "GET /pricing HTTP/1.1" 200 10 "javascript:alert(1)" "{hostile_ua}""#
        ),
        format!(
            r#"203.0.113.66 - - [09/Nov/2026:10:01:00 +0000] "GET /pricing\"><img src=x onerror=alert(2)> HTTP/1.1" 200 10 "https://evil.example/\"><img src=x onerror=alert(3)>" "{hostile_ua}""#
        ),
    ];
    let log = site.root.join("access.log");
    let mut text = std::fs::read_to_string(&log).unwrap();
    for l in &lines {
        text.push_str(l);
        text.push('\n');
    }
    std::fs::write(&log, text).unwrap();
    site.ok(&[
        "track",
        "command",
        "--user",
        "u1",
        "--at",
        "2026-11-09T10:00:00Z",
        "name=<script>alert(4)</script>",
    ]);
    let dash = site.dashboard();
    let dom = dump_dom(&format!("file://{}", dash.join("index.html").display()));
    assert!(!dom.contains("<script"), "no script element");
    assert!(!dom.contains("<img"), "no img element");
    assert!(
        !dom.contains("<a "),
        "no link at all, so none to javascript:"
    );
    assert!(
        dom.contains("&lt;script&gt;") || dom.contains("&lt;img"),
        "the text is shown"
    );
    for f in std::fs::read_dir(dash.join("api")).unwrap() {
        let path = f.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            assert!(v.is_object(), "{}", path.display());
        }
    }
    let traffic = std::fs::read_to_string(dash.join("api/traffic.json")).unwrap();
    assert!(
        traffic.contains("onerror"),
        "the JSON keeps the text as a string"
    );
}

#[test]
fn a_scan_whose_dashboard_folder_cannot_be_written_still_sends_its_alerts() {
    let blocker = "dash-is-a-file";
    let site = Site::fixture(&format!(
        "[alerts]\nlead_max_age_hours = 0\n[dashboard]\nout = \"{blocker}/site\"\n"
    ));
    std::fs::write(site.root.join(blocker), "not a folder").unwrap();
    let out = site.run(&["scan"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("{blocker}/site")),
        "names the folder: {stderr}"
    );
    let outbox: Vec<_> = std::fs::read_dir(site.root.join("data/outbox"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    assert_eq!(outbox.len(), 1, "the leads were sent");
    // With a folder that can be written, the scan builds it and exits 0.
    std::fs::remove_file(site.root.join(blocker)).unwrap();
    let out = site.run(&["scan"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(site.root.join(blocker).join("site/index.html").is_file());
    assert!(
        site.root
            .join(blocker)
            .join("site/api/health.json")
            .is_file()
    );
}
