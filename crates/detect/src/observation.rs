//! One enriched CloudTrail event: the detector's only input.
//!
//! The binary builds it from a `cloudtrail` record plus `enrich` lookups; detect never
//! sees raw JSON, mmdb files or the clock.
//!
//! Its strings are [`SmolStr`]: most values (regions, countries, API names, user-agent
//! families) are short enough to live inline, and the rest (ARNs, user agents) are
//! shared, so the per-IP and per-agent caches hand out values without copying.

use cloudtrail::{BedrockSurface, CredentialClass, PrincipalKind, time::EpochMillis};
use serde::{Deserialize, Serialize};
use smol_str::SmolStr;

use crate::s3::S3Ref;

/// Where a call came from, network-wise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetClass {
    /// A public IP address (may or may not geolocate).
    Public,
    /// A private, loopback, link-local, CGNAT or otherwise reserved address.
    Private,
    /// An AWS service name (`secretsmanager.amazonaws.com`) or `AWS Internal`.
    AwsService,
    /// Missing, or not a valid address (`035.249.253.232`).
    Invalid,
}

/// GeoIP facts about a public source address; every part may be missing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Geo {
    /// ISO 3166-1 alpha-2 country code.
    pub country: Option<SmolStr>,
    /// First subdivision (state, region) ISO code.
    pub subdivision: Option<SmolStr>,
    /// City name (English).
    pub city: Option<SmolStr>,
    /// Latitude, degrees.
    pub latitude: Option<f64>,
    /// Longitude, degrees.
    pub longitude: Option<f64>,
    /// Accuracy radius, kilometres.
    pub accuracy_km: Option<u32>,
    /// Autonomous system number.
    pub asn: Option<u32>,
    /// Autonomous system organisation.
    pub as_org: Option<SmolStr>,
}

/// The normalised user agent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Client {
    /// Family: `aws-cli`, `boto3`, `aws-sdk-java`, `console`, `python-requests`, ...
    pub family: SmolStr,
    /// Major version, when one was found.
    pub major: Option<SmolStr>,
    /// Operating system, when the agent names one.
    pub os: Option<SmolStr>,
    /// A generic HTTP client rather than an AWS SDK or the console.
    pub generic: bool,
}

/// One enriched CloudTrail event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// CloudTrail `eventID`.
    pub event_id: SmolStr,
    /// `eventTime` in epoch milliseconds: the only clock detect knows.
    pub event_time: EpochMillis,
    /// The account the principal belongs to (falls back to `recipientAccountId`).
    pub account_id: SmolStr,
    /// Stable principal key (see `cloudtrail::identity`).
    pub principal: SmolStr,
    /// What kind of identity `principal` names.
    pub principal_kind: PrincipalKind,
    /// Credential class of the call.
    pub credential: CredentialClass,
    /// Access key id, when recorded.
    pub access_key_id: Option<SmolStr>,
    /// `eventSource`, e.g. `bedrock.amazonaws.com`.
    pub event_source: SmolStr,
    /// `eventName`, e.g. `InvokeModel`.
    pub event_name: SmolStr,
    /// `awsRegion`.
    pub region: SmolStr,
    /// `errorCode`, when the call failed.
    pub error_code: Option<SmolStr>,
    /// Set when this is a Bedrock call.
    pub bedrock: Option<BedrockSurface>,
    /// Model id from `requestParameters.modelId` (or the equivalent), when present.
    pub model_id: Option<SmolStr>,
    /// Raw `sourceIPAddress`.
    pub source_ip: Option<SmolStr>,
    /// What kind of source that is.
    pub net_class: NetClass,
    /// GeoIP facts, when the source is public and a database knew it.
    pub geo: Geo,
    /// Raw `userAgent`.
    pub user_agent: Option<SmolStr>,
    /// Normalised user agent.
    pub client: Client,
    /// Every S3 bucket the record names, with the request field it came from and its
    /// owner when the record says ([`crate::s3::references`]): teaches the account's
    /// buckets, and the catalogue's `[[output]]` fields are judged against them.
    #[serde(default)]
    pub s3: Vec<S3Ref>,
}
