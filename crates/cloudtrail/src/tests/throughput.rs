//! Throughput numbers for decompress + parse against `gzip -dc`, not a benchmark
//! harness (the `bedguard bench` command owns that). Ignored by default; run in
//! release, on an otherwise idle core if you can:
//!
//! ```text
//! cargo test --release -p cloudtrail --lib throughput -- --ignored --nocapture
//! ```
//!
//! - `throughput`: in-memory corpus of 1,000-event files (below).
//! - `throughput_files`: gzip files on disk, read + gunzip + parse per file, in the
//!   shape of `bedguard bench decode` (see its docs).
//! - `parse_profile`: a fixed parse workload for `perf` and `callgrind`.
//!
//! `CLOUDTRAIL_BENCH_MB` sets the corpus size (default 64 MB decompressed) and
//! `CLOUDTRAIL_BENCH_RUNS` the number of timed runs (default 7; the best run counts,
//! the least disturbed by other load).
//!
//! The corpus is realistic synthetic CloudTrail: the real public events (about 1.3 kB
//! each), drawn in pseudo-random order, with fresh `eventID`, `requestID`, `eventTime`,
//! source address and access key per copy, so that it gzips like real logs (about 8x)
//! instead of like one repeated record; cut into CloudTrail-sized files of 1,000
//! events, each gzipped at the default level.

use std::hint::black_box;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::value::RawValue;

use super::{read_real, real_data_dir};
use crate::identity::{bedrock_surface, credential_class, principal};
use crate::log::{decompress, parse_log};

/// Every event of the real `{"Records":[...]}` files, as raw JSON text.
fn real_events() -> Vec<String> {
    #[derive(Deserialize)]
    struct Raw<'a> {
        #[serde(borrow, rename = "Records")]
        records: Vec<&'a RawValue>,
    }
    let mut out = Vec::new();
    for dir in [
        "invictus-ir_aws_dataset",
        "stratus-red-team_detonation-logs",
    ] {
        let mut names: Vec<String> = std::fs::read_dir(real_data_dir().join(dir))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".json.gz"))
            .collect();
        names.sort();
        for name in names {
            let buf = read_real(&format!("{dir}/{name}"));
            let raw: Raw<'_> = serde_json::from_slice(&buf).unwrap();
            out.extend(raw.records.iter().map(|r| r.get().to_owned()));
        }
    }
    out
}

/// xorshift64*: deterministic, good enough to vary identifiers.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn uuid(&mut self) -> String {
        let (a, b) = (self.next(), self.next());
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            (b >> 48) | 0x8000,
            b & 0xffff_ffff_ffff
        )
    }
}

/// Replaces the string value of the first `"key":"..."` in `event` (no-op when absent
/// or not a string).
fn set_str(event: &mut String, key: &str, value: &str) {
    let pat = format!("\"{key}\":\"");
    let Some(at) = event.find(&pat) else { return };
    let start = at + pat.len();
    let Some(len) = event[start..].find('"') else {
        return;
    };
    event.replace_range(start..start + len, value);
}

/// `files` log files of `per_file` events each, decompressed.
fn synthetic_corpus(files: usize, per_file: usize) -> Vec<Vec<u8>> {
    synthetic_corpus_seeded(files, per_file, 0)
}

/// [`synthetic_corpus`] with another random stream for each `seed`.
fn synthetic_corpus_seeded(files: usize, per_file: usize, seed: u64) -> Vec<Vec<u8>> {
    static EVENTS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let events = EVENTS.get_or_init(real_events);
    assert!(events.len() > 3000, "{}", events.len());
    let keys: Vec<String> = (0..40)
        .map(|i| {
            format!(
                "{}IA{:016X}",
                if i % 3 == 0 { "AK" } else { "AS" },
                i * 7919
            )
        })
        .collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ seed.wrapping_mul(0x1000_0000_01b3));
    let mut t = 1_700_000_000u64 + seed * 10_000_000;
    (0..files)
        .map(|_| {
            let mut out = br#"{"Records":["#.to_vec();
            for i in 0..per_file {
                let mut e = events[(rng.next() % events.len() as u64) as usize].clone();
                set_str(&mut e, "eventID", &rng.uuid());
                set_str(&mut e, "requestID", &rng.uuid());
                t += rng.next() % 3;
                let (d, s) = (t / 86_400 - 19_675, t % 86_400);
                let stamp = format!(
                    "2023-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                    1 + (d / 28) % 12,
                    1 + d % 28,
                    s / 3600,
                    s / 60 % 60,
                    s % 60
                );
                set_str(&mut e, "eventTime", &stamp);
                if e.contains("\"sourceIPAddress\":\"1") || e.contains("\"sourceIPAddress\":\"2") {
                    let ip = rng.next();
                    let ip = format!(
                        "{}.{}.{}.{}",
                        1 + ip % 223,
                        (ip >> 8) % 256,
                        (ip >> 16) % 256,
                        (ip >> 24) % 256
                    );
                    set_str(&mut e, "sourceIPAddress", &ip);
                }
                let key = &keys[(rng.next() % keys.len() as u64) as usize];
                set_str(&mut e, "accessKeyId", key);
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(e.as_bytes());
            }
            out.extend_from_slice(b"]}");
            out
        })
        .collect()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The best of `runs` timings of `f`: the run least disturbed by other load.
