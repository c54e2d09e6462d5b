//! Per-principal and per-account baselines: decayed counts per feature, hourly Bedrock
//! volume, first and last seen, and the last geolocated position.
//!
//! A [`Profile`] is what the store persists (serde). It is bounded: every feature keeps
//! at most `max_values_per_feature` values, counts are `f32`, and there is no map whose
//! iteration order could leak into an output.

use cloudtrail::time::{EpochMillis, hour_of_week};
use serde::{Deserialize, Serialize};
use smol_str::{SmolStr, SmolStrBuilder, ToSmolStr};

use crate::config::DetectConfig;
use crate::counter::{BucketCuts, DecayedCounts, key_hash};
use crate::finding::Bucket;
use crate::observation::{NetClass, Observation};

/// A feature of a call, as profiled and scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Feature {
    /// ISO country code.
    Country,
    /// `City, CC`.
    City,
    /// Autonomous system number.
    Asn,
    /// User-agent family.
    UaFamily,
    /// User-agent family and major version, `boto3/1`.
    UaVersion,
    /// `generic` or `sdk`.
    GenericClient,
    /// The client's operating system (`Windows`, `macOS`, `Linux`, ...): the device.
    UaOs,
    /// Credential class.
    Credential,
    /// `bedrock:InvokeModel` (Bedrock calls only).
    Api,
    /// Bedrock model id (Bedrock calls only).
    Model,
    /// AWS region.
    Region,
    /// Error code (failed calls only; not scored).
    Error,
}

impl Feature {
    /// Every feature, in display order.
    pub const ALL: [Feature; 12] = [
        Feature::Country,
        Feature::City,
        Feature::Asn,
        Feature::UaFamily,
        Feature::UaVersion,
        Feature::GenericClient,
        Feature::UaOs,
        Feature::Credential,
        Feature::Api,
        Feature::Model,
        Feature::Region,
        Feature::Error,
    ];

    /// The features scored for novelty on Bedrock calls.
    pub const SCORED: [Feature; 11] = [
        Feature::Country,
        Feature::Asn,
        Feature::City,
        Feature::UaFamily,
        Feature::UaVersion,
        Feature::GenericClient,
        Feature::UaOs,
        Feature::Credential,
        Feature::Api,
        Feature::Model,
        Feature::Region,
    ];

    /// Position in [`Feature::ALL`] and [`FeatureValues`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// Stable name, as in findings and config keys.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Country => "country",
            Self::City => "city",
            Self::Asn => "asn",
            Self::UaFamily => "ua_family",
            Self::UaVersion => "ua_version",
            Self::GenericClient => "generic_client",
            Self::UaOs => "ua_os",
            Self::Credential => "credential",
            Self::Api => "api",
            Self::Model => "model",
            Self::Region => "region",
            Self::Error => "error",
        }
    }

    /// The value of this feature in `obs`, when it has one.
    pub fn value(self, obs: &Observation) -> Option<String> {
        self.value_in(obs, None).map(String::from)
    }

    /// The value of this feature in `obs`: the observation's own string where the value
    /// appears in it verbatim (a clone, which copies nothing longer than a word or two),
    /// composed otherwise. `api`: the call's [`api_key`] when the caller has it already.
    pub(crate) fn value_in(self, obs: &Observation, api: Option<&SmolStr>) -> Option<SmolStr> {
        let public = obs.net_class == NetClass::Public;
        match self {
            Self::Country => obs.geo.country.clone().filter(|_| public),
            Self::City => match (&obs.geo.city, &obs.geo.country) {
                (Some(city), Some(cc)) if public => Some(joined(city, ", ", cc)),
                (Some(city), None) if public => Some(city.clone()),
                _ => None,
            },
            Self::Asn => obs.geo.asn.filter(|_| public).map(|a| a.to_smolstr()),
            Self::UaFamily => trimmed(&obs.client.family),
            Self::UaVersion => trimmed(&obs.client.family).map(|family| match &obs.client.major {
                Some(m) => joined(&family, "/", m),
                None => family,
            }),
            Self::GenericClient => trimmed(&obs.client.family)
                .map(|_| SmolStr::new_static(if obs.client.generic { "generic" } else { "sdk" })),
            Self::UaOs => obs.client.os.as_ref().and_then(trimmed),
            Self::Credential => Some(SmolStr::new_static(obs.credential.as_str())),
            Self::Api => obs
                .bedrock
                .is_some()
                .then(|| api.cloned().unwrap_or_else(|| api_key(obs))),
            Self::Model => obs.model_id.clone().filter(|_| obs.bedrock.is_some()),
            Self::Region => (!obs.region.is_empty()).then(|| obs.region.clone()),
            Self::Error => obs.error_code.clone(),
        }
    }
}

