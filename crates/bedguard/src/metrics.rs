//! Prometheus metrics and `/healthz` over a minimal HTTP/1.1 listener, bound to
//! localhost by default. Counters come from the pipeline's [`crate::stats::Stats`],
//! ingest's atomics and each sink's drain metrics; latencies are fixed-bucket
//! histograms.

use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::daemon::Shared;

/// Upper bounds of the latency buckets, seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// A latency histogram with Prometheus' cumulative buckets.
#[derive(Debug, Default)]
pub struct Histogram {
    counts: [AtomicU64; 12],
    overflow: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    /// Records one duration.
    pub fn observe(&self, d: Duration) {
        let s = d.as_secs_f64();
        match BUCKETS.iter().position(|b| s <= *b) {
            Some(i) => self.counts[i].fetch_add(1, Relaxed),
            None => self.overflow.fetch_add(1, Relaxed),
        };
        self.sum_micros.fetch_add(d.as_micros() as u64, Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cum = 0;
        for (b, c) in BUCKETS.iter().zip(&self.counts) {
            cum += c.load(Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {cum}");
        }
        cum += self.overflow.load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cum}");
        let _ = writeln!(
            out,
            "{name}_sum {}",
            self.sum_micros.load(Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "{name}_count {cum}");
    }
}

/// Per-stage latencies.
#[derive(Debug, Default)]
pub struct Latencies {
    /// Decode, enrich, detect and commit of one object.
    pub pipeline: Histogram,
    /// The flush that makes a commit durable.
    pub flush: Histogram,
}

/// Renders every metric in Prometheus' text format. `now_ms` is the wall clock, for lag.
pub fn render(shared: &Shared, now_ms: i64) -> String {
    let mut o = String::new();
    let counter = |o: &mut String, name: &str, help: &str, v: u64| {
        let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
    };
    if let Ok(p) = shared.pipeline.lock() {
        let s = &p.stats;
        counter(
            &mut o,
            "bedguard_objects_total",
            "Objects processed as CloudTrail logs.",
            s.log_files,
        );
        counter(
            &mut o,
            "bedguard_events_total",
            "CloudTrail records processed.",
            s.records,
        );
        counter(
            &mut o,
            "bedguard_duplicate_events_total",
            "Records skipped as duplicate event ids.",
            s.duplicate_records,
        );
        counter(
            &mut o,
            "bedguard_bedrock_calls_total",
            "Bedrock calls processed.",
            s.bedrock_calls,
        );
        counter(
            &mut o,
            "bedguard_malformed_objects_total",
            "Objects that could not be decoded.",
            s.malformed_files.len() as u64,
        );
        counter(
            &mut o,
            "bedguard_suppressed_findings_total",
            "Findings suppressed by allowlists or rules.",
            s.suppressed_findings,
        );
        let _ = writeln!(
            o,
            "# HELP bedguard_bad_records_total Records skipped as bad, by reason.\n# TYPE bedguard_bad_records_total counter"
        );
        for (k, v) in &s.bad_records {
            let _ = writeln!(o, "bedguard_bad_records_total{{reason=\"{k}\"}} {v}");
        }
        let _ = writeln!(
            o,
            "# HELP bedguard_findings_total Findings emitted (new or updated), by type.\n# TYPE bedguard_findings_total counter"
        );
        for (k, v) in &s.findings_by_type {
            let _ = writeln!(
                o,
                "bedguard_findings_total{{type=\"{}\"}} {v}",
                k.replace('"', "'")
            );
        }
        let _ = writeln!(
            o,
            "# HELP bedguard_findings_by_severity_total Findings emitted, by severity band.\n# TYPE bedguard_findings_by_severity_total counter"
        );
        for (k, v) in &s.findings_by_severity {
            let _ = writeln!(
                o,
                "bedguard_findings_by_severity_total{{severity=\"{k}\"}} {v}"
            );
        }
        if let Some(newest) = s.newest_event_ms {
            let _ = writeln!(
                o,
                "# HELP bedguard_lag_seconds Now minus the newest eventTime processed.\n# TYPE bedguard_lag_seconds gauge\nbedguard_lag_seconds {}",
                (now_ms - newest) as f64 / 1000.0
            );
        }
    }
    for (name, v) in shared.ingest.snapshot() {
        counter(
            &mut o,
            &format!("bedguard_ingest_{name}_total"),
            "Ingest counter (see crates/ingest/src/metrics.rs).",
            v,
        );
    }
    let _ = writeln!(
        o,
        "# HELP bedguard_outbox_depth Findings waiting for a sink.\n# TYPE bedguard_outbox_depth gauge"
    );
    let _ = writeln!(
        o,
        "# HELP bedguard_outbox_age_seconds Age of the oldest finding waiting for a sink.\n# TYPE bedguard_outbox_age_seconds gauge"
    );
    if let Ok(sinks) = shared.sinks.lock() {
        for (name, m) in sinks.iter() {
            let _ = writeln!(
                o,
                "bedguard_outbox_depth{{sink=\"{name}\"}} {}",
                m.depth.load(Relaxed)
            );
            let _ = writeln!(
                o,
                "bedguard_outbox_age_seconds{{sink=\"{name}\"}} {}",
                m.age_ms(now_ms) as f64 / 1000.0
            );
            let _ = writeln!(
                o,
                "bedguard_sink_delivered_total{{sink=\"{name}\"}} {}",
                m.delivered.load(Relaxed)
            );
            let _ = writeln!(
                o,
                "bedguard_sink_dead_lettered_total{{sink=\"{name}\"}} {}",
                m.dead_lettered.load(Relaxed)
            );
        }
    }
    shared.latency.pipeline.render(
        &mut o,
        "bedguard_pipeline_seconds",
        "Decode, enrich, detect and commit of one object.",
    );
    shared.latency.flush.render(
        &mut o,
        "bedguard_flush_seconds",
        "Flush making a commit durable.",
    );
    o
}

/// Reads a request's head (request line and headers) into `buf`, however the client's
/// writes were split, until its blank line, a full buffer or the end of the stream;
/// `None` after 5 s or on an error. Reading the headers before answering also keeps
/// the close from resetting the connection under the client's feet.
async fn read_head(conn: &mut tokio::net::TcpStream, buf: &mut [u8]) -> Option<usize> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut n = 0;
    while n < buf.len() && !buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
        match tokio::time::timeout_at(deadline, conn.read(&mut buf[n..])).await {
            Ok(Ok(0)) => break,
            Ok(Ok(got)) => n += got,
            _ => return None,
        }
    }
    Some(n)
}

/// Serves /metrics and /healthz on `listen` until the task is aborted.
pub async fn serve(listen: &str, shared: Arc<Shared>) -> Result<tokio::task::JoinHandle<()>> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} (metrics.listen)"))?;
    tracing::info!("metrics on http://{listen}/metrics");
    Ok(tokio::spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                continue;
            };
            let shared = Arc::clone(&shared);
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let Some(n) = read_head(&mut conn, &mut buf).await else {
                    return;
                };
                let req = String::from_utf8_lossy(&buf[..n]);
                let path = req.split_whitespace().nth(1).unwrap_or("/");
                let (status, ctype, body) = match path {
                    "/metrics" => (
                        "200 OK",
                        "text/plain; version=0.0.4",
                        render(&shared, sinks::drain::system_now_ms()),
                    ),
                    "/healthz" => ("200 OK", "text/plain", "ok\n".to_string()),
                    _ => ("404 Not Found", "text/plain", "not found\n".to_string()),
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = conn.write_all(head.as_bytes()).await;
                let _ = conn.write_all(body.as_bytes()).await;
            });
        }
    }))
}
