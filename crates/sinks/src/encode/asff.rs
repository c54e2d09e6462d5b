//! AWS Security Finding Format (ASFF), schema 2018-10-08, for Security Hub
//! `BatchImportFindings`.
//!
//! The finding id stays the same across revisions, so Security Hub updates the
//! finding in place; `UpdatedAt` is the time of emission and so grows with each
//! revision.

use cloudtrail::PrincipalKind;
use cloudtrail::time::format_rfc3339;
use detect::{Finding, Severity};
use serde_json::{Map, Value, json};

use super::{EncodeContext, EncodeError, finite, partition, score_0_100, to_json};

/// ASFF schema version.
pub const SCHEMA_VERSION: &str = "2018-10-08";

/// Security Hub's limit on `ProductFields` entries.
const MAX_PRODUCT_FIELDS: usize = 50;

/// Security Hub's severity label.
pub fn label(s: Severity) -> &'static str {
    match s {
        Severity::Low => "LOW",
        Severity::Medium => "MEDIUM",
        Severity::High => "HIGH",
        Severity::Critical => "CRITICAL",
    }
}

/// The product ARN of a custom integration in the finding's account and region.
pub fn product_arn(f: &Finding) -> String {
    format!(
        "arn:{}:securityhub:{}:{}:product/{}/default",
        partition(&f.region),
        f.region,
        f.principal.account_id,
        f.principal.account_id
    )
}

fn resource_type(kind: PrincipalKind) -> &'static str {
    match kind {
        PrincipalKind::IamUser => "AwsIamUser",
        PrincipalKind::AssumedRole | PrincipalKind::IdentityCenter => "AwsIamRole",
        PrincipalKind::Root => "AwsAccount",
        _ => "Other",
    }
}

