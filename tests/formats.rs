//! Other servers' formats, on the real logs of `../shared/data/formats/` (written outside this
//! project; the folder sits beside the checkout in CI, elsewhere these tests say they did not
//! run): Apache `LogFormat` strings through `format = "apache:…"`, every field checked on
//! sample lines through the visits they record.

mod common;

use std::path::PathBuf;

use common::Site;
use serde_json::Value;

fn formats() -> Option<PathBuf> {
    common::shared_data("formats")
}

/// Ingests `log` with `format`, every path tracked (so every pageview is a visit to check).
fn visits_of(log: &std::path::Path, format: &str) -> (Value, Vec<Value>) {
    let site = Site::new(
        "[filters]\nexclude_bots = false\n\
         methods = [\"GET\", \"POST\", \"HEAD\", \"CONNECT\"]\n\
         statuses = [\"1xx\", \"2xx\", \"3xx\", \"4xx\", \"5xx\"]\n\
         static_extensions = [\"nothing\"]\n[pages]\n\"/\" = \"warm\"\n",
    );
    let config = std::fs::read_to_string(&site.config).unwrap();
    std::fs::write(
        &site.config,
        config.replace(
            "path = \"logs/access.log\"\n",
            &format!(
                "path = \"logs/access.log\"\nformat = {}\n",
                toml::Value::from(format)
            ),
        ),
    )
    .unwrap();
    std::fs::copy(log, &site.log).unwrap();
    let summary = site.ingest();
    let lock = arkwatch::state::StateLock::acquire_for_reading(
        &site.data,
        std::time::Duration::from_secs(5),
    )
    .unwrap();
    let state = lock.load().unwrap();
    let mut visits = Vec::new();
    for day in state.visits.keys() {
        for v in arkwatch::visits::read_day(&site.data, &state.visits, *day).unwrap() {
            visits.push(serde_json::to_value(&v).unwrap());
        }
    }
    visits.sort_by_key(|v| v["offset"].as_u64());
    (summary, visits)
}

#[test]
fn apache_vhost_combined_parses_with_every_field() {
    let Some(dir) = formats() else { return };
    let log = dir.join("apache__lovecoding1987_sample_logs__other_vhosts_access.log");
    let (s, visits) = visits_of(&log, "apache:vhost_combined");
    assert_eq!(s["lines"], 141, "{s:#}");
    assert_eq!(s["malformed"], 0, "{:#}", s["malformed_samples"]);
    // The first line, field by field:
    // fenix.geolynx.com.ar:443 71.6.232.7 - - [01/Dec/2020:06:41:10 +0000] "GET / HTTP/1.1" 200 4875 "-" "Mozilla/5.0 (Windows NT 10.0; …) Chrome/74.0.3729.131 Safari/537.36"
    let first = &visits[0];
    assert_eq!(first["ip"], "71.6.232.7", "{first}");
    assert_eq!(first["time"], "2020-12-01T06:41:10Z", "{first}");
    assert_eq!(first["path"], "/", "{first}");
    assert!(
        first["user_agent"]
            .as_str()
            .unwrap()
            .contains("Chrome/74.0.3729.131"),
        "{first}"
    );
    assert!(first.get("referrer").is_none_or(Value::is_null), "{first}");
    eprintln!("real-format check ran: apache vhost_combined, 141 lines, 0 malformed");
}

#[test]
fn an_apache_format_string_reads_the_lines_it_describes() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("timed.log");
    std::fs::write(
        &log,
        "203.0.113.5 - alice [02/Dec/2026:10:00:00 +0100] \"GET /pricing?plan=pro HTTP/1.1\" 200 - \"https://news.example/item\" \"curl/8.5.0\" 1234 acme.example\n",
    )
    .unwrap();
    let (s, visits) = visits_of(
        &log,
        r#"apache:'%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\" %D %v'"#,
    );
    assert_eq!(s["parsed"], 1, "{s:#}");
    let v = &visits[0];
    assert_eq!(v["ip"], "203.0.113.5");
    assert_eq!(v["time"], "2026-12-02T10:00:00+01:00");
    assert_eq!(v["path"], "/pricing");
    assert_eq!(v["referrer"], "https://news.example/item");
    assert_eq!(v["user_agent"], "curl/8.5.0");
}

fn detect(path: &std::path::Path) -> (Option<i32>, Value) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_arkwatch"))
        .arg("detect-format")
        .arg(path)
        .arg("--json")
        .output()
        .unwrap();
    (
        out.status.code(),
        serde_json::from_slice(&out.stdout).unwrap(),
    )
}

#[test]
fn detect_format_names_the_format_that_reads_every_line() {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    for (file, want) in [
        ("logs/common.log", "common"),
        ("logs/vcombined.log", "vcombined"),
        ("logs/xff-quoted.log", "combined"),
    ] {
        let (code, d) = detect(&fixtures.join(file));
        assert_eq!(code, Some(0), "{file}: {d:#}");
        assert_eq!(d["format"], want, "{file}: {d:#}");
    }
    // The demo log holds one line that is no request: the format that reads the others is
    // named with its share, and the line it fails on.
    let (code, d) = detect(&fixtures.join("demo/access.log"));
    assert_eq!(code, Some(0));
    assert_eq!(d["format"], "combined");
    assert!(
        (d["share"].as_f64().unwrap() - 20.0 / 21.0).abs() < 1e-9,
        "{d:#}"
    );
    let combined = d["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["format"] == "combined")
        .unwrap();
    assert_eq!(combined["parsed"], 20, "{d:#}");
    assert_eq!(combined["first_failure"][0], 16, "{d:#}");
    if let Some(dir) = formats() {
        let (code, d) =
            detect(&dir.join("apache__lovecoding1987_sample_logs__other_vhosts_access.log"));
        assert_eq!(code, Some(0));
        // Apache's vhost_combined lays its fields out as nginx's vcombined does.
        assert_eq!(d["format"], "vcombined");
        let real = dir.join("../real-logs/elastic_nginx_logs.log");
        let (code, d) = detect(&real);
        assert_eq!((code, d["format"].as_str()), (Some(0), Some("combined")));
    }
}
