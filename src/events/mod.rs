//! Product events: the model, the store seam and its two backends (Redis, embedded file), the
//! users projection, and the fold that turns new events into the projection and daily activity
//! rollups.

pub mod activity;
pub mod erase;
pub mod event;
pub mod file;
pub mod fold;
pub mod projection;
pub mod redis;
mod resp;
pub mod retain;
pub mod snapshot;
pub mod store;

use anyhow::Result;

use crate::config::{Config, EventStoreKind};
use store::EventStore;

/// Opens the configured store (connecting, for Redis).
pub fn open(config: &Config) -> Result<Box<dyn EventStore>> {
    Ok(match &config.events.store {
        EventStoreKind::File => Box::new(file::FileStore::at(
            &config.data_dir,
            config.events.file.as_deref(),
        )),
        EventStoreKind::Redis(url) => {
            Box::new(redis::RedisStore::connect(url, &config.events.prefix)?)
        }
    })
}
