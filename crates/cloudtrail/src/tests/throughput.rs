//! A quick throughput number for decompress + parse, not a benchmark harness (the
//! `bedguard bench` command owns that). Ignored by default; run in release:
//!
//! ```text
//! cargo test --release -p cloudtrail throughput -- --ignored --nocapture
//! ```

use std::hint::black_box;
use std::io::Write;
use std::time::Instant;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::read_real;
use crate::identity::{bedrock_surface, credential_class, principal};
use crate::log::{decompress, parse_log};

/// A CloudTrail-sized file: the real Records-format events, repeated to `target`
/// bytes, as one `{"Records":[...]}` object.
fn synthetic_log(target: usize) -> Vec<u8> {
    #[derive(Deserialize)]
    struct Raw<'a> {
        #[serde(borrow, rename = "Records")]
        records: Vec<&'a RawValue>,
    }
    let sources = [
        "invictus-ir_aws_dataset/218007301253_CloudTrail_us-east-1_20230710T1200Z_iLj9fb7yyUG9X4Bf.json.gz",
        "invictus-ir_aws_dataset/218007301253_CloudTrail_us-east-1_20230710T1215Z_nBsuPO1qSTEVerMD.json.gz",
        "stratus-red-team_detonation-logs/aws.impact.bedrock-invoke-model.records.json.gz",
        "stratus-red-team_detonation-logs/aws.execution.ssm-send-command.records.json.gz",
    ];
    let bufs: Vec<Vec<u8>> = sources.iter().map(|s| read_real(s)).collect();
    let mut events: Vec<&str> = Vec::new();
    for b in &bufs {
        let raw: Raw<'_> = serde_json::from_slice(b).unwrap();
        events.extend(raw.records.iter().map(|r| r.get()));
    }
    let mut out = br#"{"Records":["#.to_vec();
    let mut i = 0;
    while out.len() < target {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(events[i % events.len()].as_bytes());
        i += 1;
    }
    out.extend_from_slice(b"]}");
    out
}

#[test]
#[ignore = "throughput measurement; run in release with --ignored --nocapture"]
fn throughput() {
    let plain = synthetic_log(32 << 20);
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&plain).unwrap();
    let gz = enc.finish().unwrap();
    let mb = plain.len() as f64 / 1e6;
    let iters = 5;

    let t = Instant::now();
    for _ in 0..iters {
        black_box(decompress(black_box(&gz), 256 << 20).unwrap());
    }
    let gunzip = t.elapsed().as_secs_f64() / f64::from(iters);

    let t = Instant::now();
    let mut n = 0;
    for _ in 0..iters {
        let file = parse_log(black_box(&plain)).unwrap();
        assert!(file.errors.is_empty());
        n = file.records.len();
        black_box(file);
    }
    let parse = t.elapsed().as_secs_f64() / f64::from(iters);

    // The floor: serde_json skimming the same bytes into names only.
    #[derive(Deserialize)]
    struct Skim<'a> {
        #[serde(borrow, rename = "Records")]
        records: Vec<Name<'a>>,
    }
    #[derive(Deserialize)]
    struct Name<'a> {
        #[serde(rename = "eventName")]
        _name: &'a str,
    }
    let t = Instant::now();
    for _ in 0..iters {
        black_box(
            serde_json::from_slice::<Skim<'_>>(black_box(&plain))
                .unwrap()
                .records
                .len(),
        );
    }
    let skim = t.elapsed().as_secs_f64() / f64::from(iters);

    let t = Instant::now();
    for _ in 0..iters {
        let buf = decompress(&gz, 256 << 20).unwrap();
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
    let full = t.elapsed().as_secs_f64() / f64::from(iters);

    println!(
        "synthetic log: {mb:.1} MB decompressed, {:.1} MB gzipped, {n} records",
        gz.len() as f64 / 1e6
    );
    println!("decompress:          {:7.0} MB/s", mb / gunzip);
    println!(
        "parse_log:           {:7.0} MB/s  {:8.0} records/s",
        mb / parse,
        n as f64 / parse
    );
    println!("serde_json skim:     {:7.0} MB/s  (floor)", mb / skim);
    println!(
        "decompress+parse+id: {:7.0} MB/s  {:8.0} records/s",
        mb / full,
        n as f64 / full
    );
}
