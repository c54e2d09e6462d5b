//! OCSF 1.3.0 Detection Finding (`class_uid` 2004, category 2 Findings).
//!
//! Revision 0 of a finding is activity 1 Create (`type_uid` 200401); later revisions
//! are activity 2 Update (200402). Per-feature explanations become
//! `anomaly_analyses`: the observed value as an anomaly and the baseline's usual values
//! as baselines, both carrying the FREQUENT / INFREQUENT / RARE / UNSEEN bucket as
//! `observed_pattern`.

use cloudtrail::time::EpochMillis;
use detect::{Bucket, Finding, Severity, SignalKind};
use serde_json::{Map, Value, json};

use super::{EncodeContext, EncodeError, finite, score_0_100, to_json};

/// OCSF schema version written in `metadata.version`.
pub const OCSF_VERSION: &str = "1.3.0";
/// Detection Finding.
pub const CLASS_UID: u32 = 2004;
/// Findings.
pub const CATEGORY_UID: u32 = 2;

/// OCSF `severity_id`: 1 Informational, 2 Low, 3 Medium, 4 High, 5 Critical (6 Fatal
/// is never used: no finding of ours stops a system).
pub fn severity_id(label: Severity) -> u8 {
    match label {
        Severity::Low => 2,
        Severity::Medium => 3,
        Severity::High => 4,
        Severity::Critical => 5,
    }
}

/// `observed_pattern` text of a bucket.
pub fn bucket_pattern(b: Bucket) -> &'static str {
    match b {
        Bucket::Frequent => "FREQUENT",
        Bucket::Infrequent => "INFREQUENT",
        Bucket::Rare => "RARE",
        Bucket::Unseen => "UNSEEN",
    }
}

fn signal_kind(k: SignalKind) -> &'static str {
    match k {
        SignalKind::Novelty => "novelty",
        SignalKind::Volume => "volume",
        SignalKind::RegionFanOut => "region_fan_out",
        SignalKind::ImpossibleTravel => "impossible_travel",
        SignalKind::Rule => "rule",
        SignalKind::Sequence => "sequence",
    }
}

/// OCSF times are epoch milliseconds (`timestamp_t`), with `_dt` siblings in RFC 3339.
fn put_time(obj: &mut Map<String, Value>, name: &str, ms: EpochMillis) {
    obj.insert(name.to_owned(), json!(ms));
    obj.insert(
        format!("{name}_dt"),
        json!(cloudtrail::time::format_rfc3339(ms)),
    );
}

fn src_endpoint(f: &Finding) -> Result<Option<Value>, EncodeError> {
    let n = &f.network;
    let mut ep = Map::new();
    if let Some(ip) = &n.ip {
        ep.insert("ip".into(), json!(ip));
    }
    let mut loc = Map::new();
    if let Some(c) = &n.country {
        loc.insert("country".into(), json!(c));
    }
    if let Some(c) = &n.city {
        loc.insert("city".into(), json!(c));
    }
    if let Some(v) = n.latitude {
        loc.insert("lat".into(), finite("network.latitude", v)?);
    }
    if let Some(v) = n.longitude {
        loc.insert("long".into(), finite("network.longitude", v)?);
    }
    if !loc.is_empty() {
        ep.insert("location".into(), Value::Object(loc));
    }
    let mut asys = Map::new();
    if let Some(a) = n.asn {
        asys.insert("number".into(), json!(a));
    }
    if let Some(o) = &n.as_org {
        asys.insert("name".into(), json!(o));
    }
    if !asys.is_empty() {
        ep.insert("autonomous_system".into(), Value::Object(asys));
    }
    Ok((!ep.is_empty()).then_some(Value::Object(ep)))
}

fn anomaly_analyses(f: &Finding) -> Result<Vec<Value>, EncodeError> {
    f.features
        .iter()
        .map(|e| {
            let usual = e
                .usual
                .iter()
                .map(|(v, share)| {
                    Ok(json!({
                        "observation_parameter": e.feature,
                        "observation_type": "Frequency Analysis",
                        "observations": [{ "value": v }],
                        "observed_pattern": bucket_of_share(*share),
                    }))
                })
                .collect::<Result<Vec<_>, EncodeError>>()?;
            Ok(json!({
                "analysis_targets": [{ "name": f.principal.key, "type": e.baseline }],
                "anomalies": [{
                    "observation_parameter": e.feature,
                    "observation_type": "Frequency Analysis",
                    "observations": [{ "value": e.observed }],
                    "observed_pattern": bucket_pattern(e.bucket),
                }],
                "baselines": usual,
            }))
        })
        .collect()
}

/// The bucket a baseline value's share falls in (the same cut points for every
/// feature: a usual value is at least INFREQUENT).
fn bucket_of_share(share: f64) -> &'static str {
    if share >= 0.2 {
        "FREQUENT"
    } else if share >= 0.05 {
        "INFREQUENT"
    } else {
        "RARE"
    }
}

