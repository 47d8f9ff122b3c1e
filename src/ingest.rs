//! Ingestion of access logs: read what is new in each log, fold it, and commit visits, rollups
//! and checkpoints together.
//!
//! The commit order is what makes a killed run harmless: visits are appended and fsynced, new
//! rollup files are written under a new generation, and only then is the state (checkpoints,
//! committed visits lengths, rollup generations) replaced in one atomic rename. Before reading,
//! every run undoes what an interrupted run left behind (see [`recover`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, mpsc};
use std::time::Instant;

use anyhow::{Context, Result};
use chrono::{NaiveDate, Utc};
use foldhash::HashMap;
use serde::Serialize;

use crate::accesslog::classify::BotList;
use crate::accesslog::fold::{ChunkReport, Folder};
use crate::accesslog::format::LogFormat;
use crate::accesslog::tailer::{self, Chunk, FileError, ReadPlan, Records};
use crate::config::{ClientIp, Config};
use crate::day;
use crate::rollup::traffic::{self, DayDelta};
use crate::state::{SCHEMA_VERSION, State, StateLock};
use crate::visitor::VisitorKeys;
use crate::visits::{self, Visit, VisitWriter};

/// Files with less new data than this are folded on the calling thread.
const PARALLEL_MIN_BYTES: u64 = 4 << 20;
const CHUNK_SIZE: usize = 1 << 20;
/// The summary keeps this many malformed-line samples.
const MAX_SAMPLES: usize = 10;

/// One log to ingest and how to read it.
#[derive(Clone, Debug)]
pub struct LogSource {
    pub path: PathBuf,
    pub format: LogFormat,
    pub client_ip: ClientIp,
}

