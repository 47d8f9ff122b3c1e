//! The engagement section: commands, the top commands, errors, the error rate, errors by
//! command and the top errors.

use std::collections::BTreeMap;

use anyhow::Result;
use serde::Serialize;

use super::days::Days;
use super::{Named, Period, TOP, add_counts, ratio, top};

#[derive(Clone, Debug, Default, Serialize)]
pub struct Engagement {
    pub commands: u64,
    pub top_commands: Vec<Named>,
    pub errors: u64,
    /// Errors ÷ commands.
    pub error_rate: Option<f64>,
    /// Errors by name (or message), most first.
    pub top_errors: Vec<Named>,
    /// Errors by the command they happened in, most first.
    pub errors_by_command: Vec<Named>,
}

pub fn compute(days: &Days<'_>, period: Period) -> Result<Engagement> {
    let mut commands: BTreeMap<String, u64> = BTreeMap::new();
    let mut errors_by_name: BTreeMap<String, u64> = BTreeMap::new();
    let mut errors_by_command: BTreeMap<String, u64> = BTreeMap::new();
    let mut errors = 0u64;
    for day in period.dates() {
        let a = days.activity(day)?;
        add_counts(&mut commands, &a.commands);
        add_counts(&mut errors_by_name, &a.errors_by_name);
        add_counts(&mut errors_by_command, &a.errors_by_command);
        errors = errors.saturating_add(a.errors);
    }
    let total: u64 = commands.values().sum();
    Ok(Engagement {
        commands: total,
        top_commands: top(commands, TOP),
        errors,
        error_rate: ratio(errors, total),
        top_errors: top(errors_by_name, TOP),
        errors_by_command: top(errors_by_command, TOP),
    })
}
