//! Sink configuration: one `[[sinks]]` table per sink, each with its own transport,
//! encoding and drain settings. Unknown keys are errors; [`validate`] lists every
//! problem with its key path.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::encode::Encoding;

/// One sink.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SinkConfig {
    /// JSON-lines file with size-based rotation.
    File(FileSinkConfig),
    /// Standard output, one finding a line.
    Stdout(StdoutSinkConfig),
    /// Syslog (RFC 5424) over UDP, TCP or TLS.
    Syslog(SyslogSinkConfig),
    /// HTTP(S) POST, optionally as Splunk HEC.
    Http(HttpSinkConfig),
}

/// How a sink drains its outbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DrainConfig {
    /// Findings per batch.
    pub batch_max_findings: usize,
    /// Attempts before a finding goes to the dead-letter file.
    pub max_attempts: u32,
    /// First retry delay.
    pub backoff_initial_ms: u64,
    /// Longest retry delay.
    pub backoff_max_ms: u64,
    /// How often an empty outbox is looked at again.
    pub poll_interval_ms: u64,
    /// Dead-letter file (JSON lines); default `<state dir>/dead-letter-<sink>.jsonl`.
    pub dead_letter_path: Option<PathBuf>,
}

impl Default for DrainConfig {
    fn default() -> Self {
        Self {
            batch_max_findings: 100,
            max_attempts: 50,
            backoff_initial_ms: 500,
            backoff_max_ms: 300_000,
            poll_interval_ms: 1_000,
            dead_letter_path: None,
        }
    }
}

/// `type = "file"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSinkConfig {
    /// Sink name (the outbox key).
    pub name: String,
    /// Wire format of each line.
    #[serde(default = "native")]
    pub encoding: Encoding,
    /// The file written; rotated files get `.1`, `.2`, ... appended.
    pub path: PathBuf,
    /// Rotate before a write would make the file larger than this.
    #[serde(default = "default_max_bytes")]
    pub max_bytes: u64,
    /// Rotated files kept.
    #[serde(default = "default_keep_files")]
    pub keep_files: u32,
    /// Drain settings.
    #[serde(default)]
    pub drain: DrainConfig,
}

/// `type = "stdout"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StdoutSinkConfig {
    /// Sink name.
    pub name: String,
    /// Wire format of each line.
    #[serde(default = "native")]
    pub encoding: Encoding,
    /// Drain settings.
    #[serde(default)]
    pub drain: DrainConfig,
}

/// Syslog transport protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyslogProtocol {
    /// One datagram per message (no delivery guarantee).
    Udp,
    /// Octet-counted framing (RFC 6587).
    Tcp,
    /// Octet-counted framing over TLS (RFC 5425).
    Tls,
}

/// `type = "syslog"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyslogSinkConfig {
    /// Sink name.
    pub name: String,
    /// Wire format of the message part.
    #[serde(default = "cef")]
    pub encoding: Encoding,
    /// `udp`, `tcp` or `tls`.
    pub protocol: SyslogProtocol,
    /// `host:port` of the receiver.
    pub address: String,
    /// PEM CA bundle to verify the receiver (TLS); default: the system's roots.
    #[serde(default)]
    pub tls_ca_file: Option<PathBuf>,
    /// Name to verify in the receiver's certificate; default: the host of `address`.
    #[serde(default)]
    pub tls_server_name: Option<String>,
    /// Syslog facility number, 0-23 (default 16, local0).
    #[serde(default = "default_facility")]
    pub facility: u8,
    /// APP-NAME.
    #[serde(default = "default_app_name")]
    pub app_name: String,
    /// Longest message sent; a longer one is an error (and dead-lettered in the end).
    #[serde(default = "default_syslog_max")]
    pub max_message_bytes: usize,
    /// Connect and write timeout.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Drain settings.
    #[serde(default)]
    pub drain: DrainConfig,
}

/// `type = "http"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSinkConfig {
    /// Sink name.
    pub name: String,
    /// Wire format of each event.
    #[serde(default = "native")]
    pub encoding: Encoding,
    /// Where to POST. With `hec`, the HEC base URL (`https://splunk:8088`).
    pub url: String,
    /// Extra request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Gzip request bodies.
    #[serde(default = "yes")]
    pub gzip: bool,
    /// Largest uncompressed request body; a batch is split to fit.
    #[serde(default = "default_batch_bytes")]
    pub batch_max_bytes: usize,
    /// Request timeout.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// PEM CA bundle to verify the server; default: the system's roots.
    #[serde(default)]
    pub tls_ca_file: Option<PathBuf>,
    /// Splunk HTTP Event Collector preset.
    #[serde(default)]
    pub hec: Option<HecConfig>,
    /// Drain settings.
    #[serde(default)]
    pub drain: DrainConfig,
}

