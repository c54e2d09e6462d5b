//! Backfill: list a trail's log objects over a time range and replay them in delivery
//! order, resumably.
//!
//! Listing discovers accounts and regions by delimiter listing
//! (`AWSLogs/[o-org/]ACCOUNT/CloudTrail/REGION/`), then lists only the `YYYY/MM/DD/`
//! folders of the days in range. The replay saves a cursor (the last key done) after
//! every object, so dropping the future or a crash loses at most the object in work.

use std::collections::VecDeque;
use std::sync::Arc;

use cloudtrail::ObjectRef;
use cloudtrail::time::EpochMillis;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::config::Clients;
use crate::fetch::FetchLimits;
use crate::fetch::{FetchError, fetch_object};
use crate::keys::{day_folders, log_delivered_ms};
use crate::listing::{ListError, list_objects, region_folders};
use crate::metrics::Metrics;
use crate::object::{ObjectFailure, finish, precheck};
use crate::processor::{Outcome, Processor};

/// Where a backfill saves its progress; the daemon implements it on its store.
pub trait CursorStore: Send + Sync {
    /// The value last saved under `name`.
    fn load(&self, name: &str) -> Option<String>;
    /// Saves `value` under `name`.
    fn save(&self, name: &str, value: &str);
}

/// What to backfill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackfillSpec {
    /// Cursor name (one per bucket/prefix/range you replay).
    pub name: String,
    /// Bucket the trail delivers to.
    pub bucket: String,
    /// The trail's key prefix (before `AWSLogs/`), possibly empty.
    pub prefix: String,
    /// Start of the range (delivery time from the key), inclusive.
    pub from_ms: EpochMillis,
    /// End of the range, exclusive.
    pub to_ms: EpochMillis,
    /// Size limit and retries of each fetch.
    pub fetch: FetchLimits,
    /// Objects fetched ahead of the one being processed (0 or 1: none). Processing stays
    /// in order; memory is up to `prefetch` decompressed objects.
    pub prefetch: usize,
}

/// What a backfill did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackfillReport {
    /// Log objects in range.
    pub listed: u64,
    /// Objects at or before the saved cursor, not looked at again.
    pub before_cursor: u64,
    /// Objects the processor committed.
    pub committed: u64,
    /// Records in committed objects.
    pub records: u64,
    /// Objects already processed (by the consumer or an earlier run).
    pub already_processed: u64,
    /// Objects the processor skipped.
    pub skipped: u64,
    /// Malformed objects, logged and passed over (the cursor moves past them).
    pub malformed: Vec<(ObjectRef, String)>,
}

/// Why a backfill stopped early. The cursor holds the last object done: run again to
/// resume.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackfillError {
    /// Listing failed.
    #[error(transparent)]
    List(#[from] ListError),
    /// An object failed in a way that retrying later may fix.
    #[error("backfill stopped at a retryable failure: {0}")]
    Object(ObjectFailure),
}

/// Log objects of `bucket` under `prefix` delivered in `[from_ms, to_ms)`, sorted by
/// delivery time (then key).
///
/// # Errors
/// A failed listing.
pub async fn list_log_objects(
    clients: &Clients,
    bucket: &str,
    prefix: &str,
    from_ms: EpochMillis,
    to_ms: EpochMillis,
) -> Result<Vec<ObjectRef>, ListError> {
    let days = day_folders(from_ms, to_ms, 0);
    if days.is_empty() {
        return Ok(Vec::new());
    }
    let mut found = Vec::new();
    for region in region_folders(&clients.s3, bucket, prefix, "CloudTrail").await? {
        for day in &days {
            for obj in list_objects(&clients.s3, bucket, &format!("{region}{day}")).await? {
                if let Some(t) = log_delivered_ms(&obj.key)
                    && (from_ms..to_ms).contains(&t)
                {
                    found.push((t, obj));
                }
            }
        }
    }
    found.sort_by(|(ta, a), (tb, b)| ta.cmp(tb).then_with(|| a.key.cmp(&b.key)));
    Ok(found.into_iter().map(|(_, o)| o).collect())
}

