//! Requests around the daylight-saving changes of the configured time zone land on the right
//! local day, whatever offset the server wrote.

mod common;

use chrono::NaiveDate;
use common::Site;

fn req(time: &str, path: &str) -> String {
    format!(
        "203.0.113.7 - - [{time}] \"GET {path} HTTP/1.1\" 200 10 \"-\" \"Mozilla/5.0 Firefox/133.0\""
    )
}

#[test]
fn requests_land_on_their_local_day_across_dst() {
    let site = Site::new("timezone = \"Europe/Berlin\"");
    site.append(
        "access.log",
        &[
            req("28/Mar/2026:23:59:59 +0100", "/a"), // last second of the 28th
            req("29/Mar/2026:00:00:00 +0100", "/pricing"),
            req("29/Mar/2026:01:59:59 +0100", "/b"), // the last second before the clocks jump
            req("29/Mar/2026:03:00:00 +0200", "/c"), // the first second after
            req("29/Mar/2026:21:59:59 +0000", "/d"), // a UTC server: 23:59:59 local
            req("29/Mar/2026:22:00:00 +0000", "/e"), // 00:00:00 local on the 30th
            req("30/Mar/2026:00:00:00 +0200", "/f"),
            req("24/Oct/2026:23:30:00 +0000", "/g"), // 01:30 local on the 25th (+02:00)
            req("25/Oct/2026:02:30:00 +0200", "/h"), // the repeated hour, first time
            req("25/Oct/2026:02:30:00 +0100", "/trial"), // and second time
            req("25/Oct/2026:22:59:59 +0000", "/i"), // 23:59:59 local (+01:00)
            req("25/Oct/2026:23:00:00 +0000", "/j"), // 00:00 on the 26th
        ],
    );
    site.ingest();
    let rollups = site.rollups();
    let hits = |y, m, d| {
        rollups
            .get(&NaiveDate::from_ymd_opt(y, m, d).unwrap())
            .map_or(0, |r| r.hits)
    };
    assert_eq!(hits(2026, 3, 28), 1);
    assert_eq!(hits(2026, 3, 29), 4);
    assert_eq!(hits(2026, 3, 30), 2);
    assert_eq!(hits(2026, 10, 25), 4);
    assert_eq!(hits(2026, 10, 26), 1);
    assert_eq!(rollups.values().map(|r| r.hits).sum::<u64>(), 12);

    // Visits files follow the local day too, and keep the offset the server wrote.
    let visits = site.visits();
    assert_eq!(visits.len(), 2, "{visits:?}");
    assert!(
        visits[0].starts_with("2026-03-29 2026-03-29 00:00:00 +01:00"),
        "{visits:?}"
    );
    assert!(
        visits[1].starts_with("2026-10-25 2026-10-25 02:30:00 +01:00"),
        "{visits:?}"
    );
}
