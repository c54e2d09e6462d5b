//! A fast, fixed-key hasher for in-memory indexes: the key index of decayed counters,
//! and enrich's caches (GeoIP answers per address, user agents).
//!
//! They hash every event's values; SipHash with a random key (std's default, built to
//! resist collision flooding from untrusted keys) was a visible part of the per-event
//! cost. The caches are bounded by entry count and a counter by its value cap, so a
//! flood of colliding keys can slow lookups but cannot grow memory; a counter confirms
//! every hash match by comparing the value itself; and nothing hashed here is persisted
//! or shown, so the hash values never reach an output.

use std::hash::{BuildHasher, Hasher};

/// Builds [`FastHasher`]s.
#[derive(Debug, Clone, Copy, Default)]
pub struct FastHash;

impl BuildHasher for FastHash {
    type Hasher = FastHasher;

    fn build_hasher(&self) -> FastHasher {
        FastHasher(0)
    }
}

/// FxHash-style word mixing, with a 64-bit finaliser so the low bits (hash table
/// buckets, cache shards) depend on every input byte.
#[derive(Debug, Clone, Copy)]
pub struct FastHasher(u64);

impl FastHasher {
    const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(Self::SEED);
    }
}

impl Hasher for FastHasher {
    fn finish(&self) -> u64 {
        // MurmurHash3's fmix64.
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::net::{IpAddr, Ipv4Addr};

    #[test]
    fn spreads_addresses_over_the_low_bits() {
        // Consecutive addresses must not pile into a few of 16 shards.
        let mut shards = [0u32; 16];
        for n in 0..16_000u32 {
            let h = FastHash.hash_one(IpAddr::V4(Ipv4Addr::from(n << 8)));
            shards[(h % 16) as usize] += 1;
        }
        assert!(shards.iter().all(|&c| c > 700), "{shards:?}");
    }

    #[test]
    fn distinguishes_strings_that_differ_in_one_byte() {
        let set: HashSet<u64> = (0..1000)
            .map(|i| FastHash.hash_one(format!("Boto3/1.34.{i} md/Botocore")))
            .collect();
        assert_eq!(set.len(), 1000);
    }
}
