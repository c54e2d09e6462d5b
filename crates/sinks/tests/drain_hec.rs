//! The drain against a real loopback HTTP server that acknowledges like Splunk HEC:
//! outages (503s), lost acknowledgements, rejected content and bad outbox entries.
//! Nothing is lost; duplicates only where at-least-once allows them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // helpers outside #[test] fns

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sinks::config::{DrainConfig, HecConfig, HttpSinkConfig};
use sinks::encode::native;
use sinks::receiver::{Receiver, ReceiverState};
use sinks::transport::http::HttpTransport;
use sinks::transport::{Encoded, SendError, Transport};
use sinks::{Drain, EncodeContext, Encoding, MemoryOutbox, Outbox, Step, sample};

fn drain_cfg() -> DrainConfig {
    DrainConfig {
        batch_max_findings: 25,
        max_attempts: 3,
        backoff_initial_ms: 2,
        backoff_max_ms: 20,
        poll_interval_ms: 5,
        dead_letter_path: None,
    }
}

fn hec_cfg(url: String, token_file: &Path, ack_timeout_ms: u64) -> HttpSinkConfig {
    HttpSinkConfig {
        name: "splunk".into(),
        encoding: Encoding::Ocsf,
        url,
        headers: BTreeMap::from([("X-Tenant".to_owned(), "blue".to_owned())]),
        gzip: true,
        batch_max_bytes: 64 * 1024,
        timeout_ms: 5_000,
        tls_ca_file: None,
        hec: Some(HecConfig {
            token_file: Some(token_file.to_owned()),
            token_env: None,
            sourcetype: "bedguard:ocsf".into(),
            source: Some("bedguard".into()),
            index: None,
            ack: true,
            ack_timeout_ms,
            ack_poll_ms: 2,
        }),
        drain: drain_cfg(),
    }
}

fn fill(outbox: &MemoryOutbox, n: u64) {
    for i in 0..n {
        let bytes = native::encode_stored(&sample::numbered(i)).unwrap();
        outbox.push(&["splunk"], 1_000 + i as i64, bytes).unwrap();
    }
}

/// Steps the drain until the outbox is empty (bounded).
async fn run_until_empty<T: Transport>(drain: &mut Drain<T>) -> Vec<Step> {
    let mut steps = Vec::new();
    for _ in 0..2_000 {
        let s = drain.step().await.unwrap();
        match &s {
            Step::Idle => return steps,
            Step::Failed { retry_in, .. } => tokio::time::sleep(*retry_in).await,
            Step::Delivered(_) => {}
        }
        steps.push(s);
    }
    panic!("drain did not finish: {steps:?}");
}

fn indexed_ids(rx: &Receiver) -> BTreeMap<String, usize> {
    let mut ids = BTreeMap::new();
    for ev in &rx.state().indexed {
        assert_eq!(ev["sourcetype"], "bedguard:ocsf");
        assert_eq!(ev["source"], "bedguard");
        assert_eq!(ev["event"]["class_uid"], 2004);
        let id = ev["event"]["finding_info"]["uid"]
            .as_str()
            .unwrap()
            .to_owned();
        *ids.entry(id).or_default() += 1;
    }
    ids
}

