//! What the sections read, each piece loaded once: the rollups of a day (activity and
//! traffic), distinct users over days, and every user's plan at an instant (their billing
//! history replayed up to it).

use std::cell::RefCell;
use std::collections::BTreeMap;

use foldhash::HashSet;
use std::rc::Rc;

use anyhow::Result;
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

use super::Sources;
use super::money::add;
use crate::events::projection::{self, UserRecord};
use crate::rollup::activity::{self, ActivityDay};
use crate::rollup::traffic::{self, TrafficDay};

/// Paying users at one instant.
#[derive(Debug, Default)]
pub struct Paying {
    /// User id → MRR, for every user paying then.
    pub users: BTreeMap<String, Decimal>,
    pub mrr: Decimal,
    /// Plan → (customers, MRR).
    pub by_plan: BTreeMap<String, (u64, Decimal)>,
}

impl Paying {
    pub fn count(&self) -> u64 {
        self.users.len() as u64
    }
}

/// Loads rollup days on demand, once each.
pub struct Days<'a> {
    pub src: &'a Sources<'a>,
    activity: RefCell<BTreeMap<NaiveDate, Rc<ActivityDay>>>,
    traffic: RefCell<BTreeMap<NaiveDate, Rc<TrafficDay>>>,
    paying: RefCell<BTreeMap<DateTime<Utc>, Rc<Paying>>>,
}

impl<'a> Days<'a> {
    pub fn new(src: &'a Sources<'a>) -> Days<'a> {
        Days {
            src,
            activity: RefCell::default(),
            traffic: RefCell::default(),
            paying: RefCell::default(),
        }
    }

    pub fn activity(&self, day: NaiveDate) -> Result<Rc<ActivityDay>> {
        if let Some(d) = self.activity.borrow().get(&day) {
            return Ok(d.clone());
        }
        let d = Rc::new(activity::load_day(
            &self.src.config.data_dir,
            &self.src.state.activity,
            day,
        )?);
        self.activity.borrow_mut().insert(day, d.clone());
        Ok(d)
    }

    pub fn traffic(&self, day: NaiveDate) -> Result<Rc<TrafficDay>> {
        if let Some(d) = self.traffic.borrow().get(&day) {
            return Ok(d.clone());
        }
        // Every figure is read through the behaviour layer: a visitor it finds automated is
        // a bot in every section.
        let config = self.src.config;
        let stored = traffic::load_day(&config.data_dir, &self.src.state.traffic, day)?;
        let d = Rc::new(stored.judged(&config.filters.behaviour));
        self.traffic.borrow_mut().insert(day, d.clone());
        Ok(d)
    }

    /// Distinct active users over `days` (as keyed hashes).
    pub fn active_set(&self, days: impl Iterator<Item = NaiveDate>) -> Result<HashSet<u64>> {
        let mut all: HashSet<u64> = HashSet::default();
        for day in days {
            all.extend(self.activity(day)?.active_users.iter().copied());
        }
        Ok(all)
    }

    /// Distinct active users over `days`.
    pub fn active(&self, days: impl Iterator<Item = NaiveDate>) -> Result<u64> {
        Ok(self.active_set(days)?.len() as u64)
    }

    /// Who paid what at instant `at`: every user's billing history replayed up to it.
    pub fn paying_at(&self, at: DateTime<Utc>) -> Result<Rc<Paying>> {
        if let Some(p) = self.paying.borrow().get(&at) {
            return Ok(p.clone());
        }
        let mut paying = Paying::default();
        for (id, user) in self.src.users {
            let (plan, mrr) = plan_at(user, at);
            if mrr > Decimal::ZERO {
                paying.mrr = add(paying.mrr, mrr)?;
                let slot = paying.by_plan.entry(plan).or_default();
                slot.0 += 1;
                slot.1 = add(slot.1, mrr)?;
                paying.users.insert(id.clone(), mrr);
            }
        }
        let paying = Rc::new(paying);
        self.paying.borrow_mut().insert(at, paying.clone());
        Ok(paying)
    }
}

/// A user's plan and MRR at `at`. A record folded before billing histories were kept has only
/// its current plan: it is taken as held since the first conversion.
fn plan_at(user: &UserRecord, at: DateTime<Utc>) -> (String, Decimal) {
    if user.billing.is_empty() {
        let since = user.converted.unwrap_or(user.first_seen);
        return if user.mrr > Decimal::ZERO && since < at {
            (user.plan.clone().unwrap_or_default(), user.mrr)
        } else {
            (String::new(), Decimal::ZERO)
        };
    }
    let state = projection::plan_at(&user.billing, at);
    (state.plan.unwrap_or_default(), state.mrr)
}
