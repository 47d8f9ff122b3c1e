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
mod tests;
