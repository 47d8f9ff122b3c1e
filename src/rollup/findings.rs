//! The behaviour layer's findings asked about one visit or one address at a time (a lead, an
//! alert of a report): a day's findings are read once, and a visit's visitor key recomputed.

use std::collections::BTreeMap;
use std::net::IpAddr;

use anyhow::Result;
use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use foldhash::HashMap;

use super::conduct::Finding;
use super::keys::VisitorKeys;
use super::traffic::TrafficDay;
use crate::config::Behaviour;
use crate::day::DayResolver;

/// The finding on the visitor (`ip`, `user_agent`) of local day `day` among a day's `found`
/// ([`super::traffic::TrafficDay::automated`]). The key is recomputed from the User-Agent as
/// stored (escapes undone); one the server would have escaped in its log hashed otherwise, so
/// such a visitor is judged by its address: automated if any visitor of it that day was.
pub fn finding_of(
    found: &BTreeMap<u64, Finding>,
    keys: &VisitorKeys,
    ip: IpAddr,
    user_agent: &str,
    day: i32,
) -> Option<Finding> {
    let logged_as_is = !user_agent
        .bytes()
        .any(|b| b == b'"' || b == b'\\' || !(0x20..0x7f).contains(&b));
    if logged_as_is {
        let key = keys.visitor(ip, keys.agent_hash(user_agent.as_bytes()), day);
        return found.get(&key).copied();
    }
    finding_of_address(found, keys, ip, day)
}

/// The finding on any visitor of `ip` on local day `day`.
pub fn finding_of_address(
    found: &BTreeMap<u64, Finding>,
    keys: &VisitorKeys,
    ip: IpAddr,
    day: i32,
) -> Option<Finding> {
    found.range(keys.keys_of(ip, day)).next().map(|(_, f)| *f)
}

/// The behaviour layer's findings, read a day at a time as visits and alerts ask about them.
pub struct Findings<'a> {
    load: Box<dyn Fn(NaiveDate) -> Result<TrafficDay> + 'a>,
    rules: Behaviour,
    keys: VisitorKeys,
    days: DayResolver,
    found: HashMap<i32, BTreeMap<u64, Finding>>,
}

impl<'a> Findings<'a> {
    /// `load` gives a day's stored rollup (plus, in a dry run, what the run would add).
    pub fn new(
        load: impl Fn(NaiveDate) -> Result<TrafficDay> + 'a,
        rules: Behaviour,
        keys: VisitorKeys,
        timezone: chrono_tz::Tz,
    ) -> Findings<'a> {
        Findings {
            load: Box::new(load),
            rules,
            keys,
            days: DayResolver::new(timezone),
            found: HashMap::default(),
        }
    }

    fn day(&mut self, secs: i64) -> Result<(i32, &BTreeMap<u64, Finding>)> {
        let day = self.days.day(secs);
        if !self.found.contains_key(&day) {
            let found = if self.rules.enabled {
                (self.load)(crate::day::to_date(day))?.automated(&self.rules)
            } else {
                BTreeMap::new()
            };
            self.found.insert(day, found);
        }
        Ok((day, &self.found[&day]))
    }

    /// The finding on the visitor of a visit at `time`.
    pub fn of_visitor(
        &mut self,
        ip: IpAddr,
        user_agent: &str,
        time: DateTime<FixedOffset>,
    ) -> Result<Option<Finding>> {
        let keys = self.keys.clone();
        let (day, found) = self.day(time.timestamp())?;
        Ok(finding_of(found, &keys, ip, user_agent, day))
    }

    /// The finding on any visitor of `ip` on the day of `time`.
    pub fn of_address(&mut self, ip: IpAddr, time: DateTime<Utc>) -> Result<Option<Finding>> {
        let keys = self.keys.clone();
        let (day, found) = self.day(time.timestamp())?;
        Ok(finding_of_address(found, &keys, ip, day))
    }
}
