//! `bedguard replay`: local files through the same pipeline the daemon runs.

use std::io::{IsTerminal, Write};

use anyhow::{Context, Result};

use crate::cli::ReplayArgs;
use crate::pipeline::{Event, ObjectId, Outcome, Pipeline, PipelineError, Prepared};
use crate::walk;

/// The bucket local files are recorded under.
const LOCAL_BUCKET: &str = "local";

/// Groups of files each reading thread prepares ahead of the pipeline (with
/// [`READ_GROUP`] and the number of readers, a bound on the memory they take).
const READ_AHEAD: usize = 16;

/// Files per group handed from a reading thread to the pipeline.
const READ_GROUP: usize = 16;

/// Most reading threads by default.
const MAX_READERS: usize = 8;

/// Replays `args.paths` and prints the summary.
pub fn run(mut pipeline: Pipeline, args: &ReplayArgs) -> Result<()> {
    let objects = walk::collect(&args.paths)?;
    let mut findings_out: Option<Box<dyn Write>> = match args.findings.as_deref() {
        None => None,
        Some(p) if p.as_os_str() == "-" => Some(Box::new(std::io::stdout().lock())),
        Some(p) => Some(Box::new(std::io::BufWriter::new(
            std::fs::File::create(p)
                .with_context(|| format!("cannot create findings file {}", p.display()))?,
        ))),
    };
    let bar = progress_bar(&objects, args.no_progress);
    // Reading threads read, decompress, parse and enrich the files ahead of the
    // pipeline, which de-duplicates, scores, learns and commits them in order here.
    // One per core: the pipeline thread waits for them between commits and they wait
    // for it during one, so a core each keeps both busy. Groups are dealt round-robin,
    // so the pipeline takes group `g` from reader `g % readers`, in order.
    let preparer = pipeline.preparer();
    let readers = match args.readers {
        Some(n) => usize::from(n),
        None => std::thread::available_parallelism()
            .map_or(1, std::num::NonZero::get)
            .clamp(1, MAX_READERS),
    };
    let groups: Vec<&[walk::LocalObject]> = objects.chunks(READ_GROUP).collect();
    // Time the pipeline waited for the readers, and the readers for the pipeline
    // (logged at the end: where the time went, when tuning the read-ahead).
    let reader_blocked = std::sync::atomic::AtomicU64::new(0);
    let mut starved = std::time::Duration::ZERO;
    std::thread::scope(|scope| -> Result<()> {
        let mut ready = Vec::with_capacity(readers);
        let mut spent = Vec::with_capacity(readers);
        for first in 0..readers {
            // Sent a group at a time: one wake-up of the pipeline per group, not per file.
            let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Result<Prepared>>>(READ_AHEAD);
            // Events come back a group at a time, to be dropped where they were built.
            let (spent_tx, spent_rx) = std::sync::mpsc::channel::<Vec<Vec<Event>>>();
            ready.push(rx);
            spent.push(spent_tx);
            let (groups, preparer, blocked) = (&groups, preparer.clone(), &reader_blocked);
            scope.spawn(move || {
                for group in groups.iter().skip(first).step_by(readers) {
                    spent_rx.try_iter().for_each(drop);
                    let mut prepared = Vec::with_capacity(group.len());
                    for obj in *group {
                        let path = obj.path();
                        let one = std::fs::read(&path)
                            .with_context(|| format!("cannot read {}", path.display()))
                            .and_then(|bytes| {
                                let id = ObjectId {
                                    bucket: LOCAL_BUCKET,
                                    key: &obj.key,
                                    etag: None,
                                };
                                Ok(preparer.prepare_unless_known(id, &bytes)?)
                            });
                        let failed = one.is_err();
                        prepared.push(one);
                        if failed {
                            break;
                        }
                    }
                    let failed = prepared.last().is_some_and(|p| p.is_err());
                    // The receiver is gone only when the pipeline stopped on an error.
                    let t = std::time::Instant::now();
                    let sent = tx.send(prepared);
                    let us = u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX);
                    blocked.fetch_add(us, std::sync::atomic::Ordering::Relaxed);
                    if sent.is_err() || failed {
                        return;
                    }
                }
            });
        }
        for (g, group) in groups.iter().enumerate() {
            let reader = g % readers;
            // A reader stops early only after sending the error that stopped it.
            let t = std::time::Instant::now();
            let Some(prepared) = ready.get(reader).and_then(|rx| rx.recv().ok()) else {
                break;
            };
            starved += t.elapsed();
            let mut events = Vec::with_capacity(group.len());
            for (obj, prepared) in group.iter().zip(prepared) {
                let prepared = prepared?;
                let raw_len = prepared.raw_len();
                let id = ObjectId {
                    bucket: LOCAL_BUCKET,
                    key: &obj.key,
                    etag: None,
                };
                match pipeline.process_prepared_then(id, prepared, |e| events.push(e)) {
                    Ok(Outcome::Processed { findings, .. }) => {
                        if let Some(out) = findings_out.as_mut() {
                            for f in &findings {
                                let line = sinks::encode::native::encode_stored(f)
                                    .context("cannot encode finding")?;
                                out.write_all(&line).context("cannot write finding")?;
                                out.write_all(b"\n").context("cannot write finding")?;
                            }
                        }
                    }
                    Ok(Outcome::AlreadyProcessed | Outcome::Skipped(_)) => {}
                    Err(e @ PipelineError::Malformed { .. }) => {
                        tracing::warn!(path = %obj.path().display(), "{e}")
                    }
                    Err(e) => {
                        return Err(e)
                            .with_context(|| format!("while processing {}", obj.path().display()));
                    }
                }
                if let Some(bar) = &bar {
                    bar.inc(raw_len);
                }
            }
            // The reader is gone only when it stopped; then they are dropped here.
            if let Some(tx) = spent.get(reader) {
                let _ = tx.send(events);
            }
        }
        Ok(())
    })?;
    let blocked_us = reader_blocked.load(std::sync::atomic::Ordering::Relaxed);
    tracing::debug!(
        readers,
        pipeline_waited_ms = u64::try_from(starved.as_millis()).unwrap_or(u64::MAX),
        readers_waited_ms = blocked_us / 1000,
        "replay threads"
    );
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if let Some(mut out) = findings_out {
        out.flush().context("cannot write findings")?;
    }
    pipeline.flush()?;
    let stats = &pipeline.stats;
    if args.json {
        println!("{}", serde_json::to_string_pretty(stats)?);
    } else {
        print!("{}", stats.render());
    }
    Ok(())
}

/// A progress bar on a terminal, for work that is long enough to want one. The files
/// are sized (one `stat` each) only when a bar may be shown.
fn progress_bar(objects: &[walk::LocalObject], disabled: bool) -> Option<indicatif::ProgressBar> {
    if disabled || !std::io::stderr().is_terminal() {
        return None;
    }
    let bytes: u64 = objects
        .iter()
        .filter_map(|o| std::fs::metadata(o.path()).ok())
        .map(|m| m.len())
        .sum();
    if objects.len() < 20 && bytes < 20 << 20 {
        return None;
    }
    let bar = indicatif::ProgressBar::new(bytes);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    ) {
        bar.set_style(style);
    }
    Some(bar)
}
