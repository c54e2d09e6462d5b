//! The contract between ingest and whatever commits an object's effects.
//!
//! Ingest fetches; the processor parses, scores and commits. A message is deleted only
//! after [`Processor::process`] returned `Ok`, so the processor must have made its effects
//! durable by then (DESIGN.md invariant 4).

use std::future::Future;

use cloudtrail::ObjectRef;

/// Processes one fetched, decompressed object. Implemented by the daemon's pipeline.
pub trait Processor: Send + Sync + 'static {
    /// Parses and commits the object's effects. `Ok` means durably committed.
    fn process(
        &self,
        obj: &ObjectRef,
        bytes: Vec<u8>,
    ) -> impl Future<Output = Result<Outcome, ProcessError>> + Send;

    /// Whether the object's effects were already committed: a redelivery is then deleted
    /// without fetching the object again.
    fn is_processed(&self, obj: &ObjectRef) -> impl Future<Output = bool> + Send;
}

/// What processing an object did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Effects committed; `records` CloudTrail records were in the object.
    Committed {
        /// Records in the object.
        records: u64,
    },
    /// The object had been committed before; nothing was done.
    AlreadyProcessed,
    /// Not a log file (digest, insights, other): nothing to do.
    Skipped,
}

/// Why processing an object failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProcessError {
    /// The object will never process (not CloudTrail JSON): leave it for the DLQ.
    #[error("malformed object: {0}")]
    Malformed(String),
    /// A passing failure (store busy, disk full): retry later.
    #[error("transient failure: {0}")]
    Transient(String),
}
