//! Static facts the simulator draws from: address ranges (those of the demo GeoIP
//! databases), user agents, models and the API calls each kind of principal makes.

use crate::rng::Rng;

/// An IPv4 range, `base/prefix`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    base: u32,
    prefix: u8,
}

const fn range(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> Range {
    Range {
        base: u32::from_be_bytes([a, b, c, d]),
        prefix,
    }
}

/// Corporate office, Seattle (AS6461).
pub const OFFICE_SEATTLE: Range = range(64, 124, 0, 0, 16);
/// Employees at home, Portland (Comcast, AS7922).
pub const HOME_PORTLAND: Range = range(73, 0, 0, 0, 8);
/// Travel within the US, New York (Charter, AS12271).
pub const TRAVEL_NEW_YORK: Range = range(24, 0, 0, 0, 12);
/// AWS us-east-1 workloads (AS14618).
pub const AWS_US_EAST_1: Range = range(44, 192, 0, 0, 11);
/// AWS us-west-2 workloads (AS16509).
pub const AWS_US_WEST_2: Range = range(52, 0, 0, 0, 11);
/// AWS eu-central-1 workloads (AS16509).
pub const AWS_EU_CENTRAL_1: Range = range(3, 120, 0, 0, 14);
/// A colleague abroad, Paris (Orange, AS3215).
pub const ABROAD_PARIS: Range = range(92, 128, 0, 0, 10);
/// London office (BT, AS2856).
pub const OFFICE_LONDON: Range = range(81, 2, 64, 0, 18);
/// Attacker VPS, Amsterdam (AS48090).
pub const VPS_AMSTERDAM: Range = range(45, 148, 8, 0, 22);
/// Attacker hosting, Moscow (AS49505).
pub const HOSTING_MOSCOW: Range = range(5, 188, 0, 0, 16);
/// Attacker cloud VM, Singapore (AS14061).
pub const CLOUD_SINGAPORE: Range = range(103, 21, 244, 0, 22);
/// Anonymising proxy, Berlin (AS208294).
pub const ANONYMISER_BERLIN: Range = range(185, 220, 100, 0, 22);

impl Range {
    /// A host address in the range (never the network or broadcast address).
    pub fn ip(self, rng: &mut Rng) -> String {
        let host_bits = 32 - u32::from(self.prefix);
        let size = 1u64 << host_bits;
        let offset = if size > 2 { rng.range(1, size - 2) } else { 0 };
        let [a, b, c, d] = (self.base.wrapping_add(offset as u32)).to_be_bytes();
        format!("{a}.{b}.{c}.{d}")
    }

    /// True when `ip` (dotted quad) is in the range.
    #[cfg(test)]
    pub fn contains(self, ip: &str) -> bool {
        let Ok(addr) = ip.parse::<std::net::Ipv4Addr>() else {
            return false;
        };
        let mask = if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.prefix))
        };
        u32::from(addr) & mask == self.base & mask
    }
}

/// The AWS address range of a region's workloads.
pub fn aws_range(region: &str) -> Range {
    match region {
        "us-west-2" | "us-west-1" => AWS_US_WEST_2,
        "eu-central-1" | "eu-west-1" => AWS_EU_CENTRAL_1,
        _ => AWS_US_EAST_1,
    }
}

/// The region a workload fails over to.
pub fn paired_region(region: &str) -> &'static str {
    match region {
        "us-east-1" => "us-west-2",
        "eu-central-1" => "eu-west-1",
        _ => "us-east-1",
    }
}

/// Regions an attacker probes.
pub const PROBE_REGIONS: &[&str] = &[
    "us-east-1",
    "us-west-2",
    "eu-central-1",
    "eu-west-1",
    "eu-west-3",
    "ap-northeast-1",
    "ap-southeast-2",
    "ap-south-1",
    "ca-central-1",
    "sa-east-1",
];

