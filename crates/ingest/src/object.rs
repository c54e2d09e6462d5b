//! One object, start to end: skip what is no log, skip what is done, fetch, process.
//! Shared by the consumer, backfill and the audit's repair.

use cloudtrail::ObjectRef;
use tracing::warn;

use crate::config::Clients;
use crate::fetch::{FetchError, FetchLimits, fetch_object};
use crate::keys::log_delivered_ms;
use crate::metrics::Metrics;
use crate::processor::{Outcome, ProcessError, Processor};

/// Why an object did not complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ObjectFailure {
    /// Fetching failed (after retries where retrying could help).
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// The processor refused or failed.
    #[error("s3://{bucket}/{key}: {error}")]
    Process {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
        /// What the processor said.
        error: ProcessError,
    },
}

impl ObjectFailure {
    /// Whether the object itself is bad (belongs in the DLQ; retrying will not help).
    pub fn is_malformed(&self) -> bool {
        match self {
            Self::Fetch(e) => e.is_malformed(),
            Self::Process { error, .. } => matches!(error, ProcessError::Malformed(_)),
        }
    }
}

/// Runs `obj` through `processor`, counting everything in `metrics`.
pub(crate) async fn handle_object<P: Processor>(
    clients: &Clients,
    processor: &P,
    obj: &ObjectRef,
    limits: &FetchLimits,
    metrics: &Metrics,
) -> Result<Outcome, ObjectFailure> {
    if let Some(done) = precheck(processor, obj, metrics).await {
        return Ok(done);
    }
    let fetched = fetch_object(&clients.s3, obj, limits, metrics).await;
    finish(processor, obj, fetched, metrics).await
}

/// The outcome of an object that needs no fetch: not a log file, or already processed.
pub(crate) async fn precheck<P: Processor>(
    processor: &P,
    obj: &ObjectRef,
    metrics: &Metrics,
) -> Option<Outcome> {
    if log_delivered_ms(&obj.key).is_none() {
        Metrics::inc(&metrics.objects_skipped_not_log);
        return Some(Outcome::Skipped);
    }
    if processor.is_processed(obj).await {
        Metrics::inc(&metrics.objects_already_processed);
        return Some(Outcome::AlreadyProcessed);
    }
    None
}

/// Hands a fetched object to the processor (or reports the failed fetch).
pub(crate) async fn finish<P: Processor>(
    processor: &P,
    obj: &ObjectRef,
    fetched: Result<Vec<u8>, FetchError>,
    metrics: &Metrics,
) -> Result<Outcome, ObjectFailure> {
    let bytes = match fetched {
        Ok(bytes) => bytes,
        Err(e) => {
            e.count(metrics);
            warn!(bucket = %obj.bucket, key = %obj.key, error = %e, "fetching object failed");
            return Err(e.into());
        }
    };
    match processor.process(obj, bytes).await {
        Ok(outcome) => {
            match outcome {
                Outcome::Committed { records } => {
                    Metrics::inc(&metrics.objects_committed);
                    Metrics::add(&metrics.records_committed, records);
                }
                Outcome::AlreadyProcessed => Metrics::inc(&metrics.objects_already_processed),
                Outcome::Skipped => Metrics::inc(&metrics.objects_skipped_by_processor),
            }
            Ok(outcome)
        }
        Err(error) => {
            let counter = match error {
                ProcessError::Malformed(_) => &metrics.objects_failed_malformed,
                ProcessError::Transient(_) => &metrics.objects_failed_transient,
            };
            Metrics::inc(counter);
            warn!(bucket = %obj.bucket, key = %obj.key, %error, "processing object failed");
            Err(ObjectFailure::Process {
                bucket: obj.bucket.clone(),
                key: obj.key.clone(),
                error,
            })
        }
    }
}
