//! Who made a call, with what kind of credential, and whether it is a Bedrock call.

use serde::{Deserialize, Serialize};

use crate::record::{Record, UserIdentity};

/// What kind of identity a principal key names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    /// An IAM user (`arn:aws:iam::ACCOUNT:user/NAME`).
    IamUser,
    /// An assumed IAM role, keyed by the role ARN from `sessionIssuer`.
    AssumedRole,
    /// An IAM Identity Center (`AWSReservedSSO_*`) role, keyed by role plus session
    /// name: the person.
    IdentityCenter,
    /// The account's root user.
    Root,
    /// An STS federated user.
    FederatedUser,
    /// An AWS service acting on the account's behalf.
    AwsService,
    /// Another account (`AWSAccount`) calling across.
    AwsAccount,
    /// Anything else, or no `userIdentity` at all.
    Unknown,
}

/// The kind of credential that signed a call. A feature of its own: a principal that
/// always uses session credentials and suddenly signs with a long-term key is news.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialClass {
    /// Long-term access key (`AKIA...`).
    LongTermKey,
    /// Temporary session credentials (`ASIA...`) outside the console.
    Session,
    /// A console sign-in session.
    Console,
    /// A Bedrock API key (`callWithBearerToken`).
    BedrockApiKey,
    /// No credential recorded (service events, anonymous calls).
    None,
}

impl CredentialClass {
    /// A stable lower-case name, as used in profiles and findings.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LongTermKey => "long_term_key",
            Self::Session => "session",
            Self::Console => "console",
            Self::BedrockApiKey => "bedrock_api_key",
            Self::None => "none",
        }
    }
}

impl PrincipalKind {
    /// A stable lower-case name, as used in profiles and findings.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::IamUser => "iam_user",
            Self::AssumedRole => "assumed_role",
            Self::IdentityCenter => "identity_center",
            Self::Root => "root",
            Self::FederatedUser => "federated_user",
            Self::AwsService => "aws_service",
            Self::AwsAccount => "aws_account",
            Self::Unknown => "unknown",
        }
    }
}

/// Which Bedrock surface a call went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BedrockSurface {
    /// `bedrock.amazonaws.com` through the control-plane host.
    Control,
    /// `bedrock.amazonaws.com` through `bedrock-runtime.<region>.amazonaws.com`
    /// (InvokeModel, Converse, ...).
    Runtime,
    /// `bedrock-mantle.amazonaws.com`.
    Mantle,
    /// `bedrock-agentcore.amazonaws.com`.
    AgentCore,
}

impl BedrockSurface {
    /// A stable lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Control => "control",
            Self::Runtime => "runtime",
            Self::Mantle => "mantle",
            Self::AgentCore => "agentcore",
        }
    }
}

/// The stable identity a baseline is kept for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Principal {
    /// The baseline key: an ARN, `service:<name>`, `account:<id>` or
    /// `unknown:<account>` (see [`principal`]).
    pub key: String,
    /// What the key names.
    pub kind: PrincipalKind,
    /// The principal's account (`userIdentity.accountId`, else the recipient account).
    pub account_id: Option<String>,
    /// The role session name, for assumed roles and Identity Center sessions.
    pub session_name: Option<String>,
}

/// Identity Center role names start with this.
const SSO_ROLE_PREFIX: &str = "AWSReservedSSO_";
/// IAM users created for Bedrock API keys start with this.
const BEDROCK_API_KEY_USER_PREFIX: &str = "BedrockAPIKey-";

