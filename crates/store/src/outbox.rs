//! The outbox: findings waiting for each sink, in sequence order.
//!
//! Entries are enqueued only by [`Store::commit`], together with the rest of an object's
//! effects. A sink peeks a page, sends it, then acks what was delivered, records a
//! failure (the attempt count is persisted) or, past its retry budget, writes the entry
//! to a dead-letter file and removes it with [`Store::outbox_dead_letter`]. An entry
//! stays until one of those removes it, across restarts (invariant 5).

use crate::codec::{RECORD_V1, be_u32, be_u64, order_i64, record_body, unorder_i64};
use crate::error::StoreError;
use crate::keys::{check_part, outbox_key, outbox_prefix};
use crate::store::{OUTBOX, Store};

/// Header: version byte, attempts (u32 BE), first-enqueued ms (ordered i64 BE).
const HEADER_LEN: usize = 1 + 4 + 8;

/// One queued finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    /// Strictly increasing across the whole store and across restarts.
    pub seq: u64,
    /// Failed delivery attempts so far.
    pub attempts: u32,
    /// Wall-clock ms when the commit enqueued it.
    pub enqueued_ms: i64,
    /// The encoded finding, as given to the commit.
    pub bytes: Vec<u8>,
}

/// Depth and age of one sink's queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutboxStats {
    pub depth: u64,
    pub oldest_enqueued_ms: Option<i64>,
}

pub(crate) fn encode_entry(attempts: u32, enqueued_ms: i64, bytes: &[u8]) -> Vec<u8> {
    let mut value = Vec::with_capacity(HEADER_LEN + bytes.len());
    value.push(RECORD_V1);
    value.extend_from_slice(&attempts.to_be_bytes());
    value.extend_from_slice(&order_i64(enqueued_ms).to_be_bytes());
    value.extend_from_slice(bytes);
    value
}

fn decode_entry(key: &[u8], value: &[u8]) -> Result<OutboxEntry, StoreError> {
    let body = record_body(OUTBOX, key, value, HEADER_LEN)?;
    let seq = key
        .len()
        .checked_sub(8)
        .and_then(|at| be_u64(key, at))
        .ok_or_else(|| StoreError::malformed(OUTBOX, key, "key has no sequence"))?;
    match (be_u32(body, 0), be_u64(body, 4)) {
        (Some(attempts), Some(enqueued)) => Ok(OutboxEntry {
            seq,
            attempts,
            enqueued_ms: unorder_i64(enqueued),
            bytes: body.get(HEADER_LEN - 1..).unwrap_or_default().to_vec(),
        }),
        _ => Err(StoreError::malformed(OUTBOX, key, "truncated header")),
    }
}

impl Store {
    /// Up to `max` entries of `sink`'s queue, oldest first. Does not remove them.
    pub fn outbox_peek(&self, sink: &str, max: usize) -> Result<Vec<OutboxEntry>, StoreError> {
        check_part("sink", sink)?;
        let prefix = outbox_prefix(sink);
        self.outbox
            .scan_prefix(&prefix)
            .take(max)
            .map(|entry| {
                let (key, value) = entry.map_err(|e| StoreError::sled(OUTBOX, &prefix, e))?;
                decode_entry(&key, &value)
            })
            .collect()
    }

    /// Removes delivered entries; returns how many were still queued. Acking an entry
    /// twice is harmless.
    pub fn outbox_ack(&self, sink: &str, seqs: &[u64]) -> Result<usize, StoreError> {
        check_part("sink", sink)?;
        let mut removed = 0;
        for &seq in seqs {
            let key = outbox_key(sink, seq);
            if self
                .outbox
                .remove(&key)
                .map_err(|e| StoreError::sled(OUTBOX, &key, e))?
                .is_some()
            {
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Counts one failed delivery of an entry and returns its attempts so far.
    pub fn outbox_record_failure(&self, sink: &str, seq: u64) -> Result<u32, StoreError> {
        check_part("sink", sink)?;
        let key = outbox_key(sink, seq);
        let sled_err = |e| StoreError::sled(OUTBOX, &key, e);
        loop {
            let Some(old) = self.outbox.get(&key).map_err(sled_err)? else {
                return Err(StoreError::OutboxEntryMissing {
                    sink: sink.to_owned(),
                    seq,
                });
            };
            let entry = decode_entry(&key, &old)?;
            let attempts = entry.attempts.saturating_add(1);
            let mut new = old.to_vec();
            if let Some(field) = new.get_mut(1..5) {
                field.copy_from_slice(&attempts.to_be_bytes());
            }
            match self
                .outbox
                .compare_and_swap(&key, Some(&old), Some(new))
                .map_err(sled_err)?
            {
                Ok(()) => return Ok(attempts),
                // Acked, dead-lettered or counted concurrently: look again.
                Err(_) => continue,
            }
        }
    }

    /// Removes an entry the caller has written to its dead-letter file. Returns whether
    /// it was still queued.
    pub fn outbox_dead_letter(&self, sink: &str, seq: u64) -> Result<bool, StoreError> {
        Ok(self.outbox_ack(sink, &[seq])? == 1)
    }

    /// Depth and oldest enqueue time of `sink`'s queue (walks the queue).
    pub fn outbox_stats(&self, sink: &str) -> Result<OutboxStats, StoreError> {
        check_part("sink", sink)?;
        let prefix = outbox_prefix(sink);
        let mut stats = OutboxStats::default();
        for entry in self.outbox.scan_prefix(&prefix) {
            let (key, value) = entry.map_err(|e| StoreError::sled(OUTBOX, &prefix, e))?;
            if stats.depth == 0 {
                stats.oldest_enqueued_ms = Some(decode_entry(&key, &value)?.enqueued_ms);
            }
            stats.depth += 1;
        }
        Ok(stats)
    }

    /// Names of the sinks that have queued entries, sorted; lets the daemon notice a
    /// queue left behind by a sink removed from the config.
    pub fn outbox_sinks(&self) -> Result<Vec<String>, StoreError> {
        let mut sinks = Vec::new();
        let mut from: Vec<u8> = Vec::new();
        loop {
            let next = self
                .outbox
                .range_from(&from)
                .next()
                .transpose()
                .map_err(|e| StoreError::sled(OUTBOX, &from, e))?;
            let Some((key, _)) = next else { break };
            let Some(end) = key.iter().position(|&b| b == 0) else {
                return Err(StoreError::malformed(
                    OUTBOX,
                    &key,
                    "key has no sink separator",
                ));
            };
            let name = key.get(..end).unwrap_or_default();
            sinks.push(String::from_utf8_lossy(name).into_owned());
            // Skip past every key of this sink: `<sink>\x01` sorts after `<sink>\0…`.
            from = name.to_vec();
            from.push(1);
        }
        Ok(sinks)
    }
}