/// Encodes a finding as an OCSF Detection Finding.
pub fn encode(f: &Finding, ctx: &EncodeContext) -> Result<Vec<u8>, EncodeError> {
    let activity_id: u32 = if f.revision == 0 { 1 } else { 2 };
    let risk = score_0_100(f.severity)?;

    let mut info = Map::new();
    info.insert("uid".into(), json!(f.id));
    info.insert("title".into(), json!(f.title));
    info.insert("desc".into(), json!(f.description));
    info.insert("types".into(), json!([f.finding_type]));
    put_time(&mut info, "first_seen_time", f.first_seen);
    put_time(&mut info, "last_seen_time", f.last_seen);
    info.insert(
        "analytic".into(),
        json!({ "name": f.finding_type, "type_id": 5, "type": "Behavioral" }),
    );
    if !f.event_ids.is_empty() {
        let related: Vec<Value> = f
            .event_ids
            .iter()
            .map(|id| json!({ "uid": id, "product_uid": "aws_cloudtrail" }))
            .collect();
        info.insert("related_events".into(), Value::Array(related));
    }

    // Evidences: each signal (in `data`), then each API call involved.
    let mut evidences: Vec<Value> = f
        .signals
        .iter()
        .map(|s| {
            Ok(json!({
                "data": {
                    "name": s.name,
                    "type": signal_kind(s.kind),
                    "score": finite("signals.score", s.score)?,
                    "detail": s.detail,
                },
            }))
        })
        .collect::<Result<_, EncodeError>>()?;
    evidences.extend(f.api_calls.iter().map(|c| match c.split_once(':') {
        Some((svc, op)) => json!({ "api": { "operation": op, "service": { "name": svc } } }),
        None => json!({ "api": { "operation": c } }),
    }));

    let mut user = Map::new();
    user.insert("uid".into(), json!(f.principal.key));
    user.insert("type_id".into(), json!(99));
    user.insert("type".into(), json!(f.principal.kind.as_str()));
    user.insert(
        "account".into(),
        json!({ "uid": f.principal.account_id, "type_id": 10, "type": "AWS Account" }),
    );
    if let Some(k) = f.principal.access_key_ids.first() {
        user.insert("credential_uid".into(), json!(k));
    }

    let mut resources = vec![json!({
        "uid": f.principal.key,
        "type": "Principal",
        "region": f.region,
        "cloud_partition": super::partition(&f.region),
        "owner": { "account": { "uid": f.principal.account_id } },
    })];
    resources.extend(
        f.models
            .iter()
            .map(|m| json!({ "uid": m, "type": "Bedrock Model", "region": f.region })),
    );

    let mut out = Map::new();
    out.insert("activity_id".into(), json!(activity_id));
    out.insert(
        "activity_name".into(),
        json!(if activity_id == 1 { "Create" } else { "Update" }),
    );
    out.insert("category_uid".into(), json!(CATEGORY_UID));
    out.insert("category_name".into(), json!("Findings"));
    out.insert("class_uid".into(), json!(CLASS_UID));
    out.insert("class_name".into(), json!("Detection Finding"));
    out.insert("type_uid".into(), json!(CLASS_UID * 100 + activity_id));
    out.insert("time".into(), json!(ctx.emitted_ms));
    out.insert(
        "time_dt".into(),
        json!(cloudtrail::time::format_rfc3339(ctx.emitted_ms)),
    );
    out.insert("severity_id".into(), json!(severity_id(f.severity_label)));
    out.insert("severity".into(), json!(f.severity_label.as_str()));
    out.insert("status_id".into(), json!(1));
    out.insert("status".into(), json!("New"));
    out.insert("risk_score".into(), json!(risk));
    out.insert("count".into(), json!(f.count));
    out.insert("message".into(), json!(f.title));
    out.insert("finding_info".into(), Value::Object(info));
    out.insert(
        "metadata".into(),
        json!({
            "version": OCSF_VERSION,
            "uid": format!("{}:{}", f.id, f.revision),
            "product": {
                "name": ctx.product_name,
                "vendor_name": ctx.product_name,
                "version": ctx.product_version,
            },
            "log_name": "bedguard-findings",
            "logged_time": ctx.emitted_ms,
            "profiles": ["cloud"],
        }),
    );
    out.insert(
        "cloud".into(),
        json!({ "provider": "AWS", "region": f.region, "account": { "uid": f.principal.account_id } }),
    );
    out.insert("actor".into(), json!({ "user": Value::Object(user) }));
    if let Some(ep) = src_endpoint(f)? {
        out.insert("src_endpoint".into(), ep);
    }
    if let Some(ua) = &f.network.user_agent {
        out.insert("http_request".into(), json!({ "user_agent": ua }));
    }
    out.insert("evidences".into(), Value::Array(evidences));
    out.insert("resources".into(), Value::Array(resources));
    let analyses = anomaly_analyses(f)?;
    if !analyses.is_empty() {
        out.insert("anomaly_analyses".into(), Value::Array(analyses));
    }
    out.insert("unmapped".into(), unmapped(f, ctx)?);
    to_json(&Value::Object(out))
}

/// What OCSF has no attribute for: the emitting host and the numbers behind each
/// feature's bucket.
fn unmapped(f: &Finding, ctx: &EncodeContext) -> Result<Value, EncodeError> {
    let features: Vec<Value> = f
        .features
        .iter()
        .map(|e| {
            let usual: Vec<Value> = e
                .usual
                .iter()
                .map(|(v, s)| Ok(json!({ "value": v, "share": finite("features.usual", *s)? })))
                .collect::<Result<_, EncodeError>>()?;
            Ok(json!({
                "feature": e.feature,
                "observed": e.observed,
                "count": finite("features.count", e.count)?,
                "share": finite("features.share", e.share)?,
                "surprise_bits": finite("features.surprise_bits", e.surprise_bits)?,
                "baseline": e.baseline,
                "usual": usual,
            }))
        })
        .collect::<Result<_, EncodeError>>()?;
    Ok(json!({
        "hostname": ctx.hostname,
        "revision": f.revision,
        "severity_score": finite("severity", f.severity)?,
        "credential": f.principal.credential.as_str(),
        "models": f.models,
        "features": features,
    }))
}
