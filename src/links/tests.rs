use super::*;
use crate::page_tier::PageTier;
use crate::visits::VisitWriter;

const SAFARI: &str = "Mozilla/5.0 (Macintosh) Safari/605.1.15";
const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0";

fn visit(time: &str, ip: &str, ua: &str) -> Visit {
    Visit {
        time: DateTime::parse_from_rfc3339(time).unwrap(),
        path: "/pricing".into(),
        tier: PageTier::Hot,
        ip: ip.parse().unwrap(),
        user_agent: ua.into(),
        referrer: Some("https://www.linkedin.com/".into()),
        query: BTreeMap::from([("utm_source".to_string(), "linkedin".to_string())]),
        status: 200,
        source: "access.log".into(),
        offset: 0,
    }
}

fn event(seq: u64, time: &str, user: &str, ip: &str, ua: Option<&str>) -> Event {
    let time: DateTime<Utc> = time.parse().unwrap();
    Event {
        id: EventId {
            ms: u64::try_from(time.timestamp_millis()).unwrap(),
            seq,
        },
        time,
        user: user.into(),
        ip: Some(ip.parse().unwrap()),
        user_agent: ua.map(Into::into),
        kind: EventKind::Registration,
    }
}

/// Appends visits to the store and returns the committed lengths.
fn write(dir: &Path, committed: &mut Committed, visits: &[Visit]) {
    let mut w = VisitWriter::new(dir);
    for v in visits {
        w.append_line(v.time.date_naive(), &v.to_json_line())
            .unwrap();
    }
    committed.extend(w.finish().unwrap());
}

fn linked(dir: &Path) -> Vec<(String, String, String)> {
    let mut out: Vec<_> = LinkStore::load(dir)
        .unwrap()
        .links
        .into_iter()
        .map(|l| (l.user, l.ip.to_string(), l.user_agent))
        .collect();
    out.sort();
    out
}

fn refresh(dir: &Path, committed: &Committed, matched: &Matched, events: &[Event]) -> Matched {
    let r = Refresh {
        data_dir: dir,
        committed,
        link_days: 14,
    };
    r.run(events.iter().filter_map(sighting).collect(), matched)
        .unwrap()
        .0
}

/// The visits and events of the decoys: a match by address and browser, by address alone, and
/// three that must not link.
fn fixture() -> (Vec<Visit>, Vec<Event>) {
    let visits = vec![
        visit("2026-11-10T09:00:00Z", "203.0.113.1", SAFARI),
        visit("2026-11-10T09:00:00Z", "203.0.113.2", SAFARI),
        visit("2026-11-10T09:00:00Z", "203.0.113.3", FIREFOX),
        visit("2026-11-10T09:00:00Z", "203.0.113.4", SAFARI),
        visit("2026-10-01T09:00:00Z", "203.0.113.5", SAFARI),
    ];
    let events = vec![
        // Address and browser: links.
        event(0, "2026-11-12T10:00:00Z", "u1", "203.0.113.1", Some(SAFARI)),
        // Address only: links whatever the browser.
        event(0, "2026-11-12T10:00:01Z", "u2", "203.0.113.2", None),
        // Same address, other browser: no link.
        event(0, "2026-11-12T10:00:02Z", "u3", "203.0.113.3", Some(SAFARI)),
        // Same browser, other address: no link.
        event(
            0,
            "2026-11-12T10:00:03Z",
            "u4",
            "198.51.100.4",
            Some(SAFARI),
        ),
        // The visit is 42 days before the event, longer than link_days: no link.
        event(0, "2026-11-12T10:00:04Z", "u5", "203.0.113.5", Some(SAFARI)),
    ];
    (visits, events)
}

fn expected() -> Vec<(String, String, String)> {
    vec![
        ("u1".into(), "203.0.113.1".into(), SAFARI.into()),
        ("u2".into(), "203.0.113.2".into(), SAFARI.into()),
    ]
}

#[test]
fn links_follow_address_browser_and_window_and_not_the_decoys() {
    let dir = tempfile::tempdir().unwrap();
    let (visits, events) = fixture();
    let mut committed = Committed::new();
    write(dir.path(), &mut committed, &visits);
    refresh(dir.path(), &committed, &Matched::new(), &events);
    assert_eq!(linked(dir.path()), expected());
    let store = LinkStore::load(dir.path()).unwrap();
    let link = &store.links.iter().find(|l| l.user == "u1").unwrap();
    assert!(link.by_agent);
    assert_eq!(link.kind, "registration");
    assert_eq!(link.visit_path, "/pricing");
    assert_eq!(
        link.visit_utm.get("utm_source").map(String::as_str),
        Some("linkedin")
    );
}

#[test]
fn links_do_not_depend_on_whether_events_or_visits_arrive_first() {
    let (visits, events) = fixture();
    // Events first, visits in a later run.
    let dir = tempfile::tempdir().unwrap();
    let mut committed = Committed::new();
    let matched = refresh(dir.path(), &committed, &Matched::new(), &events);
    assert!(linked(dir.path()).is_empty());
    write(dir.path(), &mut committed, &visits);
    let matched = refresh(dir.path(), &committed, &matched, &[]);
    assert_eq!(linked(dir.path()), expected());
    // Run again with nothing new, and with the same events again: nothing changes.
    let before = LinkStore::load(dir.path()).unwrap();
    let matched = refresh(dir.path(), &committed, &matched, &[]);
    refresh(dir.path(), &committed, &matched, &events);
    assert_eq!(LinkStore::load(dir.path()).unwrap(), before);
}

#[test]
fn a_visit_after_the_event_or_before_the_window_does_not_link() {
    let dir = tempfile::tempdir().unwrap();
    let mut committed = Committed::new();
    write(
        dir.path(),
        &mut committed,
        &[
            // 14 days and one second before the event: outside.
            visit("2026-10-29T09:59:59Z", "203.0.113.9", SAFARI),
            // After it: the event cannot have seen it.
            visit("2026-11-12T10:00:01Z", "203.0.113.9", FIREFOX),
        ],
    );
    let e = event(0, "2026-11-12T10:00:00Z", "u9", "203.0.113.9", None);
    refresh(dir.path(), &committed, &Matched::new(), &[e]);
    assert!(linked(dir.path()).is_empty());
    // Exactly 14 days before: inside.
    write(
        dir.path(),
        &mut committed,
        &[visit("2026-10-29T10:00:00Z", "203.0.113.9", SAFARI)],
    );
    refresh(dir.path(), &committed, &Matched::new(), &[]);
    assert_eq!(linked(dir.path()).len(), 1);
}

#[test]
fn a_day_of_sightings_is_kept_as_one_and_covers_each_window() {
    let mut store = LinkStore::default();
    let a = event(0, "2026-11-12T01:00:00Z", "u", "203.0.113.1", None);
    let b = event(0, "2026-11-12T23:00:00Z", "u", "203.0.113.1", None);
    let widened = store.add_sightings([&a, &b].into_iter().filter_map(sighting).collect());
    assert_eq!(widened.len(), 2);
    assert_eq!(store.sightings.len(), 1);
    let s = &store.sightings[0];
    assert_eq!((s.first, s.last), (a.time, b.time));
    // A visit between the two is linked to the later event, whose window holds it.
    let v = visit("2026-11-12T12:00:00Z", "203.0.113.1", SAFARI);
    let link = candidate(s, &v, Duration::days(14)).unwrap();
    assert_eq!(link.event, b.id);
    assert!(
        store.add_sightings(vec![sighting(&a).unwrap()]).is_empty(),
        "the same event again widens nothing"
    );
}
