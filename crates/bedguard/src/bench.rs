//! `bedguard bench`: throughput tables. Every figure is printed beside a reference
//! measured in the same run on the same files (`gzip -dc`), because these machines
//! are shared and noisy: quote the ratio, not the absolute number.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::cli::BenchArgs;

/// A generated corpus on disk.
pub struct Corpus {
    /// The gzipped log files, in delivery order.
    pub files: Vec<PathBuf>,
    /// Events in all.
    pub events: u64,
    /// Compressed bytes.
    pub gz_bytes: u64,
    /// Uncompressed bytes.
    pub raw_bytes: u64,
}

/// Generates (or reuses) a simulated corpus of about `events` events.
pub fn corpus(args: &BenchArgs) -> Result<Corpus> {
    let dir = args.corpus.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!(
            "bedguard-corpus-{}-{}",
            args.events, args.principals
        ))
    });
    let manifest = dir.join("MANIFEST");
    if !manifest.exists() {
        eprintln!(
            "generating a corpus of {} events, {} principals in {} ...",
            args.events,
            args.principals,
            dir.display()
        );
        let t = Instant::now();
        crate::simulate::write(&dir, sim::bench_config(args.events, args.principals), None)?;
        eprintln!("generated in {:.1}s", t.elapsed().as_secs_f64());
    }
    let text = std::fs::read_to_string(&manifest)
        .with_context(|| format!("cannot read {}", manifest.display()))?;
    let mut c = Corpus {
        files: Vec::new(),
        events: 0,
        gz_bytes: 0,
        raw_bytes: 0,
    };
    for line in text.lines() {
        let mut parts = line.split('\t');
        let (Some(rel), Some(events), Some(raw)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let path = dir.join(rel);
        c.gz_bytes += std::fs::metadata(&path)
            .with_context(|| format!("cannot stat {}", path.display()))?
            .len();
        c.events += events.parse::<u64>().unwrap_or(0);
        c.raw_bytes += raw.parse::<u64>().unwrap_or(0);
        c.files.push(path);
    }
    if c.files.is_empty() {
        bail!("corpus {} is empty", dir.display());
    }
    Ok(c)
}

/// Times `gzip -dc` of every file to /dev/null.
pub fn time_gzip(files: &[PathBuf]) -> Result<Duration> {
    let t = Instant::now();
    for chunk in files.chunks(512) {
        let status = Command::new("gzip")
            .arg("-dc")
            .arg("--")
            .args(chunk)
            .stdout(Stdio::null())
            .status()
            .context("cannot run gzip (is it installed?)")?;
        if !status.success() {
            bail!("gzip -dc failed: {status}");
        }
    }
    Ok(t.elapsed())
}

/// Best of `repeat` runs of `f`.
pub fn best_of(repeat: u32, mut f: impl FnMut() -> Result<Duration>) -> Result<Duration> {
    let mut best = Duration::MAX;
    for _ in 0..repeat.max(1) {
        best = best.min(f()?);
    }
    Ok(best)
}

/// One row of a table.
pub struct Row {
    /// What was measured.
    pub name: String,
    /// How long it took.
    pub time: Duration,
}

/// Prints rows with events/s, MB/s of uncompressed input, and the ratio to the first row.
pub fn print_table(title: &str, c: &Corpus, rows: &[Row]) {
    println!("{title}");
    println!(
        "corpus: {} files, {} events, {:.1} MB gzipped, {:.1} MB raw",
        c.files.len(),
        c.events,
        c.gz_bytes as f64 / 1e6,
        c.raw_bytes as f64 / 1e6
    );
    println!(
        "{:<34} {:>9} {:>13} {:>10} {:>14}",
        "", "seconds", "events/s", "MB/s", "vs gzip -dc"
    );
    let reference = rows.first().map_or(1.0, |r| r.time.as_secs_f64());
    for r in rows {
        let s = r.time.as_secs_f64().max(1e-9);
        println!(
            "{:<34} {:>9.3} {:>13.0} {:>10.1} {:>13.2}x",
            r.name,
            s,
            c.events as f64 / s,
            c.raw_bytes as f64 / 1e6 / s,
            reference / s
        );
    }
}

/// `bench decode`: read + gunzip + parse of every file on one core, beside gzip -dc.
pub fn decode(args: &BenchArgs) -> Result<()> {
    let c = corpus(args)?;
    let gzip = best_of(args.repeat, || time_gzip(&c.files))?;
    let mut parsed_events = 0u64;
    let gunzip = best_of(args.repeat, || {
        let t = Instant::now();
        for f in &c.files {
            let bytes = std::fs::read(f).with_context(|| format!("cannot read {}", f.display()))?;
            let buf = cloudtrail::log::decompress(&bytes, usize::MAX)?;
            std::hint::black_box(buf.len());
        }
        Ok(t.elapsed())
    })?;
    let full = best_of(args.repeat, || {
        let t = Instant::now();
        parsed_events = 0;
        for f in &c.files {
            let bytes = std::fs::read(f).with_context(|| format!("cannot read {}", f.display()))?;
            let buf = cloudtrail::log::decompress(&bytes, usize::MAX)?;
            let log = cloudtrail::log::parse_log(&buf)?;
            parsed_events += log.records.len() as u64;
            std::hint::black_box(&log);
        }
        Ok(t.elapsed())
    })?;
    if parsed_events != c.events {
        bail!(
            "decoded {parsed_events} events, the corpus has {}",
            c.events
        );
    }
    print_table(
        "bench decode (one core)",
        &c,
        &[
            Row {
                name: "gzip -dc > /dev/null (reference)".into(),
                time: gzip,
            },
            Row {
                name: "bedguard gunzip (zlib-rs)".into(),
                time: gunzip,
            },
            Row {
                name: "bedguard gunzip + parse".into(),
                time: full,
            },
        ],
    );
    Ok(())
}

/// Peak resident set size of this process, from /proc (Linux), in bytes.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Size of a directory tree in bytes.
pub fn dir_size(p: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(p) else {
        return 0;
    };
    rd.filter_map(|e| e.ok())
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            _ => e.metadata().map(|m| m.len()).unwrap_or(0),
        })
        .sum()
}
