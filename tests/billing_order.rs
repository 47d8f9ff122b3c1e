//! Billing follows event time, not arrival order, on both stores: the webhook repro through the
//! binary, and a property test over shuffled arrival orders and fold boundaries (in-process, the
//! real fold against the embedded file and a real Redis).

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use arkwatch::clock::Clock;
use arkwatch::config::Config;
use arkwatch::events::projection::UserRecord;
use arkwatch::pipeline::Run;
use arkwatch::rollup::activity::{self, ActivityDay};
use arkwatch::state::StateLock;
use chrono::NaiveDate;
use proptest::prelude::*;

/// Registration, pro 29.00 on Oct 2, cancellation at 12:10 on Oct 5, and a conversion to
/// business at 99.00 stamped 12:00 on Oct 5 that arrives last: in arrival order that gave MRR
/// 99, one paying user and new/expansion/churned 128/0/29.
fn repro(site: &common::Site) {
    let file = site.dir.path().join("webhooks.jsonl");
    std::fs::write(
        &file,
        concat!(
            r#"{"type":"registration","user":"42","ts":"2026-10-01T09:00:00Z"}"#, "\n",
            r#"{"type":"conversion","user":"42","plan":"pro","mrr":"29.00","ts":"2026-10-02T09:00:00Z"}"#, "\n",
            r#"{"type":"cancellation","user":"42","ts":"2026-10-05T12:10:00Z"}"#, "\n",
            r#"{"type":"conversion","user":"42","plan":"business","mrr":"99.00","ts":"2026-10-05T12:00:00Z"}"#, "\n",
        ),
    )
    .unwrap();
    let out = site
        .command()
        .args(["track", "--from-file"])
        .arg(&file)
        .output()
        .unwrap();
    common::assert_success(&out);
    let out = site
        .command()
        .args([
            "metrics",
            "all",
            "--json",
            "--since",
            "2026-10-01",
            "--until",
            "2026-10-31",
        ])
        .output()
        .unwrap();
    common::assert_success(&out);
    let m: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let r = &m["revenue"];
    assert_eq!(r["mrr"], 0.0, "{r:#}");
    assert_eq!(m["users"]["premium"], 0);
    assert_eq!(
        (
            r["mrr_new"].as_f64(),
            r["mrr_expansion"].as_f64(),
            r["mrr_churned"].as_f64()
        ),
        (Some(29.0), Some(70.0), Some(99.0)),
        "{r:#}"
    );
}

#[test]
fn a_late_upgrade_webhook_is_applied_in_event_time_on_the_file_store() {
    repro(&common::Site::new(""));
}

#[test]
fn a_late_upgrade_webhook_is_applied_in_event_time_on_redis() {
    let redis = common::redis::RedisServer::start();
    repro(&common::Site::new(&format!(
        "[events]\nstore = \"{}\"\n",
        redis.url()
    )));
}

/// One user's events, as a producer sends them: (hours after Oct 1, field list).
type Events = Vec<(u32, Vec<(String, String)>)>;

