//! The detector: scores a call against its baselines, applies the catalogue, folds
//! anomalies into findings, suppresses, and learns unless the call is an attack.
//!
//! Pure and deterministic: state goes in and out by `&mut`, so the store can persist
//! it; the same calls in the same order give the same findings and ids.

use cloudtrail::time::format_rfc3339;
use serde::{Deserialize, Serialize};

use crate::call::Call;
use crate::catalogue::{Catalogue, DEFAULT_FINDING_TYPE, Group, When};
use crate::config::{ConfigError, DetectConfig};
use crate::finding::{
    Bucket, FeatureExplanation, Finding, FindingPrincipal, Network, Severity, Signal, SignalKind,
};
use crate::novelty::{self, Baseline, FeatureGroup, FeatureScore, round3};
use crate::observation::Observation;
use crate::profile::{FeatureValues, Profile, api_key, hour_index};
use crate::s3::{Buckets, OutputJudgement};
use crate::sequence::SequenceState;
use crate::severity::{of_bits, round1};
use crate::suppress::Suppressor;
use crate::travel;
use crate::volume;

/// Most API calls and models kept per finding.
const MAX_LIST: usize = 16;
/// Most access key ids kept per finding.
const MAX_KEYS: usize = 5;

/// A finding still open for aggregation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenFinding {
    /// The finding as last folded.
    pub finding: Finding,
    /// Severity at its last emission.
    pub emitted_severity: f64,
}

/// Everything the detector keeps per principal (serde; the store persists it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PrincipalState {
    /// The principal's baseline.
    pub profile: Profile,
    /// Short-term windows and sequences.
    pub seq: SequenceState,
    /// Findings open for aggregation.
    pub open: Vec<OpenFinding>,
}

/// Everything the detector keeps per account.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AccountState {
    /// The account's baseline.
    pub profile: Profile,
    /// The S3 buckets the account is seen to use (bounded by
    /// `buckets.max_per_account`).
    #[serde(default)]
    pub buckets: Buckets,
}

/// The detector's judgement of one scored call, emitted or not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assessment {
    /// The finding type it would have.
    pub finding_type: String,
    /// Severity, 0 to 10 (floors applied).
    pub severity: f64,
    /// Combined evidence, bits.
    pub bits: f64,
    /// Which baseline judged it.
    pub baseline: Baseline,
    /// Why, strongest first.
    pub signals: Vec<Signal>,
    /// Per feature.
    pub features: Vec<FeatureExplanation>,
    /// Event ids that contributed (this call's last).
    pub event_ids: Vec<String>,
}

/// What [`Detector::process`] decided about one call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// New findings and updates of open ones, to forward.
    pub findings: Vec<Finding>,
    /// Whether the call was learned into the baselines.
    pub learn: bool,
    /// Findings suppressed by this call (0 or 1).
    pub suppressed: u32,
    /// Why it was suppressed: `allow_cidrs`, ..., `rule:<name>`.
    pub suppressed_by: Option<String>,
    /// The judgement of a Bedrock or catalogued call at or above `severity.min_emit`
    /// (of every such call with [`Detector::explaining_every_call`]); `None` otherwise.
    pub assessment: Option<Assessment>,
}

/// The detection engine: configuration, catalogue and compiled suppressions.
#[derive(Debug, Clone)]
pub struct Detector {
    cfg: DetectConfig,
    catalogue: Catalogue,
    suppressor: Suppressor,
    /// Whether every judged call carries an [`Assessment`], not only those at or above
    /// `severity.min_emit` (tests and tools that study quiet calls).
    explain_every_call: bool,
}

/// One piece of evidence before it becomes a [`Signal`].
struct Evidence {
    kind: SignalKind,
    name: String,
    bits: f64,
    floor: f64,
    detail: String,
    label: String,
    finding_type: Option<String>,
}

