//! Backfill listing and resume, and the digest audit with its repair.

use super::*;

/// Keys over three days, two regions, an organization trail, plus noise.
async fn seed_backfill_bucket(clients: &Clients) -> Vec<String> {
    clients
        .s3
        .create_bucket()
        .bucket("archive")
        .send()
        .await
        .unwrap();
    let mut keys = Vec::new();
    for (i, t) in [
        DAY0 - 30 * 60_000,
        DAY0 + HOUR,
        DAY0 + 25 * HOUR,
        DAY0 + 49 * HOUR,
    ]
    .iter()
    .enumerate()
    {
        keys.push(log_key("trail", ACCOUNT, "us-east-1", *t, &format!("a{i}")));
        keys.push(log_key(
            "trail",
            ACCOUNT,
            "eu-west-1",
            *t + 60_000,
            &format!("b{i}"),
        ));
    }
    keys.push(
        log_key(
            "trail/AWSLogs/o-abc123",
            "210987654321",
            "us-west-2",
            DAY0 + 2 * HOUR,
            "org",
        )
        .replace("trail/AWSLogs/o-abc123/AWSLogs/", "trail/AWSLogs/o-abc123/"),
    );
    for k in &keys {
        put_object(clients, "archive", k, log_body(1))
            .await
            .unwrap();
    }
    let noise = [
        digest_key("trail", ACCOUNT, "us-east-1", "t", DAY0 + HOUR),
        log_key("other", ACCOUNT, "us-east-1", DAY0 + HOUR, "elsewhere"),
        "trail/AWSLogs/123456789012/CloudTrail/us-east-1/2024/01/02/README".to_owned(),
    ];
    for k in &noise {
        put_object(clients, "archive", k, b"{}".to_vec())
            .await
            .unwrap();
    }
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_lists_by_day_in_delivery_order_and_resumes_from_its_cursor() {
    let moto = Moto::start().await;
    let clients = moto.clients().await;
    let keys = seed_backfill_bucket(&clients).await;
    // [day 0 00:00, day 2 00:00): drops the file of the day before and of day 2.
    let (from, to) = (DAY0, DAY0 + 48 * HOUR);
    let listed = list_log_objects(&clients, "archive", "trail", from, to)
        .await
        .unwrap();
    let listed_keys: Vec<&str> = listed.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(
        listed_keys,
        [
            keys[2].as_str(), // us-east-1 01:00
            keys[3].as_str(), // eu-west-1 01:01
            keys[8].as_str(), // org account 02:00
            keys[4].as_str(), // us-east-1 day 1 01:00
            keys[5].as_str(), // eu-west-1 day 1 01:01
        ]
    );
    assert!(
        listed
            .iter()
            .all(|o| o.bucket == "archive" && o.size.is_some())
    );

    let spec = BackfillSpec {
        name: "archive-jan".into(),
        bucket: "archive".into(),
        prefix: "trail".into(),
        from_ms: from,
        to_ms: to,
        fetch: FetchLimits::default(),
        prefetch: 3,
    };
    let cursor = MemCursor::default();
    let rec = Recorder {
        fail_on_call: Some(3),
        ..Recorder::default()
    };
    let err = backfill(&clients, &rec, &spec, &cursor).await.unwrap_err();
    assert!(matches!(err, BackfillError::Object(_)), "{err}");
    assert_eq!(cursor.load("archive-jan").as_deref(), Some(listed_keys[1]));

    let report = backfill(&clients, &rec, &spec, &cursor).await.unwrap();
    assert_eq!(
        (report.listed, report.before_cursor, report.committed),
        (5, 2, 3)
    );
    assert_eq!(cursor.load("archive-jan").as_deref(), Some(listed_keys[4]));
    let order = rec.started.lock().unwrap().clone();
    assert_eq!(
        order,
        [
            listed_keys[0],
            listed_keys[1],
            listed_keys[2],
            listed_keys[2],
            listed_keys[3],
            listed_keys[4]
        ]
    );
    assert!(rec.committed().values().all(|&n| n == 1));

    let again = backfill(&clients, &rec, &spec, &cursor).await.unwrap();
    assert_eq!((again.before_cursor, again.committed), (5, 0));
    assert!(
        list_log_objects(&clients, "archive", "trail", to, from)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_digest_audit_finds_unprocessed_log_files_and_repairs_them() {
    let moto = Moto::start().await;
    moto.reset().await;
    let clients = moto.clients().await;
    clients
        .s3
        .create_bucket()
        .bucket("audited")
        .send()
        .await
        .unwrap();
    let logs: Vec<String> = (0..5)
        .map(|n| {
            log_key(
                "",
                ACCOUNT,
                "us-east-1",
                DAY0 + n * 10 * 60_000,
                &format!("x{n}"),
            )
        })
        .collect();
    for k in &logs {
        put_object(&clients, "audited", k, log_body(2))
            .await
            .unwrap();
    }
    // Two digests: the first hour's (delivered on day 0) and one listing a file outside
    // the range, delivered the next day.
    put_object(
        &clients,
        "audited",
        &digest_key("", ACCOUNT, "us-east-1", "t", DAY0 + HOUR),
        gzip(digest_json("audited", &logs[..4]).as_bytes()),
    )
    .await
    .unwrap();
    let late = log_key("", ACCOUNT, "us-east-1", DAY0 + 24 * HOUR + 60_000, "late");
    put_object(
        &clients,
        "audited",
        &digest_key("", ACCOUNT, "us-east-1", "t", DAY0 + 24 * HOUR + 5 * 60_000),
        gzip(digest_json("audited", &[logs[4].clone(), late]).as_bytes()),
    )
    .await
    .unwrap();
    put_object(
        &clients,
        "audited",
        &digest_key("", ACCOUNT, "us-east-1", "t", DAY0 + 2 * HOUR),
        b"garbage".to_vec(),
    )
    .await
    .unwrap();

    let rec = Recorder::default();
    rec.mark_processed(&logs[1]);
    rec.mark_processed(&logs[3]);
    let spec = AuditSpec {
        bucket: "audited".into(),
        prefix: String::new(),
        from_ms: DAY0,
        to_ms: DAY0 + 24 * HOUR,
        fetch: FetchLimits::default(),
    };
    let report = audit_digests(&clients, &rec, &spec).await.unwrap();
    assert_eq!(report.digests, 2);
    assert_eq!(report.digest_errors.len(), 1, "{:?}", report.digest_errors);
    assert_eq!(report.log_files, 5, "the late file is outside the range");
    let missing: Vec<&str> = report.missing.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(
        missing,
        [logs[0].as_str(), logs[2].as_str(), logs[4].as_str()]
    );

    let repaired = process_missing(&clients, &rec, &report.missing, &FetchLimits::default())
        .await
        .unwrap();
    assert_eq!((repaired.committed, repaired.records), (3, 6));
    let after = audit_digests(&clients, &rec, &spec).await.unwrap();
    assert!(after.missing.is_empty());
    let expected: BTreeSet<&String> = logs.iter().collect();
    assert_eq!(rec.committed().keys().collect::<BTreeSet<_>>(), expected);
}
