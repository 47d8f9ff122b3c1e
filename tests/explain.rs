//! `arkwatch explain` on `fixtures/explain/`: the deciding layer and rule for a crawler (the
//! crawler list), a library (not a browser), a scraper with a browser's User-Agent (behaviour)
//! and a person, as a snapshot of the text, and the same verdicts in `--json`.

mod common;

use std::fmt::Write as _;
use std::process::Output;

const CONFIG: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fixtures/explain/arkwatch.toml"
);

fn explain(args: &[&str]) -> Output {
    std::process::Command::new(common::BIN)
        .args(["--config", CONFIG, "explain"])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn explain_names_the_deciding_layer_for_a_crawler_a_library_a_scraper_and_a_person() {
    let mut text = String::new();
    for ip in [
        "66.249.66.1",
        "198.51.100.20",
        "203.0.113.10",
        "198.51.100.7",
    ] {
        let out = explain(&[ip, "--date", "2026-11-23"]);
        common::assert_success(&out);
        text.push_str(&String::from_utf8(out.stdout).unwrap());
        text.push('\n');
    }
    insta::assert_snapshot!("explain_four_visitors", text);

    for (ip, verdict, layer, category) in [
        (
            "66.249.66.1",
            "automated",
            Some("crawler_list"),
            Some("search_engines"),
        ),
        (
            "198.51.100.20",
            "automated",
            Some("not_a_browser"),
            Some("libraries_and_scripts"),
        ),
        (
            "203.0.113.10",
            "automated",
            Some("behaviour"),
            Some("unknown_automated"),
        ),
        ("198.51.100.7", "person", None, None),
    ] {
        let out = explain(&[ip, "--json"]);
        common::assert_success(&out);
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let v = &json["days"][0]["visitors"][0];
        assert_eq!(v["verdict"], verdict, "{ip}: {json:#}");
        assert_eq!(v["layer"].as_str(), layer, "{ip}");
        assert_eq!(v["category"].as_str(), category, "{ip}");
    }
    let scraper = explain(&["203.0.113.10", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&scraper.stdout).unwrap();
    let v = &json["days"][0]["visitors"][0];
    assert_eq!(
        v["requests"].as_array().unwrap().len(),
        150,
        "--json has every request"
    );
    assert_eq!(v["counts"]["pageviews"], 150);
    assert!(v["rule"].as_str().unwrap().contains("(threshold 120)"));
}

#[test]
fn an_address_without_requests_is_said_and_exits_1() {
    let out = explain(&["198.51.100.7", "--date", "2026-11-24"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "198.51.100.7: no request on 2026-11-24 in the access logs on disk\n"
    );
    let out = explain(&["not-an-ip"]);
    assert_eq!(out.status.code(), Some(2), "a usage error");
}

/// Regression: with two logs, one without User-Agents (`common`) and one with them, each
/// visitor is judged as its own log allows: the crawler of the combined log by its
/// User-Agent, the visitor of the common log (no User-Agent field, so not "no User-Agent, a
/// bot") by behaviour alone.
#[test]
fn each_log_is_judged_by_the_fields_its_format_has() {
    let dir = tempfile::tempdir().unwrap();
    let mut common_log = String::new();
    for i in 0..3 {
        let _ = writeln!(
            common_log,
            "198.51.100.9 - - [23/Nov/2026:10:0{i}:00 +0000] \"GET /docs/{i} HTTP/1.1\" 200 10"
        );
    }
    std::fs::write(dir.path().join("common.log"), common_log).unwrap();
    std::fs::write(
        dir.path().join("combined.log"),
        "198.51.100.9 - - [23/Nov/2026:11:00:00 +0000] \"GET / HTTP/1.1\" 200 10 \"-\" \"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)\"\n",
    )
    .unwrap();
    let config = dir.path().join("arkwatch.toml");
    std::fs::write(
        &config,
        "data_dir = \"data\"\ntimezone = \"UTC\"\n\
         [[access_log]]\npath = \"common.log\"\nformat = \"common\"\n\
         [[access_log]]\npath = \"combined.log\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(common::BIN)
        .arg("--config")
        .arg(&config)
        .args(["explain", "198.51.100.9", "--json"])
        .output()
        .unwrap();
    common::assert_success(&out);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let visitors = json["days"][0]["visitors"].as_array().unwrap();
    assert_eq!(visitors.len(), 2, "{json:#}");
    assert_eq!(visitors[0]["verdict"], "person", "{json:#}");
    assert_eq!(visitors[0]["counts"]["pageviews"], 3);
    assert_eq!(visitors[1]["verdict"], "automated", "{json:#}");
    assert_eq!(visitors[1]["layer"], "crawler_list");
}
