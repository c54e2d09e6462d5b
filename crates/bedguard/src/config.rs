//! Configuration: one TOML file, every key with a default, unknown keys rejected,
//! validated in one pass that lists every problem with its key path.
//!
//! Precedence, lowest first: embedded defaults, the file, `BEDGUARD_<SECTION>_<KEY>`
//! environment variables (e.g. `BEDGUARD_INGEST_QUEUE_URL`), then command-line flags.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// Everything bedguard can be told.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where state lives.
    pub state: StateConfig,
    /// AWS clients.
    pub aws: AwsConfig,
    /// The SQS consumer and S3 fetches.
    pub ingest: IngestConfig,
    /// GeoIP databases.
    pub geoip: GeoIpConfig,
    /// Knowledge files (catalogue, user-agent rules); embedded copies when unset.
    pub models: ModelsConfig,
    /// Detection thresholds and weights.
    pub detect: detect::DetectConfig,
    /// Logging.
    pub log: LogConfig,
    /// Prometheus metrics and health.
    pub metrics: MetricsConfig,
    /// Where findings go; several at once, each with its own encoding.
    pub sinks: Vec<sinks::SinkConfig>,
}

/// `[state]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StateConfig {
    /// sled directory.
    pub path: PathBuf,
    /// Profiles kept decoded in memory.
    pub profile_cache_entries: usize,
    /// How long event ids are remembered for de-duplication, after the newest event time seen.
    pub dedup_ttl_secs: u64,
    /// sled's background flush period (0: only the explicit flush before each SQS delete).
    pub flush_every_ms: u64,
    /// sled's page cache.
    pub page_cache_bytes: u64,
    /// `replay` and `eval` commit the effects of consecutive objects together, up to
    /// this many events per commit (1: one object per commit). The daemon always
    /// commits each object before deleting its message.
    pub replay_batch_events: u64,
    /// A commit of more writes than this (a replay batch) is journaled and applied to
    /// sled in chunks of this many writes, which bounds the memory sled holds while
    /// applying it.
    pub commit_chunk_writes: usize,
}

impl StateConfig {
    /// The store's options.
    pub fn store_options(&self) -> store::StoreOptions {
        store::StoreOptions {
            flush_every_ms: self.flush_every_ms,
            page_cache_bytes: self.page_cache_bytes,
            profile_cache_entries: self.profile_cache_entries,
            event_ttl_secs: self.dedup_ttl_secs,
            commit_chunk_writes: self.commit_chunk_writes,
        }
    }
}

/// `[aws]`
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AwsConfig {
    /// Region; the standard chain (AWS_REGION, profile) when unset.
    pub region: Option<String>,
    /// Endpoint override for S3-compatible stores and tests.
    pub endpoint_url: Option<String>,
}

/// `[ingest]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestConfig {
    /// The queue that receives the trail bucket's notifications.
    pub queue_url: Option<String>,
    /// Long-poll wait, 1 to 20 seconds.
    pub wait_time_secs: u32,
    /// Messages in work at once.
    pub concurrency: usize,
    /// Visibility timeout set while a message is in work; extended by the heartbeat.
    pub visibility_timeout_secs: u32,
    /// How often the heartbeat extends in-flight messages.
    pub heartbeat_secs: u32,
    /// Largest decompressed object accepted.
    pub max_object_bytes: u64,
    /// Deadline for finishing in-flight work on SIGTERM.
    pub shutdown_deadline_secs: u64,
}

/// `[geoip]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GeoIpConfig {
    /// City database (GeoIP2/GeoLite2-City or DB-IP city lite).
    pub city_db_path: PathBuf,
    /// ASN database (GeoLite2-ASN or DB-IP ASN lite).
    pub asn_db_path: PathBuf,
    /// Per-IP lookup cache entries.
    pub cache_entries: usize,
    /// How often to check whether a database file was replaced on disk.
    pub reload_check_secs: u64,
}

/// `[models]`
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelsConfig {
    /// Bedrock API catalogue; the embedded one when unset.
    pub catalogue_path: Option<PathBuf>,
    /// User-agent rules; the embedded ones when unset.
    pub useragents_path: Option<PathBuf>,
}

/// `[log]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// Filter, e.g. `info` or `info,bedguard=debug`; RUST_LOG wins when set.
    pub level: String,
    /// `auto` (human on a terminal, JSON otherwise), `human` or `json`.
    pub format: String,
}

/// `[metrics]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Serve /metrics and /healthz.
    pub enabled: bool,
    /// Listen address; localhost by default.
    pub listen: String,
}

impl Default for StateConfig {
    fn default() -> Self {
        Self {
            path: PathBuf::from("/var/lib/bedguard"),
            profile_cache_entries: 50_000,
            dedup_ttl_secs: 86_400,
            replay_batch_events: 500_000,
            commit_chunk_writes: 512,
            flush_every_ms: 100,
            page_cache_bytes: 64 << 20,
        }
    }
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            queue_url: None,
            wait_time_secs: 20,
            concurrency: 4,
            visibility_timeout_secs: 300,
            heartbeat_secs: 60,
            max_object_bytes: 1 << 30,
            shutdown_deadline_secs: 30,
        }
    }
}

