//! A bounded, sharded, two-generation cache of GeoIP answers keyed by address.
//!
//! Each shard keeps a `young` and an `old` map. Hits in `old` are promoted to `young`;
//! when `young` reaches half the shard's budget, `old` is dropped and `young` becomes
//! `old`. So memory stays under the budget, recently used addresses survive, and there
//! is no per-entry bookkeeping. An epoch counter keeps answers computed from a database
//! that was swapped out meanwhile out of the cache.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use detect::Geo;

use detect::fasthash::FastHash;

const SHARDS: usize = 16;

#[derive(Default)]
struct Shard {
    young: HashMap<IpAddr, Geo, FastHash>,
    old: HashMap<IpAddr, Geo, FastHash>,
    /// Counted under the shard's lock: a counter shared by every thread that looks
    /// addresses up would move its cache line between their cores on every lookup.
    hits: u64,
    misses: u64,
}

/// Counters for the metrics endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Lookups answered from the cache.
    pub hits: u64,
    /// Lookups that went to the databases.
    pub misses: u64,
    /// Entries held now.
    pub entries: usize,
}

pub(crate) struct GeoCache {
    shards: Vec<Mutex<Shard>>,
    /// Entries per generation per shard; 0 disables the cache.
    generation_cap: usize,
    hasher: FastHash,
    epoch: AtomicU64,
    /// Lookups while the cache is off (no shard is locked then).
    uncached: AtomicU64,
}

impl GeoCache {
    /// A cache holding at most about `capacity` entries.
    pub(crate) fn new(capacity: usize) -> Self {
        let generation_cap = capacity / SHARDS / 2;
        let generation_cap = if capacity > 0 {
            generation_cap.max(1)
        } else {
            0
        };
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            generation_cap,
            hasher: FastHash,
            epoch: AtomicU64::new(0),
            uncached: AtomicU64::new(0),
        }
    }

    fn shard(&self, ip: &IpAddr) -> &Mutex<Shard> {
        // Truncation is intended: only the low bits pick a shard.
        let index = (self.hasher.hash_one(ip) as usize) % SHARDS;
        &self.shards[index]
    }

    /// The current epoch; pass it back to [`GeoCache::insert`].
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    pub(crate) fn get(&self, ip: &IpAddr) -> Option<Geo> {
        if self.generation_cap == 0 {
            self.uncached.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let mut shard = self
            .shard(ip)
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let found = if let Some(geo) = shard.young.get(ip) {
            Some(geo.clone())
        } else if let Some(geo) = shard.old.remove(ip) {
            let answer = geo.clone();
            self.put(&mut shard, *ip, geo);
            Some(answer)
        } else {
            None
        };
        if found.is_some() {
            shard.hits += 1;
        } else {
            shard.misses += 1;
        }
        found
    }

    /// Remember `geo` for `ip`, unless the cache was cleared since `epoch` was read.
    pub(crate) fn insert(&self, epoch: u64, ip: IpAddr, geo: Geo) {
        if self.generation_cap == 0 {
            return;
        }
        let mut shard = self
            .shard(&ip)
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if self.epoch.load(Ordering::SeqCst) == epoch {
            self.put(&mut shard, ip, geo);
        }
    }

    fn put(&self, shard: &mut Shard, ip: IpAddr, geo: Geo) {
        if shard.young.len() >= self.generation_cap {
            shard.old = std::mem::take(&mut shard.young);
        }
        shard.young.insert(ip, geo);
    }

    /// Forget everything (after a database swap).
    pub(crate) fn clear(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        for shard in &self.shards {
            let mut shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
            shard.young.clear();
            shard.old.clear();
        }
    }

    pub(crate) fn stats(&self) -> CacheStats {
        let mut stats = CacheStats {
            misses: self.uncached.load(Ordering::Relaxed),
            ..CacheStats::default()
        };
        for shard in &self.shards {
            let s = shard.lock().unwrap_or_else(PoisonError::into_inner);
            stats.hits += s.hits;
            stats.misses += s.misses;
            stats.entries += s.young.len() + s.old.len();
        }
        stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn ip(n: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(n))
    }

    fn geo(n: u32) -> Geo {
        Geo {
            asn: Some(n),
            ..Geo::default()
        }
    }

    #[test]
    fn stays_bounded_and_keeps_recent_entries() {
        let cache = GeoCache::new(320);
        for n in 0..10_000 {
            cache.insert(cache.epoch(), ip(n), geo(n));
        }
        assert!(cache.stats().entries <= 320, "{:?}", cache.stats());
        assert_eq!(cache.get(&ip(9_999)), Some(geo(9_999)));
        assert_eq!(cache.get(&ip(0)), None);
    }

    #[test]
    fn hot_entry_survives_churn() {
        let cache = GeoCache::new(64);
        let hot = ip(u32::MAX);
        cache.insert(cache.epoch(), hot, geo(1));
        for n in 0..5_000 {
            cache.insert(cache.epoch(), ip(n), geo(n));
            assert_eq!(cache.get(&hot), Some(geo(1)), "lost after {n}");
        }
    }

    #[test]
    fn stale_epoch_is_not_inserted_and_clear_empties() {
        let cache = GeoCache::new(64);
        let before = cache.epoch();
        cache.insert(before, ip(1), geo(1));
        cache.clear();
        assert_eq!(cache.get(&ip(1)), None);
        cache.insert(before, ip(2), geo(2));
        assert_eq!(cache.get(&ip(2)), None);
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses, stats.entries), (0, 2, 0));
    }

    #[test]
    fn zero_capacity_disables() {
        let cache = GeoCache::new(0);
        cache.insert(cache.epoch(), ip(1), geo(1));
        assert_eq!(cache.get(&ip(1)), None);
        assert_eq!(cache.stats().entries, 0);
    }
}
