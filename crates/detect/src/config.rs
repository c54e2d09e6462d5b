//! Detector configuration: every threshold and weight, with documented defaults.
//!
//! Loaded from the `[detect]` table of `bedguard.toml`. Unknown keys are errors;
//! [`DetectConfig::validate`] lists every problem with its key path. `docs/detection.md`
//! explains each default.

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// One problem in a configuration: where, and what.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{key}: {message}")]
pub struct ConfigError {
    /// Key path inside `[detect]`, e.g. `volume.min_calls_per_hour`.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

/// The detector's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectConfig {
    /// Half-life of every decayed count (14 days).
    pub half_life_secs: u64,
    /// A principal (or account) with fewer events is still learning (100).
    pub learning_min_events: u32,
    /// A principal (or account) seen for fewer days is still learning (7).
    pub learning_min_days: u32,
    /// Distinct values tracked per feature of a principal (8).
    pub max_values_per_feature: u32,
    /// Distinct values tracked per feature of an account (32).
    pub account_max_values_per_feature: u32,
    /// Pseudo-count added to the missing mass (0.5): a fresh baseline is never sure.
    pub unseen_pseudo_count: f64,
    /// Share at or above which a value is FREQUENT (0.2).
    pub bucket_frequent_share: f64,
    /// Share at or above which a value is INFREQUENT, below it RARE (0.02).
    pub bucket_infrequent_share: f64,
    /// Weight of the account's probability in the blend with the principal's (0.2).
    pub account_blend: f64,
    /// A feature value this unsurprising or less is ordinary variety and counts for
    /// nothing; a more surprising one counts in full (3 bits: p >= 1/8).
    pub novelty_free_bits: f64,
    /// Subtracted once from a call's combined novelty (3 bits): with a dozen features
    /// looked at, one value below 1/8 on some call is expected, not evidence.
    pub novelty_call_allowance_bits: f64,
    /// Novelty from a single aspect (where, client, credential, activity) never exceeds
    /// this (10 bits: Low): a trip, a failover or a new laptop alone is not Medium;
    /// Medium needs a second, independent aspect, or volume, fan-out, a rule or a sequence.
    pub single_aspect_max_bits: f64,
    /// Weight of all but the strongest feature inside a correlated group (0.3).
    pub correlation_discount: f64,
    /// Per-feature weights of novelty.
    pub feature_weights: FeatureWeights,
    /// Hourly Bedrock call volume.
    pub volume: VolumeConfig,
    /// Bedrock calls across many regions.
    pub fanout: FanoutConfig,
    /// Impossible travel between geolocated calls.
    pub travel: TravelConfig,
    /// The account's familiar S3 buckets, against which job outputs are judged.
    pub buckets: BucketsConfig,
    /// Windows of the catalogue's sequences.
    pub sequences: SequenceConfig,
    /// From bits to severity.
    pub severity: SeverityConfig,
    /// Folding repeated anomalies into one finding.
    pub aggregation: AggregationConfig,
    /// Allowlists and suppression rules.
    pub suppression: SuppressionConfig,
    /// Keeping attacks out of the baseline.
    pub poisoning: PoisoningConfig,
}

impl Default for DetectConfig {
    fn default() -> Self {
        Self {
            half_life_secs: 14 * 86_400,
            learning_min_events: 100,
            learning_min_days: 7,
            max_values_per_feature: 8,
            account_max_values_per_feature: 32,
            unseen_pseudo_count: 0.5,
            bucket_frequent_share: 0.2,
            bucket_infrequent_share: 0.02,
            account_blend: 0.2,
            novelty_free_bits: 3.0,
            novelty_call_allowance_bits: 3.0,
            single_aspect_max_bits: 10.0,
            correlation_discount: 0.3,
            feature_weights: FeatureWeights::default(),
            volume: VolumeConfig::default(),
            fanout: FanoutConfig::default(),
            travel: TravelConfig::default(),
            buckets: BucketsConfig::default(),
            sequences: SequenceConfig::default(),
            severity: SeverityConfig::default(),
            aggregation: AggregationConfig::default(),
            suppression: SuppressionConfig::default(),
            poisoning: PoisoningConfig::default(),
        }
    }
}

