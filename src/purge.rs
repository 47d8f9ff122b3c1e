//! `purge-ip`: the right to erasure (and, with `--dry-run`, the right of access) for one address
//! or network, across every place arkwatch keeps data.
//!
//! What an address is matched in: the visits store (day files, and the gzip archives of
//! `rotate`), the event store (entries whose `ip` field, or any field, names it), the state
//! (pending alerts and the alert ledger), the outbox, the traffic rollups' visitor keys (the
//! keyed hash is recomputed for each day), and, on request, the rotated access logs. An address
//! is matched in every spelling: IPv4-mapped IPv6, compressed and expanded IPv6 in either case,
//! and inside lists such as `X-Forwarded-For`.
//!
//! Every rewrite goes through a temporary file and a rename, under the state lock. Visits and
//! access-log lines are overwritten with spaces rather than cut out, so that every byte offset
//! the state holds (committed lengths, scan offsets, log checkpoints) stays valid without a
//! second commit; a purge killed at any moment is completed by running it again.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::Utc;
use ipnet::{IpNet, Ipv4Net};
use memchr::memmem;
use serde::Serialize;

use crate::alerts::message::Digest;
use crate::alerts::notify;
use crate::config::Config;
use crate::events::event::EventId;
use crate::events::store::EventStore;
use crate::fsutil;
use crate::rollup::keys::VisitorKeys;
use crate::rollup::traffic;
use crate::state::{SCHEMA_VERSION, State, StateLock};

/// The widest networks purged without `--force`.
const WIDEST_V4: u8 = 16;
const WIDEST_V6: u8 = 48;
/// Networks up to this many IPv4 addresses have every address's visitor keys recomputed.
const ENUMERATE_V4: u32 = 1 << 16;

/// What to purge: one address, or a network.
#[derive(Clone, Debug)]
pub struct Target {
    pub net: IpNet,
    /// Set for one address: the spellings searched for in text.
    needles: Vec<Needle>,
}

#[derive(Clone, Debug)]
struct Needle {
    text: Vec<u8>,
    v4: bool,
}

/// Why a target was refused.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadTarget(pub String);

impl Target {
    /// Parses `spec` (an address or a CIDR). `0.0.0.0/0` and `::/0` are always refused;
    /// networks wider than /16 (IPv4) or /48 (IPv6) need `force`.
    pub fn parse(spec: &str, force: bool) -> Result<Target, BadTarget> {
        let net = crate::config::parse_net(spec).ok_or_else(|| {
            BadTarget(format!(
                "{spec:?} is neither an IP address nor a CIDR (examples: 203.0.113.7, \
                 2001:db8::1, 203.0.113.0/24)"
            ))
        })?;
        // An IPv4-mapped IPv6 address (or network) is the IPv4 one.
        let net = match net {
            IpNet::V6(n) if n.prefix_len() >= 96 => match n.network().to_ipv4_mapped() {
                Some(v4) => IpNet::V4(
                    Ipv4Net::new(v4, n.prefix_len() - 96).expect("a prefix of at most 32"),
                ),
                None => net,
            },
            _ => net,
        };
        if net.prefix_len() == 0 {
            return Err(BadTarget(format!(
                "{net} is every address; arkwatch never purges everything (delete data_dir \
                 for that)"
            )));
        }
        let widest = if matches!(net, IpNet::V4(_)) {
            WIDEST_V4
        } else {
            WIDEST_V6
        };
        if net.prefix_len() < widest && !force {
            return Err(BadTarget(format!(
                "{net} is a network wider than /{widest}; purging it removes the data of many \
                 people. Check the prefix, and add --force if it is what you mean"
            )));
        }
        let needles = if net.prefix_len() == net.max_prefix_len() {
            spellings(net.addr())
        } else {
            Vec::new()
        };
        Ok(Target { net, needles })
    }

    fn single(&self) -> bool {
        !self.needles.is_empty()
    }

    /// Whether `ip` is (in) the target, in any spelling.
    pub fn matches(&self, ip: IpAddr) -> bool {
        self.net.contains(&ip.to_canonical())
    }

    /// Whether `text` names a matching address anywhere.
    pub fn in_text(&self, text: &[u8]) -> bool {
        if self.single() {
            self.needles
                .iter()
                .any(|n| memmem::find_iter(text, &n.text).any(|at| bounded(text, at, n)))
        } else {
            addresses_in(text).any(|ip| self.matches(ip))
        }
    }

    /// The byte ranges of `bytes` that spell a matching address.
    fn spans(&self, bytes: &[u8]) -> Vec<(usize, usize)> {
        let mut cut: Vec<(usize, usize)> = Vec::new();
        if self.single() {
            for n in &self.needles {
                for at in memmem::find_iter(bytes, &n.text) {
                    if bounded(bytes, at, n) {
                        cut.push((at, at + n.text.len()));
                    }
                }
            }
        } else {
            for (start, end) in address_spans(bytes) {
                if std::str::from_utf8(&bytes[start..end])
                    .ok()
                    .and_then(parse_token)
                    .is_some_and(|ip| self.matches(ip))
                {
                    cut.push((start, end));
                }
            }
        }
        cut.sort();
        cut
    }

