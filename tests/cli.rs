//! The command-line contract: exit statuses, messages that name the file and key, the `--json`
//! summary, config discovery, file modes, and the README's demo command.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{BIN, Site, lines};

fn run(args: &[&str], cwd: &Path) -> std::process::Output {
    std::process::Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .env_remove("ARKWATCH_CONFIG")
        .env_remove("ARKWATCH_DATA_DIR")
        .output()
        .unwrap()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn no_config_anywhere_exits_78_and_says_where_it_looked() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&["ingest-nginx"], dir.path());
    assert_eq!(out.status.code(), Some(78));
    assert!(
        stderr(&out).contains("$ARKWATCH_CONFIG"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn config_errors_exit_78_naming_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    std::fs::write(
        &config,
        "data_dir = \"d\"\n[filters]\nignore_ips = [\"10.0.0.0/8\", \"office\"]\n",
    )
    .unwrap();
    let out = run(
        &["--config", config.to_str().unwrap(), "ingest-nginx"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(78));
    let err = stderr(&out);
    assert!(err.starts_with("arkwatch: "), "{err}");
    assert!(
        err.contains("bad.toml") && err.contains("filters.ignore_ips[1]"),
        "{err}"
    );
}

#[test]
fn config_is_found_through_the_environment_and_the_working_directory() {
    let site = Site::new("");
    site.append("access.log", &lines(0..10));
    let out = std::process::Command::new(BIN)
        .args(["ingest-nginx", "--json"])
        .env("ARKWATCH_CONFIG", &site.config)
        .current_dir("/")
        .output()
        .unwrap();
    common::assert_success(&out);
    // The site's config is ./arkwatch.toml of its directory.
    assert_eq!(site.config, site.dir.path().join("arkwatch.toml"));
    site.append("access.log", &lines(10..15));
    let out = run(&["ingest-nginx", "--json"], site.dir.path());
    common::assert_success(&out);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        summary["lines"], 5,
        "./arkwatch.toml is the same site, so only new lines are read"
    );
}

#[test]
fn corrupt_state_exits_65_and_is_left_untouched() {
    let site = Site::new("");
    site.append("access.log", &lines(0..10));
    site.ingest();
    let state = site.data.join("state.json");
    let mut bytes = std::fs::read(&state).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&state, &bytes).unwrap();
    let out = site.command().arg("ingest-nginx").output().unwrap();
    assert_eq!(out.status.code(), Some(65));
    let err = stderr(&out);
    assert!(
        err.contains(&state.display().to_string()) && err.contains("move it aside"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&state).unwrap(),
        bytes,
        "the corrupt state was not rewritten"
    );
}

