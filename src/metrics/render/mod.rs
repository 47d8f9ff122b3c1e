//! Renderers of [`Metrics`], one per format behind one trait: terminal tables (comfy-table),
//! JSON, CSV, and Prometheus text (`node_exporter`'s textfile-collector format). They only
//! format: every number comes from the model. Untrusted names (pages, referrers, commands)
//! are escaped for the terminal in tables and neutralised for spreadsheets in CSV.

mod csv;
mod json;
mod prometheus;
mod rows;
mod table;

use rust_decimal::Decimal;

pub use csv::Csv;
pub use json::{Json, json};
pub use prometheus::Prometheus;
pub use rows::rows;
pub use table::Tables;

use super::Metrics;

/// The sections a command line can ask for.
pub const SECTIONS: &[&str] = &[
    "users",
    "revenue",
    "engagement",
    "costs",
    "traffic",
    "funnel",
    "leads",
    "customers",
];

/// One output format.
pub trait Renderer {
    /// The text of `sections` of `m`.
    fn render(&self, m: &Metrics, sections: &[&str]) -> String;
}

/// A rate as a percentage, or `n/a`.
pub fn percent(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".to_string(), |v| format!("{:.1}%", v * 100.0))
}

/// An amount rounded to cents, with its currency.
pub fn money(v: Decimal, currency: &str) -> String {
    format!("{:.2} {currency}", super::money::round(v, 2))
}

/// An optional amount, or `n/a`.
pub fn money_opt(v: Option<Decimal>, currency: &str) -> String {
    v.map_or_else(|| "n/a".to_string(), |v| money(v, currency))
}

/// A per-unit amount, rounded to 4 places.
pub fn unit_opt(v: Option<Decimal>, currency: &str) -> String {
    v.map_or_else(
        || "n/a".to_string(),
        |v| format!("{} {currency}", super::money::round(v, 4)),
    )
}