impl Detector {
    /// A detector, or every problem with the configuration or catalogue.
    pub fn new(cfg: DetectConfig, catalogue: Catalogue) -> Result<Self, Vec<ConfigError>> {
        let mut errs = cfg.validate();
        errs.extend(catalogue.validate().into_iter().map(|e| ConfigError {
            key: format!("catalogue.{}", e.path),
            message: e.message,
        }));
        if !errs.is_empty() {
            return Err(errs);
        }
        let suppressor = Suppressor::new(&cfg.suppression);
        Ok(Self {
            cfg,
            catalogue,
            suppressor,
            explain_every_call: false,
        })
    }

    /// This detector, attaching an [`Assessment`] to the verdict of every judged call
    /// instead of only to calls at or above `severity.min_emit`. Findings and learning
    /// are the same either way; the words cost time on every call.
    pub fn explaining_every_call(mut self) -> Self {
        self.explain_every_call = true;
        self
    }

    /// The configuration.
    pub fn config(&self) -> &DetectConfig {
        &self.cfg
    }

    /// The catalogue.
    pub fn catalogue(&self) -> &Catalogue {
        &self.catalogue
    }

    /// Whether a call is scored: a Bedrock call, or any catalogued API.
    pub fn is_scored(&self, obs: &Observation) -> bool {
        obs.bedrock.is_some() || self.catalogue.knows(&api_key(obs))
    }

    /// Learn a call into both baselines without scoring it (backfill, warm-up).
    pub fn learn_only(
        &self,
        call: &Call,
        principal: &mut PrincipalState,
        account: &mut AccountState,
    ) {
        let obs = call.observation();
        if obs.bedrock.is_some() {
            let (_, closed) = principal.seq.count_hour(obs.event_time);
            fold_fanout(principal, closed);
            let regions = principal.seq.fan_out(obs, &self.cfg);
            principal.seq.hour_fanout = principal.seq.hour_fanout.max(regions.len().min(255) as u8);
        }
        self.learn_values(obs, call.values(), principal, account);
    }

    fn learn_values(
        &self,
        obs: &Observation,
        values: &FeatureValues,
        principal: &mut PrincipalState,
        account: &mut AccountState,
    ) {
        let cfg = &self.cfg;
        principal
            .profile
            .observe_values(obs, values, cfg, cfg.max_values_per_feature as usize);
        account.profile.observe_values(
            obs,
            values,
            cfg,
            cfg.account_max_values_per_feature as usize,
        );
        if !obs.s3.is_empty() {
            account.buckets.observe(
                &obs.s3,
                &obs.account_id,
                obs.event_time,
                cfg.buckets.half_life_secs as f64 * 1000.0,
                cfg.buckets.max_per_account as usize,
            );
        }
    }

