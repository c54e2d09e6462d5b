//! `bedguard replay`: local files through the same pipeline the daemon runs.

use std::io::{IsTerminal, Write};

use anyhow::{Context, Result};

use crate::cli::ReplayArgs;
use crate::pipeline::{Event, ObjectId, Outcome, Pipeline, PipelineError, Prepared};
use crate::walk;

/// The bucket local files are recorded under.
const LOCAL_BUCKET: &str = "local";

/// Groups of files read and decompressed ahead of the pipeline (with [`READ_GROUP`],
/// a bound on the memory they take).
const READ_AHEAD: usize = 4;

/// Files per group handed from the reading thread to the pipeline.
const READ_GROUP: usize = 16;

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
    // A second thread reads, decompresses, parses and enriches the files ahead of the
    // pipeline, which de-duplicates, scores, learns and commits them in order here.
    let preparer = pipeline.preparer();
    std::thread::scope(|scope| -> Result<()> {
        // Sent in groups: one wake-up of the other thread per group, not per file.
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Result<Prepared>>>(READ_AHEAD);
        // Events come back in groups to be dropped where they were built.
        let (spent_tx, spent_rx) = std::sync::mpsc::channel::<Vec<Vec<Event>>>();
        let objects = &objects;
        scope.spawn(move || {
            for group in objects.chunks(READ_GROUP) {
                spent_rx.try_iter().for_each(drop);
                let mut prepared = Vec::with_capacity(group.len());
                for obj in group {
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
                if tx.send(prepared).is_err() || failed {
                    return;
                }
            }
        });
        let mut spent = Vec::with_capacity(READ_GROUP);
        for (obj, prepared) in objects.iter().zip(rx.into_iter().flatten()) {
            if spent.len() >= READ_GROUP {
                // The reading thread is gone only when it stopped; then drop here.
                let _ = spent_tx.send(std::mem::replace(
                    &mut spent,
                    Vec::with_capacity(READ_GROUP),
                ));
            }
            let prepared = prepared?;
            let raw_len = prepared.raw_len();
            let id = ObjectId {
                bucket: LOCAL_BUCKET,
                key: &obj.key,
                etag: None,
            };
            match pipeline.process_prepared_then(id, prepared, |o| spent.push(o)) {
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
        Ok(())
    })?;
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
