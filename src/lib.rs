//! arkwatch: hot-lead alerts, `SaaS` metrics and reports from nginx access logs and product
//! events, run from cron. This crate is the whole tool; `main.rs` only maps its result to an
//! exit status, and nothing below [`cli`] knows about the command line.

pub mod accesslog;
pub mod alerts;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod crashpoint;
pub mod dashboard;
pub mod day;
pub mod erase;
pub mod escape;
pub mod events;
pub mod exit;
pub mod fsutil;
pub mod geo;
pub mod health;
pub mod init;
pub mod links;
pub mod log_format;
pub mod metrics;
pub mod net;
pub mod notify;
pub mod page_tier;
pub mod pipeline;
pub mod privacy;
pub mod report;
pub mod retention;
pub mod rollup;
pub mod state;
pub mod verify;
pub mod visits;
pub mod words;

pub use commands::run;