    /// The lines of `text` (start, end without the newline) that name a matching address. For
    /// one address the whole text is searched for its spellings at once (SIMD memmem), and only
    /// the lines around a hit are looked at.
    fn matching_lines(&self, text: &[u8]) -> Vec<(usize, usize)> {
        let line_of = |at: usize| {
            let start = memchr::memrchr(b'\n', &text[..at]).map_or(0, |i| i + 1);
            let stop = memchr::memchr(b'\n', &text[at..]).map_or(text.len(), |i| at + i);
            (start, stop)
        };
        let mut lines: Vec<(usize, usize)> = if self.single() {
            self.spans(text)
                .into_iter()
                .map(|(at, _)| line_of(at))
                .collect()
        } else {
            let mut out = Vec::new();
            let mut start = 0;
            while start < text.len() {
                let stop = memchr::memchr(b'\n', &text[start..]).map_or(text.len(), |i| start + i);
                if self.in_text(&text[start..stop]) {
                    out.push((start, stop));
                }
                start = stop + 1;
            }
            out
        };
        lines.sort_unstable();
        lines.dedup();
        lines
    }

    /// `text` with every matching address replaced by `[purged]`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = String::new();
        let mut at = 0;
        for (start, end) in self.spans(text.as_bytes()) {
            if start < at {
                continue;
            }
            out.push_str(&text[at..start]);
            out.push_str("[purged]");
            at = end;
        }
        out.push_str(&text[at..]);
        out
    }

    /// Overwrites every matching address in `bytes` with `x` (same length, so a JSON string
    /// stays valid and a file keeps its offsets).
    pub fn mask(&self, bytes: &mut [u8]) {
        for (start, end) in self.spans(bytes) {
            bytes[start..end].fill(b'x');
        }
    }
}

/// The spellings of one address that text may hold.
fn spellings(ip: IpAddr) -> Vec<Needle> {
    let mut out: Vec<Needle> = Vec::new();
    let mut add = |text: String, v4: bool| {
        for t in [text.to_ascii_lowercase(), text.to_ascii_uppercase()] {
            if !out.iter().any(|n| n.text == t.as_bytes()) {
                out.push(Needle {
                    text: t.into_bytes(),
                    v4,
                });
            }
        }
    };
    match ip {
        IpAddr::V4(v4) => {
            // Also inside `::ffff:1.2.3.4`.
            add(v4.to_string(), true);
            let mapped = v4.to_ipv6_mapped();
            add(expanded(mapped, false), false);
            add(expanded(mapped, true), false);
            let seg = mapped.segments();
            add(format!("::ffff:{:x}:{:x}", seg[6], seg[7]), false);
        }
        IpAddr::V6(v6) => {
            add(v6.to_string(), false);
            add(expanded(v6, false), false);
            add(expanded(v6, true), false);
        }
    }
    out
}

fn expanded(ip: Ipv6Addr, padded: bool) -> String {
    ip.segments()
        .iter()
        .map(|s| {
            if padded {
                format!("{s:04x}")
            } else {
                format!("{s:x}")
            }
        })
        .collect::<Vec<_>>()
        .join(":")
}

/// Whether the needle found at `at` is a whole address, not part of a longer one.
fn bounded(text: &[u8], at: usize, n: &Needle) -> bool {
    let before = at.checked_sub(1).map(|i| text[i]);
    let after = text.get(at + n.text.len()).copied();
    if n.v4 {
        // `::ffff:1.2.3.4` holds 1.2.3.4; `11.2.3.45` and `1.2.3.4.5` do not.
        let next = text.get(at + n.text.len() + 1);
        let longer = match after {
            Some(b) if b.is_ascii_digit() => true,
            Some(b'.') => next.is_some_and(u8::is_ascii_digit),
            _ => false,
        };
        !before.is_some_and(|b| b.is_ascii_digit() || b == b'.') && !longer
    } else {
        let part = |b: u8| b.is_ascii_hexdigit() || b == b':' || b == b'.';
        !before.is_some_and(part) && !after.is_some_and(part)
    }
}

/// The byte ranges of everything in `text` that could be an address (runs of hex digits,
/// colons and dots holding a colon or a dot).
fn address_spans(text: &[u8]) -> impl Iterator<Item = (usize, usize)> + '_ {
    let part = |b: u8| b.is_ascii_hexdigit() || b == b':' || b == b'.';
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < text.len() {
            while i < text.len() && !part(text[i]) {
                i += 1;
            }
            let start = i;
            while i < text.len() && part(text[i]) {
                i += 1;
            }
            let run = &text[start..i];
            if run.len() >= 3 && run.iter().any(|&b| b == b'.' || b == b':') {
                return Some((start, i));
            }
        }
        None
    })
}