impl Default for GeoIpConfig {
    fn default() -> Self {
        Self {
            city_db_path: PathBuf::from("/var/lib/GeoIP/GeoLite2-City.mmdb"),
            asn_db_path: PathBuf::from("/var/lib/GeoIP/GeoLite2-ASN.mmdb"),
            cache_entries: 65_536,
            reload_check_secs: 3_600,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: "auto".into(),
        }
    }
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: "127.0.0.1:9847".into(),
        }
    }
}

/// One problem with a config, with the key it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted key path, e.g. `ingest.wait_time_secs`.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// A config that failed to load or validate: every problem, with the file it came from.
#[derive(Debug)]
pub struct ConfigErrors {
    /// The file, when there was one.
    pub file: Option<PathBuf>,
    /// Every problem found.
    pub problems: Vec<Problem>,
}

impl std::fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.file {
            Some(p) => writeln!(
                f,
                "invalid config {} ({} problem(s)):",
                p.display(),
                self.problems.len()
            )?,
            None => writeln!(f, "invalid config ({} problem(s)):", self.problems.len())?,
        }
        for p in &self.problems {
            writeln!(f, "  - {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl Config {
    /// Loads defaults, then `file`, then `BEDGUARD_*` variables from `env`; validates
    /// everything and returns every problem at once.
    pub fn load(file: Option<&Path>, env: &[(String, String)]) -> Result<Config, ConfigErrors> {
        let fail = |problems| ConfigErrors {
            file: file.map(Path::to_path_buf),
            problems,
        };
        let mut table = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    fail(vec![Problem {
                        key: "(file)".into(),
                        message: format!("cannot read {}: {e}", path.display()),
                    }])
                })?;
                text.parse::<toml::Table>().map_err(|e| {
                    fail(vec![Problem {
                        key: "(syntax)".into(),
                        message: e.to_string(),
                    }])
                })?
            }
            None => toml::Table::new(),
        };
        let mut problems = apply_env(&mut table, env);
        let cfg: Config = match Config::deserialize(toml::Value::Table(table)) {
            Ok(c) => c,
            Err(e) => {
                problems.push(schema_problem(&e));
                return Err(fail(problems));
            }
        };
        problems.extend(cfg.validate());
        if problems.is_empty() {
            Ok(cfg)
        } else {
            Err(fail(problems))
        }
    }

    /// Every problem with an otherwise well-formed config.
    pub fn validate(&self) -> Vec<Problem> {
        let mut p = Vec::new();
        let mut bad = |key: &str, message: String| {
            p.push(Problem {
                key: key.into(),
                message,
            })
        };
        if self.state.path.as_os_str().is_empty() {
            bad("state.path", "must not be empty".into());
        }
        if self.state.profile_cache_entries == 0 {
            bad("state.profile_cache_entries", "must be at least 1".into());
        }
        if self.state.replay_batch_events == 0 {
            bad("state.replay_batch_events", "must be at least 1".into());
        }
        if self.state.commit_chunk_writes == 0 {
            bad("state.commit_chunk_writes", "must be at least 1".into());
        }
        if self.state.dedup_ttl_secs == 0 {
            bad("state.dedup_ttl_secs", "must be at least 1".into());
        }
        if !(1..=20).contains(&self.ingest.wait_time_secs) {
            bad(
                "ingest.wait_time_secs",
                format!(
                    "{} is outside 1 to 20 (SQS's limits)",
                    self.ingest.wait_time_secs
                ),
            );
        }
        if !(1..=256).contains(&self.ingest.concurrency) {
            bad(
                "ingest.concurrency",
                format!("{} is outside 1 to 256", self.ingest.concurrency),
            );
        }
        if !(1..=43_200).contains(&self.ingest.visibility_timeout_secs) {
            bad(
                "ingest.visibility_timeout_secs",
                format!(
                    "{} is outside 1 to 43200 (SQS's limits)",
                    self.ingest.visibility_timeout_secs
                ),
            );
        }
        if self.ingest.heartbeat_secs == 0
            || self.ingest.heartbeat_secs >= self.ingest.visibility_timeout_secs
        {
            bad(
                "ingest.heartbeat_secs",
                format!(
                    "{} must be at least 1 and below ingest.visibility_timeout_secs ({})",
                    self.ingest.heartbeat_secs, self.ingest.visibility_timeout_secs
                ),
            );
        }
        if self.ingest.max_object_bytes < 1024 {
            bad(
                "ingest.max_object_bytes",
                format!(
                    "{} is too small to hold a CloudTrail file",
                    self.ingest.max_object_bytes
                ),
            );
        }
        let is_url = |u: &str| u.starts_with("https://") || u.starts_with("http://");
        if let Some(u) = &self.ingest.queue_url
            && !is_url(u)
        {
            bad(
                "ingest.queue_url",
                format!(
                    "{u:?} is not an SQS queue URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME)"
                ),
            );
        }
        if let Some(u) = &self.aws.endpoint_url
            && !is_url(u)
        {
            bad("aws.endpoint_url", format!("{u:?} is not an http(s) URL"));
        }
        if self.geoip.cache_entries == 0 {
            bad("geoip.cache_entries", "must be at least 1".into());
        }
        if !matches!(self.log.format.as_str(), "auto" | "human" | "json") {
            bad(
                "log.format",
                format!("{:?} is not one of auto, human, json", self.log.format),
            );
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            bad(
                "log.level",
                format!("{:?} is not a valid filter", self.log.level),
            );
        }
        if self.metrics.enabled && self.metrics.listen.parse::<std::net::SocketAddr>().is_err() {
            bad(
                "metrics.listen",
                format!("{:?} is not an address:port", self.metrics.listen),
            );
        }
        for e in self.detect.validate() {
            p.push(Problem {
                key: format!("detect.{}", e.key),
                message: e.message,
            });
        }
        for e in sinks::config::validate(&self.sinks) {
            p.push(Problem {
                key: e.key,
                message: e.message,
            });
        }
        p
    }
}

