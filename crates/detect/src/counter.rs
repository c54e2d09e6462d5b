//! Exponentially decayed, capped counts of the values of one feature.
//!
//! The unit is the *active hour*: a value counts at most once per clock hour (of event
//! time). Calls are bursty — a batch job makes a thousand calls in an hour — and counting
//! calls would let one busy hour, or one attack burst, dominate a baseline. A value's
//! count is the decayed number of hours in which it was seen; a burst from a new place is
//! still one hour of evidence when it ends. (An event older than a value's last counted
//! hour is assumed to fall in a counted hour.)
//!
//! Decay is lazy: a counter set stores the event time of its last update and scales
//! everything by `2^(-Δt / half_life)` when it is next touched. Events older than the
//! last update are added with the weight they would have had (no decay runs backwards).
//!
//! The number of tracked values is capped. When a new value arrives at the cap, the
//! lightest tracked value is evicted (space-saving style, so the heaviest stay) and its
//! mass moves to [`DecayedCounts::evicted`]: it still counts as "seen but rare" mass in
//! the probability of an untracked value.
//!
//! The probability of a value never seen comes from the counts themselves: the decayed
//! count of *discoveries* (observations that were the first of their value) over the
//! decayed total. That is the sequential form of the Good-Turing missing-mass estimate
//! (the rate at which new values have been turning up), with a pseudo-count `alpha` so a
//! fresh baseline is not certain of anything.

use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash};

use serde::{Deserialize, Serialize};
use smol_str::SmolStr;

use crate::finding::Bucket;

/// The missing mass never exceeds this, so a tracked value keeps some probability
/// even in a baseline that sees a new value almost every time.
pub const MAX_MISSING_MASS: f64 = 0.9;

/// Decayed counts of the values of one feature.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DecayedCounts<K> {
    /// Tracked values, their decayed counts and the last hour (since the epoch) each
    /// was counted in, in no particular order.
    pub items: Vec<(K, f32, u32)>,
    /// Decayed total of all observations (tracked plus evicted).
    pub total: f32,
    /// Decayed count of observations whose value was new (not tracked) when it arrived.
    pub discoveries: f32,
    /// Decayed mass of evicted values.
    pub evicted: f32,
    /// Distinct values ever seen (not decayed; untracked re-arrivals count again).
    pub distinct: u32,
    /// Event time of the last update, epoch milliseconds.
    pub last_update_ms: i64,
    /// Hashes of the keys of `items`, in the same order: a lookup compares integers and
    /// only confirms a matching hash with the key, instead of comparing every key
    /// (an account's counters hold dozens of similar strings). Not persisted; rebuilt
    /// whenever its length disagrees with `items` (after deserialising, or a change to
    /// `items` made outside this module).
    #[serde(skip)]
    hashes: KeyHashes,
}

/// Equality of counter keys, for confirming a hash match: a counter's keys are short
/// strings, and comparing them inline costs a fraction of a call into the C library's
/// `memcmp`, which otherwise ran on every lookup.
pub trait KeyEq {
    /// Whether `self` and `other` are the same key.
    fn key_eq(&self, other: &Self) -> bool;
}

impl KeyEq for str {
    #[inline]
    fn key_eq(&self, other: &str) -> bool {
        eq_bytes(self.as_bytes(), other.as_bytes())
    }
}

impl KeyEq for String {
    #[inline]
    fn key_eq(&self, other: &String) -> bool {
        self.as_str().key_eq(other.as_str())
    }
}

impl KeyEq for SmolStr {
    #[inline]
    fn key_eq(&self, other: &SmolStr) -> bool {
        self.as_str().key_eq(other.as_str())
    }
}

impl KeyEq for u8 {
    #[inline]
    fn key_eq(&self, other: &u8) -> bool {
        self == other
    }
}

