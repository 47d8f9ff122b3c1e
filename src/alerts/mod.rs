//! Alerts: hot-lead journeys and scores, and the ledger's dedup, cooldown and rate-limit
//! decisions. The rules that feed them and the notifiers come with `scan`.

pub mod journey;
pub mod ledger;
pub mod message;