/// A schema error (unknown key, wrong type) as a problem keyed by its dotted path, like
/// the validation problems: toml names the table the error is in (its last line reads
/// ``in `ingest` ``), serde names an unknown field in the message.
fn schema_problem(e: &toml::de::Error) -> Problem {
    let message = e.message().trim().to_string();
    let shown = e.to_string();
    let table = shown
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("in `")?.strip_suffix('`'));
    let field = message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split_once('`'))
        .map(|(field, _)| field);
    let key = match (table, field) {
        (Some(t), Some(f)) => format!("{t}.{f}"),
        (Some(t), None) => t.to_string(),
        (None, Some(f)) => f.to_string(),
        (None, None) => "(schema)".to_string(),
    };
    Problem { key, message }
}

/// Applies `BEDGUARD_<SECTION>_<KEY>=value` overrides to a parsed table. The value is
/// read as a TOML value when it parses as one (numbers, booleans, arrays), else as a
/// string. Unknown sections are problems; unknown keys are caught by the schema.
fn apply_env(table: &mut toml::Table, env: &[(String, String)]) -> Vec<Problem> {
    const SECTIONS: &[&str] = &[
        "state", "aws", "ingest", "geoip", "models", "detect", "log", "metrics",
    ];
    let mut problems = Vec::new();
    let mut vars: Vec<_> = env
        .iter()
        .filter(|(k, _)| k.starts_with("BEDGUARD_") && k != "BEDGUARD_CONFIG")
        .collect();
    vars.sort();
    for (name, value) in vars {
        let rest = name["BEDGUARD_".len()..].to_ascii_lowercase();
        let Some((section, key)) = rest.split_once('_') else {
            problems.push(Problem {
                key: name.clone(),
                message: "expected BEDGUARD_<SECTION>_<KEY>".into(),
            });
            continue;
        };
        if !SECTIONS.contains(&section) {
            problems.push(Problem {
                key: name.clone(),
                message: format!("unknown section {section:?}"),
            });
            continue;
        }
        let parsed = format!("v = {value}")
            .parse::<toml::Table>()
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(value.clone()));
        let entry = table
            .entry(section.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        match entry {
            toml::Value::Table(t) => {
                t.insert(key.to_string(), parsed);
            }
            _ => problems.push(Problem {
                key: section.to_string(),
                message: "is not a table".into(),
            }),
        }
    }
    problems
}

/// Reads a config the way every subcommand does, with flags applied after.
pub fn load_from_process(file: Option<&Path>) -> Result<Config> {
    let env: Vec<(String, String)> = std::env::vars().collect();
    Config::load(file, &env)
        .map_err(anyhow::Error::new)
        .context("configuration rejected")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys_of(text: &str) -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, text).unwrap();
        let e = Config::load(Some(&p), &[]).unwrap_err();
        e.problems.into_iter().map(|p| p.key).collect()
    }

    #[test]
    fn schema_errors_are_keyed_by_their_dotted_path() {
        assert_eq!(
            keys_of("[ingest]\nwait_time_secs_typo = 1\n"),
            ["ingest.wait_time_secs_typo"]
        );
        assert_eq!(
            keys_of("[detect.severity]\nmedium_bitz = 1.0\n"),
            ["detect.severity.medium_bitz"]
        );
        assert_eq!(
            keys_of("[ingest]\nconcurrency = \"x\"\n"),
            ["ingest.concurrency"]
        );
        assert_eq!(keys_of("colour = 1\n"), ["colour"]);
    }
}
