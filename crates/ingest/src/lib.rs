//! The only crate that knows the AWS SDK: SQS consumer, S3 fetch, backfill listing.
//!
//! - [`config`]: [`AwsSettings`] → [`Clients`] (credential chain, region, endpoint override).
//! - [`processor`]: the contract between ingest and the rest of the daemon ([`Processor`]).
//! - [`consumer`]: long-polls SQS, fetches each announced object and deletes the message only
//!   after the processor committed its effects; heartbeat, back-pressure, graceful shutdown.
//! - [`fetch`]: S3 `GetObject` with streaming gunzip under a size limit, and retries.
//! - [`backfill`]: lists log objects by account/region/day and replays them resumably.
//! - [`audit`]: reads CloudTrail digest files and reports log files never processed.
//! - `object` (private): one object start to end, shared by all three drivers.
//! - [`metrics`]: counters of everything, as atomics the binary can export.
//!
//! Shutdown is signalled with a [`tokio_util::sync::CancellationToken`].

pub mod audit;
pub mod backfill;
pub mod config;
pub mod consumer;
pub mod fetch;
mod keys;
mod listing;
pub mod metrics;
mod object;
pub mod processor;
pub mod retry;
#[cfg(any(test, feature = "test-util"))]
pub mod test_util;

#[cfg(test)]
mod moto;
#[cfg(test)]
mod tests;

pub use audit::{AuditReport, AuditSpec, audit_digests, process_missing};
pub use backfill::{
    BackfillError, BackfillReport, BackfillSpec, CursorStore, backfill, list_log_objects,
};
pub use config::{AwsSettings, Clients, ConfigError, StaticCredentials, connect};
pub use consumer::{Consumer, ConsumerSettings, SettingsError, ShutdownReport};
pub use fetch::{FetchError, FetchLimits};
pub use listing::ListError;
pub use metrics::Metrics;
pub use object::ObjectFailure;
pub use processor::{Outcome, ProcessError, Processor};
pub use retry::RetrySettings;
pub use tokio_util::sync::CancellationToken;
