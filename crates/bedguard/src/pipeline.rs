//! One object in, effects out: the code path shared by `replay`, `run`, `backfill`
//! and `audit`. Once an object's bytes are in hand nothing here knows where they
//! came from.
//!
//! Per object: skip it when the store has it already; then a [`Preparer`] classifies
//! its key (digests, Insights files and other keys are skipped, not errors),
//! decompresses and decodes it and builds every record's enriched observation, with
//! what the detector derives from it alone (work that needs no state, which `replay`
//! does on reading threads, one per core); then, in order, every
//! observation is de-duplicated by event id, scored and learnt; then commit the
//! object's effects (profiles, event ids, findings for the outbox, the object marked
//! processed) in one store transaction. Only after that commit may the caller delete
//! the SQS message.
//!
//! Replays and warm-ups let consecutive objects share one commit (an open batch of up
//! to `state.replay_batch_events` events): the detector then updates each principal's
//! state in memory across objects, and the store writes it once per batch instead of
//! once per object. A batch is still all or nothing, so a crash loses whole objects,
//! which a rerun processes again.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use cloudtrail::log::{KeyKind, classify_key, decompress_into, parse_log};
use detect::fasthash::FastHash;
use detect::{AccountState, Call, Detector, Finding, PrincipalState, SmolStr};
use foldhash::fast::RandomState as Seeded;
use store::{EventHash, ObjectBatch, ProfileKey};

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
    /// Its effects are committed, or staged in the open batch when batching is on
    /// ([`Pipeline::with_batch_events`]): then the next [`Pipeline::commit`] or
    /// [`Pipeline::flush`] commits them.
    Processed {
        /// Records processed.
        records: u64,
        /// Findings emitted (new or updated), in the outbox with the object's effects.
        findings: Vec<Finding>,
    },
    /// Processed before; nothing changed.
    AlreadyProcessed,
    /// Not a CloudTrail log (digest, insights, other key); nothing changed.
    Skipped(&'static str),
}

/// An object after the steps that need no state: its key classified and, for a log,
/// its bytes decompressed, parsed and turned into enriched observations. Built by a
/// [`Preparer`] (on any thread), consumed in order by [`Pipeline::process_prepared`].
#[derive(Debug)]
pub struct Prepared {
    /// Size of the object as fetched.
    raw_len: u64,
    body: Body,
}

#[derive(Debug)]
enum Body {
    /// Not a log for this key policy (digest, insights, other).
    Skip(&'static str),
    /// The log, decoded.
    Decoded(Decoded),
    /// It does not decompress or parse: why.
    Malformed(String),
    /// Found processed already; not decoded.
    Known,
}

/// A decoded log: the events of its records in order, and what was wrong with the
/// records that are not among them.
#[derive(Debug)]
struct Decoded {
    decompressed_len: u64,
    events: Vec<Event>,
    bad_records: Vec<(&'static str, u64)>,
}

/// One record, prepared: the detector's [`Call`] and the hash its event id is
/// de-duplicated by (`None` when it has no usable id).
#[derive(Debug)]
pub struct Event {
    call: Call,
    id_hash: Option<EventHash>,
}

impl Event {
    fn new(call: Call) -> Self {
        let id_hash = EventHash::of(&call.observation().event_id);
        Self { call, id_hash }
    }
}

impl Prepared {
    /// Size of the object as fetched.
    pub fn raw_len(&self) -> u64 {
        self.raw_len
    }