/// The principal key of a record:
///
/// | `userIdentity.type` | key | kind |
/// |---|---|---|
/// | `IAMUser` | the user ARN | `IamUser` |
/// | `AssumedRole` | the role ARN from `sessionIssuer` (else derived from the `assumed-role` ARN) | `AssumedRole` |
/// | `AssumedRole`, role `AWSReservedSSO_*` | role ARN + `/` + session name | `IdentityCenter` |
/// | `Root` | `arn:aws:iam::ACCOUNT:root` | `Root` |
/// | `FederatedUser`, `SAMLUser`, `WebIdentityUser` | the ARN (else principal id) | `FederatedUser` |
/// | `AWSService` | `service:` + `invokedBy` | `AwsService` |
/// | `AWSAccount` | `account:` + account id | `AwsAccount` |
/// | no type, only `invokedBy` | `service:` + `invokedBy` | `AwsService` |
/// | no `userIdentity`, `AwsServiceEvent` | `service:` + `eventSource` | `AwsService` |
///
/// When the ARN is mangled, missing or of another shape, the key falls back to the
/// ARN as written, then the principal id, then `unknown:<account>`; the kind is then
/// `Unknown` unless the type said otherwise.
pub fn principal(rec: &Record<'_>) -> Principal {
    let recipient = non_empty(rec.recipient_account_id.as_deref());
    let Some(ui) = rec.user_identity.as_ref() else {
        if rec.event_type.as_deref() == Some("AwsServiceEvent") {
            return Principal {
                key: format!("service:{}", rec.event_source),
                kind: PrincipalKind::AwsService,
                account_id: recipient.map(str::to_owned),
                session_name: None,
            };
        }
        return unknown(recipient);
    };
    let account = non_empty(ui.account_id.as_deref()).or(recipient);
    let arn = non_empty(ui.arn.as_deref());
    let principal_id = non_empty(ui.principal_id.as_deref());
    let fallback = |kind: PrincipalKind| -> Principal {
        match arn.or(principal_id) {
            Some(key) => Principal {
                key: key.to_owned(),
                kind,
                account_id: account.map(str::to_owned),
                session_name: None,
            },
            None => Principal {
                kind,
                ..unknown(account)
            },
        }
    };
    let make = |key: String, kind: PrincipalKind, session: Option<&str>| Principal {
        key,
        kind,
        account_id: account.map(str::to_owned),
        session_name: session.map(str::to_owned),
    };
    match ui.kind.as_deref().unwrap_or("") {
        "IAMUser" => {
            match arn.filter(|a| arn_resource(a).is_some_and(|r| r.starts_with("user/"))) {
                Some(a) => make(a.to_owned(), PrincipalKind::IamUser, None),
                None => fallback(PrincipalKind::IamUser),
            }
        }
        "AssumedRole" => assumed_role(ui, arn, principal_id).map_or_else(
            || fallback(PrincipalKind::AssumedRole),
            |(role_arn, session)| match session {
                Some(s) if is_identity_center_role(&role_arn) => make(
                    format!("{role_arn}/{s}"),
                    PrincipalKind::IdentityCenter,
                    Some(s),
                ),
                _ => make(role_arn, PrincipalKind::AssumedRole, session),
            },
        ),
        "Root" => match arn.filter(|a| a.ends_with(":root")) {
            Some(a) => make(a.to_owned(), PrincipalKind::Root, None),
            None => match account {
                Some(acct) => make(
                    format!("arn:aws:iam::{acct}:root"),
                    PrincipalKind::Root,
                    None,
                ),
                None => fallback(PrincipalKind::Root),
            },
        },
        "FederatedUser" | "SAMLUser" | "WebIdentityUser" => fallback(PrincipalKind::FederatedUser),
        "AWSService" => {
            match non_empty(ui.invoked_by.as_deref()).or(non_empty(Some(&rec.event_source))) {
                Some(svc) => make(format!("service:{svc}"), PrincipalKind::AwsService, None),
                None => fallback(PrincipalKind::AwsService),
            }
        }
        "AWSAccount" => match account {
            Some(acct) => make(format!("account:{acct}"), PrincipalKind::AwsAccount, None),
            None => fallback(PrincipalKind::AwsAccount),
        },
        // Service events often carry an identity with only `invokedBy` and no type.
        "" if arn.is_none() && principal_id.is_none() => {
            match non_empty(ui.invoked_by.as_deref()) {
                Some(svc) => make(format!("service:{svc}"), PrincipalKind::AwsService, None),
                None => fallback(PrincipalKind::Unknown),
            }
        }
        _ => fallback(PrincipalKind::Unknown),
    }
}

fn unknown(account: Option<&str>) -> Principal {
    Principal {
        key: format!("unknown:{}", account.unwrap_or("-")),
        kind: PrincipalKind::Unknown,
        account_id: account.map(str::to_owned),
        session_name: None,
    }
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.is_empty())
}

/// The resource part of an ARN (`user/NAME`, `assumed-role/ROLE/SESSION`, `root`),
/// when it has the six colon-separated parts of a real ARN.
fn arn_resource(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    if parts.next()? != "arn" {
        return None;
    }
    parts.nth(3)?;
    parts.next()
}

