//! From a decoded CloudTrail record plus enrichment to the detector's
//! [`detect::Observation`]. The only place that knows both shapes.

use cloudtrail::identity::{bedrock_surface, credential_class, principal};
use cloudtrail::record::Record;
use detect::Observation;

/// What enrichment the pipeline has at hand.
pub struct Enrichment<'a> {
    /// GeoIP.
    pub geo: &'a enrich::Enricher,
    /// User-agent rules.
    pub ua: &'a enrich::UaRules,
}

/// Builds the observation of one record. `None` only when the record has no event
/// time (parse_log already drops those, so this is belt and braces).
pub fn observation(rec: &Record<'_>, en: &Enrichment<'_>) -> Option<Observation> {
    let event_time = rec.event_time_ms()?;
    let who = principal(rec);
    let account_id = who
        .account_id
        .clone()
        .or_else(|| rec.recipient_account_id.as_deref().map(str::to_string))
        .unwrap_or_else(|| "unknown".to_string());
    let source_ip = rec.source_ip_address.as_deref().map(str::to_string);
    let (net_class, geo) = match source_ip.as_deref() {
        Some(ip) => en.geo.lookup(ip),
        None => (detect::NetClass::Invalid, detect::Geo::default()),
    };
    let user_agent = rec.user_agent.as_deref().map(str::to_string);
    let client = en.ua.normalize(user_agent.as_deref().unwrap_or(""));
    let bedrock = bedrock_surface(rec);
    let (output_s3_uri, output_external) = customization_output(rec);
    Some(Observation {
        event_id: rec.event_id.as_deref().unwrap_or_default().to_string(),
        event_time,
        account_id,
        principal: who.key,
        principal_kind: who.kind,
        credential: credential_class(rec),
        access_key_id: rec.access_key_id().map(str::to_string),
        event_source: rec.event_source.to_string(),
        event_name: rec.event_name.to_string(),
        region: rec.aws_region.as_deref().unwrap_or("unknown").to_string(),
        error_code: rec.error_code.as_deref().map(str::to_string),
        model_id: if bedrock.is_some() {
            rec.model_id().map(|m| m.into_owned())
        } else {
            None
        },
        bedrock,
        source_ip,
        net_class,
        geo,
        user_agent,
        client,
        output_s3_uri,
        output_external,
    })
}

/// For model customization jobs: the output S3 URI, and whether its bucket is
/// outside the account when the record's `resources` say who owns it.
fn customization_output(rec: &Record<'_>) -> (Option<String>, Option<bool>) {
    if rec.event_name != "CreateModelCustomizationJob"
        && rec.event_name != "CreateModelInvocationJob"
    {
        return (None, None);
    }
    let Some(params) = rec.request_parameters else {
        return (None, None);
    };
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Params {
        output_data_config: Option<Output>,
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Output {
        s3_uri: Option<String>,
        s3_output_data_config: Option<Box<Output>>,
    }
    let Ok(p) = serde_json::from_str::<Params>(params.get()) else {
        return (None, None);
    };
    let uri = p.output_data_config.and_then(|o| {
        o.s3_uri
            .or_else(|| o.s3_output_data_config.and_then(|i| i.s3_uri))
    });
    let Some(uri) = uri else { return (None, None) };
    let bucket = uri
        .strip_prefix("s3://")
        .and_then(|r| r.split('/').next())
        .unwrap_or_default()
        .to_string();
    let account = rec.recipient_account_id.as_deref();
    // CloudTrail lists the buckets a call touched in `resources`, with the owner's
    // account id when it knows it.
    let external = rec.resources.as_ref().and_then(|rs| {
        rs.iter().find_map(|r| {
            let arn = r.arn.as_deref()?;
            if arn.ends_with(&format!(":::{bucket}")) {
                Some(match (r.account_id.as_deref(), account) {
                    (Some(owner), Some(me)) => owner != me,
                    _ => return None,
                })
            } else {
                None
            }
        })
    });
    (Some(uri), external)
}
