//! Elastic Common Schema (8.x) alert document.
//!
//! `event.kind: alert`; `event.severity` is the 0-100 risk (severity x 10) and
//! `event.risk_score` the 1.0-10.0 score. bedguard-specific detail sits under
//! `bedguard.*`.

use cloudtrail::time::format_rfc3339;
use detect::Finding;
use serde_json::{Map, Value, json};

use super::{EncodeContext, EncodeError, finite, ocsf::bucket_pattern, score_0_100, to_json};

/// ECS version written in `ecs.version`.
pub const ECS_VERSION: &str = "8.11.0";

/// Encodes a finding as an ECS document.
pub fn encode(f: &Finding, ctx: &EncodeContext) -> Result<Vec<u8>, EncodeError> {
    let n = &f.network;
    let mut out = Map::new();
    out.insert("@timestamp".into(), json!(format_rfc3339(ctx.emitted_ms)));
    out.insert("ecs".into(), json!({ "version": ECS_VERSION }));
    out.insert("message".into(), json!(f.description));
    out.insert(
        "event".into(),
        json!({
            "kind": "alert",
            "category": ["intrusion_detection", "iam"],
            "type": [if f.revision == 0 { "info" } else { "change" }],
            "id": format!("{}:{}", f.id, f.revision),
            "severity": score_0_100(f.severity)?,
            "risk_score": finite("severity", f.severity)?,
            "created": format_rfc3339(ctx.emitted_ms),
            "start": format_rfc3339(f.first_seen),
            "end": format_rfc3339(f.last_seen),
            "provider": ctx.product_name,
            "module": ctx.product_name,
            "dataset": "bedguard.finding",
            "reason": f.title,
        }),
    );
    out.insert(
        "rule".into(),
        json!({
            "id": f.finding_type,
            "name": f.finding_type,
            "description": f.title,
            "category": f.signals.first().map(|s| s.name.as_str()).unwrap_or(""),
            "ruleset": "bedguard",
            "version": ctx.product_version,
        }),
    );
    let user_name = f
        .principal
        .key
        .rsplit(['/', ':'])
        .next()
        .unwrap_or(&f.principal.key);
    out.insert(
        "user".into(),
        json!({ "id": f.principal.key, "name": user_name, "domain": f.principal.account_id }),
    );

    let mut source = Map::new();
    if let Some(ip) = &n.ip {
        source.insert("ip".into(), json!(ip));
    }
    let mut geo = Map::new();
    if let Some(c) = &n.country {
        geo.insert("country_iso_code".into(), json!(c));
    }
    if let Some(c) = &n.city {
        geo.insert("city_name".into(), json!(c));
    }
    if let (Some(lat), Some(lon)) = (n.latitude, n.longitude) {
        geo.insert(
            "location".into(),
            json!({ "lat": finite("network.latitude", lat)?, "lon": finite("network.longitude", lon)? }),
        );
    }
    if !geo.is_empty() {
        source.insert("geo".into(), Value::Object(geo));
    }
    let mut asys = Map::new();
    if let Some(a) = n.asn {
        asys.insert("number".into(), json!(a));
    }
    if let Some(o) = &n.as_org {
        asys.insert("organization".into(), json!({ "name": o }));
    }
    if !asys.is_empty() {
        source.insert("as".into(), Value::Object(asys));
    }
    if !source.is_empty() {
        out.insert("source".into(), Value::Object(source));
    }
    if let Some(ua) = &n.user_agent {
        out.insert("user_agent".into(), json!({ "original": ua }));
    }
    out.insert(
        "cloud".into(),
        json!({
            "provider": "aws",
            "region": f.region,
            "account": { "id": f.principal.account_id },
            "service": { "name": "bedrock" },
        }),
    );
    out.insert(
        "observer".into(),
        json!({
            "hostname": ctx.hostname,
            "product": ctx.product_name,
            "vendor": ctx.product_name,
            "version": ctx.product_version,
            "type": "ids",
        }),
    );
    let mut related = Map::new();
    related.insert("user".into(), json!([f.principal.key]));
    if let Some(ip) = &n.ip {
        related.insert("ip".into(), json!([ip]));
    }
    out.insert("related".into(), Value::Object(related));

    let signals: Vec<Value> = f
        .signals
        .iter()
        .map(|s| {
            Ok(json!({
                "kind": s.kind,
                "name": s.name,
                "score": finite("signals.score", s.score)?,
                "detail": s.detail,
            }))
        })
        .collect::<Result<_, EncodeError>>()?;
    let features: Vec<Value> = f
        .features
        .iter()
        .map(|e| {
            Ok(json!({
                "feature": e.feature,
                "observed": e.observed,
                "bucket": bucket_pattern(e.bucket),
                "share": finite("features.share", e.share)?,
                "surprise_bits": finite("features.surprise_bits", e.surprise_bits)?,
                "baseline": e.baseline,
            }))
        })
        .collect::<Result<_, EncodeError>>()?;
    out.insert(
        "bedguard".into(),
        json!({
            "finding_id": f.id,
            "revision": f.revision,
            "count": f.count,
            "severity_label": f.severity_label.as_str(),
            "principal_kind": f.principal.kind.as_str(),
            "credential": f.principal.credential.as_str(),
            "access_key_ids": f.principal.access_key_ids,
            "event_ids": f.event_ids,
            "api_calls": f.api_calls,
            "models": f.models,
            "signals": signals,
            "features": features,
        }),
    );
    to_json(&Value::Object(out))
}
