//! The last step of a scan: on each channel, everything due goes into one message with an id
//! frozen in the state before anything is sent, under that channel's hourly limit and any wait
//! its server asked for; a dry run shows the messages instead. Channels do not wait for each
//! other: one that fails keeps its own alerts, and the others deliver theirs.

use anyhow::Result;
use chrono::Duration;

use super::{ChannelReport, Delivery, Scan, ScanReport};
use crate::alerts::ScanRecord;
use crate::alerts::digest::Digest;
use crate::alerts::queue::EMAIL;
use crate::exit::{Fatal, Status};
use crate::notify::{Channel, mail};
use crate::state::SCHEMA_VERSION;

/// The longest wait a server's `Retry-After` can impose (a day: a larger value is a mistake).
const MAX_RETRY_AFTER: i64 = 86_400;

impl Scan<'_> {
    /// Step 5, delivery, then the state with this scan's record.
    pub(super) fn deliver(mut self, channels: &[Channel]) -> Result<(ScanReport, Status)> {
        self.state.alerts.ledger = std::mem::take(&mut self.ledger);
        if self.dry_run {
            for c in channels {
                let delivery = self.preview_delivery(c);
                self.report_channel(c, delivery);
            }
            return Ok(self.finish());
        }
        // Messages frozen by a run that died go out first, as they were (their alerts were let
        // through the hourly limit then).
        let again: Vec<bool> = channels
            .iter()
            .map(|c| self.state.alerts.queue(&c.name).outgoing.is_some())
            .collect();
        let mut decided = Vec::new();
        let mut frozen = false;
        for (c, again) in channels.iter().zip(&again) {
            let d = self.decide(c, *again);
            frozen |= matches!(d, Plan::Send) && !again;
            decided.push(d);
        }
        if frozen {
            self.state.version = SCHEMA_VERSION;
            // The told flags of the outcome notices in this message, before the state holds
            // the message.
            self.state
                .alerts
                .outcomes
                .commit(self.run.data_dir(), self.now)?;
            crate::crashpoint::here("scan:outcomes-written");
            self.run.lock.save(&self.state)?;
            crate::crashpoint::here("scan:before-send");
        }
        let mut sent = 0;
        for ((c, again), plan) in channels.iter().zip(again).zip(decided) {
            let delivery = match plan {
                Plan::Send => {
                    let (delivery, n) = self.send(c, again);
                    sent += n;
                    delivery
                }
                Plan::Hold(delivery) => delivery,
            };
            self.report_channel(c, delivery);
        }
        let now = self.now;
        let run = self.run;
        let mut state = std::mem::take(&mut self.state);
        let (report, status) = self.finish();
        state.alerts.last_scan = Some(ScanRecord {
            at: now,
            status: status as u8,
            errors: report.errors.clone(),
            leads_raised: report.leads.len(),
            rules_raised: report.rules.iter().filter(|r| r.alert.is_some()).count(),
            messages_sent: sent,
            pending: report.pending,
            geo_problems: report.geo_problems.clone(),
        });
        state.version = SCHEMA_VERSION;
        state.alerts.outcomes.commit(run.data_dir(), now)?;
        run.lock.save(&state)?;
        state.alerts.outcomes.remove_unreferenced(run.data_dir())?;
        Ok((report, status))
    }

    fn report_channel(&mut self, c: &Channel, delivery: Delivery) {
        let pending = self.state.alerts.queue(&c.name).waiting();
        if c.name == EMAIL {
            self.report.pending = pending;
            self.report.delivery = delivery.clone();
        }
        self.report.channels.push(ChannelReport {
            channel: c.name.clone(),
            pending,
            delivery,
        });
    }

    /// Whether the channel sends now: a frozen message, or what is pending when the hourly
    /// limit and the server's last `Retry-After` allow (frozen here, with a new id).
    fn decide(&mut self, c: &Channel, again: bool) -> Plan {
        let now = self.now;
        let site = self.run.config.site_name.clone();
        let hosts = self.run.config.site_hosts.clone();
        let q = self.state.alerts.queue(&c.name);
        if q.is_idle() {
            return Plan::Hold(Delivery::NothingDue);
        }
        if let Some(until) = q.retry_at.filter(|t| *t > now) {
            return Plan::Hold(Delivery::Waiting { until });
        }
        if again {
            return Plan::Send;
        }
        if !q.may_send(now, c.max_per_hour) {
            return Plan::Hold(Delivery::RateLimited {
                next_allowed: q.next_allowed(now),
            });
        }
        let pending = std::mem::take(&mut q.pending);
        let mut digest = pending_digest(site, hosts, &pending);
        digest.id = Digest::new_id();
        q.outgoing = Some(digest);
        q.outgoing_parts = 0;
        Plan::Send
    }

    /// Delivers a channel's frozen message. Taken: recorded in the history (the email
    /// channel's, once even when delivered again after a crash) and out of the state. Refused:
    /// its alerts go back to the queue, unless some parts went out (then it stays frozen, to
    /// go on from the first part not taken). Returns the outcome and how many messages went.
    fn send(&mut self, c: &Channel, again: bool) -> (Delivery, usize) {
        let now = self.now;
        let q = self.state.alerts.queue(&c.name);
        let Some(digest) = q.outgoing.take() else {
            return (Delivery::NothingDue, 0);
        };
        let mut done = q.outgoing_parts;
        let result = c.notifier.deliver(&digest, &mut done);
        let q = self.state.alerts.queue(&c.name);
        match result {
            Ok(()) => {
                crate::crashpoint::here("scan:after-send");
                q.outgoing_parts = 0;
                q.record_sent(now);
                let delivery = Delivery::Sent {
                    to: c.notifier.describe(),
                    subject: mail::subject(&digest),
                    leads: digest.leads.len(),
                    rules: digest.rules.len(),
                    again,
                };
                if c.name == EMAIL {
                    // The history is for reports; failing to write it must not resend the alerts.
                    let data_dir = self.run.data_dir();
                    if let Err(err) = crate::alerts::history::record(data_dir, &digest, now) {
                        self.errors
                            .push(err.context("cannot record the sent alerts"));
                    }
                }
                (delivery, 1)
            }
            Err(err) => {
                let error = format!("{err:#}");
                q.last_error = Some(error.clone());
                let mut retry_at = None;
                for cause in err.chain() {
                    if let Some(Fatal::Throttled {
                        retry_after_secs, ..
                    }) = cause.downcast_ref()
                    {
                        let secs = i64::try_from(*retry_after_secs)
                            .unwrap_or(MAX_RETRY_AFTER)
                            .clamp(1, MAX_RETRY_AFTER);
                        retry_at = Some(now + Duration::seconds(secs));
                    }
                }
                q.retry_at = retry_at;
                if done > 0 {
                    q.outgoing_parts = done;
                    q.outgoing = Some(digest);
                } else {
                    q.outgoing_parts = 0;
                    q.pending.restore(digest);
                }
                self.errors
                    .push(err.context(format!("delivery on channel {} failed", c.name)));
                let delivery = Delivery::Failed {
                    to: c.notifier.describe(),
                    error,
                    retry_at,
                };
                (delivery, usize::from(done > 0))
            }
        }
    }

    /// What a real run would deliver now on `c`, for a dry run.
    fn preview_delivery(&mut self, c: &Channel) -> Delivery {
        let now = self.now;
        let site = self.run.config.site_name.clone();
        let hosts = self.run.config.site_hosts.clone();
        let q = self.state.alerts.queue(&c.name);
        if q.is_idle() {
            return Delivery::NothingDue;
        }
        if let Some(until) = q.retry_at.filter(|t| *t > now) {
            return Delivery::Waiting { until };
        }
        let allowed = q.outgoing.is_some() || q.clone().may_send(now, c.max_per_hour);
        if !allowed {
            return Delivery::WouldWait {
                next_allowed: q.next_allowed(now),
            };
        }
        let digest = q
            .outgoing
            .clone()
            .unwrap_or_else(|| pending_digest(site, hosts, &q.pending));
        Delivery::WouldSend {
            to: c.notifier.describe(),
            subject: mail::subject(&digest),
            text: mail::text(&digest),
        }
    }

    fn finish(self) -> (ScanReport, Status) {
        let mut report = self.report;
        // The most actionable status wins: fix the config, then the data, then a failure, then
        // "try later".
        let status = [
            Status::Config,
            Status::Denied,
            Status::StoreLost,
            Status::DataError,
            Status::Partial,
            Status::TempFail,
        ]
        .into_iter()
        .find(|s| self.errors.iter().any(|e| Status::for_error(e) == *s))
        .unwrap_or(Status::Ok);
        report.errors = self.errors.iter().map(|e| format!("{e:#}")).collect();
        report.seconds = self.started.elapsed().as_secs_f64();
        (report, status)
    }
}

/// What a channel does in this run.
enum Plan {
    Send,
    Hold(Delivery),
}

/// The message for everything in `pending`, leads by score (without an id yet).
fn pending_digest(
    site_name: String,
    site_hosts: Vec<String>,
    pending: &crate::alerts::Pending,
) -> Digest {
    let mut digest = Digest {
        id: String::new(),
        site_name,
        site_hosts,
        leads: pending.leads.clone(),
        rules: pending.rules.clone(),
        report: None,
    };
    digest.sort();
    digest
}
