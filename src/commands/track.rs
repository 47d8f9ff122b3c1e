//! `arkwatch track`: append one event, or import a JSON Lines file of them, to the configured
//! event store. Events are checked before anything is written.

use std::io::BufRead;

use anyhow::{Context, Result, bail};

use crate::cli::TrackArgs;
use crate::events::event::{Event, EventId, RawEntry, fields_from_json, parse_time};
use crate::exit::Status;

pub fn run(env: &super::Env, opts: TrackArgs) -> Result<Status> {
    let config = &env.config;
    let events = match &opts.from_file {
        Some(path) => read_file(path)?,
        None => vec![one(&opts)?],
    };
    let mut store = crate::events::open(config)?;
    let ids = store.append(&events)?;
    let text = match ids.as_slice() {
        [id] => format!("tracked {id} in {}\n", store.describe()),
        _ => format!("tracked {} events in {}\n", ids.len(), store.describe()),
    };
    super::print(&text)?;
    Ok(Status::Ok)
}

fn one(opts: &TrackArgs) -> Result<Vec<(String, String)>> {
    let mut fields = vec![
        ("type".to_string(), opts.kind.clone().unwrap_or_default()),
        ("user".to_string(), opts.user.clone().unwrap_or_default()),
    ];
    if let Some(at) = &opts.at {
        let time = parse_time(at)
            .with_context(|| format!("--at {at:?} is not a time (RFC 3339 or Unix seconds)"))?;
        fields.push(("ts".into(), time.to_rfc3339()));
    }
    for pair in &opts.fields {
        let Some((k, v)) = pair.split_once('=') else {
            bail!("{pair:?} is not FIELD=VALUE");
        };
        if matches!(k, "type" | "user" | "id") {
            bail!("{k} is given by its own argument, not as a field");
        }
        fields.push((k.to_string(), v.to_string()));
    }
    check(&fields).map_err(|reason| anyhow::anyhow!("not a valid event: {reason}"))?;
    Ok(fields)
}

fn read_file(path: &std::path::Path) -> Result<Vec<Vec<(String, String)>>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut events = Vec::new();
    let mut problems = Vec::new();
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("cannot read {}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let fields = match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&line)
        {
            Ok(map) => fields_from_json(map),
            Err(err) => {
                problems.push(format!(
                    "{}:{}: not a JSON object ({err})",
                    path.display(),
                    n + 1
                ));
                continue;
            }
        };
        match check(&fields) {
            Ok(()) => events.push(fields),
            Err(reason) => problems.push(format!("{}:{}: {reason}", path.display(), n + 1)),
        }
    }
    if !problems.is_empty() {
        let shown = problems
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n  ");
        bail!(
            "{} invalid event line{} in {}; nothing was imported:\n  {shown}",
            problems.len(),
            if problems.len() == 1 { "" } else { "s" },
            path.display()
        );
    }
    Ok(events)
}

/// The same checks the fold applies, before the event is written.
fn check(fields: &[(String, String)]) -> std::result::Result<(), String> {
    let entry = RawEntry::from_pairs(EventId::default(), fields.iter().map(|(k, v)| (k, v)));
    Event::parse(&entry).map(|_| ()).map_err(|m| m.reason)
}
