//! Whole runs at a fixed instant (`ARKWATCH_NOW`, the clock seam): the demo's `scan`,
//! `metrics all --json` and `report weekly`, snapshotted (`tests/snapshots/whole_run__*.snap`).
//! What changes from run to run is redacted: the temporary directory, durations, message ids.
//! And one new [`Notifier`] in this file receives a scan's digest with no other module touched.

mod common;

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use arkwatch::alerts::digest::Digest;
use arkwatch::clock::Clock;
use arkwatch::config::Config;
use arkwatch::config::Sends;
use arkwatch::exit::{Fatal, Status};
use arkwatch::notify::{Channel, Notifier};
use arkwatch::pipeline::Run;
use arkwatch::pipeline::scan::{Delivery, scan};
use arkwatch::state::StateLock;
use tempfile::TempDir;

/// The Monday after the demo's day (Monday 2026-11-23), so that `report weekly` covers it.
const NOW: &str = "2026-11-30T09:00:00Z";

/// The demo (config, log, events) copied to a temporary directory, its data kept there too.
struct Demo {
    dir: TempDir,
    config: PathBuf,
}

impl Demo {
    fn new() -> Demo {
        let dir = tempfile::tempdir().unwrap();
        let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo");
        for name in ["access.log", "events.jsonl"] {
            std::fs::copy(demo.join(name), dir.path().join(name)).unwrap();
        }
        let toml = std::fs::read_to_string(demo.join("arkwatch.toml"))
            .unwrap()
            .replace("\"../../target/arkwatch-demo\"", "\"data\"");
        assert!(toml.contains("data_dir = \"data\""), "{toml}");
        let config = dir.path().join("arkwatch.toml");
        std::fs::write(&config, toml).unwrap();
        std::fs::create_dir(dir.path().join("data")).unwrap();
        std::fs::write(
            dir.path().join("data/secret.key"),
            format!("{}\n", common::KEY),
        )
        .unwrap();
        Demo { dir, config }
    }

    fn run(&self, args: &[&str]) -> String {
        let out = std::process::Command::new(common::BIN)
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .env("ARKWATCH_NOW", NOW)
            .env("NO_COLOR", "1")
            .env_remove("ARKWATCH_CONFIG")
            .env_remove("ARKWATCH_DATA_DIR")
            .output()
            .unwrap();
        common::assert_success(&out);
        String::from_utf8(out.stdout)
            .unwrap()
            .replace(&self.dir.path().display().to_string(), "[dir]")
    }
}

/// `in 0.011s` → `in [secs]`; a hex message id → `[id]`.
fn redact(text: &str) -> String {
    let secs = regex::Regex::new(r"in \d+\.\d+s").unwrap();
    let id = regex::Regex::new(r"\b[0-9a-f]{24}\b").unwrap();
    id.replace_all(&secs.replace_all(text, "in [secs]"), "[id]")
        .into_owned()
}

#[test]
fn the_demo_scan_metrics_and_weekly_report_at_a_fixed_time() {
    let demo = Demo::new();
    insta::assert_snapshot!("demo_scan", redact(&demo.run(&["scan"])));
    insta::assert_snapshot!("demo_scan_again", redact(&demo.run(&["scan"])));
    insta::assert_snapshot!(
        "demo_metrics_all_json",
        demo.run(&["metrics", "all", "--json"])
    );
    insta::assert_snapshot!("demo_report_weekly", demo.run(&["report", "weekly"]));
}

/// A channel that keeps what it is given; `down` makes it fail as a server that is away.
#[derive(Clone, Default)]
struct Recorder {
    got: Rc<RefCell<Vec<Digest>>>,
    down: bool,
}

impl Notifier for Recorder {
    fn deliver(&self, digest: &Digest, done: &mut usize) -> anyhow::Result<()> {
        if self.down {
            return Err(Fatal::ServiceDown {
                service: "recorder".into(),
                address: "the recorder".into(),
                reason: "switched off by the test".into(),
            }
            .into());
        }
        self.got.borrow_mut().push(digest.clone());
        *done = 1;
        Ok(())
    }

    fn check(&self) -> anyhow::Result<()> {
        Ok(())
    }

    fn describe(&self) -> String {
        "the recorder".into()
    }
}

/// A scan whose one channel (in the email channel's place) is `notifier`.
fn scan_with(demo: &Demo, notifier: &Recorder) -> (Delivery, Status, usize) {
    let channels = [Channel {
        name: "email".into(),
        sends: Sends::ALL,
        max_per_hour: 100,
        notifier: Box::new(notifier.clone()),
    }];
    let config = Config::load(&demo.config).unwrap();
    let lock = StateLock::acquire(&config.data_dir, Duration::from_secs(5)).unwrap();
    let run = Run {
        config: &config,
        lock: &lock,
        clock: Clock::Fixed(NOW.parse().unwrap()),
    };
    let (report, status) = scan(&run, &channels, false).unwrap();
    (report.delivery, status, report.pending)
}

#[test]
fn a_new_notifier_receives_the_scan_digest_and_a_failed_one_keeps_it_pending() {
    let demo = Demo::new();
    let away = Recorder {
        down: true,
        ..Recorder::default()
    };
    let (delivery, status, pending) = scan_with(&demo, &away);
    assert!(
        matches!(delivery, Delivery::Failed { ref to, .. } if to == "the recorder"),
        "{delivery:?}"
    );
    assert_eq!((status, pending), (Status::TempFail, 3));

    let recorder = Recorder::default();
    let (delivery, status, pending) = scan_with(&demo, &recorder);
    assert_eq!((status, pending), (Status::Ok, 0), "{delivery:?}");
    assert!(
        matches!(delivery, Delivery::Sent { leads: 3, rules: 0, ref to, .. } if to == "the recorder"),
        "{delivery:?}"
    );
    let got = recorder.got.borrow();
    assert_eq!(got.len(), 1);
    let ips: Vec<String> = got[0]
        .leads
        .iter()
        .map(|l| l.journey.ip.to_string())
        .collect();
    assert_eq!(
        ips,
        [
            "203.0.113.45",
            "2001:db8:85a3::8a2e:370:7334",
            "100.64.1.20"
        ],
        "by score"
    );
    assert_eq!(got[0].site_name, "Acme Analytics");
    assert!(!got[0].id.is_empty());
    assert!(
        !demo.dir.path().join("data/outbox").exists(),
        "nothing went to the outbox: the recorder was the channel"
    );

    let (delivery, _, _) = scan_with(&demo, &recorder);
    assert!(matches!(delivery, Delivery::NothingDue), "{delivery:?}");
    assert_eq!(recorder.got.borrow().len(), 1, "each lead delivered once");
}