/// Replays the log objects of `spec` through `processor` in delivery order, resuming
/// after the cursor saved under `spec.name`.
///
/// # Errors
/// A failed listing, or an object failing in a retryable way after its retries (the
/// cursor is left on the last object done).
pub async fn backfill<P: Processor>(
    clients: &Clients,
    processor: &P,
    spec: &BackfillSpec,
    cursor: &dyn CursorStore,
) -> Result<BackfillReport, BackfillError> {
    let objects = list_log_objects(
        clients,
        &spec.bucket,
        &spec.prefix,
        spec.from_ms,
        spec.to_ms,
    )
    .await?;
    let resume = cursor.load(&spec.name).map(|key| sort_key(&key));
    let metrics = Arc::new(Metrics::default());
    let mut report = BackfillReport {
        listed: objects.len() as u64,
        ..BackfillReport::default()
    };
    info!(name = %spec.name, listed = report.listed, resume = ?resume, "backfill started");
    let todo: Vec<ObjectRef> = objects
        .into_iter()
        .filter(|obj| resume.as_ref().is_none_or(|r| sort_key(&obj.key) > *r))
        .collect();
    report.before_cursor = report.listed - todo.len() as u64;
    let mut todo = todo.into_iter();
    let mut ahead = Prefetch(VecDeque::new());
    loop {
        // Keep `prefetch` fetches running ahead, deciding in order what needs a fetch.
        while ahead.0.len() < spec.prefetch.max(1) {
            let Some(obj) = todo.next() else { break };
            let job = match precheck(processor, &obj, &metrics).await {
                Some(done) => Job::Done(done),
                None => {
                    let (s3, o, limits, m) = (
                        clients.s3.clone(),
                        obj.clone(),
                        spec.fetch,
                        Arc::clone(&metrics),
                    );
                    Job::Fetching(tokio::spawn(async move {
                        fetch_object(&s3, &o, &limits, &m).await
                    }))
                }
            };
            ahead.0.push_back((obj, job));
        }
        let Some((obj, job)) = ahead.0.pop_front() else {
            break;
        };
        let result = match job {
            Job::Done(outcome) => Ok(outcome),
            Job::Fetching(handle) => {
                let fetched = handle.await.unwrap_or_else(|e| {
                    Err(FetchError::Unreachable {
                        bucket: obj.bucket.clone(),
                        key: obj.key.clone(),
                        detail: format!("fetch task failed: {e}"),
                    })
                });
                finish(processor, &obj, fetched, &metrics).await
            }
        };
        match result {
            Ok(Outcome::Committed { records }) => {
                report.committed += 1;
                report.records += records;
            }
            Ok(Outcome::AlreadyProcessed) => report.already_processed += 1,
            Ok(Outcome::Skipped) => report.skipped += 1,
            Err(f) if f.is_malformed() => {
                warn!(bucket = %obj.bucket, key = %obj.key, error = %f, "backfill: malformed object passed over");
                report.malformed.push((obj.clone(), f.to_string()));
            }
            Err(f) => return Err(BackfillError::Object(f)),
        }
        cursor.save(&spec.name, &obj.key);
    }
    info!(name = %spec.name, committed = report.committed, "backfill done");
    Ok(report)
}

/// An object ahead of processing: decided without a fetch, or being fetched.
enum Job {
    Done(Outcome),
    Fetching(JoinHandle<Result<Vec<u8>, FetchError>>),
}

/// The objects ahead; fetches still running are aborted when the backfill stops.
struct Prefetch(VecDeque<(ObjectRef, Job)>);

impl Drop for Prefetch {
    fn drop(&mut self) {
        for (_, job) in &self.0 {
            if let Job::Fetching(handle) = job {
                handle.abort();
            }
        }
    }
}

/// The order objects are replayed in: delivery time, then key.
fn sort_key(key: &str) -> (EpochMillis, String) {
    (
        log_delivered_ms(key).unwrap_or(EpochMillis::MIN),
        key.to_owned(),
    )
}
