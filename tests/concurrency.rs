//! Overlapping runs on one state: one works at a time; the others wait, or exit 75 naming the
//! holder; the totals are one run's, and the state stays valid.

mod common;

use common::{Site, lines};

fn spawn_all(site: &Site, n: usize, wait: &str) -> Vec<std::process::Output> {
    let children: Vec<_> = (0..n)
        .map(|_| {
            site.command()
                .args(["--wait", wait, "ingest-nginx", "--json"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect()
}

#[test]
fn eight_runs_at_once_that_wait() {
    let site = Site::new("");
    site.append("access.log", &lines(0..60_000));
    let outputs = spawn_all(&site, 8, "120");
    let mut total = 0;
    for out in &outputs {
        common::assert_success(out);
        let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        total += summary["lines"].as_u64().unwrap();
    }
    assert_eq!(total, 60_000, "the eight runs together read each line once");
    site.assert_same_as_clean_pass(&lines(0..60_000));
}

#[test]
fn eight_runs_at_once_that_do_not_wait() {
    let site = Site::new("");
    site.append("access.log", &lines(0..60_000));
    let outputs = spawn_all(&site, 8, "0");
    let mut total = 0;
    let mut busy = 0;
    for out in &outputs {
        match out.status.code() {
            Some(0) => {
                let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
                total += summary["lines"].as_u64().unwrap();
            }
            Some(75) => {
                busy += 1;
                let err = String::from_utf8_lossy(&out.stderr);
                assert!(
                    err.contains("holds the lock") && err.contains("pid "),
                    "{err}"
                );
                assert!(out.stdout.is_empty());
            }
            other => panic!(
                "unexpected exit {other:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    }
    eprintln!("{busy} of 8 runs found the lock held");
    assert_eq!(total, 60_000);
    site.assert_same_as_clean_pass(&lines(0..60_000));
}