#[tokio::test]
async fn hec_outage_then_recovery_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "s3cret-token\n").unwrap();
    let rx = Receiver::start(ReceiverState {
        token: Some("s3cret-token".into()),
        fail_next: 12,
        ack_after_polls: 2,
        ..ReceiverState::default()
    })
    .await
    .unwrap();
    let outbox = Arc::new(MemoryOutbox::new());
    fill(&outbox, 120);
    let transport = HttpTransport::new(&hec_cfg(rx.url(), &token, 5_000)).unwrap();
    assert!(!format!("{transport:?}").contains("s3cret"));
    let channel = transport.hec_channel().unwrap().to_owned();
    let mut drain = Drain::new(
        "splunk",
        Encoding::Ocsf,
        outbox.clone(),
        transport,
        drain_cfg(),
        dir.path().join("dead.jsonl"),
        "sensor-1",
    );
    let metrics = drain.metrics();

    // During the outage nothing is acked and the depth stays.
    for _ in 0..5 {
        let s = drain.step().await.unwrap();
        assert!(
            matches!(
                s,
                Step::Failed {
                    transient: true,
                    ..
                }
            ),
            "{s:?}"
        );
    }
    assert_eq!(outbox.stats("splunk").unwrap(), (120, Some(1_000)));
    assert_eq!(
        metrics.depth.load(std::sync::atomic::Ordering::Relaxed),
        120
    );
    assert!(metrics.age_ms(11_000) >= 10_000);

    run_until_empty(&mut drain).await;
    let ids = indexed_ids(&rx);
    assert_eq!(ids.len(), 120, "every finding indexed");
    assert!(
        ids.values().all(|&n| n == 1),
        "no duplicates without lost acks"
    );
    assert_eq!(outbox.stats("splunk").unwrap(), (0, None));
    let st = rx.state();
    assert_eq!(st.rejected, 12);
    assert_eq!(st.unauthorized, 0);
    assert!(st.gzipped > 0);
    assert_eq!(st.channels.keys().collect::<Vec<_>>(), [&channel]);
    assert_eq!(
        st.last_headers.get("x-tenant").map(String::as_str),
        Some("blue")
    );
    assert!(st.pending.is_empty());
    drop(st);
    assert_eq!(
        metrics.delivered.load(std::sync::atomic::Ordering::Relaxed),
        120
    );
    assert_eq!(
        metrics
            .dead_lettered
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    assert!(!dir.path().join("dead.jsonl").exists());
}

#[tokio::test]
async fn a_200_without_an_ack_is_not_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "tok").unwrap();
    // The indexer loses the first request: 200 and an ackId, never acknowledged.
    let rx = Receiver::start(ReceiverState {
        token: Some("tok".into()),
        drop_next_acks: 1,
        ..ReceiverState::default()
    })
    .await
    .unwrap();
    let outbox = Arc::new(MemoryOutbox::new());
    fill(&outbox, 10);
    let transport = HttpTransport::new(&hec_cfg(rx.url(), &token, 50)).unwrap();
    let mut drain = Drain::new(
        "splunk",
        Encoding::Ocsf,
        outbox.clone(),
        transport,
        drain_cfg(),
        dir.path().join("dead.jsonl"),
        "h",
    );
    let first = drain.step().await.unwrap();
    assert!(
        matches!(
            first,
            Step::Failed {
                transient: true,
                ..
            }
        ),
        "{first:?}"
    );
    assert_eq!(
        outbox.stats("splunk").unwrap().0,
        10,
        "nothing acked without the HEC ack"
    );
    assert!(rx.state().indexed.is_empty());
    run_until_empty(&mut drain).await;
    let ids = indexed_ids(&rx);
    assert_eq!(ids.len(), 10);
    assert!(ids.values().all(|&n| n == 1));
}

#[tokio::test]
async fn wrong_token_is_retried_not_dead_lettered() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "wrong").unwrap();
    let rx = Receiver::start(ReceiverState {
        token: Some("right".into()),
        ..ReceiverState::default()
    })
    .await
    .unwrap();
    let outbox = Arc::new(MemoryOutbox::new());
    fill(&outbox, 3);
    let transport = HttpTransport::new(&hec_cfg(rx.url(), &token, 1_000)).unwrap();
    let mut drain = Drain::new(
        "splunk",
        Encoding::Ocsf,
        outbox.clone(),
        transport,
        drain_cfg(),
        dir.path().join("dead.jsonl"),
        "h",
    );
    for _ in 0..5 {
        let s = drain.step().await.unwrap();
        assert!(
            matches!(
                s,
                Step::Failed {
                    transient: true,
                    ..
                }
            ),
            "{s:?}"
        );
    }
    assert_eq!(outbox.stats("splunk").unwrap().0, 3);
    assert_eq!(rx.state().unauthorized, 5);
}

