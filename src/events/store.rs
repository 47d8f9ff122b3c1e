//! The event store seam: one trait, a Redis stream for the real deployment and a JSON Lines file
//! under `data_dir` for a machine with no server. Both keep the events and the users projection.

use std::collections::BTreeMap;

use anyhow::Result;

use super::event::{EventId, RawEntry};
use super::projection::{UserRecord, UserTotals};

/// Where events live. Every method either succeeds or fails as a whole; a store that cannot be
/// reached fails with [`crate::exit::Fatal::ServiceDown`].
pub trait EventStore {
    /// The store, for messages: a path, or `redis://host:port/db` without a password.
    fn describe(&self) -> String;

    /// What the fold cursor is a position in: the same for every address of one store (so a
    /// host renamed is no change), different for another store (a file, another db or stream).
    fn identity(&self) -> String;

    /// The marker arkwatch keeps in a store whose data can vanish under it (Redis), to notice
    /// when it did; `None` for a store that cannot lose its data that way (the embedded file).
    fn marker(&mut self) -> Result<Option<String>>;

    /// Sets the marker (only when there is none, with `only_if_absent`); returns the one set.
    fn set_marker(&mut self, marker: &str, only_if_absent: bool) -> Result<String>;

    /// The id of the newest entry the store ever held (None: none, or no stream).
    fn last_id(&mut self) -> Result<Option<EventId>>;

    /// Whether the projection lives outside `data_dir` and needs a copy there.
    fn needs_snapshot(&self) -> bool;

    /// Whether the store answers, as a sentence for `status` (never a password).
    fn check(&mut self) -> Result<String>;

    /// Appends events (field lists as producers write them); returns their ids.
    fn append(&mut self, events: &[Vec<(String, String)>]) -> Result<Vec<EventId>>;

    /// Appends the events whose `event_id` the store has not recorded before, and records
    /// their ids, in one atomic step per event; an event already recorded is skipped (`None`).
    /// Every event here has an `event_id` field.
    fn append_unique(&mut self, events: &[Vec<(String, String)>]) -> Result<Vec<Option<EventId>>>;

    /// Up to `count` entries after `after` (from the start when `None`), in id order.
    fn read_after(&mut self, after: Option<EventId>, count: usize) -> Result<Vec<RawEntry>>;

    /// Deletes every entry with an id below `min`; returns how many went.
    fn trim_before(&mut self, min: EventId) -> Result<u64>;

    /// Deletes the entries with these ids (for `purge-ip`); returns how many went.
    fn remove(&mut self, ids: &std::collections::BTreeSet<EventId>) -> Result<u64>;

    /// The last event folded into the users projection.
    fn projection_cursor(&mut self) -> Result<Option<EventId>>;

    /// The projection records of `users` that exist.
    fn load_users(&mut self, users: &[&str]) -> Result<BTreeMap<String, UserRecord>>;

    /// The whole projection.
    fn all_users(&mut self) -> Result<BTreeMap<String, UserRecord>>;

    /// Users, paying users and MRR of the whole projection.
    fn projection_totals(&mut self) -> Result<UserTotals>;

    /// Writes these projection records, the totals and the cursor in one atomic step.
    fn save_users(
        &mut self,
        users: &BTreeMap<String, UserRecord>,
        totals: UserTotals,
        cursor: EventId,
    ) -> Result<()>;

    /// Deletes these users' projection records and sets the totals, in one atomic step (for
    /// `purge-user`).
    fn remove_users(&mut self, users: &[&str], totals: UserTotals) -> Result<()>;
}