/// Weight of each feature's surprise (0 turns a feature off).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FeatureWeights {
    /// Country (1.0).
    pub country: f64,
    /// Autonomous system (1.0).
    pub asn: f64,
    /// City (0.5: cities move with mobile and CGNAT address pools).
    pub city: f64,
    /// User-agent family (1.0).
    pub ua_family: f64,
    /// User-agent family and major version (0.25: upgrades are routine).
    pub ua_version: f64,
    /// Generic HTTP client rather than an SDK (1.0).
    pub generic_client: f64,
    /// Client operating system, the device (1.0: a platform does not churn routinely).
    pub ua_os: f64,
    /// Credential class (1.0).
    pub credential: f64,
    /// Bedrock API (0.5).
    pub api: f64,
    /// Model id (0.5: teams try new models).
    pub model: f64,
    /// Region (0.75).
    pub region: f64,
}

impl Default for FeatureWeights {
    fn default() -> Self {
        Self {
            country: 1.0,
            asn: 1.0,
            city: 0.5,
            ua_family: 1.0,
            ua_version: 0.25,
            generic_client: 1.0,
            ua_os: 1.0,
            credential: 1.0,
            api: 0.5,
            model: 0.5,
            region: 0.75,
        }
    }
}

/// Hourly Bedrock call volume against a fitted negative binomial.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VolumeConfig {
    /// Volume is judged only with at least this much (decayed) history, in hours (72).
    pub min_history_hours: f64,
    /// Hours with fewer Bedrock calls are never volume anomalies (20).
    pub min_calls_per_hour: u32,
    /// Prior mean calls per hour, blended in with `prior_hours` of weight (1.0).
    pub prior_calls_per_hour: f64,
    /// Weight of the prior, in hours (24).
    pub prior_hours: f64,
    /// Upper bound of the negative binomial's shape `r` (2): the fit never believes
    /// hourly counts are more regular than this.
    pub max_shape: f64,
    /// Multiplier of surprise bits for volume (1.0).
    pub weight: f64,
}

impl Default for VolumeConfig {
    fn default() -> Self {
        Self {
            min_history_hours: 72.0,
            min_calls_per_hour: 20,
            prior_calls_per_hour: 1.0,
            prior_hours: 24.0,
            max_shape: 2.0,
            weight: 1.0,
        }
    }
}

/// Distinct regions with Bedrock calls inside a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FanoutConfig {
    /// Window length (3600).
    pub window_secs: u64,
    /// Fewer regions in the window never fire (3).
    pub min_regions: u32,
    /// Bits per region above the principal's historical maximum (6: about what an
    /// unseen value costs a principal with a few hundred active hours).
    pub bits_per_extra_region: f64,
}

impl Default for FanoutConfig {
    fn default() -> Self {
        Self {
            window_secs: 3600,
            min_regions: 3,
            bits_per_extra_region: 6.0,
        }
    }
}

/// Impossible travel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TravelConfig {
    /// Faster than this between two geolocated calls is impossible (1000 km/h).
    pub max_speed_kmh: f64,
    /// Shorter jumps (after subtracting both accuracy radii) never fire (500 km).
    pub min_distance_km: f64,
    /// Bits of surprise an impossible trip adds (8).
    pub bits: f64,
}

impl Default for TravelConfig {
    fn default() -> Self {
        Self {
            max_speed_kmh: 1000.0,
            min_distance_km: 500.0,
            bits: 8.0,
        }
    }
}

/// The S3 buckets an account is seen to use (see `detect::s3`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BucketsConfig {
    /// Half-life of bucket counts (7776000: 90 days). Buckets are used in slower
    /// rhythms than places and clients: a monthly training run still knows its bucket.
    pub half_life_secs: u64,
    /// Buckets tracked per account (64); the least used are forgotten first.
    pub max_per_account: u32,
    /// An account seen to use fewer buckets than this is not judged on unfamiliar
    /// output buckets (1): without any S3 visibility every bucket would be new.
    pub min_known: u32,
}

impl Default for BucketsConfig {
    fn default() -> Self {
        Self {
            half_life_secs: 90 * 86_400,
            max_per_account: 64,
            min_known: 1,
        }
    }
}

/// Windows of the catalogue's sequences.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SequenceConfig {
    /// Recon, then enablement, then the first invocation of a model, all within (86400).
    pub chain_window_secs: u64,
    /// An invocation this soon after a logging or guardrail change is joined to it (3600).
    pub after_change_window_secs: u64,
    /// Window of failed-call probing (600).
    pub probe_window_secs: u64,
    /// Failed Bedrock calls in the window before probing fires (10).
    pub probe_min_errors: u32,
    /// ... across at least this many models (3) or `probe_min_regions` regions.
    pub probe_min_models: u32,
    /// ... or at least this many regions (3).
    pub probe_min_regions: u32,
}

