//! One CloudTrail record, rendered the way CloudTrail writes it.

use cloudtrail::time::format_rfc3339;

use crate::catalog::{Host, Op, Params};
use crate::json::JsonWriter;
use crate::rng::Rng;

/// Who signed a call: the `userIdentity` block.
#[derive(Debug, Clone)]
pub enum Identity {
    /// An IAM user with a long-term key.
    IamUser {
        account: String,
        user: String,
        user_id: String,
        access_key: String,
    },
    /// An assumed-role session (service roles and Identity Center people).
    AssumedRole {
        account: String,
        /// The role's IAM ARN (with its path), `sessionIssuer.arn`.
        role_arn: String,
        role_name: String,
        role_id: String,
        session: String,
        access_key: String,
        created_ms: i64,
        mfa: bool,
        ec2: bool,
    },
    /// An AWS service acting on the account's behalf.
    AwsService { service: &'static str },
    /// No `userIdentity` at all (`AwsServiceEvent`).
    None,
}

impl Identity {
    /// The principal key `cloudtrail::identity::principal` derives from this identity.
    pub fn principal_key(&self, event_source: &str) -> String {
        match self {
            Self::IamUser { account, user, .. } => format!("arn:aws:iam::{account}:user/{user}"),
            Self::AssumedRole {
                role_arn,
                role_name,
                session,
                ..
            } => {
                if role_name.starts_with("AWSReservedSSO_") {
                    format!("{role_arn}/{session}")
                } else {
                    role_arn.clone()
                }
            }
            Self::AwsService { service } => format!("service:{service}"),
            Self::None => format!("service:{event_source}"),
        }
    }

    fn write(&self, w: &mut JsonWriter<'_>) {
        match self {
            Self::IamUser {
                account,
                user,
                user_id,
                access_key,
            } => {
                w.begin_obj("userIdentity");
                w.str("type", "IAMUser");
                w.str("principalId", user_id);
                w.str("arn", &format!("arn:aws:iam::{account}:user/{user}"));
                w.str("accountId", account);
                w.str("accessKeyId", access_key);
                w.str("userName", user);
                w.end();
            }
            Self::AssumedRole {
                account,
                role_arn,
                role_name,
                role_id,
                session,
                access_key,
                created_ms,
                mfa,
                ec2,
            } => {
                w.begin_obj("userIdentity");
                w.str("type", "AssumedRole");
                w.str("principalId", &format!("{role_id}:{session}"));
                w.str(
                    "arn",
                    &format!("arn:aws:sts::{account}:assumed-role/{role_name}/{session}"),
                );
                w.str("accountId", account);
                w.str("accessKeyId", access_key);
                w.begin_obj("sessionContext");
                w.begin_obj("sessionIssuer");
                w.str("type", "Role");
                w.str("principalId", role_id);
                w.str("arn", role_arn);
                w.str("accountId", account);
                w.str("userName", role_name);
                w.end();
                w.raw("webIdFederationData", "{}");
                w.begin_obj("attributes");
                w.str("creationDate", &format_rfc3339(*created_ms));
                w.str("mfaAuthenticated", if *mfa { "true" } else { "false" });
                w.end();
                if *ec2 {
                    w.str("ec2RoleDelivery", "2.0");
                }
                w.end();
                w.end();
            }
            Self::AwsService { service } => {
                w.begin_obj("userIdentity");
                w.str("type", "AWSService");
                w.str("invokedBy", service);
                w.end();
            }
            Self::None => {}
        }
    }
}

/// Everything that varies between calls.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    pub time_ms: i64,
    pub op: &'a Op,
    pub identity: &'a Identity,
    pub region: &'a str,
    pub ip: &'a str,
    pub user_agent: &'a str,
    /// The model for `Params::Model` calls.
    pub model: &'a str,
    /// `(errorCode, errorMessage)`.
    pub error: Option<(&'a str, String)>,
    /// `requestParameters` to write instead of the op's default (raw JSON).
    pub params: Option<String>,
    /// `responseElements` (raw JSON); `null` when absent.
    pub response: Option<String>,
    /// Extra top-level fields (raw JSON values), written after `responseElements`.
    pub extra: Vec<(&'static str, String)>,
    /// `sessionCredentialFromConsole: "true"`.
    pub console: bool,
    /// The account the event is delivered to.
    pub recipient: &'a str,
    /// `AwsServiceEvent` instead of `AwsApiCall`.
    pub service_event: bool,
}

/// Renders `call` into `buf`; returns the eventID.
pub fn render(call: &Call<'_>, rng: &mut Rng, buf: &mut Vec<u8>) -> String {
    let event_id = rng.uuid();
    let request_id = rng.uuid();
    let mut w = JsonWriter::new(buf);
    w.begin();
    w.str("eventVersion", call.op.version);
    call.identity.write(&mut w);
    w.str(
        "eventTime",
        &format_rfc3339(call.time_ms - call.time_ms % 1000),
    );
    w.str("eventSource", call.op.source);
    w.str("eventName", call.op.name);
    w.str("awsRegion", call.region);
    w.str("sourceIPAddress", call.ip);
    w.str("userAgent", call.user_agent);
    if let Some((code, message)) = &call.error {
        w.str("errorCode", code);
        w.str("errorMessage", message);
    }
    match (&call.params, call.op.params) {
        (Some(raw), _) => w.raw("requestParameters", raw),
        (None, Params::Absent) => {}
        (None, Params::Null) => w.raw("requestParameters", "null"),
        (None, Params::Model) => {
            w.begin_obj("requestParameters");
            w.str("modelId", call.model);
            w.end();
        }
        (None, Params::Bucket) => {
            w.begin_obj("requestParameters");
            w.str("bucketName", &format!("data-{}", call.recipient));
            w.str("Host", "s3.amazonaws.com");
            w.end();
        }
        (None, Params::Fixed(raw)) => w.raw("requestParameters", raw),
    }
    match (&call.response, &call.error) {
        (Some(raw), None) => w.raw("responseElements", raw),
        _ => w.raw("responseElements", "null"),
    }
    for (key, raw) in &call.extra {
        w.raw(key, raw);
    }
    if !call.service_event {
        w.str("requestID", &request_id);
    }
    w.str("eventID", &event_id);
    w.bool("readOnly", call.op.read_only);
    w.str(
        "eventType",
        if call.service_event {
            "AwsServiceEvent"
        } else {
            "AwsApiCall"
        },
    );
    w.bool("managementEvent", true);
    w.str("recipientAccountId", call.recipient);
    w.str("eventCategory", "Management");
    let host = match call.op.host {
        Host::Regional(prefix) => Some(format!("{prefix}.{}.amazonaws.com", call.region)),
        Host::Global(h) => Some(h.to_owned()),
    };
    if let (Some(host), false, Identity::IamUser { .. } | Identity::AssumedRole { .. }) =
        (host, call.service_event, call.identity)
    {
        w.begin_obj("tlsDetails");
        w.str("tlsVersion", "TLSv1.3");
        w.str("cipherSuite", "TLS_AES_128_GCM_SHA256");
        w.str("clientProvidedHostHeader", &host);
        w.end();
    }
    if call.console {
        w.str("sessionCredentialFromConsole", "true");
    }
    w.end();
    event_id
}
