//! Exponential backoff with full jitter, for S3 and SQS calls.

use std::time::Duration;

use serde::Deserialize;

/// How often and how patiently to retry a failing call.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct RetrySettings {
    /// Attempts in all, the first one included (at least 1).
    pub max_attempts: u32,
    /// Delay cap before the first retry; doubles with each further retry.
    pub base_delay_ms: u64,
    /// Upper bound of any delay.
    pub max_delay_ms: u64,
}

impl Default for RetrySettings {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay_ms: 200,
            max_delay_ms: 10_000,
        }
    }
}

impl RetrySettings {
    /// The delay before retry number `retry` (0 for the first retry): uniformly drawn in
    /// `[cap/2, cap]` where `cap = min(max_delay, base_delay * 2^retry)` ("equal jitter":
    /// spreads a herd of clients without ever retrying immediately).
    pub fn delay(&self, retry: u32) -> Duration {
        let cap = self
            .base_delay_ms
            .saturating_mul(1u64.checked_shl(retry.min(32)).unwrap_or(u64::MAX))
            .min(self.max_delay_ms);
        let half = cap / 2;
        Duration::from_millis(half + fastrand::u64(0..=cap - half))
    }

    /// Whether another attempt follows attempt number `attempt` (1-based).
    pub fn allows_another(&self, attempt: u32) -> bool {
        attempt < self.max_attempts.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_exponentially_within_jitter_bounds_and_cap() {
        let r = RetrySettings {
            max_attempts: 10,
            base_delay_ms: 100,
            max_delay_ms: 1_000,
        };
        for _ in 0..200 {
            let d0 = r.delay(0).as_millis();
            assert!((50..=100).contains(&d0), "{d0}");
            let d2 = r.delay(2).as_millis();
            assert!((200..=400).contains(&d2), "{d2}");
            let d9 = r.delay(9).as_millis();
            assert!((500..=1_000).contains(&d9), "{d9}");
            let huge = r.delay(u32::MAX).as_millis();
            assert!((500..=1_000).contains(&huge), "{huge}");
        }
    }

    #[test]
    fn attempts_are_counted_from_one() {
        let r = RetrySettings {
            max_attempts: 3,
            ..RetrySettings::default()
        };
        assert!(r.allows_another(1));
        assert!(r.allows_another(2));
        assert!(!r.allows_another(3));
        let zero = RetrySettings {
            max_attempts: 0,
            ..RetrySettings::default()
        };
        assert!(!zero.allows_another(1));
    }
}
