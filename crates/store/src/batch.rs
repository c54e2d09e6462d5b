//! The unit of commit: everything one CloudTrail object (or a run of objects, for
//! replays and warm-ups) changed.

use std::borrow::Cow;

use crate::dedup::EventHash;
use crate::keys::{ObjectId, ProfileKey};

/// One object a batch marks processed.
#[derive(Debug, Clone, Copy)]
pub struct ObjectMark<'a> {
    /// The object.
    pub object: ObjectId<'a>,
    /// Event time (ms since the epoch) the object is processed at, e.g. its newest event.
    pub processed_at_ms: i64,
    /// Number of records the object held.
    pub event_count: u64,
}

/// Everything processing one object (or several, in order) produced, committed
/// atomically by [`crate::Store::commit`]: either all of it becomes visible (and
/// durable at the next flush) or none of it does.
#[derive(Debug)]
pub struct ObjectBatch<'a, P> {
    /// The objects this batch comes from, at least one; all marked processed by the
    /// commit.
    pub objects: Vec<ObjectMark<'a>>,
    /// Updated profiles, replacing the stored ones; written through to the cache.
    pub profiles: Vec<(ProfileKey, P)>,
    /// Event ids seen in the object (as the hash the store remembers them by), with
    /// their event time (ms), for dedup.
    pub events: Vec<(EventHash, i64)>,
    /// Whether an empty event id was added: the commit refuses the batch.
    pub(crate) empty_event_id: bool,
    /// Findings to enqueue: sink name and encoded finding.
    pub outbox: Vec<(Cow<'a, str>, Cow<'a, [u8]>)>,
    /// Meta values to set with the object (e.g. a backfill cursor that must not run
    /// ahead of the objects committed).
    pub meta: Vec<(Cow<'a, str>, Cow<'a, [u8]>)>,
}

impl<'a, P> ObjectBatch<'a, P> {
    /// An empty batch for `object`.
    pub fn new(object: ObjectId<'a>, processed_at_ms: i64, event_count: u64) -> Self {
        Self {
            objects: vec![ObjectMark {
                object,
                processed_at_ms,
                event_count,
            }],
            profiles: Vec::new(),
            events: Vec::new(),
            empty_event_id: false,
            outbox: Vec::new(),
            meta: Vec::new(),
        }
    }

    /// Adds a further object, processed after the ones already in the batch. The
    /// caller guarantees none of them was committed before (it checked
    /// [`crate::Store::is_processed`] and is the only writer); a commit that finds one
    /// marked after all fails with [`crate::StoreError::Conflict`] and writes nothing.
    pub fn also(
        &mut self,
        object: ObjectId<'a>,
        processed_at_ms: i64,
        event_count: u64,
    ) -> &mut Self {
        self.objects.push(ObjectMark {
            object,
            processed_at_ms,
            event_count,
        });
        self
    }

    /// Adds an updated profile.
    pub fn profile(&mut self, key: ProfileKey, profile: P) -> &mut Self {
        self.profiles.push((key, profile));
        self
    }

    /// Records an event id for dedup. An empty id makes the commit fail.
    pub fn event(&mut self, id: &str, event_time_ms: i64) -> &mut Self {
        match EventHash::of(id) {
            Some(hash) => self.events.push((hash, event_time_ms)),
            None => self.empty_event_id = true,
        }
        self
    }

    /// Records an event id, already hashed, for dedup.
    pub fn event_hash(&mut self, hash: EventHash, event_time_ms: i64) -> &mut Self {
        self.events.push((hash, event_time_ms));
        self
    }

    /// Enqueues one encoded finding for every sink in `sinks`.
    pub fn finding<S: AsRef<str>>(&mut self, sinks: &[S], bytes: &'a [u8]) -> &mut Self {
        for sink in sinks {
            self.outbox
                .push((Cow::Owned(sink.as_ref().to_owned()), Cow::Borrowed(bytes)));
        }
        self
    }

    /// Sets a meta value (see [`crate::Store::get_meta`]) in the same commit.
    pub fn meta(
        &mut self,
        name: impl Into<Cow<'a, str>>,
        value: impl Into<Cow<'a, [u8]>>,
    ) -> &mut Self {
        self.meta.push((name.into(), value.into()));
        self
    }
}

/// What a commit did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitStats {
    /// The (single) object was already committed: nothing was written.
    pub already_processed: bool,
    pub profiles_written: usize,
    pub events_recorded: usize,
    /// Dedup entries older than the TTL removed by this commit.
    pub events_pruned: usize,
    pub outbox_enqueued: usize,
    /// Outbox sequences given out by this commit, `first..=last`.
    pub outbox_seqs: Option<(u64, u64)>,
}
