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

/// `bench replay`: the full replay (enrichment with the demo GeoIP databases,
/// detection, sled commits) of a generated corpus in a child `bedguard replay`,
/// beside `gzip -dc` of the same files; with the child's peak RSS and the bytes of
/// sled state per principal.
pub fn replay(args: &BenchArgs) -> Result<()> {
    let c = corpus(args)?;
    let gzip = best_of(args.repeat, || time_gzip(&c.files))?;
    let work = std::env::temp_dir().join(format!("bedguard-bench-replay-{}", std::process::id()));
    std::fs::create_dir_all(&work).with_context(|| format!("cannot create {}", work.display()))?;
    let (city, asn) = enrich::demo::write_demo_databases(&work)?;
    let corpus_dir = c
        .files
        .first()
        .and_then(|f| f.ancestors().find(|a| a.join("MANIFEST").exists()))
        .map(Path::to_path_buf);
    let Some(corpus_dir) = corpus_dir else {
        bail!("cannot find the corpus directory")
    };
    let exe = std::env::current_exe().context("cannot find the bedguard executable")?;
    let mut best: Option<(Duration, u64, u64, u64)> = None;
    for _ in 0..args.repeat.max(1) {
        let state = work.join("state");
        let _ = std::fs::remove_dir_all(&state);
        let t = Instant::now();
        let mut child = Command::new(&exe)
            .args(["replay", "--json", "--no-progress", "--state"])
            .arg(&state)
            .arg(&corpus_dir)
            .env("BEDGUARD_GEOIP_CITY_DB_PATH", &city)
            .env("BEDGUARD_GEOIP_ASN_DB_PATH", &asn)
            .env("BEDGUARD_METRICS_ENABLED", "false")
            .env("BEDGUARD_LOG_LEVEL", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .context("cannot run bedguard replay")?;
        let status_path = format!("/proc/{}/status", child.id());
        let mut peak = 0u64;
        let stdout = child.stdout.take();
        let reader = std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(mut out) = stdout {
                let _ = std::io::Read::read_to_string(&mut out, &mut s);
            }
            s
        });
        loop {
            if let Some(kb) = std::fs::read_to_string(&status_path).ok().and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmHWM:"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            }) {
                peak = peak.max(kb * 1024);
            }
            if child.try_wait()?.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let elapsed = t.elapsed();
        let status = child.wait()?;
        let out = reader.join().unwrap_or_default();
        if !status.success() {
            bail!("bedguard replay failed: {status}");
        }
        let summary: serde_json::Value =
            serde_json::from_str(&out).context("replay summary is not JSON")?;
        let records = summary["records"].as_u64().unwrap_or(0)
            + summary["duplicate_records"].as_u64().unwrap_or(0);
        if records != c.events {
            bail!("replay saw {records} records, the corpus has {}", c.events);
        }
        let principals = summary["bedrock_by_principal"]
            .as_object()
            .map_or(0, |m| m.len() as u64);
        let state_bytes = dir_size(&state);
        if best.is_none_or(|b| elapsed < b.0) {
            best = Some((elapsed, peak, state_bytes, principals));
        }
    }
    let _ = std::fs::remove_dir_all(&work);
    let Some((elapsed, peak, state_bytes, principals)) = best else {
        bail!("no run")
    };
    print_table(
        "bench replay (enrich + detect + sled commits, one pipeline thread)",
        &c,
        &[
            Row {
                name: "gzip -dc > /dev/null (reference)".into(),
                time: gzip,
            },
            Row {
                name: "bedguard replay".into(),
                time: elapsed,
            },
        ],
    );
    println!("peak RSS of bedguard replay: {:.1} MB", peak as f64 / 1e6);
    println!(
        "sled state: {:.1} MB for {} principals with Bedrock calls ({} principals simulated): {:.0} bytes per simulated principal",
        state_bytes as f64 / 1e6,
        principals,
        args.principals,
        state_bytes as f64 / args.principals.max(1) as f64
    );
    Ok(())
}
