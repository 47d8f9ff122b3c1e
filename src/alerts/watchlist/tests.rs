//! The watch list's journal: appends, cut-off tails, fresh writes, erasure and older formats.

use super::*;

fn at(day: u32) -> DateTime<Utc> {
    format!("2026-11-{day:02}T12:00:00Z").parse().unwrap()
}

fn lead(ip: &str, day: u32) -> Watched {
    Watched {
        ip: ip.parse().unwrap(),
        legacy_user_agent: None,
        alerted_at: at(day),
        registered_told: false,
        converted_told: false,
    }
}

const WINDOW: Duration = Duration::days(14);

/// Watches one lead alerted on `day` and commits, as a scan of that day does.
fn add(w: &mut Watchlist, dir: &Path, day: u32, key: &str, ip: &str) {
    w.watch(dir, at(day), WINDOW, vec![(key.into(), lead(ip, day))])
        .unwrap();
    w.commit(dir, at(day)).unwrap();
}

/// The state as saved and read back by the next run.
fn saved(w: &Watchlist) -> Watchlist {
    serde_json::from_str(&serde_json::to_string(w).unwrap()).unwrap()
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut all = crate::fsutil::list(&dir.join("outcomes"), ".jsonl").unwrap();
    all.extend(crate::fsutil::list(&dir.join("outcomes"), ".json").unwrap());
    all
}

#[test]
fn leads_watched_are_appended_and_read_back_by_the_state_that_names_their_end() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = Watchlist::default();
    assert!(w.is_unused());
    add(&mut w, dir.path(), 1, "a", "192.0.2.1");
    let mut next = saved(&w);
    // The same day: appended to the same file, which is not read.
    next.watch(
        dir.path(),
        at(1),
        WINDOW,
        vec![("b".into(), lead("192.0.2.2", 1))],
    )
    .unwrap();
    assert!(next.list.is_none());
    next.commit(dir.path(), at(1)).unwrap();
    assert_eq!(next.generation, Some(1));
    let mut back = saved(&next);
    let list = back.read(dir.path()).unwrap();
    assert_eq!(list.keys().collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(files(dir.path()), vec![path(dir.path(), 1)]);
}

#[test]
fn lines_a_killed_run_appended_are_cut_off_by_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = Watchlist::default();
    add(&mut w, dir.path(), 1, "a", "192.0.2.1");
    let state = saved(&w);
    // A run appends b, then dies before its state is saved.
    let mut killed = saved(&state);
    add(&mut killed, dir.path(), 1, "b", "192.0.2.2");
    assert_eq!(saved(&state).read(dir.path()).unwrap().len(), 1);
    let mut next = saved(&state);
    add(&mut next, dir.path(), 1, "c", "192.0.2.3");
    let list = saved(&next).read(dir.path()).unwrap().clone();
    assert_eq!(list.keys().collect::<Vec<_>>(), ["a", "c"]);
    let text = std::fs::read_to_string(path(dir.path(), 1)).unwrap();
    assert!(!text.contains("192.0.2.2"), "{text}");
}

#[test]
fn a_visitor_watched_again_keeps_its_first_alert_and_told_flags_are_journaled() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = Watchlist::default();
    add(&mut w, dir.path(), 1, "a", "192.0.2.1");
    let mut next = saved(&w);
    let told = next
        .update(dir.path(), |l| {
            l.get_mut("a").unwrap().converted_told = true;
            l.len()
        })
        .unwrap();
    assert_eq!(told, 1);
    add(&mut next, dir.path(), 1, "a", "192.0.2.1");
    let list = saved(&next).read(dir.path()).unwrap().clone();
    assert!(list["a"].converted_told);
    assert_eq!(list["a"].alerted_at, at(1));
}

#[test]
fn the_first_run_of_a_day_writes_a_new_generation_without_the_leads_out_of_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = Watchlist::default();
    add(&mut w, dir.path(), 1, "old", "192.0.2.1");
    let mut next = saved(&w);
    add(&mut next, dir.path(), 20, "new", "192.0.2.2");
    next.remove_unreferenced(dir.path()).unwrap();
    assert_eq!(files(dir.path()), vec![path(dir.path(), 2)]);
    let list = saved(&next).read(dir.path()).unwrap().clone();
    assert_eq!(list.keys().collect::<Vec<_>>(), ["new"]);
}

#[test]
fn an_erasure_leaves_the_address_in_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = Watchlist::default();
    let leads = vec![
        ("a".into(), lead("192.0.2.1", 1)),
        ("b".into(), lead("192.0.2.2", 1)),
    ];
    w.watch(dir.path(), at(1), WINDOW, leads).unwrap();
    w.commit(dir.path(), at(1)).unwrap();
    let mut next = saved(&w);
    next.open(dir.path()).unwrap().remove("a");
    next.commit(dir.path(), at(1)).unwrap();
    next.remove_unreferenced(dir.path()).unwrap();
    for file in files(dir.path()) {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(!text.contains("192.0.2.1"), "{}: {text}", file.display());
    }
    assert_eq!(saved(&next).read(dir.path()).unwrap().len(), 1);
}

#[test]
fn lists_kept_by_the_builds_before_move_to_a_journal() {
    let dir = tempfile::tempdir().unwrap();
    let map = Outcomes::from([("v".into(), lead("192.0.2.1", 1))]);
    // Two builds before: the map inline in the state.
    let mut inline: Watchlist =
        serde_json::from_str(&serde_json::to_string(&map).unwrap()).unwrap();
    inline.commit(dir.path(), at(1)).unwrap();
    assert_eq!(saved(&inline).read(dir.path()).unwrap(), &map);
    // The build before: the map in watched.gN.json, named without a length.
    std::fs::write(map_path(dir.path(), 7), serde_json::to_vec(&map).unwrap()).unwrap();
    let mut file: Watchlist = serde_json::from_str(r#"{"generation":7}"#).unwrap();
    add(&mut file, dir.path(), 1, "w", "192.0.2.9");
    file.remove_unreferenced(dir.path()).unwrap();
    assert_eq!(files(dir.path()), vec![path(dir.path(), 8)]);
    assert_eq!(saved(&file).read(dir.path()).unwrap().len(), 2);
}

#[test]
fn a_missing_file_named_by_the_state_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut w: Watchlist = serde_json::from_str(r#"{"generation":3,"length":9}"#).unwrap();
    let err = format!("{:#}", w.read(dir.path()).unwrap_err());
    assert!(err.contains("watched.g3.jsonl"), "{err}");
}
