//! AWS settings and the SDK clients built from them.
//!
//! The SDK is compiled without default features, so it has no HTTP client of its own:
//! [`connect`] builds one (hyper + rustls with the `ring` provider) and hands it to the
//! config loader. Credentials come from the standard chain (environment, profile, web
//! identity, ECS, IMDS) unless static ones are given (tests, local S3-compatible stores).

use std::time::Duration;

use aws_config::{BehaviorVersion, Region, timeout::TimeoutConfig};
use aws_credential_types::Credentials;
use aws_smithy_http_client::tls;
use serde::Deserialize;

/// Where and how to reach AWS (or an S3/SQS-compatible endpoint).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct AwsSettings {
    /// Region; `None` takes it from the environment / profile (`AWS_REGION`, ...).
    pub region: Option<String>,
    /// Endpoint override for every service (moto, MinIO, LocalStack, VPC endpoints).
    pub endpoint_url: Option<String>,
    /// Address buckets as `endpoint/bucket/key` instead of `bucket.endpoint/key`.
    pub force_path_style: bool,
    /// Named profile of the shared config files; `None` uses the default chain.
    pub profile: Option<String>,
    /// TCP connect timeout.
    pub connect_timeout_ms: u64,
    /// Static credentials instead of the chain. Never read from a config file.
    #[serde(skip)]
    pub static_credentials: Option<StaticCredentials>,
}

impl Default for AwsSettings {
    fn default() -> Self {
        Self {
            region: None,
            endpoint_url: None,
            force_path_style: false,
            profile: None,
            connect_timeout_ms: 3_100,
            static_credentials: None,
        }
    }
}

/// An access key pair, for tests and local endpoints.
#[derive(Clone, PartialEq, Eq)]
pub struct StaticCredentials {
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
}

impl std::fmt::Debug for StaticCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .finish()
    }
}

/// Why the clients could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// No region in the settings, the environment or the profile.
    #[error("no AWS region configured: set `region` or AWS_REGION")]
    NoRegion,
}

/// The SDK clients ingest uses. Cheap to clone (the SDK clients are `Arc`s inside).
#[derive(Debug, Clone)]
pub struct Clients {
    /// S3, for `GetObject` and listing.
    pub s3: aws_sdk_s3::Client,
    /// SQS, for the notification queue.
    pub sqs: aws_sdk_sqs::Client,
}

/// Builds the S3 and SQS clients from `settings`.
///
/// # Errors
/// [`ConfigError::NoRegion`] when no region can be found anywhere.
pub async fn connect(settings: &AwsSettings) -> Result<Clients, ConfigError> {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_millis(settings.connect_timeout_ms))
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .timeout_config(timeouts);
    if let Some(region) = &settings.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(profile) = &settings.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(url) = &settings.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    if let Some(creds) = &settings.static_credentials {
        loader = loader.credentials_provider(Credentials::new(
            creds.access_key_id.clone(),
            creds.secret_access_key.clone(),
            None,
            None,
            "bedguard-static",
        ));
    }
    let sdk = loader.load().await;
    if sdk.region().is_none() {
        return Err(ConfigError::NoRegion);
    }
    let s3_conf = aws_sdk_s3::config::Builder::from(&sdk)
        .force_path_style(settings.force_path_style)
        .build();
    Ok(Clients {
        s3: aws_sdk_s3::Client::from_conf(s3_conf),
        sqs: aws_sdk_sqs::Client::new(&sdk),
    })
}
