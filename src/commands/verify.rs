//! `arkwatch verify`: recount the logs on disk and compare with the stores (see
//! [`crate::verify`]); a table per day, or JSON.

use std::fmt::Write as _;

use anyhow::Result;

use crate::cli::VerifyArgs;
use crate::exit::Status;
use crate::verify::{Verdict, VerifyReport};
use crate::words::{count, differ};

pub fn run(env: &super::Env, opts: &VerifyArgs) -> Result<Status> {
    let report = crate::verify::verify(
        &env.config,
        env.wait,
        env.clock,
        &crate::verify::Options { days: opts.days },
    )?;
    if opts.json {
        super::print(&(serde_json::to_string_pretty(&report)? + "\n"))?;
    } else {
        super::print(&human(&report))?;
    }
    for note in &report.notes {
        super::warn(note);
    }
    Ok(if report.verdict == Verdict::Differs {
        Status::DataError
    } else {
        Status::Ok
    })
}

fn human(r: &VerifyReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "verify in {:.3}s: {} recounted from {}; {} match, {} partial, {} gone, {} {}",
        r.seconds,
        count(r.lines, "line"),
        count(r.files.len() as u64, "file"),
        count(r.matched, "day"),
        r.partial,
        r.gone,
        r.differing,
        differ(r.differing)
    );
    for day in &r.days {
        let verdict = match day.verdict {
            Verdict::Match => "match",
            Verdict::Partial => "partial (older lines of this day are no longer on disk)",
            Verdict::Gone => "gone (no line of this day is on disk any more)",
            Verdict::Differs => "DIFFERS",
        };
        let _ = writeln!(out, "  {}  {verdict}", day.day);
        for d in &day.differences {
            let _ = writeln!(
                out,
                "      {}: committed {}, recounted {}",
                d.field, d.committed, d.recounted
            );
        }
    }
    if let Some(e) = &r.events {
        out.push_str(&events(e));
    }
    for f in r.files.iter().filter(|f| f.lines != f.committed_lines) {
        let _ = writeln!(
            out,
            "  file {}: the checkpoint says {} consumed, the recount read {}",
            f.path,
            count(f.committed_lines, "line"),
            f.lines
        );
    }
    out
}

fn events(e: &crate::verify::events::EventsReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "events of {}: {} folded again; {} match, {} partial, {} {}; {} checked, {} {}",
        e.store,
        count(e.events, "event"),
        count(e.matched, "day"),
        e.partial,
        e.differing,
        differ(e.differing),
        count(e.users_checked, "user record"),
        e.users_differing,
        differ(e.users_differing),
    );
    for day in e.days.iter().filter(|d| d.verdict == Verdict::Differs) {
        let _ = writeln!(out, "  {}  DIFFERS", day.day);
        for d in &day.differences {
            let _ = writeln!(
                out,
                "      {}: committed {}, recounted {}",
                d.field, d.committed, d.recounted
            );
        }
    }
    if !e.users_named.is_empty() {
        let _ = writeln!(out, "  records that differ: {}", e.users_named.join(", "));
    }
    for note in &e.notes {
        let _ = writeln!(out, "  note: {note}");
    }
    out
}