/// An address in one run: `1.2.3.4`, `2001:db8::1`, `::ffff:1.2.3.4`, `1.2.3.4:8080`.
fn parse_token(token: &str) -> Option<IpAddr> {
    let token = token.trim_matches('.');
    if let Ok(ip) = token.parse() {
        return Some(ip);
    }
    let (host, port) = token.rsplit_once(':')?;
    if port.bytes().all(|b| b.is_ascii_digit()) {
        host.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
    } else {
        None
    }
}

/// Every address named in `text`.
fn addresses_in(text: &[u8]) -> impl Iterator<Item = IpAddr> + '_ {
    address_spans(text).filter_map(|(start, end)| {
        std::str::from_utf8(&text[start..end])
            .ok()
            .and_then(parse_token)
    })
}

/// What one store held.
#[derive(Debug, Default, Serialize)]
pub struct StoreReport {
    /// Records removed (or, in a dry run, found).
    pub records: u64,
    /// Files rewritten or deleted.
    pub files: u64,
    /// In a dry run: the records themselves.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub found: Vec<serde_json::Value>,
}

#[derive(Debug, Default, Serialize)]
pub struct PurgeReport {
    pub target: String,
    pub dry_run: bool,
    pub visits: StoreReport,
    pub events: StoreReport,
    pub state: StoreReport,
    pub outbox: StoreReport,
    pub rollups: StoreReport,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_logs: Option<StoreReport>,
    /// Things the user should know (the live access log holds the address, say).
    pub notes: Vec<String>,
    pub seconds: f64,
}

/// The options of one purge.
pub struct Options {
    pub dry_run: bool,
    pub include_access_logs: bool,
}

