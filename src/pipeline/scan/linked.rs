//! The scan's part in joining leads to product users: naming the user linked to each new lead,
//! and the outcome notices of leads that alerted earlier (see [`crate::alerts::outcomes`]).

use anyhow::Result;
use chrono::Duration;

use super::{RuleReport, Scan};
use crate::alerts::LeadItem;
use crate::alerts::outcomes;
use crate::alerts::queue::Takes;
use crate::alerts::watchlist::CheckMark;
use crate::events::projection::UserRecord;
use crate::events::store::EventStore;

impl Scan<'_> {
    /// The links store, read once a run (after the fold).
    fn links(&mut self) -> Result<&crate::links::LinkStore> {
        if self.links.is_none() {
            self.links = Some(crate::links::LinkStore::load(self.run.data_dir())?);
        }
        Ok(self.links.get_or_insert_default())
    }

    /// Names the product user linked to each lead, with their plan, and watches every lead
    /// for its outcome.
    pub(super) fn name_users(&mut self, mut items: Vec<LeadItem>) -> Vec<LeadItem> {
        if items.is_empty() {
            return items;
        }
        let mut known: Vec<Option<UserRecord>> = vec![None; items.len()];
        if let Err(err) = self.users_of(&mut items, &mut known) {
            self.errors.push(err);
        }
        if let Err(err) = self.watch(&items, &known) {
            self.errors
                .push(err.context("watching the new leads for their outcome failed"));
        }
        items
    }

    fn users_of(&mut self, items: &mut [LeadItem], known: &mut [Option<UserRecord>]) -> Result<()> {
        let config = self.run.config;
        let ips = items.iter().map(|i| i.journey.ip);
        // Most leads come from addresses no user was seen at: then the store is not read.
        if self.store.is_none()
            || (self.links.is_none()
                && !crate::links::addresses::Addresses::may_hold(self.run.data_dir(), ips)?)
            || self.links()?.links.is_empty()
        {
            return Ok(());
        }
        let (Some(store), Some(links)) = (self.store.as_mut(), self.links.as_ref()) else {
            return Ok(());
        };
        let by_visitor = links.by_visitor();
        for (item, known) in items.iter_mut().zip(known) {
            let j = &item.journey;
            if let Some(user) = outcomes::linked_user(&by_visitor, j.ip, &j.user_agent) {
                let record = store
                    .load_users(&[user])
                    .ok()
                    .and_then(|mut r| r.remove(user));
                let currency = &config.metrics.currency;
                item.user = Some(outcomes::describe_user(user, record.as_ref(), currency));
                // What the user had done by now is in this alert: not news later.
                *known = record;
            }
        }
        Ok(())
    }

    /// Adds the leads to the watch list (which forgets those watched longer than `link_days`).
    fn watch(&mut self, items: &[LeadItem], known: &[Option<UserRecord>]) -> Result<()> {
        let window = Duration::days(i64::from(self.run.config.leads.link_days));
        let leads = items
            .iter()
            .zip(known)
            .map(|(item, known)| {
                (
                    item.visitor.clone(),
                    outcomes::watched(item, known.as_ref()),
                )
            })
            .collect();
        let data_dir = self.run.data_dir();
        self.state
            .alerts
            .outcomes
            .watch(data_dir, self.now, window, leads)
    }

    /// Outcome notices: what the users linked to leads that alerted did since. Skipped while
    /// neither the events nor the links changed since the last check.
    pub(super) fn outcomes(
        &mut self,
        store: &mut dyn EventStore,
        takes: &[Takes<'_>],
    ) -> Result<()> {
        let config = self.run.config;
        if !config.leads.outcomes || self.state.alerts.outcomes.is_empty() {
            return Ok(());
        }
        let data_dir = self.run.data_dir();
        let mark = CheckMark::now(data_dir, self.state.events_cursor);
        if self.state.alerts.outcomes.checked.as_ref() == Some(&mark) {
            return Ok(());
        }
        self.links()?;
        // Lent to the check, which also changes the state.
        let links = self.links.take().unwrap_or_default();
        let result = self.check(store, takes, &links);
        self.links = Some(links);
        result?;
        self.state.alerts.outcomes.checked = Some(mark);
        Ok(())
    }

    fn check(
        &mut self,
        store: &mut dyn EventStore,
        takes: &[Takes<'_>],
        links: &crate::links::LinkStore,
    ) -> Result<()> {
        let config = self.run.config;
        if links.links.is_empty() {
            // No link yet: nothing watched can have an outcome.
            return Ok(());
        }
        let data_dir = self.run.data_dir();
        let watched = &mut self.state.alerts.outcomes;
        let wanted = outcomes::Check::wanted(links, watched.read(data_dir)?);
        let wanted: Vec<&str> = wanted.iter().map(String::as_str).collect();
        let users = store.load_users(&wanted)?;
        let check = outcomes::Check {
            links,
            users: &users,
            now: self.now,
            link_days: config.leads.link_days,
            registration: config.leads.outcome_registration,
            currency: &config.metrics.currency,
            timezone: config.timezone,
        };
        let items = watched.update(data_dir, |w| check.run(w))?;
        for item in items {
            self.report.rules.push(RuleReport {
                name: item.name.clone(),
                holds: true,
                alert: Some(item.kind),
                detail: item.detail.clone(),
            });
            self.state.alerts.push_rule(&item, takes);
        }
        Ok(())
    }
}
