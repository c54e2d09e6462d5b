//! One CloudTrail event, borrowed from the decompressed log buffer.
//!
//! Every field real logs carry is here; every field real logs omit somewhere is an
//! `Option`. Strings are `Cow`s that borrow from the input unless they hold JSON
//! escapes. Free-form objects (`requestParameters`, `responseElements`,
//! `additionalEventData`, `serviceEventDetails`) stay as raw JSON text and are read
//! on demand, off the hot path.
//!
//! Decoding is lenient about types where real logs are inconsistent: a boolean may
//! be `"true"`, a string field may hold a number or `null`. Keys that real exports
//! spell in lower case (`accountid`, `sessioncontext`, ...) or misspell
//! (`accesKeyId`) are accepted too; in `userIdentity`, where a record carries two
//! spellings of one key, the first non-empty one (canonical first) wins. Which records count as bad is
//! decided in [`crate::log`].

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::lenient;
use crate::time::{self, EpochMillis};

/// One CloudTrail event record.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", bound(deserialize = "'de: 'a"))]
pub struct Record<'a> {
    /// `eventVersion`, `1.03` to `1.11` in real logs.
    #[serde(default, deserialize_with = "lenient::opt_str")]
    pub event_version: Option<Cow<'a, str>>,
    /// `eventTime` as written; see [`Record::event_time_ms`]. Empty when absent
    /// (such a record is bad and never leaves [`crate::log::parse_log`]).
    #[serde(default, deserialize_with = "lenient::str")]
    pub event_time: Cow<'a, str>,
    /// `eventSource`, e.g. `bedrock.amazonaws.com`. Never empty in a parsed log.
    #[serde(default, deserialize_with = "lenient::str")]
    pub event_source: Cow<'a, str>,
    /// `eventName`, e.g. `InvokeModel`. Never empty in a parsed log.
    #[serde(default, deserialize_with = "lenient::str")]
    pub event_name: Cow<'a, str>,
    /// `awsRegion`; may be a fake region in anonymised data.
    #[serde(default, deserialize_with = "lenient::opt_str")]
    pub aws_region: Option<Cow<'a, str>>,
    /// `sourceIPAddress`: an address, or a service name (`AWS Internal`,
    /// `ec2.amazonaws.com`), or an invalid dotted quad. Not validated here.
    #[serde(
        default,
        rename = "sourceIPAddress",
        deserialize_with = "lenient::opt_str"
    )]
    pub source_ip_address: Option<Cow<'a, str>>,
    /// `userAgent` as written (possibly wrapped in brackets).
    #[serde(default, deserialize_with = "lenient::opt_str")]
    pub user_agent: Option<Cow<'a, str>>,
    /// `errorCode`, e.g. `AccessDenied`.
    #[serde(default, deserialize_with = "lenient::opt_str")]
    pub error_code: Option<Cow<'a, str>>,
    /// `errorMessage`.
    #[serde(default, deserialize_with = "lenient::opt_str")]
    pub error_message: Option<Cow<'a, str>>,
    /// `requestID`.
    #[serde(default, rename = "requestID", deserialize_with = "lenient::opt_str")]
    pub request_id: Option<Cow<'a, str>>,
    /// `eventID`.
    #[serde(default, rename = "eventID", deserialize_with = "lenient::opt_str")]
    pub event_id: Option<Cow<'a, str>>,
    /// `eventType`: `AwsApiCall`, `AwsServiceEvent`, `AwsConsoleSignIn`, ...
    #[serde(default, deserialize_with = "lenient::opt_str")]
    pub event_type: Option<Cow<'a, str>>,
    /// `apiVersion`, on a few services.
    #[serde(default, deserialize_with = "lenient::opt_str")]
    pub api_version: Option<Cow<'a, str>>,
    /// `readOnly` (a boolean, sometimes written as a string).
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pub read_only: Option<bool>,
    /// `managementEvent` (absent before event version 1.06).
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pub management_event: Option<bool>,
    /// `recipientAccountId`.
    #[serde(default, deserialize_with = "lenient::opt_str")]
    pub recipient_account_id: Option<Cow<'a, str>>,
    /// `eventCategory`: `Management`, `Data`, `Insight`, `NetworkActivity`.
    #[serde(default, deserialize_with = "lenient::opt_str")]
    pub event_category: Option<Cow<'a, str>>,
    /// `sharedEventID`, for cross-account events.
    #[serde(
        default,
        rename = "sharedEventID",
        deserialize_with = "lenient::opt_str"
    )]
    pub shared_event_id: Option<Cow<'a, str>>,
    /// `vpcEndpointId`.
    #[serde(default, deserialize_with = "lenient::opt_str")]
    pub vpc_endpoint_id: Option<Cow<'a, str>>,
    /// `vpcEndpointAccountId`.
    #[serde(default, deserialize_with = "lenient::opt_str")]
    pub vpc_endpoint_account_id: Option<Cow<'a, str>>,
    /// `sessionCredentialFromConsole`: `"true"` in real logs, sometimes a boolean.
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pub session_credential_from_console: Option<bool>,
    /// `userIdentity`; absent on some `AwsServiceEvent` records.
    #[serde(default)]
    pub user_identity: Option<UserIdentity<'a>>,
    /// `tlsDetails` (event version 1.08 and later).
    #[serde(default)]
    pub tls_details: Option<TlsDetails<'a>>,
    /// `requestParameters`: `None` when absent or `null`.
    #[serde(default, borrow)]
    pub request_parameters: Option<&'a RawValue>,
    /// `responseElements`: `None` when absent or `null`.
    #[serde(default, borrow)]
    pub response_elements: Option<&'a RawValue>,
    /// `additionalEventData`: `None` when absent or `null`.
    #[serde(default, borrow)]
    pub additional_event_data: Option<&'a RawValue>,
    /// `serviceEventDetails`: `None` when absent or `null`.
    #[serde(default, borrow)]
    pub service_event_details: Option<&'a RawValue>,
    /// `resources`: `None` when absent, `null` or not an array; entries that are not
    /// objects (Panther fixtures hold Python-repr strings) are skipped.
    #[serde(default, deserialize_with = "lenient::opt_objects")]
    pub resources: Option<Vec<Resource<'a>>>,
}