/// A transport that rejects one finding's content and takes everything else.
struct Picky {
    reject: String,
    got: Vec<String>,
}

impl Transport for Picky {
    async fn send(&mut self, batch: &[Encoded], _ctx: &EncodeContext) -> Result<(), SendError> {
        if batch.iter().any(|e| e.id == self.reject) {
            return Err(SendError::Status {
                status: 400,
                body: "invalid data".into(),
            });
        }
        self.got.extend(batch.iter().map(|e| e.id.clone()));
        Ok(())
    }
}

#[tokio::test]
async fn rejected_and_undecodable_findings_go_to_the_dead_letter_file() {
    let dir = tempfile::tempdir().unwrap();
    let dead = dir.path().join("dead.jsonl");
    let outbox = Arc::new(MemoryOutbox::new());
    fill(&outbox, 10);
    outbox.push(&["splunk"], 5, b"{not json".to_vec()).unwrap();
    let reject = sample::numbered(4).id;
    let picky = Picky {
        reject: reject.clone(),
        got: Vec::new(),
    };
    let mut drain = Drain::new(
        "splunk",
        Encoding::Cef,
        outbox.clone(),
        picky,
        drain_cfg(),
        dead.clone(),
        "h",
    );
    run_until_empty(&mut drain).await;
    let got = &drain.transport().got;
    assert_eq!(got.len(), 9);
    assert!(!got.contains(&reject));
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&dead)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    let undecodable = lines.iter().find(|l| l["finding"].is_string()).unwrap();
    assert_eq!(undecodable["finding"], "{not json");
    let rejected = lines
        .iter()
        .find(|l| l["finding"]["id"] == reject.as_str())
        .unwrap();
    assert_eq!(rejected["attempts"], 3);
    assert!(rejected["reason"].as_str().unwrap().contains("400"));
    assert_eq!(outbox.stats("splunk").unwrap(), (0, None));
    assert_eq!(
        drain
            .metrics()
            .dead_lettered
            .load(std::sync::atomic::Ordering::Relaxed),
        2
    );
}

#[tokio::test]
async fn run_loop_drains_new_findings_and_stops_on_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(ReceiverState::default()).await.unwrap();
    let outbox = Arc::new(MemoryOutbox::new());
    let cfg = HttpSinkConfig {
        name: "plain".into(),
        encoding: Encoding::Ecs,
        url: format!("{}/ingest", rx.url()),
        headers: BTreeMap::new(),
        gzip: false,
        batch_max_bytes: 4096,
        timeout_ms: 5_000,
        tls_ca_file: None,
        hec: None,
        drain: drain_cfg(),
    };
    let transport = HttpTransport::new(&cfg).unwrap();
    let drain = Drain::new(
        "plain",
        Encoding::Ecs,
        outbox.clone(),
        transport,
        drain_cfg(),
        dir.path().join("dead.jsonl"),
        "h",
    );
    let metrics = drain.metrics();
    let (tx, stop) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(drain.run(stop));
    for i in 0..30u64 {
        let bytes = native::encode_stored(&sample::numbered(i)).unwrap();
        outbox.push(&["plain"], 0, bytes).unwrap();
        if i % 10 == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    for _ in 0..500 {
        if rx.state().indexed.len() >= 30 && outbox.stats("plain").unwrap().0 == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tx.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
    let st = rx.state();
    assert_eq!(st.indexed.len(), 30);
    assert!(st.indexed.iter().all(|v| v["event"]["kind"] == "alert"));
    // batch_max_bytes of 4 KiB splits batches into several requests.
    assert!(st.requests["/ingest"] > 3, "{:?}", st.requests);
    assert_eq!(
        metrics.delivered.load(std::sync::atomic::Ordering::Relaxed),
        30
    );
}