/// Byte equality eight bytes at a time: whole words, then the last eight bytes
/// (which may overlap the words already compared).
#[inline]
fn eq_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    if a.len() < 8 {
        return a.iter().zip(b).all(|(x, y)| x == y);
    }
    let word = |w: &[u8; 8]| u64::from_ne_bytes(*w);
    let (wa, _) = a.as_chunks::<8>();
    let (wb, _) = b.as_chunks::<8>();
    wa.iter().zip(wb).all(|(x, y)| word(x) == word(y))
        && a.last_chunk::<8>().map(word) == b.last_chunk::<8>().map(word)
}

/// The key-hash index of a [`DecayedCounts`]: derived data, so it never makes two
/// counter sets unequal.
#[derive(Debug, Clone, Default)]
struct KeyHashes(Vec<u64>);

impl PartialEq for KeyHashes {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// The hash a counter set indexes `value` by: the same for a key and its borrowed
/// form (`SmolStr` and `str` hash alike).
pub fn key_hash<Q: Hash + ?Sized>(value: &Q) -> u64 {
    crate::fasthash::FastHash.hash_one(value)
}

/// The decay factor for `dt_ms` milliseconds at `half_life_ms`.
pub fn decay_factor(dt_ms: i64, half_life_ms: f64) -> f64 {
    if dt_ms <= 0 || half_life_ms <= 0.0 {
        return 1.0;
    }
    (-(dt_ms as f64) / half_life_ms).exp2()
}

/// How probable one value is under a baseline, and why.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ValueOdds {
    /// Decayed count of the value (0 when untracked).
    pub count: f64,
    /// Its share of the decayed total.
    pub share: f64,
    /// Predictive probability of seeing it next.
    pub probability: f64,
    /// Whether the value is tracked at all.
    pub seen: bool,
}

/// Share thresholds that turn a share into a [`Bucket`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BucketCuts {
    /// At or above: FREQUENT.
    pub frequent: f64,
    /// At or above (and below `frequent`): INFREQUENT; below: RARE.
    pub infrequent: f64,
}

impl BucketCuts {
    /// The bucket of a tracked value with `share`, or UNSEEN when not tracked.
    pub fn bucket(&self, seen: bool, share: f64) -> Bucket {
        if !seen {
            Bucket::Unseen
        } else if share >= self.frequent {
            Bucket::Frequent
        } else if share >= self.infrequent {
            Bucket::Infrequent
        } else {
            Bucket::Rare
        }
    }
}

impl<K: PartialEq + Clone + Hash> DecayedCounts<K> {
    /// An empty counter set.
    pub fn new() -> Self {
        Self {
            items: Vec::new(),
            total: 0.0,
            discoveries: 0.0,
            evicted: 0.0,
            distinct: 0,
            last_update_ms: 0,
            hashes: KeyHashes::default(),
        }
    }

    /// Position of `value` in `items`, through the key-hash index when it is current.
    fn position<Q>(&self, value: &Q, hash: u64) -> Option<usize>
    where
        K: Borrow<Q>,
        Q: KeyEq + ?Sized,
    {
        if self.hashes.0.len() == self.items.len() {
            // Hashes eight at a time into a bit mask (the compiler makes that a few
            // vector compares), then only the matches are confirmed by key.
            let (blocks, rest) = self.hashes.0.as_chunks::<8>();
            let confirm = |i: usize| {
                self.items
                    .get(i)
                    .is_some_and(|(k, _, _)| k.borrow().key_eq(value))
            };
            for (b, block) in blocks.iter().enumerate() {
                let mut hits = block
                    .iter()
                    .enumerate()
                    .fold(0u32, |m, (j, h)| m | (u32::from(*h == hash) << j));
                while hits != 0 {
                    let i = b * 8 + hits.trailing_zeros() as usize;
                    if confirm(i) {
                        return Some(i);
                    }
                    hits &= hits - 1;
                }
            }
            let start = blocks.len() * 8;
            rest.iter()
                .enumerate()
                .find(|&(j, h)| *h == hash && confirm(start + j))
                .map(|(j, _)| start + j)
        } else {
            self.items
                .iter()
                .position(|(k, _, _)| k.borrow().key_eq(value))
        }
    }