#[test]
fn a_missing_log_is_reported_and_the_others_still_read() {
    let site = Site::new("[[access_log]]\npath = \"logs/missing.log\"\n");
    site.append("access.log", &lines(0..20));
    let out = site
        .command()
        .args(["ingest-nginx", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["lines"], 20);
    let errors = summary["errors"].to_string();
    assert!(errors.contains("missing.log"), "{errors}");
}

#[test]
fn json_summary_has_the_documented_keys() {
    let site = Site::new("");
    site.append("access.log", &lines(0..500));
    let s = site.ingest();
    for key in [
        "files",
        "lines",
        "parsed",
        "malformed",
        "bots",
        "static",
        "visits_recorded",
        "by_tier",
        "seconds",
    ] {
        assert!(s.get(key).is_some(), "missing {key}: {s:#}");
    }
    for key in ["very_hot", "hot", "warm"] {
        assert!(s["by_tier"][key].as_u64().is_some(), "by_tier.{key}");
    }
    let file = &s["files"][0];
    assert!(file["path"].as_str().unwrap().ends_with("logs/access.log"));
    assert_eq!(file["lines"], 500);
    assert_eq!(
        file["bytes_read"],
        std::fs::metadata(&site.log).unwrap().len()
    );
    assert_eq!(
        s["parsed"].as_u64().unwrap() + s["malformed"].as_u64().unwrap(),
        500
    );
    let tiers: u64 = ["very_hot", "hot", "warm"]
        .iter()
        .map(|k| s["by_tier"][k].as_u64().unwrap())
        .sum();
    assert_eq!(s["visits_recorded"], tiers);
    assert!(s["visits_recorded"].as_u64().unwrap() > 0);
}

#[test]
fn visits_files_are_private() {
    let site = Site::new("");
    site.append("access.log", &lines(0..100));
    site.ingest();
    let dir = site.data.join("visits");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let mode = entry.unwrap().metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        seen += 1;
    }
    assert!(seen > 0);
    assert_eq!(
        std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
}

#[test]
fn human_summary_and_no_progress_bar_without_a_terminal() {
    let site = Site::new("");
    site.append("access.log", &lines(0..100));
    let out = site.command().arg("ingest-nginx").output().unwrap();
    common::assert_success(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("read 100 lines"), "{text}");
    assert!(text.contains("malformed 1"), "{text}");
    assert!(
        text.contains("access.log:14: does not match the log format"),
        "{text}"
    );
    assert!(
        out.stderr.is_empty(),
        "nothing on stderr under cron: {}",
        stderr(&out)
    );
}

/// The README's first command: the demo configuration and its bundled log, no server needed.
#[test]
fn demo_configuration_runs_and_finds_the_leads() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let data = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(BIN)
        .args([
            "--config",
            "fixtures/demo/arkwatch.toml",
            "ingest-nginx",
            "--json",
        ])
        .current_dir(root)
        .env("ARKWATCH_DATA_DIR", data.path())
        .output()
        .unwrap();
    common::assert_success(&out);
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["lines"], 21);
    assert_eq!(s["malformed"], 1);
    assert_eq!(s["visits_recorded"], 6);
    assert_eq!(
        (
            s["by_tier"]["very_hot"].as_u64(),
            s["by_tier"]["hot"].as_u64(),
            s["by_tier"]["warm"].as_u64()
        ),
        (Some(1), Some(3), Some(2))
    );
    // Googlebot, the office IP, the internal network, a HEAD and a 404 on /pricing recorded no visit.
    let visits: String = std::fs::read_dir(data.path().join("visits"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    for absent in [
        "66.249.66.1",
        "198.51.100.10",
        "10.0.3.7",
        "192.0.2.77",
        "192.0.2.78",
    ] {
        assert!(!visits.contains(absent), "{absent} must not be a visit");
    }
    assert!(visits.contains("\"utm_source\":\"linkedin\""));
}

#[test]
fn a_file_without_newlines_is_counted_malformed_not_held_in_memory() {
    let site = Site::new("");
    // 9 MiB of bytes with no newline: one line longer than 4 MiB, counted once as malformed
    // and skipped (not held in memory, not waited for), even before it ends.
    std::fs::write(&site.log, vec![b'x'; 9 << 20]).unwrap();
    let s = site.ingest();
    assert_eq!(s["malformed"], 1, "{s:#}");
    assert_eq!(s["files"][0]["bytes_read"], 9 << 20);
}

/// One 10 MB line was counted as 3 malformed lines and shifted every later line number.
#[test]
fn one_over_long_line_is_one_malformed_line_and_line_numbers_stay_true() {
    let site = Site::new("");
    let mut log = lines(0..2).join("\n").into_bytes();
    log.push(b'\n');
    log.extend(vec![b'y'; 6 << 20]);
    std::fs::write(&site.log, &log).unwrap();
    let first = site.ingest();
    assert_eq!(
        (first["lines"].as_u64(), first["malformed"].as_u64()),
        (Some(3), Some(1)),
        "{first:#}"
    );
    // The long line goes on in the next write, ends, and a bad line follows it.
    let mut more = vec![b'y'; 5 << 20];
    more.extend_from_slice(b"\nnot a log line\n");
    more.extend(lines(2..3).join("\n").into_bytes());
    more.push(b'\n');
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&site.log)
        .unwrap();
    std::io::Write::write_all(&mut file, &more).unwrap();
    drop(file);
    let second = site.ingest();
    assert_eq!(
        second["lines"], 2,
        "the rest of the long line is not a line: {second:#}"
    );
    assert_eq!(second["malformed"], 1, "{second:#}");
    assert_eq!(
        second["malformed_samples"][0]["line"], 4,
        "the bad line is the file's fourth: {second:#}"
    );
    assert_eq!(second["parsed"], 1);
}

#[test]
fn an_infinite_wait_is_accepted() {
    let site = Site::new("");
    site.append("access.log", &lines(0..3));
    let out = site
        .command()
        .args(["--wait", "inf", "ingest-nginx"])
        .output()
        .unwrap();
    common::assert_success(&out);
}
