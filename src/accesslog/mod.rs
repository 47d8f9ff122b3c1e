//! Access logs: the line parser (against a compiled [`crate::log_format`]), request
//! classification, the checkpointed tailer, and the per-thread folding of lines into rollups and
//! visits.

pub mod address;
pub mod agents;
pub mod categories;
pub mod checkpoint;
pub mod chunks;
pub mod classify;
pub mod detect;
pub mod erase;
pub mod explain;
pub mod fold;
pub mod parser;
pub mod read;
pub mod request;
pub mod servers;
pub mod summary;
pub mod tailer;
pub mod time;
mod visit_json;
pub mod visitor_cache;