impl Default for SequenceConfig {
    fn default() -> Self {
        Self {
            chain_window_secs: 86_400,
            after_change_window_secs: 3600,
            probe_window_secs: 600,
            probe_min_errors: 10,
            probe_min_models: 3,
            probe_min_regions: 3,
        }
    }
}

/// From total bits of surprise to a 1-10 severity: piecewise linear between breakpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SeverityConfig {
    /// Bits that map to severity 1.0, the bottom of Low (6).
    pub low_bits: f64,
    /// Bits that map to 4.0, the bottom of Medium (11: two independent unseen
    /// features of a principal with a few hundred active hours).
    pub medium_bits: f64,
    /// Bits that map to 7.0, the bottom of High (26).
    pub high_bits: f64,
    /// Bits that map to 9.0, the bottom of Critical (44).
    pub critical_bits: f64,
    /// Findings below this severity are not emitted (4.0: Medium and up).
    pub min_emit: f64,
}

impl Default for SeverityConfig {
    fn default() -> Self {
        Self {
            low_bits: 5.0,
            medium_bits: 11.0,
            high_bits: 26.0,
            critical_bits: 44.0,
            min_emit: 4.0,
        }
    }
}

/// Folding repeated anomalies of one principal and type into one finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AggregationConfig {
    /// Anomalies within this long of a finding's first call fold into it (21600: 6 h).
    pub window_secs: u64,
    /// Event ids kept per finding, the latest (20).
    pub max_event_ids: u32,
}

impl Default for AggregationConfig {
    fn default() -> Self {
        Self {
            window_secs: 21_600,
            max_event_ids: 20,
        }
    }
}

/// Allowlists and expiring suppression rules.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SuppressionConfig {
    /// Source networks (`203.0.113.0/24`) whose calls never produce findings.
    pub allow_cidrs: Vec<String>,
    /// Autonomous systems whose calls never produce findings.
    pub allow_asns: Vec<u32>,
    /// Principal keys that never produce findings.
    pub allow_principals: Vec<String>,
    /// User-agent patterns (`*` matches anything) that never produce findings.
    pub allow_user_agents: Vec<String>,
    /// Narrower rules, each with an optional expiry.
    pub rules: Vec<SuppressionRule>,
}

/// A suppression rule: every given condition must match.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SuppressionRule {
    /// Name, reported in counts.
    pub name: String,
    /// Finding type pattern (`*` matches anything).
    pub finding_type: Option<String>,
    /// Principal key pattern.
    pub principal: Option<String>,
    /// Account id.
    pub account_id: Option<String>,
    /// Source network (`203.0.113.0/24`).
    pub cidr: Option<String>,
    /// Autonomous system.
    pub asn: Option<u32>,
    /// User-agent pattern.
    pub user_agent: Option<String>,
    /// Event time (RFC 3339) after which the rule no longer applies.
    pub expires: Option<String>,
}

/// Keeping attacks out of the baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PoisoningConfig {
    /// Whether events behind severe findings are kept out of the baseline (true).
    pub enabled: bool,
    /// Severity at or above which an event is not learned (7.0: High).
    pub min_severity: f64,
}

impl Default for PoisoningConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            min_severity: 7.0,
        }
    }
}

/// A CIDR (`10.0.0.0/8`) or a bare address (a /32 or /128).
pub fn parse_cidr(s: &str) -> Option<IpNet> {
    let s = s.trim();
    s.parse::<IpNet>()
        .ok()
        .or_else(|| s.parse::<std::net::IpAddr>().ok().map(IpNet::from))
}

impl DetectConfig {
    /// Parse a `[detect]` table.
    pub fn from_toml(s: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(s)
    }

    /// Half-life in milliseconds.
    pub fn half_life_ms(&self) -> f64 {
        self.half_life_secs as f64 * 1000.0
    }

