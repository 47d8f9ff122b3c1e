//! Alerts: hot-lead journeys and scores (the rules, ledger and notifiers come with `scan`).

pub mod journey;
