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

use serde::{Deserialize, Serialize};

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

impl<K: PartialEq + Clone> DecayedCounts<K> {
    /// An empty counter set.
    pub fn new() -> Self {
        Self {
            items: Vec::new(),
            total: 0.0,
            discoveries: 0.0,
            evicted: 0.0,
            distinct: 0,
            last_update_ms: 0,
        }
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
    /// at most `cap` values.
    pub fn observe(&mut self, value: &K, at_ms: i64, half_life_ms: f64, cap: usize) {
        let hour = at_ms.div_euclid(3_600_000).clamp(0, i64::from(u32::MAX)) as u32;
        // The hour first: most values were not seen this hour, and it is an integer.
        if self.items.iter().any(|(k, _, h)| *h >= hour && k == value) {
            return;
        }
        self.decay_to(at_ms, half_life_ms);
        // An event older than the last update weighs what it would weigh now.
        let w = decay_factor(self.last_update_ms - at_ms, half_life_ms) as f32;
        self.total += w;
        if let Some((_, c, h)) = self.items.iter_mut().find(|(k, _, _)| k == value) {
            *c += w;
            *h = hour;
            return;
        }
        self.discoveries += w;
        self.distinct = self.distinct.saturating_add(1);
        if let Some(i) = self.lightest().filter(|_| self.items.len() >= cap.max(1)) {
            let (_, c, _) = self.items.swap_remove(i);
            self.evicted += c;
        }
        self.items.push((value.clone(), w, hour));
    }

    fn lightest(&self) -> Option<usize> {
        self.items
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.1.total_cmp(&b.1.1))
            .map(|(i, _)| i)
    }

    /// Decayed count of `value` as of the last update.
    pub fn count(&self, value: &K) -> Option<f64> {
        self.items
            .iter()
            .find(|(k, _, _)| k == value)
            .map(|(_, c, _)| f64::from(*c))
    }

    /// The predictive probability of `value` as the next observation.
    ///
    /// Tracked values get `count / (total + alpha)`, scaled so that the missing mass
    /// `(discoveries + evicted + alpha) / (total + alpha)` (capped at [`MAX_MISSING_MASS`]) is left
    /// for untracked values. Shares are invariant under decay, so no `now` is needed
    /// except for the pseudo-count, which is applied to the total decayed to `now_ms`.
    pub fn odds(&self, value: &K, now_ms: i64, half_life_ms: f64, alpha: f64) -> ValueOdds {
        let f = decay_factor(now_ms - self.last_update_ms, half_life_ms);
        let total = f64::from(self.total) * f;
        let missing = self.missing_mass(now_ms, half_life_ms, alpha);
        match self.count(value) {
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
        let total = f64::from(self.total) * f;
        let new = (f64::from(self.discoveries) + f64::from(self.evicted)) * f;
        ((new + alpha) / (total + alpha)).clamp(f64::MIN_POSITIVE, MAX_MISSING_MASS)
    }

    /// Tracked values, heaviest first (ties by insertion order), with their shares.
    pub fn top(&self, n: usize) -> Vec<(&K, f64, f64)> {
        let total = f64::from(self.total);
        let mut v: Vec<(usize, &K, f64)> = self
            .items
            .iter()
            .enumerate()
            .map(|(i, (k, c, _))| (i, k, f64::from(*c)))
            .collect();
        v.sort_by(|a, b| b.2.total_cmp(&a.2).then(a.0.cmp(&b.0)));
        v.into_iter()
            .take(n)
            .map(|(_, k, c)| (k, c, if total > 0.0 { c / total } else { 0.0 }))
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
    fn decay_halves_after_one_half_life() {
        let mut c = DecayedCounts::new();
        c.observe(&s("DE"), 0, HL, 8);
        c.observe(&s("FR"), 14 * DAY, HL, 8);
        let de = c.count(&s("DE")).unwrap();
        assert!((de - 0.5).abs() < 1e-6, "{de}");
        assert!((f64::from(c.total) - 1.5).abs() < 1e-6);
        assert!((c.total_at(28 * DAY, HL) - 0.75).abs() < 1e-6);
    }

    #[test]
    fn late_events_weigh_as_if_decayed() {
        let mut c = DecayedCounts::new();
        c.observe(&s("DE"), 14 * DAY, HL, 8);
        c.observe(&s("FR"), 0, HL, 8);
        assert_eq!(c.last_update_ms, 14 * DAY);
        assert!((c.count(&s("FR")).unwrap() - 0.5).abs() < 1e-6);
    }

    #[test]
    fn roaming_principal_is_less_surprised_by_a_new_value() {
        let mut steady = DecayedCounts::new();
        let mut roamer = DecayedCounts::new();
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
        let mut c = DecayedCounts::new();
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
        let mut c = DecayedCounts::new();
        for i in 0..1000 {
            c.observe(&s("BR"), 1000 * i, HL, 8);
        }
        assert!((c.count(&s("BR")).unwrap() - 1.0).abs() < 1e-3);
        c.observe(&s("BR"), 3_600_000, HL, 8);
        assert!((c.count(&s("BR")).unwrap() - 2.0).abs() < 1e-2);
        assert_eq!(c.distinct, 1);
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
