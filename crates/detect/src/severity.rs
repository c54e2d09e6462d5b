//! From bits of evidence to GuardDuty's 1-10 severity.
//!
//! Piecewise linear through `(0, 0)`, `(low_bits, 1)`, `(medium_bits, 4)`,
//! `(high_bits, 7)`, `(critical_bits, 9)`, then one point per half of the
//! High-to-Critical span, capped at 10. Rule and sequence floors are applied afterwards.

use crate::config::SeverityConfig;

/// Severity of `bits` of combined evidence, 0 to 10 (below 1 is "not a finding").
pub fn of_bits(bits: f64, cfg: &SeverityConfig) -> f64 {
    let pts = [
        (0.0, 0.0),
        (cfg.low_bits, 1.0),
        (cfg.medium_bits, 4.0),
        (cfg.high_bits, 7.0),
        (cfg.critical_bits, 9.0),
    ];
    if !bits.is_finite() || bits <= 0.0 {
        return if bits.is_finite() || bits.is_nan() {
            0.0
        } else {
            10.0
        };
    }
    for w in pts.windows(2) {
        let ((b0, s0), (b1, s1)) = (w[0], w[1]);
        if bits <= b1 {
            return s0 + (s1 - s0) * (bits - b0) / (b1 - b0).max(f64::MIN_POSITIVE);
        }
    }
    let span = ((cfg.critical_bits - cfg.high_bits) / 2.0).max(f64::MIN_POSITIVE);
    (9.0 + (bits - cfg.critical_bits) / span).min(10.0)
}

/// Round a severity to one decimal, as GuardDuty reports it.
pub fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Severity;

    #[test]
    fn breakpoints_map_to_band_edges() {
        let c = SeverityConfig::default();
        assert_eq!(of_bits(0.0, &c), 0.0);
        assert!((of_bits(c.low_bits, &c) - 1.0).abs() < 1e-9);
        assert_eq!(Severity::of(of_bits(c.medium_bits, &c)), Severity::Medium);
        assert_eq!(
            Severity::of(of_bits(c.medium_bits - 0.1, &c)),
            Severity::Low
        );
        assert_eq!(Severity::of(of_bits(c.high_bits, &c)), Severity::High);
        assert_eq!(
            Severity::of(of_bits(c.high_bits - 0.1, &c)),
            Severity::Medium
        );
        assert_eq!(
            Severity::of(of_bits(c.critical_bits, &c)),
            Severity::Critical
        );
        assert_eq!(of_bits(1e6, &c), 10.0);
        assert_eq!(of_bits(f64::INFINITY, &c), 10.0);
        assert_eq!(of_bits(f64::NAN, &c), 0.0);
    }

    #[test]
    fn monotone() {
        let c = SeverityConfig::default();
        let mut last = 0.0;
        for i in 0..1000 {
            let s = of_bits(f64::from(i) * 0.1, &c);
            assert!(s >= last);
            last = s;
        }
    }
}
