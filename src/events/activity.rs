//! How events count in their day's activity rollup ([`ActivityDay`], a record the rollups own):
//! one event's counts, and the revenue movements the projection says an event changed.

use crate::events::event::{Event, EventKind};
use crate::events::projection::MovementDelta;
use crate::rollup::activity::{ActivityDay, ApiDay, Overflow, add, add_count, count};

/// Counts one event in `day`. Returns whether the event counts as activity: the caller adds
/// its user to `active_users` (the fold keeps a hash set per day, much faster than the day's
/// ordered set for each event). Revenue movements come from the projection ([`apply`]).
pub fn add_event(day: &mut ActivityDay, event: &Event) -> Result<bool, Overflow> {
    if let EventKind::Unknown { .. } = event.kind {
        day.unknown = day.unknown.saturating_add(1);
        return Ok(false);
    }
    // An identify only links a user to a visitor (see `links`).
    if let EventKind::Identify = event.kind {
        return Ok(false);
    }
    day.events = day.events.saturating_add(1);
    match &event.kind {
        EventKind::Registration => day.registrations = day.registrations.saturating_add(1),
        EventKind::TrialStarted { .. } => day.trials = day.trials.saturating_add(1),
        EventKind::Command { name } => count(&mut day.commands, name),
        EventKind::Error {
            name,
            message,
            command,
        } => {
            day.errors = day.errors.saturating_add(1);
            let label = name.as_deref().or(message.as_deref()).unwrap_or_default();
            count(&mut day.errors_by_name, label);
            if let Some(command) = command {
                count(&mut day.errors_by_command, command);
            }
        }
        EventKind::ApiCall {
            provider,
            cost,
            latency_ms,
        } => {
            if !day.api.contains_key(provider) {
                day.api.insert(provider.clone(), ApiDay::default());
            }
            let api = day.api.get_mut(provider).expect("inserted above");
            api.calls = api.calls.saturating_add(1);
            api.cost = add(api.cost, *cost)?;
            let slot = api.latency_ms.entry(*latency_ms).or_default();
            *slot = slot.saturating_add(1);
        }
        EventKind::Conversion { .. }
        | EventKind::Cancellation { .. }
        | EventKind::Identify
        | EventKind::Unknown { .. } => {}
    }
    Ok(true)
}

/// Applies how events changed the day's revenue movements (see [`MovementDelta`]): amounts and
/// counts may go down.
pub fn apply(day: &mut ActivityDay, d: &MovementDelta) -> Result<(), Overflow> {
    day.mrr_new = add(day.mrr_new, d.new)?;
    day.mrr_reactivation = add(day.mrr_reactivation, d.reactivation)?;
    day.mrr_expansion = add(day.mrr_expansion, d.expansion)?;
    day.mrr_contraction = add(day.mrr_contraction, d.contraction)?;
    day.mrr_churned = add(day.mrr_churned, d.churned)?;
    day.conversions = add_count(day.conversions, d.conversions);
    day.reactivations = add_count(day.reactivations, d.reactivations);
    day.cancellations = add_count(day.cancellations, d.cancellations);
    Ok(())
}
