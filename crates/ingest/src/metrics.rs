//! Counters for everything ingest does, as relaxed atomics the binary can export.

use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! metrics {
    ($( $(#[$doc:meta])* $name:ident ),* $(,)?) => {
        /// Ingest counters. Monotonic; read them with [`Metrics::snapshot`].
        #[derive(Debug, Default)]
        pub struct Metrics {
            $( $(#[$doc])* pub $name: AtomicU64, )*
        }

        impl Metrics {
            /// Every counter with its name, in a fixed order.
            pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
                vec![$( (stringify!($name), self.$name.load(Ordering::Relaxed)), )*]
            }
        }
    };
}

metrics! {
    /// `ReceiveMessage` calls that answered.
    receive_calls,
    /// `ReceiveMessage` calls that failed (SQS unreachable, throttled, ...).
    receive_errors,
    /// Messages received.
    messages_received,
    /// Messages deleted (all their objects done, or an `s3:TestEvent`).
    messages_deleted,
    /// Messages left to the queue's redrive policy (a malformed object or a failed fetch).
    messages_left,
    /// Messages whose visibility was reset for a retry (failure delay or shutdown).
    messages_released,
    /// Messages whose body could not be decoded (left for the DLQ).
    messages_poison,
    /// `s3:TestEvent` messages (deleted).
    messages_test,
    /// `DeleteMessage` calls that failed after retries (the message will come back).
    delete_errors,
    /// Visibility extensions sent while a message was in work.
    heartbeats,
    /// Visibility extensions or releases that failed.
    visibility_errors,
    /// Objects fetched from S3.
    objects_fetched,
    /// Objects whose effects the processor committed.
    objects_committed,
    /// Objects found already processed (redeliveries), not fetched.
    objects_already_processed,
    /// Objects that are no log file by their key (digest, insights, other), not fetched.
    objects_skipped_not_log,
    /// Objects the processor skipped.
    objects_skipped_by_processor,
    /// Objects that failed: S3 said NoSuchKey.
    objects_failed_not_found,
    /// Objects that failed: S3 said AccessDenied.
    objects_failed_access_denied,
    /// Objects that failed: throttling or a 5xx from S3.
    objects_failed_throttled,
    /// Objects that failed: S3 unreachable or another S3 error.
    objects_failed_unreachable,
    /// Objects that failed: decompressed size over the limit.
    objects_failed_too_large,
    /// Objects that failed: bad gzip or rejected as malformed by the processor.
    objects_failed_malformed,
    /// Objects that failed: the processor reported a transient failure.
    objects_failed_transient,
    /// CloudTrail records in committed objects.
    records_committed,
    /// Bytes read from S3 (compressed).
    bytes_fetched,
    /// Bytes after decompression.
    bytes_decompressed,
    /// S3 calls retried.
    s3_retries,
    /// SQS calls retried.
    sqs_retries,
}

impl Metrics {
    /// Adds `n` to a counter.
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Adds one to a counter.
    pub(crate) fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The value of a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_names_every_counter_in_declaration_order() {
        let m = Metrics::default();
        Metrics::add(&m.bytes_fetched, 42);
        Metrics::inc(&m.messages_received);
        let snap = m.snapshot();
        assert_eq!(snap.first(), Some(&("receive_calls", 0)));
        assert!(snap.contains(&("bytes_fetched", 42)));
        assert!(snap.contains(&("messages_received", 1)));
        assert_eq!(snap.len(), 28);
    }
}
