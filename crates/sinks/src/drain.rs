//! The per-sink outbox drain: peek a batch, encode it for the sink, send it, and ack
//! the outbox only once the receiver acknowledged.
//!
//! Failures back off exponentially with jitter. A receiver that is down or
//! overloaded (a transient error) is retried for as long as it takes: an outage of
//! hours loses nothing, and detection never waits for it (the drain runs on its own
//! task). Content the receiver rejects (a permanent error) counts attempts per
//! finding, one finding a batch, and goes to the dead-letter file after
//! `max_attempts`; a finding that cannot be decoded or encoded goes there at once.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::watch;

use crate::config::DrainConfig;
use crate::encode::{EncodeContext, Encoding, native};
use crate::outbox::{Outbox, OutboxEntry, OutboxError};
use crate::transport::{Encoded, SendError, Transport};

/// Live numbers of one drain, readable from any thread.
#[derive(Debug)]
pub struct DrainMetrics {
    /// Findings waiting in the outbox.
    pub depth: AtomicU64,
    /// Enqueue time of the oldest waiting finding, epoch ms; `i64::MIN` when empty.
    pub oldest_enqueued_ms: AtomicI64,
    /// Findings delivered and acknowledged.
    pub delivered: AtomicU64,
    /// Batches that failed.
    pub failed_batches: AtomicU64,
    /// Findings moved to the dead-letter file.
    pub dead_lettered: AtomicU64,
    /// Time of the last successful delivery, epoch ms; `i64::MIN` before the first.
    pub last_success_ms: AtomicI64,
}

impl Default for DrainMetrics {
    fn default() -> Self {
        Self {
            depth: AtomicU64::new(0),
            oldest_enqueued_ms: AtomicI64::new(i64::MIN),
            delivered: AtomicU64::new(0),
            failed_batches: AtomicU64::new(0),
            dead_lettered: AtomicU64::new(0),
            last_success_ms: AtomicI64::new(i64::MIN),
        }
    }
}

impl DrainMetrics {
    /// Age of the oldest waiting finding at `now_ms`, in ms (0 when empty).
    pub fn age_ms(&self, now_ms: i64) -> u64 {
        match self.oldest_enqueued_ms.load(Ordering::Relaxed) {
            i64::MIN => 0,
            t => u64::try_from(now_ms.saturating_sub(t)).unwrap_or(0),
        }
    }

    fn set_stats(&self, depth: u64, oldest: Option<i64>) {
        self.depth.store(depth, Ordering::Relaxed);
        self.oldest_enqueued_ms
            .store(oldest.unwrap_or(i64::MIN), Ordering::Relaxed);
    }
}

/// Why the drain stopped.
#[derive(Debug, thiserror::Error)]
pub enum DrainError {
    /// The outbox failed.
    #[error("outbox: {0}")]
    Outbox(#[from] OutboxError),
    /// The dead-letter file could not be written: the finding stays in the outbox.
    #[error("dead-letter file {path}: {source}")]
    DeadLetter {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// What one [`Drain::step`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The outbox was empty.
    Idle,
    /// This many findings were delivered and acked.
    Delivered(usize),
    /// The batch failed; retry after the delay.
    Failed {
        /// Whether the error was transient.
        transient: bool,
        /// Back-off before the next attempt.
        retry_in: Duration,
    },
}

/// The clock, injectable for tests.
pub type Clock = fn() -> i64;

/// Wall-clock time in epoch ms.
pub fn system_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// One sink's drain.
pub struct Drain<T: Transport> {
    sink: String,
    encoding: Encoding,
    outbox: Arc<dyn Outbox>,
    transport: T,
    cfg: DrainConfig,
    dead_letter: PathBuf,
    hostname: String,
    metrics: Arc<DrainMetrics>,
    clock: Clock,
    failures: u32,
    isolate: bool,
}

impl<T: Transport> std::fmt::Debug for Drain<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Drain")
            .field("sink", &self.sink)
            .field("encoding", &self.encoding)
            .finish_non_exhaustive()
    }
}

impl<T: Transport> Drain<T> {
    /// A drain of `sink`'s outbox into `transport`. `dead_letter` is used when the
    /// configuration names no dead-letter file.
    pub fn new(
        sink: impl Into<String>,
        encoding: Encoding,
        outbox: Arc<dyn Outbox>,
        transport: T,
        cfg: DrainConfig,
        dead_letter: PathBuf,
        hostname: impl Into<String>,
    ) -> Self {
        let dead_letter = cfg.dead_letter_path.clone().unwrap_or(dead_letter);
        Self {
            sink: sink.into(),
            encoding,
            outbox,
            transport,
            cfg,
            dead_letter,
            hostname: hostname.into(),
            metrics: Arc::new(DrainMetrics::default()),
            clock: system_now_ms,
            failures: 0,
            isolate: false,
        }
    }