/// A client program, with the version it is pinned at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Client {
    /// AWS CLI v2 (its user agent names the command).
    AwsCli2 {
        version: &'static str,
        os: &'static str,
    },
    /// Boto3 in a script or service.
    Boto3 {
        version: &'static str,
        os: &'static str,
    },
    /// AWS SDK for Java 1.x.
    JavaV1 { version: &'static str },
    /// AWS SDK for Java 2.x.
    JavaV2 { version: &'static str },
    /// AWS SDK for JavaScript v3 (Node.js on Lambda).
    JsV3 { version: &'static str },
    /// The management console in a browser.
    Console { browser: &'static str },
    /// A hand-written script with a generic HTTP client.
    Generic(&'static str),
}

const CLI_VERSIONS: &[&str] = &["2.15.30", "2.15.38", "2.17.12"];
const BOTO_VERSIONS: &[&str] = &["1.34.69", "1.34.84", "1.35.10"];
const OSES: &[&str] = &[
    "linux#6.5.0-1014-aws",
    "macos#23.4.0",
    "linux#6.8.0-40-generic",
];
const BROWSERS: &[&str] = &[
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:124.0) Gecko/20100101 Firefox/124.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Safari/605.1.15",
];
/// User agents of hand-written attack tooling.
pub const GENERIC_CLIENTS: &[&str] = &[
    "python-requests/2.31.0",
    "Python/3.11 aiohttp/3.9.3",
    "axios/1.6.8",
    "curl/8.5.0",
];

impl Client {
    /// A client a person uses, drawn once.
    pub fn for_person(rng: &mut Rng) -> Self {
        let os = *rng.pick(OSES).unwrap_or(&"linux#6.5.0-1014-aws");
        match rng.weighted(&[0.4, 0.35, 0.25]) {
            0 => Self::AwsCli2 {
                version: pick(rng, CLI_VERSIONS),
                os,
            },
            1 => Self::Boto3 {
                version: pick(rng, BOTO_VERSIONS),
                os,
            },
            _ => Self::Console {
                browser: pick(rng, BROWSERS),
            },
        }
    }

    /// The next minor release of the same client, if there is one in the catalogue.
    pub fn newer_minor(&self) -> Option<Self> {
        let next = |list: &[&'static str], v: &str| {
            list.iter()
                .position(|x| *x == v)
                .and_then(|i| list.get(i + 1))
                .copied()
        };
        match self {
            Self::AwsCli2 { version, os } => {
                next(CLI_VERSIONS, version).map(|version| Self::AwsCli2 { version, os })
            }
            Self::Boto3 { version, os } => {
                next(BOTO_VERSIONS, version).map(|version| Self::Boto3 { version, os })
            }
            _ => None,
        }
    }

    /// A person's other client: the console for command-line people and the reverse.
    pub fn second_for_person(&self, rng: &mut Rng) -> Self {
        if self.is_console() {
            Self::AwsCli2 {
                version: pick(rng, CLI_VERSIONS),
                os: "macos#23.4.0",
            }
        } else {
            Self::Console {
                browser: pick(rng, BROWSERS),
            }
        }
    }

    /// The SDK a service role is built with, drawn once.
    pub fn for_service(rng: &mut Rng) -> Self {
        match rng.weighted(&[0.45, 0.25, 0.2, 0.1]) {
            0 => Self::Boto3 {
                version: pick(rng, BOTO_VERSIONS),
                os: "linux#5.10.213-201.855.amzn2.x86_64",
            },
            1 => Self::JavaV2 { version: "2.25.16" },
            2 => Self::JsV3 { version: "3.540.0" },
            _ => Self::JavaV1 {
                version: "1.12.681",
            },
        }
    }

    /// True for the management console.
    pub fn is_console(&self) -> bool {
        matches!(self, Self::Console { .. })
    }

    /// The `userAgent` of one call to `source`/`name`.
    pub fn user_agent(&self, source: &str, name: &str) -> String {
        let service = source.strip_suffix(".amazonaws.com").unwrap_or(source);
        match self {
            Self::AwsCli2 { version, os } => format!(
                "aws-cli/{version} md/awscrt#0.19.19 ua/2.0 os/{os} md/arch#x86_64 lang/python#3.11.8 \
                 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/prompt#off md/command#{service}.{}",
                kebab(name)
            ),
            Self::Boto3 { version, os } => format!(
                "Boto3/{version} md/Botocore#{version} ua/2.0 os/{os} md/arch#x86_64 lang/python#3.12.2 \
                 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/{version}"
            ),
            Self::JavaV1 { version } => format!(
                "aws-sdk-java/{version} Linux/5.10.213-201.855.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/11.0.22+7-LTS \
                 java/11.0.22 vendor/Amazon.com_Inc. cfg/retry-mode/standard"
            ),
            Self::JavaV2 { version } => format!(
                "aws-sdk-java/{version} Linux/5.10.213-201.855.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.10+7-LTS \
                 Java/17.0.10 vendor/Amazon.com_Inc. md/internal exec-env/AWS_ECS_FARGATE io/sync http/Apache cfg/retry-mode/legacy"
            ),
            Self::JsV3 { version } => format!(
                "aws-sdk-js/{version} ua/2.0 os/linux#5.10.213-201.855.amzn2.x86_64 lang/js md/nodejs#20.11.1 \
                 api/{service}#{version} exec-env/AWS_Lambda_nodejs20.x"
            ),
            Self::Console { browser } => (*browser).to_owned(),
            Self::Generic(ua) => (*ua).to_owned(),
        }
    }
}

fn pick(rng: &mut Rng, items: &[&'static str]) -> &'static str {
    rng.pick(items).copied().unwrap_or("")
}

/// `InvokeModel` -> `invoke-model`, as the CLI names commands.
fn kebab(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Models an organisation uses day to day.
pub const ORG_MODELS: &[&str] = &[
    "anthropic.claude-3-haiku-20240307-v1:0",
    "anthropic.claude-3-sonnet-20240229-v1:0",
    "anthropic.claude-3-5-sonnet-20240620-v1:0",
    "amazon.titan-embed-text-v2:0",
    "meta.llama3-8b-instruct-v1:0",
    "amazon.titan-text-express-v1",
    "mistral.mistral-7b-instruct-v0:2",
    "cohere.embed-english-v3",
    "us.anthropic.claude-3-5-sonnet-20241022-v2:0",
    "amazon.nova-lite-v1:0",
];
/// The model a `NewModelAdoption` principal starts with, and the one it moves to.
pub const ADOPTION_FROM: &str = "anthropic.claude-3-haiku-20240307-v1:0";
/// See [`ADOPTION_FROM`].
pub const ADOPTION_TO: &str = "anthropic.claude-3-5-haiku-20241022-v1:0";
/// Expensive models attackers run, never used by the simulated organisations.
pub const ATTACKER_MODELS: &[&str] = &[
    "anthropic.claude-3-opus-20240229-v1:0",
    "anthropic.claude-v2:1",
    "anthropic.claude-3-7-sonnet-20250219-v1:0",
];

/// How `requestParameters` is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Params {
    /// `"requestParameters": null`.
    Null,
    /// No `requestParameters` key at all.
    Absent,
    /// `{"modelId": <model>}`.
    Model,
    /// An S3 bucket call: `{"bucketName": .., "Host": ..}`.
    Bucket,
    /// A small, call-specific object.
    Fixed(&'static str),
}

/// Where a call goes: `tlsDetails.clientProvidedHostHeader`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host {
    /// `<prefix>.<region>.amazonaws.com`.
    Regional(&'static str),
    /// A global endpoint.
    Global(&'static str),
}

/// One API call shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Op {
    /// `eventSource`.
    pub source: &'static str,
    /// `eventName`.
    pub name: &'static str,
    /// `readOnly`.
    pub read_only: bool,
    /// The endpoint.
    pub host: Host,
    /// `requestParameters`.
    pub params: Params,
    /// `eventVersion`.
    pub version: &'static str,
}

const fn op(
    source: &'static str,
    name: &'static str,
    read_only: bool,
    host: Host,
    params: Params,
    version: &'static str,
) -> Op {
    Op {
        source,
        name,
        read_only,
        host,
        params,
        version,
    }
}

const BEDROCK: &str = "bedrock.amazonaws.com";
const RT: Host = Host::Regional("bedrock-runtime");
const CP: Host = Host::Regional("bedrock");

pub const INVOKE_MODEL: Op = op(BEDROCK, "InvokeModel", true, RT, Params::Model, "1.10");
pub const INVOKE_STREAM: Op = op(
    BEDROCK,
    "InvokeModelWithResponseStream",
    true,
    RT,
    Params::Model,
    "1.10",
);
pub const CONVERSE: Op = op(BEDROCK, "Converse", true, RT, Params::Model, "1.10");
pub const CONVERSE_STREAM: Op = op(BEDROCK, "ConverseStream", true, RT, Params::Model, "1.10");
pub const LIST_FOUNDATION_MODELS: Op = op(
    BEDROCK,
    "ListFoundationModels",
    true,
    CP,
    Params::Fixed("{}"),
    "1.09",
);
pub const GET_FOUNDATION_MODEL: Op = op(
    BEDROCK,
    "GetFoundationModel",
    true,
    CP,
    Params::Model,
    "1.09",
);
pub const LIST_INFERENCE_PROFILES: Op = op(
    BEDROCK,
    "ListInferenceProfiles",
    true,
    CP,
    Params::Fixed("{}"),
    "1.09",
);
pub const GET_LOGGING: Op = op(
    BEDROCK,
    "GetModelInvocationLoggingConfiguration",
    true,
    CP,
    Params::Null,
    "1.09",
);
pub const DELETE_LOGGING: Op = op(
    BEDROCK,
    "DeleteModelInvocationLoggingConfiguration",
    false,
    CP,
    Params::Absent,
    "1.09",
);
pub const GET_AVAILABILITY: Op = op(
    BEDROCK,
    "GetFoundationModelAvailability",
    true,
    CP,
    Params::Model,
    "1.09",
);
pub const LIST_AGREEMENT_OFFERS: Op = op(
    BEDROCK,
    "ListFoundationModelAgreementOffers",
    true,
    CP,
    Params::Model,
    "1.09",
);
pub const GET_USE_CASE: Op = op(
    BEDROCK,
    "GetUseCaseForModelAccess",
    true,
    CP,
    Params::Null,
    "1.09",
);
pub const PUT_USE_CASE: Op = op(
    BEDROCK,
    "PutUseCaseForModelAccess",
    false,
    CP,
    Params::Null,
    "1.09",
);
pub const CREATE_AGREEMENT: Op = op(
    BEDROCK,
    "CreateFoundationModelAgreement",
    false,
    CP,
    Params::Model,
    "1.09",
);
pub const PUT_ENTITLEMENT: Op = op(
    BEDROCK,
    "PutFoundationModelEntitlement",
    false,
    CP,
    Params::Model,
    "1.09",
);
pub const LIST_GUARDRAILS: Op = op(
    BEDROCK,
    "ListGuardrails",
    true,
    CP,
    Params::Fixed("{}"),
    "1.09",
);
pub const DELETE_GUARDRAIL: Op = op(
    BEDROCK,
    "DeleteGuardrail",
    false,
    CP,
    Params::Fixed("{\"guardrailIdentifier\":\"GUARDRAIL\"}"),
    "1.09",
);
pub const UPDATE_GUARDRAIL: Op = op(
    BEDROCK,
    "UpdateGuardrail",
    false,
    CP,
    Params::Fixed(
        "{\"guardrailIdentifier\":\"GUARDRAIL\",\"name\":\"default-guardrail\",\"blockedInputMessaging\":\"HIDDEN_DUE_TO_SECURITY_REASONS\",\"blockedOutputsMessaging\":\"HIDDEN_DUE_TO_SECURITY_REASONS\"}",
    ),
    "1.09",
);
pub const LIST_CUSTOM_MODELS: Op = op(
    BEDROCK,
    "ListCustomModels",
    true,
    CP,
    Params::Fixed("{}"),
    "1.09",
);
pub const CREATE_CUSTOMIZATION_JOB: Op = op(
    BEDROCK,
    "CreateModelCustomizationJob",
    false,
    CP,
    Params::Null,
    "1.09",
);
pub const GET_CALLER_IDENTITY: Op = op(
    "sts.amazonaws.com",
    "GetCallerIdentity",
    true,
    Host::Regional("sts"),
    Params::Null,
    "1.08",
);

const S3_HOST: Host = Host::Global("s3.amazonaws.com");
const IAM_HOST: Host = Host::Global("iam.amazonaws.com");

/// What a kind of principal does, with weights.
pub type Mix = &'static [(Op, f64)];

const EC2_DESCRIBE_INSTANCES: Op = op(
    "ec2.amazonaws.com",
    "DescribeInstances",
    true,
    Host::Regional("ec2"),
    Params::Fixed("{\"instancesSet\":{},\"filterSet\":{}}"),
    "1.11",
);
const EC2_DESCRIBE_VPCS: Op = op(
    "ec2.amazonaws.com",
    "DescribeVpcs",
    true,
    Host::Regional("ec2"),
    Params::Fixed("{\"vpcSet\":{},\"filterSet\":{}}"),
    "1.11",
);
const EC2_DESCRIBE_SG: Op = op(
    "ec2.amazonaws.com",
    "DescribeSecurityGroups",
    true,
    Host::Regional("ec2"),
    Params::Fixed("{\"securityGroupSet\":{},\"securityGroupIdSet\":{},\"filterSet\":{}}"),
    "1.11",
);
const EC2_DESCRIBE_IMAGES: Op = op(
    "ec2.amazonaws.com",
    "DescribeImages",
    true,
    Host::Regional("ec2"),
    Params::Fixed(
        "{\"executableBySet\":{},\"imagesSet\":{},\"ownersSet\":{\"items\":[{\"owner\":\"self\"}]},\"filterSet\":{}}",
    ),
    "1.11",
);
const S3_LIST_BUCKETS: Op = op(
    "s3.amazonaws.com",
    "ListBuckets",
    true,
    S3_HOST,
    Params::Fixed("{\"Host\":\"s3.amazonaws.com\"}"),
    "1.09",
);
const S3_GET_BUCKET_LOCATION: Op = op(
    "s3.amazonaws.com",
    "GetBucketLocation",
    true,
    S3_HOST,
    Params::Bucket,
    "1.09",
);
const S3_GET_BUCKET_POLICY: Op = op(
    "s3.amazonaws.com",
    "GetBucketPolicy",
    true,
    S3_HOST,
    Params::Bucket,
    "1.09",
);
const S3_GET_BUCKET_ACL: Op = op(
    "s3.amazonaws.com",
    "GetBucketAcl",
    true,
    S3_HOST,
    Params::Bucket,
    "1.09",
);
const CW_GET_METRIC_DATA: Op = op(
    "monitoring.amazonaws.com",
    "GetMetricData",
    true,
    Host::Regional("monitoring"),
    Params::Fixed("{\"startTime\":\"START\",\"endTime\":\"END\"}"),
    "1.09",
);
const CW_DESCRIBE_ALARMS: Op = op(
    "monitoring.amazonaws.com",
    "DescribeAlarms",
    true,
    Host::Regional("monitoring"),
    Params::Fixed("{}"),
    "1.09",
);
const LOGS_DESCRIBE_GROUPS: Op = op(
    "logs.amazonaws.com",
    "DescribeLogGroups",
    true,
    Host::Regional("logs"),
    Params::Fixed("{}"),
    "1.08",
);
const LOGS_CREATE_STREAM: Op = op(
    "logs.amazonaws.com",
    "CreateLogStream",
    false,
    Host::Regional("logs"),
    Params::Fixed("{\"logGroupName\":\"/app/LOGGROUP\",\"logStreamName\":\"STREAM\"}"),
    "1.08",
);
const IAM_LIST_ROLES: Op = op(
    "iam.amazonaws.com",
    "ListRoles",
    true,
    IAM_HOST,
    Params::Null,
    "1.08",
);
const IAM_GET_ROLE: Op = op(
    "iam.amazonaws.com",
    "GetRole",
    true,
    IAM_HOST,
    Params::Fixed("{\"roleName\":\"ROLE\"}"),
    "1.08",
);
const IAM_LIST_USERS: Op = op(
    "iam.amazonaws.com",
    "ListUsers",
    true,
    IAM_HOST,
    Params::Null,
    "1.08",
);
const LAMBDA_LIST: Op = op(
    "lambda.amazonaws.com",
    "ListFunctions20150331",
    true,
    Host::Regional("lambda"),
    Params::Null,
    "1.08",
);
const LAMBDA_UPDATE_CODE: Op = op(
    "lambda.amazonaws.com",
    "UpdateFunctionCode20150331v2",
    false,
    Host::Regional("lambda"),
    Params::Fixed("{\"functionName\":\"FUNCTION\",\"publish\":false,\"dryRun\":false}"),
    "1.08",
);
const KMS_DECRYPT: Op = op(
    "kms.amazonaws.com",
    "Decrypt",
    true,
    Host::Regional("kms"),
    Params::Fixed("{\"encryptionAlgorithm\":\"SYMMETRIC_DEFAULT\"}"),
    "1.08",
);
const KMS_GENERATE_DATA_KEY: Op = op(
    "kms.amazonaws.com",
    "GenerateDataKey",
    true,
    Host::Regional("kms"),
    Params::Fixed("{\"keySpec\":\"AES_256\",\"keyId\":\"alias/aws/s3\"}"),
    "1.08",
);
const SM_GET_SECRET: Op = op(
    "secretsmanager.amazonaws.com",
    "GetSecretValue",
    true,
    Host::Regional("secretsmanager"),
    Params::Fixed("{\"secretId\":\"SECRET\"}"),
    "1.08",
);
const SSM_GET_PARAMETER: Op = op(
    "ssm.amazonaws.com",
    "GetParameter",
    true,
    Host::Regional("ssm"),
    Params::Fixed("{\"name\":\"/app/PARAM\",\"withDecryption\":true}"),
    "1.08",
);
const DDB_DESCRIBE_TABLE: Op = op(
    "dynamodb.amazonaws.com",
    "DescribeTable",
    true,
    Host::Regional("dynamodb"),
    Params::Fixed("{\"tableName\":\"TABLE\"}"),
    "1.08",
);
const ECR_GET_TOKEN: Op = op(
    "ecr.amazonaws.com",
    "GetAuthorizationToken",
    true,
    Host::Regional("api.ecr"),
    Params::Fixed("{\"registryIds\":[\"ACCOUNT\"]}"),
    "1.08",
);
const CFN_DESCRIBE_STACKS: Op = op(
    "cloudformation.amazonaws.com",
    "DescribeStacks",
    true,
    Host::Regional("cloudformation"),
    Params::Fixed("{\"stackName\":\"STACK\"}"),
    "1.08",
);

/// Identity Center `DataScientist` people.
pub const MIX_DATA_SCIENTIST: Mix = &[
    (INVOKE_MODEL, 15.0),
    (CONVERSE, 10.0),
    (INVOKE_STREAM, 4.0),
    (LIST_FOUNDATION_MODELS, 3.0),
    (GET_FOUNDATION_MODEL, 2.0),
    (S3_LIST_BUCKETS, 8.0),
    (S3_GET_BUCKET_LOCATION, 12.0),
    (GET_CALLER_IDENTITY, 5.0),
    (CW_GET_METRIC_DATA, 5.0),
    (LOGS_DESCRIBE_GROUPS, 5.0),
    (EC2_DESCRIBE_INSTANCES, 10.0),
    (LIST_CUSTOM_MODELS, 1.0),
    (CREATE_CUSTOMIZATION_JOB, 0.1),
];
/// Identity Center `Developer` people.
pub const MIX_DEVELOPER: Mix = &[
    (CONVERSE, 12.0),
    (CONVERSE_STREAM, 5.0),
    (INVOKE_MODEL, 5.0),
    (LIST_FOUNDATION_MODELS, 2.0),
    (LIST_INFERENCE_PROFILES, 1.0),
    (S3_LIST_BUCKETS, 8.0),
    (S3_GET_BUCKET_POLICY, 6.0),
    (EC2_DESCRIBE_INSTANCES, 12.0),
    (EC2_DESCRIBE_SG, 8.0),
    (LOGS_DESCRIBE_GROUPS, 15.0),
    (CW_DESCRIBE_ALARMS, 10.0),
    (GET_CALLER_IDENTITY, 7.0),
    (LAMBDA_LIST, 5.0),
];
/// Identity Center `PlatformAdmin` people.
pub const MIX_ADMIN: Mix = &[
    (CONVERSE, 3.0),
    (LIST_FOUNDATION_MODELS, 2.0),
    (GET_LOGGING, 1.0),
    (LIST_GUARDRAILS, 1.0),
    (IAM_LIST_ROLES, 10.0),
    (IAM_GET_ROLE, 10.0),
    (IAM_LIST_USERS, 5.0),
    (EC2_DESCRIBE_INSTANCES, 12.0),
    (EC2_DESCRIBE_VPCS, 8.0),
    (EC2_DESCRIBE_SG, 6.0),
    (S3_LIST_BUCKETS, 7.0),
    (S3_GET_BUCKET_ACL, 8.0),
    (CW_DESCRIBE_ALARMS, 8.0),
    (CW_GET_METRIC_DATA, 7.0),
    (LOGS_DESCRIBE_GROUPS, 10.0),
    (GET_CALLER_IDENTITY, 7.0),
];
/// Identity Center `ReadOnly` analysts.
pub const MIX_READ_ONLY: Mix = &[
    (S3_LIST_BUCKETS, 20.0),
    (S3_GET_BUCKET_LOCATION, 20.0),
    (CW_GET_METRIC_DATA, 20.0),
    (CW_DESCRIBE_ALARMS, 10.0),
    (EC2_DESCRIBE_INSTANCES, 20.0),
    (GET_CALLER_IDENTITY, 10.0),
];
/// Service roles of Bedrock-backed applications.
pub const MIX_BEDROCK_APP: Mix = &[
    (INVOKE_MODEL, 40.0),
    (INVOKE_STREAM, 8.0),
    (KMS_DECRYPT, 15.0),
    (KMS_GENERATE_DATA_KEY, 7.0),
    (SM_GET_SECRET, 8.0),
    (SSM_GET_PARAMETER, 12.0),
    (LOGS_CREATE_STREAM, 10.0),
];
/// Service roles of Bedrock-backed applications that use the Converse API.
pub const MIX_CONVERSE_APP: Mix = &[
    (CONVERSE, 40.0),
    (CONVERSE_STREAM, 8.0),
    (KMS_DECRYPT, 15.0),
    (KMS_GENERATE_DATA_KEY, 7.0),
    (SM_GET_SECRET, 8.0),
    (SSM_GET_PARAMETER, 12.0),
    (LOGS_CREATE_STREAM, 10.0),
];
/// Service roles of ordinary workloads.
pub const MIX_WORKLOAD: Mix = &[
    (KMS_DECRYPT, 20.0),
    (KMS_GENERATE_DATA_KEY, 10.0),
    (SSM_GET_PARAMETER, 15.0),
    (SM_GET_SECRET, 15.0),
    (EC2_DESCRIBE_INSTANCES, 10.0),
    (DDB_DESCRIBE_TABLE, 10.0),
    (LOGS_CREATE_STREAM, 10.0),
    (ECR_GET_TOKEN, 10.0),
];
/// IAM users with long-term keys: CI and batch bots.
pub const MIX_CI: Mix = &[
    (GET_CALLER_IDENTITY, 15.0),
    (CFN_DESCRIBE_STACKS, 25.0),
    (ECR_GET_TOKEN, 15.0),
    (S3_LIST_BUCKETS, 10.0),
    (LAMBDA_UPDATE_CODE, 10.0),
    (EC2_DESCRIBE_IMAGES, 10.0),
    (LIST_FOUNDATION_MODELS, 3.0),
    (INVOKE_MODEL, 12.0),
];

/// First names and last names for people.
pub const FIRST_NAMES: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yuki", "zoe",
    "amir", "bianca", "chen", "dmitri", "elena", "farah", "gustavo", "hana", "ingrid", "jamal",
    "kenji", "leila", "marco", "nadia", "omar", "priya", "quinn", "rosa",
];
pub const LAST_NAMES: &[&str] = &[
    "smith", "johnson", "lee", "garcia", "martin", "nguyen", "kim", "patel", "brown", "lopez",
    "wilson", "anderson", "thomas", "moore", "jackson", "white", "harris", "clark", "lewis",
    "walker", "young", "allen", "king", "wright",
];
/// Application names for service roles.
pub const APP_NAMES: &[&str] = &[
    "chatbot-backend",
    "doc-summarizer",
    "support-assistant",
    "search-indexer",
    "etl-nightly",
    "billing-sync",
    "image-tagger",
    "fraud-scorer",
    "report-builder",
    "ingest-worker",
    "rag-api",
    "email-classifier",
];

/// `sts:AssumeRole`, as an AWS service calls it for a role in the account.
pub const ASSUME_ROLE: Op = op(
    "sts.amazonaws.com",
    "AssumeRole",
    true,
    Host::Regional("sts"),
    Params::Null,
    "1.08",
);
/// `kms:RotateKey`, an `AwsServiceEvent`.
pub const ROTATE_KEY: Op = op(
    "kms.amazonaws.com",
    "RotateKey",
    false,
    Host::Regional("kms"),
    Params::Null,
    "1.08",
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_stay_in_their_range() {
        let mut rng = Rng::new(5);
        for r in [
            OFFICE_SEATTLE,
            HOME_PORTLAND,
            VPS_AMSTERDAM,
            AWS_EU_CENTRAL_1,
            ANONYMISER_BERLIN,
        ] {
            for _ in 0..200 {
                let ip = r.ip(&mut rng);
                assert!(r.contains(&ip), "{ip}");
            }
        }
        assert!(!VPS_AMSTERDAM.contains("45.148.12.1"));
    }

    #[test]
    fn cli_user_agent_names_the_command() {
        let c = Client::AwsCli2 {
            version: "2.15.30",
            os: "linux#6.5",
        };
        let ua = c.user_agent("bedrock.amazonaws.com", "InvokeModel");
        assert!(ua.starts_with("aws-cli/2.15.30 "), "{ua}");
        assert!(ua.ends_with("md/command#bedrock.invoke-model"), "{ua}");
    }
}