/// Purges `target` from every store. The caller holds the lock.
pub fn purge(
    config: &Config,
    lock: &StateLock,
    target: &Target,
    opts: &Options,
) -> Result<PurgeReport> {
    let started = std::time::Instant::now();
    let data_dir = lock.data_dir();
    let mut state = lock.load()?;
    let keys = VisitorKeys::load_or_create(data_dir)?;
    let dry = opts.dry_run;
    let mut report = PurgeReport {
        target: if target.single() {
            target.net.addr().to_string()
        } else {
            target.net.to_string()
        },
        dry_run: dry,
        ..PurgeReport::default()
    };
    // The store first: when it does not answer, nothing was touched (not even the audit log).
    let mut store = crate::events::open(config)?;
    if !dry {
        audit(data_dir, &keys, target, "started", None)?;
    }
    // Addresses met on the way, for the visitor keys of a network that cannot be enumerated.
    let mut seen: BTreeSet<IpAddr> = BTreeSet::new();

    report.events = purge_events(store.as_mut(), target, dry, &mut seen)?;
    report.visits = purge_visits(data_dir, target, dry, &mut seen)?;
    report.outbox = purge_outbox(config, target, dry, &mut seen)?;
    let mut logs_changed = false;
    if opts.include_access_logs {
        let (logs, notes) = purge_access_logs(config, lock, &mut state, target, dry)?;
        logs_changed = logs.files > 0;
        report.access_logs = Some(logs);
        report.notes.extend(notes);
    }
    report.state = purge_state(&mut state, target, dry, &mut seen);
    let history = crate::alerts::history::path(data_dir);
    if history.exists() {
        let n = blank_lines(&history, target, dry, Some(&visit_owner), &mut |line| {
            if dry {
                report.state.found.push(serde_json::json!({
                    "alert_sent": serde_json::from_slice::<serde_json::Value>(line).ok()
                }));
            }
        })?;
        report.state.records += n;
    }
    report.rollups = purge_rollups(data_dir, &mut state, &keys, target, &seen, dry)?;
    if let IpNet::V6(_) = target.net
        && !target.single()
    {
        report.notes.push(
            "visitor keys of an IPv6 network are found only for the addresses arkwatch \
             recorded elsewhere (a keyed hash cannot be reversed, and a /64 cannot be \
             enumerated)"
                .to_string(),
        );
    }
    if !dry {
        if report.rollups.records > 0 || report.state.records > 0 || logs_changed {
            state.version = SCHEMA_VERSION;
            lock.save(&state)?;
            traffic::remove_unreferenced(data_dir, &state.traffic)?;
            crate::rollup::files::DayFiles::new(data_dir, "activity")
                .remove_unreferenced(&state.activity)?;
        }
        audit(data_dir, &keys, target, "done", Some(&report))?;
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// The rotated access logs: lines naming the address are blanked (plain files in place through
/// a rename, archives recompressed). A checkpoint whose fingerprint the blanking changes gets
/// the new one as `alt_fp`, saved before the file is replaced, so ingestion knows the file
/// either way and reads no line twice. The live log is never rewritten (nginx is appending to
/// it): a note says how many of its lines name the address.
fn purge_access_logs(
    config: &Config,
    lock: &StateLock,
    state: &mut State,
    target: &Target,
    dry: bool,
) -> Result<(StoreReport, Vec<String>)> {
    use crate::accesslog::tailer::{self, FP_MAX};
    let mut report = StoreReport::default();
    let mut notes = Vec::new();
    for log in &config.access_logs {
        let candidates = match tailer::discover(&log.path) {
            Ok(c) => c,
            Err(err) => {
                notes.push(format!("{}: {err}", log.path.display()));
                continue;
            }
        };
        for c in candidates {
            let mut found = |line: &[u8]| {
                if dry {
                    report.found.push(serde_json::json!({
                        "file": c.path.display().to_string(),
                        "line": String::from_utf8_lossy(line),
                    }));
                }
            };
            if c.live {
                let bytes = std::fs::read(&c.path)
                    .with_context(|| format!("cannot read {}", c.path.display()))?;
                let lines = target.matching_lines(&bytes);
                for &(start, stop) in &lines {
                    found(&bytes[start..stop]);
                }
                if !lines.is_empty() {
                    notes.push(format!(
                        "the live log {} has {} line(s) naming the address and was left alone \
                         (nginx writes to it): rotate it (logrotate -f), run `arkwatch scan`, \
                         then run this purge again",
                        c.path.display(),
                        lines.len()
                    ));
                }
                continue;
            }
            let old_prefix = c
                .prefix()
                .with_context(|| format!("cannot read {}", c.path.display()))?;
            let mut bytes = if c.gz {
                read_gz(&c.path)?.into_bytes()
            } else {
                // The first bytes and the rest of their last line, enough for the fingerprint.
                let mut head = Vec::new();
                File::open(&c.path)
                    .and_then(|f| f.take((FP_MAX + (4 << 20)) as u64).read_to_end(&mut head))
                    .with_context(|| format!("cannot read {}", c.path.display()))?;
                head
            };
            let lines = target.matching_lines(&bytes);
            if lines.is_empty() && c.gz {
                continue;
            }
            for &(start, stop) in &lines {
                if c.gz {
                    found(&bytes[start..stop]);
                }
                bytes[start..stop].fill(b' ');
            }
            // The checkpoint of this file, by the fingerprint it has now.
            let record = state
                .logs
                .values_mut()
                .flat_map(|l| l.files.iter_mut())
                .find(|r| {
                    let len = r.fp_len as usize;
                    len > 0
                        && old_prefix.len() >= len
                        && tailer::fingerprint(&old_prefix[..len]) == r.fp
                });
            let new_fp = record.as_ref().and_then(|r| {
                let len = r.fp_len as usize;
                let fp = tailer::fingerprint(&bytes[..len.min(bytes.len())]);
                (fp != r.fp).then_some(fp)
            });
            let n = if c.gz {
                report.records += lines.len() as u64;
                lines.len() as u64
            } else {
                // Counted and reported by the streaming pass below.
                0
            };
            if dry {
                if !c.gz {
                    report.records += blank_lines(&c.path, target, true, None, &mut found)?;
                }
                continue;
            }
            if let (Some(record), Some(fp)) = (record, new_fp) {
                record.alt_fp = Some(fp);
                state.version = SCHEMA_VERSION;
                lock.save(state)?;
            }
            crate::crashpoint::here("purge:log-before-replace");
            let changed = if c.gz {
                write_gz_atomic(&c.path, &bytes)?;
                n
            } else {
                let m = blank_lines(&c.path, target, false, None, &mut found)?;
                report.records += m;
                m
            };
            crate::crashpoint::here("purge:log-replaced");
            if changed > 0 {
                report.files += 1;
            }
            if let Some(fp) = new_fp {
                for r in state.logs.values_mut().flat_map(|l| l.files.iter_mut()) {
                    if r.alt_fp == Some(fp) {
                        r.fp = fp;
                        r.alt_fp = None;
                    }
                }
            }
        }
    }
    Ok((report, notes))
}

fn purge_events(
    store: &mut dyn EventStore,
    target: &Target,
    dry: bool,
    seen: &mut BTreeSet<IpAddr>,
) -> Result<StoreReport> {
    let mut report = StoreReport::default();
    let mut ids: BTreeSet<EventId> = BTreeSet::new();
    let mut cursor = None;
    loop {
        let page = store.read_after(cursor, crate::events::fold::PAGE)?;
        let Some(last) = page.last() else { break };
        cursor = Some(last.id);
        for entry in &page {
            let by_field = entry
                .get("ip")
                .and_then(|ip| ip.trim().parse::<IpAddr>().ok())
                .filter(|ip| target.matches(*ip));
            let hit =
                by_field.is_some() || entry.fields().any(|(_, v)| target.in_text(v.as_bytes()));
            if hit {
                if let Some(ip) = by_field {
                    seen.insert(ip.to_canonical());
                }
                ids.insert(entry.id);
                if dry {
                    let mut map = serde_json::Map::new();
                    map.insert("id".into(), entry.id.to_string().into());
                    for (k, v) in entry.fields() {
                        map.insert(k.into(), v.into());
                    }
                    report.found.push(map.into());
                }
            }
        }
    }
    report.records = ids.len() as u64;
    if !dry && !ids.is_empty() {
        store.remove(&ids)?;
        report.files = 1;
    }
    Ok(report)
}

/// The visits store: day files blanked line by line, archives rewritten without the lines.
fn purge_visits(
    data_dir: &Path,
    target: &Target,
    dry: bool,
    seen: &mut BTreeSet<IpAddr>,
) -> Result<StoreReport> {
    let mut report = StoreReport::default();
    let dir = crate::visits::visits_dir(data_dir);
    for path in list(&dir, ".jsonl")? {
        let n = blank_lines(&path, target, dry, Some(&visit_owner), &mut |line| {
            note_visit(line, seen, dry.then_some(&mut report.found));
        })?;
        if n > 0 {
            report.records += n;
            report.files += u64::from(!dry);
        }
    }
    for path in list(&crate::visits::archive_dir(data_dir), ".jsonl.gz")? {
        let text = read_gz(&path)?;
        if !target.in_text(text.as_bytes()) {
            continue;
        }
        let mut kept = String::new();
        let mut n = 0;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            if !target.in_text(line.as_bytes()) {
                kept.push_str(line);
                kept.push('\n');
                continue;
            }
            n += 1;
            note_visit(line.as_bytes(), seen, dry.then_some(&mut report.found));
            if visit_owner(line.as_bytes()).is_some_and(|ip| !target.matches(ip)) {
                let mut bytes = line.as_bytes().to_vec();
                target.mask(&mut bytes);
                kept.push_str(&String::from_utf8_lossy(&bytes));
                kept.push('\n');
            }
        }
        report.records += n;
        if !dry {
            write_gz_atomic(&path, kept.as_bytes())?;
            report.files += 1;
        }
    }
    Ok(report)
}

/// The address a visits line is the record of (its `ip` field, always written first-class).
fn visit_owner(line: &[u8]) -> Option<IpAddr> {
    let at = memmem::find(line, b"\"ip\":\"")? + 6;
    let len = memchr::memchr(b'"', &line[at..])?;
    std::str::from_utf8(&line[at..at + len]).ok()?.parse().ok()
}

fn note_visit(
    line: &[u8],
    seen: &mut BTreeSet<IpAddr>,
    found: Option<&mut Vec<serde_json::Value>>,
) {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(line) else {
        return;
    };
    if let Some(ip) = value["ip"]
        .as_str()
        .and_then(|ip| ip.parse::<IpAddr>().ok())
    {
        seen.insert(ip.to_canonical());
    }
    if let Some(found) = found {
        found.push(value);
    }
}

/// Files in `dir` whose names end in `suffix`, sorted (none when `dir` does not exist).
pub(crate) fn list(dir: &Path, suffix: &str) -> Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(err).with_context(|| format!("cannot list {}", dir.display())),
    };
    let mut out = Vec::new();
    for entry in entries {
        let path = entry
            .with_context(|| format!("cannot list {}", dir.display()))?
            .path();
        if path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(suffix) && !n.starts_with('.'))
        {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// Which address a line is the record of.
pub(crate) type Owner = dyn Fn(&[u8]) -> Option<IpAddr>;

/// Overwrites with spaces every line of `path` that names the target (keeping the newline, so
/// the file keeps its length and every offset into it), through a temporary file and a rename.
/// With `owner` (the address a line is the record of), a line owned by another address only has
/// the mention masked. Returns how many lines matched; `found` sees each one before.
pub(crate) fn blank_lines(
    path: &Path,
    target: &Target,
    dry: bool,
    owner: Option<&Owner>,
    found: &mut dyn FnMut(&[u8]),
) -> Result<u64> {
    const CHUNK: usize = 4 << 20;
    let read_err = || format!("cannot read {}", path.display());
    let mut file = File::open(path).with_context(read_err)?;
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK + 4096);
    let mut done: u64 = 0; // bytes of the file already handled
    let mut out: Option<fsutil::TempFile> = None;
    let mut matched = 0u64;
    let mut eof = false;
    while !eof {
        let old = buf.len();
        buf.resize(old + CHUNK, 0);
        let n = read_full(&mut file, &mut buf[old..]).with_context(read_err)?;
        buf.truncate(old + n);
        eof = n == 0 || n < CHUNK;
        // Whole lines only, unless this is the end of the file.
        let end = if eof {
            buf.len()
        } else {
            match memchr::memrchr(b'\n', &buf) {
                Some(i) => i + 1,
                None => continue,
            }
        };
        let region = &mut buf[..end];
        let hits = target.matching_lines(region);
        for &(start, stop) in &hits {
            let line = &mut region[start..stop];
            found(line);
            // A record of someone else that merely mentions the address keeps its place, with
            // the address masked.
            match owner.map(|f| f(line)) {
                Some(Some(ip)) if !target.matches(ip) => target.mask(line),
                _ => line.fill(b' '),
            }
        }
        matched += hits.len() as u64;
        if !dry && !hits.is_empty() && out.is_none() {
            let mut tmp = fsutil::TempFile::beside(path, 0o600)?;
            let mut original = fsutil::open_read(path).with_context(read_err)?;
            std::io::copy(&mut (&mut original).take(done), tmp.file())
                .with_context(|| format!("cannot write {}", tmp.path().display()))?;
            out = Some(tmp);
        }
        if let Some(tmp) = &mut out {
            tmp.write_all(region)?;
        }
        done += end as u64;
        buf.drain(..end);
    }
    if let Some(tmp) = out {
        tmp.commit()?;
    }
    Ok(matched)
}

