//! bedguard's native finding JSON, schema version 1 (documented in `docs/schema.md`).
//!
//! The native form is the finding itself with times in RFC 3339, a `schema_version`
//! and who emitted it. It is also what the outbox stores, so [`decode`] reads it back
//! losslessly (and accepts the plain serde form of [`Finding`] too).

use cloudtrail::time::{format_rfc3339, parse_event_time};
use cloudtrail::{CredentialClass, PrincipalKind};
use detect::{Bucket, FeatureExplanation, Finding, FindingPrincipal, Network, Severity, Signal};
use serde::{Deserialize, Serialize};

use super::{EncodeContext, EncodeError};

/// The schema version this module writes.
pub const SCHEMA_VERSION: u32 = Finding::SCHEMA_VERSION;

/// Why bytes could not be read back as a finding.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Not JSON, or not a finding.
    #[error("not a bedguard finding: {0}")]
    Json(#[from] serde_json::Error),
    /// A schema version this build does not know.
    #[error("unsupported finding schema_version {0}")]
    Version(u32),
    /// A time field that is not RFC 3339.
    #[error("field {field} is not an RFC 3339 time: {value:?}")]
    Time {
        /// The field.
        field: &'static str,
        /// Its value.
        value: String,
    },
}

#[derive(Serialize, Deserialize)]
struct Wire {
    schema_version: u32,
    id: String,
    #[serde(rename = "type")]
    finding_type: String,
    title: String,
    description: String,
    severity: f64,
    severity_label: Severity,
    region: String,
    principal: WirePrincipal,
    network: WireNetwork,
    first_seen: String,
    last_seen: String,
    count: u64,
    revision: u32,
    event_ids: Vec<String>,
    api_calls: Vec<String>,
    models: Vec<String>,
    signals: Vec<Signal>,
    features: Vec<WireFeature>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    product: Option<WireProduct>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    emitted_at: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct WireProduct {
    name: String,
    version: String,
    hostname: String,
}

#[derive(Serialize, Deserialize)]
struct WirePrincipal {
    key: String,
    kind: PrincipalKind,
    account_id: String,
    credential: CredentialClass,
    access_key_ids: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct WireNetwork {
    ip: Option<String>,
    country: Option<String>,
    city: Option<String>,
    asn: Option<u32>,
    as_org: Option<String>,
    latitude: Option<f64>,
    longitude: Option<f64>,
    user_agent: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct WireFeature {
    feature: String,
    observed: String,
    count: f64,
    share: f64,
    bucket: Bucket,
    surprise_bits: f64,
    baseline: String,
    usual: Vec<WireUsual>,
}

#[derive(Serialize, Deserialize)]
struct WireUsual {
    value: String,
    share: f64,
}

fn to_wire(f: &Finding, ctx: Option<&EncodeContext>) -> Wire {
    let n = &f.network;
    Wire {
        schema_version: SCHEMA_VERSION,
        id: f.id.clone(),
        finding_type: f.finding_type.clone(),
        title: f.title.clone(),
        description: f.description.clone(),
        severity: f.severity,
        severity_label: f.severity_label,
        region: f.region.clone(),
        principal: WirePrincipal {
            key: f.principal.key.clone(),
            kind: f.principal.kind,
            account_id: f.principal.account_id.clone(),
            credential: f.principal.credential,
            access_key_ids: f.principal.access_key_ids.clone(),
        },
        network: WireNetwork {
            ip: n.ip.clone(),
            country: n.country.clone(),
            city: n.city.clone(),
            asn: n.asn,
            as_org: n.as_org.clone(),
            latitude: n.latitude,
            longitude: n.longitude,
            user_agent: n.user_agent.clone(),
        },
        first_seen: format_rfc3339(f.first_seen),
        last_seen: format_rfc3339(f.last_seen),
        count: f.count,
        revision: f.revision,
        event_ids: f.event_ids.clone(),
        api_calls: f.api_calls.clone(),
        models: f.models.clone(),
        signals: f.signals.clone(),
        features: f
            .features
            .iter()
            .map(|e| WireFeature {
                feature: e.feature.clone(),
                observed: e.observed.clone(),
                count: e.count,
                share: e.share,
                bucket: e.bucket,
                surprise_bits: e.surprise_bits,
                baseline: e.baseline.clone(),
                usual: e
                    .usual
                    .iter()
                    .map(|(value, share)| WireUsual {
                        value: value.clone(),
                        share: *share,
                    })
                    .collect(),
            })
            .collect(),
        product: ctx.map(|c| WireProduct {
            name: c.product_name.clone(),
            version: c.product_version.clone(),
            hostname: c.hostname.clone(),
        }),
        emitted_at: ctx.map(|c| format_rfc3339(c.emitted_ms)),
    }
}

fn check_finite(f: &Finding) -> Result<(), EncodeError> {
    let bad = |field: &'static str, v: f64| EncodeError::Field {
        field,
        reason: format!("{v} is not a finite number"),
    };
    if !f.severity.is_finite() {
        return Err(bad("severity", f.severity));
    }
    for v in [f.network.latitude, f.network.longitude]
        .into_iter()
        .flatten()
    {
        if !v.is_finite() {
            return Err(bad("network", v));
        }
    }
    for s in &f.signals {
        if !s.score.is_finite() {
            return Err(bad("signals.score", s.score));
        }
    }
    for e in &f.features {
        let usual = e.usual.iter().map(|(_, s)| *s);
        if let Some(v) = [e.count, e.share, e.surprise_bits]
            .into_iter()
            .chain(usual)
            .find(|v| !v.is_finite())
        {
            return Err(bad("features", v));
        }
    }
    Ok(())
}

/// Encodes a finding as native JSON (one line, no trailing newline), with the
/// emitting product and time from `ctx`.
pub fn encode(finding: &Finding, ctx: &EncodeContext) -> Result<Vec<u8>, EncodeError> {
    check_finite(finding)?;
    Ok(serde_json::to_vec(&to_wire(finding, Some(ctx)))?)
}

/// Encodes a finding as native JSON without `product` and `emitted_at`: the form
/// the outbox stores (the same finding always gives the same bytes).
pub fn encode_stored(finding: &Finding) -> Result<Vec<u8>, EncodeError> {
    check_finite(finding)?;
    Ok(serde_json::to_vec(&to_wire(finding, None))?)
}

/// Reads a finding back from native JSON, or from the plain serde form of
/// [`Finding`] (epoch-millisecond times, no `schema_version`).
pub fn decode(bytes: &[u8]) -> Result<Finding, DecodeError> {
    let value: serde_json::Value = serde_json::from_slice(bytes)?;
    match value
        .get("schema_version")
        .and_then(serde_json::Value::as_u64)
    {
        None => Ok(serde_json::from_value(value)?),
        Some(v) if v == u64::from(SCHEMA_VERSION) => from_wire(serde_json::from_value(value)?),
        Some(v) => Err(DecodeError::Version(u32::try_from(v).unwrap_or(u32::MAX))),
    }
}

fn time(field: &'static str, s: &str) -> Result<i64, DecodeError> {
    parse_event_time(s).ok_or_else(|| DecodeError::Time {
        field,
        value: s.to_owned(),
    })
}

fn from_wire(w: Wire) -> Result<Finding, DecodeError> {
    Ok(Finding {
        id: w.id,
        finding_type: w.finding_type,
        title: w.title,
        description: w.description,
        severity: w.severity,
        severity_label: w.severity_label,
        region: w.region,
        principal: FindingPrincipal {
            key: w.principal.key,
            kind: w.principal.kind,
            account_id: w.principal.account_id,
            credential: w.principal.credential,
            access_key_ids: w.principal.access_key_ids,
        },
        network: Network {
            ip: w.network.ip,
            country: w.network.country,
            city: w.network.city,
            asn: w.network.asn,
            as_org: w.network.as_org,
            latitude: w.network.latitude,
            longitude: w.network.longitude,
            user_agent: w.network.user_agent,
        },
        first_seen: time("first_seen", &w.first_seen)?,
        last_seen: time("last_seen", &w.last_seen)?,
        count: w.count,
        revision: w.revision,
        event_ids: w.event_ids,
        api_calls: w.api_calls,
        models: w.models,
        signals: w.signals,
        features: w
            .features
            .into_iter()
            .map(|e| FeatureExplanation {
                feature: e.feature,
                observed: e.observed,
                count: e.count,
                share: e.share,
                bucket: e.bucket,
                surprise_bits: e.surprise_bits,
                baseline: e.baseline,
                usual: e.usual.into_iter().map(|u| (u.value, u.share)).collect(),
            })
            .collect(),
    })
}
