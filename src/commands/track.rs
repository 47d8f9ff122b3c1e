//! `arkwatch track`: append one event, or import a JSON Lines file of them, to the configured
//! event store. Events are checked before anything is written.
//!
//! Imports are idempotent: an event keeps the `id` (`event_id`) its line gives, or one derived
//! from its content (and how many identical lines came before it in the file), and the store
//! skips an event whose id it has recorded, so importing a file again, or one that overlaps
//! it, adds nothing.

use std::collections::HashMap;
use std::hash::Hasher;
use std::io::BufRead;

use anyhow::{Context, Result, bail};

use crate::cli::TrackArgs;
use crate::config::EventStoreKind;
use crate::events::event::{Event, EventId, FIELDS, RawEntry, fields_from_import, parse_time};
use crate::exit::Status;
use crate::words::count;

type Fields = Vec<(String, String)>;

pub fn run(env: &super::Env, opts: &TrackArgs) -> Result<Status> {
    let config = &env.config;
    let (events, unique) = if let Some(path) = &opts.from_file {
        (read_file(path)?, true)
    } else {
        let one = one(opts)?;
        let unique = one.iter().any(|(k, _)| k == "event_id");
        (vec![one], unique)
    };
    if config.events.store == EventStoreKind::File {
        // The embedded store is a file in data_dir: the same ownership rules as every run.
        crate::fsutil::check_data_dir(&config.data_dir)?;
    }
    let not_recorded = |err: anyhow::Error| {
        let what = if events.len() == 1 {
            "the event was not recorded".to_string()
        } else {
            format!(
                "none of the {} was recorded",
                crate::words::count(events.len() as u64, "event")
            )
        };
        err.context(what)
    };
    let mut store = crate::events::open(config).map_err(not_recorded)?;
    let ids: Vec<Option<EventId>> = if unique {
        store.append_unique(&events).map_err(not_recorded)?
    } else {
        store
            .append(&events)
            .map_err(not_recorded)?
            .into_iter()
            .map(Some)
            .collect()
    };
    let added: Vec<EventId> = ids.iter().flatten().copied().collect();
    let skipped = ids.len() - added.len();
    let text = match (added.as_slice(), skipped) {
        ([id], 0) => format!("tracked {id} in {}\n", store.describe()),
        ([], 1) if ids.len() == 1 => format!(
            "already recorded: an event with this event_id is in {}; nothing added\n",
            store.describe()
        ),
        _ => format!(
            "tracked {} in {} ({} already recorded, skipped)\n",
            count(added.len() as u64, "event"),
            store.describe(),
            skipped
        ),
    };
    super::print(&text)?;
    Ok(Status::Ok)
}

fn one(opts: &TrackArgs) -> Result<Fields> {
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
        if matches!(k, "type" | "user") {
            bail!("{k} is given by its own argument, not as a field");
        }
        let k = if k == "id" { "event_id" } else { k };
        fields.push((k.to_string(), v.to_string()));
    }
    check(&fields).map_err(|reason| anyhow::anyhow!("not a valid event: {reason}"))?;
    Ok(fields)
}

fn read_file(path: &std::path::Path) -> Result<Vec<Fields>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut events = Vec::new();
    let mut problems = Vec::new();
    // Identical lines without an id are told apart by how many came before.
    let mut seen: HashMap<u128, u64> = HashMap::new();
    for (n, line) in std::io::BufReader::new(file).split(b'\n').enumerate() {
        let line = line.with_context(|| format!("cannot read {}", path.display()))?;
        let at = format!("{}:{}", path.display(), n + 1);
        let Ok(line) = std::str::from_utf8(&line) else {
            problems.push(format!("{at}: not UTF-8 text"));
            continue;
        };
        if line.trim().is_empty() {
            continue;
        }
        let mut fields =
            match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(line) {
                Ok(map) => fields_from_import(map),
                Err(err) => {
                    problems.push(format!("{at}: not a JSON object ({err})"));
                    continue;
                }
            };
        if let Err(reason) = check(&fields) {
            problems.push(format!("{at}: {reason}"));
            continue;
        }
        if !fields.iter().any(|(k, _)| k == "event_id") {
            let hash = content_hash(&fields);
            let occurrence = seen.entry(hash).or_default();
            fields.push((
                "event_id".to_string(),
                format!("import:{hash:032x}:{occurrence}"),
            ));
            *occurrence += 1;
        }
        events.push(fields);
    }
    if !problems.is_empty() {
        let shown = problems
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n  ");
        bail!(
            "{} in {}; nothing was imported:\n  {shown}",
            count(problems.len() as u64, "invalid event line"),
            path.display()
        );
    }
    Ok(events)
}

/// A hash of an event's fields in name order: the same content, the same hash.
fn content_hash(fields: &Fields) -> u128 {
    let mut sorted: Vec<&(String, String)> = fields.iter().collect();
    sorted.sort();
    let mut h = siphasher::sip128::SipHasher13::new();
    for (k, v) in sorted {
        h.write(k.as_bytes());
        h.write_u8(0);
        h.write(v.as_bytes());
        h.write_u8(0);
    }
    siphasher::sip128::Hasher128::finish128(&h).as_u128()
}

/// The same checks the fold applies, before the event is written, and no field arkwatch does
/// not know (a typo would be kept and ignored for ever).
fn check(fields: &[(String, String)]) -> std::result::Result<(), String> {
    if let Some((k, _)) = fields.iter().find(|(k, _)| !FIELDS.contains(&k.as_str())) {
        return Err(format!(
            "unknown field {k:?} (an event may have: {})",
            FIELDS.join(", ")
        ));
    }
    if let Some((_, v)) = fields.iter().find(|(k, _)| k == "event_id")
        && (v.is_empty() || v.len() > 200)
    {
        return Err("event_id must be 1 to 200 characters".to_string());
    }
    let entry = RawEntry::from_pairs(EventId::default(), fields.iter().map(|(k, v)| (k, v)));
    Event::parse(&entry).map(|_| ()).map_err(|m| m.reason)
}
