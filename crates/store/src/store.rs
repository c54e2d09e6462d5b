//! The [`Store`]: opening, the atomic per-object commit, profiles, dedup, meta, flush.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};

use crate::batch::{CommitStats, ObjectBatch};
use crate::cache::{ProfileCache, Shared};
use crate::codec::{
    self, RECORD_V1, be_u64, decode_versioned, encode_versioned, order_i64, record_body,
    unorder_i64,
};
use crate::error::StoreError;
use crate::keys::{
    self, META_OUTBOX_SEQ, META_SCHEMA_VERSION, ObjectId, ProfileKey, check_part, user_meta_key,
};

/// Schema version of the store layout this build writes. A store with a newer one is
/// refused at open.
pub const SCHEMA_VERSION: u32 = 1;

pub(crate) const PROFILES: &str = "profiles";
pub(crate) const OBJECTS: &str = "objects";
pub(crate) const EVENTS: &str = "events";
pub(crate) const EVENTS_BY_TIME: &str = "events_by_time";
pub(crate) const OUTBOX: &str = "outbox";
pub(crate) const META: &str = "meta";

/// Least number of expired dedup entries a commit may prune; a commit also prunes up to
/// twice the events it records, so pruning always outpaces inserting.
const MIN_PRUNE_PER_COMMIT: usize = 1024;

/// Options of [`Store::open`]. Deserialisable from the `[store]` config table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreOptions {
    /// sled's background flush period; `0` turns it off (then only explicit flushes
    /// make commits durable).
    pub flush_every_ms: u64,
    /// sled's page cache size.
    pub page_cache_bytes: u64,
    /// Decoded profiles kept in memory; `0` turns the cache off.
    pub profile_cache_entries: usize,
    /// Event ids are remembered for dedup this long after the newest event time seen.
    pub event_ttl_secs: u64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            flush_every_ms: 500,
            page_cache_bytes: 256 * 1024 * 1024,
            profile_cache_entries: 50_000,
            event_ttl_secs: 24 * 60 * 60,
        }
    }
}

/// A processed object as recorded in the `objects` tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessedObject {
    pub processed_at_ms: i64,
    pub event_count: u64,
}

/// bedguard's persistent state in one sled database. Cheap to share behind an `Arc`;
/// every method takes `&self`.
pub struct Store {
    pub(crate) path: PathBuf,
    pub(crate) db: sled::Db,
    pub(crate) profiles: sled::Tree,
    pub(crate) objects: sled::Tree,
    pub(crate) events: sled::Tree,
    pub(crate) events_by_time: sled::Tree,
    pub(crate) outbox: sled::Tree,
    pub(crate) meta: sled::Tree,
    cache: ProfileCache,
    /// Serialises commits: the outbox sequence, dedup pruning and cache write-through
    /// rely on one commit at a time.
    commit_lock: Mutex<()>,
    event_ttl_ms: i64,
    /// Newest event time recorded, `i64::MIN` when none.
    newest_event_ms: AtomicI64,
    #[cfg(test)]
    pub(crate) fail_point: Mutex<Option<FailPoint>>,
}

/// Where a test makes the commit transaction abort.
#[cfg(test)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailPoint {
    /// After profiles, events and outbox are written, before the object is marked.
    BeforeObjectMark,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// A dedup entry past the TTL, found before the commit transaction.
struct Expired {
    index_key: Vec<u8>,
    id: Vec<u8>,
    time: i64,
}

enum Outcome {
    AlreadyProcessed,
    Done {
        events_pruned: usize,
        seqs: Option<(u64, u64)>,
    },
}

type TxResult<T> = Result<T, ConflictableTransactionError<StoreError>>;