fn read_full(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

pub(crate) fn read_gz(path: &Path) -> Result<String> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(BufReader::new(file))
        .read_to_string(&mut text)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(text)
}

pub(crate) fn write_gz_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes)
        .and_then(|()| enc.flush())
        .context("cannot compress")?;
    let gz = enc.finish().context("cannot compress")?;
    fsutil::write_atomic(path, &gz, 0o600)
}

/// Pending alerts and the ledger; text naming the address elsewhere is redacted.
fn purge_state(
    state: &mut State,
    target: &Target,
    dry: bool,
    seen: &mut BTreeSet<IpAddr>,
) -> StoreReport {
    let mut report = StoreReport::default();
    let alerts = &mut state.alerts;
    let before = alerts.pending.leads.len();
    alerts.pending.leads.retain(|lead| {
        let hit = target.matches(lead.journey.ip);
        if hit {
            seen.insert(lead.journey.ip.to_canonical());
            if dry {
                report
                    .found
                    .push(serde_json::json!({"pending_alert": lead}));
            }
        }
        !hit
    });
    report.records += (before - alerts.pending.leads.len()) as u64;
    for lead in &mut alerts.pending.leads {
        let j = &mut lead.journey;
        let texts = std::iter::once(&mut j.user_agent)
            .chain(std::iter::once(&mut j.browser))
            .chain(j.sessions.iter_mut().flat_map(|s| {
                s.referrer
                    .iter_mut()
                    .chain(s.utm.values_mut())
                    .chain(s.pages.iter_mut().map(|p| &mut p.path))
            }));
        for text in texts {
            if target.in_text(text.as_bytes()) {
                report.records += 1;
                *text = target.redact(text);
            }
        }
    }
    let before = alerts.ledger.leads.len();
    alerts.ledger.leads.retain(|key, entry| {
        let hit = target.matches(entry.ip);
        if hit {
            seen.insert(entry.ip.to_canonical());
            if dry {
                report
                    .found
                    .push(serde_json::json!({"alert_ledger": {key.clone(): entry}}));
            }
        }
        !hit
    });
    report.records += (before - alerts.ledger.leads.len()) as u64;
    if let Some(scan) = &mut alerts.last_scan {
        for e in &mut scan.errors {
            if target.in_text(e.as_bytes()) {
                report.records += 1;
                *e = target.redact(e);
            }
        }
    }
    report
}

