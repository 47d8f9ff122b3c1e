//! The outbox: without `[smtp]`, every message is written as `data_dir/outbox/ID.eml` (RFC 5322,
//! openable with any mail client), mode 0600, with its digest beside it as `ID.json` so that
//! `purge-ip` can render it again without an address. The only module that knows the `.eml`
//! files.
//!
//! Writing is exactly-once: a message is named by its digest's id, fixed from the moment the
//! alerts were frozen for delivery, and a message whose file exists is not written again. The
//! file appears whole or not at all (a temporary file and a rename).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use lettre::message::Mailbox;

use super::Notifier;
use crate::alerts::digest::Digest;
use crate::config::Config;
use crate::erase::{Erased, Target};
use crate::fsutil;

/// Where the outbox is.
pub fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join("outbox")
}

pub struct OutboxNotifier {
    data_dir: PathBuf,
    from: Mailbox,
    to: Vec<Mailbox>,
}

impl OutboxNotifier {
    pub fn new(config: &Config) -> Result<OutboxNotifier> {
        let (from, to) = super::mail::mailboxes(config)?;
        Ok(OutboxNotifier {
            data_dir: config.data_dir.clone(),
            from,
            to,
        })
    }

    /// Writes `digest` as `ID.eml` (and `ID.json`), unless it was written before. Returns the
    /// message's path.
    pub fn write(&self, digest: &Digest) -> Result<PathBuf> {
        let dir = fsutil::private_dir(&self.data_dir, "outbox")?;
        let mut digest = digest.clone();
        if digest.id.is_empty() {
            digest.id = Digest::new_id();
        }
        let eml = dir.join(format!("{}.eml", digest.id));
        if std::fs::symlink_metadata(&eml).is_ok() {
            return Ok(eml);
        }
        let message = super::mail::message(&digest, &self.from, &self.to)?;
        let json = serde_json::to_vec(&digest).context("cannot serialise the digest")?;
        fsutil::write_atomic(&eml.with_extension("json"), &json, 0o600)?;
        fsutil::write_atomic(&eml, &message.formatted(), 0o600)
            .with_context(|| format!("cannot write the message into {}", dir.display()))?;
        Ok(eml)
    }
}

impl Notifier for OutboxNotifier {
    fn deliver(&self, digest: &Digest, done: &mut usize) -> Result<()> {
        self.write(digest)?;
        *done = 1;
        Ok(())
    }

    fn check(&self) -> Result<()> {
        fsutil::private_dir(&self.data_dir, "outbox").map(drop)
    }

    fn describe(&self) -> String {
        format!("outbox {}", dir(&self.data_dir).display())
    }
}

/// Erases (or, in a dry run, finds) the target in the outbox. A message is written again from
/// its digest without the target's leads and with every mention masked (a report keeps all
/// but the address), or deleted when nothing is left; a message written by an older arkwatch
/// without its digest cannot be written again, and is deleted. Each file's fate is reported.
pub fn erase(config: &Config, target: &Target, dry: bool) -> Result<Erased> {
    let mut erased = Erased::default();
    let dir = dir(&config.data_dir);
    let (from, to) = super::mail::mailboxes(config)?;
    for eml in fsutil::list(&dir, ".eml")? {
        let sidecar = eml.with_extension("json");
        let raw = fsutil::read(&eml).with_context(|| format!("cannot read {}", eml.display()))?;
        let digest: Option<Digest> =
            fsutil::read_if_exists(&sidecar)?.and_then(|b| serde_json::from_slice(&b).ok());
        let json = digest
            .as_ref()
            .map(|d| serde_json::to_vec(d).unwrap_or_default())
            .unwrap_or_default();
        if !target.in_text(&json) && !target.in_text(&unfold_qp(&raw)) {
            continue;
        }
        let Some(mut digest) = digest else {
            erased.records += 1;
            let what = "deleted: written by an older arkwatch without its digest, it cannot \
                        be written again without the address";
            if dry {
                erased
                    .found
                    .push(serde_json::json!({"outbox_message": eml, "would_be": what}));
            } else {
                fsutil::remove_file(&eml)?;
                erased.changed(&eml, what);
            }
            continue;
        };
        let removed = crate::alerts::erase::erase_digest(&mut digest, target);
        erased.records += removed.max(1);
        for lead in &digest.leads {
            erased.seen.insert(lead.journey.ip.to_canonical());
        }
        let what = if digest.is_empty() {
            format!(
                "deleted: {} all of the address",
                crate::words::plural(removed, "lead was", "leads were")
            )
        } else if removed > 0 {
            format!(
                "{} removed, other mentions masked, written again",
                crate::words::count(removed, "lead")
            )
        } else {
            "the address masked, written again".to_string()
        };
        if dry {
            erased.found.push(serde_json::json!({
                "outbox_message": eml, "leads": removed, "would_be": what
            }));
            continue;
        }
        if digest.is_empty() {
            fsutil::remove_file(&eml)?;
            fsutil::remove_file(&sidecar)?;
        } else {
            rewrite(&eml, &digest, &from, &to)?;
        }
        erased.changed(&eml, what);
    }
    Ok(erased)
}

