//! Feature novelty: how probable each feature value of a call is under its baseline.
//!
//! The principal's predictive probability (decayed counts plus Good-Turing-style missing
//! mass, see [`crate::counter`]) is blended with the account's, so a value usual in the
//! account is less surprising. A principal still learning is judged by its account alone.
//! Surprise is `-log2 p`. A value at most `novelty_free_bits` surprising is ordinary
//! variety and counts for nothing; a more surprising one counts in full, times its
//! feature's weight (the truncated product of p-values: only the small ones are
//! combined, each for what it is).
//!
//! Features are combined per *aspect*, a group of features that change together:
//! where (country, ASN, city, region, and impossible travel: a workload's source
//! address is in the region it runs in, a person calls the region near them), client
//! (family, version, generic flag, operating system), credential, and activity (API,
//! model). Inside an aspect the strongest feature counts in full and the others times
//! `correlation_discount`: a new country nearly always brings a new ASN and city, one
//! piece of evidence, not three. Independent aspects add, so two unseen aspects of a
//! principal with a long, stable history are jointly improbable. From the sum,
//! `novelty_call_allowance_bits` is taken once (with a dozen features looked at, some
//! value below 1/8 on some call is expected); and when only one aspect carries
//! evidence the result is capped at `single_aspect_max_bits`: a trip, a failover or a
//! new laptop alone stays Low, Medium needs corroboration.

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

/// Correlated groups of features: the aspects of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FeatureGroup {
    /// Where: country, ASN, city, region (and impossible travel).
    Network,
    /// User-agent family, version, generic flag, operating system.
    Client,
    /// What is done: Bedrock API and model.
    Activity,
    /// A feature on its own.
    Own(Feature),
}

impl Feature {
    /// The correlated group of a feature.
    pub fn group(self) -> FeatureGroup {
        match self {
            Feature::Country | Feature::Asn | Feature::City | Feature::Region => {
                FeatureGroup::Network
            }
            Feature::UaFamily | Feature::UaVersion | Feature::GenericClient | Feature::UaOs => {
                FeatureGroup::Client
            }
            Feature::Api | Feature::Model => FeatureGroup::Activity,
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
            Feature::UaOs => w.ua_os,
            Feature::Credential => w.credential,
            Feature::Api => w.api,
            Feature::Model => w.model,
            Feature::Region => w.region,
            Feature::Error => 0.0,
        }
    }
}

/// One feature of one call, scored: numbers only, borrowing the observed value, so
/// that scoring a quiet call allocates nothing per feature. [`FeatureScore::explain`]
/// turns it into words when a finding (or a caller asking for every judgement) needs
/// them.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureScore<'v> {
    /// Which feature.
    pub feature: Feature,
    /// The observed value.
    pub observed: &'v str,
    /// Odds under the baseline that gives the bucket.
    pub odds: ValueOdds,
    /// Blended predictive probability.
    pub probability: f64,
    /// `-log2 probability`.
    pub surprise_bits: f64,
    /// Bits it contributes: its weighted surprise when above the free allowance, else 0
    /// (before grouping).
    pub weighted_bits: f64,
    /// Bucket in the judging baseline.
    pub bucket: Bucket,
    /// Which baseline.
    pub baseline: Baseline,
}

impl FeatureScore<'_> {
    /// The judging baseline's usual values (its three heaviest, with their shares),
    /// from the profiles the call was scored against, before it is learned.
    pub fn usual(&self, principal: &Profile, account: &Profile) -> Vec<(String, f64)> {
        let judge = match self.baseline {
            Baseline::Principal => principal.counts(self.feature),
            Baseline::Account | Baseline::None => account.counts(self.feature),
        };
        judge
            .top(3)
            .into_iter()
            .map(|(k, _, s)| (k.to_string(), round3(s)))
            .collect()
    }

    /// As a finding explains it.
    pub fn explain(&self, principal: &Profile, account: &Profile) -> FeatureExplanation {
        FeatureExplanation {
            feature: self.feature.as_str().to_string(),
            observed: self.observed.to_string(),
            count: round3(self.odds.count),
            share: round3(self.odds.share),
            bucket: self.bucket,
            surprise_bits: round3(self.surprise_bits),
            baseline: self.baseline.as_str().to_string(),
            usual: self.usual(principal, account),
        }
    }
}

/// Round for output, so explanations do not carry float noise.
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Score every feature the call has against the judging baseline.
pub fn score<'v>(
    obs: &Observation,
    values: &'v FeatureValues,
    principal: &Profile,
    account: &Profile,
    baseline: Baseline,
    cfg: &DetectConfig,
) -> Vec<FeatureScore<'v>> {
    let hl = cfg.half_life_ms();
    let alpha = cfg.unseen_pseudo_count;
    let now = obs.event_time;
    let cuts = cfg.bucket_cuts();
    let mut out = Vec::with_capacity(Feature::SCORED.len());
    for f in Feature::SCORED {
        let Some(fv) = values.get(f.index()).and_then(Option::as_ref) else {
            continue;
        };
        let (v, h) = (fv.text.as_str(), fv.hash);
        // The judging baseline's odds are computed once and reused: `odds` is pure, so
        // asking again would give the same bits.
        let (odds, probability) = match baseline {
            Baseline::Principal => {
                let p = principal.counts(f).odds_hashed(v, h, now, hl, alpha);
                let a = account.counts(f);
                let prob = if a.is_empty() {
                    p.probability
                } else {
                    let pa = a.odds_hashed(v, h, now, hl, alpha);
                    (1.0 - cfg.account_blend) * p.probability + cfg.account_blend * pa.probability
                };
                (p, prob)
            }
            Baseline::Account | Baseline::None => {
                let a = account.counts(f).odds_hashed(v, h, now, hl, alpha);
                (a, a.probability)
            }
        };
        let surprise_bits = -probability.max(f64::MIN_POSITIVE).log2();
        let weighted_bits = if baseline == Baseline::None || surprise_bits <= cfg.novelty_free_bits
        {
            0.0
        } else {
            surprise_bits * f.weight(cfg)
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
        });
    }
    out
}

