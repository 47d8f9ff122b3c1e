//! Day files of one rollup kind, `rollups/KIND/DAY.gN.json`, where N is the state generation
//! that wrote them. The state names the current generation of every day, so rollups change
//! together with the cursor or checkpoints that produced them, in one atomic state write; files
//! no state names (a killed run's, or superseded ones) are deleted.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::NaiveDate;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Day → generation, as kept in the state.
pub type Generations = BTreeMap<NaiveDate, u64>;

pub struct DayFiles {
    dir: PathBuf,
}

impl DayFiles {
    pub fn new(data_dir: &Path, kind: &str) -> DayFiles {
        DayFiles {
            dir: data_dir.join("rollups").join(kind),
        }
    }

    fn path(&self, day: NaiveDate, generation: u64) -> PathBuf {
        self.dir.join(format!("{day}.g{generation}.json"))
    }

    /// The current rollup of `day`, or an empty one when the state names none.
    pub fn load<T: DeserializeOwned + Default>(
        &self,
        current: &Generations,
        day: NaiveDate,
    ) -> Result<T> {
        let Some(generation) = current.get(&day) else {
            return Ok(T::default());
        };
        let path = self.path(day, *generation);
        let bytes = std::fs::read(&path)
            .with_context(|| format!("cannot read rollup {} named by the state", path.display()))?;
        serde_json::from_slice(&bytes)
            .with_context(|| format!("rollup {} is corrupt", path.display()))
    }

    pub fn load_all<T: DeserializeOwned + Default>(
        &self,
        current: &Generations,
    ) -> Result<BTreeMap<NaiveDate, T>> {
        current
            .keys()
            .map(|day| Ok((*day, self.load(current, *day)?)))
            .collect()
    }

    /// Writes `day` as `generation` and fsyncs it. No state names this generation yet, so even
    /// a half-written file would never be read; it is still written to a temporary name and
    /// renamed, so that no file ever holds half a rollup under a rollup's name (the next run
    /// removes leftovers). Call [`DayFiles::sync`] after the last day, before committing the
    /// state. Returns the file's path.
    pub fn write<T: Serialize>(
        &self,
        day: NaiveDate,
        generation: u64,
        rollup: &T,
    ) -> Result<PathBuf> {
        crate::fsutil::create_private_dir(&self.dir)?;
        let bytes = serde_json::to_vec(rollup).context("cannot serialise a rollup")?;
        let path = self.path(day, generation);
        let mut tmp = crate::fsutil::TempFile::beside(&path, 0o600)?;
        tmp.write_all(&bytes)?;
        tmp.commit()?;
        Ok(path)
    }

    /// Makes the files [`DayFiles::write`] created durable in their directory.
    pub fn sync(&self) -> Result<()> {
        crate::fsutil::sync_dir(&self.dir)
    }

    /// Deletes every file `current` does not name.
    pub fn remove_unreferenced(&self, current: &Generations) -> Result<()> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(err) => {
                return Err(err).with_context(|| format!("cannot list {}", self.dir.display()));
            }
        };
        for entry in entries {
            let entry = entry.with_context(|| format!("cannot list {}", self.dir.display()))?;
            let name = entry.file_name();
            let keep = parse_name(&name.to_string_lossy())
                .is_some_and(|(day, generation)| current.get(&day) == Some(&generation));
            if !keep {
                let path = entry.path();
                std::fs::remove_file(&path)
                    .with_context(|| format!("cannot remove stale rollup {}", path.display()))?;
            }
        }
        Ok(())
    }
}

fn parse_name(name: &str) -> Option<(NaiveDate, u64)> {
    let stem = name.strip_suffix(".json")?;
    let (day, generation) = stem.split_once(".g")?;
    Some((day.parse().ok()?, generation.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_strays_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let files = DayFiles::new(dir.path(), "traffic");
        let day = NaiveDate::from_ymd_opt(2026, 3, 29).unwrap();
        assert_eq!(parse_name("2026-03-29.g42.json"), Some((day, 42)));
        assert_eq!(parse_name(".2026-03-29.g42.json.tmp"), None);
        files.write(day, 1, &5u64).unwrap();
        files.write(day, 2, &6u64).unwrap();
        let current = Generations::from([(day, 2)]);
        files.remove_unreferenced(&current).unwrap();
        assert_eq!(files.load::<u64>(&current, day).unwrap(), 6);
        assert_eq!(std::fs::read_dir(&files.dir).unwrap().count(), 1);
    }
}
