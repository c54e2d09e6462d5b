//! The [`Store`]: opening, the atomic per-object commit, profiles, dedup, meta, flush.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::batch::{CommitStats, ObjectBatch};
use crate::cache::{ProfileCache, Shared};
use crate::codec::{
    self, RECORD_V1, be_u64, decode_versioned, encode_versioned_all, order_i64, record_body,
    unorder_i64,
};
use crate::dedup::{self, BucketCache, EventHash};
use crate::error::StoreError;
use crate::keys::{
    self, META_NEWEST_EVENT, META_OUTBOX_SEQ, META_SCHEMA_VERSION, ObjectId, ProfileKey,
    check_part, user_meta_key,
};
use crate::space::Space;
use crate::writes::{self, Write, WriteSet};

/// Schema version of the store layout this build writes. A store with a newer one is
/// refused at open. One of version 1 is migrated at open by dropping its event trees
/// (one entry per event id, in `events` and `events_by_time`) and its profiles, whose
/// layout this build cannot read: dedup memory and baselines start afresh (warm up
/// again with `backfill --learn-only`); processed marks and the outbox are kept.
///
/// Version 3 keeps every logical tree in the one sled tree `state`, under a one-byte
/// key prefix ([`crate::space`]); a store of version 2 (one sled tree per logical
/// tree) is migrated at open by copying every entry over and dropping the old trees.
pub const SCHEMA_VERSION: u32 = 3;

pub(crate) const PROFILES: &str = "profiles";
pub(crate) const OBJECTS: &str = "objects";
pub(crate) const DEDUP: &str = "dedup";
/// Trees of schema version 1, dropped by the migration.
const V1_EVENT_TREES: [&str; 2] = ["events", "events_by_time"];
pub(crate) const OUTBOX: &str = "outbox";
pub(crate) const META: &str = "meta";
/// The one sled tree of schema version 3.
const STATE: &str = "state";

/// Key prefixes of the logical trees in the `state` tree.
const PROFILES_PREFIX: u8 = b'p';
const OBJECTS_PREFIX: u8 = b'o';
const DEDUP_PREFIX: u8 = b'd';
const OUTBOX_PREFIX: u8 = b'q';
const META_PREFIX: u8 = b'm';

/// Entries one migration batch copies.
const MIGRATION_CHUNK: usize = 10_000;

/// Most expired dedup buckets (minutes) one commit prunes; the rest go with the next.
const MAX_PRUNE_PER_COMMIT: usize = 10_080;

/// Options of [`Store::open`]. Deserialisable from the `[store]` config table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreOptions {
    /// sled's background flush period; `0` turns it off (then only explicit flushes
    /// make commits durable). Default 100 ms: sled reuses log space only once the log
    /// is durable past it, so a longer period grows the file (a 1M-event replay left
    /// 22-30 MB of sled at 100 ms, 32-41 MB at 500 ms, and ~42 MB with none).
    pub flush_every_ms: u64,
    /// sled's page cache size.
    pub page_cache_bytes: u64,
    /// Decoded profiles kept in memory; `0` turns the cache off.
    pub profile_cache_entries: usize,
    /// Event ids are remembered for dedup this long after the newest event time seen.
    pub event_ttl_secs: u64,
    /// A commit of more writes than this is journaled and applied in chunks of this
    /// many writes ([`crate::writes`]): sled keeps every node a batch copies until the
    /// batch ends, so this bounds that memory. At least 1.
    pub commit_chunk_writes: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            flush_every_ms: 100,
            page_cache_bytes: 256 * 1024 * 1024,
            profile_cache_entries: 50_000,
            event_ttl_secs: 24 * 60 * 60,
            commit_chunk_writes: 512,
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
    /// The one sled tree every logical tree below is a key prefix of.
    pub(crate) state: sled::Tree,
    pub(crate) profiles: Space,
    pub(crate) objects: Space,
    pub(crate) dedup: Space,
    /// Decoded dedup buckets. Filled under the lock while reading the tree, replaced
    /// after a commit succeeded, so it never holds less than the tree.
    buckets: Mutex<BucketCache>,
    pub(crate) outbox: Space,
    pub(crate) meta: Space,
    cache: ProfileCache,
    /// Serialises commits: the outbox sequence, dedup pruning and cache write-through
    /// rely on one commit at a time.
    commit_lock: Mutex<()>,
    event_ttl_ms: i64,
    commit_chunk_writes: usize,
    /// Set when a chunked commit failed half-applied and applying its journal again
    /// failed too: every later commit is refused, the next open finishes it.
    broken: AtomicBool,
    /// Newest event time recorded, `i64::MIN` when none.
    newest_event_ms: AtomicI64,
    #[cfg(test)]
    pub(crate) fail_point: Mutex<Option<FailPoint>>,
}