/// Splunk HEC settings. The token is read from a file or an environment variable,
/// never from the configuration itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HecConfig {
    /// File holding the token (surrounding whitespace ignored).
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// Name of the environment variable holding the token.
    #[serde(default)]
    pub token_env: Option<String>,
    /// `sourcetype` of each event.
    #[serde(default = "default_sourcetype")]
    pub sourcetype: String,
    /// `source` of each event.
    #[serde(default)]
    pub source: Option<String>,
    /// `index` of each event.
    #[serde(default)]
    pub index: Option<String>,
    /// Wait for indexer acknowledgement before acking the outbox.
    #[serde(default = "yes")]
    pub ack: bool,
    /// Give up waiting for an acknowledgement after this long (the batch is retried).
    #[serde(default = "default_ack_timeout_ms")]
    pub ack_timeout_ms: u64,
    /// Interval between acknowledgement polls.
    #[serde(default = "default_ack_poll_ms")]
    pub ack_poll_ms: u64,
}

fn native() -> Encoding {
    Encoding::Native
}
fn cef() -> Encoding {
    Encoding::Cef
}
fn yes() -> bool {
    true
}
fn default_max_bytes() -> u64 {
    100 * 1024 * 1024
}
fn default_keep_files() -> u32 {
    5
}
fn default_facility() -> u8 {
    16
}
fn default_app_name() -> String {
    "bedguard".into()
}
fn default_syslog_max() -> usize {
    8 * 1024
}
fn default_timeout_ms() -> u64 {
    10_000
}
fn default_batch_bytes() -> usize {
    1024 * 1024
}
fn default_sourcetype() -> String {
    "bedguard:finding".into()
}
fn default_ack_timeout_ms() -> u64 {
    120_000
}
fn default_ack_poll_ms() -> u64 {
    1_000
}

/// One configuration problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// Key path, `sinks[2].hec.token_env`.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

impl SinkConfig {
    /// The sink's name.
    pub fn name(&self) -> &str {
        match self {
            Self::File(c) => &c.name,
            Self::Stdout(c) => &c.name,
            Self::Syslog(c) => &c.name,
            Self::Http(c) => &c.name,
        }
    }

    /// The sink's encoding.
    pub fn encoding(&self) -> Encoding {
        match self {
            Self::File(c) => c.encoding,
            Self::Stdout(c) => c.encoding,
            Self::Syslog(c) => c.encoding,
            Self::Http(c) => c.encoding,
        }
    }

    /// The sink's drain settings.
    pub fn drain(&self) -> &DrainConfig {
        match self {
            Self::File(c) => &c.drain,
            Self::Stdout(c) => &c.drain,
            Self::Syslog(c) => &c.drain,
            Self::Http(c) => &c.drain,
        }
    }

