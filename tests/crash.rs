//! Killing `ingest-nginx` with SIGKILL at random moments over a growing, rotating log, then
//! running it once more, gives exactly the visits and rollups of one clean run.

mod common;

use std::time::Duration;

use common::{Rng, Site, lines, logrotate};

#[test]
fn sigkill_at_random_moments_loses_and_doubles_nothing() {
    let seed = std::env::var("ARKWATCH_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_u64);
    eprintln!("crash test seed {seed} (set ARKWATCH_CRASH_SEED to replay)");
    let mut rng = Rng(seed | 1);
    let site = Site::new("");
    let mut written = 0u64;
    let mut killed_mid_run = 0;
    // Time one full run of a block, so kills land anywhere from start-up to commit.
    site.append("access.log", &lines(0..20_000));
    written += 20_000;
    let started = std::time::Instant::now();
    site.ingest();
    let typical = started.elapsed().as_micros() as u64;
    eprintln!("one run of 20000 lines takes {typical} µs");

    for round in 0..24 {
        let block = 5_000 + rng.below(15_000);
        site.append("access.log", &lines(written..written + block));
        written += block;
        match round % 8 {
            3 => logrotate(&site, false),
            7 => logrotate(&site, true),
            _ => {}
        }
        // Somewhere between start-up and the end of a run of this size; past the end now and
        // then, so some runs commit and later ones build on them.
        let expected = (typical * block / 20_000).max(1_000);
        let delay = Duration::from_micros(rng.below(expected * 3 / 2));
        if site.run_and_kill(&["ingest-nginx", "--json"], delay) {
            killed_mid_run += 1;
        }
    }
    eprintln!("{killed_mid_run} of 24 runs were killed before they finished");
    assert!(
        killed_mid_run >= 8,
        "too few runs were interrupted ({killed_mid_run}); the test proves little"
    );
    site.ingest();
    site.assert_same_as_clean_pass(&lines(0..written));
}

/// The windows between the commit steps of an ingestion, hit on purpose.
#[test]
fn death_at_each_commit_point_is_harmless() {
    for point in [
        "ingest:after-visits",
        "ingest:before-state",
        "ingest:after-state",
    ] {
        let site = Site::new("");
        site.append("access.log", &lines(0..3_000));
        site.ingest();
        site.append("access.log", &lines(3_000..6_000));
        let out = site
            .command()
            .arg("ingest-nginx")
            .env("ARKWATCH_CRASH_AT", point)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{point}: the run should have died");
        site.ingest();
        site.assert_same_as_clean_pass(&lines(0..6_000));
    }
}
