//! The consumer end to end: every notification shape, failures and the DLQ,
//! idempotence, heartbeat, back-pressure, shutdown, unreachable endpoints, real files.

use super::*;
use crate::test_util::QueueUrls;

/// Moto serving a bucket whose notifications go to a queue with a DLQ behind it.
struct Pipeline {
    clients: Clients,
    urls: QueueUrls,
    /// Last, so the server outlives the clients.
    _moto: Moto,
}

impl Pipeline {
    /// `bucket` notifying the queue `q`, which redrives to `dlq`.
    async fn start(bucket: &str) -> Self {
        Self::start_named(bucket, "q", "dlq").await
    }

    async fn start_named(bucket: &str, queue: &str, dlq: &str) -> Self {
        let moto = Moto::start().await;
        let clients = moto.clients().await;
        let urls = setup_local_pipeline(&clients, bucket, queue, dlq)
            .await
            .unwrap();
        Self {
            clients,
            urls,
            _moto: moto,
        }
    }

    async fn put(&self, bucket: &str, key: &str, body: Vec<u8>) {
        put_object(&self.clients, bucket, key, body).await.unwrap();
    }

    /// Puts `key(n)` for each `n`, each a log of `records` records.
    async fn put_logs(&self, bucket: &str, ns: impl IntoIterator<Item = i64>, records: usize) {
        for n in ns {
            self.put(bucket, &key(n), log_body(records)).await;
        }
    }

    async fn send(&self, body: &str) {
        send_message(&self.clients, &self.urls.queue_url, body)
            .await
            .unwrap();
    }

    /// The test settings for this pipeline's queue.
    fn settings(&self) -> ConsumerSettings {
        settings(&self.urls.queue_url)
    }

    fn run<P: Processor>(&self, settings: ConsumerSettings, rec: &Arc<P>) -> Running {
        Running::start(&self.clients, settings, Arc::clone(rec))
    }

    async fn queue_depth(&self) -> (u64, u64) {
        depth(&self.clients, &self.urls.queue_url).await
    }

    async fn dlq_depth(&self) -> (u64, u64) {
        depth(&self.clients, &self.urls.dlq_url).await
    }
}

/// The value of the counter `name` in a metrics snapshot.
fn metric(report: &[(&str, u64)], name: &str) -> u64 {
    report
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| *v)
        .unwrap()
}