    /// Rebuild the key-hash index when it does not match `items`.
    fn index(&mut self) {
        if self.hashes.0.len() != self.items.len() {
            self.hashes.0.clear();
            self.hashes
                .0
                .extend(self.items.iter().map(|(k, _, _)| key_hash(k)));
        }
    }

    /// Loads one word from each cache line of the key-hash index and of the items, and
    /// returns them mixed (pass it to `std::hint::black_box`). See [`crate::Profile::touch`].
    pub fn touch(&self) -> u64 {
        let hashes = self.hashes.0.iter().step_by(8).fold(0, |m, h| m ^ h);
        // Two 32-byte items to a 64-byte line.
        self.items
            .iter()
            .step_by(2)
            .fold(hashes, |m, (_, _, hour)| m ^ u64::from(*hour))
    }

    /// Whether nothing was ever counted.
    pub fn is_empty(&self) -> bool {
        self.total <= 0.0 && self.items.is_empty()
    }

    /// Scale every count to `now_ms`.
    fn decay_to(&mut self, now_ms: i64, half_life_ms: f64) {
        if self.total <= 0.0 && self.items.is_empty() {
            self.last_update_ms = now_ms;
            return;
        }
        if now_ms <= self.last_update_ms {
            return;
        }
        let f = decay_factor(now_ms - self.last_update_ms, half_life_ms) as f32;
        for (_, c, _) in &mut self.items {
            *c *= f;
        }
        self.total *= f;
        self.discoveries *= f;
        self.evicted *= f;
        self.last_update_ms = now_ms;
    }

    /// Count one observation of `value` at `at_ms` (once per hour per value), keeping
    /// at most `cap` values. `value` may be a borrowed form of the key (`&str` for
    /// `String` keys), so callers need not allocate for values already tracked.
    pub fn observe<Q>(&mut self, value: &Q, at_ms: i64, half_life_ms: f64, cap: usize)
    where
        K: Borrow<Q> + From<Q::Owned>,
        Q: KeyEq + Hash + ToOwned + ?Sized,
    {
        self.observe_hashed(value, key_hash(value), at_ms, half_life_ms, cap);
    }

    /// [`Self::observe`] of a value whose [`key_hash`] the caller computed (a call's
    /// feature values are hashed once for every counter set that looks them up).
    pub fn observe_hashed<Q>(
        &mut self,
        value: &Q,
        hash: u64,
        at_ms: i64,
        half_life_ms: f64,
        cap: usize,
    ) where
        K: Borrow<Q> + From<Q::Owned>,
        Q: KeyEq + Hash + ToOwned + ?Sized,
    {
        debug_assert_eq!(hash, key_hash(value));
        let hour = at_ms.div_euclid(3_600_000).clamp(0, i64::from(u32::MAX)) as u32;
        self.index();
        // Values are unique in `items`, so one scan finds the value, and with it whether
        // it was already counted this hour (most calls: nothing else to do).
        let pos = self.position(value, hash);
        if let Some(i) = pos
            && self.items.get(i).is_some_and(|(_, _, h)| *h >= hour)
        {
            return;
        }
        self.decay_to(at_ms, half_life_ms);
        // An event older than the last update weighs what it would weigh now.
        let w = decay_factor(self.last_update_ms - at_ms, half_life_ms) as f32;
        self.total += w;
        // Decay scales counts in place and never reorders or removes items, so `pos`
        // still points at the value.
        if let Some((_, c, h)) = pos.and_then(|i| self.items.get_mut(i)) {
            *c += w;
            *h = hour;
            return;
        }
        self.discoveries += w;
        self.distinct = self.distinct.saturating_add(1);
        if let Some(i) = self.lightest().filter(|_| self.items.len() >= cap.max(1)) {
            let (_, c, _) = self.items.swap_remove(i);
            if i < self.hashes.0.len() {
                self.hashes.0.swap_remove(i);
            }
            self.evicted += c;
        }
        self.items.push((K::from(value.to_owned()), w, hour));
        self.hashes.0.push(hash);
    }

