//! Erasure in the alerting records: the target's pending alerts and the messages frozen for
//! delivery on every channel, its alert-ledger entries and its lines in the history of sent alerts
//! (`alerts.jsonl`); mentions of the address in other alerts are redacted.

use std::path::Path;

use anyhow::Result;

use super::digest::Digest;
use super::{AlertState, LeadItem};
use crate::erase::{Erased, Target, blank_lines};

/// Erases (or, in a dry run, finds) the target in the state's alerting records.
pub fn erase_state(
    alerts: &mut AlertState,
    data_dir: &Path,
    target: &Target,
    dry: bool,
) -> Result<Erased> {
    let mut erased = Erased::default();
    for queue in alerts.queues.values_mut() {
        let mentions = |r: &super::RuleItem| target.in_text(r.detail.as_bytes());
        let before = queue.pending.rules.len();
        queue.pending.rules.retain(|r| !mentions(r));
        erased.records += (before - queue.pending.rules.len()) as u64;
        if let Some(outgoing) = &mut queue.outgoing {
            let before = outgoing.rules.len();
            outgoing.rules.retain(|r| !mentions(r));
            erased.records += (before - outgoing.rules.len()) as u64;
        }
    }
    for queue in alerts.queues.values_mut() {
        erased.records += drop_leads(&mut queue.pending.leads, target, dry, &mut erased);
        erased.records += redact_leads(&mut queue.pending.leads, target);
        if let Some(outgoing) = &mut queue.outgoing {
            erased.records += drop_leads(&mut outgoing.leads, target, dry, &mut erased);
            erased.records += redact_leads(&mut outgoing.leads, target);
        }
        if queue.outgoing.as_ref().is_some_and(Digest::is_empty) {
            queue.outgoing = None;
            queue.outgoing_parts = 0;
        }
        if let Some(e) = &mut queue.last_error
            && target.in_text(e.as_bytes())
        {
            erased.records += 1;
            *e = target.redact(e);
        }
    }
    if !alerts.outcomes.is_empty() {
        let watched = alerts.outcomes.open(data_dir)?;
        let before = watched.len();
        watched.retain(|_, w| !target.matches(w.ip));
        erased.records += (before - watched.len()) as u64;
    }
    let before = alerts.ledger.leads.len();
    alerts.ledger.leads.retain(|key, entry| {
        let hit = target.matches(entry.ip);
        if hit {
            erased.seen.insert(entry.ip.to_canonical());
            if dry {
                erased
                    .found
                    .push(serde_json::json!({"alert_ledger": {key.clone(): entry}}));
            }
        }
        !hit
    });
    erased.records += (before - alerts.ledger.leads.len()) as u64;
    if let Some(scan) = &mut alerts.last_scan {
        for e in &mut scan.errors {
            if target.in_text(e.as_bytes()) {
                erased.records += 1;
                *e = target.redact(e);
            }
        }
    }
    Ok(erased)
}

/// Erases (or finds) the target's lines in the history of sent alerts, blanked in place.
pub fn erase_history(data_dir: &Path, target: &Target, dry: bool) -> Result<Erased> {
    let mut erased = Erased::default();
    let path = super::history::path(data_dir);
    if !path.exists() {
        return Ok(erased);
    }
    let owner = |line: &[u8]| {
        serde_json::from_slice::<super::history::Sent>(line)
            .ok()
            .and_then(|s| s.ip)
    };
    let mut found = Vec::new();
    let n = blank_lines(&path, target, dry, Some(&owner), &mut |_, line| {
        if dry {
            found.push(serde_json::json!({
                "alert_sent": serde_json::from_slice::<serde_json::Value>(line).ok()
            }));
        }
    })?;
    erased.found = found;
    erased.records = n;
    if n > 0 && !dry {
        erased.changed(
            &path,
            format!(
                "{} blanked or masked in place",
                crate::words::count(n as u64, "line")
            ),
        );
    }
    Ok(erased)
}

/// Removes the target's leads from a digest and redacts its mentions in the rest (and in a
/// report's text); returns how many leads went.
pub fn erase_digest(digest: &mut Digest, target: &Target) -> u64 {
    let mut ignored = Erased::default();
    let removed = drop_leads(&mut digest.leads, target, false, &mut ignored);
    redact_leads(&mut digest.leads, target);
    for rule in &mut digest.rules {
        rule.detail = target.redact(&rule.detail);
    }
    if let Some(report) = &mut digest.report {
        report.markdown = target.redact(&report.markdown);
        report.html = target.redact(&report.html);
    }
    removed
}

fn drop_leads(leads: &mut Vec<LeadItem>, target: &Target, dry: bool, erased: &mut Erased) -> u64 {
    let before = leads.len();
    leads.retain(|lead| {
        let hit = target.matches(lead.journey.ip);
        if hit {
            erased.seen.insert(lead.journey.ip.to_canonical());
            if dry {
                erased
                    .found
                    .push(serde_json::json!({"pending_alert": lead}));
            }
        }
        !hit
    });
    (before - leads.len()) as u64
}

/// Redacts the address where other leads' journeys mention it; returns how many texts.
fn redact_leads(leads: &mut [LeadItem], target: &Target) -> u64 {
    let mut n = 0;
    for lead in leads {
        let j = &mut lead.journey;
        let texts = std::iter::once(&mut j.user_agent)
            .chain(std::iter::once(&mut j.browser))
            .chain(j.sessions.iter_mut().flat_map(|s| {
                s.referrer
                    .iter_mut()
                    .chain(s.utm.values_mut())
                    .chain(s.pages.iter_mut().map(|p| &mut p.path))
            }));
        for text in texts {
            if target.in_text(text.as_bytes()) {
                n += 1;
                *text = target.redact(text);
            }
        }
    }
    n
}