    /// Every problem, with its key path; empty when the configuration is usable.
    pub fn validate(&self) -> Vec<ConfigError> {
        let mut errs = Vec::new();
        let mut bad = |key: &str, message: String| {
            errs.push(ConfigError {
                key: key.to_string(),
                message,
            });
        };
        let finite_pos = |x: f64| x.is_finite() && x > 0.0;
        let finite_nonneg = |x: f64| x.is_finite() && x >= 0.0;
        if self.half_life_secs == 0 {
            bad("half_life_secs", "must be positive".into());
        }
        if self.max_values_per_feature == 0 || self.max_values_per_feature > 1024 {
            bad(
                "max_values_per_feature",
                format!("{} is not in 1..=1024", self.max_values_per_feature),
            );
        }
        if self.account_max_values_per_feature == 0 || self.account_max_values_per_feature > 4096 {
            bad(
                "account_max_values_per_feature",
                format!("{} is not in 1..=4096", self.account_max_values_per_feature),
            );
        }
        if !finite_pos(self.unseen_pseudo_count) {
            bad("unseen_pseudo_count", "must be a positive number".into());
        }
        let unit = |x: f64| x.is_finite() && (0.0..=1.0).contains(&x);
        if !unit(self.bucket_frequent_share) {
            bad("bucket_frequent_share", "must be in 0..=1".into());
        }
        if !unit(self.bucket_infrequent_share)
            || self.bucket_infrequent_share > self.bucket_frequent_share
        {
            bad(
                "bucket_infrequent_share",
                "must be in 0..=bucket_frequent_share".into(),
            );
        }
        if !unit(self.account_blend) {
            bad("account_blend", "must be in 0..=1".into());
        }
        if !unit(self.correlation_discount) {
            bad("correlation_discount", "must be in 0..=1".into());
        }
        if !finite_nonneg(self.novelty_free_bits) {
            bad("novelty_free_bits", "must be a non-negative number".into());
        }
        if !finite_nonneg(self.novelty_call_allowance_bits) {
            bad(
                "novelty_call_allowance_bits",
                "must be a non-negative number".into(),
            );
        }
        if !finite_nonneg(self.single_aspect_max_bits) {
            bad(
                "single_aspect_max_bits",
                "must be a non-negative number".into(),
            );
        }
        let w = &self.feature_weights;
        for (k, v) in [
            ("country", w.country),
            ("asn", w.asn),
            ("city", w.city),
            ("ua_family", w.ua_family),
            ("ua_version", w.ua_version),
            ("generic_client", w.generic_client),
            ("ua_os", w.ua_os),
            ("credential", w.credential),
            ("api", w.api),
            ("model", w.model),
            ("region", w.region),
        ] {
            if !finite_nonneg(v) {
                bad(
                    &format!("feature_weights.{k}"),
                    "must be a non-negative number".into(),
                );
            }
        }
        let v = &self.volume;
        if !finite_nonneg(v.min_history_hours) {
            bad(
                "volume.min_history_hours",
                "must be a non-negative number".into(),
            );
        }
        if !finite_pos(v.prior_calls_per_hour) {
            bad(
                "volume.prior_calls_per_hour",
                "must be a positive number".into(),
            );
        }
        if !finite_pos(v.prior_hours) {
            bad("volume.prior_hours", "must be a positive number".into());
        }
        if !finite_pos(v.max_shape) {
            bad("volume.max_shape", "must be a positive number".into());
        }
        if !finite_nonneg(v.weight) {
            bad("volume.weight", "must be a non-negative number".into());
        }
        if self.fanout.window_secs == 0 {
            bad("fanout.window_secs", "must be positive".into());
        }
        if self.fanout.min_regions < 2 {
            bad("fanout.min_regions", "must be at least 2".into());
        }
        if !finite_nonneg(self.fanout.bits_per_extra_region) {
            bad(
                "fanout.bits_per_extra_region",
                "must be a non-negative number".into(),
            );
        }
        if !finite_pos(self.travel.max_speed_kmh) {
            bad("travel.max_speed_kmh", "must be a positive number".into());
        }
        if !finite_nonneg(self.travel.min_distance_km) {
            bad(
                "travel.min_distance_km",
                "must be a non-negative number".into(),
            );
        }
        if !finite_nonneg(self.travel.bits) {
            bad("travel.bits", "must be a non-negative number".into());
        }
        if self.buckets.half_life_secs == 0 {
            bad("buckets.half_life_secs", "must be positive".into());
        }
        if self.buckets.max_per_account == 0 || self.buckets.max_per_account > 4096 {
            bad(
                "buckets.max_per_account",
                format!("{} is not in 1..=4096", self.buckets.max_per_account),
            );
        }
        let s = &self.sequences;
        for (k, x) in [
            ("chain_window_secs", s.chain_window_secs),
            ("after_change_window_secs", s.after_change_window_secs),
            ("probe_window_secs", s.probe_window_secs),
        ] {
            if x == 0 {
                bad(&format!("sequences.{k}"), "must be positive".into());
            }
        }
        if s.probe_min_errors == 0 {
            bad("sequences.probe_min_errors", "must be positive".into());
        }
        let sv = &self.severity;
        let bps = [sv.low_bits, sv.medium_bits, sv.high_bits, sv.critical_bits];
        if bps.iter().any(|b| !finite_nonneg(*b)) || bps.windows(2).any(|w| w[0] >= w[1]) {
            bad(
                "severity",
                "low_bits < medium_bits < high_bits < critical_bits must hold, all non-negative"
                    .into(),
            );
        }
        if !(sv.min_emit.is_finite() && (1.0..=10.0).contains(&sv.min_emit)) {
            bad("severity.min_emit", "must be in 1..=10".into());
        }
        if self.aggregation.window_secs == 0 {
            bad("aggregation.window_secs", "must be positive".into());
        }
        if self.aggregation.max_event_ids == 0 {
            bad("aggregation.max_event_ids", "must be positive".into());
        }
        for (i, c) in self.suppression.allow_cidrs.iter().enumerate() {
            if parse_cidr(c).is_none() {
                bad(
                    &format!("suppression.allow_cidrs[{i}]"),
                    format!("{c:?} is not a CIDR or an address"),
                );
            }
        }
        for (i, r) in self.suppression.rules.iter().enumerate() {
            if let Some(c) = r.cidr.as_ref().filter(|c| parse_cidr(c).is_none()) {
                bad(
                    &format!("suppression.rules[{i}].cidr"),
                    format!("{c:?} is not a CIDR or an address"),
                );
            }
            if let Some(e) = r
                .expires
                .as_ref()
                .filter(|e| cloudtrail::time::parse_event_time(e).is_none())
            {
                bad(
                    &format!("suppression.rules[{i}].expires"),
                    format!("{e:?} is not an RFC 3339 time"),
                );
            }
            let empty = r.finding_type.is_none()
                && r.principal.is_none()
                && r.account_id.is_none()
                && r.cidr.is_none()
                && r.asn.is_none()
                && r.user_agent.is_none();
            if empty {
                bad(
                    &format!("suppression.rules[{i}]"),
                    "has no condition: it would suppress everything".into(),
                );
            }
        }
        if !(self.poisoning.min_severity.is_finite()
            && (1.0..=10.0).contains(&self.poisoning.min_severity))
        {
            bad("poisoning.min_severity", "must be in 1..=10".into());
        }
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(DetectConfig::default().validate(), vec![]);
    }

