//! Hourly Bedrock call volume judged by the tail of a fitted negative binomial.
//!
//! The baseline keeps decayed moments of completed hourly counts (zero hours included).
//! The mean and variance are shrunk towards a Poisson prior (`prior_calls_per_hour`,
//! weight `prior_hours`); the negative binomial is fitted by moments with its shape
//! capped at `max_shape` (hourly use is never assumed more regular than that), and the
//! call count of the current hour `x` is judged by `P(X >= x)`.

use statrs::distribution::{DiscreteCDF, NegativeBinomial};

use crate::config::VolumeConfig;

/// A volume judgement.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VolumeScore {
    /// Bedrock calls in the current hour so far.
    pub calls: u32,
    /// Fitted mean calls per hour.
    pub mean: f64,
    /// Tail probability `P(X >= calls)`.
    pub tail: f64,
    /// `-log2 tail`.
    pub bits: f64,
}

/// The fitted distribution's mean and shape, from decayed history `(hours, mean, var)`.
pub fn fit(hours: f64, mean: f64, var: f64, cfg: &VolumeConfig) -> (f64, f64) {
    let n = hours.max(0.0);
    let ph = cfg.prior_hours;
    let pm = cfg.prior_calls_per_hour;
    let m = (n * mean + ph * pm) / (n + ph);
    // Second moment shrunk the same way; the prior contributes a Poisson variance.
    let ex2 = (n * (var + mean * mean) + ph * (pm + pm * pm)) / (n + ph);
    let v = (ex2 - m * m).max(m);
    let r = if v > m {
        (m * m / (v - m)).min(cfg.max_shape)
    } else {
        cfg.max_shape
    };
    (m, r.max(1e-3))
}

/// Judge `calls` in the current hour against history, or `None` when the rule says not to.
pub fn judge(
    calls: u32,
    hours: f64,
    mean: f64,
    var: f64,
    cfg: &VolumeConfig,
) -> Option<VolumeScore> {
    if hours < cfg.min_history_hours || calls < cfg.min_calls_per_hour.max(1) {
        return None;
    }
    let (m, r) = fit(hours, mean, var, cfg);
    let p = r / (r + m);
    let nb = NegativeBinomial::new(r, p).ok()?;
    let tail = nb.sf(u64::from(calls) - 1).clamp(f64::MIN_POSITIVE, 1.0);
    Some(VolumeScore {
        calls,
        mean: m,
        tail,
        bits: -tail.log2(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_grows_with_calls_and_respects_min_rules() {
        let cfg = VolumeConfig::default();
        // Steady ~5 calls per hour, variance 10, two weeks of history.
        let a = judge(20, 300.0, 5.0, 10.0, &cfg).unwrap();
        let b = judge(200, 300.0, 5.0, 10.0, &cfg).unwrap();
        let c = judge(2000, 300.0, 5.0, 10.0, &cfg).unwrap();
        assert!(a.bits < b.bits && b.bits < c.bits, "{a:?} {b:?} {c:?}");
        assert!(a.bits < 8.0, "{a:?}");
        assert!(b.bits > 15.0, "{b:?}");
        assert!(c.bits > 40.0, "{c:?}");
        assert!(judge(19, 300.0, 5.0, 10.0, &cfg).is_none());
        assert!(judge(2000, 10.0, 5.0, 10.0, &cfg).is_none());
    }

    #[test]
    fn bursty_history_is_less_surprised() {
        let cfg = VolumeConfig::default();
        let steady = judge(100, 300.0, 10.0, 10.0, &cfg).unwrap();
        let bursty = judge(100, 300.0, 10.0, 400.0, &cfg).unwrap();
        assert!(bursty.bits < steady.bits / 2.0, "{steady:?} {bursty:?}");
    }

    #[test]
    fn tail_matches_the_distribution() {
        // r = 2 (the cap), mean 4: P(X >= 1) = 1 - (r/(r+m))^r.
        let cfg = VolumeConfig {
            prior_hours: 1e-9,
            min_calls_per_hour: 1,
            min_history_hours: 0.0,
            ..VolumeConfig::default()
        };
        let s = judge(1, 1000.0, 4.0, 4.0, &cfg).unwrap();
        let expected = 1.0 - (2.0f64 / 6.0).powi(2);
        assert!((s.tail - expected).abs() < 1e-6, "{} vs {expected}", s.tail);
    }
}