fn best(runs: usize, mut f: impl FnMut()) -> Duration {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap()
}

#[test]
#[ignore = "throughput measurement; run in release with --ignored --nocapture"]
fn throughput() {
    let mb_target = env_usize("CLOUDTRAIL_BENCH_MB", 64);
    let runs = env_usize("CLOUDTRAIL_BENCH_RUNS", 7);
    let per_file = 1000;
    let files = (mb_target * 1_000_000 / (1300 * per_file)).max(1);
    let plain = synthetic_corpus(files, per_file);
    let gz: Vec<Vec<u8>> = plain.iter().map(|p| gzip(p)).collect();
    let bytes: usize = plain.iter().map(Vec::len).sum();
    let gz_bytes: usize = gz.iter().map(Vec::len).sum();
    let events = files * per_file;
    let max = 256 << 20;

    // Correctness first: every synthetic event is a good record.
    for g in &gz {
        let buf = decompress(g, max).unwrap();
        let file = parse_log(&buf).unwrap();
        assert!(file.errors.is_empty(), "{:?}", file.errors.first());
        assert_eq!(file.records.len(), per_file);
    }

    let gunzip = best(runs, || {
        for g in &gz {
            black_box(decompress(black_box(g), max).unwrap());
        }
    });
    let parse = best(runs, || {
        for p in &plain {
            black_box(parse_log(black_box(p)).unwrap());
        }
    });
    let both = best(runs, || {
        for g in &gz {
            let buf = decompress(black_box(g), max).unwrap();
            black_box(parse_log(&buf).unwrap().records.len());
        }
    });
    let full = best(runs, || {
        for g in &gz {
            let buf = decompress(black_box(g), max).unwrap();
            let file = parse_log(&buf).unwrap();
            for r in &file.records {
                black_box((
                    principal(r),
                    credential_class(r),
                    bedrock_surface(r),
                    r.model_id(),
                    r.event_time_ms(),
                ));
            }
        }
    });

    // `gzip -dc` of the same bytes, one process for all files, output discarded.
    let dir = std::env::temp_dir().join(format!("cloudtrail-throughput-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let paths: Vec<_> = gz
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let p = dir.join(format!("{i:04}.json.gz"));
            std::fs::write(&p, g).unwrap();
            p
        })
        .collect();
    let gzip_dc = Command::new("gzip")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok()
        .then(|| {
            best(runs, || {
                let status = Command::new("gzip")
                    .arg("-dc")
                    .args(&paths)
                    .stdout(Stdio::null())
                    .status()
                    .unwrap();
                assert!(status.success());
            })
        });
    std::fs::remove_dir_all(&dir).unwrap();

    let mb = bytes as f64 / 1e6;
    let row = |name: &str, d: Duration| {
        let s = d.as_secs_f64();
        println!(
            "{name:<27} {:7.1} ms {:6.0} MB/s {:8.0} events/s",
            s * 1e3,
            mb / s,
            events as f64 / s
        );
    };
    println!(
        "corpus: {files} files, {events} events, {mb:.1} MB decompressed ({:.0} B/event), \
         {:.1} MB gzipped ({:.1}x); best of {runs}",
        bytes as f64 / events as f64,
        gz_bytes as f64 / 1e6,
        bytes as f64 / gz_bytes as f64
    );
    row("decompress", gunzip);
    row("parse_log", parse);
    row("decompress+parse_log", both);
    row("decompress+parse+identity", full);
    if let Some(g) = gzip_dc {
        row("gzip -dc >/dev/null", g);
        println!(
            "decompress+parse_log vs gzip -dc: {:.2}x faster",
            g.as_secs_f64() / both.as_secs_f64()
        );
    } else {
        println!("gzip not found: no comparison");
    }
}

/// Every `*.json.gz` under `dir`, sorted.
fn gz_files_under(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            gz_files_under(&p, out);
        } else if p.to_string_lossy().ends_with(".json.gz") {
            out.push(p);
        }
    }
}