/// `s` without surrounding whitespace, or `None` when nothing is left.
fn trimmed(s: &SmolStr) -> Option<SmolStr> {
    match s.trim() {
        "" => None,
        t if t.len() == s.len() => Some(s.clone()),
        t => Some(SmolStr::new(t)),
    }
}

/// `a`, `sep`, `b`, built in place when short (most are): the composed feature values
/// and the API key are built for every call, and `format!` costs about 3.5x as much.
fn joined(a: &str, sep: &str, b: &str) -> SmolStr {
    let mut s = SmolStrBuilder::with_capacity(a.len() + sep.len() + b.len());
    s.push_str(a);
    s.push_str(sep);
    s.push_str(b);
    s.finish()
}

/// One feature's value of a call, with the hash its counters look it up by.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureValue {
    /// The value.
    pub text: SmolStr,
    /// [`key_hash`] of `text`, computed once for the four lookups of a scored call
    /// (scoring and learning, in the principal's and the account's counters).
    pub hash: u64,
}

impl FeatureValue {
    pub(crate) fn new(text: SmolStr) -> Self {
        Self {
            hash: key_hash(text.as_str()),
            text,
        }
    }
}

/// Every feature's value of one call, indexed by [`Feature::index`]: computed once and
/// shared by scoring and both baselines.
pub type FeatureValues = [Option<FeatureValue>; 12];

/// The values of every feature of `obs`.
pub fn feature_values(obs: &Observation) -> FeatureValues {
    Feature::ALL.map(|f| f.value_in(obs, None).map(FeatureValue::new))
}

/// `eventSource:eventName` with the `.amazonaws.com` suffix dropped: `bedrock:InvokeModel`.
pub fn api_key(obs: &Observation) -> SmolStr {
    let src = obs
        .event_source
        .strip_suffix(".amazonaws.com")
        .unwrap_or(&obs.event_source);
    joined(src, ":", &obs.event_name)
}

/// A geolocated position at a time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GeoFix {
    /// Latitude, degrees.
    pub lat: f32,
    /// Longitude, degrees.
    pub lon: f32,
    /// Accuracy radius, kilometres (0 when unknown).
    pub accuracy_km: u32,
    /// Event time.
    pub at_ms: EpochMillis,
}

/// Whether a latitude and longitude are a position on Earth.
pub fn valid_position(lat: f64, lon: f64) -> bool {
    (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon)
}

/// Hourly Bedrock call counts: the current hour plus decayed moments of completed hours.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HourlyVolume {
    /// Current hour, in hours since the epoch (0: none yet).
    pub hour: i64,
    /// Learned Bedrock calls in the current hour.
    pub current: u32,
    /// Decayed number of completed hours (zero-call hours included).
    pub hours: f32,
    /// Decayed sum of completed hourly counts.
    pub sum: f32,
    /// Decayed sum of squared completed hourly counts.
    pub sum_sq: f32,
    /// Largest completed hourly count ever seen.
    pub max: u32,
}

/// The hour index of an event time.
pub fn hour_index(ms: EpochMillis) -> i64 {
    ms.div_euclid(3_600_000)
}

