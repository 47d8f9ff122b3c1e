//! The last step of a scan: everything due goes into one message with an id frozen in the
//! state before it is sent, under the hourly limit; a dry run shows the message instead.

use anyhow::Result;
use chrono::{DateTime, Duration, Utc};

use super::{Delivery, Scan, ScanReport};
use crate::alerts::ScanRecord;
use crate::alerts::digest::Digest;
use crate::exit::Status;
use crate::notify::{Notifier, mail};
use crate::pipeline::Run;
use crate::state::SCHEMA_VERSION;

impl Scan<'_> {
    /// Step 5, delivery, then the state with this scan's record.
    pub(super) fn deliver(mut self, notifier: &dyn Notifier) -> Result<(ScanReport, Status)> {
        let allowed = self.ledger.may_send(self.now, &self.policy);
        let next_allowed = self
            .ledger
            .sent
            .iter()
            .min()
            .map_or(self.now, |t| *t + Duration::hours(1));
        self.state.alerts.ledger = std::mem::take(&mut self.ledger);
        if self.dry_run {
            self.preview_delivery(notifier, allowed, next_allowed);
            return Ok(self.finish());
        }
        let mut sent = 0;
        // A message frozen by a run that died goes out first, as it was (its alerts were let
        // through the hourly limit then).
        if let Some(outgoing) = self.state.alerts.outgoing.take() {
            sent += self.send(notifier, outgoing, true);
        }
        if !self.state.alerts.pending.is_empty() {
            let allowed =
                sent == 0 && allowed || self.state.alerts.ledger.may_send(self.now, &self.policy);
            if allowed {
                let digest = self.freeze()?;
                sent += self.send(notifier, digest, false);
            } else {
                self.report.delivery = Delivery::RateLimited { next_allowed };
            }
        }
        self.report.pending = self.state.alerts.pending.len();
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
        });
        state.version = SCHEMA_VERSION;
        run.lock.save(&state)?;
        Ok((report, status))
    }

    /// What a real run would deliver now, for a dry run.
    fn preview_delivery(
        &mut self,
        notifier: &dyn Notifier,
        allowed: bool,
        next_allowed: DateTime<Utc>,
    ) {
        let alerts = &self.state.alerts;
        self.report.pending = alerts.pending.len()
            + alerts
                .outgoing
                .as_ref()
                .map_or(0, |d| d.leads.len() + d.rules.len());
        if alerts.pending.is_empty() && alerts.outgoing.is_none() {
            return;
        }
        self.report.delivery = if allowed || alerts.outgoing.is_some() {
            let digest = alerts
                .outgoing
                .clone()
                .unwrap_or_else(|| pending_digest(self.run, &alerts.pending));
            Delivery::WouldSend {
                to: notifier.describe(),
                subject: mail::subject(&digest),
                text: mail::text(&digest),
            }
        } else {
            Delivery::WouldWait { next_allowed }
        };
    }

    /// Moves everything pending into one message with its own id, and saves the state with it
    /// before anything is delivered: from now on the message is delivered as it is.
    fn freeze(&mut self) -> Result<Digest> {
        let pending = std::mem::take(&mut self.state.alerts.pending);
        let mut digest = pending_digest(self.run, &pending);
        digest.id = Digest::new_id();
        self.state.alerts.outgoing = Some(digest.clone());
        self.state.version = SCHEMA_VERSION;
        self.run.lock.save(&self.state)?;
        crate::crashpoint::here("scan:before-send");
        Ok(digest)
    }

    /// Delivers a frozen message. Taken: recorded in the history (once, even when delivered
    /// again after a crash) and out of the state. Refused: its alerts go back to the queue.
    /// Returns how many messages went out.
    fn send(&mut self, notifier: &dyn Notifier, digest: Digest, again: bool) -> usize {
        self.state.alerts.outgoing = None;
        match notifier.deliver(&digest) {
            Ok(()) => {
                crate::crashpoint::here("scan:after-send");
                self.report.delivery = Delivery::Sent {
                    to: notifier.describe(),
                    subject: mail::subject(&digest),
                    leads: digest.leads.len(),
                    rules: digest.rules.len(),
                    again,
                };
                // The history is for reports; failing to write it must not resend the alerts.
                let data_dir = self.run.data_dir();
                if let Err(err) = crate::alerts::history::record(data_dir, &digest, self.now) {
                    self.errors
                        .push(err.context("cannot record the sent alerts"));
                }
                self.state.alerts.ledger.record_sent(self.now);
                self.state.alerts.last_sent = Some(self.now);
                1
            }
            Err(err) => {
                self.report.delivery = Delivery::Failed {
                    to: notifier.describe(),
                    error: format!("{err:#}"),
                };
                self.errors.push(err);
                self.state.alerts.pending.restore(digest);
                0
            }
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

/// The message for everything in `pending`, leads by score (without an id yet).
fn pending_digest(run: &Run<'_>, pending: &crate::alerts::Pending) -> Digest {
    let mut digest = Digest {
        id: String::new(),
        site_name: run.config.site_name.clone(),
        leads: pending.leads.clone(),
        rules: pending.rules.clone(),
        report: None,
    };
    digest.sort();
    digest
}
