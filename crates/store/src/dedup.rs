//! Event-id de-duplication in minute buckets of 64-bit hashes.
//!
//! CloudTrail may deliver one event in two objects (an organization trail beside an
//! account trail, a re-delivered file under a new key). The store remembers every event
//! id it committed for `event_ttl_secs` of event time. An id is remembered as a stable
//! 64-bit hash in the bucket of its event time's minute; a bucket is one sled value
//! (version byte + sorted, unique big-endian hashes), so a commit writes one value per
//! minute it touches instead of two entries per event, and pruning drops whole minutes.
//! A duplicate carries the same event time as the original, so it meets the same bucket.
//!
//! A false "seen" needs two different ids of the same minute to share 64 bits: with a
//! million events in one minute that is about one chance in 3.7e7.

use std::collections::HashMap;
use std::sync::Arc;

use crate::codec::{RECORD_V1, order_i64};
use crate::error::StoreError;

/// Width of one bucket, in ms of event time.
pub(crate) const BUCKET_MS: i64 = 60_000;

/// An event id as the store remembers it: its stable 64-bit hash ([`event_hash`]).
/// Two ids of one minute that share it count as one; at 64 bits that needs billions
/// of events in the minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventHash(pub(crate) u64);

impl EventHash {
    /// The hash of `id`; `None` for an empty id, which is not an event id.
    pub fn of(id: &str) -> Option<Self> {
        (!id.is_empty()).then(|| Self(event_hash(id.as_bytes())))
    }
}

/// The stable 64-bit hash an event id is remembered by: FNV-1a with the murmur3
/// finalizer for avalanche. Stable across builds and platforms (it is stored).
pub(crate) fn event_hash(id: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in id {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// Start of the bucket holding `time_ms`.
pub(crate) fn bucket_of(time_ms: i64) -> i64 {
    time_ms.div_euclid(BUCKET_MS).saturating_mul(BUCKET_MS)
}

/// Key of a bucket: its start as order-preserving big-endian bytes.
pub(crate) fn bucket_key(start_ms: i64) -> [u8; 8] {
    order_i64(start_ms).to_be_bytes()
}

/// Encodes a sorted, unique list of hashes.
pub(crate) fn encode_bucket(hashes: &[u64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + hashes.len() * 8);
    out.push(RECORD_V1);
    for h in hashes {
        out.extend_from_slice(&h.to_be_bytes());
    }
    out
}

/// Decodes a bucket value.
pub(crate) fn decode_bucket(
    tree: &'static str,
    key: &[u8],
    value: &[u8],
) -> Result<Vec<u64>, StoreError> {
    let body = crate::codec::record_body(tree, key, value, 1)?;
    if body.len() % 8 != 0 {
        return Err(StoreError::malformed(
            tree,
            key,
            "bucket length is not a multiple of 8",
        ));
    }
    Ok(body
        .chunks_exact(8)
        .filter_map(|c| <[u8; 8]>::try_from(c).ok())
        .map(u64::from_be_bytes)
        .collect())
}

/// Merges `new` hashes into the sorted, unique `old`.
pub(crate) fn merge(old: &[u64], mut new: Vec<u64>) -> Vec<u64> {
    new.extend_from_slice(old);
    new.sort_unstable();
    new.dedup();
    new
}

/// Decoded buckets, mirroring the committed tree; filled on first use of a bucket and
/// updated only after a commit succeeded.
#[derive(Debug, Default)]
pub(crate) struct BucketCache {
    buckets: HashMap<i64, Arc<Vec<u64>>>,
}

impl BucketCache {
    pub(crate) fn get(&self, start: i64) -> Option<Arc<Vec<u64>>> {
        self.buckets.get(&start).cloned()
    }

    pub(crate) fn put(&mut self, start: i64, hashes: Arc<Vec<u64>>) {
        self.buckets.insert(start, hashes);
    }

    /// Drops every bucket that starts before `start` (pruned from the tree).
    pub(crate) fn retain_from(&mut self, start: i64) {
        self.buckets.retain(|s, _| *s >= start);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_stable() {
        // Stored on disk: a change here would forget every remembered id.
        // Expected values computed independently (Python, same definition).
        assert_eq!(event_hash(b""), 0xefd0_1f60_ba99_2926);
        assert_eq!(
            event_hash(b"0f8c3c36-5f0e-4a2b-9b8e-3c1e1a1b2c3d"),
            0x3f7e_7fe5_ebd5_2c9e
        );
        assert_ne!(event_hash(b"a"), event_hash(b"b"));
    }

    #[test]
    fn buckets_are_minutes_also_before_the_epoch() {
        assert_eq!(bucket_of(0), 0);
        assert_eq!(bucket_of(59_999), 0);
        assert_eq!(bucket_of(60_000), 60_000);
        assert_eq!(bucket_of(-1), -60_000);
        assert!(bucket_key(-60_000) < bucket_key(0));
    }

    #[test]
    fn bucket_values_round_trip_and_bad_ones_are_errors() {
        let hashes = merge(&[5, 9], vec![9, 1, 7, 1]);
        assert_eq!(hashes, vec![1, 5, 7, 9]);
        let value = encode_bucket(&hashes);
        assert_eq!(decode_bucket("dedup", b"k", &value).unwrap(), hashes);
        assert!(decode_bucket("dedup", b"k", &value[..value.len() - 1]).is_err());
        assert!(decode_bucket("dedup", b"k", &[]).is_err());
        assert!(matches!(
            decode_bucket("dedup", b"k", &[9, 0, 0, 0, 0, 0, 0, 0, 1]),
            Err(StoreError::UnknownVersion { version: 9, .. })
        ));
    }
}