    /// Score one call, fold it into findings, and learn it unless it is an attack.
    pub fn process(
        &self,
        call: &Call,
        principal: &mut PrincipalState,
        account: &mut AccountState,
    ) -> Verdict {
        let obs = call.observation();
        // The API key serves the catalogue lookups, the sequences, the `api` feature and
        // the finding: built once per call, with the call.
        let api = call.api();
        let group = self.catalogue.group_of(api);
        let values = call.values();
        if obs.bedrock.is_none() && group.is_none() {
            // Not scored (see `is_scored`): learned only.
            self.learn_values(obs, values, principal, account);
            return Verdict {
                learn: true,
                ..Verdict::default()
            };
        }
        let t = obs.event_time;
        let (hour_calls, regions) = if obs.bedrock.is_some() {
            let (calls, closed) = principal.seq.count_hour(t);
            fold_fanout(principal, closed);
            (calls, principal.seq.fan_out(obs, &self.cfg))
        } else {
            (0, Vec::new())
        };
        let model_is_new = obs
            .model_id
            .as_ref()
            .is_some_and(|m| principal.profile.model.count(m).is_none());
        let hits = principal.seq.advance(
            obs,
            api,
            group.map(|g| g.name.as_str()),
            model_is_new,
            &self.catalogue,
            &self.cfg,
        );
        let baseline = if !principal.profile.is_learning(t, &self.cfg) {
            Baseline::Principal
        } else if !account.profile.is_learning(t, &self.cfg) {
            Baseline::Account
        } else {
            Baseline::None
        };
        let features = novelty::score(
            obs,
            values,
            &principal.profile,
            &account.profile,
            baseline,
            &self.cfg,
        );
        let mut ev = Vec::new();
        let mut seq_ids = Vec::new();
        self.novelty_evidence(&features, &principal.profile, &account.profile, &mut ev);
        let travel = self.travel_evidence(obs, &principal.profile, &mut ev);
        let combined = novelty::combine(&features, &travel, &self.cfg);
        let novelty_bits = combined.bits;
        self.volume_evidence(obs, &principal.profile, hour_calls, &mut ev);
        self.fanout_evidence(&principal.profile, &regions, &mut ev);
        self.catalogue_evidence(obs, api, group, account, baseline, &mut ev);
        for h in &hits {
            if let Some(s) = self.catalogue.sequences.get(h.index) {
                ev.push(Evidence {
                    kind: SignalKind::Sequence,
                    name: s.id.clone(),
                    bits: s.bits,
                    floor: s.floor,
                    detail: format!("{} ({})", s.detail, h.detail),
                    label: s.id.replace('_', " "),
                    finding_type: Some(s.finding_type.clone()),
                });
                seq_ids.extend(h.event_ids.iter().cloned());
            }
        }
        let other_bits: f64 = ev
            .iter()
            .filter(|e| !matches!(e.kind, SignalKind::Novelty | SignalKind::ImpossibleTravel))
            .map(|e| e.bits)
            .sum();
        let bits = novelty_bits + other_bits;
        let floor = ev.iter().map(|e| e.floor).fold(0.0, f64::max);
        let severity = round1(of_bits(bits, &self.cfg.severity).max(floor).min(10.0));
        let emit = severity >= self.cfg.severity.min_emit;
        // Words (explanations, signals, the finding type) only for a call that may
        // become a finding, or for a caller that asked for every judgement: a quiet
        // call is most calls, and its numbers are all learning needs.
        let assessment = (emit || self.explain_every_call).then(|| {
            let finding_type = ev
                .iter()
                .enumerate()
                .filter(|(_, e)| e.finding_type.is_some())
                .max_by(|(i, a), (j, b)| {
                    a.floor
                        .total_cmp(&b.floor)
                        .then(a.bits.total_cmp(&b.bits))
                        .then(j.cmp(i))
                })
                .and_then(|(_, e)| e.finding_type.clone())
                .or_else(|| group.map(|g| g.finding_type.clone()))
                .unwrap_or_else(|| DEFAULT_FINDING_TYPE.to_string());
            let mut event_ids: Vec<String> = seq_ids;
            event_ids.retain(|id| *id != obs.event_id);
            event_ids.push(obs.event_id.to_string());
            dedup_keep_order(&mut event_ids);
            Assessment {
                finding_type,
                severity,
                bits: round3(bits),
                baseline,
                signals: to_signals(&ev, severity, bits),
                features: features
                    .iter()
                    .map(|f| f.explain(&principal.profile, &account.profile))
                    .collect(),
                event_ids,
            }
        });
        let mut verdict = Verdict {
            assessment: None,
            learn: true,
            ..Verdict::default()
        };
        if let Some(assessment) = assessment.as_ref().filter(|_| emit) {
            if let Some(why) = self.suppressor.check(obs, &assessment.finding_type) {
                verdict.suppressed = 1;
                verdict.suppressed_by = Some(why);
            } else {
                let labels: Vec<String> = top_labels(&ev);
                if let Some(f) = self.fold(obs, api, principal, account, assessment, &labels) {
                    verdict.findings.push(f);
                }
            }
        }
        let poisoned = self.cfg.poisoning.enabled
            && verdict.suppressed == 0
            && severity >= self.cfg.poisoning.min_severity;
        verdict.learn = !poisoned;
        if verdict.learn {
            principal.seq.hour_fanout = principal.seq.hour_fanout.max(regions.len().min(255) as u8);
            self.learn_values(obs, values, principal, account);
        }
        verdict.assessment = assessment;
        verdict
    }

