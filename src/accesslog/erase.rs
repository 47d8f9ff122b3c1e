//! Erasure in the rotated access logs (`purge-ip --include-access-logs`): lines naming the
//! address are blanked, plain files in place through a rename, archives recompressed; each file
//! keeps its mode and owner. A checkpoint whose fingerprint the blanking changes gets the new one
//! as `alt_fp`, saved before the file is replaced, so ingestion knows the file either way and
//! reads no line twice. The live log is never rewritten (the server is appending to it): a
//! note says how many of its lines name the address.

use std::collections::BTreeMap;
use std::io::Read;

use anyhow::{Context, Result};

use super::checkpoint::LogCheckpoint;
use super::chunks::Chunk;
use super::classify::BotList;
use super::fold::Folder;
use super::tailer::{self, Candidate, FP_MAX};
use crate::config::Config;
use crate::erase::{Erased, Target, blank_lines};
use crate::fsutil;
use crate::rollup::keys::VisitorKeys;
use crate::rollup::traffic::DayDelta;

/// The checkpoints, and how to save them (with the rest of the state) before a file changes.
pub struct Checkpoints<'a> {
    pub logs: &'a mut BTreeMap<String, LogCheckpoint>,
    pub save: &'a mut dyn FnMut(&BTreeMap<String, LogCheckpoint>) -> Result<()>,
}

/// What the blanked lines had counted, folded as ingestion folded them: per local day (days
/// since 1970-01-01), and their visits (lines of the visits store). `verify` adds them back
/// to its recount of the logs.
#[derive(Default)]
pub struct ErasedLines {
    pub days: foldhash::HashMap<i32, DayDelta>,
    pub visits: Vec<(i32, Vec<u8>)>,
    /// Blanked lines that did not parse: their day was that of the line before, not known here.
    pub malformed: u64,
}

/// Erases (or finds) the target in every configured log's rotated files; returns what went,
/// and what the blanked lines had counted.
pub fn erase(
    config: &Config,
    keys: &VisitorKeys,
    checkpoints: &mut Checkpoints<'_>,
    target: &Target,
    dry: bool,
) -> Result<(Erased, ErasedLines)> {
    let mut erased = Erased::default();
    let mut lines = ErasedLines::default();
    let bots = BotList::configured(&config.filters);
    for log in &config.access_logs {
        let candidates = match tailer::discover(&log.path) {
            Ok(c) => c,
            Err(err) => {
                erased.notes.push(format!("{}: {err}", log.path.display()));
                continue;
            }
        };
        let mut blanked = Vec::new();
        for c in candidates {
            if c.live {
                live(&c, target, dry, &mut erased)?;
            } else {
                rotated(&c, checkpoints, target, dry, &mut erased, &mut blanked)?;
            }
        }
        let format = super::detect::reading_format(&log.format, &log.path);
        let mut folder = Folder::new(config, &format, log.client_ip, &bots, keys);
        for (offset, line) in blanked {
            let chunk = Chunk {
                data: line,
                offset,
                oversized: false,
            };
            let report = folder.fold(&chunk, &log.path.display().to_string());
            lines.malformed += report.leading_malformed;
            let visits = report.visits.iter().map(|(day, line)| (day, line.to_vec()));
            lines.visits.extend(visits);
        }
        for (day, delta) in folder.finish() {
            lines.days.entry(day).or_default().merge(delta);
        }
    }
    Ok((erased, lines))
}

fn found_line(erased: &mut Erased, c: &Candidate, line: &[u8]) {
    erased.found.push(serde_json::json!({
        "file": c.path.display().to_string(),
        "line": String::from_utf8_lossy(line),
    }));
}

