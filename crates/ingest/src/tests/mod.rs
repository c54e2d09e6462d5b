//! End-to-end tests against a real S3+SQS endpoint (moto's server), and the helpers
//! they share: a recording processor, an in-memory cursor, a running consumer.

mod consumer;
mod measure;
mod replay;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cloudtrail::ObjectRef;
use tokio_util::sync::CancellationToken;

use crate::moto::{Moto, clients_for};
use crate::test_util::{
    digest_json, digest_key, gzip, log_key, put_object, queue_depth, send_message,
    setup_local_pipeline,
};
use crate::{
    AuditSpec, BackfillError, BackfillSpec, Clients, Consumer, ConsumerSettings, CursorStore,
    FetchLimits, Metrics, Outcome, ProcessError, Processor, RetrySettings, ShutdownReport,
    audit_digests, backfill, list_log_objects, process_missing,
};

const ACCOUNT: &str = "123456789012";
/// 2024-01-02T00:00:00Z
const DAY0: i64 = 1_704_153_600_000;
const HOUR: i64 = 3_600_000;

/// A processor that parses `{"Records":[...]}` and records what it saw.
#[derive(Default)]
struct Recorder {
    /// Keys committed, with how often `process` committed each.
    committed: Mutex<BTreeMap<String, u32>>,
    /// Keys `process` was entered for (before any delay).
    started: Mutex<Vec<String>>,
    /// Sleep this long in `process` before committing.
    delay: Option<Duration>,
    /// Fail transiently on the n-th call to `process` (1-based), once.
    fail_on_call: Option<u64>,
    calls: AtomicU64,
    /// Calls to `process` running now, and the most ever seen at once.
    running: AtomicU64,
    max_running: AtomicU64,
}

impl Recorder {
    fn with_delay(delay: Duration) -> Self {
        Self {
            delay: Some(delay),
            ..Self::default()
        }
    }

    fn committed(&self) -> BTreeMap<String, u32> {
        self.committed.lock().unwrap().clone()
    }

    fn started(&self) -> usize {
        self.started.lock().unwrap().len()
    }

    fn mark_processed(&self, key: &str) {
        self.committed.lock().unwrap().insert(key.to_owned(), 0);
    }
}

impl Processor for Recorder {
    async fn process(&self, obj: &ObjectRef, bytes: Vec<u8>) -> Result<Outcome, ProcessError> {
        self.started.lock().unwrap().push(obj.key.clone());
        let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if self.fail_on_call == Some(call) {
            return Err(ProcessError::Transient("store busy".into()));
        }
        if let Some(d) = self.delay {
            let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
            self.max_running.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(d).await;
            self.running.fetch_sub(1, Ordering::SeqCst);
        }
        let v: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| ProcessError::Malformed(e.to_string()))?;
        let records = v
            .get("Records")
            .and_then(|r| r.as_array())
            .ok_or_else(|| ProcessError::Malformed("no Records".into()))?
            .len() as u64;
        *self
            .committed
            .lock()
            .unwrap()
            .entry(obj.key.clone())
            .or_default() += 1;
        Ok(Outcome::Committed { records })
    }

    async fn is_processed(&self, obj: &ObjectRef) -> bool {
        self.committed.lock().unwrap().contains_key(&obj.key)
    }
}

#[derive(Default)]
struct MemCursor(Mutex<BTreeMap<String, String>>);

impl CursorStore for MemCursor {
    fn load(&self, name: &str) -> Option<String> {
        self.0.lock().unwrap().get(name).cloned()
    }
    fn save(&self, name: &str, value: &str) {
        self.0
            .lock()
            .unwrap()
            .insert(name.to_owned(), value.to_owned());
    }
}

/// A gzipped CloudTrail log with `n` records.
fn log_body(n: usize) -> Vec<u8> {
    let records: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            serde_json::json!({
                "eventVersion": "1.09",
                "eventTime": "2024-01-02T00:00:00Z",
                "eventSource": "bedrock.amazonaws.com",
                "eventName": "InvokeModel",
                "eventID": format!("id-{i}"),
            })
        })
        .collect();
    gzip(
        serde_json::json!({ "Records": records })
            .to_string()
            .as_bytes(),
    )
}

fn key(n: i64) -> String {
    log_key(
        "",
        ACCOUNT,
        "us-east-1",
        DAY0 + n * 5 * 60_000,
        &format!("u{n}"),
    )
}

fn settings(queue_url: &str) -> ConsumerSettings {
    ConsumerSettings {
        queue_url: queue_url.to_owned(),
        wait_time_secs: 1,
        batch_size: 10,
        max_in_flight: 4,
        visibility_timeout_secs: 2,
        heartbeat_interval_ms: Some(500),
        failure_visibility_secs: None,
        shutdown_grace_ms: 2_000,
        fetch: FetchLimits {
            max_object_bytes: 1_000_000,
            retry: RetrySettings {
                max_attempts: 2,
                base_delay_ms: 10,
                max_delay_ms: 50,
            },
        },
        sqs_retry: RetrySettings {
            max_attempts: 3,
            base_delay_ms: 50,
            max_delay_ms: 200,
        },
    }
}

/// A running consumer; `stop` cancels it and returns its report.
struct Running {
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
    handle: tokio::task::JoinHandle<ShutdownReport>,
}

impl Running {
    fn start<P: Processor>(
        clients: &Clients,
        settings: ConsumerSettings,
        processor: Arc<P>,
    ) -> Self {
        let metrics = Arc::new(Metrics::default());
        let consumer =
            Consumer::new(clients.clone(), settings, processor, Arc::clone(&metrics)).unwrap();
        let shutdown = CancellationToken::new();
        let token = shutdown.clone();
        let handle = tokio::spawn(async move { consumer.run(token).await });
        Self {
            metrics,
            shutdown,
            handle,
        }
    }

    fn get(&self, f: impl Fn(&Metrics) -> &AtomicU64) -> u64 {
        Metrics::get(f(&self.metrics))
    }

    async fn stop(self) -> ShutdownReport {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(15), self.handle)
            .await
            .expect("consumer stops within its grace period")
            .unwrap()
    }
}

/// Polls `cond` every 100 ms until it holds; fails the test after `secs`.
async fn wait_until<F, Fut>(secs: u64, what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !cond().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn depth(clients: &Clients, url: &str) -> (u64, u64) {
    queue_depth(clients, url).await.unwrap()
}

/// The public CloudTrail files in `shared/data/real-cloudtrail` (beside the repository).
fn real_files() -> Vec<(String, Vec<u8>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/real-cloudtrail/invictus-ir_aws_dataset");
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".json.gz"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let key = format!("AWSLogs/218007301253/CloudTrail/us-east-1/2023/07/10/{name}");
            (key, std::fs::read(&p).unwrap())
        })
        .collect();
    files.sort();
    files
}

fn count_records(gz: &[u8]) -> u64 {
    use std::io::Read;
    let mut json = Vec::new();
    flate2::read::MultiGzDecoder::new(gz)
        .read_to_end(&mut json)
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    v["Records"].as_array().unwrap().len() as u64
}