impl LogSource {
    /// The configured logs.
    pub fn configured(config: &Config) -> Vec<LogSource> {
        config
            .access_logs
            .iter()
            .map(|log| LogSource {
                path: log.path.clone(),
                format: log.format.clone(),
                client_ip: log.client_ip,
            })
            .collect()
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub enum Progress {
    /// A progress bar on stderr, when stderr is a terminal and the backfill is large.
    #[default]
    Auto,
    Hidden,
}

/// What an ingestion did, for the summary and `--json`.
#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub files: Vec<FileSummary>,
    pub lines: u64,
    pub parsed: u64,
    pub malformed: u64,
    pub bots: u64,
    #[serde(rename = "static")]
    pub statics: u64,
    pub ignored: u64,
    pub visits_recorded: u64,
    pub by_tier: ByTier,
    pub seconds: f64,
    pub malformed_samples: Vec<MalformedSample>,
    pub errors: Vec<String>,
    /// Local days whose rollups changed.
    pub days: BTreeSet<NaiveDate>,
}

#[derive(Debug, Default, Serialize)]
pub struct ByTier {
    pub very_hot: u64,
    pub hot: u64,
    pub warm: u64,
}

#[derive(Debug, Serialize)]
pub struct FileSummary {
    pub path: String,
    pub bytes_read: u64,
    pub lines: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct MalformedSample {
    pub file: String,
    pub line: u64,
    pub reason: String,
    pub text: String,
}

/// What is not ingested yet of one log.
#[derive(Debug, Serialize)]
pub struct Backlog {
    pub path: String,
    /// Unread bytes (a gzip archive not read yet counts its compressed size).
    pub bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// How much of each source the next ingestion would read. Reads only file headers (the
/// fingerprints), never the new data, and changes nothing.
pub fn backlog(state: &State, sources: &[LogSource]) -> Vec<Backlog> {
    let mut records: Records = state
        .logs
        .iter()
        .flat_map(|(key, log)| log.files.iter().map(move |f| (key.clone(), f.clone())))
        .collect();
    let (plans, errors) = plan_sources(&mut records, sources, Utc::now());
    sources
        .iter()
        .enumerate()
        .map(|(i, source)| Backlog {
            path: source.path.display().to_string(),
            bytes: plans
                .iter()
                .filter(|(s, _)| *s == i)
                .map(|(_, p)| unread(p))
                .sum(),
            error: errors
                .iter()
                .find(|(s, _)| *s == i)
                .map(|(_, e)| format!("{}: {}", e.path.display(), e.error)),
        })
        .collect()
}

/// Read plans and unexaminable files, each tagged with its source's index.
type Planned = (Vec<(usize, ReadPlan)>, Vec<(usize, FileError)>);

/// What to read of each source (by its index) against the checkpoints in `records`, and the
/// files that could not be examined (by source index too).
fn plan_sources(
    records: &mut Records,
    sources: &[LogSource],
    now: chrono::DateTime<Utc>,
) -> Planned {
    let mut claimed = Vec::new();
    let mut plans = Vec::new();
    let mut errors = Vec::new();
    for (i, source) in sources.iter().enumerate() {
        let key = source.path.display().to_string();
        let mut found = Vec::new();
        for plan in tailer::plan(&key, &source.path, records, &mut claimed, now, &mut found) {
            plans.push((i, plan));
        }
        errors.extend(found.into_iter().map(|e| (i, e)));
    }
    (plans, errors)
}

/// What a plan has left to read (an archive's compressed size: its offset is not comparable).
fn unread(p: &ReadPlan) -> u64 {
    p.candidate
        .size
        .saturating_sub(if p.candidate.gz { 0 } else { p.start })
}

/// Undoes what an interrupted run left: visits appended past their committed length, rollup
/// files of a generation that was never committed.
pub fn recover(data_dir: &Path, state: &State) -> Result<()> {
    visits::recover(data_dir, state)?;
    traffic::remove_unreferenced(data_dir, state)
}

/// Reads what is new in `sources`, folds it, and commits. The caller holds the lock and has
/// loaded `state`; on return the state on disk equals `state`.
pub fn ingest(
    config: &Config,
    lock: &StateLock,
    state: &mut State,
    sources: &[LogSource],
    progress: Progress,
) -> Result<Summary> {
    run(config, lock, state, sources, progress, None)
}

/// Reads what is new in `sources` as [`ingest`] would, but writes nothing: returns the summary
/// and the visits that would be recorded (for `scan --dry-run`).
pub fn preview(
    config: &Config,
    lock: &StateLock,
    state: &State,
    sources: &[LogSource],
) -> Result<(Summary, Vec<Visit>)> {
    let mut copy = state.clone();
    let mut visits = Vec::new();
    let summary = run(
        config,
        lock,
        &mut copy,
        sources,
        Progress::Hidden,
        Some(&mut visits),
    )?;
    Ok((summary, visits))
}

fn run(
    config: &Config,
    lock: &StateLock,
    state: &mut State,
    sources: &[LogSource],
    progress: Progress,
    preview: Option<&mut Vec<Visit>>,
) -> Result<Summary> {
    let started = Instant::now();
    let now = Utc::now();
    let data_dir = lock.data_dir();
    if preview.is_none() {
        recover(data_dir, state)?;
    }
    let keys = VisitorKeys::load_or_create(data_dir)?;
    let bots = BotList::new(&config.filters.bot_patterns);

    let mut records: Records = std::mem::take(&mut state.logs)
        .into_iter()
        .flat_map(|(key, log)| log.files.into_iter().map(move |f| (key.clone(), f)))
        .collect();
    let (plans, errors) = plan_sources(&mut records, sources, now);

    let mut summary = Summary::default();
    let to_read: u64 = plans.iter().map(|(_, p)| unread(p)).sum();
    let bar = progress_bar(progress, to_read);
    let today = day::DayResolver::new(config.timezone).day(now.timestamp());
    let pool = tailer::BufferPool::default();
    let mut run = RunFold {
        deltas: HashMap::default(),
        writer: if preview.is_some() {
            VisitWriter::in_memory()
        } else {
            VisitWriter::new(data_dir)
        },
        summary: &mut summary,
    };

    for (source_index, plan) in &plans {
        let source = &sources[*source_index];
        let record = &records[plan.record].1;
        let mut file = FileFold {
            name: plan.candidate.path.display().to_string(),
            line_base: record.lines,
            last_day: record.last_day.map(day::from_date),
            today,
            lines: 0,
        };
        // An archive's size is compressed, and its offset is not: compare what can be compared.
        let parallel = if plan.candidate.gz {
            plan.candidate.size >= PARALLEL_MIN_BYTES / 4
        } else {
            plan.candidate.size.saturating_sub(plan.start) >= PARALLEL_MIN_BYTES
        };
        let ctx = FoldContext {
            config,
            source,
            bots: &bots,
            keys: &keys,
        };
        let end = if parallel {
            fold_parallel(&ctx, plan, &pool, &mut run, &mut file, &bar)?
        } else {
            let mut folder = ctx.folder();
            let end = tailer::read(plan, CHUNK_SIZE, &pool, &mut |chunk| {
                let report = folder.fold(&chunk, &file.name);
                bar.inc(chunk.data.len() as u64);
                pool.give(chunk.data);
                run.apply(&mut file, report)
            })?;
            run.absorb(folder.deltas);
            end
        };
        let record = &mut records[plan.record].1;
        run.summary.files.push(FileSummary {
            path: file.name.clone(),
            bytes_read: end.offset - plan.start,
            lines: file.lines,
            error: end.error.clone(),
        });
        if let Some(error) = end.error {
            run.summary.errors.push(error);
        }
        tailer::advance(plan, record, end.offset, file.lines, end.reached_end, now);
        if let Some(day) = file.last_day {
            record.last_day = Some(day::to_date(day));
        }
    }
    bar.finish_and_clear();
    // Commit: visits first, then rollups under a new generation, then the state.
    let RunFold { deltas, writer, .. } = run;
    for (_, error) in errors {
        summary
            .errors
            .push(format!("{}: {}", error.path.display(), error.error));
    }
    if let Some(out) = preview {
        for line in writer.into_memory() {
            out.push(serde_json::from_slice(&line).context("a visit line does not parse back")?);
        }
        summary.days = deltas.keys().map(|d| day::to_date(*d)).collect();
        summary.seconds = started.elapsed().as_secs_f64();
        return Ok(summary);
    }
    let lengths = writer.finish()?;
    crate::crashpoint::here("ingest:after-visits");
    let generation = state.generation + 1;
    for (day, delta) in deltas {
        let date = day::to_date(day);
        let mut rollup = traffic::load_day(data_dir, state, date)?;
        rollup.absorb(delta);
        traffic::write_day(data_dir, date, generation, &rollup)?;
        state.traffic.insert(date, generation);
        summary.days.insert(date);
    }
    if !summary.days.is_empty() {
        traffic::sync_written(data_dir)?;
    }
    state.visits.extend(lengths);
    state.generation = generation;
    state.version = SCHEMA_VERSION;
    state.last_ingest = Some(now);
    for (key, record) in records {
        state.logs.entry(key).or_default().files.push(record);
    }
    crate::crashpoint::here("ingest:before-state");
    lock.save(state)?;
    crate::crashpoint::here("ingest:after-state");
    traffic::remove_unreferenced(data_dir, state)?;
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// What a [`Folder`] for one log needs; shared by the threads folding that log.
struct FoldContext<'a> {
    config: &'a Config,
    source: &'a LogSource,
    bots: &'a BotList,
    keys: &'a VisitorKeys,
}

impl<'a> FoldContext<'a> {
    fn folder(&self) -> Folder<'a> {
        Folder::new(
            self.config,
            &self.source.format,
            self.source.client_ip,
            self.bots,
            self.keys,
        )
    }
}

/// The run-wide accumulators.
struct RunFold<'s> {
    deltas: HashMap<i32, DayDelta>,
    writer: VisitWriter,
    summary: &'s mut Summary,
}

/// Where one file's reading stands, for line numbers and malformed-line days.
struct FileFold {
    name: String,
    line_base: u64,
    last_day: Option<i32>,
    today: i32,
    lines: u64,
}

impl RunFold<'_> {
    /// Takes one chunk's report, in file order.
    fn apply(&mut self, file: &mut FileFold, report: ChunkReport) -> Result<()> {
        let s = &mut *self.summary;
        for sample in report.samples {
            if s.malformed_samples.len() < MAX_SAMPLES {
                s.malformed_samples.push(MalformedSample {
                    file: file.name.clone(),
                    line: file.line_base + file.lines + sample.line_in_chunk + 1,
                    reason: sample.reason.to_string(),
                    text: sample.text,
                });
            }
        }
        if report.leading_malformed > 0 {
            let day = file.last_day.or(report.first_day).unwrap_or(file.today);
            self.deltas.entry(day).or_default().malformed += report.leading_malformed;
        }
        s.lines += report.lines;
        s.parsed += report.parsed;
        s.malformed += report.malformed;
        s.bots += report.bots;
        s.statics += report.statics;
        s.ignored += report.ignored;
        s.by_tier.very_hot += report.by_tier[0];
        s.by_tier.hot += report.by_tier[1];
        s.by_tier.warm += report.by_tier[2];
        s.visits_recorded += report.visits.len() as u64;
        for (day, line) in &report.visits {
            self.writer.append_line(day::to_date(*day), line)?;
        }
        file.lines += report.lines;
        if report.last_day.is_some() {
            file.last_day = report.last_day;
        }
        Ok(())
    }

