//! The finding: what the detector emits, and bedguard's native wire schema.
//!
//! Schema version 1. Field names and meanings are a contract with every SIEM that
//! reads them; change them only with a new [`Finding::SCHEMA_VERSION`] and a golden file.
//! Times are epoch milliseconds inside and RFC 3339 on the wire (the encoders in
//! `sinks` do that).

use cloudtrail::{CredentialClass, PrincipalKind, time::EpochMillis};
use serde::{Deserialize, Serialize};

/// GuardDuty's severity bands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Severity {
    /// 1.0 to 3.9
    Low,
    /// 4.0 to 6.9
    Medium,
    /// 7.0 to 8.9
    High,
    /// 9.0 and above
    Critical,
}

impl Severity {
    /// The band of a numeric severity.
    pub fn of(score: f64) -> Self {
        if score >= 9.0 {
            Self::Critical
        } else if score >= 7.0 {
            Self::High
        } else if score >= 4.0 {
            Self::Medium
        } else {
            Self::Low
        }
    }

    /// `Low`, `Medium`, `High`, `Critical`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "Low",
            Self::Medium => "Medium",
            Self::High => "High",
            Self::Critical => "Critical",
        }
    }
}

/// How often a baseline saw a value: the buckets GuardDuty and OCSF use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Bucket {
    /// A large share of the baseline.
    Frequent,
    /// Seen, not often.
    Infrequent,
    /// Seen, rarely.
    Rare,
    /// Never seen.
    Unseen,
}

/// The principal a finding is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingPrincipal {
    /// Stable principal key (an ARN, or ARN plus session name).
    pub key: String,
    /// What kind of identity it is.
    pub kind: PrincipalKind,
    /// Account id.
    pub account_id: String,
    /// Credential class of the calls behind the finding.
    pub credential: CredentialClass,
    /// Access key ids seen in the calls behind the finding.
    pub access_key_ids: Vec<String>,
}

/// Network facts of the calls behind a finding (of the latest one).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Network {
    /// Source IP address as CloudTrail recorded it.
    pub ip: Option<String>,
    /// Country ISO code.
    pub country: Option<String>,
    /// City.
    pub city: Option<String>,
    /// ASN.
    pub asn: Option<u32>,
    /// AS organisation.
    pub as_org: Option<String>,
    /// Latitude.
    pub latitude: Option<f64>,
    /// Longitude.
    pub longitude: Option<f64>,
    /// User agent as recorded.
    pub user_agent: Option<String>,
}

/// What a signal is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalKind {
    /// A feature value improbable under the baseline.
    Novelty,
    /// Call volume improbable under the principal's history.
    Volume,
    /// Bedrock calls across more regions than usual.
    RegionFanOut,
    /// Two geolocated calls too far apart for the time between them.
    ImpossibleTravel,
    /// A catalogue rule (a single call that matters in itself).
    Rule,
    /// A catalogue sequence (recon, then enablement, then invocation, ...).
    Sequence,
}

/// One reason a finding fired.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    /// What kind of signal.
    pub kind: SignalKind,
    /// Stable name: the rule or sequence id, `volume`, `novelty:country`, ...
    pub name: String,
    /// Contribution to severity, 0 to 10.
    pub score: f64,
    /// One sentence a person reads.
    pub detail: String,
}

/// Why one feature of the call looked the way it did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureExplanation {
    /// Feature name: `country`, `asn`, `city`, `ua_family`, `ua_version`,
    /// `generic_client`, `ua_os`, `credential`, `api`, `model`, `region`.
    pub feature: String,
    /// The observed value.
    pub observed: String,
    /// Its decayed count in the baseline it was judged against.
    pub count: f64,
    /// Its share of that baseline, 0 to 1.
    pub share: f64,
    /// Its bucket.
    pub bucket: Bucket,
    /// Surprise, in bits (`-log2 p`).
    pub surprise_bits: f64,
    /// `principal` or `account`: which baseline judged it.
    pub baseline: String,
    /// The baseline's most usual values with their shares, heaviest first.
    pub usual: Vec<(String, f64)>,
}

/// A finding, GuardDuty-style: one principal, one type, folded over a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Deterministic id: the same input gives the same id.
    pub id: String,
    /// `Bedrock:IAMUser/AnomalousInvocation`, ...
    pub finding_type: String,
    /// One line.
    pub title: String,
    /// A paragraph a person reads alone.
    pub description: String,
    /// 1.0 to 10.0.
    pub severity: f64,
    /// The band of `severity`.
    pub severity_label: Severity,
    /// Region of the latest call.
    pub region: String,
    /// Who.
    pub principal: FindingPrincipal,
    /// Network and client of the latest call.
    pub network: Network,
    /// Event time of the first call folded in.
    pub first_seen: EpochMillis,
    /// Event time of the latest call folded in.
    pub last_seen: EpochMillis,
    /// Number of anomalous calls folded in.
    pub count: u64,
    /// 0 for the first emission, then 1, 2, ... for updates of the same finding.
    pub revision: u32,
    /// CloudTrail event ids behind the finding (bounded; the latest kept).
    pub event_ids: Vec<String>,
    /// API calls involved, `eventSource:eventName`, sorted.
    pub api_calls: Vec<String>,
    /// Model ids involved, sorted.
    pub models: Vec<String>,
    /// Why it fired, strongest first.
    pub signals: Vec<Signal>,
    /// Per-feature explanation of the latest call.
    pub features: Vec<FeatureExplanation>,
}

impl Finding {
    /// Version of this schema on the wire.
    pub const SCHEMA_VERSION: u32 = 1;
}