    fn novelty_evidence(
        &self,
        features: &[FeatureScore<'_>],
        principal: &Profile,
        account: &Profile,
        ev: &mut Vec<Evidence>,
    ) {
        for f in features.iter().filter(|f| f.weighted_bits > 0.0) {
            let bucket = bucket_word(f.bucket);
            let usual = f
                .usual(principal, account)
                .iter()
                .map(|(v, s)| format!("{v} {:.1}%", s * 100.0))
                .collect::<Vec<_>>()
                .join(", ");
            ev.push(Evidence {
                kind: SignalKind::Novelty,
                name: format!("novelty:{}", f.feature.as_str()),
                bits: f.weighted_bits,
                floor: 0.0,
                detail: format!(
                    "{} {} is {bucket} for the {} (p = {:.2e}, {:.1} bits; usual: {})",
                    f.feature.as_str(),
                    f.observed,
                    f.baseline.as_str(),
                    f.probability,
                    f.surprise_bits,
                    if usual.is_empty() {
                        "nothing yet".into()
                    } else {
                        usual
                    }
                ),
                label: format!(
                    "{bucket} {} {}",
                    f.feature.as_str().replace('_', " "),
                    f.observed
                ),
                finding_type: None,
            });
        }
    }

    fn travel_evidence(
        &self,
        obs: &Observation,
        profile: &Profile,
        ev: &mut Vec<Evidence>,
    ) -> Vec<(FeatureGroup, f64)> {
        let Some(trip) = travel::check(obs, profile.last_fix.as_ref(), &self.cfg.travel) else {
            return Vec::new();
        };
        ev.push(Evidence {
            kind: SignalKind::ImpossibleTravel,
            name: "impossible_travel".into(),
            bits: self.cfg.travel.bits,
            floor: 0.0,
            detail: format!(
                "{:.0} km from the previous geolocated call {:.0} min earlier ({:.0} km/h)",
                trip.distance_km, trip.minutes, trip.speed_kmh
            ),
            label: format!("impossible travel {:.0} km", trip.distance_km),
            finding_type: None,
        });
        vec![(FeatureGroup::Network, self.cfg.travel.bits)]
    }

    fn volume_evidence(
        &self,
        obs: &Observation,
        profile: &Profile,
        calls: u32,
        ev: &mut Vec<Evidence>,
    ) {
        if obs.bedrock.is_none() {
            return;
        }
        let (hours, mean, var) = profile
            .volume
            .moments_at(hour_index(obs.event_time), self.cfg.half_life_ms());
        let Some(v) = volume::judge(calls, hours, mean, var, &self.cfg.volume) else {
            return;
        };
        let bits = v.bits * self.cfg.volume.weight;
        if bits < self.cfg.novelty_free_bits {
            return;
        }
        ev.push(Evidence {
            kind: SignalKind::Volume,
            name: "volume".into(),
            bits,
            floor: 0.0,
            detail: format!(
                "{} Bedrock calls this hour; usual {:.1} per hour over {:.0} h of history; P(at least this many) = {:.2e}",
                v.calls, v.mean, hours, v.tail
            ),
            label: format!("{} calls this hour (usual {:.1})", v.calls, v.mean),
            finding_type: None,
        });
    }

    fn fanout_evidence(&self, profile: &Profile, regions: &[String], ev: &mut Vec<Evidence>) {
        let k = regions.len() as u32;
        let usual = u32::from(profile.max_fanout).max(1);
        if k < self.cfg.fanout.min_regions || k <= usual {
            return;
        }
        ev.push(Evidence {
            kind: SignalKind::RegionFanOut,
            name: "region_fan_out".into(),
            bits: f64::from(k - usual) * self.cfg.fanout.bits_per_extra_region,
            floor: 0.0,
            detail: format!(
                "Bedrock calls in {k} regions within {} min ({}); at most {usual} before",
                self.cfg.fanout.window_secs / 60,
                regions.join(", ")
            ),
            label: format!("{k} regions in {} min", self.cfg.fanout.window_secs / 60),
            finding_type: None,
        });
    }

    fn catalogue_evidence(
        &self,
        obs: &Observation,
        api: &str,
        group: Option<&Group>,
        account: &AccountState,
        baseline: Baseline,
        ev: &mut Vec<Evidence>,
    ) {
        if let Some(g) = group.filter(|g| g.bits > 0.0) {
            ev.push(Evidence {
                kind: SignalKind::Rule,
                name: format!("group:{}", g.name),
                bits: g.bits,
                floor: 0.0,
                detail: format!("{api} is a Bedrock {} call", g.name),
                label: format!("{} call", g.name),
                finding_type: None,
            });
        }
        let output = self.catalogue.output_of(api);
        let judgement = output.map(|o| {
            let min_known = if baseline == Baseline::None {
                // A learning account's bucket knowledge is too thin to call one new.
                usize::MAX
            } else {
                self.cfg.buckets.min_known as usize
            };
            account
                .buckets
                .judge(&obs.s3, &o.outputs, &o.inputs, &obs.account_id, min_known)
        });
        for r in self
            .catalogue
            .rules
            .iter()
            .filter(|r| r.apis.iter().any(|a| a == api))
        {
            let detail = match (r.when, &judgement, output) {
                (None, _, _) => r.detail.clone(),
                (
                    Some(When::OutputExternal),
                    Some(OutputJudgement::External { bucket, owner }),
                    Some(o),
                ) => format!(
                    "{} ({} to s3://{bucket}, owned by account {owner}, not {})",
                    r.detail, o.what, obs.account_id
                ),
                (
                    Some(When::OutputUnfamiliar),
                    Some(OutputJudgement::Unfamiliar { bucket, known }),
                    Some(o),
                ) => format!(
                    "{} ({} to s3://{bucket}; the account has been seen using {known} other bucket{}, never this one, and it is not the job's input)",
                    r.detail,
                    o.what,
                    if *known == 1 { "" } else { "s" }
                ),
                _ => continue,
            };
            ev.push(Evidence {
                kind: SignalKind::Rule,
                name: r.id.clone(),
                bits: r.bits,
                floor: r.floor,
                detail,
                label: r.id.replace('_', " "),
                finding_type: Some(r.finding_type.clone()),
            });
        }
    }

    /// Fold an emitted assessment into an open finding or open a new one; return what to forward.
    fn fold(
        &self,
        obs: &Observation,
        api: &str,
        principal: &mut PrincipalState,
        account: &AccountState,
        a: &Assessment,
        labels: &[String],
    ) -> Option<Finding> {
        let t = obs.event_time;
        let window = self.cfg.aggregation.window_secs as i64 * 1000;
        principal
            .open
            .retain(|o| t - o.finding.first_seen <= window);
        let max_ids = self.cfg.aggregation.max_event_ids as usize;
        let open = principal.open.iter_mut().find(|o| {
            o.finding.finding_type == a.finding_type && (t - o.finding.first_seen).abs() <= window
        });
        match open {
            Some(o) => {
                let f = &mut o.finding;
                let before = Severity::of(o.emitted_severity);
                f.count += 1;
                f.first_seen = f.first_seen.min(t);
                f.last_seen = f.last_seen.max(t);
                f.severity = f.severity.max(a.severity);
                f.severity_label = Severity::of(f.severity);
                f.region = obs.region.to_string();
                f.network = network(obs);
                f.principal.credential = obs.credential;
                if let Some(k) = &obs.access_key_id {
                    push_sorted(&mut f.principal.access_key_ids, k, MAX_KEYS);
                }
                f.event_ids.extend(a.event_ids.iter().cloned());
                dedup_keep_order(&mut f.event_ids);
                if f.event_ids.len() > max_ids {
                    let n = f.event_ids.len() - max_ids;
                    f.event_ids.drain(..n);
                }
                push_sorted(&mut f.api_calls, api, MAX_LIST);
                if let Some(m) = &obs.model_id {
                    push_sorted(&mut f.models, m, MAX_LIST);
                }
                merge_signals(&mut f.signals, &a.signals);
                f.features = a.features.clone();
                f.title = title(obs, labels, f.count);
                f.description = description(
                    obs,
                    &principal.profile,
                    &account.profile,
                    a,
                    f.count,
                    f.first_seen,
                );
                let grew =
                    Severity::of(f.severity) > before || f.severity >= o.emitted_severity + 1.0;
                if grew || f.count.is_power_of_two() {
                    f.revision += 1;
                    o.emitted_severity = f.severity;
                    return Some(f.clone());
                }
                None
            }
            None => {
                let mut f = Finding {
                    id: finding_id(&obs.account_id, &obs.principal, &a.finding_type, t),
                    finding_type: a.finding_type.clone(),
                    title: title(obs, labels, 1),
                    description: description(obs, &principal.profile, &account.profile, a, 1, t),
                    severity: a.severity.max(1.0),
                    severity_label: Severity::of(a.severity.max(1.0)),
                    region: obs.region.to_string(),
                    principal: FindingPrincipal {
                        key: obs.principal.to_string(),
                        kind: obs.principal_kind,
                        account_id: obs.account_id.to_string(),
                        credential: obs.credential,
                        access_key_ids: obs.access_key_id.iter().map(|s| s.to_string()).collect(),
                    },
                    network: network(obs),
                    first_seen: t,
                    last_seen: t,
                    count: 1,
                    revision: 0,
                    event_ids: a.event_ids.clone(),
                    api_calls: vec![api.to_string()],
                    models: obs.model_id.iter().map(|s| s.to_string()).collect(),
                    signals: a.signals.clone(),
                    features: a.features.clone(),
                };
                if f.event_ids.len() > max_ids {
                    let n = f.event_ids.len() - max_ids;
                    f.event_ids.drain(..n);
                }
                principal.open.push(OpenFinding {
                    finding: f.clone(),
                    emitted_severity: f.severity,
                });
                Some(f)
            }
        }
    }
}

/// Fold a closed hour's learned fan-out peak into the baseline.
fn fold_fanout(principal: &mut PrincipalState, closed: Option<u8>) {
    if let Some(peak) = closed {
        principal.profile.max_fanout = principal.profile.max_fanout.max(peak);
    }
}

/// FNV-1a, 64 bits: the finding id hash.
pub fn fnv1a64(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h ^= 0x1f;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        for b in *p {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// Deterministic finding id: account, principal, type and the first call's event time.
pub fn finding_id(
    account: &str,
    principal: &str,
    finding_type: &str,
    window_start_ms: i64,
) -> String {
    let start = window_start_ms.to_string();
    format!(
        "{:016x}",
        fnv1a64(&[
            account.as_bytes(),
            principal.as_bytes(),
            finding_type.as_bytes(),
            start.as_bytes()
        ])
    )
}

fn bucket_word(b: Bucket) -> &'static str {
    match b {
        Bucket::Frequent => "frequent",
        Bucket::Infrequent => "infrequent",
        Bucket::Rare => "rare",
        Bucket::Unseen => "unseen",
    }
}

fn to_signals(ev: &[Evidence], severity: f64, bits: f64) -> Vec<Signal> {
    let mut v: Vec<Signal> = ev
        .iter()
        .map(|e| {
            let share = if bits > 0.0 {
                severity * e.bits / bits
            } else {
                0.0
            };
            Signal {
                kind: e.kind,
                name: e.name.clone(),
                score: round1(share.max(e.floor).min(10.0)),
                detail: e.detail.clone(),
            }
        })
        .collect();
    v.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.name.cmp(&b.name))
    });
    v
}

