//! `PageTier`: how interesting a page is as a buying signal. A core type: the configuration maps
//! path prefixes to it, the classifier tags visits with it, alerts and metrics read it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How interesting a page is as a buying signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PageTier {
    Warm,
    Hot,
    VeryHot,
}

impl PageTier {
    pub const ALL: [PageTier; 3] = [PageTier::VeryHot, PageTier::Hot, PageTier::Warm];

    pub fn index(self) -> usize {
        match self {
            PageTier::VeryHot => 0,
            PageTier::Hot => 1,
            PageTier::Warm => 2,
        }
    }

    /// The name in the configuration and in JSON (`very_hot`).
    pub fn name(self) -> &'static str {
        match self {
            PageTier::VeryHot => "very_hot",
            PageTier::Hot => "hot",
            PageTier::Warm => "warm",
        }
    }

    /// The name in a sentence for a person (`very hot`).
    pub fn words(self) -> &'static str {
        match self {
            PageTier::VeryHot => "very hot",
            PageTier::Hot => "hot",
            PageTier::Warm => "warm",
        }
    }
}

impl fmt::Display for PageTier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
