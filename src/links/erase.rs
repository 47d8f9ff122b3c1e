//! Erasure in the links store: `purge-ip` drops the sightings and links of the address,
//! `purge-user` those of the user.

use std::path::Path;

use anyhow::Result;

use super::LinkStore;
use crate::erase::{Erased, Target};

/// Drops (or, in a dry run, finds) every sighting and link that `hit` selects.
fn erase_where(
    data_dir: &Path,
    dry: bool,
    sighting_hit: impl Fn(&super::Sighting) -> bool,
    link_hit: impl Fn(&super::Link) -> bool,
) -> Result<Erased> {
    let mut erased = Erased::default();
    let path = super::path(data_dir);
    if !path.exists() {
        return Ok(erased);
    }
    let mut store = LinkStore::load(data_dir)?;
    let before = store.sightings.len() + store.links.len();
    if dry {
        for s in store.sightings.iter().filter(|s| sighting_hit(s)) {
            erased.found.push(serde_json::json!({ "sighting": s }));
        }
        for l in store.links.iter().filter(|l| link_hit(l)) {
            erased.found.push(serde_json::json!({ "link": l }));
        }
    }
    for s in store.sightings.iter().filter(|s| sighting_hit(s)) {
        erased.seen.insert(s.ip);
    }
    store.sightings.retain(|s| !sighting_hit(s));
    store.links.retain(|l| !link_hit(l));
    let removed = before - store.sightings.len() - store.links.len();
    erased.records = removed as u64;
    if removed > 0 {
        erased.changed(&path, format!("{removed} sightings and links removed"));
        if !dry {
            store.save(data_dir)?;
        }
    }
    Ok(erased)
}

/// The sightings and links of an address (or network); a mention of it in another
/// visitor's link (a referrer, a User-Agent, a UTM tag) is masked, as the visits store does.
pub fn erase_address(data_dir: &Path, target: &Target, dry: bool) -> Result<Erased> {
    let mut erased = erase_where(
        data_dir,
        dry,
        |s| target.matches(s.ip),
        |l| target.matches(l.ip),
    )?;
    let path = super::path(data_dir);
    if !path.exists() {
        return Ok(erased);
    }
    let mut store = LinkStore::load(data_dir)?;
    let mut masked = 0u64;
    let mask = |text: &mut String| {
        if target.in_text(text.as_bytes()) {
            *text = target.redact(text);
            true
        } else {
            false
        }
    };
    for link in &mut store.links {
        let mut hit = mask(&mut link.user_agent);
        if let Some(r) = &mut link.visit_referrer {
            hit |= mask(r);
        }
        for v in link.visit_utm.values_mut() {
            hit |= mask(v);
        }
        masked += u64::from(hit);
    }
    for s in &mut store.sightings {
        if let Some(ua) = &mut s.user_agent {
            masked += u64::from(mask(ua));
        }
    }
    if masked > 0 {
        erased.records += masked;
        erased.changed(
            &path,
            format!("the address masked in {masked} other records"),
        );
        if !dry {
            store.save(data_dir)?;
        }
    }
    Ok(erased)
}

/// The sightings and links of a user.
pub fn erase_user(data_dir: &Path, user: &str, dry: bool) -> Result<Erased> {
    erase_where(data_dir, dry, |s| s.user == user, |l| l.user == user)
}
