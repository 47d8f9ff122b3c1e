//! One delivery queue per channel: what waits for that channel, the message frozen for it, how
//! many messages it sent in the last hour, and when its server asked to be left alone until.
//! Channels never wait for one another: a Slack that is down keeps its own alerts while email
//! and Telegram deliver theirs, and each alert reaches each channel once.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::digest::Digest;
use super::{LeadItem, Pending, RuleItem};

/// The email channel's name, whose queue the state files of older versions held.
pub const EMAIL: &str = "email";

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Queue {
    /// Alerts raised but not yet delivered on this channel. Saved before a send is tried,
    /// emptied only after the server accepted the message: delivery is at-least-once.
    #[serde(default)]
    pub pending: Pending,
    /// A message frozen for delivery: its alerts left `pending` and it has its id. A run that
    /// dies after trying to deliver it leaves it here, and the next run delivers it again as it
    /// is, before anything new.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outgoing: Option<Digest>,
    /// Parts of `outgoing` the server already took (a Telegram digest goes in several
    /// messages): a retry goes on from the first part not taken.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub outgoing_parts: usize,
    /// When messages were sent, for the hourly limit (older ones are pruned).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sent: Vec<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sent: Option<DateTime<Utc>>,
    /// The server answered 429: nothing is tried before this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<DateTime<Utc>>,
    /// The last failure, as shown to the user (never a secret), cleared by a delivery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Queue {
    /// Whether a message may go out at `now` under the hourly limit.
    pub fn may_send(&mut self, now: DateTime<Utc>, max_per_hour: usize) -> bool {
        self.sent.retain(|t| now - *t < Duration::hours(1));
        self.sent.len() < max_per_hour
    }

    /// When the hourly limit lets the next message go.
    pub fn next_allowed(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        self.sent
            .iter()
            .min()
            .map_or(now, |t| *t + Duration::hours(1))
    }

    pub fn record_sent(&mut self, now: DateTime<Utc>) {
        self.sent.push(now);
        self.last_sent = Some(now);
        self.last_error = None;
        self.retry_at = None;
    }

    /// Alerts waiting, in this queue and in its frozen message.
    pub fn waiting(&self) -> usize {
        self.pending.len()
            + self
                .outgoing
                .as_ref()
                .map_or(0, |d| d.leads.len() + d.rules.len())
    }

    /// The oldest alert waiting, frozen or not.
    pub fn oldest(&self) -> Option<DateTime<Utc>> {
        let frozen = self.outgoing.as_ref().and_then(|d| {
            let leads = d.leads.iter().map(|l| l.queued_at.unwrap_or(l.raised_at));
            leads.chain(d.rules.iter().map(|r| r.raised_at)).min()
        });
        self.pending.oldest().into_iter().chain(frozen).min()
    }

    pub fn is_idle(&self) -> bool {
        self.pending.is_empty() && self.outgoing.is_none()
    }
}

/// What one channel takes, for sorting raised alerts into the queues.
#[derive(Clone, Copy, Debug)]
pub struct Takes<'a> {
    pub channel: &'a str,
    pub leads: bool,
    pub alerts: bool,
}

impl super::AlertState {
    /// The queue of `channel`, made when it has none.
    pub fn queue(&mut self, channel: &str) -> &mut Queue {
        self.queues.entry(channel.to_string()).or_default()
    }

    /// Queues a lead alert on every channel that takes leads.
    pub fn push_lead(&mut self, item: &LeadItem, channels: &[Takes<'_>]) {
        for c in channels.iter().filter(|c| c.leads) {
            self.queue(c.channel).pending.push_lead(item.clone());
        }
    }

    /// Queues a rule alert on every channel that takes alerts.
    pub fn push_rule(&mut self, item: &RuleItem, channels: &[Takes<'_>]) {
        for c in channels.iter().filter(|c| c.alerts) {
            self.queue(c.channel).pending.rules.push(item.clone());
        }
    }

    /// Forgets the queues of channels no longer configured (their alerts cannot go anywhere).
    pub fn keep_channels(&mut self, channels: &[Takes<'_>]) {
        self.queues
            .retain(|name, _| channels.iter().any(|c| c.channel == name));
    }

    /// Alerts waiting, per channel summed (an alert waiting for two channels counts twice).
    pub fn waiting(&self) -> usize {
        self.queues.values().map(Queue::waiting).sum()
    }

    /// The oldest alert waiting on any channel.
    pub fn oldest_waiting(&self) -> Option<DateTime<Utc>> {
        self.queues.values().filter_map(Queue::oldest).min()
    }

    /// The last delivery on any channel.
    pub fn last_sent(&self) -> Option<DateTime<Utc>> {
        self.queues.values().filter_map(|q| q.last_sent).max()
    }

    /// Moves what a state file of schema 2 kept for its one channel into the email queue.
    pub fn migrate(&mut self) {
        let pending = std::mem::take(&mut self.legacy_pending);
        let outgoing = self.legacy_outgoing.take();
        let last_sent = self.legacy_last_sent.take();
        let sent = std::mem::take(&mut self.ledger.sent);
        if pending.is_empty() && outgoing.is_none() && last_sent.is_none() && sent.is_empty() {
            return;
        }
        let q = self.queue(EMAIL);
        for lead in pending.leads {
            q.pending.push_lead(lead);
        }
        q.pending.rules.extend(pending.rules);
        q.outgoing = q.outgoing.take().or(outgoing);
        q.sent.extend(sent);
        q.last_sent = q.last_sent.max(last_sent);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(h: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_795_132_800 + h * 3600, 0).unwrap()
    }

    #[test]
    fn at_most_n_messages_an_hour_per_queue() {
        let mut q = Queue::default();
        assert!(q.may_send(at(0), 2));
        q.record_sent(at(0));
        assert!(q.may_send(at(0), 2));
        q.record_sent(at(0));
        assert!(!q.may_send(at(0) + Duration::minutes(59), 2));
        assert_eq!(q.next_allowed(at(0)), at(1));
        assert!(q.may_send(at(1), 2), "an hour later");
    }

    #[test]
    fn a_schema_2_state_moves_into_the_email_queue() {
        let json = r#"{"ledger":{"sent":["2026-11-20T10:00:00Z"]},"pending":{"rules":[
            {"name":"silence","kind":"fired","raised_at":"2026-11-20T10:00:00Z","detail":"d"}]},
            "last_sent":"2026-11-20T10:00:00Z"}"#;
        let mut a: super::super::AlertState = serde_json::from_str(json).unwrap();
        a.migrate();
        let q = &a.queues[EMAIL];
        assert_eq!(q.pending.rules.len(), 1);
        assert_eq!(q.sent.len(), 1);
        assert!(q.last_sent.is_some());
        assert!(a.ledger.sent.is_empty());
        let back = serde_json::to_value(&a).unwrap();
        assert!(back.get("pending").is_none(), "{back}");
        assert_eq!(
            back["queues"]["email"]["pending"]["rules"][0]["name"],
            "silence"
        );
    }
}
