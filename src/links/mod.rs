//! The links store (`data_dir/links.json`, mode 0600: it holds addresses and user ids): which
//! product user is which visitor, each link with its evidence, and the sightings it is made
//! from.
//!
//! A **sighting** is an event that carried an address (`ip`, and perhaps `user_agent`): user U
//! was at that address at that time. A sighting at `t` **links** U to every visitor (address and
//! User-Agent) whose visit lies in `[t - link_days, t]` at the same address, with the same
//! User-Agent when the event named one. Matching is exact; nothing is guessed.
//!
//! Links do not depend on the order in which events and log lines arrive: a new sighting is
//! matched against the visits already stored, and new visits against the sightings already
//! stored, so every (event, visit) pair is looked at when the later of the two arrives. The
//! store is a set (a sighting or a link found twice is kept once), so a run killed before the
//! state was saved only repeats work. Sightings are kept (events are trimmed, logs rotate), one
//! per user, address, agent and UTC day with the day's first and last time: a day's sightings
//! cover `[first - link_days, last]`, exactly the union of each one's window.

pub mod addresses;
pub mod erase;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{DateTime, Duration, FixedOffset, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::events::event::{Event, EventId, EventKind};
use crate::visits::{self, Committed, Visit};

/// The user was seen at an address (by one event, or several of one UTC day).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sighting {
    pub user: String,
    pub ip: IpAddr,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    pub first: DateTime<Utc>,
    pub first_event: EventId,
    /// The first event's type (`registration`, `identify`, …).
    pub kind: String,
    pub last: DateTime<Utc>,
    pub last_event: EventId,
    pub last_kind: String,
}

/// A user linked to a visitor, with the evidence: the event and the visit that made it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub user: String,
    pub ip: IpAddr,
    pub user_agent: String,
    /// The event: its id, type and time, and whether it named the browser too.
    pub event: EventId,
    pub kind: String,
    pub event_time: DateTime<Utc>,
    pub by_agent: bool,
    /// The earliest visit of the visitor in that event's window.
    pub visit_time: DateTime<FixedOffset>,
    pub visit_path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visit_referrer: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub visit_utm: BTreeMap<String, String>,
}

impl Link {
    /// Which of two candidate links for one (user, visitor) the store keeps: the earliest
    /// event, then the earliest visit (so the result does not depend on arrival order).
    fn rank(&self) -> (DateTime<Utc>, EventId, DateTime<FixedOffset>) {
        (self.event_time, self.event, self.visit_time)
    }
}

/// The store's file, read whole and written atomically.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkStore {
    #[serde(default)]
    pub sightings: Vec<Sighting>,
    #[serde(default)]
    pub links: Vec<Link>,
}

/// The store's record in the state: how far each visits day file was matched against the
/// sightings.
pub type Matched = BTreeMap<NaiveDate, u64>;

pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("links.json")
}

type SightingKey = (String, IpAddr, Option<String>, i64);

fn sighting_key(s: &Sighting) -> SightingKey {
    (
        s.user.clone(),
        s.ip,
        s.user_agent.clone(),
        s.first.timestamp().div_euclid(86_400),
    )
}

/// The name of an event's type, as written in its `type` field.
fn kind_name(kind: &EventKind) -> &str {
    match kind {
        EventKind::Registration => "registration",
        EventKind::Identify => "identify",
        EventKind::Command { .. } => "command",
        EventKind::Conversion { .. } => "conversion",
        EventKind::Cancellation { .. } => "cancellation",
        EventKind::TrialStarted { .. } => "trial_started",
        EventKind::ApiCall { .. } => "api_call",
        EventKind::Error { .. } => "error",
        EventKind::Unknown { kind } => kind,
    }
}

/// The sighting an event is, if it carried an address (events of unknown types are left out:
/// arkwatch does not know what they mean).
pub fn sighting(event: &Event) -> Option<Sighting> {
    let ip = event.ip?;
    if matches!(event.kind, EventKind::Unknown { .. }) {
        return None;
    }
    Some(Sighting {
        user: event.user.clone(),
        ip,
        user_agent: event.user_agent.clone(),
        first: event.time,
        first_event: event.id,
        kind: kind_name(&event.kind).to_string(),
        last: event.time,
        last_event: event.id,
        last_kind: kind_name(&event.kind).to_string(),
    })
}

/// What one refresh of the links did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Refreshed {
    pub sightings: usize,
    pub links: usize,
}

