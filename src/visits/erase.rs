//! Erasure in the visits store: a visit of the target is blanked in place (its line
//! overwritten with spaces, so every committed length and scan offset stays valid); another
//! person's visit that only mentions the address (in a referrer, say) keeps its place with the
//! address masked; the gzip archives are rewritten without the target's lines.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::Path;

use anyhow::Result;

use super::{archive_dir, line_ip, visits_dir};
use crate::erase::{Erased, Target, blank_lines};
use crate::fsutil;

/// Erases (or, in a dry run, finds) the target's visits.
pub fn erase(data_dir: &Path, target: &Target, dry: bool) -> Result<Erased> {
    let mut erased = Erased::default();
    for path in fsutil::list(&visits_dir(data_dir), ".jsonl")? {
        let mut found = Vec::new();
        let mut seen = BTreeSet::new();
        let n = blank_lines(&path, target, dry, Some(&line_ip), &mut |line| {
            note(line, &mut seen, dry.then_some(&mut found));
        })?;
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
            if line_ip(line.as_bytes()).is_some_and(|ip| !target.matches(ip)) {
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
    Ok(erased)
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
