//! Measurements, not tests (ignored): run by hand with
//! `cargo test -p ingest --release -- --ignored --nocapture measure`.

use super::*;

/// Not a test: a measurement. `cargo test -p ingest --release -- --ignored --nocapture measure`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement, run by hand"]
async fn measure_consumer_throughput_on_moto() {
    const OBJECTS: i64 = 400;
    const RECORDS: usize = 200;
    let moto = Moto::start().await;
    let clients = moto.clients().await;
    let urls = setup_local_pipeline(&clients, "bench", "q", "dlq")
        .await
        .unwrap();
    let body = log_body(RECORDS);
    let raw_len = {
        use std::io::Read;
        let mut v = Vec::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_end(&mut v)
            .unwrap();
        v.len()
    };
    let t = std::time::Instant::now();
    let mut puts = tokio::task::JoinSet::new();
    for n in 0..OBJECTS {
        let (c, b) = (clients.clone(), body.clone());
        puts.spawn(async move { put_object(&c, "bench", &key(n), b).await.unwrap() });
        if puts.len() >= 16 {
            puts.join_next().await;
        }
    }
    puts.join_all().await;
    let put_secs = t.elapsed().as_secs_f64();

    let rec = Arc::new(Recorder::default());
    let mut s = settings(&urls.queue_url);
    s.max_in_flight = 32;
    s.visibility_timeout_secs = 60;
    s.heartbeat_interval_ms = None;
    let t = std::time::Instant::now();
    let run = Running::start(&clients, s, Arc::clone(&rec));
    wait_until(300, "all committed", || async {
        rec.committed().len() == OBJECTS as usize
    })
    .await;
    wait_until(60, "all deleted", || async {
        run.get(|m| &m.messages_deleted) == OBJECTS as u64 + 1
    })
    .await;
    let secs = t.elapsed().as_secs_f64();
    run.stop().await;
    let n = OBJECTS as f64;
    eprintln!(
        "put {OBJECTS} objects ({} B gz, {raw_len} B raw, {RECORDS} records each) in {put_secs:.2}s; \
         consumed in {secs:.2}s: {:.0} objects/s, {:.0} records/s, {:.1} MB/s decompressed",
        body.len(),
        n / secs,
        n * RECORDS as f64 / secs,
        n * raw_len as f64 / secs / 1e6,
    );
}

/// Not a test: a measurement of streaming gunzip under the size limit.
#[test]
#[ignore = "measurement, run by hand"]
fn measure_streaming_gunzip() {
    let files = real_files();
    let mut gz_all = Vec::new();
    for (_, gz) in &files {
        gz_all.extend_from_slice(gz);
    }
    let t = std::time::Instant::now();
    let mut out = 0usize;
    for _ in 0..20 {
        let mut d = crate::fetch::Decompressor::new(u64::MAX);
        for chunk in gz_all.chunks(16 * 1024) {
            assert!(d.write(chunk).is_ok());
        }
        out += d.finish().map(|v| v.len()).unwrap_or(0);
    }
    let secs = t.elapsed().as_secs_f64();
    eprintln!(
        "gunzip: {:.1} MB/s decompressed ({} files concatenated, {} B gz -> {} B, 16 KiB chunks)",
        out as f64 / secs / 1e6,
        files.len(),
        gz_all.len(),
        out / 20
    );
}