impl HourlyVolume {
    /// Count one Bedrock call at `at_ms`.
    pub fn observe(&mut self, at_ms: EpochMillis, half_life_ms: f64) {
        let h = hour_index(at_ms);
        if self.hour == 0 && self.current == 0 && self.hours == 0.0 {
            self.hour = h;
        }
        if h > self.hour {
            self.roll_to(h, half_life_ms);
        }
        // Calls of an hour already rolled are counted into the current one: late events
        // are rare and this keeps state to one open hour.
        self.current = self.current.saturating_add(1);
    }

    /// Close the current hour and every empty hour up to `h`.
    fn roll_to(&mut self, h: i64, half_life_ms: f64) {
        let lambda = (-3_600_000.0 / half_life_ms.max(1.0)).exp2();
        let x = f64::from(self.current);
        let mut hours = f64::from(self.hours) * lambda + 1.0;
        let mut sum = f64::from(self.sum) * lambda + x;
        let mut sum_sq = f64::from(self.sum_sq) * lambda + x * x;
        let gap = (h - self.hour - 1).clamp(0, 1_000_000) as i32;
        if gap > 0 {
            let lg = lambda.powi(gap);
            hours = hours * lg + (1.0 - lg) / (1.0 - lambda);
            sum *= lg;
            sum_sq *= lg;
        }
        self.hours = hours as f32;
        self.sum = sum as f32;
        self.sum_sq = sum_sq as f32;
        self.max = self.max.max(self.current);
        self.hour = h;
        self.current = 0;
    }

    /// Decayed history, mean and variance of completed hours, as of hour `h`.
    pub fn moments_at(&self, h: i64, half_life_ms: f64) -> (f64, f64, f64) {
        let mut v = self.clone();
        if h > v.hour && (v.hour != 0 || v.current != 0) {
            v.roll_to(h, half_life_ms);
        }
        let n = f64::from(v.hours);
        if n <= 0.0 {
            return (0.0, 0.0, 0.0);
        }
        let mean = f64::from(v.sum) / n;
        let var = (f64::from(v.sum_sq) / n - mean * mean).max(0.0);
        (n, mean, var)
    }
}

/// A baseline: one principal's, or one account's.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// Events learned (not decayed).
    pub events: u64,
    /// Bedrock calls learned (not decayed).
    pub bedrock_calls: u64,
    /// Event time of the first event learned.
    pub first_seen_ms: EpochMillis,
    /// Event time of the latest event learned.
    pub last_seen_ms: EpochMillis,
    /// Countries.
    pub country: DecayedCounts<SmolStr>,
    /// Cities.
    pub city: DecayedCounts<SmolStr>,
    /// Autonomous systems.
    pub asn: DecayedCounts<SmolStr>,
    /// User-agent families.
    pub ua_family: DecayedCounts<SmolStr>,
    /// User-agent families with major version.
    pub ua_version: DecayedCounts<SmolStr>,
    /// Generic client or SDK.
    pub generic_client: DecayedCounts<SmolStr>,
    /// Client operating systems.
    #[serde(default)]
    pub ua_os: DecayedCounts<SmolStr>,
    /// Credential classes.
    pub credential: DecayedCounts<SmolStr>,
    /// Bedrock APIs.
    pub api: DecayedCounts<SmolStr>,
    /// Bedrock models.
    pub model: DecayedCounts<SmolStr>,
    /// Regions.
    pub region: DecayedCounts<SmolStr>,
    /// Regions of Bedrock calls.
    pub bedrock_region: DecayedCounts<SmolStr>,
    /// Error codes.
    pub error: DecayedCounts<SmolStr>,
    /// Hours of the week (0 = Monday 00 UTC).
    pub hour_of_week: DecayedCounts<u8>,
    /// The last geolocated position.
    pub last_fix: Option<GeoFix>,
    /// Hourly Bedrock calls.
    pub volume: HourlyVolume,
    /// Largest number of regions with Bedrock calls inside one fan-out window.
    pub max_fanout: u8,
}

