//! The funnel: the tiers of `[pages]`, warm → hot → very hot (by default `/demo` → `/pricing`
//! → `/trial`), with the visitors of each step and its conversion from the step before. Not
//! strict: a step may convert at more than 100% (people skip the step before).

use serde::Serialize;

use super::ratio;
use super::traffic::Traffic;
use crate::config::Config;
use crate::page_tier::PageTier;

#[derive(Clone, Debug, Default, Serialize)]
pub struct Funnel {
    pub steps: Vec<FunnelStep>,
}

#[derive(Clone, Debug, Serialize)]
pub struct FunnelStep {
    pub step: String,
    pub tier: PageTier,
    pub visitors: u64,
    /// Visitors of this step ÷ visitors of the step before (None for the first).
    pub conversion_from_previous: Option<f64>,
}

pub fn compute(config: &Config, traffic: &Traffic) -> Funnel {
    let mut steps: Vec<FunnelStep> = Vec::new();
    for tier in [PageTier::Warm, PageTier::Hot, PageTier::VeryHot] {
        let visitors = traffic.tier_visitors.get(&tier).copied().unwrap_or(0);
        let step = config
            .pages
            .iter()
            .filter(|(_, t)| *t == tier)
            .map(|(p, _)| p.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        steps.push(FunnelStep {
            step: if step.is_empty() {
                tier.to_string()
            } else {
                step
            },
            tier,
            visitors,
            conversion_from_previous: steps.last().and_then(|p| ratio(visitors, p.visitors)),
        });
    }
    Funnel { steps }
}