impl Store {
    /// Opens (or creates) the store at `path`. Refuses a store written with a newer
    /// schema. A store left by a crash is recovered by sled: every commit that was
    /// flushed is there, each later one is there whole or not at all.
    ///
    /// sled holds an exclusive file lock; right after a `Store` is dropped, a reopen in
    /// the same process can fail with a lock error for a few milliseconds while sled's
    /// background threads let go of the database.
    pub fn open(path: impl AsRef<Path>, options: &StoreOptions) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let open_err = |source| StoreError::Open {
            path: path.clone(),
            source,
        };
        let flush_every = (options.flush_every_ms > 0).then_some(options.flush_every_ms);
        let db = sled::Config::new()
            .path(&path)
            .cache_capacity(options.page_cache_bytes)
            .flush_every_ms(flush_every)
            .open()
            .map_err(open_err)?;
        let tree = |name: &str| db.open_tree(name).map_err(open_err);
        let store = Self {
            profiles: tree(PROFILES)?,
            objects: tree(OBJECTS)?,
            events: tree(EVENTS)?,
            events_by_time: tree(EVENTS_BY_TIME)?,
            outbox: tree(OUTBOX)?,
            meta: tree(META)?,
            db,
            cache: ProfileCache::new(options.profile_cache_entries),
            commit_lock: Mutex::new(()),
            event_ttl_ms: i64::try_from(options.event_ttl_secs.saturating_mul(1000))
                .unwrap_or(i64::MAX),
            newest_event_ms: AtomicI64::new(i64::MIN),
            #[cfg(test)]
            fail_point: Mutex::new(None),
            path,
        };
        store.check_schema()?;
        let newest = store.newest_indexed_event()?;
        store.newest_event_ms.store(newest, Ordering::Relaxed);
        if store.db.was_recovered() {
            tracing::debug!(path = %store.path.display(), "store recovered from disk");
        }
        Ok(store)
    }

    fn check_schema(&self) -> Result<(), StoreError> {
        let found = self
            .meta
            .get(META_SCHEMA_VERSION)
            .map_err(|e| StoreError::sled(META, META_SCHEMA_VERSION, e))?;
        match found {
            None => {
                self.meta
                    .insert(META_SCHEMA_VERSION, &SCHEMA_VERSION.to_be_bytes())
                    .map_err(|e| StoreError::sled(META, META_SCHEMA_VERSION, e))?;
                Ok(())
            }
            Some(bytes) => {
                let found = codec::be_u32(&bytes, 0)
                    .filter(|_| bytes.len() == 4)
                    .ok_or_else(|| {
                        StoreError::malformed(
                            META,
                            META_SCHEMA_VERSION,
                            "schema version is not 4 bytes",
                        )
                    })?;
                if found > SCHEMA_VERSION {
                    return Err(StoreError::SchemaTooNew {
                        path: self.path.clone(),
                        found,
                        supported: SCHEMA_VERSION,
                    });
                }
                Ok(())
            }
        }
    }

    fn newest_indexed_event(&self) -> Result<i64, StoreError> {
        let last = self
            .events_by_time
            .last()
            .map_err(|e| StoreError::sled(EVENTS_BY_TIME, b"<last>", e))?;
        Ok(match last {
            Some((key, _)) => be_u64(&key, 0).map_or(i64::MIN, unorder_i64),
            None => i64::MIN,
        })
    }

    /// The directory the store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether sled recovered existing state at open (as opposed to creating it).
    pub fn was_recovered(&self) -> bool {
        self.db.was_recovered()
    }

    // ---- commit ---------------------------------------------------------------------

    /// Applies everything one object produced in one sled transaction over all trees:
    /// the profiles, the dedup entries (and pruning of expired ones), the outbox entries
    /// with fresh sequences, and the object's processed mark. A second commit of the same
    /// object writes nothing and returns `already_processed: true`.
    ///
    /// The commit is atomic but not yet durable: call [`Store::flush_async`] (or
    /// [`Store::flush`]) before acknowledging the input (deleting the SQS message).
    pub fn commit<P>(&self, batch: ObjectBatch<'_, P>) -> Result<CommitStats, StoreError>
    where
        P: Serialize + Send + Sync + 'static,
    {
        let object_key = batch.object.to_key()?;
        if self.is_processed_key(&object_key)? {
            return Ok(already_processed());
        }
        let profiles = batch
            .profiles
            .iter()
            .map(|(key, profile)| {
                Ok((
                    key.as_bytes(),
                    encode_versioned(PROFILES, key.as_bytes(), profile)?,
                ))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let events = batch
            .events
            .iter()
            .map(|(id, time)| {
                if id.is_empty() {
                    return Err(StoreError::InvalidKeyPart {
                        what: "event id",
                        value: String::new(),
                    });
                }
                Ok((id.as_bytes(), *time))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let outbox = batch
            .outbox
            .iter()
            .map(|(sink, bytes)| {
                check_part("sink", sink)?;
                Ok((sink.as_ref(), bytes.as_ref()))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let meta = batch
            .meta
            .iter()
            .map(|(name, value)| {
                check_part("meta key", name)?;
                Ok((user_meta_key(name), value.as_ref()))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let object_value = encode_object(ProcessedObject {
            processed_at_ms: batch.processed_at_ms,
            event_count: batch.event_count,
        });
        let batch_newest = events.iter().map(|(_, t)| *t).max().unwrap_or(i64::MIN);

        let _guard = self
            .commit_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let newest = self
            .newest_event_ms
            .load(Ordering::Relaxed)
            .max(batch_newest);
        let prune_limit = MIN_PRUNE_PER_COMMIT.max(events.len().saturating_mul(2));
        let expired = self.expired_events(newest, prune_limit)?;
        let now_ms = wall_clock_ms();
        #[cfg(test)]
        let fail_point = *self
            .fail_point
            .lock()
            .unwrap_or_else(PoisonError::into_inner);

        let result = (
            &self.profiles,
            &self.objects,
            &self.events,
            &self.events_by_time,
            &self.outbox,
            &self.meta,
        )
            .transaction(
                |(tx_profiles, tx_objects, tx_events, tx_index, tx_outbox, tx_meta)| {
                    if tx_objects.get(&object_key)?.is_some() {
                        return Ok(Outcome::AlreadyProcessed);
                    }
                    for (key, value) in &profiles {
                        tx_profiles.insert(*key, value.as_slice())?;
                    }
                    for (id, time) in &events {
                        record_event(tx_events, tx_index, id, *time)?;
                    }
                    let mut events_pruned = 0;
                    for old in &expired {
                        tx_index.remove(old.index_key.as_slice())?;
                        // Only drop the id if it was not seen again later (it then has a
                        // newer index entry and stays).
                        if let Some(current) = tx_events.get(&old.id)?
                            && event_time(&old.id, &current)
                                .map_err(ConflictableTransactionError::Abort)?
                                == old.time
                        {
                            tx_events.remove(old.id.as_slice())?;
                            events_pruned += 1;
                        }
                    }
                    let seqs = enqueue(tx_outbox, tx_meta, &outbox, now_ms)?;
                    for (key, value) in &meta {
                        tx_meta.insert(key.as_slice(), *value)?;
                    }
                    #[cfg(test)]
                    if fail_point == Some(FailPoint::BeforeObjectMark) {
                        return Err(ConflictableTransactionError::Abort(StoreError::Injected {
                            key: crate::codec::display_key(&object_key),
                        }));
                    }
                    tx_objects.insert(object_key.as_slice(), object_value.as_slice())?;
                    Ok(Outcome::Done {
                        events_pruned,
                        seqs,
                    })
                },
            );
        let outcome = match result {
            Ok(outcome) => outcome,
            Err(TransactionError::Abort(err)) => return Err(err),
            Err(TransactionError::Storage(source)) => {
                return Err(StoreError::sled(OBJECTS, &object_key, source));
            }
        };
        let (events_pruned, seqs) = match outcome {
            Outcome::AlreadyProcessed => return Ok(already_processed()),
            Outcome::Done {
                events_pruned,
                seqs,
            } => (events_pruned, seqs),
        };
        self.newest_event_ms.store(newest, Ordering::Relaxed);
        let profiles_written = batch.profiles.len();
        self.cache
            .write_through(batch.profiles.into_iter().map(|(key, profile)| {
                let shared: Shared = Arc::new(profile);
                (key.as_bytes().to_vec(), shared)
            }));
        Ok(CommitStats {
            already_processed: false,
            profiles_written,
            events_recorded: events.len(),
            events_pruned,
            outbox_enqueued: outbox.len(),
            outbox_seqs: seqs,
        })
    }

    /// Index entries (and ids) with an event time older than `newest - ttl`.
    fn expired_events(&self, newest: i64, limit: usize) -> Result<Vec<Expired>, StoreError> {
        if newest == i64::MIN {
            return Ok(Vec::new());
        }
        let horizon = newest.saturating_sub(self.event_ttl_ms);
        let end = order_i64(horizon).to_be_bytes();
        let mut expired = Vec::new();
        for entry in self.events_by_time.range(..end.as_slice()).take(limit) {
            let (key, _) = entry.map_err(|e| StoreError::sled(EVENTS_BY_TIME, &end, e))?;
            let time = be_u64(&key, 0).map(unorder_i64).ok_or_else(|| {
                StoreError::malformed(EVENTS_BY_TIME, &key, "key shorter than 8 bytes")
            })?;
            let id = key.get(8..).unwrap_or_default().to_vec();
            expired.push(Expired {
                index_key: key.to_vec(),
                id,
                time,
            });
        }
        Ok(expired)
    }

    // ---- objects --------------------------------------------------------------------

    /// Whether the object was committed already.
    pub fn is_processed(&self, bucket: &str, key: &str, etag: &str) -> Result<bool, StoreError> {
        self.is_processed_key(&ObjectId::new(bucket, key, etag).to_key()?)
    }

    fn is_processed_key(&self, key: &[u8]) -> Result<bool, StoreError> {
        self.objects
            .contains_key(key)
            .map_err(|e| StoreError::sled(OBJECTS, key, e))
    }

    /// The processed mark of an object, if it was committed.
    pub fn processed_object(
        &self,
        object: ObjectId<'_>,
    ) -> Result<Option<ProcessedObject>, StoreError> {
        let key = object.to_key()?;
        let Some(value) = self
            .objects
            .get(&key)
            .map_err(|e| StoreError::sled(OBJECTS, &key, e))?
        else {
            return Ok(None);
        };
        let body = record_body(OBJECTS, &key, &value, 17)?;
        match (be_u64(body, 0), be_u64(body, 8)) {
            (Some(at), Some(count)) => Ok(Some(ProcessedObject {
                processed_at_ms: unorder_i64(at),
                event_count: count,
            })),
            _ => Err(StoreError::malformed(OBJECTS, &key, "truncated record")),
        }
    }

    /// Number of objects committed.
    pub fn object_count(&self) -> usize {
        self.objects.len()
    }

    // ---- dedup ----------------------------------------------------------------------

    /// Whether an event id was recorded by a commit and not yet pruned.
    pub fn seen_event(&self, id: &str) -> Result<bool, StoreError> {
        self.events
            .contains_key(id.as_bytes())
            .map_err(|e| StoreError::sled(EVENTS, id.as_bytes(), e))
    }

    /// Number of event ids currently remembered.
    pub fn event_count(&self) -> usize {
        self.events.len()
    }

    // ---- profiles -------------------------------------------------------------------

    /// The profile under `key`, from the cache or decoded from sled.
    pub fn get_profile<P>(&self, key: &ProfileKey) -> Result<Option<P>, StoreError>
    where
        P: DeserializeOwned + Clone + Send + Sync + 'static,
    {
        Ok(self.get_profile_shared::<P>(key)?.map(Arc::unwrap_or_clone))
    }

    /// Like [`Store::get_profile`] without cloning a cached profile: for read-only use.
    pub fn get_profile_shared<P>(&self, key: &ProfileKey) -> Result<Option<Arc<P>>, StoreError>
    where
        P: DeserializeOwned + Send + Sync + 'static,
    {
        let key = key.as_bytes();
        // A cached value of another type (a caller bug) falls through to a decode.
        if let Some(Ok(hit)) = self.cache.get(key).map(|v| v.downcast::<P>()) {
            return Ok(Some(hit));
        }
        let generation = self.cache.generation();
        let Some(bytes) = self
            .profiles
            .get(key)
            .map_err(|e| StoreError::sled(PROFILES, key, e))?
        else {
            return Ok(None);
        };
        let profile: Arc<P> = Arc::new(decode_versioned(PROFILES, key, &bytes)?);
        let shared: Shared = profile.clone();
        self.cache.fill(key, shared, generation);
        Ok(Some(profile))
    }

    /// Profiles whose key starts with `prefix` (`b""` for all, `b"a\0"` for accounts,
    /// [`ProfileKey::principals_prefix`] for one account's principals), in key order.
    pub fn profiles_iter<P>(
        &self,
        prefix: &[u8],
    ) -> impl Iterator<Item = Result<(ProfileKey, P), StoreError>> + '_
    where
        P: DeserializeOwned,
    {
        let prefix_owned = prefix.to_vec();
        self.profiles.scan_prefix(prefix).map(move |entry| {
            let (key, value) = entry.map_err(|e| StoreError::sled(PROFILES, &prefix_owned, e))?;
            let profile = decode_versioned(PROFILES, &key, &value)?;
            Ok((ProfileKey::from_bytes(key.to_vec()), profile))
        })
    }

    /// Number of stored profiles (walks the tree).
    pub fn profile_count(&self) -> usize {
        self.profiles.len()
    }

    /// Profiles currently held decoded in memory.
    pub fn cached_profiles(&self) -> usize {
        self.cache.len()
    }

    // ---- meta -----------------------------------------------------------------------

    /// A caller's meta value (backfill cursors and the like).
    pub fn get_meta(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        check_part("meta key", name)?;
        let key = user_meta_key(name);
        let value = self
            .meta
            .get(&key)
            .map_err(|e| StoreError::sled(META, &key, e))?;
        Ok(value.map(|v| v.to_vec()))
    }

    /// Sets a caller's meta value. Not part of any commit; durable at the next flush.
    pub fn put_meta(&self, name: &str, value: &[u8]) -> Result<(), StoreError> {
        check_part("meta key", name)?;
        let key = user_meta_key(name);
        self.meta
            .insert(&key, value)
            .map_err(|e| StoreError::sled(META, &key, e))?;
        Ok(())
    }

    /// Schema version recorded in the store.
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        let bytes = self
            .meta
            .get(META_SCHEMA_VERSION)
            .map_err(|e| StoreError::sled(META, META_SCHEMA_VERSION, e))?
            .ok_or_else(|| StoreError::malformed(META, META_SCHEMA_VERSION, "missing"))?;
        codec::be_u32(&bytes, 0).ok_or_else(|| {
            StoreError::malformed(META, META_SCHEMA_VERSION, "schema version is not 4 bytes")
        })
    }

    // ---- durability -----------------------------------------------------------------

    /// Writes every earlier commit to disk and fsyncs, blocking. Returns bytes flushed.
    pub fn flush(&self) -> Result<usize, StoreError> {
        self.db
            .flush()
            .map_err(|source| StoreError::Flush { source })
    }

    /// Like [`Store::flush`] on sled's thread pool: await it before deleting the SQS
    /// message of a committed object.
    pub async fn flush_async(&self) -> Result<usize, StoreError> {
        self.db
            .flush_async()
            .await
            .map_err(|source| StoreError::Flush { source })
    }

    /// Bytes sled uses on disk.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        self.db.size_on_disk().map_err(|source| {
            StoreError::sled("<db>", self.path.to_string_lossy().as_bytes(), source)
        })
    }
}

fn already_processed() -> CommitStats {
    CommitStats {
        already_processed: true,
        ..CommitStats::default()
    }
}

pub(crate) fn wall_clock_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn encode_object(object: ProcessedObject) -> Vec<u8> {
    let mut value = Vec::with_capacity(17);
    value.push(RECORD_V1);
    value.extend_from_slice(&order_i64(object.processed_at_ms).to_be_bytes());
    value.extend_from_slice(&object.event_count.to_be_bytes());
    value
}

fn event_time(id: &[u8], value: &[u8]) -> Result<i64, StoreError> {
    let body = record_body(EVENTS, id, value, 9)?;
    be_u64(body, 0)
        .map(unorder_i64)
        .ok_or_else(|| StoreError::malformed(EVENTS, id, "truncated record"))
}

fn index_key(time: i64, id: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(8 + id.len());
    key.extend_from_slice(&order_i64(time).to_be_bytes());
    key.extend_from_slice(id);
    key
}

fn record_event(
    events: &TransactionalTree,
    index: &TransactionalTree,
    id: &[u8],
    time: i64,
) -> TxResult<()> {
    let mut value = Vec::with_capacity(9);
    value.push(RECORD_V1);
    value.extend_from_slice(&order_i64(time).to_be_bytes());
    if let Some(old) = events.insert(id, value)? {
        let old_time = event_time(id, &old).map_err(ConflictableTransactionError::Abort)?;
        if old_time != time {
            index.remove(index_key(old_time, id))?;
        }
    }
    index.insert(index_key(time, id), &[])?;
    Ok(())
}

fn enqueue(
    outbox: &TransactionalTree,
    meta: &TransactionalTree,
    items: &[(&str, &[u8])],
    now_ms: i64,
) -> TxResult<Option<(u64, u64)>> {
    if items.is_empty() {
        return Ok(None);
    }
    let last = match meta.get(META_OUTBOX_SEQ)? {
        None => 0,
        Some(bytes) => be_u64(&bytes, 0).ok_or_else(|| {
            ConflictableTransactionError::Abort(StoreError::malformed(
                META,
                META_OUTBOX_SEQ,
                "outbox sequence is not 8 bytes",
            ))
        })?,
    };
    let mut seq = last;
    for (sink, bytes) in items {
        seq += 1;
        outbox.insert(
            keys::outbox_key(sink, seq),
            crate::outbox::encode_entry(0, now_ms, bytes),
        )?;
    }
    meta.insert(META_OUTBOX_SEQ, &seq.to_be_bytes())?;
    Ok(Some((last + 1, seq)))
}