fn top_labels(ev: &[Evidence]) -> Vec<String> {
    let mut v: Vec<&Evidence> = ev.iter().collect();
    v.sort_by(|a, b| {
        b.floor
            .total_cmp(&a.floor)
            .then(b.bits.total_cmp(&a.bits))
            .then_with(|| a.name.cmp(&b.name))
    });
    v.into_iter().take(3).map(|e| e.label.clone()).collect()
}

fn merge_signals(into: &mut Vec<Signal>, new: &[Signal]) {
    for s in new {
        match into.iter_mut().find(|x| x.name == s.name) {
            Some(x) => {
                if s.score >= x.score {
                    *x = s.clone();
                }
            }
            None => into.push(s.clone()),
        }
    }
    into.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.name.cmp(&b.name))
    });
    into.truncate(MAX_LIST);
}

fn push_sorted(v: &mut Vec<String>, x: &str, cap: usize) {
    if let Err(i) = v.binary_search_by(|p| p.as_str().cmp(x))
        && v.len() < cap
    {
        v.insert(i, x.to_string());
    }
}

fn dedup_keep_order(v: &mut Vec<String>) {
    let mut seen: Vec<String> = Vec::with_capacity(v.len());
    v.retain(|x| {
        if seen.contains(x) {
            false
        } else {
            seen.push(x.clone());
            true
        }
    });
}

