//! One object in, effects out: the code path shared by `replay`, `run`, `backfill`
//! and `audit`. Once an object's bytes are in hand nothing here knows where they
//! came from.
//!
//! Per object: skip it when the store has it already; classify its key (digests,
//! Insights files and other keys are skipped, not errors); decompress and decode; for
//! every record, de-duplicate by event id, enrich, score and learn; then commit the
//! object's effects (profiles, event ids, findings for the outbox, the object marked
//! processed) in one batch. Only after that commit may the caller delete the SQS
//! message.

use std::collections::BTreeMap;
use std::sync::Arc;

use cloudtrail::log::{KeyKind, classify_key, decompress, parse_log};
use detect::{AccountState, Detector, Finding, PrincipalState};
use store::{ObjectBatch, ProfileKey};

use crate::observe::{Enrichment, observation};
use crate::stats::Stats;

/// What the pipeline keeps per profile key in the store.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub enum Stored {
    /// A principal's baseline, sequences and open findings.
    Principal(PrincipalState),
    /// An account's baseline.
    Account(AccountState),
}

/// The ETag recorded for objects whose ETag is unknown (local files, CloudTrail's
/// own SNS notifications): the key alone identifies them.
const NO_ETAG: &str = "-";

/// The ETag an object is recorded under: its own, or [`NO_ETAG`] when unknown.
pub fn etag_or_none(etag: Option<&str>) -> &str {
    etag.filter(|e| !e.is_empty()).unwrap_or(NO_ETAG)
}

/// Whether findings are emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Score and learn.
    Detect,
    /// Learn baselines only (warm-up from history).
    LearnOnly,
}

/// Which keys are read as logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPolicy {
    /// Only keys in CloudTrail's own layout: a trail bucket also holds digests,
    /// Insights and often AWS Config files, which are not CloudTrail logs.
    CloudTrailOnly,
    /// Also any `.json`, `.json.gz`, `.jsonl` or `.jsonl.gz` file (local replays of
    /// exported or renamed logs). Digest and Insights keys are still skipped.
    JsonFiles,
}

/// Whether a key names a JSON (lines) file, compressed or not.
fn looks_like_json(key: &str) -> bool {
    let k = key.strip_suffix(".gz").unwrap_or(key);
    k.ends_with(".json") || k.ends_with(".jsonl") || k.ends_with(".ndjson")
}

/// Which object this is.
#[derive(Debug, Clone, Copy)]
pub struct ObjectId<'a> {
    /// Bucket (for local files: `local`).
    pub bucket: &'a str,
    /// Key (for local files: the path below the replay root).
    pub key: &'a str,
    /// ETag when known.
    pub etag: Option<&'a str>,
}

/// What became of an object.
#[derive(Debug)]
pub enum Outcome {
    /// Its effects are committed.
    Committed {
        /// Records processed.
        records: u64,
        /// Findings emitted (new or updated), already in the outbox.
        findings: Vec<Finding>,
    },
    /// Processed before; nothing changed.
    AlreadyProcessed,
    /// Not a CloudTrail log (digest, insights, other key); nothing changed.
    Skipped(&'static str),
}

/// Why an object failed.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The object cannot be decoded: report it and leave it for the DLQ.
    #[error("malformed object s3://{bucket}/{key}: {reason}")]
    Malformed {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
        /// What was wrong.
        reason: String,
    },
    /// The state store failed: retry later.
    #[error(transparent)]
    Store(#[from] store::StoreError),
}

/// What a pipeline is made of, opened from config by the binary.
pub struct Parts {
    /// The detector.
    pub detector: Detector,
    /// GeoIP.
    pub geo: enrich::Enricher,
    /// User-agent rules.
    pub ua: enrich::UaRules,
    /// The state store.
    pub store: Arc<store::Store>,
}

/// The pipeline and everything it owns.
pub struct Pipeline {
    detector: Detector,
    geo: enrich::Enricher,
    ua: enrich::UaRules,
    store: Arc<store::Store>,
    mode: Mode,
    keys: KeyPolicy,
    sinks: Vec<String>,
    max_object_bytes: usize,
    /// Counters since start.
    pub stats: Stats,
}

impl Pipeline {
    /// Assembles a pipeline.
    pub fn new(
        parts: Parts,
        mode: Mode,
        keys: KeyPolicy,
        sinks: Vec<String>,
        max_object_bytes: usize,
    ) -> Self {
        let Parts {
            detector,
            geo,
            ua,
            store,
        } = parts;
        Self {
            detector,
            geo,
            ua,
            store,
            mode,
            keys,
            sinks,
            max_object_bytes,
            stats: Stats::default(),
        }
    }