/// The outbox: messages with a digest beside them are written again without the address's
/// alerts (or deleted when nothing is left); a message without one that names the address is
/// deleted.
fn purge_outbox(
    config: &Config,
    target: &Target,
    dry: bool,
    seen: &mut BTreeSet<IpAddr>,
) -> Result<StoreReport> {
    let mut report = StoreReport::default();
    let dir = notify::outbox_dir(config);
    for eml in list(&dir, ".eml")? {
        let sidecar = eml.with_extension("json");
        let raw = std::fs::read(&eml).with_context(|| format!("cannot read {}", eml.display()))?;
        let digest: Option<Digest> = std::fs::read(&sidecar)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        let Some(mut digest) = digest else {
            if target.in_text(&unfold_qp(&raw)) {
                report.records += 1;
                if dry {
                    report
                        .found
                        .push(serde_json::json!({"outbox_message": eml}));
                } else {
                    remove(&eml)?;
                    report.files += 1;
                }
            }
            continue;
        };
        let json = serde_json::to_vec(&digest).context("cannot serialise a digest")?;
        if !target.in_text(&json) && !target.in_text(&unfold_qp(&raw)) {
            continue;
        }
        let before = digest.leads.len();
        digest.leads.retain(|lead| {
            let hit = target.matches(lead.journey.ip);
            if hit {
                seen.insert(lead.journey.ip.to_canonical());
            }
            !hit
        });
        let removed = (before - digest.leads.len()) as u64;
        report.records += removed.max(1);
        if dry {
            report
                .found
                .push(serde_json::json!({"outbox_message": eml, "leads": removed}));
            continue;
        }
        // Redact mentions left in other leads, through the JSON text.
        let text = target.redact(&String::from_utf8_lossy(
            &serde_json::to_vec(&digest).context("cannot serialise a digest")?,
        ));
        let digest: Digest =
            serde_json::from_str(&text).context("a redacted digest does not parse")?;
        if digest.leads.is_empty() && digest.rules.is_empty() {
            remove(&eml)?;
            remove(&sidecar)?;
        } else {
            let (from, to) = notify::mailboxes(config)?;
            let message = digest.message(&from, &to)?;
            fsutil::write_atomic(&eml, &message.formatted(), 0o600)?;
            fsutil::write_atomic(&sidecar, text.as_bytes(), 0o600)?;
        }
        report.files += 1;
    }
    Ok(report)
}