    #[test]
    fn shipped_defaults_file_is_the_default() {
        let s = include_str!("../../../models/detector.toml");
        assert_eq!(DetectConfig::from_toml(s).unwrap(), DetectConfig::default());
    }

    #[test]
    fn empty_toml_is_the_default_and_unknown_keys_fail() {
        assert_eq!(
            DetectConfig::from_toml("").unwrap(),
            DetectConfig::default()
        );
        assert!(DetectConfig::from_toml("half_life = 3").is_err());
        assert!(DetectConfig::from_toml("[volume]\nmin_calls = 3").is_err());
        let c = DetectConfig::from_toml("half_life_secs = 60\n[volume]\nmin_calls_per_hour = 5")
            .unwrap();
        assert_eq!(c.half_life_secs, 60);
        assert_eq!(c.volume.min_calls_per_hour, 5);
    }

    #[test]
    fn validate_lists_every_problem_with_its_key() {
        let mut c = DetectConfig {
            half_life_secs: 0,
            account_blend: 2.0,
            ..DetectConfig::default()
        };
        c.volume.prior_hours = -1.0;
        c.severity.high_bits = 1.0;
        c.suppression.rules.push(SuppressionRule {
            name: "x".into(),
            expires: Some("soon".into()),
            ..Default::default()
        });
        let keys: Vec<String> = c.validate().into_iter().map(|e| e.key).collect();
        assert_eq!(
            keys,
            vec![
                "half_life_secs",
                "account_blend",
                "volume.prior_hours",
                "severity",
                "suppression.rules[0].expires",
                "suppression.rules[0]"
            ]
        );
    }
}
