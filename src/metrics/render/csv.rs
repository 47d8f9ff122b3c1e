//! CSV: `section,metric,value`, one row per number, lists flattened with their names
//! (`traffic,top_pages./pricing.count,12`). Every cell is quoted as RFC 4180 needs, control
//! characters are escaped, and a cell a spreadsheet would evaluate (`=`, `+`, `-`, `@`) is
//! prefixed with `'` (see [`crate::escape::csv_cell`]).

use std::fmt::Write as _;

use serde_json::Value;

use super::{Renderer, json};
use crate::escape::csv_cell;
use crate::metrics::Metrics;

pub struct Csv;

impl Renderer for Csv {
    fn render(&self, m: &Metrics, sections: &[&str]) -> String {
        let mut out = String::from("section,metric,value\n");
        let value = json(m, sections);
        for s in sections {
            let mut rows = Vec::new();
            flatten("", &value[*s], &mut rows);
            for (k, v) in rows {
                let _ = writeln!(out, "{},{},{}", csv_cell(s), csv_cell(&k), csv_cell(&v));
            }
        }
        out
    }
}

/// Keys that name the item of a list, in the order they are looked for.
const NAME_KEYS: [&str; 9] = [
    "name", "provider", "step", "page", "day", "plan", "week", "source", "user",
];

fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
    let join = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                flatten(&join(k), v, out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                // A list of named things is keyed by its name.
                let key = NAME_KEYS
                    .iter()
                    .find_map(|k| {
                        item.get(*k)
                            .map(|n| n.as_str().map_or(n.to_string(), String::from))
                    })
                    .unwrap_or_else(|| i.to_string());
                match item {
                    Value::Object(map) => {
                        for (k, v) in map {
                            if !NAME_KEYS.contains(&k.as_str()) {
                                flatten(&join(&format!("{key}.{k}")), v, out);
                            }
                        }
                    }
                    other => flatten(&join(&key), other, out),
                }
            }
        }
        Value::Null => out.push((prefix.to_string(), String::new())),
        Value::String(s) => out.push((prefix.to_string(), s.clone())),
        other => out.push((prefix.to_string(), other.to_string())),
    }
}
