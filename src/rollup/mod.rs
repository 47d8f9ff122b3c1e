//! Per-day aggregates, so that metrics and reports outlive log rotation and event trimming.

pub mod activity;
pub mod bots;
pub mod conduct;
pub mod erase;
pub mod files;
pub mod findings;
pub mod keys;
pub mod sessions;
pub mod traffic;
pub mod traffic_file;
pub mod user_cost;
