//! JSON: one object with `period` and the sections asked for.

use serde_json::Value;

use super::Renderer;
use crate::metrics::Metrics;

pub struct Json;

/// The model as JSON, with only `sections` (and `period`).
pub fn json(m: &Metrics, sections: &[&str]) -> Value {
    let all = serde_json::to_value(m).expect("metrics serialise");
    let mut out = serde_json::Map::new();
    out.insert("period".into(), all["period"].clone());
    for s in sections {
        out.insert((*s).into(), all[*s].clone());
    }
    Value::Object(out)
}

impl Renderer for Json {
    fn render(&self, m: &Metrics, sections: &[&str]) -> String {
        serde_json::to_string_pretty(&json(m, sections)).expect("JSON values serialise") + "\n"
    }
}