impl Profile {
    /// The counts of one feature.
    pub fn counts(&self, f: Feature) -> &DecayedCounts<SmolStr> {
        match f {
            Feature::Country => &self.country,
            Feature::City => &self.city,
            Feature::Asn => &self.asn,
            Feature::UaFamily => &self.ua_family,
            Feature::UaVersion => &self.ua_version,
            Feature::GenericClient => &self.generic_client,
            Feature::UaOs => &self.ua_os,
            Feature::Credential => &self.credential,
            Feature::Api => &self.api,
            Feature::Model => &self.model,
            Feature::Region => &self.region,
            Feature::Error => &self.error,
        }
    }

    /// Loads a word from every cache line of this profile's counters and returns them
    /// mixed, for `std::hint::black_box`. A caller about to work on several profiles
    /// that are not in cache touches them all first: these loads do not depend on each
    /// other, so the processor waits for their cache misses together rather than one
    /// after another as the updates, each a chain of dependent loads, would.
    pub fn touch(&self) -> u64 {
        Feature::ALL.iter().fold(self.hour_of_week.touch(), |m, f| {
            m ^ self.counts(*f).touch()
        })
    }

    fn counts_mut(&mut self, f: Feature) -> &mut DecayedCounts<SmolStr> {
        match f {
            Feature::Country => &mut self.country,
            Feature::City => &mut self.city,
            Feature::Asn => &mut self.asn,
            Feature::UaFamily => &mut self.ua_family,
            Feature::UaVersion => &mut self.ua_version,
            Feature::GenericClient => &mut self.generic_client,
            Feature::UaOs => &mut self.ua_os,
            Feature::Credential => &mut self.credential,
            Feature::Api => &mut self.api,
            Feature::Model => &mut self.model,
            Feature::Region => &mut self.region,
            Feature::Error => &mut self.error,
        }
    }

    /// Learn one event into a principal's baseline.
    pub fn observe(&mut self, obs: &Observation, cfg: &DetectConfig) {
        self.observe_capped(obs, cfg, cfg.max_values_per_feature as usize);
    }

    /// Learn one event, keeping at most `cap` values per feature (accounts use a larger cap).
    pub fn observe_capped(&mut self, obs: &Observation, cfg: &DetectConfig, cap: usize) {
        self.observe_values(obs, &feature_values(obs), cfg, cap);
    }

    /// Learn one event whose feature values were already computed.
    pub fn observe_values(
        &mut self,
        obs: &Observation,
        values: &FeatureValues,
        cfg: &DetectConfig,
        cap: usize,
    ) {
        let t = obs.event_time;
        let hl = cfg.half_life_ms();
        if self.events == 0 {
            self.first_seen_ms = t;
            self.last_seen_ms = t;
        }
        self.first_seen_ms = self.first_seen_ms.min(t);
        self.last_seen_ms = self.last_seen_ms.max(t);
        self.events = self.events.saturating_add(1);
        for (f, v) in Feature::ALL.iter().zip(values) {
            if let Some(v) = v {
                self.counts_mut(*f)
                    .observe_hashed(v.text.as_str(), v.hash, t, hl, cap);
            }
        }
        self.hour_of_week
            .observe(&hour_of_week(t), t, hl, cap.max(24));
        if let (Some(lat), Some(lon)) = (obs.geo.latitude, obs.geo.longitude) {
            let newer = self.last_fix.is_none_or(|f| f.at_ms <= t);
            if obs.net_class == NetClass::Public && newer && valid_position(lat, lon) {
                self.last_fix = Some(GeoFix {
                    lat: lat as f32,
                    lon: lon as f32,
                    accuracy_km: obs.geo.accuracy_km.unwrap_or(0),
                    at_ms: t,
                });
            }
        }
        if obs.bedrock.is_some() {
            self.bedrock_calls = self.bedrock_calls.saturating_add(1);
            self.volume.observe(t, hl);
            // The region feature's value is the call's region, hashed already.
            if let Some(Some(region)) = values.get(Feature::Region.index()) {
                self.bedrock_region
                    .observe_hashed(region.text.as_str(), region.hash, t, hl, cap);
            }
        }
    }

