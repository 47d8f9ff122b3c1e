//! What the chat and webhook channels show of a report: the key figures as a table in
//! monospace and the period's top hot leads in words (email carries the whole report as its
//! two parts). Each channel marks them up its own way.

use super::story;
use crate::alerts::digest::{KpiLine, ReportText};

/// Leads a chat report shows.
pub const TOP_LEADS: usize = 5;

/// The key figures as aligned columns (arkwatch's words and numbers only).
pub fn table(kpis: &[KpiLine]) -> String {
    let w_name = kpis
        .iter()
        .map(|k| k.name.chars().count())
        .max()
        .unwrap_or(0);
    let w_value = kpis
        .iter()
        .map(|k| k.value.chars().count())
        .max()
        .unwrap_or(0);
    kpis.iter()
        .map(|k| {
            format!(
                "{:<w_name$}  {:>w_value$}  {}",
                crate::escape::one_line(&k.name),
                crate::escape::one_line(&k.value),
                crate::escape::one_line(&k.change)
            )
            .trim_end()
            .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The period's top leads in words.
pub fn stories(report: &ReportText, digest_hosts: &[String]) -> Vec<story::LeadStory> {
    report
        .top_leads
        .iter()
        .take(TOP_LEADS)
        .map(|j| {
            story::journey(
                j,
                format!("{} lead", capital(j.top_tier.words())),
                digest_hosts,
            )
        })
        .collect()
}

fn capital(words: &str) -> String {
    let mut c = words.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}
