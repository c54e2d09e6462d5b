//! A bounded, least-recently-used cache of decoded profiles.
//!
//! Values are kept decoded (as `Arc<dyn Any>`) so a hit costs a clone, not a decode.
//! Commits write through under the cache lock and bump a generation counter; a reader
//! that missed and decoded from sled only fills the cache if no commit happened in
//! between, so a slow reader can never put back a value older than a commit's.

use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

pub(crate) type Shared = Arc<dyn Any + Send + Sync>;

pub(crate) struct ProfileCache {
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    map: HashMap<Vec<u8>, Slot>,
    /// Last-use tick -> key; the first entry is the least recently used.
    order: BTreeMap<u64, Vec<u8>>,
    tick: u64,
    generation: u64,
}

struct Slot {
    value: Shared,
    tick: u64,
}

impl Inner {
    fn touch(&mut self, key: &[u8]) -> Option<Shared> {
        self.tick += 1;
        let tick = self.tick;
        let slot = self.map.get_mut(key)?;
        let old = std::mem::replace(&mut slot.tick, tick);
        let value = Arc::clone(&slot.value);
        if let Some(owned) = self.order.remove(&old) {
            self.order.insert(tick, owned);
        }
        Some(value)
    }

    fn put(&mut self, key: Vec<u8>, value: Shared, capacity: usize) {
        self.tick += 1;
        let tick = self.tick;
        if let Some(old) = self.map.insert(key.clone(), Slot { value, tick }) {
            self.order.remove(&old.tick);
        }
        self.order.insert(tick, key);
        while self.map.len() > capacity {
            let Some((_, evicted)) = self.order.pop_first() else {
                break;
            };
            self.map.remove(&evicted);
        }
    }
}

impl ProfileCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The cache holds plain data; a panic elsewhere cannot leave it half-updated
        // in a way that matters more than losing a hint, so recover from poisoning.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn get(&self, key: &[u8]) -> Option<Shared> {
        if self.capacity == 0 {
            return None;
        }
        self.lock().touch(key)
    }

    /// Removes and returns `key`'s entry: the caller takes over the only copy.
    pub(crate) fn take(&self, key: &[u8]) -> Option<Shared> {
        let mut inner = self.lock();
        let slot = inner.map.remove(key)?;
        inner.order.remove(&slot.tick);
        Some(slot.value)
    }

    /// The current generation, to pass to [`Self::fill`] after a read from sled.
    pub(crate) fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// Fills the cache after a miss, unless a commit happened since `generation`.
    pub(crate) fn fill(&self, key: &[u8], value: Shared, generation: u64) {
        if self.capacity == 0 {
            return;
        }
        let mut inner = self.lock();
        if inner.generation == generation && !inner.map.contains_key(key) {
            inner.put(key.to_vec(), value, self.capacity);
        }
    }

    /// Writes the profiles of a successful commit through to the cache.
    pub(crate) fn write_through(&self, entries: impl IntoIterator<Item = (Vec<u8>, Shared)>) {
        let mut inner = self.lock();
        inner.generation += 1;
        if self.capacity == 0 {
            return;
        }
        for (key, value) in entries {
            inner.put(key, value, self.capacity);
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared(v: u32) -> Shared {
        Arc::new(v)
    }

    fn read(cache: &ProfileCache, key: &[u8]) -> Option<u32> {
        cache
            .get(key)
            .and_then(|v| v.downcast_ref::<u32>().copied())
    }

    #[test]
    fn evicts_least_recently_used() {
        let cache = ProfileCache::new(2);
        cache.write_through([(b"a".to_vec(), shared(1)), (b"b".to_vec(), shared(2))]);
        assert_eq!(read(&cache, b"a"), Some(1)); // a is now more recent than b
        cache.write_through([(b"c".to_vec(), shared(3))]);
        assert_eq!(cache.len(), 2);
        assert_eq!(read(&cache, b"b"), None);
        assert_eq!(read(&cache, b"a"), Some(1));
        assert_eq!(read(&cache, b"c"), Some(3));
    }

    #[test]
    fn stale_fill_after_commit_is_dropped() {
        let cache = ProfileCache::new(4);
        let before = cache.generation();
        cache.write_through([(b"k".to_vec(), shared(2))]);
        cache.fill(b"k", shared(1), before);
        assert_eq!(read(&cache, b"k"), Some(2));
        cache.write_through(Vec::new());
        cache.fill(b"other", shared(7), before);
        assert_eq!(read(&cache, b"other"), None);
        let now = cache.generation();
        cache.fill(b"other", shared(7), now);
        assert_eq!(read(&cache, b"other"), Some(7));
    }

    #[test]
    fn zero_capacity_caches_nothing() {
        let cache = ProfileCache::new(0);
        cache.write_through([(b"a".to_vec(), shared(1))]);
        assert_eq!(read(&cache, b"a"), None);
        assert_eq!(cache.len(), 0);
    }
}
