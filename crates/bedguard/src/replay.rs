//! `bedguard replay`: local files through the same pipeline the daemon runs.

use std::io::{IsTerminal, Write};

use anyhow::{Context, Result};

use crate::cli::ReplayArgs;
use crate::pipeline::{ObjectId, Outcome, Pipeline, PipelineError};
use crate::walk;

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
    let total_bytes: u64 = objects
        .iter()
        .filter_map(|o| std::fs::metadata(&o.path).ok())
        .map(|m| m.len())
        .sum();
    let bar = progress_bar(total_bytes, objects.len(), args.no_progress);
    for obj in &objects {
        let bytes = std::fs::read(&obj.path)
            .with_context(|| format!("cannot read {}", obj.path.display()))?;
        let id = ObjectId {
            bucket: "local",
            key: &obj.key,
            etag: None,
        };
        match pipeline.process(id, &bytes) {
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
                tracing::warn!(path = %obj.path.display(), "{e}")
            }
            Err(e) => {
                return Err(e).with_context(|| format!("while processing {}", obj.path.display()));
            }
        }
        if let Some(bar) = &bar {
            bar.inc(bytes.len() as u64);
        }
    }
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

/// A progress bar on a terminal, for work that is long enough to want one.
fn progress_bar(bytes: u64, files: usize, disabled: bool) -> Option<indicatif::ProgressBar> {
    if disabled || !std::io::stderr().is_terminal() || (files < 20 && bytes < 20 << 20) {
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
