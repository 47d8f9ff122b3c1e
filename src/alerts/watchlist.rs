//! Where the leads watched for their outcome ([`super::outcomes`]) are kept:
//! `data_dir/outcomes/watched.gN.jsonl` (mode 0600: addresses), N and the length that holds
//! named by the state.
//!
//! The list grows with every lead that alerts and is kept `link_days`, so it is neither in the
//! state every run reads and writes nor rewritten by every run that adds to it: the file is a
//! journal, one line per change (a lead watched, or the told flags of a lead), and a run
//! appends its lines and saves their end in the state. A line past that end is a killed run's
//! and is cut off by the next append, so each outcome is told once wherever a run dies. The
//! journal is read only when an outcome may have happened (see [`CheckMark`]) or the list is
//! erased from, and written afresh as a new generation (leads older than the window dropped)
//! on the first run of each UTC day and on every erasure, so an erased address is in no file
//! once the state naming the new one is saved. Files the state does not name are removed.

use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::outcomes::{Outcomes, Watched};
use crate::events::event::EventId;

/// What a check of the outcomes saw: the events folded and the links store. While both are
/// the same, no watched lead can have a new outcome (users change only by events, links only
/// in that store), so the check is skipped.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckMark {
    #[serde(default)]
    pub events: Option<EventId>,
    /// The links file's length and modification time (`LEN:NANOS`), or none without one.
    #[serde(default)]
    pub links: Option<String>,
}

impl CheckMark {
    pub fn now(data_dir: &Path, events: Option<EventId>) -> CheckMark {
        let links = std::fs::metadata(crate::links::path(data_dir))
            .ok()
            .map(|m| {
                let nanos = m
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_nanos());
                format!("{}:{nanos}", m.len())
            });
        CheckMark { events, links }
    }
}

/// The watched leads: the journal the state names, what this run adds to it, and the list
/// once read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Watchlist {
    generation: Option<u64>,
    /// Where the journal's lines end; none for a list of the build before (one JSON map).
    length: Option<u64>,
    /// The UTC day the journal was last written afresh.
    written: Option<NaiveDate>,
    pub checked: Option<CheckMark>,
    list: Option<Outcomes>,
    /// This run's lines, appended at [`Watchlist::commit`].
    pending: Vec<u8>,
    /// The list changed in ways lines do not say (an erasure, the old format): written afresh.
    rewrite: bool,
}

/// How the state records it.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    generation: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    length: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    written: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    checked: Option<CheckMark>,
}

/// A journal line: a lead watched (a visitor watched already keeps its first alert), or with
/// `set`, a lead as it now is.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    key: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    set: bool,
    lead: Watched,
}

impl Serialize for Watchlist {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Record {
            generation: self.generation,
            length: self.length,
            written: self.written,
            checked: self.checked.clone(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Watchlist {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Watchlist, D::Error> {
        // Two builds before kept the list itself in the state: read, moved to a file at the
        // next save.
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Record(Record),
            Inline(Outcomes),
        }
        Ok(match Either::deserialize(d)? {
            Either::Record(r) => Watchlist {
                generation: r.generation,
                length: r.length,
                written: r.written,
                checked: r.checked,
                ..Watchlist::default()
            },
            Either::Inline(list) => Watchlist {
                rewrite: !list.is_empty(),
                list: Some(list),
                ..Watchlist::default()
            },
        })
    }
}

fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join("outcomes")
}

fn path(data_dir: &Path, generation: u64) -> PathBuf {
    dir(data_dir).join(format!("watched.g{generation}.jsonl"))
}

/// The build before's file: the list as one JSON map.
fn map_path(data_dir: &Path, generation: u64) -> PathBuf {
    dir(data_dir).join(format!("watched.g{generation}.json"))
}

fn push_line(out: &mut Vec<u8>, key: &str, lead: &Watched, set: bool) -> Result<()> {
    let line = Line {
        key: key.to_string(),
        set,
        lead: lead.clone(),
    };
    serde_json::to_writer(&mut *out, &line).context("cannot serialise a watched lead")?;
    out.push(b'\n');
    Ok(())
}

/// Applies journal lines to the list.
fn replay(list: &mut Outcomes, bytes: &[u8], path: &Path) -> Result<()> {
    for (n, line) in bytes.split(|b| *b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let line: Line = serde_json::from_slice(line).with_context(|| {
            format!(
                "{} line {} is corrupt (edited by hand?)",
                path.display(),
                n + 1
            )
        })?;
        if line.set {
            list.insert(line.key, line.lead);
        } else {
            list.entry(line.key).or_insert(line.lead);
        }
    }
    Ok(())
}

impl Watchlist {
    /// Whether the state names nothing to keep (for `skip_serializing_if`).
    pub fn is_unused(&self) -> bool {
        self.generation.is_none()
            && self.checked.is_none()
            && self.pending.is_empty()
            && self.list.as_ref().is_none_or(Outcomes::is_empty)
    }