fn remove(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(err).with_context(|| format!("cannot remove {}", path.display())),
    }
}

/// Message bytes with quoted-printable soft line breaks removed, so an address split over two
/// lines is found.
fn unfold_qp(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'=' && raw.get(i + 1) == Some(&b'\r') && raw.get(i + 2) == Some(&b'\n') {
            i += 3;
        } else if raw[i] == b'=' && raw.get(i + 1) == Some(&b'\n') {
            i += 2;
        } else {
            out.push(raw[i]);
            i += 1;
        }
    }
    out
}

/// The traffic rollups: every visitor key of a matching address on each day is removed (its
/// high half is the keyed hash of address and day), and page or referrer names holding the
/// address are redacted. Written as a new generation, committed with the state by the caller.
fn purge_rollups(
    data_dir: &Path,
    state: &mut State,
    keys: &VisitorKeys,
    target: &Target,
    seen: &BTreeSet<IpAddr>,
    dry: bool,
) -> Result<StoreReport> {
    let mut report = StoreReport::default();
    let addresses: Vec<IpAddr> = match target.net {
        IpNet::V4(net) if net.prefix_len() >= 32 - ENUMERATE_V4.trailing_zeros() as u8 => net
            .hosts()
            .map(IpAddr::V4)
            .chain([IpAddr::V4(net.network()), IpAddr::V4(net.broadcast())])
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
        _ if target.single() => vec![target.net.addr()],
        _ => seen
            .iter()
            .copied()
            .filter(|ip| target.matches(*ip))
            .collect(),
    };
    let generation = state.generation + 1;
    let days: Vec<chrono::NaiveDate> = state.traffic.keys().copied().collect();
    let mut written = false;
    for date in days {
        let mut rollup = traffic::load_day(data_dir, &state.traffic, date)?;
        let day = crate::day::from_date(date);
        let highs: std::collections::HashSet<u32> =
            addresses.iter().map(|ip| keys.ip_day(*ip, day)).collect();
        let mut removed = 0u64;
        let mut drop_keys = |set: &mut BTreeSet<u64>| {
            let before = set.len();
            set.retain(|k| !highs.contains(&((k >> 32) as u32)));
            removed += (before - set.len()) as u64;
        };
        drop_keys(&mut rollup.visitors);
        for tier in rollup.tiers.values_mut() {
            drop_keys(&mut tier.visitors);
        }
        removed +=
            redact_names(&mut rollup.pages, target) + redact_names(&mut rollup.referrers, target);
        if removed == 0 {
            continue;
        }
        report.records += removed;
        if dry {
            report.found.push(
                serde_json::json!({"traffic_rollup": date, "visitor_keys_and_names": removed}),
            );
            continue;
        }
        traffic::write_day(data_dir, date, generation, &rollup)?;
        state.traffic.insert(date, generation);
        report.files += 1;
        written = true;
    }
    if written {
        traffic::sync_written(data_dir)?;
    }
    // Activity rollups hold no address, except in names a producer chose (an error message
    // that quotes one, say).
    let files = crate::rollup::files::DayFiles::new(data_dir, "activity");
    let days: Vec<chrono::NaiveDate> = state.activity.keys().copied().collect();
    let mut activity_written = false;
    for date in days {
        let mut rollup: crate::rollup::activity::ActivityDay = files.load(&state.activity, date)?;
        let renamed = redact_names(&mut rollup.commands, target)
            + redact_names(&mut rollup.errors_by_name, target);
        if renamed == 0 {
            continue;
        }
        report.records += renamed;
        if dry {
            report
                .found
                .push(serde_json::json!({"activity_rollup": date, "names": renamed}));
            continue;
        }
        files.write(date, generation, &rollup)?;
        state.activity.insert(date, generation);
        report.files += 1;
        activity_written = true;
    }
    if activity_written {
        files.sync()?;
    }
    if written || activity_written {
        state.generation = generation;
    }
    Ok(report)
}

/// Renames the entries of a count map whose name holds the address (merging counts that meet
/// under the redacted name); returns how many were renamed.
fn redact_names(map: &mut BTreeMap<String, u64>, target: &Target) -> u64 {
    let named: Vec<String> = map
        .keys()
        .filter(|k| target.in_text(k.as_bytes()))
        .cloned()
        .collect();
    for name in &named {
        let count = map.remove(name).unwrap_or_default();
        *map.entry(target.redact(name)).or_default() += count;
    }
    named.len() as u64
}

