//! Erasure by account (`purge-user`) in the alerting records: the name of the user in pending
//! and frozen lead alerts, the outcome and cost notices that name them, their `user_cost`
//! entry in the ledger, the watched leads linked to them, and the lines of the history of sent
//! alerts that name them.

use std::net::IpAddr;
use std::path::Path;

use anyhow::Result;

use super::digest::Digest;
use super::{AlertState, LeadItem, RuleItem};
use crate::erase::Erased;

/// Whether `text` names the user as arkwatch writes it (`user 42`, `user_cost:42`), not as
/// part of a longer id.
pub fn mentions(text: &str, user: &str) -> bool {
    ["user ", "user_cost:"].iter().any(|prefix| {
        let needle = format!("{prefix}{user}");
        text.match_indices(&needle).any(|(at, _)| {
            let next = text[at + needle.len()..].chars().next();
            next.is_none_or(|c| !(c.is_alphanumeric() || c == '-' || c == '_' || c == '.'))
        })
    })
}

fn leads(leads: &mut [LeadItem], user: &str) -> u64 {
    let mut n = 0;
    for lead in leads {
        if lead.user.as_deref().is_some_and(|u| mentions(u, user)) {
            lead.user = None;
            n += 1;
        }
    }
    n
}

fn rules(rules: &mut Vec<RuleItem>, user: &str) -> u64 {
    let before = rules.len();
    rules.retain(|r| !mentions(&r.name, user) && !mentions(&r.detail, user));
    (before - rules.len()) as u64
}

/// Takes the user out of a digest; returns how many items changed.
pub fn erase_digest(digest: &mut Digest, user: &str) -> u64 {
    leads(&mut digest.leads, user) + rules(&mut digest.rules, user)
}

/// Takes the user out of the state's alerting records; `visitors` are the visitors linked to
/// them (their watched leads go).
pub fn erase_state(
    alerts: &mut AlertState,
    data_dir: &Path,
    user: &str,
    visitors: &[(IpAddr, String)],
) -> Result<Erased> {
    let mut erased = Erased::default();
    for queue in alerts.queues.values_mut() {
        erased.records += leads(&mut queue.pending.leads, user);
        erased.records += rules(&mut queue.pending.rules, user);
        if let Some(outgoing) = &mut queue.outgoing {
            erased.records += erase_digest(outgoing, user);
        }
        if queue.outgoing.as_ref().is_some_and(Digest::is_empty) {
            queue.outgoing = None;
            queue.outgoing_parts = 0;
        }
    }
    let before = alerts.ledger.rules.len();
    alerts.ledger.rules.retain(|name, _| !mentions(name, user));
    erased.records += (before - alerts.ledger.rules.len()) as u64;
    if !alerts.outcomes.is_empty() {
        let watched = alerts.outcomes.open(data_dir)?;
        let before = watched.len();
        let keys: Vec<String> = visitors
            .iter()
            .map(|(ip, ua)| super::leads::visitor_key(*ip, ua))
            .collect();
        watched.retain(|key, _| !keys.contains(key));
        erased.records += (before - watched.len()) as u64;
    }
    Ok(erased)
}

/// Blanks (keeping each line's length) the lines of the history of sent alerts that name the
/// user.
pub fn erase_history(data_dir: &Path, user: &str, dry: bool) -> Result<Erased> {
    let mut erased = Erased::default();
    let path = super::history::path(data_dir);
    let Some(bytes) = crate::fsutil::read_if_exists(&path)? else {
        return Ok(erased);
    };
    let text = String::from_utf8_lossy(&bytes);
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches('\n');
        if mentions(body, user) {
            erased.records += 1;
            if dry {
                erased.found.push(serde_json::json!({ "alert_sent": body }));
            }
            out.push_str(&" ".repeat(body.len()));
            out.push_str(&line[body.len()..]);
        } else {
            out.push_str(line);
        }
    }
    if erased.records > 0 {
        erased.changed(&path, format!("{} lines blanked", erased.records));
        if !dry {
            crate::fsutil::write_atomic(&path, out.as_bytes(), 0o600)?;
        }
    }
    Ok(erased)
}

#[cfg(test)]
mod tests {
    use super::mentions;

    #[test]
    fn a_user_is_named_whole() {
        assert!(mentions("registered as user 42 and converted", "42"));
        assert!(mentions("user_cost:42", "42"));
        assert!(mentions("user 42", "42"));
        assert!(!mentions("user 420 converted", "42"));
        assert!(!mentions("user 42-b converted", "42"));
        assert!(!mentions("42 users", "42"));
    }
}