/// Where a test makes a commit fail before its batch is applied.
#[cfg(test)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailPoint {
    /// After profiles, events and outbox are written, before the object is marked.
    BeforeObjectMark,
    /// A chunked commit fails after this many chunks were applied, once (finishing
    /// its journal then succeeds).
    AfterChunks(usize),
    /// Like `AfterChunks`, and finishing the journal in the same process fails too.
    AfterChunksForGood(usize),
    /// After this many chunks: flush everything written so far and abort the process.
    AbortAfterChunks(usize),
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// A dedup bucket past the TTL, found before the commit batch is built.
struct Expired {
    key: [u8; 8],
    entries: usize,
}

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
        remove_unfinished_snapshots(&path);
        let flush_every = (options.flush_every_ms > 0).then_some(options.flush_every_ms);
        let db = sled::Config::new()
            .path(&path)
            .cache_capacity(options.page_cache_bytes)
            .flush_every_ms(flush_every)
            .open()
            .map_err(open_err)?;
        let state = db.open_tree(STATE).map_err(open_err)?;
        let space = |prefix| Space::new(state.clone(), prefix);
        let store = Self {
            profiles: space(PROFILES_PREFIX),
            objects: space(OBJECTS_PREFIX),
            dedup: space(DEDUP_PREFIX),
            buckets: Mutex::new(BucketCache::default()),
            outbox: space(OUTBOX_PREFIX),
            meta: space(META_PREFIX),
            state,
            db,
            cache: ProfileCache::new(options.profile_cache_entries),
            commit_lock: Mutex::new(()),
            event_ttl_ms: i64::try_from(options.event_ttl_secs.saturating_mul(1000))
                .unwrap_or(i64::MAX),
            commit_chunk_writes: options.commit_chunk_writes.max(1),
            broken: AtomicBool::new(false),
            newest_event_ms: AtomicI64::new(i64::MIN),
            #[cfg(test)]
            fail_point: Mutex::new(None),
            path,
        };
        store.check_schema()?;
        if store.finish_journal()? {
            tracing::info!(path = %store.path.display(), "finished a commit interrupted by a crash, from its journal");
        }
        let newest = store.newest_recorded_event()?;
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
        let found = match found {
            Some(bytes) => Some(decode_schema(&bytes)?),
            // Not in the `state` tree: a new store, or one of an older layout.
            None => self.legacy_schema()?,
        };
        match found {
            Some(found) if found > SCHEMA_VERSION => Err(StoreError::SchemaTooNew {
                path: self.path.clone(),
                found,
                supported: SCHEMA_VERSION,
            }),
            Some(found) if found < SCHEMA_VERSION => self.migrate_from(found),
            Some(_) => self.drop_legacy_trees(),
            None => {
                self.meta
                    .insert(META_SCHEMA_VERSION, &SCHEMA_VERSION.to_be_bytes())
                    .map_err(|e| StoreError::sled(META, META_SCHEMA_VERSION, e))?;
                Ok(())
            }
        }
    }

    /// Schema version recorded in the `meta` tree of a store of version 1 or 2, if
    /// there is one.
    fn legacy_schema(&self) -> Result<Option<u32>, StoreError> {
        if !self.has_tree(META) {
            return Ok(None);
        }
        let meta = self.legacy_tree(META)?;
        let found = meta
            .get(META_SCHEMA_VERSION)
            .map_err(|e| StoreError::sled(META, META_SCHEMA_VERSION, e))?;
        found.map(|bytes| decode_schema(&bytes)).transpose()
    }

    fn has_tree(&self, name: &str) -> bool {
        self.db
            .tree_names()
            .iter()
            .any(|n| n.as_ref() == name.as_bytes())
    }

    fn legacy_tree(&self, name: &'static str) -> Result<sled::Tree, StoreError> {
        self.db
            .open_tree(name)
            .map_err(|e| StoreError::sled(name, b"<open>", e))
    }

    /// Versions 1 and 2 kept one sled tree per logical tree: every entry is copied into
    /// its keyspace of the `state` tree, then the version is raised and the old trees
    /// are dropped. A crash part way leaves the old trees and version, and the next
    /// open copies again (the copies overwrite themselves); one after the version is
    /// raised finds the old trees left and drops them.
    ///
    /// Version 1 kept two entries per event id (trees `events`, `events_by_time`) and
    /// profiles of a layout later versions do not decode: those are not copied, so
    /// dedup memory and baselines start afresh (warm up again with
    /// `backfill --learn-only`); processed marks and the outbox are kept.
    fn migrate_from(&self, found: u32) -> Result<(), StoreError> {
        let copied: &[(&'static str, &Space)] = if found < 2 {
            &[(OBJECTS, &self.objects), (OUTBOX, &self.outbox)]
        } else {
            &[
                (PROFILES, &self.profiles),
                (OBJECTS, &self.objects),
                (DEDUP, &self.dedup),
                (OUTBOX, &self.outbox),
            ]
        };
        for (name, space) in copied {
            if self.has_tree(name) {
                self.copy_tree(name, space)?;
            }
        }
        if self.has_tree(META) {
            self.copy_tree(META, &self.meta)?;
        }
        self.meta
            .insert(META_SCHEMA_VERSION, &SCHEMA_VERSION.to_be_bytes())
            .map_err(|e| StoreError::sled(META, META_SCHEMA_VERSION, e))?;
        self.drop_legacy_trees()?;
        tracing::info!(
            path = %self.path.display(),
            "store migrated from schema {found} to {SCHEMA_VERSION}{}",
            if found < 2 {
                ": event-id dedup and baselines restart (warm up with `bedguard backfill --learn-only`)"
            } else {
                ""
            }
        );
        Ok(())
    }

    /// Copies every entry of the old tree `name` into `space`, in batches.
    fn copy_tree(&self, name: &'static str, space: &Space) -> Result<(), StoreError> {
        let tree = self.legacy_tree(name)?;
        let mut batch = sled::Batch::default();
        let mut pending = 0;
        for entry in tree.iter() {
            let (key, value) = entry.map_err(|e| StoreError::sled(name, b"<iter>", e))?;
            // The schema version of the old layout stays behind with its tree.
            if name == META && key.as_ref() == META_SCHEMA_VERSION {
                continue;
            }
            let new_key = if name == OBJECTS {
                space.key(&mark_key(&key))
            } else {
                space.key(&key)
            };
            batch.insert(new_key, value);
            pending += 1;
            if pending == MIGRATION_CHUNK {
                self.state
                    .apply_batch(std::mem::take(&mut batch))
                    .map_err(|e| StoreError::sled(name, &key, e))?;
                pending = 0;
            }
        }
        self.state
            .apply_batch(batch)
            .map_err(|e| StoreError::sled(name, b"<migrate>", e))
    }

    /// Drops the sled trees of schema versions 1 and 2 that are still there.
    fn drop_legacy_trees(&self) -> Result<(), StoreError> {
        for name in V1_EVENT_TREES
            .into_iter()
            .chain([PROFILES, OBJECTS, DEDUP, OUTBOX, META])
        {
            if self.has_tree(name) {
                self.db
                    .drop_tree(name)
                    .map_err(|e| StoreError::sled(META, name.as_bytes(), e))?;
            }
        }
        Ok(())
    }

    fn newest_recorded_event(&self) -> Result<i64, StoreError> {
        let value = self
            .meta
            .get(META_NEWEST_EVENT)
            .map_err(|e| StoreError::sled(META, META_NEWEST_EVENT, e))?;
        match value {
            None => Ok(i64::MIN),
            Some(v) => be_u64(&v, 0)
                .filter(|_| v.len() == 8)
                .map(unorder_i64)
                .ok_or_else(|| StoreError::malformed(META, META_NEWEST_EVENT, "not 8 bytes")),
        }
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

    /// Applies everything one object (or a run of objects) produced as one sled batch
    /// on the store's one tree: the profiles, the dedup entries (and pruning of
    /// expired ones), the outbox entries with fresh sequences, and the objects'
    /// processed marks. A second commit of the same single object writes nothing and
    /// returns `already_processed: true`; a batch of several objects of which one is
    /// marked already fails with [`StoreError::Conflict`] and writes nothing.
    ///
    /// The commit is atomic but not yet durable: call [`Store::flush_async`] (or
    /// [`Store::flush`]) before acknowledging the input (deleting the SQS message).
    pub fn commit<P>(&self, mut batch: ObjectBatch<'_, P>) -> Result<CommitStats, StoreError>
    where
        P: Serialize + Send + Sync + 'static,
    {
        let marks = batch
            .objects
            .iter()
            .map(|m| {
                Ok((
                    m.object.to_key()?,
                    encode_object(ProcessedObject {
                        processed_at_ms: m.processed_at_ms,
                        event_count: m.event_count,
                    }),
                ))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let Some((first_key, _)) = marks.first() else {
            return Err(StoreError::InvalidKeyPart {
                what: "batch object",
                value: String::new(),
            });
        };
        let first_key = first_key.clone();
        let single = marks.len() == 1;
        if self.any_marked(&marks, single)? {
            return Ok(already_processed());
        }
        // In key order: a chunked commit then touches each sled leaf in one chunk.
        batch
            .profiles
            .sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        let mut writes = WriteSet::new();
        let values = encode_versioned_all(PROFILES, &batch.profiles)?;
        for ((key, _), value) in batch.profiles.iter().zip(&values) {
            writes.set(PROFILES_PREFIX, key.as_bytes(), value);
        }
        drop(values);
        if batch.empty_event_id {
            return Err(StoreError::InvalidKeyPart {
                what: "event id",
                value: String::new(),
            });
        }
        let events = &batch.events;
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
        let batch_newest = events.iter().map(|(_, t)| *t).max().unwrap_or(i64::MIN);
        let mut new_hashes: BTreeMap<i64, Vec<u64>> = BTreeMap::new();
        for (hash, time) in events {
            new_hashes
                .entry(dedup::bucket_of(*time))
                .or_default()
                .push(hash.0);
        }

        let _guard = self
            .commit_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if self.broken.load(Ordering::Relaxed) {
            return Err(StoreError::Broken {
                path: self.path.clone(),
            });
        }
        let old_newest = self.newest_event_ms.load(Ordering::Relaxed);
        let newest = old_newest.max(batch_newest);
        let expired = self.expired_buckets(newest)?;
        // Buckets as they will be after this commit (the commit lock keeps the tree
        // unchanged meanwhile). A bucket already past the TTL of `newest` is not
        // written: the next commit would only prune it. (A batch spanning more than
        // the TTL has such buckets; its own duplicates were caught in memory.)
        let keep_from = self.first_kept_bucket(newest).unwrap_or(i64::MIN);
        let mut buckets = Vec::with_capacity(new_hashes.len());
        for (start, hashes) in new_hashes
            .into_iter()
            .filter(|(start, _)| *start >= keep_from)
        {
            let old = self.bucket(start)?;
            let merged = dedup::merge(&old, hashes);
            buckets.push((
                start,
                dedup::bucket_key(start),
                dedup::encode_bucket(&merged),
                Arc::new(merged),
            ));
        }
        let newest_value = (newest != old_newest).then(|| order_i64(newest).to_be_bytes());
        let now_ms = wall_clock_ms();
        #[cfg(test)]
        let fail_point = *self
            .fail_point
            .lock()
            .unwrap_or_else(PoisonError::into_inner);

        // The commit lock makes the check and the batch one step: every commit takes
        // it, and sled's file lock keeps other processes out.
        if self.any_marked(&marks, single)? {
            return Ok(already_processed());
        }
        for (_, key, value, _) in &buckets {
            writes.set(DEDUP_PREFIX, key, value);
        }
        let mut events_pruned = 0;
        for old in &expired {
            writes.remove(DEDUP_PREFIX, &old.key);
            events_pruned += old.entries;
        }
        if let Some(value) = &newest_value {
            writes.set(META_PREFIX, META_NEWEST_EVENT, value);
        }
        #[cfg(test)]
        if fail_point == Some(FailPoint::BeforeObjectMark) {
            return Err(StoreError::Injected {
                key: crate::codec::display_key(&first_key),
            });
        }
        for (key, value) in &marks {
            writes.set(OBJECTS_PREFIX, &mark_key(key), value);
        }
        // From here on, one last sled batch: a chunked commit's outbox entries (which
        // the sinks' threads read) and user meta appear at once, after everything
        // else. Not the marks: a replay batch marks thousands of objects, and one sled
        // batch holds every leaf it copies until it ends.
        writes.begin_final();
        let seqs = self.enqueue(&mut writes, &outbox, now_ms)?;
        for (key, value) in &meta {
            writes.set(META_PREFIX, key, value);
        }
        self.apply(writes, &first_key)?;
        self.newest_event_ms.store(newest, Ordering::Relaxed);
        {
            let mut cache = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
            for (start, _, _, merged) in buckets {
                cache.put(start, merged);
            }
            // Pruned buckets, and empty ones looked up for old event times.
            if let Some(keep_from) = self.first_kept_bucket(newest) {
                cache.retain_from(keep_from);
            }
        }
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

    /// Applies a commit's writes: one sled batch when there are at most
    /// `commit_chunk_writes`, else journaled and applied in chunks ([`crate::writes`]).
    /// Called under the commit lock.
    fn apply(&self, writes: WriteSet, first_key: &[u8]) -> Result<(), StoreError> {
        let chunked = writes.len() > self.commit_chunk_writes;
        let journal = writes.into_bytes();
        let (final_from, list) = writes::decode_journal(&self.journal_path(), &journal)?;
        if !chunked {
            // One batch of one tree: sled recovers it whole or not at all.
            return self
                .state
                .apply_batch(sled_batch(&list))
                .map_err(|source| StoreError::sled(OBJECTS, first_key, source));
        }
        // Every earlier commit durable first: the journal is written against them.
        self.flush()?;
        writes::write_journal(&self.journal_path(), &journal)?;
        if let Err(first) = self.apply_journaled(&list, final_from) {
            // Half applied: finish it from the journal now, so nothing reads the half.
            if let Err(again) = self.finish_journal() {
                self.broken.store(true, Ordering::Relaxed);
                tracing::error!(path = %self.path.display(), "a commit failed half-applied ({first}) and could not be finished ({again}); refusing further commits until a restart finishes it");
                return Err(first);
            }
        }
        Ok(())
    }

    /// Where a chunked commit's journal is kept while it is applied.
    fn journal_path(&self) -> PathBuf {
        self.path.join(writes::JOURNAL_FILE)
    }

    /// Applies `list` in chunks, the writes from `final_from` on in one last batch,
    /// makes it all durable and removes the journal.
    fn apply_journaled(&self, list: &[Write<'_>], final_from: usize) -> Result<(), StoreError> {
        let (body, last) = list.split_at(final_from.min(list.len()));
        let sled_err = |e| StoreError::sled(META, b"(journaled commit)", e);
        for (n, chunk) in body.chunks(self.commit_chunk_writes).enumerate() {
            #[cfg(test)]
            self.chunk_fail_point(n)?;
            let _ = n;
            self.state
                .apply_batch(sled_batch(chunk))
                .map_err(sled_err)?;
        }
        self.state.apply_batch(sled_batch(last)).map_err(sled_err)?;
        self.flush()?;
        writes::remove_journal(&self.journal_path())
    }

    /// The test fail points of a chunked commit, before chunk `n`.
    #[cfg(test)]
    fn chunk_fail_point(&self, n: usize) -> Result<(), StoreError> {
        let fail_point = *self
            .fail_point
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if fail_point == Some(FailPoint::AbortAfterChunks(n)) {
            let _ = self.db.flush();
            std::process::abort();
        }
        if matches!(
            fail_point,
            Some(FailPoint::AfterChunks(k) | FailPoint::AfterChunksForGood(k)) if k == n
        ) {
            return Err(StoreError::Injected {
                key: format!("chunk {n}"),
            });
        }
        Ok(())
    }

    /// Finishes a chunked commit whose journal is on disk (after a crash, or a failure
    /// half way). Whether there was one.
    fn finish_journal(&self) -> Result<bool, StoreError> {
        let path = self.journal_path();
        let Some(journal) = writes::read_journal(&path)? else {
            return Ok(false);
        };
        let (final_from, list) = writes::decode_journal(&path, &journal)?;
        #[cfg(test)]
        self.fail_point
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take_if(|p| matches!(p, FailPoint::AfterChunks(_)));
        self.apply_journaled(&list, final_from)?;
        Ok(true)
    }

    /// Adds `items` to the outbox with fresh sequences, and the last sequence to meta.
    /// Called under the commit lock, the only writer of the sequence.
    fn enqueue(
        &self,
        writes: &mut WriteSet,
        items: &[(&str, &[u8])],
        now_ms: i64,
    ) -> Result<Option<(u64, u64)>, StoreError> {
        if items.is_empty() {
            return Ok(None);
        }
        let stored = self
            .meta
            .get(META_OUTBOX_SEQ)
            .map_err(|e| StoreError::sled(META, META_OUTBOX_SEQ, e))?;
        let last = match stored {
            None => 0,
            Some(bytes) => be_u64(&bytes, 0).ok_or_else(|| {
                StoreError::malformed(META, META_OUTBOX_SEQ, "outbox sequence is not 8 bytes")
            })?,
        };
        let mut seq = last;
        for (sink, bytes) in items {
            seq += 1;
            writes.set(
                OUTBOX_PREFIX,
                &keys::outbox_key(sink, seq),
                &crate::outbox::encode_entry(0, now_ms, bytes),
            );
        }
        writes.set(META_PREFIX, META_OUTBOX_SEQ, &seq.to_be_bytes());
        Ok(Some((last + 1, seq)))
    }

    /// Dedup buckets whose every event time is older than `newest - ttl`.
    fn expired_buckets(&self, newest: i64) -> Result<Vec<Expired>, StoreError> {
        let Some(keep_from) = self.first_kept_bucket(newest) else {
            return Ok(Vec::new());
        };
        let end = dedup::bucket_key(keep_from);
        let mut expired = Vec::new();
        for entry in self.dedup.range_to(&end).take(MAX_PRUNE_PER_COMMIT) {
            let (key, value) = entry.map_err(|e| StoreError::sled(DEDUP, &end, e))?;
            let key: [u8; 8] = key
                .as_ref()
                .try_into()
                .map_err(|_| StoreError::malformed(DEDUP, &key, "bucket key is not 8 bytes"))?;
            expired.push(Expired {
                key,
                entries: value.len().saturating_sub(1) / 8,
            });
        }
        Ok(expired)
    }

    /// Start of the oldest bucket that may still hold an event time within the TTL of
    /// `newest`; `None` before any event.
    fn first_kept_bucket(&self, newest: i64) -> Option<i64> {
        (newest != i64::MIN).then(|| dedup::bucket_of(newest.saturating_sub(self.event_ttl_ms)))
    }

    /// The committed hashes of the bucket starting at `start`, decoded once and cached.
    fn bucket(&self, start: i64) -> Result<Arc<Vec<u64>>, StoreError> {
        let mut cache = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(hit) = cache.get(start) {
            return Ok(hit);
        }
        let key = dedup::bucket_key(start);
        let hashes = match self
            .dedup
            .get(key)
            .map_err(|e| StoreError::sled(DEDUP, &key, e))?
        {
            Some(value) => dedup::decode_bucket(DEDUP, &key, &value)?,
            None => Vec::new(),
        };
        let hashes = Arc::new(hashes);
        cache.put(start, Arc::clone(&hashes));
        Ok(hashes)
    }

    // ---- objects --------------------------------------------------------------------

    /// Whether a batch's object is marked processed already: `true` for a single-object
    /// batch (the commit is a no-op), [`StoreError::Conflict`] for a run of objects.
    fn any_marked(&self, marks: &[(Vec<u8>, Vec<u8>)], single: bool) -> Result<bool, StoreError> {
        for (key, _) in marks {
            if self.is_processed_key(key)? {
                if single {
                    return Ok(true);
                }
                return Err(StoreError::Conflict {
                    key: crate::codec::display_key(key),
                });
            }
        }
        Ok(false)
    }

    /// Whether the object was committed already.
    pub fn is_processed(&self, bucket: &str, key: &str, etag: &str) -> Result<bool, StoreError> {
        self.is_processed_key(&ObjectId::new(bucket, key, etag).to_key()?)
    }

    fn is_processed_key(&self, key: &[u8]) -> Result<bool, StoreError> {
        self.objects
            .contains_key(mark_key(key))
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
            .get(mark_key(&key))
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

    /// Whether an event id with this event time was recorded by a commit and not yet
    /// pruned (a duplicate delivery carries the original's event time).
    pub fn seen_event(&self, id: &str, event_time_ms: i64) -> Result<bool, StoreError> {
        match EventHash::of(id) {
            Some(hash) => self.seen_event_hash(hash, event_time_ms),
            None => Ok(false),
        }
    }

    /// [`Store::seen_event`] of an id already hashed.
    pub fn seen_event_hash(&self, hash: EventHash, event_time_ms: i64) -> Result<bool, StoreError> {
        let hashes = self.bucket(dedup::bucket_of(event_time_ms))?;
        Ok(hashes.binary_search(&hash.0).is_ok())
    }

    /// Number of event ids currently remembered (walks the dedup tree).
    pub fn event_count(&self) -> Result<usize, StoreError> {
        let mut n = 0;
        for entry in self.dedup.iter() {
            let (_, value) = entry.map_err(|e| StoreError::sled(DEDUP, b"<iter>", e))?;
            n += value.len().saturating_sub(1) / 8;
        }
        Ok(n)
    }

    /// Dedup buckets (minutes of event time) currently stored.
    pub fn dedup_buckets(&self) -> usize {
        self.dedup.len()
    }

    // ---- profiles -------------------------------------------------------------------

    /// The profile under `key`, from the cache or decoded from sled.
    pub fn get_profile<P>(&self, key: &ProfileKey) -> Result<Option<P>, StoreError>
    where
        P: DeserializeOwned + Clone + Send + Sync + 'static,
    {
        Ok(self.get_profile_shared::<P>(key)?.map(Arc::unwrap_or_clone))
    }

    /// Like [`Store::get_profile`] for a caller that changes the profile and commits
    /// it: the cached copy is handed over instead of cloned, so the profile is in
    /// memory once while the caller works on it; the commit puts it back in the cache.
    /// If the caller never commits it, the next read decodes it from sled again.
    pub fn take_profile<P>(&self, key: &ProfileKey) -> Result<Option<P>, StoreError>
    where
        P: DeserializeOwned + Clone + Send + Sync + 'static,
    {
        let key = key.as_bytes();
        if let Some(Ok(hit)) = self.cache.take(key).map(|v| v.downcast::<P>()) {
            return Ok(Some(Arc::unwrap_or_clone(hit)));
        }
        self.profiles
            .get(key)
            .map_err(|e| StoreError::sled(PROFILES, key, e))?
            .map(|bytes| decode_versioned(PROFILES, key, &bytes))
            .transpose()
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

/// Key of an object's processed mark: the first 16 bytes of the SHA-256 of
/// `<bucket>\0<key>\0<etag>` ([`ObjectId`]'s key). Two objects share a mark (and the
/// second is skipped as processed) only if 128 bits of SHA-256 collide: about
/// n^2 / 2^129 for n objects, 1.5e-21 for a billion.
/// Removes sled snapshot files a killed process left half-written.
///
/// sled 0.34 writes a snapshot to `snap.<lsn>.generating`, fsyncs it and renames it to
/// `snap.<lsn>`; but when it looks for the newest snapshot at open it skips only
/// `.in___motion` files, so a `.generating` file left by a kill during a snapshot is
/// read, fails its checksum, and the open fails with "Read corrupted data": one
/// SIGKILL at the wrong moment (the integration crash test hit it) would keep the
/// daemon from ever starting again. A `.generating` file is by construction never the
/// snapshot sled finished, so dropping it loses nothing; sled then recovers from the
/// previous snapshot and its log. Done only while no other process holds the
/// database's lock (the same `flock` sled takes on its `db` file); if one does, sled's
/// own open fails on the lock anyway.
fn remove_unfinished_snapshots(dir: &Path) {
    let Ok(db) = std::fs::File::open(dir.join("db")) else {
        return; // a new store
    };
    if db.try_lock().is_err() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("snap.") && name.ends_with(".generating") {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => {
                    tracing::warn!(path = %entry.path().display(), "removed a sled snapshot left half-written by a crash")
                }
                Err(e) => {
                    tracing::warn!(path = %entry.path().display(), "cannot remove a half-written sled snapshot: {e}")
                }
            }
        }
    }
}

/// A sled batch of `writes`, applied in order (a key written twice keeps the last).
fn sled_batch(writes: &[Write<'_>]) -> sled::Batch {
    let mut batch = sled::Batch::default();
    for w in writes {
        match *w {
            Write::Set(key, value) => batch.insert(key, value),
            Write::Remove(key) => batch.remove(key),
        }
    }
    batch
}

pub(crate) fn mark_key(id: &[u8]) -> [u8; 16] {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(id);
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest[..16]);
    key
}

fn decode_schema(bytes: &[u8]) -> Result<u32, StoreError> {
    codec::be_u32(bytes, 0)
        .filter(|_| bytes.len() == 4)
        .ok_or_else(|| {
            StoreError::malformed(META, META_SCHEMA_VERSION, "schema version is not 4 bytes")
        })
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

pub(crate) fn encode_object(object: ProcessedObject) -> Vec<u8> {
    let mut value = Vec::with_capacity(17);
    value.push(RECORD_V1);
    value.extend_from_slice(&order_i64(object.processed_at_ms).to_be_bytes());
    value.extend_from_slice(&object.event_count.to_be_bytes());
    value
}

/// Entries and logical bytes (keys plus values) of one tree.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TreeStats {
    /// Tree name.
    pub name: &'static str,
    /// Entries.
    pub entries: u64,
    /// Bytes of keys.
    pub key_bytes: u64,
    /// Bytes of values.
    pub value_bytes: u64,
}

impl Store {
    /// Entries and logical bytes per tree (walks every tree: for reports, not the hot
    /// path). Their sum against [`Store::size_on_disk`] is sled's space amplification.
    pub fn tree_stats(&self) -> Result<Vec<TreeStats>, StoreError> {
        let trees: [(&'static str, &Space); 5] = [
            (PROFILES, &self.profiles),
            (OBJECTS, &self.objects),
            (DEDUP, &self.dedup),
            (OUTBOX, &self.outbox),
            (META, &self.meta),
        ];
        let mut out = Vec::with_capacity(trees.len());
        for (name, tree) in trees {
            let mut s = TreeStats {
                name,
                ..TreeStats::default()
            };
            for entry in tree.iter() {
                let (k, v) = entry.map_err(|e| StoreError::sled(name, b"<iter>", e))?;
                s.entries += 1;
                s.key_bytes += k.len() as u64;
                s.value_bytes += v.len() as u64;
            }
            out.push(s);
        }
        Ok(out)
    }
}