fn network(obs: &Observation) -> Network {
    Network {
        ip: obs.source_ip.as_deref().map(str::to_string),
        country: obs.geo.country.as_deref().map(str::to_string),
        city: obs.geo.city.as_deref().map(str::to_string),
        asn: obs.geo.asn,
        as_org: obs.geo.as_org.as_deref().map(str::to_string),
        latitude: obs.geo.latitude,
        longitude: obs.geo.longitude,
        user_agent: obs.user_agent.as_deref().map(str::to_string),
    }
}

fn short_principal(key: &str) -> &str {
    key.rsplit(['/', ':'])
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or(key)
}

fn title(obs: &Observation, labels: &[String], count: u64) -> String {
    let what = if labels.is_empty() {
        "anomalous".to_string()
    } else {
        labels.join(", ")
    };
    let times = if count > 1 {
        format!(" ({count} calls)")
    } else {
        String::new()
    };
    format!(
        "{} by {}: {what}{times}",
        obs.event_name,
        short_principal(&obs.principal)
    )
}

fn description(
    obs: &Observation,
    p: &Profile,
    acct: &Profile,
    a: &Assessment,
    count: u64,
    first: i64,
) -> String {
    let mut s = format!(
        "{} ({}, account {}) called {}:{}",
        obs.principal,
        obs.principal_kind.as_str(),
        obs.account_id,
        obs.event_source,
        obs.event_name
    );
    if let Some(m) = &obs.model_id {
        s.push_str(&format!(" on model {m}"));
    }
    s.push_str(&format!(
        " in {}",
        if obs.region.is_empty() {
            "an unknown region"
        } else {
            &obs.region
        }
    ));
    if let Some(ip) = &obs.source_ip {
        s.push_str(&format!(" from {ip}"));
        let mut place: Vec<String> = Vec::new();
        if let Some(c) = &obs.geo.city {
            place.push(c.to_string());
        }
        if let Some(c) = &obs.geo.country {
            place.push(c.to_string());
        }
        if let Some(asn) = obs.geo.asn {
            place.push(format!(
                "AS{asn}{}",
                obs.geo
                    .as_org
                    .as_deref()
                    .map(|o| format!(" {o}"))
                    .unwrap_or_default()
            ));
        }
        if !place.is_empty() {
            s.push_str(&format!(" ({})", place.join(", ")));
        }
    }
    if let Some(ua) = &obs.user_agent {
        s.push_str(&format!(" with user agent {:?}", truncate(ua, 120)));
    }
    if let Some(code) = &obs.error_code {
        s.push_str(&format!(", failing with {code}"));
    }
    s.push_str(". ");
    let (base, prof) = match a.baseline {
        Baseline::Principal => ("its own baseline", Some(p)),
        Baseline::Account => (
            "its account's baseline (the principal is still learning)",
            Some(acct),
        ),
        Baseline::None => (
            "no baseline (the account is still learning), so only catalogue rules apply",
            None,
        ),
    };
    s.push_str(&format!("Judged against {base}"));
    if let Some(prof) = prof {
        s.push_str(&format!(
            ", {} events since {}",
            prof.events,
            format_rfc3339(prof.first_seen_ms)
        ));
    }
    s.push_str(". Why: ");
    let why: Vec<&str> = a
        .signals
        .iter()
        .take(6)
        .map(|x| x.detail.as_str())
        .collect();
    s.push_str(&why.join("; "));
    s.push_str(&format!(
        ". Severity {:.1} ({}) from {:.1} bits of combined evidence",
        a.severity,
        Severity::of(a.severity.max(1.0)).as_str(),
        a.bits
    ));
    if count > 1 {
        s.push_str(&format!(
            "; {count} anomalous calls since {}",
            format_rfc3339(first)
        ));
    }
    s.push('.');
    s
}

fn truncate(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}