/// The live log is only read: its lines are listed in a dry run, and counted in a note.
fn live(c: &Candidate, target: &Target, dry: bool, erased: &mut Erased) -> Result<()> {
    let mut bytes = Vec::new();
    fsutil::open_log(&c.path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .with_context(|| format!("cannot read {}", c.path.display()))?;
    let lines = target.matching_lines(&bytes);
    if dry {
        for &(start, stop) in &lines {
            found_line(erased, c, &bytes[start..stop]);
        }
    }
    if !lines.is_empty() {
        erased.notes.push(format!(
            "the live log {} has {} naming the address and was left alone (the server writes \
             to it): rotate it (logrotate -f), run `arkwatch scan`, then run this purge again",
            c.path.display(),
            crate::words::count(lines.len() as u64, "line")
        ));
    }
    Ok(())
}

/// Blanks the target's lines of a rotated file, keeping each line's offset and bytes in
/// `blanked`.
fn rotated(
    c: &Candidate,
    checkpoints: &mut Checkpoints<'_>,
    target: &Target,
    dry: bool,
    erased: &mut Erased,
    blanked: &mut Vec<(u64, Vec<u8>)>,
) -> Result<()> {
    let old_prefix = c
        .prefix()
        .with_context(|| format!("cannot read {}", c.path.display()))?;
    let mut bytes = if c.gz {
        fsutil::read_gz(&c.path)?
    } else {
        // The first bytes and the rest of their last line, enough for the fingerprint.
        let mut head = Vec::new();
        fsutil::open_log(&c.path)
            .and_then(|f| f.take((FP_MAX + (4 << 20)) as u64).read_to_end(&mut head))
            .with_context(|| format!("cannot read {}", c.path.display()))?;
        head
    };
    let lines = target.matching_lines(&bytes);
    if lines.is_empty() && c.gz {
        return Ok(());
    }
    let mut originals = Vec::new();
    for &(start, stop) in &lines {
        if c.gz && dry {
            found_line(erased, c, &bytes[start..stop]);
        }
        if c.gz {
            originals.push((start as u64, bytes[start..stop].to_vec()));
        }
        bytes[start..stop].fill(b' ');
    }
    if dry {
        erased.records += if c.gz {
            lines.len() as u64
        } else {
            let mut found = Vec::new();
            let n = blank_lines(&c.path, target, true, None, &mut |_, l| {
                found.push(l.to_vec());
            })?;
            for line in found {
                found_line(erased, c, &line);
            }
            n
        };
        return Ok(());
    }
    let new_fp = note_new_fingerprint(checkpoints, &old_prefix, &bytes)?;
    crate::crashpoint::here("purge:log-before-replace");
    let changed = if c.gz {
        let meta = std::fs::metadata(&c.path)
            .with_context(|| format!("cannot stat {}", c.path.display()))?;
        fsutil::write_gz_atomic(&c.path, &bytes)?;
        keep_owner(&c.path, &meta);
        blanked.extend(originals);
        lines.len() as u64
    } else {
        let meta = std::fs::metadata(&c.path)
            .with_context(|| format!("cannot stat {}", c.path.display()))?;
        let n = blank_lines(&c.path, target, false, None, &mut |offset, line| {
            blanked.push((offset, line.to_vec()));
        })?;
        keep_owner(&c.path, &meta);
        n
    };
    crate::crashpoint::here("purge:log-replaced");
    erased.records += changed;
    if changed > 0 {
        erased.changed(
            &c.path,
            format!("{} blanked", crate::words::count(changed as u64, "line")),
        );
    }
    if let Some(fp) = new_fp {
        for r in checkpoints
            .logs
            .values_mut()
            .flat_map(|l| l.files.iter_mut())
        {
            if r.alt_fp == Some(fp) {
                r.fp = fp;
                r.alt_fp = None;
            }
        }
    }
    Ok(())
}

/// When blanking changes the fingerprint of a file a checkpoint knows, records the new one as
/// the checkpoint's `alt_fp` and saves the state, before the file is replaced.
fn note_new_fingerprint(
    checkpoints: &mut Checkpoints<'_>,
    old_prefix: &[u8],
    bytes: &[u8],
) -> Result<Option<u64>> {
    let record = checkpoints
        .logs
        .values_mut()
        .flat_map(|l| l.files.iter_mut())
        .find(|r| {
            let len = r.fp_len as usize;
            len > 0 && old_prefix.len() >= len && tailer::fingerprint(&old_prefix[..len]) == r.fp
        });
    let Some(record) = record else {
        return Ok(None);
    };
    let len = record.fp_len as usize;
    let fp = tailer::fingerprint(&bytes[..len.min(bytes.len())]);
    if fp == record.fp {
        return Ok(None);
    }
    record.alt_fp = Some(fp);
    (checkpoints.save)(checkpoints.logs)?;
    Ok(Some(fp))
}

/// A rotated log written again keeps the mode and owner it had (the web server's group may
/// need to read it); best effort, since only root may give a file away.
fn keep_owner(path: &std::path::Path, before: &std::fs::Metadata) {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let _ = std::fs::set_permissions(
        path,
        std::fs::Permissions::from_mode(before.mode() & 0o7777),
    );
    let _ = std::os::unix::fs::chown(path, Some(before.uid()), Some(before.gid()));
}