    /// Whether this baseline is too young to judge by at `now_ms`.
    pub fn is_learning(&self, now_ms: EpochMillis, cfg: &DetectConfig) -> bool {
        let days = (now_ms - self.first_seen_ms) as f64 / 86_400_000.0;
        self.events < u64::from(cfg.learning_min_events) || days < f64::from(cfg.learning_min_days)
    }

    /// What `bedguard profile show` prints.
    pub fn summary(&self, now_ms: EpochMillis, cfg: &DetectConfig) -> ProfileSummary {
        let hl = cfg.half_life_ms();
        let cuts = cfg.bucket_cuts();
        let features = Feature::ALL
            .iter()
            .map(|&f| {
                let c = self.counts(f);
                FeatureSummary {
                    feature: f.as_str().to_string(),
                    decayed_total: c.total_at(now_ms, hl),
                    distinct: c.distinct,
                    unseen_probability: c.missing_mass(now_ms, hl, cfg.unseen_pseudo_count),
                    top: c
                        .top(usize::MAX)
                        .into_iter()
                        .map(|(v, _, share)| ValueSummary {
                            value: v.to_string(),
                            count: c.count(v).unwrap_or(0.0)
                                * crate::counter::decay_factor(now_ms - c.last_update_ms, hl),
                            share,
                            bucket: cuts.bucket(true, share),
                        })
                        .collect(),
                }
            })
            .collect();
        let (hours, mean, var) = self.volume.moments_at(hour_index(now_ms), hl);
        ProfileSummary {
            learning: self.is_learning(now_ms, cfg),
            events: self.events,
            bedrock_calls: self.bedrock_calls,
            first_seen_ms: self.first_seen_ms,
            last_seen_ms: self.last_seen_ms,
            last_fix: self.last_fix,
            volume: VolumeSummary {
                history_hours: hours,
                mean_per_hour: mean,
                var_per_hour: var,
                max_per_hour: self.volume.max,
            },
            features,
        }
    }
}

impl DetectConfig {
    /// The bucket thresholds.
    pub fn bucket_cuts(&self) -> BucketCuts {
        BucketCuts {
            frequent: self.bucket_frequent_share,
            infrequent: self.bucket_infrequent_share,
        }
    }
}

/// A profile, summarised for people.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileSummary {
    /// Still in its learning period.
    pub learning: bool,
    /// Events learned.
    pub events: u64,
    /// Bedrock calls learned.
    pub bedrock_calls: u64,
    /// First event time.
    pub first_seen_ms: EpochMillis,
    /// Latest event time.
    pub last_seen_ms: EpochMillis,
    /// Last geolocated position.
    pub last_fix: Option<GeoFix>,
    /// Hourly Bedrock volume.
    pub volume: VolumeSummary,
    /// Per feature, heaviest values first.
    pub features: Vec<FeatureSummary>,
}

/// Hourly Bedrock volume, summarised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeSummary {
    /// Decayed number of completed hours.
    pub history_hours: f64,
    /// Decayed mean calls per hour.
    pub mean_per_hour: f64,
    /// Decayed variance of calls per hour.
    pub var_per_hour: f64,
    /// Largest hour.
    pub max_per_hour: u32,
}

/// One feature, summarised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureSummary {
    /// Feature name.
    pub feature: String,
    /// Decayed number of observations.
    pub decayed_total: f64,
    /// Distinct values ever seen.
    pub distinct: u32,
    /// Probability that the next value is one not tracked.
    pub unseen_probability: f64,
    /// Tracked values, heaviest first.
    pub top: Vec<ValueSummary>,
}

/// One value of a feature, summarised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValueSummary {
    /// The value.
    pub value: String,
    /// Decayed count.
    pub count: f64,
    /// Share of the feature's total.
    pub share: f64,
    /// FREQUENT, INFREQUENT or RARE.
    pub bucket: Bucket,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joined_values_are_written_as_format_writes_them() {
        assert_eq!(
            joined("Frankfurt am Main", ", ", "DE"),
            "Frankfurt am Main, DE"
        );
        assert_eq!(joined("", "/", ""), "/");
    }
}