    /// Whether no lead is watched, without reading the file when the state names none.
    pub fn is_empty(&self) -> bool {
        match &self.list {
            Some(list) => list.is_empty(),
            None => self.generation.is_none() && self.pending.is_empty(),
        }
    }

    /// The list, read on first use (with this run's lines).
    fn load(&mut self, data_dir: &Path) -> Result<&mut Outcomes> {
        if self.list.is_none() {
            let mut list = Outcomes::new();
            match (self.generation, self.length) {
                (None, _) => {}
                (Some(g), None) => {
                    let path = map_path(data_dir, g);
                    let bytes = read_named(&path)?;
                    list = serde_json::from_slice(&bytes).with_context(|| {
                        format!("{} is corrupt (edited by hand?)", path.display())
                    })?;
                    self.rewrite = true;
                }
                (Some(g), Some(length)) => {
                    let path = path(data_dir, g);
                    let bytes = read_named(&path)?;
                    let Some(bytes) = usize::try_from(length).ok().and_then(|l| bytes.get(..l))
                    else {
                        anyhow::bail!(
                            "{} is shorter than the {length} bytes the state names",
                            path.display()
                        );
                    };
                    replay(&mut list, bytes, &path)?;
                }
            }
            replay(&mut list, &self.pending, Path::new("(this run)"))?;
            self.list = Some(list);
        }
        Ok(self.list.get_or_insert_default())
    }

    /// The list, to read.
    pub fn read(&mut self, data_dir: &Path) -> Result<&Outcomes> {
        Ok(self.load(data_dir)?)
    }

    /// The list to change in any way (an erasure): [`Watchlist::commit`] writes it afresh.
    pub fn open(&mut self, data_dir: &Path) -> Result<&mut Outcomes> {
        self.load(data_dir)?;
        self.rewrite = true;
        Ok(self.list.get_or_insert_default())
    }

    /// Watches these leads (a visitor watched already keeps its first alert). The journal is
    /// written afresh, without the leads watched longer than `window`, once a UTC day.
    pub fn watch(
        &mut self,
        data_dir: &Path,
        now: DateTime<Utc>,
        window: Duration,
        leads: Vec<(String, Watched)>,
    ) -> Result<()> {
        let today = now.date_naive();
        if self.written != Some(today) && !self.is_empty() {
            self.open(data_dir)?
                .retain(|_, w| now - w.alerted_at <= window);
        }
        self.written.get_or_insert(today);
        for (key, lead) in leads {
            push_line(&mut self.pending, &key, &lead, false)?;
            if let Some(list) = &mut self.list {
                list.entry(key).or_insert(lead);
            }
        }
        Ok(())
    }

    /// Lends the list to `change` (which may mark leads told and forget old ones) and journals
    /// the leads it changed; those it forgot are dropped at the next fresh write.
    pub fn update<R>(
        &mut self,
        data_dir: &Path,
        change: impl FnOnce(&mut Outcomes) -> R,
    ) -> Result<R> {
        let list = self.load(data_dir)?;
        let before = list.clone();
        let out = change(list);
        let mut lines = Vec::new();
        for (key, lead) in list.iter() {
            if before.get(key) != Some(lead) {
                push_line(&mut lines, key, lead, true)?;
            }
        }
        self.pending.extend_from_slice(&lines);
        Ok(out)
    }

    /// Writes this run's changes (durably) for the state about to be saved: appended to the
    /// journal, or a new generation when the list is to be written afresh.
    pub fn commit(&mut self, data_dir: &Path, now: DateTime<Utc>) -> Result<()> {
        if self.rewrite {
            let mut bytes = Vec::new();
            for (key, lead) in self.list.iter().flatten() {
                push_line(&mut bytes, key, lead, false)?;
            }
            return self.write_fresh(data_dir, &bytes, now.date_naive());
        }
        if self.pending.is_empty() {
            return Ok(());
        }
        let (Some(g), Some(length)) = (self.generation, self.length) else {
            let pending = std::mem::take(&mut self.pending);
            return self.write_fresh(data_dir, &pending, now.date_naive());
        };
        let path = path(data_dir, g);
        let append = || -> std::io::Result<u64> {
            let mut file = crate::fsutil::open_rw(&path, false)?;
            // Lines past the state's end are a killed run's: cut off.
            file.set_len(length)?;
            file.seek(SeekFrom::Start(length))?;
            file.write_all(&self.pending)?;
            file.sync_data()?;
            Ok(length + self.pending.len() as u64)
        };
        let end = append().with_context(|| format!("cannot append to {}", path.display()))?;
        self.length = Some(end);
        self.pending.clear();
        Ok(())
    }