/// Events per generated file: CloudTrail delivers every 5 minutes per account and
/// region, so most files are small and a few are large (about 60 events on average,
/// as in the `bedguard bench` corpus).
fn events_per_file(rng: &mut Rng) -> usize {
    let r = rng.next();
    match r % 100 {
        0..=69 => 1 + (r >> 8) as usize % 40,
        70..=94 => 40 + (r >> 8) as usize % 160,
        _ => 200 + (r >> 8) as usize % 600,
    }
}

/// Writes a generated corpus of about `mb` MB (decompressed) to `dir` as gzip files
/// of varying sizes (see [`events_per_file`]); returns the paths.
fn write_corpus(dir: &std::path::Path, mb: usize) -> Vec<std::path::PathBuf> {
    let target = mb * 1_000_000;
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut paths = Vec::new();
    let mut bytes = 0;
    // One big synthetic stream of 1,000-event files, cut into files of varied sizes.
    let mut pool: Vec<String> = Vec::new();
    let mut seed_files = 0;
    while bytes < target {
        if pool.is_empty() {
            seed_files += 1;
            let plain = synthetic_corpus_seeded(8, 1000, seed_files);
            for p in plain {
                #[derive(Deserialize)]
                struct Raw<'a> {
                    #[serde(borrow, rename = "Records")]
                    records: Vec<&'a RawValue>,
                }
                let raw: Raw<'_> = serde_json::from_slice(&p).unwrap();
                pool.extend(raw.records.iter().map(|r| r.get().to_owned()));
            }
            pool.reverse();
        }
        let n = events_per_file(&mut rng).min(pool.len());
        let mut out = br#"{"Records":["#.to_vec();
        for i in 0..n {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(pool.pop().unwrap().as_bytes());
        }
        out.extend_from_slice(b"]}");
        bytes += out.len();
        let p = dir.join(format!("{:06}.json.gz", paths.len()));
        std::fs::write(&p, gzip(&out)).unwrap();
        paths.push(p);
    }
    paths
}

/// Runs `gzip -dc` over `paths` (512 per process), output discarded.
fn gzip_dc(paths: &[std::path::PathBuf]) {
    for chunk in paths.chunks(512) {
        let status = Command::new("gzip")
            .arg("-dc")
            .arg("--")
            .args(chunk)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
    }
}

