//! Where the leads watched for their outcome ([`super::outcomes`]) are kept:
//! `data_dir/outcomes/watched.gN.json` (mode 0600: addresses and browsers), N named by the state.
//!
//! The list grows with every lead that alerts and is kept `link_days`, so it is not in the state
//! every run reads and writes: a scan opens it only to watch new leads or when an outcome may
//! have happened (see [`CheckMark`]). It still changes with the state: the told flags of the
//! notices a scan queues are written as a new generation before the state that holds the
//! notices and names that generation, so a run killed anywhere tells each outcome once. Files
//! the state does not name (a killed run's, or superseded) are removed.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::outcomes::Outcomes;
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

/// The watched leads: the generation the state names, and the list once read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Watchlist {
    generation: Option<u64>,
    pub checked: Option<CheckMark>,
    list: Option<Outcomes>,
    dirty: bool,
}

/// How the state records it.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    generation: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    checked: Option<CheckMark>,
}

impl Serialize for Watchlist {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Record {
            generation: self.generation,
            checked: self.checked.clone(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Watchlist {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Watchlist, D::Error> {
        // The build before kept the list itself in the state: read, moved to a file at the
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
                checked: r.checked,
                list: None,
                dirty: false,
            },
            Either::Inline(list) => Watchlist {
                generation: None,
                checked: None,
                dirty: !list.is_empty(),
                list: Some(list),
            },
        })
    }
}

fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join("outcomes")
}

fn path(data_dir: &Path, generation: u64) -> PathBuf {
    dir(data_dir).join(format!("watched.g{generation}.json"))
}

impl Watchlist {
    /// Whether the state names nothing to keep (for `skip_serializing_if`).
    pub fn is_unused(&self) -> bool {
        self.generation.is_none()
            && self.checked.is_none()
            && self.list.as_ref().is_none_or(Outcomes::is_empty)
    }

    /// Whether no lead is watched, without reading the file when the state names none.
    pub fn is_empty(&self) -> bool {
        match &self.list {
            Some(list) => list.is_empty(),
            None => self.generation.is_none(),
        }
    }

    /// The list, read on first use, to change: [`Watchlist::commit`] writes it.
    pub fn open(&mut self, data_dir: &Path) -> Result<&mut Outcomes> {
        if self.list.is_none() {
            let list = match self.generation {
                None => Outcomes::new(),
                Some(g) => {
                    let path = path(data_dir, g);
                    let bytes = std::fs::read(&path).with_context(|| {
                        format!("cannot read {} named by the state", path.display())
                    })?;
                    serde_json::from_slice(&bytes).with_context(|| {
                        format!("{} is corrupt (edited by hand?)", path.display())
                    })?
                }
            };
            self.list = Some(list);
        }
        self.dirty = true;
        Ok(self.list.get_or_insert_default())
    }

    /// Writes the list opened as a new generation (durably) for the state about to be saved.
    pub fn commit(&mut self, data_dir: &Path) -> Result<()> {
        let Some(list) = self.list.as_ref().filter(|_| self.dirty) else {
            return Ok(());
        };
        let generation = self.generation.map_or(1, |g| g + 1);
        let dir = dir(data_dir);
        crate::fsutil::create_private_dir(&dir)?;
        let bytes = serde_json::to_vec(list).context("cannot serialise the watched leads")?;
        // Durable in its directory before the state that names it (the rename is fsynced).
        crate::fsutil::write_atomic(&path(data_dir, generation), &bytes, 0o600)?;
        self.generation = Some(generation);
        self.dirty = false;
        Ok(())
    }

    /// Removes the files the state (as saved) does not name.
    pub fn remove_unreferenced(&self, data_dir: &Path) -> Result<()> {
        let keep = self.generation.map(|g| path(data_dir, g));
        for file in crate::fsutil::list(&dir(data_dir), ".json")? {
            if Some(&file) != keep.as_ref() {
                crate::fsutil::remove_file(&file)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::outcomes::Watched;

    fn watched() -> Watched {
        Watched {
            ip: "203.0.113.45".parse().unwrap(),
            legacy_user_agent: None,
            alerted_at: chrono::DateTime::UNIX_EPOCH,
            registered_told: false,
            converted_told: true,
        }
    }

    #[test]
    fn a_list_committed_is_read_back_by_the_state_that_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Watchlist::default();
        assert!(w.is_unused());
        w.open(dir.path()).unwrap().insert("v".into(), watched());
        w.commit(dir.path()).unwrap();
        let saved = serde_json::to_string(&w).unwrap();
        assert_eq!(saved, r#"{"generation":1}"#);
        let mut back: Watchlist = serde_json::from_str(&saved).unwrap();
        assert!(!back.is_empty());
        assert_eq!(back.open(dir.path()).unwrap()["v"], watched());
        back.commit(dir.path()).unwrap();
        // Generation 1 is superseded once the state naming 2 is saved.
        back.remove_unreferenced(dir.path()).unwrap();
        let files = crate::fsutil::list(&dir.path().join("outcomes"), ".json").unwrap();
        assert_eq!(files, vec![path(dir.path(), 2)]);
    }

    #[test]
    fn a_list_kept_in_the_state_by_the_build_before_moves_to_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let inline = serde_json::to_string(&Outcomes::from([("v".into(), watched())])).unwrap();
        let mut w: Watchlist = serde_json::from_str(&inline).unwrap();
        assert!(!w.is_empty());
        w.commit(dir.path()).unwrap();
        assert_eq!(w.generation, Some(1));
        let mut back: Watchlist =
            serde_json::from_str(&serde_json::to_string(&w).unwrap()).unwrap();
        assert_eq!(back.open(dir.path()).unwrap().len(), 1);
    }

    #[test]
    fn a_missing_file_named_by_the_state_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut w: Watchlist = serde_json::from_str(r#"{"generation":3}"#).unwrap();
        let err = format!("{:#}", w.open(dir.path()).unwrap_err());
        assert!(err.contains("watched.g3.json"), "{err}");
    }
}