    fn write_fresh(&mut self, data_dir: &Path, bytes: &[u8], today: NaiveDate) -> Result<()> {
        let generation = self.generation.map_or(1, |g| g + 1);
        crate::fsutil::create_private_dir(&dir(data_dir))?;
        // Durable in its directory before the state that names it (the rename is fsynced).
        crate::fsutil::write_atomic(&path(data_dir, generation), bytes, 0o600)?;
        self.generation = Some(generation);
        self.length = Some(bytes.len() as u64);
        self.written = Some(today);
        self.pending.clear();
        self.rewrite = false;
        Ok(())
    }

    /// Removes the files the state (as saved) does not name.
    pub fn remove_unreferenced(&self, data_dir: &Path) -> Result<()> {
        let keep = self.generation.map(|g| match self.length {
            Some(_) => path(data_dir, g),
            None => map_path(data_dir, g),
        });
        let dir = dir(data_dir);
        let files = crate::fsutil::list(&dir, ".jsonl")?;
        for file in files.into_iter().chain(crate::fsutil::list(&dir, ".json")?) {
            if Some(&file) != keep.as_ref() {
                crate::fsutil::remove_file(&file)?;
            }
        }
        Ok(())
    }
}

fn read_named(path: &Path) -> Result<Vec<u8>> {
    crate::fsutil::read(path)
        .with_context(|| format!("cannot read {} named by the state", path.display()))
}

#[cfg(test)]
mod tests {
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
        w.watch(
            dir.path(),
            at(1),
            WINDOW,
            vec![("a".into(), lead("192.0.2.1", 1))],
        )
        .unwrap();
        w.commit(dir.path(), at(1)).unwrap();
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
        w.watch(
            dir.path(),
            at(1),
            WINDOW,
            vec![("a".into(), lead("192.0.2.1", 1))],
        )
        .unwrap();
        w.commit(dir.path(), at(1)).unwrap();
        let state = saved(&w);
        // A run appends b, then dies before its state is saved.
        let mut killed = saved(&state);
        killed
            .watch(
                dir.path(),
                at(1),
                WINDOW,
                vec![("b".into(), lead("192.0.2.2", 1))],
            )
            .unwrap();
        killed.commit(dir.path(), at(1)).unwrap();
        assert_eq!(saved(&state).read(dir.path()).unwrap().len(), 1);
        let mut next = saved(&state);
        next.watch(
            dir.path(),
            at(1),
            WINDOW,
            vec![("c".into(), lead("192.0.2.3", 1))],
        )
        .unwrap();
        next.commit(dir.path(), at(1)).unwrap();
        let list = saved(&next).read(dir.path()).unwrap().clone();
        assert_eq!(list.keys().collect::<Vec<_>>(), ["a", "c"]);
        let text = std::fs::read_to_string(path(dir.path(), 1)).unwrap();
        assert!(!text.contains("192.0.2.2"), "{text}");
    }

    #[test]
    fn a_visitor_watched_again_keeps_its_first_alert_and_told_flags_are_journaled() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Watchlist::default();
        w.watch(
            dir.path(),
            at(1),
            WINDOW,
            vec![("a".into(), lead("192.0.2.1", 1))],
        )
        .unwrap();
        w.commit(dir.path(), at(1)).unwrap();
        let mut next = saved(&w);
        let told = next
            .update(dir.path(), |l| {
                l.get_mut("a").unwrap().converted_told = true;
                l.len()
            })
            .unwrap();
        assert_eq!(told, 1);
        next.watch(
            dir.path(),
            at(1),
            WINDOW,
            vec![("a".into(), lead("192.0.2.1", 1))],
        )
        .unwrap();
        next.commit(dir.path(), at(1)).unwrap();
        let list = saved(&next).read(dir.path()).unwrap().clone();
        assert!(list["a"].converted_told);
        assert_eq!(list["a"].alerted_at, at(1));
    }

    #[test]
    fn the_first_run_of_a_day_writes_a_new_generation_without_the_leads_out_of_the_window() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Watchlist::default();
        let old = vec![("old".into(), lead("192.0.2.1", 1))];
        w.watch(dir.path(), at(1), WINDOW, old).unwrap();
        w.commit(dir.path(), at(1)).unwrap();
        let mut next = saved(&w);
        let new = vec![("new".into(), lead("192.0.2.2", 20))];
        next.watch(dir.path(), at(20), WINDOW, new).unwrap();
        next.commit(dir.path(), at(20)).unwrap();
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
        file.watch(
            dir.path(),
            at(1),
            WINDOW,
            vec![("w".into(), lead("192.0.2.9", 1))],
        )
        .unwrap();
        file.commit(dir.path(), at(1)).unwrap();
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
}