/// Writes a message and its digest again.
fn rewrite(
    eml: &std::path::Path,
    digest: &Digest,
    from: &lettre::message::Mailbox,
    to: &[lettre::message::Mailbox],
) -> Result<()> {
    let message = super::mail::message(digest, from, to)?;
    let json = serde_json::to_vec(digest).context("cannot serialise a digest")?;
    fsutil::write_atomic(&eml.with_extension("json"), &json, 0o600)?;
    fsutil::write_atomic(eml, &message.formatted(), 0o600)
}

/// Takes a user out of the outbox (`purge-user`): the messages that name them are written
/// again without it, or deleted when nothing else is left (or they have no digest to be
/// written again from).
pub fn erase_user(config: &Config, user: &str, dry: bool) -> Result<Erased> {
    let mut erased = Erased::default();
    let dir = dir(&config.data_dir);
    let (from, to) = super::mail::mailboxes(config)?;
    for eml in fsutil::list(&dir, ".eml")? {
        let sidecar = eml.with_extension("json");
        let raw = fsutil::read(&eml).with_context(|| format!("cannot read {}", eml.display()))?;
        let digest: Option<Digest> =
            fsutil::read_if_exists(&sidecar)?.and_then(|b| serde_json::from_slice(&b).ok());
        let named = |bytes: &[u8]| {
            crate::alerts::erase_user::mentions(&String::from_utf8_lossy(bytes), user)
        };
        let json = digest
            .as_ref()
            .map(|d| serde_json::to_vec(d).unwrap_or_default());
        if !named(&unfold_qp(&raw)) && !json.as_deref().is_some_and(named) {
            continue;
        }
        erased.records += 1;
        let mut digest = digest.unwrap_or_default();
        crate::alerts::erase_user::erase_digest(&mut digest, user);
        let gone = digest.is_empty() || !sidecar.exists();
        let what = if gone {
            "deleted"
        } else {
            "the user taken out, written again"
        };
        if dry {
            erased
                .found
                .push(serde_json::json!({"outbox_message": eml, "would_be": what}));
            continue;
        }
        if gone {
            fsutil::remove_file(&eml)?;
            fsutil::remove_file(&sidecar)?;
        } else {
            rewrite(&eml, &digest, &from, &to)?;
        }
        erased.changed(&eml, what);
    }
    Ok(erased)
}

/// Message bytes with quoted-printable soft line breaks removed, so an address split over two
/// lines is found.
fn unfold_qp(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'=' && raw.get(i + 1) == Some(&b'\r') && raw.get(i + 2) == Some(&b'\n') {
            i += 3;
        } else if raw[i] == b'=' && raw.get(i + 1) == Some(&b'\n') {
            i += 2;
        } else {
            out.push(raw[i]);
            i += 1;
        }
    }
    out
}

/// Deletes messages older than `days` (by file time); returns how many went (or would).
pub fn retain(data_dir: &Path, days: u32, dry: bool) -> Result<u64> {
    let max_age = std::time::Duration::from_secs(u64::from(days) * 86_400);
    let mut deleted = 0;
    for eml in fsutil::list(&dir(data_dir), ".eml")? {
        let old = std::fs::symlink_metadata(&eml)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > max_age);
        if old {
            deleted += 1;
            if !dry {
                fsutil::remove_file(&eml)?;
                fsutil::remove_file(&eml.with_extension("json"))?;
            }
        }
    }
    Ok(deleted)
}