/// The role ARN and session name of an assumed-role identity: the role from
/// `sessionIssuer` when it has one, else derived from an
/// `arn:PARTITION:sts::ACCOUNT:assumed-role/ROLE/SESSION` ARN. The session name
/// comes from that ARN, else from the principal id's `ROLEID:SESSION`.
fn assumed_role<'s>(
    ui: &'s UserIdentity<'_>,
    arn: Option<&'s str>,
    principal_id: Option<&'s str>,
) -> Option<(String, Option<&'s str>)> {
    let parsed = arn.and_then(|a| {
        let mut parts = a.splitn(6, ':');
        let (_, partition, _, _, account, resource) = (
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
        );
        let (role, session) = resource.strip_prefix("assumed-role/")?.split_once('/')?;
        (!role.is_empty() && !partition.is_empty()).then_some((partition, account, role, session))
    });
    let session = parsed
        .map(|(_, _, _, s)| s)
        .or_else(|| principal_id.and_then(|p| p.split_once(':')).map(|(_, s)| s))
        .filter(|s| !s.is_empty());
    let issuer_arn = ui
        .session_context
        .as_ref()
        .and_then(|c| c.session_issuer.as_ref())
        .and_then(|i| non_empty(i.arn.as_deref()));
    let role_arn = match (issuer_arn, parsed) {
        (Some(a), _) => a.to_owned(),
        (None, Some((partition, account, role, _))) => {
            format!("arn:{partition}:iam::{account}:role/{role}")
        }
        (None, None) => return None,
    };
    Some((role_arn, session))
}

/// True for an Identity Center role: `AWSReservedSSO_*`, or a role under the
/// `aws-reserved/sso.amazonaws.com/` path.
fn is_identity_center_role(role_arn: &str) -> bool {
    let name = role_arn.rsplit('/').next().unwrap_or(role_arn);
    name.starts_with(SSO_ROLE_PREFIX) || role_arn.contains("/aws-reserved/sso.amazonaws.com/")
}

/// The kind of credential that signed a record:
/// - a Bedrock API key when `additionalEventData.callWithBearerToken` is true, or the
///   user is a `BedrockAPIKey-*` IAM user;
/// - `AKIA...` keys are long-term;
/// - any other key is a console session when `sessionCredentialFromConsole` is true
///   or the user agent is the console's;
/// - else `ASIA...` keys are sessions; so are anonymised keys (no AWS prefix) on an
///   identity with a `sessionContext` or of type `AssumedRole` / `FederatedUser`;
///   other anonymised keys count as long-term;
/// - no key at all is `None`.
pub fn credential_class(rec: &Record<'_>) -> CredentialClass {
    if rec.call_with_bearer_token() || is_bedrock_api_key_user(rec) {
        return CredentialClass::BedrockApiKey;
    }
    let Some(key) = rec.access_key_id() else {
        return CredentialClass::None;
    };
    if key.starts_with("AKIA") {
        return CredentialClass::LongTermKey;
    }
    if is_console(rec) {
        return CredentialClass::Console;
    }
    let session_like = key.starts_with("ASIA")
        || rec.user_identity.as_ref().is_some_and(|ui| {
            ui.session_context.is_some()
                || matches!(ui.kind.as_deref(), Some("AssumedRole" | "FederatedUser"))
        });
    if session_like {
        CredentialClass::Session
    } else {
        CredentialClass::LongTermKey
    }
}

fn is_bedrock_api_key_user(rec: &Record<'_>) -> bool {
    let Some(ui) = rec.user_identity.as_ref() else {
        return false;
    };
    ui.user_name
        .as_deref()
        .is_some_and(|n| n.starts_with(BEDROCK_API_KEY_USER_PREFIX))
        || ui.arn.as_deref().and_then(arn_resource).is_some_and(|r| {
            r.rsplit('/')
                .next()
                .is_some_and(|n| n.starts_with(BEDROCK_API_KEY_USER_PREFIX))
        })
}

/// Console signals: the explicit `sessionCredentialFromConsole` flag, or a console
/// user agent: `console.amazonaws.com` / `console.<service>.amazonaws.com`, or an
/// AWS-internal console frontend (`[S3Console/0.4, aws-internal/3 ...]`,
/// `RDS Console, aws-internal/3 ...`, `EC2ConsoleFrontend, aws-internal/3 ...`).
fn is_console(rec: &Record<'_>) -> bool {
    if rec.session_credential_from_console == Some(true) {
        return true;
    }
    let Some(ua) = rec.user_agent.as_deref() else {
        return false;
    };
    let first = ua
        .trim_start_matches('[')
        .split([',', ' ', ']'])
        .next()
        .unwrap_or("");
    let console_host = first == "console.amazonaws.com"
        || (first.starts_with("console.") && first.ends_with(".amazonaws.com"));
    let head = ua.trim_start_matches('[').split(',').next().unwrap_or("");
    console_host || (head.contains("Console") && ua.contains("aws-internal"))
}

