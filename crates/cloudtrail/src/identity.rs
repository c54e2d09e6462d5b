//! Who made a call, with what kind of credential, and whether it is a Bedrock call.

use serde::{Deserialize, Serialize};

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