/// `userIdentity`: who made the call.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(from = "RawUserIdentity<'a>", bound(deserialize = "'de: 'a"))]
pub struct UserIdentity<'a> {
    /// `type`: `IAMUser`, `AssumedRole`, `Root`, `AWSAccount`, `AWSService`,
    /// `FederatedUser`, `Unknown`, ...
    pub kind: Option<Cow<'a, str>>,
    /// `principalId`.
    pub principal_id: Option<Cow<'a, str>>,
    /// `arn`; may be mangled by anonymisation.
    pub arn: Option<Cow<'a, str>>,
    /// `accountId`; may have 11 digits in anonymised data.
    pub account_id: Option<Cow<'a, str>>,
    /// `accessKeyId`: `AKIA...` (long-term) or `ASIA...` (session).
    pub access_key_id: Option<Cow<'a, str>>,
    /// `userName`.
    pub user_name: Option<Cow<'a, str>>,
    /// `invokedBy`: the service that made the call on the principal's behalf.
    pub invoked_by: Option<Cow<'a, str>>,
    /// `credentialId` (Identity Center bearer-token calls).
    pub credential_id: Option<Cow<'a, str>>,
    /// `identityProvider` (SAML / web identity).
    pub identity_provider: Option<Cow<'a, str>>,
    /// `sessionContext`, for temporary credentials.
    pub session_context: Option<SessionContext<'a>>,
}

/// `userIdentity` as written, with every spelling real exports use kept apart (a
/// record may carry both `accessKeyId` and `accesKeyId`); see [`first_filled`].
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", bound(deserialize = "'de: 'a"))]
pub(crate) struct RawUserIdentity<'a> {
    #[serde(default, rename = "type", deserialize_with = "lenient::opt_str")]
    pub(crate) kind: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::opt_str")]
    pub(crate) principal_id: Option<Cow<'a, str>>,
    #[serde(default, rename = "principalid", deserialize_with = "lenient::opt_str")]
    pub(crate) principal_id_lc: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::opt_str")]
    pub(crate) arn: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::opt_str")]
    pub(crate) account_id: Option<Cow<'a, str>>,
    #[serde(default, rename = "accountid", deserialize_with = "lenient::opt_str")]
    pub(crate) account_id_lc: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::opt_str")]
    pub(crate) access_key_id: Option<Cow<'a, str>>,
    #[serde(default, rename = "accesKeyId", deserialize_with = "lenient::opt_str")]
    pub(crate) access_key_id_typo: Option<Cow<'a, str>>,
    #[serde(default, rename = "accesskeyid", deserialize_with = "lenient::opt_str")]
    pub(crate) access_key_id_lc: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::opt_str")]
    pub(crate) user_name: Option<Cow<'a, str>>,
    #[serde(default, rename = "username", deserialize_with = "lenient::opt_str")]
    pub(crate) user_name_lc: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::opt_str")]
    pub(crate) invoked_by: Option<Cow<'a, str>>,
    #[serde(default, rename = "invokedby", deserialize_with = "lenient::opt_str")]
    pub(crate) invoked_by_lc: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::opt_str")]
    pub(crate) credential_id: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::opt_str")]
    pub(crate) identity_provider: Option<Cow<'a, str>>,
    #[serde(default)]
    pub(crate) session_context: Option<SessionContext<'a>>,
    #[serde(default, rename = "sessioncontext")]
    pub(crate) session_context_lc: Option<SessionContext<'a>>,
}