    /// Uses `clock` instead of the system clock.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The drain's metrics.
    pub fn metrics(&self) -> Arc<DrainMetrics> {
        Arc::clone(&self.metrics)
    }

    /// The transport (for inspection in tests).
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// Ends the drain, handing back its transport.
    pub fn into_transport(self) -> T {
        self.transport
    }

    /// Back-off after `failures` consecutive failures: exponential, capped, with
    /// jitter in the upper half.
    pub fn backoff(cfg: &DrainConfig, failures: u32) -> Duration {
        let exp = failures.saturating_sub(1).min(32);
        let base = cfg
            .backoff_initial_ms
            .saturating_mul(1u64 << exp)
            .min(cfg.backoff_max_ms);
        let half = base / 2;
        Duration::from_millis(half + fastrand::u64(0..=base - half))
    }

    fn refresh_stats(&self) -> Result<(), DrainError> {
        let (depth, oldest) = self.outbox.stats(&self.sink)?;
        self.metrics.set_stats(depth, oldest);
        Ok(())
    }

    /// Drains one batch.
    pub async fn step(&mut self) -> Result<Step, DrainError> {
        self.refresh_stats()?;
        let max = if self.isolate {
            1
        } else {
            self.cfg.batch_max_findings
        };
        let entries = self.outbox.peek(&self.sink, max)?;
        if entries.is_empty() {
            return Ok(Step::Idle);
        }
        let now = (self.clock)();
        let ctx = EncodeContext::new(self.hostname.clone(), now);
        let mut batch = Vec::with_capacity(entries.len());
        let mut seqs = Vec::with_capacity(entries.len());
        let mut sent_entries = Vec::with_capacity(entries.len());
        for entry in entries {
            match self.encode(&entry, &ctx) {
                Ok(e) => {
                    seqs.push(entry.seq);
                    batch.push(e);
                    sent_entries.push(entry);
                }
                Err(reason) => self.dead_letter(&entry, &reason, now)?,
            }
        }
        if batch.is_empty() {
            self.refresh_stats()?;
            return Ok(Step::Delivered(0));
        }
        match self.transport.send(&batch, &ctx).await {
            Ok(()) => {
                self.outbox.ack(&self.sink, &seqs)?;
                self.failures = 0;
                self.isolate = false;
                self.metrics
                    .delivered
                    .fetch_add(seqs.len() as u64, Ordering::Relaxed);
                self.metrics
                    .last_success_ms
                    .store((self.clock)(), Ordering::Relaxed);
                self.refresh_stats()?;
                Ok(Step::Delivered(seqs.len()))
            }
            Err(err) => {
                self.metrics.failed_batches.fetch_add(1, Ordering::Relaxed);
                self.failures = self.failures.saturating_add(1);
                let transient = err.is_transient();
                tracing::warn!(sink = %self.sink, error = %err, transient, findings = seqs.len(), "sink delivery failed");
                if !transient {
                    self.permanent_failure(&sent_entries, &err, now)?;
                }
                Ok(Step::Failed {
                    transient,
                    retry_in: Self::backoff(&self.cfg, self.failures),
                })
            }
        }
    }

    fn permanent_failure(
        &mut self,
        entries: &[OutboxEntry],
        err: &SendError,
        now: i64,
    ) -> Result<(), DrainError> {
        if entries.len() > 1 {
            // Find the finding the receiver rejects: go one at a time until a success.
            self.isolate = true;
            return Ok(());
        }
        for entry in entries {
            let attempts = self.outbox.record_failure(&self.sink, entry.seq)?;
            if attempts >= self.cfg.max_attempts {
                let dead = OutboxEntry {
                    attempts,
                    ..entry.clone()
                };
                self.dead_letter(&dead, &err.to_string(), now)?;
            }
        }
        self.refresh_stats()
    }

    fn encode(&self, entry: &OutboxEntry, ctx: &EncodeContext) -> Result<Encoded, String> {
        let f = native::decode(&entry.finding).map_err(|e| e.to_string())?;
        let body = self.encoding.encode(&f, ctx).map_err(|e| e.to_string())?;
        Ok(Encoded {
            id: f.id,
            finding_type: f.finding_type,
            severity: f.severity_label,
            score: f.severity,
            revision: f.revision,
            last_seen_ms: f.last_seen,
            json: self.encoding.is_json(),
            body,
        })
    }