    /// An object of `len` bytes the store has processed already: nothing to prepare.
    pub fn known(len: usize) -> Self {
        Self {
            raw_len: len as u64,
            body: Body::Known,
        }
    }
}

/// What preparing an object needs, shareable with a thread that prepares objects
/// ahead of the pipeline ([`Pipeline::preparer`]).
#[derive(Clone)]
pub struct Preparer {
    keys: KeyPolicy,
    max_object_bytes: usize,
    geo: Arc<enrich::Enricher>,
    ua: Arc<enrich::UaRules>,
    store: Arc<store::Store>,
}

impl Preparer {
    /// Classifies `key`; for a log, decompresses `bytes` (gzip or plain, up to the
    /// object size limit), parses them and builds each record's enriched observation.
    pub fn prepare(&self, key: &str, bytes: &[u8]) -> Prepared {
        let skipped = match classify_key(key) {
            KeyKind::Log(_) => None,
            KeyKind::Digest => Some("digest"),
            KeyKind::Insights => Some("insights"),
            KeyKind::Other if self.keys == KeyPolicy::JsonFiles && looks_like_json(key) => None,
            KeyKind::Other => Some("other"),
        };
        let body = match skipped {
            Some(kind) => Body::Skip(kind),
            None => match self.decode(bytes) {
                Ok(decoded) => Body::Decoded(decoded),
                Err(reason) => Body::Malformed(reason),
            },
        };
        Prepared {
            raw_len: bytes.len() as u64,
            body,
        }
    }

    /// [`Preparer::prepare`], or [`Prepared::known`] when the store has processed the
    /// object already (checked again, in order, by [`Pipeline::process_prepared`]).
    pub fn prepare_unless_known(
        &self,
        id: ObjectId<'_>,
        bytes: &[u8],
    ) -> Result<Prepared, PipelineError> {
        if self
            .store
            .is_processed(id.bucket, id.key, etag_or_none(id.etag))?
        {
            return Ok(Prepared::known(bytes.len()));
        }
        Ok(self.prepare(id.key, bytes))
    }

    fn decode(&self, bytes: &[u8]) -> Result<Decoded, String> {
        SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
            Ok(mut scratch) => {
                let decoded = self.decode_with(bytes, &mut scratch);
                // A rare huge file's buffer is not kept for the small ones after it.
                if scratch.capacity() > MAX_KEPT_SCRATCH_BYTES {
                    *scratch = Vec::new();
                }
                decoded
            }
            Err(_) => self.decode_with(bytes, &mut Vec::new()),
        })
    }

