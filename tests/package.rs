//! The Debian package, installed for real: `scripts/package.sh` builds it around the test
//! binary, `dpkg -i` installs it into this machine, and the test checks the service user, the
//! directory modes, the units (`systemd-analyze verify`), the man page (`man -l`) and the
//! binary; then `dpkg -r` keeps the data and `dpkg -P` removes it and the user.
//!
//! It changes the machine (a system user, files under /usr, /etc and /var/lib), so it runs
//! only as root in CI (`CI=true`) or when `ARKWATCH_TEST_PACKAGE=1` asks for it; elsewhere it
//! says so and passes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"))
}

fn ok(program: &str, args: &[&str]) -> String {
    let out = run(program, args);
    assert!(
        out.status.success(),
        "{program} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn mode_owner(path: &str) -> String {
    ok("stat", &["-c", "%a %U %G", path]).trim().to_string()
}

/// Purges the package if a check failed half-way, so that the machine is left as found.
struct Purge;

impl Drop for Purge {
    fn drop(&mut self) {
        let _ = run("dpkg", &["-P", "arkwatch"]);
    }
}

#[test]
#[expect(
    clippy::too_many_lines,
    reason = "one install, checked step by step in order"
)]
fn the_debian_package_installs_removes_and_purges() {
    let asked = std::env::var("CI").is_ok_and(|v| v == "true")
        || std::env::var("ARKWATCH_TEST_PACKAGE").is_ok_and(|v| v == "1");
    let root = rustix::process::geteuid().is_root();
    if !asked {
        eprintln!(
            "skipped: this test installs a .deb into the machine; it runs in CI, or with \
             ARKWATCH_TEST_PACKAGE=1 as root"
        );
        return;
    }
    assert!(
        root,
        "the package test installs with dpkg: run it as root (or leave CI and \
         ARKWATCH_TEST_PACKAGE unset)"
    );
    let installed = run("dpkg-query", &["-W", "-f=${Status}", "arkwatch"]);
    assert!(
        !String::from_utf8_lossy(&installed.stdout).contains("ok installed"),
        "an arkwatch package is already installed here; the test would replace it"
    );
    let dir = tempfile::tempdir().unwrap();
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let built = Command::new(manifest.join("scripts/package.sh"))
        .args(["--bin", env!("CARGO_BIN_EXE_arkwatch"), "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "package.sh: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    let deb = PathBuf::from(String::from_utf8_lossy(&built.stdout).trim());
    assert!(deb.is_file(), "{}", deb.display());
    let info = ok(
        "dpkg-deb",
        &["--field", deb.to_str().unwrap(), "Package", "Depends"],
    );
    assert!(
        info.contains("arkwatch") && info.contains("libc6"),
        "{info}"
    );

    let _purge = Purge;
    ok("dpkg", &["-i", deb.to_str().unwrap()]);

    // The service user: a system account in adm (which reads /var/log/nginx), no login.
    let passwd = ok("getent", &["passwd", "arkwatch"]);
    let fields: Vec<&str> = passwd.trim().split(':').collect();
    assert!(
        fields[2].parse::<u32>().unwrap() < 1000,
        "a system uid: {passwd}"
    );
    assert_eq!(fields[5], "/var/lib/arkwatch");
    assert!(fields[6].ends_with("nologin"), "{passwd}");
    let groups = ok("id", &["-nG", "arkwatch"]);
    assert!(groups.split_whitespace().any(|g| g == "adm"), "{groups}");
    assert_eq!(mode_owner("/var/lib/arkwatch"), "700 arkwatch arkwatch");
    assert_eq!(mode_owner("/etc/arkwatch/arkwatch.toml"), "644 root root");
    assert_eq!(mode_owner("/usr/bin/arkwatch"), "755 root root");
    let conffiles = ok("dpkg-query", &["-W", "-f=${Conffiles}", "arkwatch"]);
    assert!(
        conffiles.contains("/etc/arkwatch/arkwatch.toml"),
        "{conffiles}"
    );

    // The units, with their hardening, and every instance of the report timer has a calendar.
    let units = Path::new("/usr/lib/systemd/system");
    for unit in [
        "arkwatch-scan.service",
        "arkwatch-scan.timer",
        "arkwatch-rotate.service",
        "arkwatch-rotate.timer",
        "arkwatch-report@.service",
        "arkwatch-report@.timer",
    ] {
        assert!(units.join(unit).is_file(), "{unit}");
    }
    let scan = std::fs::read_to_string(units.join("arkwatch-scan.service")).unwrap();
    for line in [
        "User=arkwatch",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/arkwatch",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
    ] {
        assert!(scan.lines().any(|l| l == line), "{line} in {scan}");
    }
    let timer = std::fs::read_to_string(units.join("arkwatch-scan.timer")).unwrap();
    assert!(timer.contains("OnCalendar=*:0/15"), "{timer}");
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok()
    {
        ok(
            "systemd-analyze",
            &[
                "verify",
                "arkwatch-scan.service",
                "arkwatch-scan.timer",
                "arkwatch-rotate.service",
                "arkwatch-rotate.timer",
                "arkwatch-report@daily.timer",
                "arkwatch-report@weekly.timer",
                "arkwatch-report@monthly.timer",
                "arkwatch-report@weekly.service",
            ],
        );
        // An instance without a calendar of its own is refused: the drop-ins are what count.
        assert!(
            !run(
                "systemd-analyze",
                &["verify", "arkwatch-report@hourly.timer"]
            )
            .status
            .success()
        );
    } else {
        eprintln!("systemd-analyze is not installed: the units were checked by content only");
    }

    // The man page renders, and the binary runs.
    let man = Command::new("man")
        .args(["-P", "cat", "-l", "/usr/share/man/man1/arkwatch.1.gz"])
        .env("MANWIDTH", "80")
        .output()
        .expect("man is needed (apt-get install man-db)");
    let page = String::from_utf8_lossy(&man.stdout);
    assert!(man.status.success() && page.contains("SYNOPSIS"), "{page}");
    assert!(Path::new("/usr/share/man/man1/arkwatch-scan.1.gz").is_file());
    assert!(Path::new("/usr/share/bash-completion/completions/arkwatch").is_file());
    let version = ok("/usr/bin/arkwatch", &["--version"]);
    assert!(version.starts_with("arkwatch "), "{version}");
    // The packaged configuration loads, as the service user, on its own data directory (a
    // missing nginx log is exit 1, "needs attention"; a bad configuration would be 78).
    let status = run(
        "runuser",
        &[
            "-u",
            "arkwatch",
            "--",
            "/usr/bin/arkwatch",
            "--config",
            "/etc/arkwatch/arkwatch.toml",
            "status",
            "--offline",
            "--json",
        ],
    );
    assert!(
        matches!(status.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert!(report["checks"].is_array(), "{report}");

    // Remove: the binary goes; the data, the user and the configuration stay.
    std::fs::write("/var/lib/arkwatch/kept", "data").unwrap();
    ok("dpkg", &["-r", "arkwatch"]);
    assert!(!Path::new("/usr/bin/arkwatch").exists());
    assert!(Path::new("/var/lib/arkwatch/kept").exists());
    assert!(Path::new("/etc/arkwatch/arkwatch.toml").exists());
    assert!(run("getent", &["passwd", "arkwatch"]).status.success());

    // Purge: the data, the user and the configuration go.
    ok("dpkg", &["-P", "arkwatch"]);
    assert!(!Path::new("/var/lib/arkwatch").exists());
    assert!(!Path::new("/etc/arkwatch").exists());
    assert!(!run("getent", &["passwd", "arkwatch"]).status.success());
    assert!(!run("getent", &["group", "arkwatch"]).status.success());
}
