//! Completeness audit: CloudTrail digest files list every log file delivered in their
//! hour; any listed log file the processor never processed was missed (a lost
//! notification, a message that reached the DLQ). [`process_missing`] repairs the gap.

use cloudtrail::ObjectRef;
use cloudtrail::time::EpochMillis;
use serde::Deserialize;
use tracing::warn;

use crate::backfill::{BackfillError, BackfillReport};
use crate::config::Clients;
use crate::fetch::{FetchLimits, fetch_object};
use crate::keys::{day_folders, log_delivered_ms};
use crate::listing::{list_objects, region_folders};
use crate::metrics::Metrics;
use crate::object::handle_object;
use crate::processor::{Outcome, Processor};

/// What to audit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditSpec {
    /// Bucket the trail delivers its digests to.
    pub bucket: String,
    /// The trail's key prefix (before `AWSLogs/`), possibly empty.
    pub prefix: String,
    /// Log files delivered from here (inclusive)...
    pub from_ms: EpochMillis,
    /// ...to here (exclusive) are checked.
    pub to_ms: EpochMillis,
    /// Size limit and retries of each digest fetch.
    pub fetch: FetchLimits,
}

/// What the audit found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditReport {
    /// Digest files read.
    pub digests: u64,
    /// Digest files that could not be fetched or parsed, with why.
    pub digest_errors: Vec<(ObjectRef, String)>,
    /// Distinct log files the digests list in range.
    pub log_files: u64,
    /// Log files listed in a digest but never processed, in delivery order.
    pub missing: Vec<ObjectRef>,
}

/// The part of a digest file the audit needs.
#[derive(Debug, Deserialize)]
struct Digest {
    #[serde(rename = "logFiles", default)]
    log_files: Vec<DigestLogFile>,
}

#[derive(Debug, Deserialize)]
struct DigestLogFile {
    #[serde(rename = "s3Bucket")]
    s3_bucket: String,
    #[serde(rename = "s3Object")]
    s3_object: String,
}

/// Reads the digests covering `[from_ms, to_ms)` and reports log files never processed.
///
/// # Errors
/// A failed listing. A digest that cannot be read is reported in
/// [`AuditReport::digest_errors`], not as an error.
pub async fn audit_digests<P: Processor>(
    clients: &Clients,
    processor: &P,
    spec: &AuditSpec,
) -> Result<AuditReport, BackfillError> {
    // A digest lists the hour before its own time: the last hour of a day is in the
    // next day's first digest, so one more day is read.
    let days = day_folders(spec.from_ms, spec.to_ms, 1);
    let metrics = Metrics::default();
    let mut report = AuditReport::default();
    let mut listed: Vec<(EpochMillis, ObjectRef)> = Vec::new();
    for region in
        region_folders(&clients.s3, &spec.bucket, &spec.prefix, "CloudTrail-Digest").await?
    {
        for day in &days {
            for digest in list_objects(&clients.s3, &spec.bucket, &format!("{region}{day}")).await?
            {
                match read_digest(clients, &digest, &spec.fetch, &metrics).await {
                    Ok(files) => {
                        report.digests += 1;
                        for f in files {
                            if let Some(t) = log_delivered_ms(&f.s3_object)
                                && (spec.from_ms..spec.to_ms).contains(&t)
                            {
                                listed.push((
                                    t,
                                    ObjectRef {
                                        bucket: f.s3_bucket,
                                        key: f.s3_object,
                                        etag: None,
                                        size: None,
                                    },
                                ));
                            }
                        }
                    }
                    Err(e) => {
                        warn!(bucket = %digest.bucket, key = %digest.key, error = %e, "unreadable digest");
                        report.digest_errors.push((digest, e));
                    }
                }
            }
        }
    }
    listed.sort_by(|(ta, a), (tb, b)| ta.cmp(tb).then_with(|| a.cmp(b)));
    listed.dedup_by(|(_, a), (_, b)| a.bucket == b.bucket && a.key == b.key);
    report.log_files = listed.len() as u64;
    for (_, obj) in listed {
        if !processor.is_processed(&obj).await {
            report.missing.push(obj);
        }
    }
    Ok(report)
}

async fn read_digest(
    clients: &Clients,
    digest: &ObjectRef,
    limits: &FetchLimits,
    metrics: &Metrics,
) -> Result<Vec<DigestLogFile>, String> {
    let bytes = fetch_object(&clients.s3, digest, limits, metrics)
        .await
        .map_err(|e| e.to_string())?;
    let parsed: Digest =
        serde_json::from_slice(&bytes).map_err(|e| format!("not a digest: {e}"))?;
    Ok(parsed.log_files)
}

/// Fetches and processes `missing` (from [`AuditReport::missing`]) in order.
///
/// # Errors
/// An object failing in a retryable way after its retries; malformed objects are
/// reported and passed over.
pub async fn process_missing<P: Processor>(
    clients: &Clients,
    processor: &P,
    missing: &[ObjectRef],
    limits: &FetchLimits,
) -> Result<BackfillReport, BackfillError> {
    let metrics = Metrics::default();
    let mut report = BackfillReport {
        listed: missing.len() as u64,
        ..BackfillReport::default()
    };
    for obj in missing {
        match handle_object(clients, processor, obj, limits, &metrics).await {
            Ok(Outcome::Committed { records }) => {
                report.committed += 1;
                report.records += records;
            }
            Ok(Outcome::AlreadyProcessed) => report.already_processed += 1,
            Ok(Outcome::Skipped) => report.skipped += 1,
            Err(f) if f.is_malformed() => report.malformed.push((obj.clone(), f.to_string())),
            Err(f) => return Err(BackfillError::Object(f)),
        }
    }
    Ok(report)
}