impl LinkStore {
    pub fn load(data_dir: &Path) -> Result<LinkStore> {
        let path = path(data_dir);
        match crate::fsutil::read_if_exists(&path)? {
            None => Ok(LinkStore::default()),
            Some(bytes) => serde_json::from_slice(&bytes).with_context(|| {
                format!(
                    "{} is not a links store arkwatch wrote (corrupt or edited?); move it away \
                     to rebuild the links from the events still stored",
                    path.display()
                )
            }),
        }
    }

    /// Writes the store, after its address index (see [`addresses`]).
    pub fn save(&self, data_dir: &Path) -> Result<()> {
        addresses::Addresses::of(self).save(data_dir)?;
        let bytes = serde_json::to_vec(self)?;
        crate::fsutil::write_atomic(&path(data_dir), &bytes, 0o600)
    }

    /// The links of each visitor (address, User-Agent), earliest first.
    pub fn by_visitor(&self) -> HashMap<(IpAddr, &str), Vec<&Link>> {
        let mut out: HashMap<(IpAddr, &str), Vec<&Link>> = HashMap::new();
        for link in &self.links {
            out.entry((link.ip, link.user_agent.as_str()))
                .or_default()
                .push(link);
        }
        for links in out.values_mut() {
            links.sort_by_key(|l| l.rank());
        }
        out
    }

    /// Adds sightings (merged by user, address, agent and day); returns those that widened
    /// what the store covers, to be matched against the stored visits.
    fn add_sightings(&mut self, new: Vec<Sighting>) -> Vec<Sighting> {
        let mut at: HashMap<SightingKey, usize> = self
            .sightings
            .iter()
            .enumerate()
            .map(|(i, s)| (sighting_key(s), i))
            .collect();
        let mut widened = Vec::new();
        for s in new {
            let Some(&i) = at.get(&sighting_key(&s)) else {
                at.insert(sighting_key(&s), self.sightings.len());
                self.sightings.push(s.clone());
                widened.push(s);
                continue;
            };
            let held = &mut self.sightings[i];
            if (s.first, s.first_event) < (held.first, held.first_event) {
                held.first = s.first;
                held.first_event = s.first_event;
                held.kind.clone_from(&s.kind);
                widened.push(s);
            } else if (s.last, s.last_event) > (held.last, held.last_event) {
                held.last = s.last;
                held.last_event = s.last_event;
                held.last_kind.clone_from(&s.last_kind);
                widened.push(s);
            }
        }
        widened
    }
}

type LinkKey = (String, IpAddr, String);

/// The store's links by (user, address, User-Agent), for one refresh.
struct Linking<'s> {
    store: &'s mut LinkStore,
    at: HashMap<LinkKey, usize>,
    changed: bool,
}