/// The first spelling that holds a non-empty value, else the first present one.
pub(crate) fn first_filled<'a>(
    spellings: impl IntoIterator<Item = Option<Cow<'a, str>>>,
) -> Option<Cow<'a, str>> {
    let mut fallback = None;
    for s in spellings.into_iter().flatten() {
        if !s.is_empty() {
            return Some(s);
        }
        fallback.get_or_insert(s);
    }
    fallback
}

impl<'a> From<RawUserIdentity<'a>> for UserIdentity<'a> {
    fn from(r: RawUserIdentity<'a>) -> Self {
        Self {
            kind: r.kind,
            principal_id: first_filled([r.principal_id, r.principal_id_lc]),
            arn: r.arn,
            account_id: first_filled([r.account_id, r.account_id_lc]),
            access_key_id: first_filled([
                r.access_key_id,
                r.access_key_id_typo,
                r.access_key_id_lc,
            ]),
            user_name: first_filled([r.user_name, r.user_name_lc]),
            invoked_by: first_filled([r.invoked_by, r.invoked_by_lc]),
            credential_id: r.credential_id,
            identity_provider: r.identity_provider,
            session_context: r.session_context.or(r.session_context_lc),
        }
    }
}

/// `userIdentity.sessionContext`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", bound(deserialize = "'de: 'a"))]
pub struct SessionContext<'a> {
    /// `attributes`.
    #[serde(default)]
    pub attributes: Option<SessionAttributes<'a>>,
    /// `sessionIssuer`: the role (or user) that issued the session.
    #[serde(default, alias = "sessionissuer")]
    pub session_issuer: Option<SessionIssuer<'a>>,
    /// `ec2RoleDelivery`: present on EC2 instance-role sessions (`"1.0"`, `"2.0"`).
    #[serde(default, deserialize_with = "lenient::opt_str")]
    pub ec2_role_delivery: Option<Cow<'a, str>>,
    /// `sourceIdentity`.
    #[serde(default, deserialize_with = "lenient::opt_str")]
    pub source_identity: Option<Cow<'a, str>>,
    /// `webIdFederationData`, kept raw (`{}` on most sessions).
    #[serde(default, borrow)]
    pub web_id_federation_data: Option<&'a RawValue>,
}

/// `userIdentity.sessionContext.attributes`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", bound(deserialize = "'de: 'a"))]
pub struct SessionAttributes<'a> {
    /// `creationDate`: when the session was issued.
    #[serde(default, alias = "creationdate", deserialize_with = "lenient::opt_str")]
    pub creation_date: Option<Cow<'a, str>>,
    /// `mfaAuthenticated` (`"true"` / `"false"`).
    #[serde(
        default,
        alias = "mfaauthenticated",
        deserialize_with = "lenient::opt_bool"
    )]
    pub mfa_authenticated: Option<bool>,
}

/// `userIdentity.sessionContext.sessionIssuer`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", bound(deserialize = "'de: 'a"))]
pub struct SessionIssuer<'a> {
    /// `type`: `Role`, `IAMUser`, `Root`.
    #[serde(default, rename = "type", deserialize_with = "lenient::opt_str")]
    pub kind: Option<Cow<'a, str>>,
    /// `principalId`.
    #[serde(default, alias = "principalid", deserialize_with = "lenient::opt_str")]
    pub principal_id: Option<Cow<'a, str>>,
    /// `arn`: the role ARN, with its path.
    #[serde(default, deserialize_with = "lenient::opt_str")]
    pub arn: Option<Cow<'a, str>>,
    /// `accountId`.
    #[serde(default, alias = "accountid", deserialize_with = "lenient::opt_str")]
    pub account_id: Option<Cow<'a, str>>,
    /// `userName`: the role name.
    #[serde(default, alias = "username", deserialize_with = "lenient::opt_str")]
    pub user_name: Option<Cow<'a, str>>,
}

/// `tlsDetails`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", bound(deserialize = "'de: 'a"))]
pub struct TlsDetails<'a> {
    /// `tlsVersion`, e.g. `TLSv1.3`.
    #[serde(default, deserialize_with = "lenient::opt_str")]
    pub tls_version: Option<Cow<'a, str>>,
    /// `cipherSuite`.
    #[serde(default, deserialize_with = "lenient::opt_str")]
    pub cipher_suite: Option<Cow<'a, str>>,
    /// `clientProvidedHostHeader`, e.g. `bedrock-runtime.us-east-1.amazonaws.com`.
    #[serde(default, deserialize_with = "lenient::opt_str")]
    pub client_provided_host_header: Option<Cow<'a, str>>,
}

