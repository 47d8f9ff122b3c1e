//! Reading a set of logs: what is new in each (and its rotated siblings) against the
//! checkpoints, read in chunks of whole lines and folded on worker threads into per-day traffic
//! deltas, visit lines and a summary. Nothing is committed here: the pipeline's ingest step
//! writes the visits, the rollups and the advanced checkpoints together.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Mutex, mpsc};
use std::time::Instant;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use foldhash::HashMap;
use serde::Serialize;

use super::checkpoint::{self, LogCheckpoint};
use super::chunks::{self, BufferPool, Chunk};
use super::classify::BotList;
use super::fold::{ChunkReport, Folder};
use super::summary::{FileSummary, MalformedSample, Summary};
use super::tailer::{self, FileError, ReadEnd, ReadPlan, Records};
use crate::config::{ClientIp, Config};
use crate::day;
use crate::log_format::LogFormat;
use crate::rollup::keys::VisitorKeys;
use crate::rollup::traffic::DayDelta;
use crate::visits::VisitSink;

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

    /// The format its lines are read with ([`super::detect::reading_format`]).
    fn reading_format(&self) -> Cow<'_, LogFormat> {
        super::detect::reading_format(&self.format, &self.path)
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub enum Progress {
    /// A progress bar on stderr, when stderr is a terminal and the backfill is large.
    #[default]
    Auto,
    Hidden,
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
pub fn backlog(
    logs: &BTreeMap<String, LogCheckpoint>,
    sources: &[LogSource],
    now: DateTime<Utc>,
) -> Vec<Backlog> {
    let mut records = checkpoint::flatten(logs.clone());
    let (plans, errors) = plan_sources(&mut records, sources, now);
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
            error: errors.iter().find(|(s, _)| *s == i).map(|(_, e)| {
                if e.path == source.path {
                    format!("{}: {}", e.path.display(), e.error)
                } else {
                    format!(
                        "{}: {} (a rotated file of {}; the live log itself reads fine)",
                        e.path.display(),
                        e.error,
                        source.path.display()
                    )
                }
            }),
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

/// What one read of the sources produced.
pub struct Read {
    /// Per local day (days since 1970-01-01): what the new lines add.
    pub deltas: HashMap<i32, DayDelta>,
    /// The checkpoints, advanced past what was read.
    pub records: Records,
    pub summary: Summary,
}

/// Everything a read needs besides the checkpoints and where visits go.
pub struct Reader<'a> {
    pub config: &'a Config,
    pub sources: &'a [LogSource],
    pub keys: &'a VisitorKeys,
    pub now: DateTime<Utc>,
    pub progress: Progress,
    /// For a recount (`verify`): read each file of the checkpoint at this index only up to
    /// this offset, and files no checkpoint knows not at all. `None`: read what is new.
    pub stop_at: Option<&'a [u64]>,
}

impl Reader<'_> {
    /// Reads what is new in every source after `records`, handing visit lines to `writer`.
    pub fn read(&self, mut records: Records, writer: &mut dyn VisitSink) -> Result<Read> {
        let started = Instant::now();
        let bots = BotList::configured(&self.config.filters);
        let (mut plans, errors) = plan_sources(&mut records, self.sources, self.now);
        if let Some(stops) = self.stop_at {
            for (_, plan) in &mut plans {
                plan.stop = Some(stops.get(plan.record).copied().unwrap_or(0));
            }
            plans.retain(|(_, plan)| plan.stop > Some(0));
        }
        let mut summary = Summary::default();
        let to_read: u64 = plans.iter().map(|(_, p)| unread(p)).sum();
        let bar = progress_bar(self.progress, to_read);
        let today = day::DayResolver::new(self.config.timezone).day(self.now.timestamp());
        let pool = BufferPool::default();
        let formats: Vec<Cow<'_, LogFormat>> =
            self.sources.iter().map(LogSource::reading_format).collect();
        let mut run = RunFold {
            deltas: HashMap::default(),
            writer,
            summary: &mut summary,
        };
        for (source_index, plan) in &plans {
            let ctx = FoldContext {
                config: self.config,
                source: &self.sources[*source_index],
                format: &formats[*source_index],
                bots: &bots,
                keys: self.keys,
            };
            let record = &mut records[plan.record].1;
            read_plan(&ctx, plan, record, today, self.now, &pool, &mut run, &bar)?;
        }
        bar.finish_and_clear();
        let deltas = run.deltas;
        for (_, error) in errors {
            summary
                .errors
                .push(format!("{}: {}", error.path.display(), error.error));
        }
        summary.seconds = started.elapsed().as_secs_f64();
        Ok(Read {
            deltas,
            records,
            summary,
        })
    }
}