/// A call's combined novelty.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Combined {
    /// Bits, after the call allowance and the single-aspect cap.
    pub bits: f64,
    /// Aspects (correlated groups) that carried evidence.
    pub aspects: usize,
    /// Whether the single-aspect cap lowered `bits`.
    pub capped: bool,
}

/// Combine weighted bits per correlated group (the strongest in full, the rest
/// discounted), add the groups, take the call allowance once, and cap a lone aspect.
/// `extra` adds members (impossible travel joins the network group).
pub fn combine(
    scores: &[FeatureScore],
    extra: &[(FeatureGroup, f64)],
    cfg: &DetectConfig,
) -> Combined {
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
    let per_group: Vec<f64> = groups
        .iter()
        .map(|(_, v)| {
            let max = v.iter().copied().fold(0.0, f64::max);
            let sum: f64 = v.iter().sum();
            max + cfg.correlation_discount * (sum - max)
        })
        .collect();
    let aspects = per_group.iter().filter(|b| **b > 0.0).count();
    let bits = (per_group.iter().sum::<f64>() - cfg.novelty_call_allowance_bits).max(0.0);
    let capped = aspects <= 1 && bits > cfg.single_aspect_max_bits;
    Combined {
        bits: if capped {
            cfg.single_aspect_max_bits
        } else {
            bits
        },
        aspects,
        capped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::counter::ValueOdds;

    fn fs(feature: Feature, weighted_bits: f64) -> FeatureScore<'static> {
        FeatureScore {
            feature,
            observed: "",
            odds: ValueOdds {
                count: 0.0,
                share: 0.0,
                probability: 1.0,
                seen: false,
            },
            probability: 1.0,
            surprise_bits: weighted_bits,
            weighted_bits,
            bucket: Bucket::Unseen,
            baseline: Baseline::Principal,
        }
    }

    #[test]
    fn aspects_group_the_features_that_move_together() {
        for f in [
            Feature::Country,
            Feature::Asn,
            Feature::City,
            Feature::Region,
        ] {
            assert_eq!(f.group(), FeatureGroup::Network, "{f:?}");
        }
        for f in [
            Feature::UaFamily,
            Feature::UaVersion,
            Feature::GenericClient,
            Feature::UaOs,
        ] {
            assert_eq!(f.group(), FeatureGroup::Client, "{f:?}");
        }
        assert_eq!(Feature::Api.group(), FeatureGroup::Activity);
        assert_eq!(Feature::Model.group(), FeatureGroup::Activity);
        assert_eq!(
            Feature::Credential.group(),
            FeatureGroup::Own(Feature::Credential)
        );
    }

    #[test]
    fn independent_aspects_add_and_pay_the_allowance_once() {
        let cfg = DetectConfig::default();
        // Two unseen aspects of a stable principal (~8 bits each): jointly Medium.
        let c = combine(&[fs(Feature::Asn, 8.0), fs(Feature::UaOs, 8.0)], &[], &cfg);
        assert_eq!(c.aspects, 2);
        assert!(!c.capped);
        assert!((c.bits - (16.0 - cfg.novelty_call_allowance_bits)).abs() < 1e-9);
        assert!(c.bits >= cfg.severity.medium_bits);
        // Inside an aspect: the strongest in full, the rest discounted.
        let c = combine(
            &[
                fs(Feature::Country, 8.0),
                fs(Feature::Asn, 6.0),
                fs(Feature::UaOs, 5.0),
            ],
            &[],
            &cfg,
        );
        let want = 8.0 + cfg.correlation_discount * 6.0 + 5.0 - cfg.novelty_call_allowance_bits;
        assert!((c.bits - want).abs() < 1e-9, "{c:?}");
        // Nothing surprising: nothing.
        let c = combine(&[fs(Feature::Asn, 0.0), fs(Feature::Model, 0.0)], &[], &cfg);
        assert_eq!((c.bits, c.aspects), (0.0, 0));
    }

    #[test]
    fn one_aspect_alone_is_capped_below_medium() {
        let cfg = DetectConfig::default();
        // A failover: new ASN, city and region, and an "impossible" jump between
        // datacentres: all one change of place.
        let c = combine(
            &[
                fs(Feature::Asn, 9.0),
                fs(Feature::City, 4.5),
                fs(Feature::Region, 6.5),
            ],
            &[(FeatureGroup::Network, cfg.travel.bits)],
            &cfg,
        );
        assert_eq!(c.aspects, 1);
        assert!(c.capped);
        assert_eq!(c.bits, cfg.single_aspect_max_bits);
        assert!(c.bits < cfg.severity.medium_bits);
    }
}