/// Appends one line to `data_dir/audit.log`: when, what (the address only as a keyed hash),
/// and how many records each store held.
fn audit(
    data_dir: &Path,
    keys: &VisitorKeys,
    target: &Target,
    phase: &str,
    report: Option<&PurgeReport>,
) -> Result<()> {
    let hash = format!(
        "{:016x}/{}",
        keys.address(target.net.network()),
        target.net.prefix_len()
    );
    let mut line = serde_json::json!({
        "at": Utc::now().to_rfc3339(),
        "command": "purge-ip",
        "phase": phase,
        "address_hash": hash,
    });
    if let Some(r) = report {
        let mut stores = BTreeMap::new();
        stores.insert("visits", r.visits.records);
        stores.insert("events", r.events.records);
        stores.insert("state", r.state.records);
        stores.insert("outbox", r.outbox.records);
        stores.insert("rollups", r.rollups.records);
        if let Some(logs) = &r.access_logs {
            stores.insert("access_logs", logs.records);
        }
        line["records"] = serde_json::json!(stores);
    }
    let path = data_dir.join("audit.log");
    let mut file = fsutil::open_append(&path)?;
    let mut bytes = serde_json::to_vec(&line).context("cannot serialise an audit line")?;
    bytes.push(b'\n');
    file.write_all(&bytes)
        .and_then(|()| file.sync_data())
        .with_context(|| format!("cannot append to {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(spec: &str) -> Target {
        Target::parse(spec, false).unwrap()
    }

    #[test]
    fn every_spelling_of_one_address_and_nothing_longer() {
        let v4 = t("203.0.113.7");
        for yes in [
            "203.0.113.7",
            "x ::ffff:203.0.113.7 y",
            "::FFFF:CB00:7107",
            "0:0:0:0:0:ffff:cb00:7107",
            "198.51.100.1, 203.0.113.7",
            "\"ip\":\"203.0.113.7\"",
            "203.0.113.7:443",
        ] {
            assert!(v4.in_text(yes.as_bytes()), "{yes}");
        }
        for no in [
            "203.0.113.70",
            "1203.0.113.7",
            "203.0.113.7.5",
            "203.0.113.8",
        ] {
            assert!(!v4.in_text(no.as_bytes()), "{no}");
        }
        assert!(v4.matches("::ffff:203.0.113.7".parse().unwrap()));

        let v6 = t("2001:db8::1");
        for yes in [
            "2001:db8::1",
            "2001:DB8::1",
            "2001:0db8:0000:0000:0000:0000:0000:0001",
            "2001:db8:0:0:0:0:0:1",
            "[2001:db8::1]:443",
        ] {
            assert!(v6.in_text(yes.as_bytes()), "{yes}");
        }
        for no in ["2001:db8::10", "2001:db8::1:5", "12001:db8::1"] {
            assert!(!v6.in_text(no.as_bytes()), "{no}");
        }
        assert_eq!(
            t("::ffff:203.0.113.7").net,
            "203.0.113.7/32".parse::<IpNet>().unwrap(),
            "a mapped address is the IPv4 one"
        );
    }

    #[test]
    fn networks_match_in_text_and_wide_ones_need_force() {
        let net = t("203.0.113.0/24");
        assert!(net.in_text(b"for 198.51.100.1, 203.0.113.99 via"));
        assert!(net.in_text(b"::ffff:203.0.113.5"));
        assert!(!net.in_text(b"203.0.114.1"));
        assert_eq!(net.redact("a 203.0.113.9 b"), "a [purged] b");
        assert!(Target::parse("10.0.0.1/8", false).is_err());
        assert!(Target::parse("10.0.0.1/8", true).is_ok());
        assert!(Target::parse("2001:db8::/32", false).is_err());
        assert!(Target::parse("2001:db8:1::/48", false).is_ok());
        assert!(
            Target::parse("0.0.0.0/0", true).is_err(),
            "never everything"
        );
        assert!(Target::parse("::/0", true).is_err());
        assert!(Target::parse("not-an-ip", true).is_err());
        assert_eq!(
            t("203.0.113.7").redact("x 203.0.113.7, 203.0.113.70"),
            "x [purged], 203.0.113.70"
        );
    }

    #[test]
    fn blanking_keeps_the_length_and_every_other_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.jsonl");
        let text = "{\"ip\":\"203.0.113.7\"}\n{\"ip\":\"203.0.113.8\"}\n{\"ip\":\"203.0.113.7\"}";
        std::fs::write(&path, text).unwrap();
        let mut found = 0;
        let n = blank_lines(&path, &t("203.0.113.7"), false, None, &mut |_| found += 1).unwrap();
        assert_eq!((n, found), (2, 2));
        let after = std::fs::read_to_string(&path).unwrap();
        assert_eq!(after.len(), text.len());
        assert_eq!(after.lines().nth(1), Some("{\"ip\":\"203.0.113.8\"}"));
        assert!(!after.contains("203.0.113.7"));
    }
}