    fn lightest(&self) -> Option<usize> {
        self.items
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.1.total_cmp(&b.1.1))
            .map(|(i, _)| i)
    }

    /// Decayed count of `value` as of the last update.
    pub fn count<Q>(&self, value: &Q) -> Option<f64>
    where
        K: Borrow<Q>,
        Q: KeyEq + Hash + ?Sized,
    {
        self.count_hashed(value, key_hash(value))
    }

    /// [`Self::count`] of a value whose [`key_hash`] the caller computed.
    fn count_hashed<Q>(&self, value: &Q, hash: u64) -> Option<f64>
    where
        K: Borrow<Q>,
        Q: KeyEq + ?Sized,
    {
        self.position(value, hash)
            .and_then(|i| self.items.get(i))
            .map(|(_, c, _)| f64::from(*c))
    }

    /// The predictive probability of `value` as the next observation.
    ///
    /// Tracked values get `count / (total + alpha)`, scaled so that the missing mass
    /// `(discoveries + evicted + alpha) / (total + alpha)` (capped at [`MAX_MISSING_MASS`]) is left
    /// for untracked values. Shares are invariant under decay, so no `now` is needed
    /// except for the pseudo-count, which is applied to the total decayed to `now_ms`.
    pub fn odds<Q>(&self, value: &Q, now_ms: i64, half_life_ms: f64, alpha: f64) -> ValueOdds
    where
        K: Borrow<Q>,
        Q: KeyEq + Hash + ?Sized,
    {
        self.odds_hashed(value, key_hash(value), now_ms, half_life_ms, alpha)
    }

    /// [`Self::odds`] of a value whose [`key_hash`] the caller computed.
    pub fn odds_hashed<Q>(
        &self,
        value: &Q,
        hash: u64,
        now_ms: i64,
        half_life_ms: f64,
        alpha: f64,
    ) -> ValueOdds
    where
        K: Borrow<Q>,
        Q: KeyEq + Hash + ?Sized,
    {
        debug_assert_eq!(hash, key_hash(value));
        // One decay factor serves the total, the missing mass and the count: the same
        // arguments give the same factor, so computing it once changes no bit.
        let f = decay_factor(now_ms - self.last_update_ms, half_life_ms);
        let total = f64::from(self.total) * f;
        let missing = self.missing_mass_with(f, alpha);
        match self.count_hashed(value, hash) {
            Some(c) => {
                let c = c * f;
                let share = if total > 0.0 { c / total } else { 0.0 };
                // The tracked values share what the missing mass leaves.
                let tracked = (total - f64::from(self.evicted) * f).max(f64::MIN_POSITIVE);
                let probability = (1.0 - missing) * (c / tracked).min(1.0);
                ValueOdds {
                    count: c,
                    share,
                    probability: probability.max(f64::MIN_POSITIVE),
                    seen: true,
                }
            }
            None => ValueOdds {
                count: 0.0,
                share: 0.0,
                probability: missing,
                seen: false,
            },
        }
    }

    /// Probability that the next observation is an untracked value.
    pub fn missing_mass(&self, now_ms: i64, half_life_ms: f64, alpha: f64) -> f64 {
        let f = decay_factor(now_ms - self.last_update_ms, half_life_ms);
        self.missing_mass_with(f, alpha)
    }

    /// [`Self::missing_mass`] with the decay factor already computed.
    fn missing_mass_with(&self, f: f64, alpha: f64) -> f64 {
        let total = f64::from(self.total) * f;
        let new = (f64::from(self.discoveries) + f64::from(self.evicted)) * f;
        ((new + alpha) / (total + alpha)).clamp(f64::MIN_POSITIVE, MAX_MISSING_MASS)
    }

    /// Tracked values, heaviest first (ties by insertion order), with their shares.
    pub fn top(&self, n: usize) -> Vec<(&K, f64, f64)> {
        let total = f64::from(self.total);
        let share = |c: f64| if total > 0.0 { c / total } else { 0.0 };
        if n < self.items.len() {
            // A few of many (the usual values of a finding): keep the best `n` while
            // scanning instead of sorting everything. Items are scanned in insertion
            // order and a newcomer only passes strictly heavier ones, which is the
            // order the full sort gives (count descending, then insertion order).
            let mut best: Vec<(&K, f64)> = Vec::with_capacity(n + 1);
            for (k, c, _) in &self.items {
                let c = f64::from(*c);
                let at = best
                    .iter()
                    .position(|(_, b)| c.total_cmp(b) == std::cmp::Ordering::Greater)
                    .unwrap_or(best.len());
                if at < n {
                    best.insert(at, (k, c));
                    best.truncate(n);
                }
            }
            return best.into_iter().map(|(k, c)| (k, c, share(c))).collect();
        }
        let mut v: Vec<(usize, &K, f64)> = self
            .items
            .iter()
            .enumerate()
            .map(|(i, (k, c, _))| (i, k, f64::from(*c)))
            .collect();
        v.sort_by(|a, b| b.2.total_cmp(&a.2).then(a.0.cmp(&b.0)));
        v.into_iter()
            .take(n)
            .map(|(_, k, c)| (k, c, share(c)))
            .collect()
    }

    /// The decayed total as of `now_ms`.
    pub fn total_at(&self, now_ms: i64, half_life_ms: f64) -> f64 {
        f64::from(self.total) * decay_factor(now_ms - self.last_update_ms, half_life_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;
    const HL: f64 = 14.0 * DAY as f64;

    fn s(x: &str) -> String {
        x.to_string()
    }

    #[test]
    fn key_equality_agrees_with_byte_equality_at_every_length_and_position() {
        for len in 0..40 {
            let a: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            assert!(eq_bytes(&a, &a.clone()), "{len}");
            for at in 0..len {
                let mut b = a.clone();
                b[at] ^= 0x20;
                assert!(!eq_bytes(&a, &b), "len {len}, differing at {at}");
            }
            assert!(!eq_bytes(&a, &a[..len.saturating_sub(1)]) || len == 0);
        }
        assert!("bedrock:InvokeModel".key_eq("bedrock:InvokeModel"));
        assert!(!SmolStr::new("us-east-1").key_eq(&SmolStr::new("us-east-2")));
    }

    #[test]
    fn every_tracked_value_is_found_across_and_within_blocks_of_eight() {
        let mut c = DecayedCounts::<String>::new();
        for n in 0..21 {
            c.observe(format!("v{n}").as_str(), 1_000 * n, 1e9, 64);
        }
        for n in 0..21 {
            let v = format!("v{n}");
            assert_eq!(
                c.position(v.as_str(), key_hash(v.as_str())),
                Some(n as usize),
                "{v}"
            );
        }
        assert_eq!(c.position("v21", key_hash("v21")), None);
        // A hash that matches but a key that does not is no match.
        assert_eq!(c.position("nope", key_hash("v3")), None);
    }

    #[test]
    fn decay_halves_after_one_half_life() {
        let mut c = DecayedCounts::<String>::new();
        c.observe(&s("DE"), 0, HL, 8);
        c.observe(&s("FR"), 14 * DAY, HL, 8);
        let de = c.count(&s("DE")).unwrap();
        assert!((de - 0.5).abs() < 1e-6, "{de}");
        assert!((f64::from(c.total) - 1.5).abs() < 1e-6);
        assert!((c.total_at(28 * DAY, HL) - 0.75).abs() < 1e-6);
    }

    #[test]
    fn late_events_weigh_as_if_decayed() {
        let mut c = DecayedCounts::<String>::new();
        c.observe(&s("DE"), 14 * DAY, HL, 8);
        c.observe(&s("FR"), 0, HL, 8);
        assert_eq!(c.last_update_ms, 14 * DAY);
        assert!((c.count(&s("FR")).unwrap() - 0.5).abs() < 1e-6);
    }

    #[test]
    fn roaming_principal_is_less_surprised_by_a_new_value() {
        let mut steady = DecayedCounts::<String>::new();
        let mut roamer = DecayedCounts::<String>::new();
        for i in 0..200 {
            let t = i * 3_600_000;
            steady.observe(&s("DE"), t, HL, 8);
            roamer.observe(&format!("C{}", i % 20), t, HL, 32);
        }
        let now = 200 * 3_600_000;
        let p_steady = steady.odds(&s("BR"), now, HL, 0.5).probability;
        let p_roam = roamer.odds(&s("BR"), now, HL, 0.5).probability;
        assert!(p_roam > 10.0 * p_steady, "{p_roam} vs {p_steady}");
        assert!(p_steady < 0.01);
        // The probabilities of all tracked values plus the missing mass sum to one.
        let mut sum = roamer.missing_mass(now, HL, 0.5);
        for i in 0..20 {
            sum += roamer.odds(&format!("C{i}"), now, HL, 0.5).probability;
        }
        assert!((sum - 1.0).abs() < 1e-4, "{sum}");
    }

    #[test]
    fn cap_keeps_heaviest_and_evicted_mass_counts_as_missing() {
        let mut c = DecayedCounts::<String>::new();
        const H: i64 = 3_600_000;
        for i in 0..100 {
            c.observe(&s("heavy"), i * H, HL, 4);
        }
        for i in 0..1000 {
            c.observe(&format!("ua-{i}"), (100 + i) * H, HL, 4);
        }
        assert_eq!(c.items.len(), 4);
        assert!(c.count(&s("heavy")).is_some());
        assert_eq!(c.distinct, 1001);
        assert!(c.evicted > 400.0, "{}", c.evicted);
        // A spraying principal expects new values.
        assert!(c.missing_mass(1100 * H, HL, 0.5) > 0.8);
    }

    #[test]
    fn a_value_counts_once_per_hour() {
        let mut c = DecayedCounts::<String>::new();
        for i in 0..1000 {
            c.observe(&s("BR"), 1000 * i, HL, 8);
        }
        assert!((c.count(&s("BR")).unwrap() - 1.0).abs() < 1e-3);
        c.observe(&s("BR"), 3_600_000, HL, 8);
        assert!((c.count(&s("BR")).unwrap() - 2.0).abs() < 1e-2);
        assert_eq!(c.distinct, 1);
    }

    #[test]
    fn top_few_matches_the_full_order() {
        // Ties included: equal counts keep insertion order.
        let mut c: DecayedCounts<String> = DecayedCounts::new();
        for (i, w) in [3.0f32, 1.0, 3.0, 2.0, 1.0, 3.0, 0.5, 2.0]
            .iter()
            .enumerate()
        {
            c.items.push((format!("v{i}"), *w, 0));
        }
        c.total = 15.5;
        let all = c.top(usize::MAX);
        for n in 0..=c.items.len() {
            assert_eq!(
                c.top(n),
                all.iter().take(n).cloned().collect::<Vec<_>>(),
                "{n}"
            );
        }
    }

    #[test]
    fn key_index_survives_a_round_trip_and_outside_changes() {
        let mut c: DecayedCounts<String> = DecayedCounts::new();
        for i in 0..20 {
            c.observe(format!("v{}", i % 12).as_str(), i * 3_600_000, HL, 8);
        }
        let json = serde_json::to_string(&c).unwrap();
        assert!(!json.contains("hashes"), "{json}");
        let mut back: DecayedCounts<String> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);
        for (k, _, _) in &c.items {
            assert_eq!(back.count(k.as_str()), c.count(k.as_str()), "{k}");
        }
        // A value pushed from outside is found once the index is rebuilt.
        back.items.push((s("outside"), 1.0, 0));
        assert!(back.count("outside").is_some());
        back.observe("outside", 40 * 3_600_000, HL, 16);
        assert!((back.count("outside").unwrap() - 2.0).abs() < 0.1);
        assert_eq!(back.items.len(), 9);
    }

    #[test]
    fn buckets_follow_share() {
        let cuts = BucketCuts {
            frequent: 0.2,
            infrequent: 0.02,
        };
        assert_eq!(cuts.bucket(true, 0.5), Bucket::Frequent);
        assert_eq!(cuts.bucket(true, 0.05), Bucket::Infrequent);
        assert_eq!(cuts.bucket(true, 0.001), Bucket::Rare);
        assert_eq!(cuts.bucket(false, 0.0), Bucket::Unseen);
    }
}