    /// Every problem in this sink's settings; `prefix` is its key path (`sinks[0]`).
    pub fn validate(&self, prefix: &str) -> Vec<ConfigIssue> {
        let mut v = Issues {
            prefix,
            out: Vec::new(),
        };
        let name = self.name();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            v.push(
                "name",
                "must be non-empty ASCII letters, digits, '-', '_' or '.'",
            );
        }
        validate_drain(&mut v, self.drain());
        match self {
            Self::File(c) => {
                if c.path.as_os_str().is_empty() {
                    v.push("path", "must not be empty");
                }
                if c.max_bytes < 4096 {
                    v.push("max_bytes", "must be at least 4096");
                }
                if c.keep_files == 0 {
                    v.push("keep_files", "must be at least 1");
                }
            }
            Self::Stdout(_) => {}
            Self::Syslog(c) => {
                if split_host_port(&c.address).is_none() {
                    v.push("address", "must be host:port");
                }
                if c.facility > 23 {
                    v.push("facility", "must be 0 to 23");
                }
                if c.app_name.is_empty()
                    || c.app_name.len() > 48
                    || !c.app_name.bytes().all(|b| (33..=126).contains(&b))
                {
                    v.push(
                        "app_name",
                        "must be 1-48 printable ASCII characters without spaces",
                    );
                }
                if c.max_message_bytes < 480 {
                    v.push("max_message_bytes", "must be at least 480 (RFC 5424)");
                }
                if c.protocol == SyslogProtocol::Udp && c.max_message_bytes > 65_507 {
                    v.push("max_message_bytes", "must be at most 65507 over UDP");
                }
                if c.protocol != SyslogProtocol::Tls
                    && (c.tls_ca_file.is_some() || c.tls_server_name.is_some())
                {
                    v.push("tls_ca_file", "TLS settings need protocol = \"tls\"");
                }
                check_file(&mut v, "tls_ca_file", c.tls_ca_file.as_deref());
                if c.timeout_ms == 0 {
                    v.push("timeout_ms", "must be positive");
                }
            }
            Self::Http(c) => {
                let lower = c.url.to_ascii_lowercase();
                if !(lower.starts_with("http://") || lower.starts_with("https://"))
                    || c.url.parse::<http::Uri>().is_err()
                {
                    v.push("url", "must be an http:// or https:// URL");
                }
                for (k, val) in &c.headers {
                    if http::HeaderName::from_bytes(k.as_bytes()).is_err() {
                        v.push(&format!("headers.{k}"), "is not a valid header name");
                    }
                    if http::HeaderValue::from_str(val).is_err() {
                        v.push(&format!("headers.{k}"), "is not a valid header value");
                    }
                }
                if c.batch_max_bytes < 1024 {
                    v.push("batch_max_bytes", "must be at least 1024");
                }
                if c.timeout_ms == 0 {
                    v.push("timeout_ms", "must be positive");
                }
                check_file(&mut v, "tls_ca_file", c.tls_ca_file.as_deref());
                if let Some(h) = &c.hec {
                    match (&h.token_file, &h.token_env) {
                        (None, None) => v.push(
                            "hec.token_file",
                            "one of hec.token_file or hec.token_env is required",
                        ),
                        (Some(_), Some(_)) => v.push(
                            "hec.token_env",
                            "set hec.token_file or hec.token_env, not both",
                        ),
                        (Some(p), None) => check_file(&mut v, "hec.token_file", Some(p)),
                        (None, Some(e)) if e.is_empty() => {
                            v.push("hec.token_env", "must not be empty")
                        }
                        (None, Some(_)) => {}
                    }
                    if c.headers
                        .keys()
                        .any(|k| k.eq_ignore_ascii_case("authorization"))
                    {
                        v.push(
                            "headers.Authorization",
                            "is set by the HEC preset from the token",
                        );
                    }
                    if h.sourcetype.is_empty() {
                        v.push("hec.sourcetype", "must not be empty");
                    }
                    if h.ack_poll_ms == 0 {
                        v.push("hec.ack_poll_ms", "must be positive");
                    }
                    if h.ack_timeout_ms < h.ack_poll_ms {
                        v.push("hec.ack_timeout_ms", "must be at least hec.ack_poll_ms");
                    }
                }
            }
        }
        v.out
    }
}

/// Every problem in a list of sinks, with key paths `sinks[i].key`; names must be unique.
pub fn validate(sinks: &[SinkConfig]) -> Vec<ConfigIssue> {
    let mut out = Vec::new();
    let mut seen = BTreeMap::new();
    for (i, s) in sinks.iter().enumerate() {
        let prefix = format!("sinks[{i}]");
        out.extend(s.validate(&prefix));
        if let Some(first) = seen.insert(s.name().to_owned(), i) {
            out.push(ConfigIssue {
                key: format!("{prefix}.name"),
                message: format!("duplicate sink name {:?} (also sinks[{first}])", s.name()),
            });
        }
    }
    out
}

struct Issues<'a> {
    prefix: &'a str,
    out: Vec<ConfigIssue>,
}

impl Issues<'_> {
    fn push(&mut self, key: &str, message: &str) {
        self.out.push(ConfigIssue {
            key: format!("{}.{key}", self.prefix),
            message: message.to_owned(),
        });
    }
}

fn validate_drain(v: &mut Issues<'_>, d: &DrainConfig) {
    if d.batch_max_findings == 0 {
        v.push("drain.batch_max_findings", "must be at least 1");
    }
    if d.max_attempts == 0 {
        v.push("drain.max_attempts", "must be at least 1");
    }
    if d.backoff_initial_ms == 0 {
        v.push("drain.backoff_initial_ms", "must be positive");
    }
    if d.backoff_max_ms < d.backoff_initial_ms {
        v.push(
            "drain.backoff_max_ms",
            "must be at least drain.backoff_initial_ms",
        );
    }
    if d.poll_interval_ms == 0 {
        v.push("drain.poll_interval_ms", "must be positive");
    }
}

fn check_file(v: &mut Issues<'_>, key: &str, path: Option<&Path>) {
    if let Some(p) = path
        && !p.is_file()
    {
        v.push(key, &format!("{} is not a readable file", p.display()));
    }
}

/// `host:port` (or `[v6]:port`) split in two.
pub fn split_host_port(address: &str) -> Option<(&str, u16)> {
    let (host, port) = address.rsplit_once(':')?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let port = port.parse().ok()?;
    (!host.is_empty() && port != 0).then_some((host, port))
}
