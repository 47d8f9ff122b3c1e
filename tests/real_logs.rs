//! The real access logs in `../shared/data/real-logs/` (written outside this project) parse with
//! no malformed line except the one the source documents: Apache line 8899, cut off inside its
//! User-Agent. The folder sits beside the checkout in CI; elsewhere this test says it did not run.

mod common;

use std::path::PathBuf;

use common::Site;

fn real_logs() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/real-logs");
    if dir.join("elastic_nginx_logs.log").exists() {
        Some(dir)
    } else {
        eprintln!("real-data check NOT RUN: {} is not present", dir.display());
        None
    }
}

fn ingest(path: PathBuf) -> serde_json::Value {
    let site = Site::new("");
    let out = site
        .command()
        .args(["ingest-nginx", "--json"])
        .arg(path)
        .output()
        .unwrap();
    common::assert_success(&out);
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn elastic_nginx_log_parses_completely() {
    let Some(dir) = real_logs() else { return };
    let s = ingest(dir.join("elastic_nginx_logs.log"));
    assert_eq!(s["lines"], 51_462);
    assert_eq!(s["malformed"], 0, "{:#}", s["malformed_samples"]);
    assert_eq!(s["parsed"], 51_462);
    eprintln!("real-data check ran: elastic_nginx_logs.log, 51462 lines, 0 malformed");
}

#[test]
fn elastic_apache_log_has_only_the_truncated_line_malformed() {
    let Some(dir) = real_logs() else { return };
    let s = ingest(dir.join("elastic_apache_logs.log"));
    assert_eq!(s["lines"], 10_000);
    assert_eq!(s["malformed"], 1, "{:#}", s["malformed_samples"]);
    assert_eq!(s["malformed_samples"][0]["line"], 8899);
    assert_eq!(
        s["malformed_samples"][0]["reason"],
        "a quoted field is not closed"
    );
    assert!(
        s["bots"].as_u64().unwrap() > 1_000,
        "the crawlers are recognised: {}",
        s["bots"]
    );
    eprintln!("real-data check ran: elastic_apache_logs.log, 10000 lines, 1 malformed (line 8899)");
}
