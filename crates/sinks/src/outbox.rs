//! The outbox contract the drain reads from, and an in-memory implementation.
//!
//! The durable outbox lives in `store` (sled). Entries are per sink, ordered by
//! sequence number; an entry leaves only when its sink acknowledged it ([`Outbox::ack`])
//! or it was moved to the dead-letter file ([`Outbox::remove_dead`]).

use std::collections::BTreeMap;
use std::sync::Mutex;

/// One finding waiting for one sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    /// Sequence number, increasing per sink.
    pub seq: u64,
    /// Failed delivery attempts so far.
    pub attempts: u32,
    /// When it was enqueued, epoch milliseconds.
    pub enqueued_ms: i64,
    /// Native JSON of the finding (`encode::native`).
    pub finding: Vec<u8>,
}

/// Why an outbox operation failed.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    /// The backing store failed.
    #[error("outbox storage error: {0}")]
    Storage(String),
    /// No such sink.
    #[error("unknown sink {0:?}")]
    UnknownSink(String),
}

/// A durable, per-sink queue of findings.
pub trait Outbox: Send + Sync {
    /// Up to `max` oldest entries for `sink`, lowest sequence first, without removing them.
    fn peek(&self, sink: &str, max: usize) -> Result<Vec<OutboxEntry>, OutboxError>;
    /// Removes delivered entries.
    fn ack(&self, sink: &str, seqs: &[u64]) -> Result<(), OutboxError>;
    /// Counts one more failed attempt; returns the new attempt count.
    fn record_failure(&self, sink: &str, seq: u64) -> Result<u32, OutboxError>;
    /// Removes an entry that was written to the dead-letter file.
    fn remove_dead(&self, sink: &str, seq: u64) -> Result<(), OutboxError>;
    /// Depth and the oldest entry's enqueue time.
    fn stats(&self, sink: &str) -> Result<(u64, Option<i64>), OutboxError>;
}

/// An in-memory outbox for tests and benchmarks: not durable.
#[derive(Debug, Default)]
pub struct MemoryOutbox {
    inner: Mutex<MemoryInner>,
}

#[derive(Debug, Default)]
struct MemoryInner {
    next_seq: u64,
    sinks: BTreeMap<String, BTreeMap<u64, OutboxEntry>>,
}

impl MemoryOutbox {
    /// An empty outbox.
    pub fn new() -> Self {
        Self::default()
    }

    /// Enqueues `finding` (native JSON) for each of `sinks`; returns its sequence number.
    pub fn push(
        &self,
        sinks: &[&str],
        enqueued_ms: i64,
        finding: Vec<u8>,
    ) -> Result<u64, OutboxError> {
        let mut inner = self.lock()?;
        inner.next_seq += 1;
        let seq = inner.next_seq;
        for sink in sinks {
            inner.sinks.entry((*sink).to_owned()).or_default().insert(
                seq,
                OutboxEntry {
                    seq,
                    attempts: 0,
                    enqueued_ms,
                    finding: finding.clone(),
                },
            );
        }
        Ok(seq)
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, MemoryInner>, OutboxError> {
        self.inner
            .lock()
            .map_err(|_| OutboxError::Storage("memory outbox lock poisoned".into()))
    }
}

impl Outbox for MemoryOutbox {
    fn peek(&self, sink: &str, max: usize) -> Result<Vec<OutboxEntry>, OutboxError> {
        let inner = self.lock()?;
        Ok(inner
            .sinks
            .get(sink)
            .map(|q| q.values().take(max).cloned().collect())
            .unwrap_or_default())
    }

    fn ack(&self, sink: &str, seqs: &[u64]) -> Result<(), OutboxError> {
        let mut inner = self.lock()?;
        if let Some(q) = inner.sinks.get_mut(sink) {
            for s in seqs {
                q.remove(s);
            }
        }
        Ok(())
    }

    fn record_failure(&self, sink: &str, seq: u64) -> Result<u32, OutboxError> {
        let mut inner = self.lock()?;
        let entry = inner
            .sinks
            .get_mut(sink)
            .and_then(|q| q.get_mut(&seq))
            .ok_or_else(|| OutboxError::Storage(format!("no entry {seq} for sink {sink}")))?;
        entry.attempts += 1;
        Ok(entry.attempts)
    }

    fn remove_dead(&self, sink: &str, seq: u64) -> Result<(), OutboxError> {
        self.ack(sink, &[seq])
    }

    fn stats(&self, sink: &str) -> Result<(u64, Option<i64>), OutboxError> {
        let inner = self.lock()?;
        Ok(inner.sinks.get(sink).map_or((0, None), |q| {
            (q.len() as u64, q.values().map(|e| e.enqueued_ms).min())
        }))
    }
}