impl<'s> Linking<'s> {
    fn new(store: &'s mut LinkStore) -> Linking<'s> {
        let at = store
            .links
            .iter()
            .enumerate()
            .map(|(i, l)| ((l.user.clone(), l.ip, l.user_agent.clone()), i))
            .collect();
        Linking {
            store,
            at,
            changed: false,
        }
    }

    /// Keeps `candidate` unless a link of the same user and visitor ranks before it.
    fn offer(&mut self, candidate: Link) {
        let key = (
            candidate.user.clone(),
            candidate.ip,
            candidate.user_agent.clone(),
        );
        match self.at.get(&key) {
            Some(&i) if self.store.links[i].rank() <= candidate.rank() => {}
            Some(&i) => {
                self.store.links[i] = candidate;
                self.changed = true;
            }
            None => {
                self.at.insert(key, self.store.links.len());
                self.store.links.push(candidate);
                self.changed = true;
            }
        }
    }
}

/// The link a sighting and a visit make, if they make one.
fn candidate(s: &Sighting, v: &Visit, window: Duration) -> Option<Link> {
    if s.ip != v.ip || s.user_agent.as_ref().is_some_and(|ua| *ua != v.user_agent) {
        return None;
    }
    let at = v.time.with_timezone(&Utc);
    if at < s.first - window || at > s.last {
        return None;
    }
    // Name the event whose own window holds the visit: the day's first if the visit came
    // before it, else its last (less than a day after the first, so within its window).
    let (event, event_time, kind) = if at <= s.first {
        (s.first_event, s.first, s.kind.clone())
    } else {
        (s.last_event, s.last, s.last_kind.clone())
    };
    Some(Link {
        user: s.user.clone(),
        ip: v.ip,
        user_agent: v.user_agent.clone(),
        event,
        kind,
        event_time,
        by_agent: s.user_agent.is_some(),
        visit_time: v.time,
        visit_path: v.path.clone(),
        visit_referrer: v.referrer.clone(),
        visit_utm: v
            .query
            .iter()
            .filter(|(k, _)| k.starts_with("utm_"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    })
}

/// What a refresh reads: the visits store and the window.
pub struct Refresh<'a> {
    pub data_dir: &'a Path,
    pub committed: &'a Committed,
    pub link_days: u32,
}

impl Refresh<'_> {
    /// Matches new sightings against the stored visits and the visits committed since
    /// `matched` against every sighting; saves the store if anything changed and returns how
    /// far the visits were matched (for the state).
    pub fn run(&self, new: Vec<Sighting>, matched: &Matched) -> Result<(Matched, Refreshed)> {
        // Nothing new on either side, or nothing to match new visits against: the store is
        // not read (this runs at every fold).
        let caught_up = self
            .committed
            .iter()
            .all(|(d, n)| matched.get(d) == Some(n));
        if new.is_empty() && (caught_up || !path(self.data_dir).exists()) {
            return Ok((self.committed.clone(), Refreshed::default()));
        }
        let index = addresses::Addresses::load(self.data_dir)?;
        if new.is_empty()
            && let Some(index) = &index
            && !self.new_visits_from(index, matched)?
        {
            return Ok((self.committed.clone(), Refreshed::default()));
        }
        let mut store = LinkStore::load(self.data_dir)?;
        if index.is_none() && path(self.data_dir).exists() {
            addresses::Addresses::of(&store).save(self.data_dir)?;
        }
        let before = (store.sightings.len(), store.links.len());
        let window = Duration::days(i64::from(self.link_days));
        let widened = store.add_sightings(new);
        let mut linking = Linking::new(&mut store);
        linking.changed = !widened.is_empty();
        if let Some(earliest) = widened.iter().map(|s| s.first).min() {
            let since = (earliest - window - Duration::days(1)).date_naive();
            let mut by_ip: HashMap<IpAddr, Vec<&Sighting>> = HashMap::new();
            for s in &widened {
                by_ip.entry(s.ip).or_default().push(s);
            }
            let addresses: HashSet<IpAddr> = by_ip.keys().copied().collect();
            let stored = visits::read_by_address(self.data_dir, self.committed, since, &addresses)?;
            for v in &stored {
                for s in by_ip.get(&v.ip).into_iter().flatten() {
                    if let Some(link) = candidate(s, v, window) {
                        linking.offer(link);
                    }
                }
            }
        }
        let matched = self.match_new_visits(&mut linking, matched, window)?;
        if linking.changed {
            store.save(self.data_dir)?;
        }
        let refreshed = Refreshed {
            sightings: store.sightings.len() - before.0,
            links: store.links.len().saturating_sub(before.1),
        };
        Ok((matched, refreshed))
    }

    /// Whether a visit committed since `matched` comes from an address of `index`.
    fn new_visits_from(&self, index: &addresses::Addresses, matched: &Matched) -> Result<bool> {
        let keep =
            |line: &str| visits::line_ip(line.as_bytes()).is_some_and(|ip| index.contains(ip));
        for (&day, &length) in self.committed {
            let from = matched.get(&day).copied().unwrap_or(0).min(length);
            if from < length
                && !visits::read_range(self.data_dir, day, from..length, &keep)?.is_empty()
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The visits committed since `matched`, against every sighting at their address.
    fn match_new_visits(
        &self,
        linking: &mut Linking<'_>,
        matched: &Matched,
        window: Duration,
    ) -> Result<Matched> {
        let mut by_ip: HashMap<IpAddr, Vec<usize>> = HashMap::new();
        for (i, s) in linking.store.sightings.iter().enumerate() {
            by_ip.entry(s.ip).or_default().push(i);
        }
        let mut out = Matched::new();
        for (&day, &length) in self.committed {
            let from = matched.get(&day).copied().unwrap_or(0).min(length);
            out.insert(day, length);
            if from == length || by_ip.is_empty() {
                continue;
            }
            let keep = |line: &str| {
                visits::line_ip(line.as_bytes()).is_some_and(|ip| by_ip.contains_key(&ip))
            };
            for v in visits::read_range(self.data_dir, day, from..length, &keep)? {
                let Some(at) = by_ip.get(&v.ip) else { continue };
                let found: Vec<Link> = at
                    .iter()
                    .filter_map(|&i| candidate(&linking.store.sightings[i], &v, window))
                    .collect();
                for link in found {
                    linking.offer(link);
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
