//! `arkwatch explain` on `fixtures/explain/`: the deciding layer and rule for a crawler (the
//! crawler list), a library (not a browser), a scraper with a browser's User-Agent (behaviour)
//! and a person, as a snapshot of the text, and the same verdicts in `--json`.

mod common;

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