/// One entry of `resources`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(bound(deserialize = "'de: 'a"))]
pub struct Resource<'a> {
    /// `ARN`.
    #[serde(
        default,
        rename = "ARN",
        alias = "arn",
        deserialize_with = "lenient::opt_str"
    )]
    pub arn: Option<Cow<'a, str>>,
    /// `accountId`.
    #[serde(
        default,
        rename = "accountId",
        alias = "accountid",
        deserialize_with = "lenient::opt_str"
    )]
    pub account_id: Option<Cow<'a, str>>,
    /// `type`, e.g. `AWS::S3::Object`.
    #[serde(default, rename = "type", deserialize_with = "lenient::opt_str")]
    pub kind: Option<Cow<'a, str>>,
}

/// The `requestParameters` keys that name a model, most specific first.
const MODEL_KEYS: [&str; 4] = [
    "modelId",
    "modelIdentifier",
    "baseModelIdentifier",
    "modelArn",
];

/// The subset of `requestParameters` [`Record::model_id`] reads.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", bound(deserialize = "'de: 'a"))]
struct ModelParams<'a> {
    #[serde(default, deserialize_with = "lenient::opt_str")]
    model_id: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::opt_str")]
    model_identifier: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::opt_str")]
    base_model_identifier: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::opt_str")]
    model_arn: Option<Cow<'a, str>>,
}

impl<'a> Record<'a> {
    /// `eventTime` in epoch milliseconds; `None` when absent or unparseable (never
    /// for a record that [`crate::log::parse_log`] returned).
    pub fn event_time_ms(&self) -> Option<EpochMillis> {
        time::parse_event_time(&self.event_time)
    }

    /// The model a call names: `requestParameters.modelId`, else `modelIdentifier`,
    /// `baseModelIdentifier`, `modelArn` (first non-empty string wins).
    pub fn model_id(&self) -> Option<Cow<'a, str>> {
        let raw: &'a RawValue = self.request_parameters?;
        let text: &'a str = raw.get();
        // Cheap pre-check: most requestParameters name no model at all.
        if !MODEL_KEYS
            .iter()
            .any(|k| memchr::memmem::find(text.as_bytes(), k.as_bytes()).is_some())
        {
            return None;
        }
        let params: ModelParams<'a> = serde_json::from_str(text).ok()?;
        [
            params.model_id,
            params.model_identifier,
            params.base_model_identifier,
            params.model_arn,
        ]
        .into_iter()
        .flatten()
        .find(|m| !m.is_empty())
    }

    /// One top-level `requestParameters` value, parsed on demand. Slow path: it
    /// parses the whole object; keep it off per-record hot loops.
    pub fn request_param(&self, name: &str) -> Option<serde_json::Value> {
        raw_field(self.request_parameters?, name)
    }

    /// One top-level `additionalEventData` value, parsed on demand (slow path).
    pub fn additional_event_data_field(&self, name: &str) -> Option<serde_json::Value> {
        raw_field(self.additional_event_data?, name)
    }

    /// True when `additionalEventData.callWithBearerToken` is `true` (or
    /// `"true"`): the call was signed with a Bedrock API key.
    pub fn call_with_bearer_token(&self) -> bool {
        let Some(raw) = self.additional_event_data else {
            return false;
        };
        // Built once: `memmem::find` would build its searcher on every call.
        static KEY: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
            std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"callWithBearerToken"));
        if KEY.find(raw.get().as_bytes()).is_none() {
            return false;
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Bearer {
            #[serde(default, deserialize_with = "lenient::opt_bool")]
            call_with_bearer_token: Option<bool>,
        }
        serde_json::from_str::<Bearer>(raw.get())
            .ok()
            .and_then(|b| b.call_with_bearer_token)
            .unwrap_or(false)
    }

    /// `userIdentity.accessKeyId`, when present and not empty.
    pub fn access_key_id(&self) -> Option<&str> {
        self.user_identity
            .as_ref()
            .and_then(|u| u.access_key_id.as_deref())
            .filter(|k| !k.is_empty())
    }

    /// `tlsDetails.clientProvidedHostHeader`, when present.
    pub fn host_header(&self) -> Option<&str> {
        self.tls_details
            .as_ref()
            .and_then(|t| t.client_provided_host_header.as_deref())
    }
}

fn raw_field(raw: &RawValue, name: &str) -> Option<serde_json::Value> {
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(raw.get()).ok()?;
    map.get(name).cloned()
}
