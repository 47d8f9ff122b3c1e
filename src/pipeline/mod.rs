//! The stages that take the lock and bring the stores up to date: ingest the logs, fold the
//! events, the scan (ingest, fold, leads, rules, delivery), and the refresh that `metrics` and
//! `report` share. Each stage is a function of a [`Run`] and a few named inputs; each commits
//! on its own, so a failing stage loses nothing done before it.

pub mod fold;
pub mod ingest;
pub mod refresh;
pub mod scan;

use crate::clock::Clock;
use crate::config::Config;
use crate::state::StateLock;

/// What every stage of one run shares.
#[derive(Clone, Copy)]
pub struct Run<'a> {
    pub config: &'a Config,
    pub lock: &'a StateLock,
    pub clock: Clock,
}

impl Run<'_> {
    pub fn data_dir(&self) -> &std::path::Path {
        self.lock.data_dir()
    }
}