/// Reads one file of a plan and advances its checkpoint.
#[allow(clippy::too_many_arguments)] // one call site, each argument a different run-wide part
fn read_plan(
    ctx: &FoldContext<'_>,
    plan: &ReadPlan,
    record: &mut super::checkpoint::FileCheckpoint,
    today: i32,
    now: DateTime<Utc>,
    pool: &BufferPool,
    run: &mut RunFold<'_>,
    bar: &indicatif::ProgressBar,
) -> Result<()> {
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
    let end = if parallel {
        fold_parallel(ctx, plan, pool, run, &mut file, bar)?
    } else {
        let mut folder = ctx.folder();
        let end = chunks::read(plan, CHUNK_SIZE, pool, &mut |chunk| {
            let report = folder.fold(&chunk, &file.name);
            bar.inc(chunk.data.len() as u64);
            pool.give(chunk.data);
            run.apply(&mut file, report)
        })?;
        run.absorb(folder.finish());
        end
    };
    run.summary.files.push(FileSummary {
        path: file.name.clone(),
        bytes_read: end.offset - plan.start,
        lines: file.lines,
        error: end.error.clone(),
    });
    if let Some(error) = &end.error {
        run.summary.errors.push(error.clone());
    }
    tailer::advance(plan, record, &end, file.lines, now);
    if let Some(day) = file.last_day {
        record.last_day = Some(day::to_date(day));
    }
    Ok(())
}

/// What a [`Folder`] for one log needs; shared by the threads folding that log.
struct FoldContext<'a> {
    config: &'a Config,
    source: &'a LogSource,
    /// The source's format as this read found it ([`LogSource::reading_format`]).
    format: &'a LogFormat,
    bots: &'a BotList,
    keys: &'a VisitorKeys,
}

impl<'a> FoldContext<'a> {
    fn folder(&self) -> Folder<'a> {
        Folder::new(
            self.config,
            self.format,
            self.source.client_ip,
            self.bots,
            self.keys,
        )
    }
}

/// The run-wide accumulators.
struct RunFold<'s> {
    deltas: HashMap<i32, DayDelta>,
    writer: &'s mut dyn VisitSink,
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
    fn apply(&mut self, file: &mut FileFold, mut report: ChunkReport) -> Result<()> {
        self.absorb(std::mem::take(&mut report.done));
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
        for (day, line) in report.visits.iter() {
            self.writer.append_line(day::to_date(day), line)?;
        }
        file.lines += report.lines;
        if report.last_day.is_some() {
            file.last_day = report.last_day;
        }
        Ok(())
    }

    fn absorb(&mut self, deltas: impl IntoIterator<Item = (i32, DayDelta)>) {
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
    pool: &BufferPool,
    run: &mut RunFold<'_>,
    file: &mut FileFold,
    bar: &indicatif::ProgressBar,
) -> Result<ReadEnd> {
    let workers = std::thread::available_parallelism()
        .map_or(2, std::num::NonZero::get)
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
                    folder.finish()
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
        let end = chunks::read(plan, CHUNK_SIZE, pool, &mut |chunk| {
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