    /// The store, shared.
    pub fn store_arc(&self) -> Arc<store::Store> {
        Arc::clone(&self.store)
    }

    /// Switches between learning only and detecting (evaluation warm-up).
    pub fn set_mode(&mut self, mode: Mode) {
        self.mode = mode;
    }

    /// Replaces the sinks findings are enqueued for (config reload).
    pub fn set_sinks(&mut self, sinks: Vec<String>) {
        self.sinks = sinks;
    }

    /// The GeoIP enricher, for periodic reload checks.
    pub fn geo(&self) -> &enrich::Enricher {
        &self.geo
    }

    /// Makes every commit so far durable.
    pub fn flush(&self) -> Result<(), PipelineError> {
        self.store.flush()?;
        Ok(())
    }

    /// Replaces the detector (config reload).
    pub fn set_detector(&mut self, detector: Detector) {
        self.detector = detector;
    }

    /// Processes one object whose bytes are in hand.
    pub fn process(&mut self, id: ObjectId<'_>, bytes: &[u8]) -> Result<Outcome, PipelineError> {
        self.stats.files += 1;
        self.stats.bytes += bytes.len() as u64;
        let etag = etag_or_none(id.etag);
        if self.store.is_processed(id.bucket, id.key, etag)? {
            self.stats.already_processed += 1;
            return Ok(Outcome::AlreadyProcessed);
        }
        let skipped = match classify_key(id.key) {
            KeyKind::Log(_) => None,
            KeyKind::Digest => Some("digest"),
            KeyKind::Insights => Some("insights"),
            KeyKind::Other if self.keys == KeyPolicy::JsonFiles && looks_like_json(id.key) => None,
            KeyKind::Other => Some("other"),
        };
        if let Some(kind) = skipped {
            Stats::bump(&mut self.stats.skipped_files, kind, 1);
            return Ok(Outcome::Skipped(kind));
        }
        let malformed = |reason: String| PipelineError::Malformed {
            bucket: id.bucket.to_string(),
            key: id.key.to_string(),
            reason,
        };
        let buf = match decompress(bytes, self.max_object_bytes) {
            Ok(b) => b,
            Err(e) => {
                self.stats
                    .malformed_files
                    .insert(id.key.to_string(), e.to_string());
                return Err(malformed(e.to_string()));
            }
        };
        let log = match parse_log(&buf) {
            Ok(l) => l,
            Err(e) => {
                self.stats
                    .malformed_files
                    .insert(id.key.to_string(), e.to_string());
                return Err(malformed(e.to_string()));
            }
        };
        self.stats.log_files += 1;
        self.stats.decompressed_bytes += buf.len() as u64;
        for (reason, n) in log.error_counts() {
            Stats::bump(&mut self.stats.bad_records, reason, n as u64);
        }

        let en = Enrichment {
            geo: &self.geo,
            ua: &self.ua,
        };
        let mut principals: BTreeMap<(String, String), PrincipalState> = BTreeMap::new();
        let mut accounts: BTreeMap<String, AccountState> = BTreeMap::new();
        let mut seen_here: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
        let mut event_ids: Vec<(String, i64)> = Vec::new();
        let mut findings: Vec<Finding> = Vec::new();
        let mut records = 0u64;
        for rec in &log.records {
            let Some(obs) = observation(rec, &en) else {
                Stats::bump(&mut self.stats.bad_records, "missing_event_time", 1);
                continue;
            };
            if !obs.event_id.is_empty() {
                if !seen_here.insert(obs.event_id.clone())
                    || self.store.seen_event(&obs.event_id)?
                {
                    self.stats.duplicate_records += 1;
                    continue;
                }
                event_ids.push((obs.event_id.clone(), obs.event_time));
            }
            records += 1;
            if obs.bedrock.is_some() {
                self.stats.bedrock_calls += 1;
                Stats::bump(&mut self.stats.bedrock_by_principal, &obs.principal, 1);
            }
            self.stats.newest_event_ms = Some(
                self.stats
                    .newest_event_ms
                    .map_or(obs.event_time, |n| n.max(obs.event_time)),
            );

            let pkey = (obs.account_id.clone(), obs.principal.clone());
            if !principals.contains_key(&pkey) {
                let state = match self
                    .store
                    .get_profile::<Stored>(&ProfileKey::principal(&pkey.0, &pkey.1)?)?
                {
                    Some(Stored::Principal(p)) => p,
                    _ => PrincipalState::default(),
                };
                principals.insert(pkey.clone(), state);
            }
            if !accounts.contains_key(&obs.account_id) {
                let state = match self
                    .store
                    .get_profile::<Stored>(&ProfileKey::account(&obs.account_id)?)?
                {
                    Some(Stored::Account(a)) => a,
                    _ => AccountState::default(),
                };
                accounts.insert(obs.account_id.clone(), state);
            }
            let (Some(pstate), Some(astate)) =
                (principals.get_mut(&pkey), accounts.get_mut(&obs.account_id))
            else {
                continue;
            };
            match self.mode {
                Mode::LearnOnly => self.detector.learn_only(&obs, pstate, astate),
                Mode::Detect => {
                    let verdict = self.detector.process(&obs, pstate, astate);
                    self.stats.suppressed_findings += u64::from(verdict.suppressed);
                    for f in verdict.findings {
                        Stats::bump(&mut self.stats.findings_by_type, &f.finding_type, 1);
                        Stats::bump(
                            &mut self.stats.findings_by_severity,
                            f.severity_label.as_str(),
                            1,
                        );
                        findings.push(f);
                    }
                }
            }
        }
        self.stats.records += records;

        let mut encoded = Vec::with_capacity(findings.len());
        for f in &findings {
            match sinks::encode::native::encode_stored(f) {
                Ok(bytes) => encoded.push(bytes),
                // Only a non-finite number can fail here: a detector bug, not input.
                Err(e) => {
                    tracing::error!(finding = %f.id, "cannot encode finding, not forwarded: {e}")
                }
            }
        }
        let processed_at = self.stats.newest_event_ms.unwrap_or(0);
        let mut batch = ObjectBatch::new(
            store::ObjectId::new(id.bucket, id.key, etag),
            processed_at,
            records,
        );
        for ((account, principal), state) in principals {
            batch.profile(
                ProfileKey::principal(&account, &principal)?,
                Stored::Principal(state),
            );
        }
        for (account, state) in accounts {
            batch.profile(ProfileKey::account(&account)?, Stored::Account(state));
        }
        for (event_id, at) in event_ids {
            batch.event(event_id, at);
        }
        for bytes in &encoded {
            batch.finding(&self.sinks, bytes);
        }
        let committed = self.store.commit(batch)?;
        if committed.already_processed {
            // Another worker committed it between our check and our commit.
            self.stats.already_processed += 1;
            return Ok(Outcome::AlreadyProcessed);
        }
        Ok(Outcome::Committed { records, findings })
    }
}