/// An S3 event notification for `key` in `bucket`.
fn s3_event(bucket: &str, key: &str) -> String {
    serde_json::json!({"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": bucket},
        "object": {"key": key}}}]})
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_events_flow_from_put_object_to_commit_and_delete() {
    let p = Pipeline::start_named("trail-bucket", "events", "events-dlq").await;
    let keys = [key(0), key(1), key(2)];
    for (i, k) in keys.iter().enumerate() {
        p.put("trail-bucket", k, log_body(i + 1)).await;
    }
    let digest = digest_key("", ACCOUNT, "us-east-1", "trail", DAY0 + HOUR);
    p.put("trail-bucket", &digest, gzip(b"{}")).await;

    let rec = Arc::new(Recorder::default());
    let run = p.run(p.settings(), &rec);
    wait_until(20, "3 objects committed and 5 messages deleted", || async {
        rec.committed().len() == 3 && run.get(|m| &m.messages_deleted) == 5
    })
    .await;
    let report = run.metrics.snapshot();
    let stopped = run.stop().await;

    assert_eq!(stopped.released, 0);
    // moto URL-encodes `/` as %2F in event keys: decoded back, they match the keys put.
    assert_eq!(
        rec.committed().into_keys().collect::<Vec<_>>(),
        keys.to_vec()
    );
    let get = |name: &str| metric(&report, name);
    assert_eq!(
        get("messages_test"),
        1,
        "the s3:TestEvent from configuring the bucket"
    );
    assert_eq!(get("objects_committed"), 3);
    assert_eq!(get("records_committed"), 1 + 2 + 3);
    assert_eq!(
        get("objects_skipped_not_log"),
        1,
        "the digest is not fetched"
    );
    assert_eq!(get("objects_fetched"), 3);
    assert!(get("bytes_decompressed") > get("bytes_fetched"));
    assert_eq!(p.queue_depth().await, (0, 0));
    assert_eq!(p.dlq_depth().await, (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sns_wrapped_cloudtrail_sns_and_eventbridge_bodies_are_consumed() {
    let p = Pipeline::start("notified").await;
    // A bucket without notifications: the messages below are the only ones.
    p.clients
        .s3
        .create_bucket()
        .bucket("quiet")
        .send()
        .await
        .unwrap();
    p.put_logs("quiet", 0..4, 2).await;
    let s3_event = serde_json::json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": "quiet"}, "object": {"key": key(0), "size": 10}}
    }]})
    .to_string();
    let sns_wrapped = serde_json::json!({
        "Type": "Notification", "MessageId": "m-1", "TopicArn": "arn:aws:sns:us-east-1:123456789012:t",
        "Subject": "Amazon S3 Notification", "Message": serde_json::json!({"Records": [{
            "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": "quiet"}, "object": {"key": key(1).replace('/', "%2F")}}
        }]}).to_string()
    })
    .to_string();
    let cloudtrail_sns = serde_json::json!({
        "Type": "Notification", "MessageId": "m-2", "TopicArn": "arn:aws:sns:us-east-1:123456789012:ct",
        "Message": serde_json::json!({"s3Bucket": "quiet", "s3ObjectKey": [key(2), key(3)]}).to_string()
    })
    .to_string();
    let eventbridge = serde_json::json!({
        "version": "0", "id": "e-1", "detail-type": "Object Created", "source": "aws.s3",
        "account": ACCOUNT, "region": "us-east-1",
        "detail": {"bucket": {"name": "quiet"}, "object": {"key": key(4), "size": 10}}
    })
    .to_string();
    p.put_logs("quiet", [4], 2).await;
    for body in [&s3_event, &sns_wrapped, &cloudtrail_sns, &eventbridge] {
        p.send(body).await;
    }

    let rec = Arc::new(Recorder::default());
    let run = p.run(p.settings(), &rec);
    wait_until(20, "5 objects committed, 5 messages deleted", || async {
        rec.committed().len() == 5 && run.get(|m| &m.messages_deleted) == 5
    })
    .await;
    run.stop().await;
    let expected: BTreeMap<String, u32> = (0..5).map(|n| (key(n), 1)).collect();
    assert_eq!(rec.committed(), expected);
    assert_eq!(p.queue_depth().await, (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_objects_and_poison_messages_reach_the_dlq_while_good_ones_complete() {
    let p = Pipeline::start("mixed").await;
    let (bad_gzip, not_json, too_large) = (key(10), key(11), key(12));
    let mut truncated = log_body(50);
    truncated.truncate(truncated.len() / 2);
    p.put("mixed", &bad_gzip, truncated).await;
    p.put("mixed", &not_json, gzip(b"this is not CloudTrail"))
        .await;
    p.put("mixed", &too_large, gzip(&vec![b' '; 2_000_000]))
        .await;
    p.send("definitely not a notification").await;
    let good = [key(0), key(1)];
    p.put_logs("mixed", [0, 1], 1).await;

    let rec = Arc::new(Recorder::default());
    let mut s = p.settings();
    s.visibility_timeout_secs = 1;
    let run = p.run(s, &rec);
    wait_until(30, "4 messages in the DLQ", || async {
        p.dlq_depth().await.0 == 4
    })
    .await;
    wait_until(10, "main queue empty", || async {
        p.queue_depth().await == (0, 0)
    })
    .await;
    let report = run.metrics.snapshot();
    run.stop().await;

    assert_eq!(
        rec.committed().into_keys().collect::<Vec<_>>(),
        good.to_vec()
    );
    let get = |name: &str| metric(&report, name);
    // Each bad message is received twice (maxReceiveCount 2) before the redrive.
    assert_eq!(get("objects_failed_too_large"), 2);
    assert_eq!(
        get("objects_failed_malformed"),
        4,
        "bad gzip and not-JSON, twice each"
    );
    assert_eq!(get("messages_poison"), 2);
    assert_eq!(get("messages_left"), 8);
    assert_eq!(
        get("messages_deleted"),
        3,
        "two good objects and the test event"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_message_is_deleted_without_effect() {
    let p = Pipeline::start("redeliver").await;
    let k = key(0);
    p.put("redeliver", &k, log_body(3)).await;
    let rec = Arc::new(Recorder::default());
    let run = p.run(p.settings(), &rec);
    wait_until(20, "first delivery committed", || async {
        rec.committed().len() == 1
    })
    .await;

    // The same notification again, as SQS at-least-once delivery may do.
    p.send(&s3_event("redeliver", &k.replace('/', "%2F"))).await;
    wait_until(20, "redelivery deleted", || async {
        run.get(|m| &m.objects_already_processed) == 1 && run.get(|m| &m.messages_deleted) == 3
    })
    .await;
    let fetched = run.get(|m| &m.objects_fetched);
    run.stop().await;
    assert_eq!(
        rec.committed(),
        BTreeMap::from([(k, 1)]),
        "processed exactly once"
    );
    assert_eq!(fetched, 1, "the redelivered object is not fetched again");
    assert_eq!(p.queue_depth().await, (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_heartbeat_keeps_a_long_object_from_being_processed_twice() {
    let p = Pipeline::start("slow").await;
    p.put_logs("slow", [0], 1).await;
    // Work takes almost 3 visibility timeouts; without the heartbeat the message would be
    // received again (and processed concurrently) after the first.
    let rec = Arc::new(Recorder::with_delay(Duration::from_secs(8)));
    let mut s = p.settings();
    s.visibility_timeout_secs = 3;
    s.heartbeat_interval_ms = Some(500);
    let run = p.run(s, &rec);
    wait_until(30, "slow object committed and deleted", || async {
        rec.committed().len() == 1 && run.get(|m| &m.messages_deleted) == 2
    })
    .await;
    let heartbeats = run.get(|m| &m.heartbeats);
    let received = run.get(|m| &m.messages_received);
    run.stop().await;
    assert_eq!(rec.started(), 1, "processed once");
    assert_eq!(
        received, 2,
        "the object's message and the test event, each once"
    );
    assert!(heartbeats >= 10, "heartbeats: {heartbeats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn back_pressure_never_receives_more_than_max_in_flight() {
    let p = Pipeline::start("busy").await;
    // Drain the s3:TestEvent first so the counts below are about objects only.
    let rec = Arc::new(Recorder::with_delay(Duration::from_millis(1_500)));
    let mut s = p.settings();
    s.max_in_flight = 2;
    s.visibility_timeout_secs = 30;
    let run = p.run(s, &rec);
    wait_until(20, "test event deleted", || async {
        run.get(|m| &m.messages_deleted) == 1
    })
    .await;
    p.put_logs("busy", 0..5, 1).await;
    wait_until(20, "two objects in work", || async { rec.started() == 2 }).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        p.queue_depth().await,
        (3, 2),
        "only 2 received, 3 left waiting in the queue"
    );
    wait_until(30, "all 5 committed", || async {
        rec.committed().len() == 5
    })
    .await;
    run.stop().await;
    assert_eq!(rec.max_running.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_in_the_middle_of_a_batch_releases_the_messages() {
    let p = Pipeline::start("stuck").await;
    p.put_logs("stuck", 0..3, 1).await;
    let rec = Arc::new(Recorder::with_delay(Duration::from_secs(600)));
    let mut s = p.settings();
    s.visibility_timeout_secs = 60;
    s.heartbeat_interval_ms = Some(20_000);
    s.shutdown_grace_ms = 300;
    let run = p.run(s, &rec);
    wait_until(20, "3 objects in work", || async { rec.started() == 3 }).await;
    assert_eq!(p.queue_depth().await, (0, 3), "in flight, invisible");

    let report = run.stop().await;
    assert_eq!(report.released, 3);
    assert!(rec.committed().is_empty());
    // Released with visibility 0: visible again at once, not after the 60 s timeout.
    assert_eq!(p.queue_depth().await, (3, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_sqs_is_retried_and_never_ends_the_consumer() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let clients = clients_for(&format!("http://127.0.0.1:{port}")).await;
    let rec = Arc::new(Recorder::default());
    let queue = format!("http://127.0.0.1:{port}/123456789012/q");
    let run = Running::start(&clients, settings(&queue), rec);
    wait_until(20, "3 failed receives", || async {
        run.get(|m| &m.receive_errors) >= 3
    })
    .await;
    assert!(!run.handle.is_finished(), "still running");
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_errors_are_retried_then_the_message_is_left_for_the_dlq() {
    let p = Pipeline::start("gone").await;
    p.send(&s3_event("gone", &key(0))).await;
    let rec = Arc::new(Recorder::default());
    let mut s = p.settings();
    s.failure_visibility_secs = Some(0);
    let run = p.run(s, &rec);
    wait_until(20, "message in the DLQ", || async {
        p.dlq_depth().await.0 == 1
    })
    .await;
    let (not_found, retries, released) = (
        run.get(|m| &m.objects_failed_not_found),
        run.get(|m| &m.s3_retries),
        run.get(|m| &m.messages_released),
    );
    run.stop().await;
    assert_eq!(not_found, 2, "failed on both receives");
    assert_eq!(retries, 2, "one retry per receive (max_attempts 2)");
    assert_eq!(released, 2, "visibility reset to failure_visibility_secs");
    assert!(rec.committed().is_empty());
}

#[tokio::test]
async fn settings_out_of_range_are_refused() {
    let clients = clients_for("http://127.0.0.1:9").await;
    let rec = Arc::new(Recorder::default());
    let ok = settings("http://q");
    for bad in [
        ConsumerSettings {
            queue_url: String::new(),
            ..ok.clone()
        },
        ConsumerSettings {
            batch_size: 11,
            ..ok.clone()
        },
        ConsumerSettings {
            wait_time_secs: 21,
            ..ok.clone()
        },
        ConsumerSettings {
            max_in_flight: 0,
            ..ok.clone()
        },
        ConsumerSettings {
            heartbeat_interval_ms: Some(2_000),
            ..ok.clone()
        },
    ] {
        assert!(Consumer::new(clients.clone(), bad, Arc::clone(&rec), Arc::default()).is_err());
    }
    assert!(Consumer::new(clients, ok, rec, Arc::default()).is_ok());
    let parsed: ConsumerSettings =
        serde_json::from_str(r#"{"queue_url":"u","wait_time_secs":5}"#).unwrap();
    assert_eq!((parsed.wait_time_secs, parsed.batch_size), (5, 10));
    assert!(serde_json::from_str::<ConsumerSettings>(r#"{"wait_time":5}"#).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_cloudtrail_files_stream_through_consumer_and_backfill() {
    let files = real_files();
    assert!(files.len() >= 50, "{} files", files.len());
    let expected_records: u64 = files.iter().map(|(_, gz)| count_records(gz)).sum();
    let p = Pipeline::start("real").await;
    for (key, gz) in &files {
        p.put("real", key, gz.clone()).await;
    }
    let rec = Arc::new(Recorder::default());
    let run = p.run(p.settings(), &rec);
    // The processor records an object before the consumer counts it: wait for both.
    wait_until(60, "every real file committed and counted", || async {
        rec.committed().len() == files.len()
            && run.get(|m| &m.objects_committed) == files.len() as u64
    })
    .await;
    let records = run.get(|m| &m.records_committed);
    run.stop().await;
    assert_eq!(records, expected_records);

    // The same files by listing: 2023-07-10, all in range, in delivery order.
    let from = 1_688_947_200_000; // 2023-07-10T00:00Z
    let listed = list_log_objects(&p.clients, "real", "", from, from + 24 * HOUR)
        .await
        .unwrap();
    let listed_keys: Vec<&str> = listed.iter().map(|o| o.key.as_str()).collect();
    let mut sorted: Vec<&str> = files.iter().map(|(k, _)| k.as_str()).collect();
    sorted.sort_by_key(|k| {
        (
            k.split('_').nth(3).unwrap_or_default().to_owned(),
            k.to_owned(),
        )
    });
    assert_eq!(listed_keys, sorted);
}
