//! Erasure in the visits store: a visit of the target is blanked in place (its line
//! overwritten with spaces, so every committed length and scan offset stays valid); another
//! person's visit that only mentions the address (in a referrer, say) keeps its place with the
//! address masked; the gzip archives are rewritten without the target's lines.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::Path;

use anyhow::Result;
use chrono::NaiveDate;

use super::{archive_dir, identity, line_ip, visits_dir};
use crate::erase::{Erased, Target, blank_lines};
use crate::fsutil;

/// The identities (see [`super::identity`]) of the visits an erasure removed, by day.
pub type Removed = BTreeMap<NaiveDate, Vec<u64>>;

/// Erases (or, in a dry run, finds) the target's visits; returns what went, and which visits.
pub fn erase(data_dir: &Path, target: &Target, dry: bool) -> Result<(Erased, Removed)> {
    let mut erased = Erased::default();
    let mut removed = Removed::new();
    for path in fsutil::list(&visits_dir(data_dir), ".jsonl")? {
        let mut found = Vec::new();
        let mut seen = BTreeSet::new();
        let day = day_of(&path, ".jsonl");
        let mut gone = Vec::new();
        let n = blank_lines(&path, target, dry, Some(&line_ip), &mut |_, line| {
            note(line, &mut seen, dry.then_some(&mut found));
            if line_ip(line).is_some_and(|ip| target.matches(ip)) {
                gone.extend(identity(line));
            }
        })?;
        if let Some(day) = day {
            removed.entry(day).or_default().append(&mut gone);
        }
        erased.seen.extend(seen);
        erased.found.extend(found);
        if n > 0 {
            erased.records += n;
            if !dry {
                erased.changed(
                    &path,
                    format!(
                        "{} blanked or masked in place",
                        crate::words::count(n as u64, "line")
                    ),
                );
            }
        }
    }
    for path in fsutil::list(&archive_dir(data_dir), ".jsonl.gz")? {
        let bytes = fsutil::read_gz(&path)?;
        if !target.in_text(&bytes) {
            continue;
        }
        let text = String::from_utf8_lossy(&bytes);
        let mut kept = String::new();
        let mut n = 0;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            if !target.in_text(line.as_bytes()) {
                kept.push_str(line);
                kept.push('\n');
                continue;
            }
            n += 1;
            note(
                line.as_bytes(),
                &mut erased.seen,
                dry.then_some(&mut erased.found),
            );
            if line_ip(line.as_bytes()).is_some_and(|ip| target.matches(ip)) {
                if let Some(day) = day_of(&path, ".jsonl.gz") {
                    removed
                        .entry(day)
                        .or_default()
                        .extend(identity(line.as_bytes()));
                }
            } else if line_ip(line.as_bytes()).is_some() {
                let mut bytes = line.as_bytes().to_vec();
                target.mask(&mut bytes);
                kept.push_str(&String::from_utf8_lossy(&bytes));
                kept.push('\n');
            }
        }
        erased.records += n;
        if !dry {
            fsutil::write_gz_atomic(&path, kept.as_bytes())?;
            erased.changed(
                &path,
                format!(
                    "archive written again without {}",
                    crate::words::count(n, "line")
                ),
            );
        }
    }
    Ok((erased, removed))
}

/// The day of a visits file (`DAY.jsonl`, or an archive `DAY.jsonl.gz`).
fn day_of(path: &Path, suffix: &str) -> Option<NaiveDate> {
    path.file_name()?
        .to_str()?
        .strip_suffix(suffix)?
        .parse()
        .ok()
}

/// Remembers the address of a matching visit, and in a dry run the visit itself.
fn note(line: &[u8], seen: &mut BTreeSet<IpAddr>, found: Option<&mut Vec<serde_json::Value>>) {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(line) else {
        return;
    };
    if let Some(ip) = value["ip"]
        .as_str()
        .and_then(|ip| ip.parse::<IpAddr>().ok())
    {
        seen.insert(ip.to_canonical());
    }
    if let Some(found) = found {
        found.push(value);
    }
}