    fn absorb(&mut self, deltas: HashMap<i32, DayDelta>) {
        for (day, delta) in deltas {
            match self.deltas.get_mut(&day) {
                Some(into) => into.merge(delta),
                None => {
                    self.deltas.insert(day, delta);
                }
            }
        }
    }
}

/// Reads on this thread and folds chunks on worker threads; reports are applied in file order.
fn fold_parallel(
    ctx: &FoldContext<'_>,
    plan: &ReadPlan,
    pool: &tailer::BufferPool,
    run: &mut RunFold<'_>,
    file: &mut FileFold,
    bar: &indicatif::ProgressBar,
) -> Result<tailer::ReadEnd> {
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 8);
    let (chunk_tx, chunk_rx) = mpsc::sync_channel::<(u64, Chunk)>(workers);
    let chunk_rx = Mutex::new(chunk_rx);
    let (report_tx, report_rx) = mpsc::channel::<(u64, usize, ChunkReport)>();
    let name = file.name.clone();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let chunk_rx = &chunk_rx;
                let report_tx = report_tx.clone();
                let name = name.as_str();
                scope.spawn(move || {
                    let mut folder = ctx.folder();
                    loop {
                        let next = chunk_rx.lock().expect("chunk queue").recv();
                        let Ok((seq, chunk)) = next else { break };
                        let report = folder.fold(&chunk, name);
                        let len = chunk.data.len();
                        pool.give(chunk.data);
                        if report_tx.send((seq, len, report)).is_err() {
                            break;
                        }
                    }
                    folder.deltas
                })
            })
            .collect();
        drop(report_tx);

        let mut pending: BTreeMap<u64, (usize, ChunkReport)> = BTreeMap::new();
        let mut next_seq = 0u64;
        let mut sent = 0u64;
        // Applies every report that is next in file order; with `block`, waits for all of them.
        let mut drain =
            |run: &mut RunFold<'_>, file: &mut FileFold, sent: u64, block: bool| -> Result<()> {
                loop {
                    while let Some((len, report)) = pending.remove(&next_seq) {
                        bar.inc(len as u64);
                        run.apply(file, report)?;
                        next_seq += 1;
                    }
                    if next_seq == sent {
                        return Ok(());
                    }
                    let item = if block {
                        report_rx.recv().ok()
                    } else {
                        report_rx.try_recv().ok()
                    };
                    match item {
                        Some((seq, len, report)) => {
                            pending.insert(seq, (len, report));
                        }
                        None if block => anyhow::bail!("the folding threads stopped early"),
                        None => return Ok(()),
                    }
                }
            };
        let end = tailer::read(plan, CHUNK_SIZE, pool, &mut |chunk| {
            chunk_tx
                .send((sent, chunk))
                .map_err(|_| anyhow::anyhow!("a folding thread stopped"))?;
            sent += 1;
            drain(run, file, sent, false)
        });
        drop(chunk_tx);
        let finished = drain(run, file, sent, true);
        for handle in handles {
            let deltas = handle
                .join()
                .map_err(|_| anyhow::anyhow!("a folding thread panicked"))?;
            run.absorb(deltas);
        }
        finished?;
        end
    })
    .with_context(|| format!("while reading {}", plan.candidate.path.display()))
}

fn progress_bar(progress: Progress, total: u64) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    const SHOW_FROM: u64 = 64 << 20;
    let show =
        matches!(progress, Progress::Auto) && total >= SHOW_FROM && std::io::stderr().is_terminal();
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} ingesting {bytes}/{total_bytes} ({bytes_per_sec}, {eta} left) {wide_bar}",
    ) {
        bar.set_style(style);
    }
    bar
}