/// The `bedguard bench decode` table from inside the crate: gzip files on disk (a
/// generated corpus in a temp dir, or every `*.json.gz` under `CLOUDTRAIL_BENCH_DIR`,
/// e.g. a `bedguard bench` corpus), each read, gunzipped and parsed on one core,
/// beside `gzip -dc` of the same files in the same run. Rounds interleave the rows
/// (gzip, gunzip, gunzip+parse) so that a burst of load hits them alike; each row
/// keeps its best round.
///
/// ```text
/// cargo test --release -p cloudtrail --lib throughput_files -- --ignored --nocapture
/// ```
///
/// `CLOUDTRAIL_BENCH_MB` sets the generated corpus size (default 256 MB
/// decompressed), `CLOUDTRAIL_BENCH_RUNS` the rounds (default 3).
#[test]
#[ignore = "throughput measurement; run in release with --ignored --nocapture"]
fn throughput_files() {
    let runs = env_usize("CLOUDTRAIL_BENCH_RUNS", 3);
    let tmp = std::env::temp_dir().join(format!("cloudtrail-files-{}", std::process::id()));
    let paths = match std::env::var_os("CLOUDTRAIL_BENCH_DIR") {
        Some(dir) => {
            let mut paths = Vec::new();
            gz_files_under(std::path::Path::new(&dir), &mut paths);
            paths
        }
        None => {
            std::fs::create_dir_all(&tmp).unwrap();
            write_corpus(&tmp, env_usize("CLOUDTRAIL_BENCH_MB", 256))
        }
    };
    assert!(!paths.is_empty());
    let max = 1 << 30;

    // Correctness first, and the corpus' size: every event is a good record.
    let (mut events, mut raw_bytes, mut gz_bytes) = (0usize, 0usize, 0usize);
    for p in &paths {
        let gz = std::fs::read(p).unwrap();
        gz_bytes += gz.len();
        let buf = decompress(&gz, max).unwrap();
        raw_bytes += buf.len();
        let file = parse_log(&buf).unwrap();
        assert!(
            file.errors.is_empty(),
            "{}: {:?}",
            p.display(),
            file.errors.first()
        );
        events += file.records.len();
    }
    // The same bytes in memory, for the parse-only row.
    let plain: Vec<Vec<u8>> = paths
        .iter()
        .map(|p| {
            decompress(&std::fs::read(p).unwrap(), max)
                .unwrap()
                .into_owned()
        })
        .collect();

    let mut rows = [Duration::MAX; 4];
    let time = |f: &mut dyn FnMut()| {
        let t = Instant::now();
        f();
        t.elapsed()
    };
    for _ in 0..runs.max(1) {
        let round = [
            time(&mut || gzip_dc(&paths)),
            time(&mut || {
                for p in &paths {
                    let gz = std::fs::read(p).unwrap();
                    black_box(decompress(black_box(&gz), max).unwrap().len());
                }
            }),
            time(&mut || {
                let mut n = 0;
                for p in &paths {
                    let gz = std::fs::read(p).unwrap();
                    let buf = decompress(black_box(&gz), max).unwrap();
                    n += black_box(parse_log(&buf).unwrap()).records.len();
                }
                assert_eq!(n, events);
            }),
            time(&mut || {
                for p in &plain {
                    black_box(parse_log(black_box(p)).unwrap().records.len());
                }
            }),
        ];
        for (best, t) in rows.iter_mut().zip(round) {
            *best = (*best).min(t);
        }
    }
    if std::env::var_os("CLOUDTRAIL_BENCH_DIR").is_none() {
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    println!(
        "corpus: {} files, {events} events, {:.1} MB gzipped, {:.1} MB raw; best of {runs}",
        paths.len(),
        gz_bytes as f64 / 1e6,
        raw_bytes as f64 / 1e6
    );
    println!(
        "{:<30} {:>9} {:>13} {:>10} {:>12}",
        "", "seconds", "events/s", "MB/s", "vs gzip -dc"
    );
    let reference = rows[0].as_secs_f64();
    let names = [
        "gzip -dc > /dev/null",
        "read + gunzip",
        "read + gunzip + parse",
        "parse only (in memory)",
    ];
    for (name, d) in names.iter().zip(rows) {
        let s = d.as_secs_f64();
        println!(
            "{name:<30} {s:>9.3} {:>13.0} {:>10.1} {:>11.2}x",
            events as f64 / s,
            raw_bytes as f64 / 1e6 / s,
            reference / s
        );
    }
}

/// A fixed workload for profilers (`perf record`, `valgrind --tool=callgrind
/// --toggle-collect='*parse_log*'`): the first `CLOUDTRAIL_BENCH_FILES` files (default
/// 300) under `CLOUDTRAIL_BENCH_DIR` (else a generated 32 MB corpus), decompressed
/// once, then parsed `CLOUDTRAIL_BENCH_RUNS` times (default 1). Prints the bytes
/// parsed per run, so that instruction counts can be put per byte.
#[test]
#[ignore = "profiling workload; run under perf or callgrind"]
fn parse_profile() {
    let runs = env_usize("CLOUDTRAIL_BENCH_RUNS", 1);
    let files = env_usize("CLOUDTRAIL_BENCH_FILES", 300);
    let tmp = std::env::temp_dir().join(format!("cloudtrail-profile-{}", std::process::id()));
    let mut paths = Vec::new();
    match std::env::var_os("CLOUDTRAIL_BENCH_DIR") {
        Some(dir) => gz_files_under(std::path::Path::new(&dir), &mut paths),
        None => {
            std::fs::create_dir_all(&tmp).unwrap();
            paths = write_corpus(&tmp, 32);
        }
    }
    paths.truncate(files);
    let plain: Vec<Vec<u8>> = paths
        .iter()
        .map(|p| {
            decompress(&std::fs::read(p).unwrap(), 1 << 30)
                .unwrap()
                .into_owned()
        })
        .collect();
    let _ = std::fs::remove_dir_all(&tmp);
    let mut events = 0;
    let mut fastest = Duration::MAX;
    for _ in 0..runs {
        let t = Instant::now();
        for p in &plain {
            events += black_box(parse_log(black_box(p)).unwrap().records.len());
        }
        fastest = fastest.min(t.elapsed());
    }
    let bytes = plain.iter().map(Vec::len).sum::<usize>();
    println!(
        "{} files, {bytes} bytes, {events} events parsed in {runs} runs; \
         fastest run {:.1} ms, {:.0} MB/s",
        plain.len(),
        fastest.as_secs_f64() * 1e3,
        bytes as f64 / 1e6 / fastest.as_secs_f64()
    );
}

#[test]
#[ignore = "prints type sizes"]
fn record_size() {
    println!(
        "Record: {} bytes",
        std::mem::size_of::<crate::record::Record<'static>>()
    );
}
