//! Finding encoders: pure functions from a [`Finding`] to bytes on the wire.
//!
//! Each encoder takes an [`EncodeContext`] for everything that is not in the finding
//! itself (product version, host name, time of emission), so the same inputs always
//! give the same bytes.

pub mod asff;
pub mod cef;
pub mod ecs;
pub mod native;
pub mod ocsf;

use cloudtrail::time::EpochMillis;
use detect::Finding;
use serde::{Deserialize, Serialize};

/// What an encoder knows besides the finding. No clock: the caller passes the time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodeContext {
    /// Product name, `bedguard`.
    pub product_name: String,
    /// Product version, `0.1.0`.
    pub product_version: String,
    /// Host name of the emitting daemon.
    pub hostname: String,
    /// Time of emission, epoch milliseconds.
    pub emitted_ms: EpochMillis,
}

impl EncodeContext {
    /// A context for this build of bedguard on `hostname`, emitting at `emitted_ms`.
    pub fn new(hostname: impl Into<String>, emitted_ms: EpochMillis) -> Self {
        Self {
            product_name: "bedguard".to_owned(),
            product_version: env!("CARGO_PKG_VERSION").to_owned(),
            hostname: hostname.into(),
            emitted_ms,
        }
    }
}

/// Why a finding could not be encoded.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// JSON serialisation failed (a non-finite float, for instance).
    #[error("json encoding failed: {0}")]
    Json(#[from] serde_json::Error),
    /// A field holds a value the format cannot carry.
    #[error("field {field} cannot be encoded: {reason}")]
    Field {
        /// The field.
        field: &'static str,
        /// Why.
        reason: String,
    },
}

/// The wire formats a sink can emit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// bedguard's native finding JSON, schema version 1 (`docs/schema.md`).
    Native,
    /// OCSF 1.3.0 Detection Finding (class 2004).
    Ocsf,
    /// AWS Security Finding Format, for Security Hub `BatchImportFindings`.
    Asff,
    /// ArcSight Common Event Format.
    Cef,
    /// Elastic Common Schema.
    Ecs,
}

impl Encoding {
    /// Every encoding, in a fixed order.
    pub const ALL: [Encoding; 5] = [Self::Native, Self::Ocsf, Self::Asff, Self::Cef, Self::Ecs];

    /// Encodes `finding` in this format.
    pub fn encode(self, finding: &Finding, ctx: &EncodeContext) -> Result<Vec<u8>, EncodeError> {
        match self {
            Self::Native => native::encode(finding, ctx),
            Self::Ocsf => ocsf::encode(finding, ctx),
            Self::Asff => asff::encode(finding, ctx),
            Self::Cef => cef::encode(finding, ctx),
            Self::Ecs => ecs::encode(finding, ctx),
        }
    }

    /// True when the output is one JSON object.
    pub fn is_json(self) -> bool {
        !matches!(self, Self::Cef)
    }

    /// `native`, `ocsf`, `asff`, `cef`, `ecs`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Native => "native",
            Self::Ocsf => "ocsf",
            Self::Asff => "asff",
            Self::Cef => "cef",
            Self::Ecs => "ecs",
        }
    }
}

/// Serialises a JSON value, refusing non-finite floats rather than writing `null`.
pub(crate) fn to_json(value: &serde_json::Value) -> Result<Vec<u8>, EncodeError> {
    Ok(serde_json::to_vec(value)?)
}

/// A finite float as JSON, or an error naming the field.
pub(crate) fn finite(field: &'static str, v: f64) -> Result<serde_json::Value, EncodeError> {
    serde_json::Number::from_f64(v)
        .map(serde_json::Value::Number)
        .ok_or_else(|| EncodeError::Field {
            field,
            reason: format!("{v} is not a finite number"),
        })
}

/// Severity 1.0-10.0 as an integer 0-100 (Security Hub's normalised scale, OCSF's
/// risk score).
pub(crate) fn score_0_100(severity: f64) -> Result<u8, EncodeError> {
    if !severity.is_finite() {
        return Err(EncodeError::Field {
            field: "severity",
            reason: format!("{severity} is not a finite number"),
        });
    }
    Ok((severity * 10.0).round().clamp(0.0, 100.0) as u8)
}

/// The AWS partition of a region.
pub(crate) fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else {
        "aws"
    }
}