    fn dead_letter(&self, entry: &OutboxEntry, reason: &str, now: i64) -> Result<(), DrainError> {
        #[derive(serde::Serialize)]
        struct DeadLetter<'a> {
            sink: &'a str,
            seq: u64,
            attempts: u32,
            enqueued_at: String,
            dead_at: String,
            reason: &'a str,
            finding: serde_json::Value,
        }
        let finding = serde_json::from_slice(&entry.finding).unwrap_or_else(|_| {
            serde_json::Value::String(String::from_utf8_lossy(&entry.finding).into_owned())
        });
        let line = DeadLetter {
            sink: &self.sink,
            seq: entry.seq,
            attempts: entry.attempts,
            enqueued_at: cloudtrail::time::format_rfc3339(entry.enqueued_ms),
            dead_at: cloudtrail::time::format_rfc3339(now),
            reason,
            finding,
        };
        let io_err = |source| DrainError::DeadLetter {
            path: self.dead_letter.display().to_string(),
            source,
        };
        let mut bytes = serde_json::to_vec(&line).map_err(|e| io_err(std::io::Error::other(e)))?;
        bytes.push(b'\n');
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.dead_letter)
            .map_err(io_err)?;
        f.write_all(&bytes).map_err(io_err)?;
        f.sync_data().map_err(io_err)?;
        self.outbox.remove_dead(&self.sink, entry.seq)?;
        self.metrics.dead_lettered.fetch_add(1, Ordering::Relaxed);
        tracing::error!(sink = %self.sink, seq = entry.seq, reason, "finding moved to the dead-letter file");
        Ok(())
    }

    /// Runs until `shutdown` turns true. Outbox errors are logged and retried after
    /// the back-off; they never end the loop.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let poll = Duration::from_millis(self.cfg.poll_interval_ms);
        let mut errors = 0u32;
        loop {
            if *shutdown.borrow() {
                return;
            }
            let wait = match self.step().await {
                Ok(Step::Delivered(_)) => {
                    errors = 0;
                    continue;
                }
                Ok(Step::Idle) => poll,
                Ok(Step::Failed { retry_in, .. }) => retry_in,
                Err(e) => {
                    errors = errors.saturating_add(1);
                    tracing::error!(sink = %self.sink, error = %e, "sink drain error");
                    Self::backoff(&self.cfg, errors)
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => {}
            }
        }
    }
}

/// A drain running on its own task.
#[derive(Debug)]
pub struct RunningSink {
    /// The sink's name.
    pub name: String,
    /// Its live metrics.
    pub metrics: Arc<DrainMetrics>,
    /// The task; it ends after shutdown.
    pub task: tokio::task::JoinHandle<()>,
}

/// Builds the transport of every sink and starts one drain task per sink. Drains are
/// independent of each other and of detection: a sink that is down only grows its
/// own outbox. Dead-letter files default to `dead_letter_dir/dead-letter-<name>.jsonl`.
pub fn spawn_all(
    sinks: &[crate::config::SinkConfig],
    outbox: Arc<dyn Outbox>,
    dead_letter_dir: &std::path::Path,
    hostname: &str,
    shutdown: &watch::Receiver<bool>,
) -> Result<Vec<RunningSink>, crate::transport::BuildError> {
    let mut running = Vec::with_capacity(sinks.len());
    for cfg in sinks {
        let transport = crate::transport::AnyTransport::build(cfg)?;
        let drain = Drain::new(
            cfg.name(),
            cfg.encoding(),
            Arc::clone(&outbox),
            transport,
            cfg.drain().clone(),
            dead_letter_dir.join(format!("dead-letter-{}.jsonl", cfg.name())),
            hostname,
        );
        let metrics = drain.metrics();
        let task = tokio::spawn(drain.run(shutdown.clone()));
        running.push(RunningSink {
            name: cfg.name().to_owned(),
            metrics,
            task,
        });
    }
    Ok(running)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_with_jitter_and_is_capped() {
        let cfg = DrainConfig {
            backoff_initial_ms: 100,
            backoff_max_ms: 1_000,
            ..DrainConfig::default()
        };
        for _ in 0..200 {
            let d1 = Drain::<crate::transport::AnyTransport>::backoff(&cfg, 1).as_millis();
            assert!((50..=100).contains(&d1), "{d1}");
            let d3 = Drain::<crate::transport::AnyTransport>::backoff(&cfg, 3).as_millis();
            assert!((200..=400).contains(&d3), "{d3}");
            let d40 = Drain::<crate::transport::AnyTransport>::backoff(&cfg, 40).as_millis();
            assert!((500..=1_000).contains(&d40), "{d40}");
        }
        let spread: std::collections::BTreeSet<u128> = (0..50)
            .map(|_| Drain::<crate::transport::AnyTransport>::backoff(&cfg, 5).as_millis())
            .collect();
        assert!(spread.len() > 5, "no jitter: {spread:?}");
    }
}
