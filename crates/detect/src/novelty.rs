//! Feature novelty: how probable each feature value of a call is under its baseline.
//!
//! The principal's predictive probability (decayed counts plus Good-Turing-style missing
//! mass, see [`crate::counter`]) is blended with the account's, so a value usual in the
//! account is less surprising. A principal still learning is judged by its account alone.
//! Surprise is `-log2 p`; bits below `novelty_free_bits` count for nothing, the rest are
//! weighted per feature and combined per correlated group (network: country, ASN, city;
//! client: family, version, generic flag): the strongest feature counts in full and the
//! others times `correlation_discount`, since a new country nearly always brings a new
//! ASN and city and is one piece of evidence, not three.

use serde::{Deserialize, Serialize};

use crate::config::DetectConfig;
use crate::counter::ValueOdds;
use crate::finding::{Bucket, FeatureExplanation};
use crate::observation::Observation;
use crate::profile::{Feature, FeatureValues, Profile};

/// Which baseline judged a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Baseline {
    /// The principal's own, blended with its account's.
    Principal,
    /// The account's: the principal is still learning.
    Account,
    /// None: the account is still learning too; only rules and sequences apply.
    None,
}

impl Baseline {
    /// `principal`, `account`, `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Principal => "principal",
            Self::Account => "account",
            Self::None => "none",
        }
    }
}

/// Correlated groups of features.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FeatureGroup {
    /// Country, ASN, city (and impossible travel).
    Network,
    /// User-agent family, version, generic flag.
    Client,
    /// A feature on its own.
    Own(Feature),
}

impl Feature {
    /// The correlated group of a feature.
    pub fn group(self) -> FeatureGroup {
        match self {
            Feature::Country | Feature::Asn | Feature::City => FeatureGroup::Network,
            Feature::UaFamily | Feature::UaVersion | Feature::GenericClient => FeatureGroup::Client,
            f => FeatureGroup::Own(f),
        }
    }

    /// Configured weight.
    pub fn weight(self, cfg: &DetectConfig) -> f64 {
        let w = &cfg.feature_weights;
        match self {
            Feature::Country => w.country,
            Feature::Asn => w.asn,
            Feature::City => w.city,
            Feature::UaFamily => w.ua_family,
            Feature::UaVersion => w.ua_version,
            Feature::GenericClient => w.generic_client,
            Feature::Credential => w.credential,
            Feature::Api => w.api,
            Feature::Model => w.model,
            Feature::Region => w.region,
            Feature::Error => 0.0,
        }
    }
}

/// One feature of one call, scored.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureScore {
    /// Which feature.
    pub feature: Feature,
    /// The observed value.
    pub observed: String,
    /// Odds under the baseline that gives the bucket.
    pub odds: ValueOdds,
    /// Blended predictive probability.
    pub probability: f64,
    /// `-log2 probability`.
    pub surprise_bits: f64,
    /// Bits it contributes after the free allowance and its weight (before grouping).
    pub weighted_bits: f64,
    /// Bucket in the judging baseline.
    pub bucket: Bucket,
    /// Which baseline.
    pub baseline: Baseline,
    /// The judging baseline's usual values.
    pub usual: Vec<(String, f64)>,
}

impl FeatureScore {
    /// As a finding explains it.
    pub fn explain(&self) -> FeatureExplanation {
        FeatureExplanation {
            feature: self.feature.as_str().to_string(),
            observed: self.observed.clone(),
            count: round3(self.odds.count),
            share: round3(self.odds.share),
            bucket: self.bucket,
            surprise_bits: round3(self.surprise_bits),
            baseline: self.baseline.as_str().to_string(),
            usual: self.usual.clone(),
        }
    }
}

/// Round for output, so explanations do not carry float noise.
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Score every feature the call has against the judging baseline.
pub fn score(
    obs: &Observation,
    values: &FeatureValues,
    principal: &Profile,
    account: &Profile,
    baseline: Baseline,
    cfg: &DetectConfig,
) -> Vec<FeatureScore> {
    let hl = cfg.half_life_ms();
    let alpha = cfg.unseen_pseudo_count;
    let now = obs.event_time;
    let cuts = cfg.bucket_cuts();
    let mut out = Vec::new();
    for f in Feature::SCORED {
        let Some(v) = values.get(f.index()).and_then(|v| v.clone()) else {
            continue;
        };
        let (judge, probability) = match baseline {
            Baseline::Principal => {
                let p = principal.counts(f).odds(&v, now, hl, alpha);
                let a = account.counts(f);
                let prob = if a.is_empty() {
                    p.probability
                } else {
                    let pa = a.odds(&v, now, hl, alpha);
                    (1.0 - cfg.account_blend) * p.probability + cfg.account_blend * pa.probability
                };
                (principal.counts(f), prob)
            }
            Baseline::Account | Baseline::None => {
                let a = account.counts(f).odds(&v, now, hl, alpha);
                (account.counts(f), a.probability)
            }
        };
        let odds = judge.odds(&v, now, hl, alpha);
        let surprise_bits = -probability.max(f64::MIN_POSITIVE).log2();
        let weighted_bits = if baseline == Baseline::None {
            0.0
        } else {
            (surprise_bits - cfg.novelty_free_bits).max(0.0) * f.weight(cfg)
        };
        out.push(FeatureScore {
            feature: f,
            observed: v,
            odds,
            probability,
            surprise_bits,
            weighted_bits,
            bucket: cuts.bucket(odds.seen, odds.share),
            baseline,
            usual: judge
                .top(3)
                .into_iter()
                .map(|(k, _, s)| (k.clone(), round3(s)))
                .collect(),
        });
    }
    out
}

/// Combine weighted bits per correlated group: the strongest in full, the rest discounted.
/// `extra` adds members (impossible travel joins the network group).
pub fn combine(scores: &[FeatureScore], extra: &[(FeatureGroup, f64)], discount: f64) -> f64 {
    let mut groups: Vec<(FeatureGroup, Vec<f64>)> = Vec::new();
    let all = scores
        .iter()
        .map(|s| (s.feature.group(), s.weighted_bits))
        .chain(extra.iter().copied());
    for (g, b) in all {
        match groups.iter_mut().find(|(k, _)| *k == g) {
            Some((_, v)) => v.push(b),
            None => groups.push((g, vec![b])),
        }
    }
    groups
        .iter()
        .map(|(_, v)| {
            let max = v.iter().copied().fold(0.0, f64::max);
            let sum: f64 = v.iter().sum();
            max + discount * (sum - max)
        })
        .sum()
}
