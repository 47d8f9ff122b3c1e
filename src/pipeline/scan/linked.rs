//! The scan's part in joining leads to product users: naming the user linked to each new lead,
//! and the outcome notices of leads that alerted earlier (see [`crate::alerts::outcomes`]).

use anyhow::Result;
use chrono::Duration;

use super::{RuleReport, Scan};
use crate::alerts::LeadItem;
use crate::alerts::outcomes;
use crate::alerts::queue::Takes;
use crate::events::store::EventStore;

impl Scan<'_> {
    /// Names the product user linked to each lead, with their plan.
    pub(super) fn name_users(&mut self, mut items: Vec<LeadItem>) -> Vec<LeadItem> {
        let Some(store) = self.store.as_mut() else {
            return items;
        };
        let config = self.run.config;
        let links = match self.links.take() {
            Some(links) => Ok(links),
            None => crate::links::LinkStore::load(self.run.data_dir()),
        };
        let links = match links {
            Ok(links) => &*self.links.insert(links),
            Err(err) => {
                self.errors.push(err);
                return items;
            }
        };
        if links.links.is_empty() {
            return items;
        }
        let by_visitor = links.by_visitor();
        for item in &mut items {
            let j = &item.journey;
            if let Some(user) = outcomes::linked_user(&by_visitor, j.ip, &j.user_agent) {
                let record = store
                    .load_users(&[user])
                    .ok()
                    .and_then(|mut r| r.remove(user));
                let currency = &config.metrics.currency;
                item.user = Some(outcomes::describe_user(user, record.as_ref(), currency));
                // What the user had done by now is in this alert: not news later.
                outcomes::watch(&mut self.state.alerts.outcomes, item, record.as_ref());
            }
        }
        items
    }

    /// Outcome notices: what the users linked to leads that alerted did since.
    pub(super) fn outcomes(
        &mut self,
        store: &mut dyn EventStore,
        takes: &[Takes<'_>],
    ) -> Result<()> {
        let config = self.run.config;
        if !config.leads.outcomes || self.state.alerts.outcomes.is_empty() {
            return Ok(());
        }
        let links = match self.links.take() {
            Some(links) => links,
            None => crate::links::LinkStore::load(self.run.data_dir())?,
        };
        if links.links.is_empty() {
            // No link yet: nothing watched can have an outcome; the watch list still ages.
            let window = Duration::days(i64::from(config.leads.link_days));
            let now = self.now;
            self.state
                .alerts
                .outcomes
                .retain(|_, w| now - w.alerted_at <= window);
            return Ok(());
        }
        let wanted = outcomes::Check::wanted(&links, &self.state.alerts.outcomes);
        let wanted: Vec<&str> = wanted.iter().map(String::as_str).collect();
        let users = store.load_users(&wanted)?;
        let check = outcomes::Check {
            links: &links,
            users: &users,
            now: self.now,
            link_days: config.leads.link_days,
            registration: config.leads.outcome_registration,
            currency: &config.metrics.currency,
            timezone: config.timezone,
        };
        for item in check.run(&mut self.state.alerts.outcomes) {
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