fn event(user: &str, hour: u32, kind: u8, mrr: u32) -> (u32, Vec<(String, String)>) {
    let ts = (NaiveDate::from_ymd_opt(2026, 10, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        + chrono::Duration::hours(i64::from(hour)))
    .and_utc()
    .to_rfc3339();
    let mut fields = vec![
        ("user".to_string(), user.to_string()),
        ("ts".to_string(), ts),
    ];
    match kind {
        0 => fields.push(("type".into(), "registration".into())),
        1 => fields.extend([
            ("type".to_string(), "conversion".to_string()),
            ("plan".to_string(), format!("p{}", mrr % 3)),
            ("mrr".to_string(), format!("{}.{:02}", mrr / 100, mrr % 100)),
        ]),
        2 => fields.push(("type".into(), "cancellation".into())),
        _ => fields.extend([
            ("type".to_string(), "command".to_string()),
            ("name".to_string(), "x".to_string()),
        ]),
    }
    (hour, fields)
}

fn events() -> impl Strategy<Value = Events> {
    prop::collection::vec((0u8..3, 0u32..30 * 24, 0u8..4, 1u32..20_000), 1..24).prop_map(|raw| {
        let mut seen = std::collections::BTreeSet::new();
        raw.into_iter()
            // Distinct times, so that "time order" is one order.
            .filter(|(_, hour, _, _)| seen.insert(*hour))
            .map(|(user, hour, kind, mrr)| event(&format!("u{user}"), hour, kind, mrr))
            .collect()
    })
}

/// Where the events go: a site's config for the file store or a Redis prefix.
fn config(dir: &std::path::Path, redis: Option<(&str, usize)>) -> Config {
    let store = match redis {
        Some((url, case)) => format!("[events]\nstore = \"{url}\"\nprefix = \"case{case}:\"\n"),
        None => String::new(),
    };
    Config::parse(
        &dir.join("arkwatch.toml"),
        &format!("data_dir = \"data\"\ntimezone = \"Europe/Berlin\"\n{store}"),
    )
    .unwrap()
}

/// Appends `batches` one after another, folding after each; returns the projection (ids
/// dropped) and the activity rollups.
fn fold_in_batches(
    config: &Config,
    batches: &[Vec<Vec<(String, String)>>],
) -> (
    BTreeMap<String, UserRecord>,
    BTreeMap<NaiveDate, ActivityDay>,
) {
    std::fs::create_dir_all(&config.data_dir).unwrap();
    std::fs::write(
        config.data_dir.join("secret.key"),
        format!("{}\n", common::KEY),
    )
    .unwrap();
    let mut store = arkwatch::events::open(config).unwrap();
    let lock = StateLock::acquire(&config.data_dir, Duration::from_secs(5)).unwrap();
    let run = Run {
        config,
        lock: &lock,
        clock: Clock::Real,
    };
    for batch in batches {
        if !batch.is_empty() {
            store.append(batch).unwrap();
        }
        let mut state = lock.load().unwrap();
        arkwatch::pipeline::fold::fold(&run, &mut state, store.as_mut()).unwrap();
    }
    let state = lock.load().unwrap();
    let mut users = store.all_users().unwrap();
    for u in users.values_mut() {
        u.last_event = Default::default();
        for b in &mut u.billing {
            b.id = Default::default();
        }
    }
    let mut days = BTreeMap::new();
    for day in state.activity.keys() {
        let mut a = activity::load_day(&config.data_dir, &state.activity, *day).unwrap();
        // Active-user hashes and event counts are arrival-independent sets and sums; movements
        // are what this test is about.
        a.active_users.clear();
        days.insert(*day, a);
    }
    days.retain(|_, a| *a != ActivityDay::default());
    (users, days)
}

/// A shuffled arrival order of `events`, cut into folds at `cuts`.
fn arrivals(events: &Events, seed: u64, cuts: &[usize]) -> Vec<Vec<Vec<(String, String)>>> {
    let mut order: Vec<usize> = (0..events.len()).collect();
    let mut state = seed | 1;
    for i in (1..order.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        order.swap(i, usize::try_from(state % (i as u64 + 1)).unwrap());
    }
    let mut batches = vec![Vec::new()];
    for (n, i) in order.into_iter().enumerate() {
        if cuts.contains(&n) {
            batches.push(Vec::new());
        }
        batches.last_mut().unwrap().push(events[i].1.clone());
    }
    batches
}

fn check(events: &Events, seed: u64, cuts: &[usize], redis: Option<(&str, usize)>) {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let mut by_time = events.clone();
    by_time.sort_by_key(|(hour, _)| *hour);
    let ordered = vec![by_time.into_iter().map(|(_, f)| f).collect()];
    let reference = fold_in_batches(&config(a.path(), redis.map(|(u, c)| (u, 2 * c))), &ordered);
    let shuffled = arrivals(events, seed, cuts);
    let got = fold_in_batches(
        &config(b.path(), redis.map(|(u, c)| (u, 2 * c + 1))),
        &shuffled,
    );
    assert_eq!(got.0, reference.0, "projection, arrival {shuffled:?}");
    assert_eq!(got.1, reference.1, "activity rollups, arrival {shuffled:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn any_arrival_order_and_fold_boundaries_give_the_time_ordered_fold_on_the_file_store(
        events in events(),
        seed in any::<u64>(),
        cuts in prop::collection::vec(0usize..24, 0..4),
    ) {
        check(&events, seed, &cuts, None);
    }
}

#[test]
fn any_arrival_order_and_fold_boundaries_give_the_time_ordered_fold_on_redis() {
    let redis = common::redis::RedisServer::start();
    let url = redis.url();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(1000));
    let case = std::cell::Cell::new(0usize);
    runner
        .run(
            &(
                events(),
                any::<u64>(),
                prop::collection::vec(0usize..24, 0..4),
            ),
            |(events, seed, cuts)| {
                case.set(case.get() + 1);
                check(&events, seed, &cuts, Some((&url, case.get())));
                Ok(())
            },
        )
        .unwrap();
}
