//! SIGKILL during `fold-events` at random moments, then a rerun: the users projection and the
//! activity rollups equal those of one clean fold of the same events, on both stores.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use arkwatch::events::projection::{UserRecord, UserTotals};
use arkwatch::rollup::activity::ActivityDay;
use arkwatch::rollup::files::DayFiles;
use arkwatch::state::StateLock;
use chrono::NaiveDate;
use common::redis::RedisServer;
use common::{Rng, Site};

/// Event `i` of a deterministic history over 20 days: registrations, conversions, plan changes,
/// cancellations, commands, API calls and errors of 500 users.
fn event(i: u64) -> String {
    let user = i % 500;
    let ts = 1_793_491_200 + i * 17; // from 2026-11-01, 17 s apart
    // Plan events go to 50 users, with changing prices, so every batch has new, churned,
    // expansion and contraction MRR.
    let plan_user = (i / 20) % 50;
    let (kind, user, extra) = match i % 20 {
        0 => ("registration", user, String::new()),
        1 => (
            "conversion",
            plan_user,
            format!(r#","plan":"p","mrr":"{}.50""#, 10 + (i / 20) % 5),
        ),
        2 if (i / 20).is_multiple_of(3) => ("cancellation", plan_user, String::new()),
        3..=5 => (
            "api_call",
            user,
            format!(
                r#","provider":"p{}","cost":"0.00{}","latency_ms":"{}""#,
                i % 3,
                i % 10,
                i % 900
            ),
        ),
        6 => ("error", user, format!(r#","name":"E{}""#, i % 4)),
        _ => ("command", user, format!(r#","name":"/c{}""#, i % 12)),
    };
    format!(r#"{{"type":"{kind}","user":"u{user}","ts":"{ts}"{extra}}}"#)
}

fn import(site: &Site, range: std::ops::Range<u64>) {
    let path = site.dir.path().join(format!("batch-{}.jsonl", range.start));
    std::fs::write(&path, range.map(event).collect::<Vec<_>>().join("\n")).unwrap();
    let out = site
        .command()
        .args(["track", "--from-file"])
        .arg(&path)
        .output()
        .unwrap();
    common::assert_success(&out);
}

fn fold(site: &Site) -> serde_json::Value {
    site.fold_events()
}

/// The projection without event ids (two stores number the same events differently) and the
/// activity rollups.
fn outcome(
    site: &Site,
) -> (
    BTreeMap<String, UserRecord>,
    UserTotals,
    BTreeMap<NaiveDate, ActivityDay>,
) {
    let config = arkwatch::config::Config::load(&site.config).unwrap();
    let mut store = arkwatch::events::open(&config).unwrap();
    let mut users = store.all_users().unwrap();
    let totals = store.projection_totals().unwrap();
    // The totals kept with the projection equal a count over its records.
    assert_eq!(totals.total, users.len() as u64);
    assert_eq!(
        totals.premium,
        users.values().filter(|u| u.is_paying()).count() as u64
    );
    assert_eq!(totals.mrr, users.values().map(|u| u.mrr).sum());
    // Stream ids differ between two stores of the same events: compare what they say.
    for record in users.values_mut() {
        record.last_event = Default::default();
        for change in &mut record.billing {
            change.id = Default::default();
        }
    }
    let lock = StateLock::acquire(&site.data, Duration::from_secs(30)).unwrap();
    let state = lock.load().unwrap();
    let activity = DayFiles::new(&site.data, "activity")
        .load_all(&state.activity)
        .unwrap();
    (users, totals, activity)
}

fn crash_and_compare(store: &str, clean_store: &str) {
    let site = Site::new(store);
    let mut rng = Rng(0xf01d);
    import(&site, 0..40_000);
    let started = Instant::now();
    fold(&site);
    let typical = started.elapsed().as_micros() as u64;
    eprintln!("{store:?}: a fold of 40000 events takes {typical} µs");
    let mut written = 40_000;
    let mut interrupted = 0;
    for _ in 0..20 {
        let block = 2_000 + rng.below(8_000);
        import(&site, written..written + block);
        written += block;
        let expected = (typical * block / 40_000).max(2_000);
        // Up to well past the end: some folds commit, some die between their two commits.
        let delay = Duration::from_micros(rng.below(expected * 5 / 2));
        if site.run_and_kill(&["fold-events", "--json"], delay) {
            interrupted += 1;
        }
    }
    eprintln!("{store:?}: {interrupted} of 20 folds killed before they finished");
    assert!(
        interrupted >= 4,
        "too few folds were interrupted ({interrupted})"
    );
    fold(&site);

    let clean = Site::new(clean_store);
    import(&clean, 0..written);
    fold(&clean);
    let (users, totals, activity) = outcome(&site);
    let (clean_users, clean_totals, clean_activity) = outcome(&clean);
    assert_eq!(
        totals, clean_totals,
        "{store:?}: the totals differ from a clean fold"
    );
    assert_eq!(users.len(), clean_users.len());
    assert_eq!(
        users, clean_users,
        "{store:?}: the projection differs from a clean fold"
    );
    assert_eq!(
        activity, clean_activity,
        "{store:?}: the activity rollups differ from a clean fold"
    );
}

#[test]
fn sigkill_during_fold_file_store() {
    crash_and_compare("", "");
}

#[test]
fn sigkill_during_fold_redis_store() {
    let server = RedisServer::start();
    let url = server.url();
    crash_and_compare(
        &format!("[events]\nstore = \"{url}\"\nprefix = \"crashy:\"\n"),
        &format!("[events]\nstore = \"{url}\"\nprefix = \"clean:\"\n"),
    );
}

/// The windows between the fold's commits, hit on purpose: dying there and folding again gives
/// a clean fold's projection and rollups.
#[test]
fn death_at_each_commit_point_is_harmless() {
    let server = RedisServer::start();
    let url = server.url();
    for (n, point) in ["fold:before-state", "fold:between-commits"]
        .iter()
        .enumerate()
    {
        for store in [
            String::new(),
            format!("[events]\nstore = \"{url}\"\nprefix = \"p{n}:\"\n"),
        ] {
            let site = Site::new(&store);
            import(&site, 0..3_000);
            fold(&site);
            import(&site, 3_000..6_000);
            let out = site
                .command()
                .arg("fold-events")
                .env("ARKWATCH_CRASH_AT", point)
                .output()
                .unwrap();
            assert!(!out.status.success(), "{point}: the run should have died");
            fold(&site);
            let clean_store = if store.is_empty() {
                String::new()
            } else {
                format!("[events]\nstore = \"{url}\"\nprefix = \"c{n}:\"\n")
            };
            let clean = Site::new(&clean_store);
            import(&clean, 0..6_000);
            fold(&clean);
            assert_eq!(outcome(&site), outcome(&clean), "{point} {store:?}");
        }
    }
}
