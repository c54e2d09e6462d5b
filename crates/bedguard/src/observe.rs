//! From a decoded CloudTrail record plus enrichment to the detector's
//! [`detect::Observation`]. The only place that knows both shapes.

use cloudtrail::identity::{bedrock_surface, credential_class, principal};
use cloudtrail::record::Record;
use detect::{Observation, SmolStr};

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
        .as_deref()
        .or(rec.recipient_account_id.as_deref())
        .map_or(SmolStr::new_static("unknown"), SmolStr::new);
    let source_ip = rec.source_ip_address.as_deref().map(SmolStr::new);
    let (net_class, geo) = match source_ip.as_deref() {
        Some(ip) => en.geo.lookup(ip),
        None => (detect::NetClass::Invalid, detect::Geo::default()),
    };
    let user_agent = rec.user_agent.as_deref().map(SmolStr::new);
    let client = en.ua.normalize(user_agent.as_deref().unwrap_or(""));
    let bedrock = bedrock_surface(rec);
    let s3 = detect::s3::references(
        rec.request_parameters.map(|r| r.get()),
        rec.resources
            .iter()
            .flatten()
            .map(|r| (r.arn.as_deref(), r.account_id.as_deref())),
    );
    Some(Observation {
        event_id: SmolStr::new(rec.event_id.as_deref().unwrap_or_default()),
        event_time,
        account_id,
        principal: SmolStr::from(who.key),
        principal_kind: who.kind,
        credential: credential_class(rec),
        access_key_id: rec.access_key_id().map(SmolStr::new),
        event_source: SmolStr::new(&rec.event_source),
        event_name: SmolStr::new(&rec.event_name),
        region: SmolStr::new(rec.aws_region.as_deref().unwrap_or("unknown")),
        error_code: rec.error_code.as_deref().map(SmolStr::new),
        model_id: if bedrock.is_some() {
            rec.model_id().map(SmolStr::new)
        } else {
            None
        },
        bedrock,
        source_ip,
        net_class,
        geo,
        user_agent,
        client,
        s3,
    })
}