/// Encodes a finding as one ASFF finding object (not wrapped in a list).
pub fn encode(f: &Finding, ctx: &EncodeContext) -> Result<Vec<u8>, EncodeError> {
    let normalized = score_0_100(f.severity)?;
    let updated = ctx.emitted_ms.max(f.first_seen);
    let n = &f.network;

    let mut product_fields = Map::new();
    product_fields.insert("bedguard/ProductName".into(), json!(ctx.product_name));
    product_fields.insert("bedguard/ProductVersion".into(), json!(ctx.product_version));
    product_fields.insert("bedguard/Hostname".into(), json!(ctx.hostname));
    product_fields.insert("bedguard/Revision".into(), json!(f.revision.to_string()));
    product_fields.insert("bedguard/Count".into(), json!(f.count.to_string()));
    product_fields.insert(
        "bedguard/Credential".into(),
        json!(f.principal.credential.as_str()),
    );
    product_fields.insert(
        "bedguard/PrincipalKind".into(),
        json!(f.principal.kind.as_str()),
    );
    if !f.models.is_empty() {
        product_fields.insert("bedguard/Models".into(), json!(f.models.join(",")));
    }
    if !f.api_calls.is_empty() {
        product_fields.insert("bedguard/ApiCalls".into(), json!(f.api_calls.join(",")));
    }
    if !f.principal.access_key_ids.is_empty() {
        product_fields.insert(
            "bedguard/AccessKeyIds".into(),
            json!(f.principal.access_key_ids.join(",")),
        );
    }
    // Security Hub takes at most 50 product fields: signals and features fill what is left.
    for (i, s) in f.signals.iter().enumerate() {
        if product_fields.len() >= MAX_PRODUCT_FIELDS {
            break;
        }
        product_fields.insert(
            format!("bedguard/Signal{i}"),
            json!(format!("{}: {}", s.name, s.detail)),
        );
    }
    for e in &f.features {
        if product_fields.len() >= MAX_PRODUCT_FIELDS {
            break;
        }
        product_fields.insert(
            format!("bedguard/Feature/{}", e.feature),
            json!(format!(
                "{} ({:?}, {} baseline)",
                e.observed, e.bucket, e.baseline
            )),
        );
    }

    let mut resource_details = Map::new();
    resource_details.insert("PrincipalKey".into(), json!(f.principal.key));
    if !f.models.is_empty() {
        resource_details.insert("Models".into(), json!(f.models.join(",")));
    }

    let mut out = Map::new();
    out.insert("SchemaVersion".into(), json!(SCHEMA_VERSION));
    out.insert("Id".into(), json!(f.id));
    out.insert("ProductArn".into(), json!(product_arn(f)));
    out.insert("ProductName".into(), json!(ctx.product_name));
    out.insert("CompanyName".into(), json!(ctx.product_name));
    out.insert(
        "GeneratorId".into(),
        json!(format!("bedguard/{}", f.finding_type)),
    );
    out.insert("AwsAccountId".into(), json!(f.principal.account_id));
    out.insert("Region".into(), json!(f.region));
    out.insert(
        "Types".into(),
        json!([format!("Unusual Behaviors/User/{}", f.finding_type)]),
    );
    out.insert(
        "FirstObservedAt".into(),
        json!(format_rfc3339(f.first_seen)),
    );
    out.insert("LastObservedAt".into(), json!(format_rfc3339(f.last_seen)));
    out.insert("CreatedAt".into(), json!(format_rfc3339(f.first_seen)));
    out.insert("UpdatedAt".into(), json!(format_rfc3339(updated)));
    out.insert(
        "Severity".into(),
        json!({
            "Label": label(f.severity_label),
            "Normalized": normalized,
            "Original": format!("{:.1}", f.severity),
        }),
    );
    out.insert("Title".into(), json!(truncate(&f.title, 256)));
    out.insert("Description".into(), json!(truncate(&f.description, 1024)));
    out.insert("ProductFields".into(), Value::Object(product_fields));
    out.insert(
        "Resources".into(),
        json!([{
            "Type": resource_type(f.principal.kind),
            "Id": f.principal.key,
            "Partition": partition(&f.region),
            "Region": f.region,
            "Details": { "Other": Value::Object(resource_details) },
        }]),
    );
    out.insert("RecordState".into(), json!("ACTIVE"));
    out.insert("Workflow".into(), json!({ "Status": "NEW" }));

    if let Some(ip) = &n.ip {
        let mut remote = Map::new();
        let ip_key = if ip.contains(':') {
            "IpAddressV6"
        } else {
            "IpAddressV4"
        };
        remote.insert(ip_key.into(), json!(ip));
        if let Some(c) = &n.country {
            remote.insert("Country".into(), json!({ "CountryCode": c }));
        }
        if let Some(c) = &n.city {
            remote.insert("City".into(), json!({ "CityName": c }));
        }
        if let (Some(lat), Some(lon)) = (n.latitude, n.longitude) {
            remote.insert(
                "GeoLocation".into(),
                json!({ "Lat": finite("network.latitude", lat)?, "Lon": finite("network.longitude", lon)? }),
            );
        }
        let mut org = Map::new();
        if let Some(a) = n.asn {
            org.insert("Asn".into(), json!(a));
        }
        if let Some(o) = &n.as_org {
            org.insert("AsnOrg".into(), json!(o));
        }
        if !org.is_empty() {
            remote.insert("Organization".into(), Value::Object(org));
        }
        let mut action = Map::new();
        action.insert("CallerType".into(), json!("remoteIp"));
        action.insert("RemoteIpDetails".into(), Value::Object(remote));
        if let Some((svc, api)) = f.api_calls.first().and_then(|c| c.split_once(':')) {
            action.insert("ServiceName".into(), json!(svc));
            action.insert("Api".into(), json!(api));
        }
        action.insert("FirstSeen".into(), json!(format_rfc3339(f.first_seen)));
        action.insert("LastSeen".into(), json!(format_rfc3339(f.last_seen)));
        out.insert(
            "Action".into(),
            json!({ "ActionType": "AWS_API_CALL", "AwsApiCallAction": Value::Object(action) }),
        );
        let source_key = if ip.contains(':') {
            "SourceIpV6"
        } else {
            "SourceIpV4"
        };
        out.insert(
            "Network".into(),
            json!({ "Direction": "IN", source_key: ip }),
        );
    }
    to_json(&Value::Object(out))
}

/// At most `max` characters (ASFF limits Title to 256 and Description to 1024).
fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}