    fn decode_with(&self, bytes: &[u8], scratch: &mut Vec<u8>) -> Result<Decoded, String> {
        let buf =
            decompress_into(bytes, self.max_object_bytes, scratch).map_err(|e| e.to_string())?;
        let log = parse_log(buf).map_err(|e| e.to_string())?;
        let en = Enrichment {
            geo: &self.geo,
            ua: &self.ua,
        };
        let mut bad_records: Vec<(&'static str, u64)> = log
            .error_counts()
            .into_iter()
            .map(|(reason, n)| (reason, n as u64))
            .collect();
        let mut events = Vec::with_capacity(log.records.len());
        let mut missing_time = 0;
        for rec in &log.records {
            match observation(rec, &en) {
                Some(obs) => events.push(Event::new(Call::new(obs))),
                None => missing_time += 1,
            }
        }
        if missing_time > 0 {
            bad_records.push(("missing_event_time", missing_time));
        }
        Ok(Decoded {
            decompressed_len: buf.len() as u64,
            events,
            bad_records,
        })
    }
}

thread_local! {
    /// Each thread's buffer for decompressed logs, reused from one file to the next.
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Largest decompression buffer a thread keeps between files.
const MAX_KEPT_SCRATCH_BYTES: usize = 8 << 20;

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
    geo: Arc<enrich::Enricher>,
    ua: Arc<enrich::UaRules>,
    store: Arc<store::Store>,
    mode: Mode,
    keys: KeyPolicy,
    sinks: Vec<String>,
    max_object_bytes: usize,
    /// Commit once the open batch holds this many events (1: every object).
    batch_events: u64,
    pending: Pending,
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
            geo: Arc::new(geo),
            ua: Arc::new(ua),
            store,
            mode,
            keys,
            sinks,
            max_object_bytes,
            batch_events: 1,
            pending: Pending::default(),
            stats: Stats::default(),
        }
    }

    /// What preparing objects needs, for a thread that prepares them ahead.
    pub fn preparer(&self) -> Preparer {
        Preparer {
            keys: self.keys,
            max_object_bytes: self.max_object_bytes,
            geo: Arc::clone(&self.geo),
            ua: Arc::clone(&self.ua),
            store: Arc::clone(&self.store),
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

    /// Lets consecutive objects share one commit, up to `events` events (`1`: each
    /// object is committed before [`Pipeline::process`] returns, as the daemon needs).
    pub fn with_batch_events(mut self, events: u64) -> Self {
        self.batch_events = events.max(1);
        self
    }

    /// Commits the open batch and makes every commit so far durable.
    pub fn flush(&mut self) -> Result<(), PipelineError> {
        self.commit()?;
        self.store.flush()?;
        Ok(())
    }

    /// Replaces the detector (config reload).
    pub fn set_detector(&mut self, detector: Detector) {
        self.detector = detector;
    }

    /// Processes one object whose bytes are in hand.
    pub fn process(&mut self, id: ObjectId<'_>, bytes: &[u8]) -> Result<Outcome, PipelineError> {
        let prepared = if self.pending.holds(id.bucket, id.key, etag_or_none(id.etag)) {
            Prepared::known(bytes.len())
        } else {
            self.preparer().prepare_unless_known(id, bytes)?
        };
        self.process_prepared(id, prepared)
    }

    /// What [`Pipeline::process`] does with an object once a [`Preparer`] has
    /// classified, decoded and enriched it (which `replay` does on its reading threads).
    pub fn process_prepared(
        &mut self,
        id: ObjectId<'_>,
        prepared: Prepared,
    ) -> Result<Outcome, PipelineError> {
        self.process_prepared_then(id, prepared, drop)
    }

    /// [`Pipeline::process_prepared`], handing the object's events to `spent`
    /// once they are staged instead of dropping them here. `replay` sends them back
    /// to the thread that built them: memory is cheapest to free where it was
    /// allocated, and that thread has time to spare.
    pub fn process_prepared_then(
        &mut self,
        id: ObjectId<'_>,
        prepared: Prepared,
        spent: impl FnOnce(Vec<Event>),
    ) -> Result<Outcome, PipelineError> {
        self.stats.files += 1;
        self.stats.bytes += prepared.raw_len;
        let etag = etag_or_none(id.etag);
        if self.pending.holds(id.bucket, id.key, etag)
            || self.store.is_processed(id.bucket, id.key, etag)?
        {
            self.stats.already_processed += 1;
            return Ok(Outcome::AlreadyProcessed);
        }
        let malformed = |reason: String| PipelineError::Malformed {
            bucket: id.bucket.to_string(),
            key: id.key.to_string(),
            reason,
        };
        let decoded = match prepared.body {
            Body::Skip(kind) => {
                Stats::bump(&mut self.stats.skipped_files, kind, 1);
                return Ok(Outcome::Skipped(kind));
            }
            Body::Decoded(decoded) => decoded,
            Body::Malformed(reason) => {
                self.stats
                    .malformed_files
                    .insert(id.key.to_string(), reason.clone());
                return Err(malformed(reason));
            }
            Body::Known => {
                // Processed when prepared, not now: a store rewound under us. Prepare
                // it again rather than guess.
                let reason = "object was marked processed, then was not".to_string();
                return Err(malformed(reason));
            }
        };
        self.stats.log_files += 1;
        self.stats.decompressed_bytes += decoded.decompressed_len;
        for (reason, n) in decoded.bad_records {
            Stats::bump(&mut self.stats.bad_records, reason, n);
        }

        let staged = self.stage(id, etag, &decoded.events);
        spent(decoded.events);
        match staged {
            Ok((records, findings)) => {
                if self.pending.events >= self.batch_events {
                    self.commit()?;
                }
                Ok(Outcome::Processed { records, findings })
            }
            Err(e) => {
                // Nothing of the open batch is committed: its objects stay unmarked and
                // are processed again by a rerun or a redelivery.
                self.pending = Pending::default();
                Err(e)
            }
        }
    }

    /// Scores and learns one object's records into the open batch.
    fn stage(
        &mut self,
        id: ObjectId<'_>,
        etag: &str,
        events: &[Event],
    ) -> Result<(u64, Vec<Finding>), PipelineError> {
        let pending = &mut self.pending;
        // The principals of an object's records are rarely in cache (a batch holds
        // thousands): their counters are loaded up front, with the misses overlapped.
        let touched = events
            .iter()
            .filter_map(|e| {
                let obs = e.call.observation();
                pending.principals.get(&obs.account_id)?.get(&obs.principal)
            })
            .fold(0, |m, state| m ^ state.profile.touch());
        std::hint::black_box(touched);
        let mut findings: Vec<Finding> = Vec::new();
        let mut records = 0u64;
        for event in events {
            let obs = event.call.observation();
            if let Some(hash) = event.id_hash {
                // One probe of the batch's (large, seldom cached) id map, not two.
                let fresh = match pending.event_ids.entry(hash) {
                    Entry::Occupied(_) => false,
                    Entry::Vacant(slot) => {
                        let seen = self.store.seen_event_hash(hash, obs.event_time)?;
                        if !seen {
                            slot.insert(obs.event_time);
                        }
                        !seen
                    }
                };
                if !fresh {
                    self.stats.duplicate_records += 1;
                    continue;
                }
            }
            records += 1;
            if obs.bedrock.is_some() {
                self.stats.bedrock_calls += 1;
                self.stats.bump_bedrock(&obs.principal);
            }
            self.stats.newest_event_ms = Some(
                self.stats
                    .newest_event_ms
                    .map_or(obs.event_time, |n| n.max(obs.event_time)),
            );

            // Looked up by the observation's own strings: nothing is allocated for a
            // principal the batch holds already.
            let held = pending
                .principals
                .get(&obs.account_id)
                .is_some_and(|p| p.contains_key(&obs.principal));
            if !held {
                let key = ProfileKey::principal(&obs.account_id, &obs.principal)?;
                let state = match self.store.take_profile::<Stored>(&key)? {
                    Some(Stored::Principal(p)) => p,
                    _ => PrincipalState::default(),
                };
                pending
                    .principals
                    .entry(obs.account_id.clone())
                    .or_default()
                    .insert(obs.principal.clone(), state);
            }
            if !pending.accounts.contains_key(&obs.account_id) {
                let state = match self
                    .store
                    .take_profile::<Stored>(&ProfileKey::account(&obs.account_id)?)?
                {
                    Some(Stored::Account(a)) => a,
                    _ => AccountState::default(),
                };
                pending.accounts.insert(obs.account_id.clone(), state);
            }
            let (Some(pstate), Some(astate)) = (
                pending
                    .principals
                    .get_mut(&obs.account_id)
                    .and_then(|p| p.get_mut(&obs.principal)),
                pending.accounts.get_mut(&obs.account_id),
            ) else {
                continue;
            };
            match self.mode {
                Mode::LearnOnly => self.detector.learn_only(&event.call, pstate, astate),
                Mode::Detect => {
                    let verdict = self.detector.process(&event.call, pstate, astate);
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

        for f in &findings {
            match sinks::encode::native::encode_stored(f) {
                Ok(bytes) => pending.findings.push(bytes),
                // Only a non-finite number can fail here: a detector bug, not input.
                Err(e) => {
                    tracing::error!(finding = %f.id, "cannot encode finding, not forwarded: {e}")
                }
            }
        }
        if let Some(mark) = Pending::mark(id.bucket, id.key, etag) {
            pending.object_ids.insert(mark);
        }
        pending.objects.push(PendingObject {
            bucket: id.bucket.to_string(),
            key: id.key.to_string(),
            etag: etag.to_string(),
            processed_at_ms: self.stats.newest_event_ms.unwrap_or(0),
            records,
        });
        pending.events += records;
        Ok((records, findings))
    }

    /// Commits the open batch (a no-op when it is empty): every staged object's
    /// profiles, event ids, findings for the outbox and processed mark, in one store
    /// transaction.
    pub fn commit(&mut self) -> Result<(), PipelineError> {
        // The batch's id maps are emptied, not dropped: the next batch grows them to
        // the same size, and a map of half a million ids rehashes ~19 times as it
        // grows. Its states are moved out (to the store's cache), their maps with them.
        let pending = &mut self.pending;
        let Some((first, rest)) = pending.objects.split_first() else {
            return Ok(());
        };
        let mut batch = ObjectBatch::new(first.id(), first.processed_at_ms, first.records);
        for o in rest {
            batch.also(o.id(), o.processed_at_ms, o.records);
        }
        // Exactly: a state is large, and a doubling Vec of ten thousand of them is
        // copied whole at each growth, at the moment memory peaks.
        let principals: usize = pending.principals.values().map(HashMap::len).sum();
        batch
            .profiles
            .reserve_exact(principals + pending.accounts.len());
        for (account, states) in std::mem::take(&mut pending.principals) {
            for (principal, state) in states {
                batch.profile(
                    ProfileKey::principal(&account, &principal)?,
                    Stored::Principal(state),
                );
            }
        }
        for (account, state) in std::mem::take(&mut pending.accounts) {
            batch.profile(ProfileKey::account(&account)?, Stored::Account(state));
        }
        for (hash, at) in &pending.event_ids {
            batch.event_hash(*hash, *at);
        }
        for bytes in &pending.findings {
            batch.finding(&self.sinks, bytes);
        }
        let committed = self.store.commit(batch);
        pending.clear();
        if committed?.already_processed {
            // Another writer committed this (single) object between our check and our
            // commit: its effects are theirs.
            self.stats.already_processed += 1;
        }
        Ok(())
    }
}

/// An object staged in the open batch.
#[derive(Debug)]
struct PendingObject {
    bucket: String,
    key: String,
    etag: String,
    processed_at_ms: i64,
    records: u64,
}

impl PendingObject {
    fn id(&self) -> store::ObjectId<'_> {
        store::ObjectId::new(&self.bucket, &self.key, &self.etag)
    }
}

/// The open batch: effects of objects processed but not yet committed. Its principal
/// and account states are the working copies the detector updates in place.
#[derive(Debug, Default)]
struct Pending {
    objects: Vec<PendingObject>,
    /// The store's processed mark of every staged object (SHA-256 bits: any cheap
    /// hasher spreads them).
    object_ids: HashSet<[u8; 16], FastHash>,
    /// Principal states by account, then principal. Names come from logs, so their
    /// maps hash with a per-process seed.
    principals: HashMap<SmolStr, HashMap<SmolStr, PrincipalState, Seeded>, Seeded>,
    accounts: HashMap<SmolStr, AccountState, Seeded>,
    /// Event ids (hashed as the store remembers them) and their event times.
    event_ids: HashMap<EventHash, i64, FastHash>,
    findings: Vec<Vec<u8>>,
    events: u64,
}

impl Pending {
    /// `None` for an id the store refuses (its commit reports why).
    fn mark(bucket: &str, key: &str, etag: &str) -> Option<[u8; 16]> {
        store::ObjectId::new(bucket, key, etag).mark().ok()
    }

    fn holds(&self, bucket: &str, key: &str, etag: &str) -> bool {
        Self::mark(bucket, key, etag).is_some_and(|m| self.object_ids.contains(&m))
    }

    /// Empties the batch, keeping the capacity of its id maps.
    fn clear(&mut self) {
        let Self {
            objects,
            object_ids,
            principals,
            accounts,
            event_ids,
            findings,
            events,
        } = self;
        objects.clear();
        object_ids.clear();
        principals.clear();
        accounts.clear();
        event_ids.clear();
        findings.clear();
        *events = 0;
    }
}
