//! `arkwatch explain IP [--date DAY]`: the verdict of bot detection on each visitor of an
//! address (see [`crate::accesslog::explain`]), as text or JSON. Exit 1 when the logs on disk
//! hold no request from it.

use std::fmt::Write as _;

use anyhow::Result;

use crate::accesslog::explain::{ExplainedVisitor, Explanation, explain};
use crate::cli::ExplainArgs;
use crate::exit::Status;
use crate::rollup::bots::{Category, Layer};
use crate::words::count;

/// A visitor's requests shown in the text; `--json` has them all.
const SHOWN: usize = 12;

pub fn run(env: &super::Env, opts: &ExplainArgs) -> Result<Status> {
    let explanation = explain(&env.config, opts.ip, opts.date)?;
    if opts.json {
        super::print(&(serde_json::to_string_pretty(&explanation)? + "\n"))?;
    } else {
        super::print(&human(&explanation, opts.date))?;
    }
    Ok(if explanation.days.is_empty() {
        Status::Partial
    } else {
        Status::Ok
    })
}

fn human(e: &Explanation, date: Option<chrono::NaiveDate>) -> String {
    let mut out = String::new();
    if e.days.is_empty() {
        let when = date.map_or(String::new(), |d| format!(" on {d}"));
        let _ = writeln!(out, "{}: no request{when} in the access logs on disk", e.ip);
        return out;
    }
    for (i, day) in e.days.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "{} on {}: {}",
            e.ip,
            day.day,
            count(day.visitors.len() as u64, "visitor")
        );
        for v in &day.visitors {
            visitor(&mut out, v);
        }
    }
    out
}

fn visitor(out: &mut String, v: &ExplainedVisitor) {
    let agent = crate::escape::excerpt(v.user_agent.as_bytes());
    let _ = writeln!(
        out,
        "\n  {}",
        if agent.is_empty() {
            "(no User-Agent)"
        } else {
            &agent
        }
    );
    let kind = v
        .category
        .and_then(Category::from_name)
        .map_or(String::new(), |c| format!(" ({})", c.words()));
    let _ = writeln!(out, "    verdict:  {}{kind}", v.verdict);
    let layer = v
        .layer
        .and_then(|name| Layer::ALL.into_iter().find(|l| l.name() == name))
        .map_or(String::new(), |l| format!("{} layer: ", l.words()));
    let _ = writeln!(out, "    because:  {layer}{}", v.rule);
    let c = &v.counts;
    let _ = writeln!(
        out,
        "    requests: {} ({} pageviews, {} assets, {} HEAD, {} robots.txt, {} other)",
        c.requests, c.pageviews, c.assets, c.heads, c.robots_txt, c.others
    );
    for r in v.requests.iter().take(SHOWN) {
        let _ = writeln!(
            out,
            "      {}  {} {} {}  {}",
            r.time.format("%H:%M:%S"),
            crate::escape::excerpt(r.method.as_bytes()),
            crate::escape::excerpt(r.path.as_bytes()),
            r.status,
            r.kind
        );
    }
    if v.requests.len() > SHOWN {
        let _ = writeln!(out, "      … {} more", v.requests.len() - SHOWN);
    }
}