/// The event names of Bedrock runtime calls (same `eventSource` as the control
/// plane; the host header is the other tell).
const RUNTIME_EVENTS: [&str; 8] = [
    "InvokeModel",
    "InvokeModelWithResponseStream",
    "InvokeModelWithBidirectionalStream",
    "Converse",
    "ConverseStream",
    "ApplyGuardrail",
    "CountTokens",
    "StartAsyncInvoke",
];

/// Which Bedrock surface a record went to, `None` for non-Bedrock records:
/// `bedrock.amazonaws.com` is `Runtime` when the host header is
/// `bedrock-runtime.*` or the call is a runtime call, else `Control`;
/// `bedrock-mantle.amazonaws.com` is `Mantle`; `bedrock-agentcore.amazonaws.com`
/// is `AgentCore`.
pub fn bedrock_surface(rec: &Record<'_>) -> Option<BedrockSurface> {
    match &*rec.event_source {
        "bedrock.amazonaws.com" => {
            let runtime_host = rec
                .host_header()
                .is_some_and(|h| h.starts_with("bedrock-runtime."));
            if runtime_host || RUNTIME_EVENTS.contains(&&*rec.event_name) {
                Some(BedrockSurface::Runtime)
            } else {
                Some(BedrockSurface::Control)
            }
        }
        "bedrock-mantle.amazonaws.com" => Some(BedrockSurface::Mantle),
        "bedrock-agentcore.amazonaws.com" => Some(BedrockSurface::AgentCore),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::parse_log;

    /// Decodes one event given as a JSON object.
    fn with_record<T>(json: &str, f: impl FnOnce(&Record<'_>) -> T) -> T {
        let file = parse_log(json.as_bytes()).unwrap();
        assert_eq!(file.errors, vec![], "{json}");
        assert_eq!(file.records.len(), 1);
        f(&file.records[0])
    }

    fn event(identity: &str, extra: &str) -> String {
        format!(
            r#"{{"eventVersion":"1.09","eventTime":"2024-05-01T10:00:00Z","eventSource":"bedrock.amazonaws.com","eventName":"InvokeModel","recipientAccountId":"111122223333"{identity}{extra}}}"#
        )
    }

    fn principal_of(identity: &str) -> Principal {
        with_record(&event(identity, ""), principal)
    }

    #[test]
    fn iam_user_is_keyed_by_its_arn() {
        let p = principal_of(
            r#","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333","accessKeyId":"AKIAEXAMPLE","userName":"alice"}"#,
        );
        assert_eq!(p.key, "arn:aws:iam::111122223333:user/alice");
        assert_eq!(p.kind, PrincipalKind::IamUser);
        assert_eq!(p.account_id.as_deref(), Some("111122223333"));
        assert_eq!(p.session_name, None);
    }

    #[test]
    fn assumed_role_is_keyed_by_the_issuer_role() {
        let p = principal_of(
            r#","userIdentity":{"type":"AssumedRole","principalId":"AROAEXAMPLE:build-42","arn":"arn:aws:sts::111122223333:assumed-role/ci/build-42","accountId":"111122223333","accessKeyId":"ASIAEXAMPLE","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAEXAMPLE","arn":"arn:aws:iam::111122223333:role/service/ci","accountId":"111122223333","userName":"ci"},"attributes":{"creationDate":"2024-05-01T09:00:00Z","mfaAuthenticated":"false"}}}"#,
        );
        assert_eq!(p.key, "arn:aws:iam::111122223333:role/service/ci");
        assert_eq!(p.kind, PrincipalKind::AssumedRole);
        assert_eq!(p.session_name.as_deref(), Some("build-42"));
    }

    #[test]
    fn assumed_role_without_issuer_derives_the_role_arn() {
        let p = principal_of(
            r#","userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::494659789341:assumed-role/test-role/cli","accountId":"494659789341"}"#,
        );
        assert_eq!(p.key, "arn:aws:iam::494659789341:role/test-role");
        assert_eq!(p.kind, PrincipalKind::AssumedRole);
        assert_eq!(p.session_name.as_deref(), Some("cli"));
    }

    #[test]
    fn identity_center_role_keys_the_person() {
        let p = principal_of(
            r#","userIdentity":{"type":"AssumedRole","principalId":"AROAEXAMPLE:jane@example.com","arn":"arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/jane@example.com","sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123456789abcdef","userName":"AWSReservedSSO_Admin_0123456789abcdef"}}}"#,
        );
        assert_eq!(
            p.key,
            "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123456789abcdef/jane@example.com"
        );
        assert_eq!(p.kind, PrincipalKind::IdentityCenter);
        assert_eq!(p.session_name.as_deref(), Some("jane@example.com"));
        // Two people behind the same permission set are two principals.
        let q = principal_of(
            r#","userIdentity":{"type":"AssumedRole","principalId":"AROAEXAMPLE:bob@example.com","arn":"arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/bob@example.com","sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123456789abcdef"}}}"#,
        );
        assert_ne!(p.key, q.key);
    }

    #[test]
    fn root_federated_service_and_account() {
        let root = principal_of(
            r#","userIdentity":{"type":"Root","principalId":"111122223333","arn":"arn:aws:iam::111122223333:root","accountId":"111122223333"}"#,
        );
        assert_eq!(
            (root.key.as_str(), root.kind),
            ("arn:aws:iam::111122223333:root", PrincipalKind::Root)
        );
        let root_no_arn = principal_of(r#","userIdentity":{"type":"Root","accountId":"999"}"#);
        assert_eq!(root_no_arn.key, "arn:aws:iam::999:root");

        let fed = principal_of(
            r#","userIdentity":{"type":"FederatedUser","principalId":"111122223333:mallory","arn":"arn:aws:sts::111122223333:federated-user/mallory","accountId":"111122223333"}"#,
        );
        assert_eq!(
            (fed.key.as_str(), fed.kind),
            (
                "arn:aws:sts::111122223333:federated-user/mallory",
                PrincipalKind::FederatedUser
            )
        );

        let svc = principal_of(
            r#","userIdentity":{"type":"AWSService","invokedBy":"cloudtrail.amazonaws.com"}"#,
        );
        assert_eq!(
            (svc.key.as_str(), svc.kind),
            (
                "service:cloudtrail.amazonaws.com",
                PrincipalKind::AwsService
            )
        );
        assert_eq!(svc.account_id.as_deref(), Some("111122223333"));

        let acct = principal_of(
            r#","userIdentity":{"type":"AWSAccount","principalId":"AIDAX:who","accountId":"444455556666"}"#,
        );
        assert_eq!(
            (acct.key.as_str(), acct.kind),
            ("account:444455556666", PrincipalKind::AwsAccount)
        );
    }

    #[test]
    fn missing_identity_falls_back() {
        let p = with_record(&event("", r#","eventType":"AwsServiceEvent""#), principal);
        assert_eq!(
            (p.key.as_str(), p.kind),
            ("service:bedrock.amazonaws.com", PrincipalKind::AwsService)
        );
        let p = principal_of("");
        assert_eq!(
            (p.key.as_str(), p.kind),
            ("unknown:111122223333", PrincipalKind::Unknown)
        );
    }

    #[test]
    fn mangled_arns_fall_back_to_arn_then_principal_id_then_account() {
        let p = principal_of(
            r#","userIdentity":{"type":"AssumedRole","principalId":"AROAX:sess","arn":"arn:aws:sts::12345678901:assumed-roleXYZ","accountId":"12345678901"}"#,
        );
        assert_eq!(p.key, "arn:aws:sts::12345678901:assumed-roleXYZ");
        assert_eq!(p.kind, PrincipalKind::AssumedRole);
        let p = principal_of(
            r#","userIdentity":{"type":"IAMUser","principalId":"AIDAX","arn":"mangled"}"#,
        );
        assert_eq!(p.key, "mangled");
        let p = principal_of(r#","userIdentity":{"type":"IAMUser","principalId":"AIDAX"}"#);
        assert_eq!(p.key, "AIDAX");
        let p = principal_of(r#","userIdentity":{"type":"IAMUser","accountId":"12345678901"}"#);
        assert_eq!(p.key, "unknown:12345678901");
        assert_eq!(p.kind, PrincipalKind::IamUser);
    }

    #[test]
    fn credential_classes() {
        let class =
            |identity: &str, extra: &str| with_record(&event(identity, extra), credential_class);
        assert_eq!(
            class(
                r#","userIdentity":{"type":"IAMUser","accessKeyId":"AKIAEXAMPLE"}"#,
                ""
            ),
            CredentialClass::LongTermKey
        );
        assert_eq!(
            class(
                r#","userIdentity":{"type":"AssumedRole","accessKeyId":"ASIAEXAMPLE"}"#,
                ""
            ),
            CredentialClass::Session
        );
        assert_eq!(
            class(
                r#","userIdentity":{"type":"AssumedRole","accessKeyId":"ASIAEXAMPLE"}"#,
                r#","sessionCredentialFromConsole":"true""#
            ),
            CredentialClass::Console
        );
        assert_eq!(
            class(
                r#","userIdentity":{"type":"AssumedRole","accessKeyId":"ASIAEXAMPLE"}"#,
                r#","sessionCredentialFromConsole":true"#
            ),
            CredentialClass::Console
        );
        assert_eq!(
            class(
                r#","userIdentity":{"type":"AssumedRole","accessKeyId":"ASIAEXAMPLE"}"#,
                r#","userAgent":"console.ec2.amazonaws.com""#
            ),
            CredentialClass::Console
        );
        assert_eq!(
            class(
                r#","userIdentity":{"type":"AssumedRole","accessKeyId":"ASIAEXAMPLE"}"#,
                r#","userAgent":"[S3Console/0.4, aws-internal/3 aws-sdk-java/1.12.488]""#
            ),
            CredentialClass::Console
        );
        assert_eq!(
            class(
                r#","userIdentity":{"type":"AssumedRole","accessKeyId":"ASIAEXAMPLE"}"#,
                r#","userAgent":"MyConsoleApp/1.0 python-requests/2.31""#
            ),
            CredentialClass::Session
        );
        assert_eq!(
            class(
                r#","userIdentity":{"type":"IAMUser","accessKeyId":"ASIAEXAMPLE"}"#,
                r#","additionalEventData":{"callWithBearerToken":true}"#
            ),
            CredentialClass::BedrockApiKey
        );
        assert_eq!(
            class(
                r#","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/BedrockAPIKey-abcd","accessKeyId":"AKIAEXAMPLE"}"#,
                ""
            ),
            CredentialClass::BedrockApiKey
        );
        assert_eq!(
            class(
                r#","userIdentity":{"type":"IAMUser","accessKeyId":"AKIAEXAMPLE"}"#,
                r#","additionalEventData":{"callWithBearerToken":false}"#
            ),
            CredentialClass::LongTermKey
        );
        assert_eq!(
            class(
                r#","userIdentity":{"type":"AWSService","accessKeyId":""}"#,
                ""
            ),
            CredentialClass::None
        );
        assert_eq!(class("", ""), CredentialClass::None);
    }

    #[test]
    fn bedrock_surfaces() {
        let surface = |source: &str, name: &str, host: Option<&str>| {
            let tls = host
                .map(|h| format!(r#","tlsDetails":{{"clientProvidedHostHeader":"{h}"}}"#))
                .unwrap_or_default();
            let json = format!(
                r#"{{"eventTime":"2024-05-01T10:00:00Z","eventSource":"{source}","eventName":"{name}"{tls}}}"#
            );
            with_record(&json, bedrock_surface)
        };
        use BedrockSurface::*;
        let rt = Some("bedrock-runtime.us-east-1.amazonaws.com");
        let cp = Some("bedrock.us-east-1.amazonaws.com");
        assert_eq!(
            surface("bedrock.amazonaws.com", "InvokeModel", rt),
            Some(Runtime)
        );
        assert_eq!(
            surface("bedrock.amazonaws.com", "InvokeModel", None),
            Some(Runtime)
        );
        assert_eq!(
            surface("bedrock.amazonaws.com", "ConverseStream", cp),
            Some(Runtime)
        );
        assert_eq!(
            surface("bedrock.amazonaws.com", "CountTokens", None),
            Some(Runtime)
        );
        assert_eq!(
            surface("bedrock.amazonaws.com", "SomethingNew", rt),
            Some(Runtime)
        );
        assert_eq!(
            surface("bedrock.amazonaws.com", "ListFoundationModels", cp),
            Some(Control)
        );
        assert_eq!(
            surface(
                "bedrock.amazonaws.com",
                "DeleteModelInvocationLoggingConfiguration",
                None
            ),
            Some(Control)
        );
        assert_eq!(
            surface("bedrock-mantle.amazonaws.com", "CreateChatCompletion", None),
            Some(Mantle)
        );
        assert_eq!(
            surface("bedrock-agentcore.amazonaws.com", "InvokeGateway", None),
            Some(AgentCore)
        );
        assert_eq!(surface("s3.amazonaws.com", "InvokeModel", rt), None);
    }
}
