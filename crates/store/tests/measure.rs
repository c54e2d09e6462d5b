//! Measurement, not a check: bytes of sled state per profile and commit throughput for
//! 10k profiles of a realistic ~2 KB payload. Run it in release:
//! `cargo test -p store --release --test measure -- --ignored --nocapture`.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use store::{ObjectBatch, ObjectId, ProfileKey, Store, StoreOptions};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Counter {
    weight: f64,
    first_ms: i64,
    last_ms: i64,
}

/// Shaped like a detect profile: decayed counters per feature value.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Profile {
    events: f64,
    first_seen_ms: i64,
    last_seen_ms: i64,
    hours: [f64; 24],
    features: BTreeMap<String, BTreeMap<String, Counter>>,
}

fn profile(seed: usize) -> Profile {
    let counter = |i: usize| Counter {
        weight: (seed * 31 + i) as f64 / 7.0,
        first_ms: 1_700_000_000_000 + i as i64,
        last_ms: 1_760_000_000_000 + (seed + i) as i64,
    };
    let values: [(&str, &[&str]); 9] = [
        ("country", &["US", "DE", "IE"]),
        ("asn", &["AS16509", "AS3320", "AS8075"]),
        (
            "ua",
            &[
                "Boto3/1.34",
                "aws-cli/2.15",
                "console",
                "python-requests/2.31",
            ],
        ),
        ("region", &["us-east-1", "us-west-2", "eu-central-1"]),
        (
            "model",
            &["anthropic.claude-3-5-sonnet", "amazon.titan-embed-text-v2"],
        ),
        ("cred", &["AKIA", "ASIA"]),
        (
            "city",
            &[
                "Ashburn",
                "Frankfurt am Main",
                "Dublin",
                "Boardman",
                "Seattle",
            ],
        ),
        (
            "error",
            &["AccessDenied", "ValidationException", "ThrottlingException"],
        ),
        (
            "api",
            &[
                "bedrock:InvokeModel",
                "bedrock:InvokeModelWithResponseStream",
                "bedrock:Converse",
                "bedrock:ListFoundationModels",
                "bedrock:GetFoundationModelAvailability",
                "bedrock:GetModelInvocationLoggingConfiguration",
                "sts:GetCallerIdentity",
                "iam:ListUsers",
                "s3:ListBuckets",
                "bedrock:ListGuardrails",
                "bedrock:ListCustomModels",
                "bedrock:ListProvisionedModelThroughputs",
                "bedrock:GetUseCaseForModelAccess",
                "bedrock:ListInferenceProfiles",
                "bedrock:ListModelInvocationJobs",
                "bedrock:GetFoundationModel",
                "bedrock:ApplyGuardrail",
                "bedrock:ListAgents",
                "bedrock:ListKnowledgeBases",
                "sts:AssumeRole",
                "iam:GetUser",
                "iam:ListAccessKeys",
                "ec2:DescribeRegions",
                "logs:DescribeLogGroups",
                "bedrock:CreateModelInvocationJob",
            ],
        ),
    ];
    let features = values
        .iter()
        .map(|(name, vals)| {
            let counters = vals
                .iter()
                .enumerate()
                .map(|(i, v)| ((*v).to_owned(), counter(i)))
                .collect();
            ((*name).to_owned(), counters)
        })
        .collect();
    Profile {
        events: seed as f64,
        first_seen_ms: 1_700_000_000_000,
        last_seen_ms: 1_760_000_000_000 + seed as i64,
        hours: std::array::from_fn(|h| (h * seed) as f64 / 3.0),
        features,
    }
}

fn dir_bytes(path: &std::path::Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_bytes(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

#[test]
#[ignore = "measurement; run with --ignored --nocapture in release"]
fn bytes_per_profile_10k() {
    const PROFILES: usize = 10_000;
    const PER_OBJECT: usize = 100;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let options = StoreOptions {
        flush_every_ms: 0,
        ..StoreOptions::default()
    };
    let store = Store::open(&path, &options).unwrap();
    let payload = postcard::to_allocvec(&profile(1)).unwrap().len();

    let started = Instant::now();
    for object in 0..PROFILES / PER_OBJECT {
        let key = format!("AWSLogs/123456789012/CloudTrail/us-east-1/2025/01/01/{object}.json.gz");
        let mut batch =
            ObjectBatch::new(ObjectId::new("trail", &key, "etag"), 0, PER_OBJECT as u64);
        for i in object * PER_OBJECT..(object + 1) * PER_OBJECT {
            let principal = format!("arn:aws:iam::123456789012:user/user-{i:05}");
            batch.profile(
                ProfileKey::principal("123456789012", &principal).unwrap(),
                profile(i),
            );
        }
        store.commit(batch).unwrap();
    }
    let commit_elapsed = started.elapsed();
    store.flush().unwrap();
    let logical = store.size_on_disk().unwrap();
    drop(store);
    let on_disk_before = dir_bytes(&path);

    // Rewrite every profile once (a second day of traffic) to see space amplification.
    let store = Store::open(&path, &options).unwrap();
    let started = Instant::now();
    for object in 0..PROFILES / PER_OBJECT {
        let key = format!("AWSLogs/123456789012/CloudTrail/us-east-1/2025/01/02/{object}.json.gz");
        let mut batch =
            ObjectBatch::new(ObjectId::new("trail", &key, "etag"), 0, PER_OBJECT as u64);
        for i in object * PER_OBJECT..(object + 1) * PER_OBJECT {
            let principal = format!("arn:aws:iam::123456789012:user/user-{i:05}");
            batch.profile(
                ProfileKey::principal("123456789012", &principal).unwrap(),
                profile(i + 1),
            );
        }
        store.commit(batch).unwrap();
    }
    let rewrite_elapsed = started.elapsed();
    store.flush().unwrap();
    let started = Instant::now();
    let listed = store.profiles_iter::<Profile>(b"p\0").count();
    let list_elapsed = started.elapsed();
    let get_all = |store: &Store| {
        let started = Instant::now();
        for i in 0..PROFILES {
            let principal = format!("arn:aws:iam::123456789012:user/user-{i:05}");
            let key = ProfileKey::principal("123456789012", &principal).unwrap();
            assert!(store.get_profile::<Profile>(&key).unwrap().is_some());
        }
        started.elapsed()
    };
    let get_cached = get_all(&store);
    let started = Instant::now();
    for i in 0..PROFILES {
        let principal = format!("arn:aws:iam::123456789012:user/user-{i:05}");
        let key = ProfileKey::principal("123456789012", &principal).unwrap();
        assert!(store.get_profile_shared::<Profile>(&key).unwrap().is_some());
    }
    let get_shared = started.elapsed();
    drop(store);
    let on_disk_after = dir_bytes(&path);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let uncached = Store::open(
        &path,
        &StoreOptions {
            profile_cache_entries: 0,
            ..options
        },
    )
    .unwrap();
    let get_uncached = get_all(&uncached);

    println!("payload (postcard) per profile: {payload} B");
    println!(
        "commit {PROFILES} profiles in {} objects: {commit_elapsed:?} ({:.1} us/profile)",
        PROFILES / PER_OBJECT,
        commit_elapsed.as_secs_f64() * 1e6 / PROFILES as f64
    );
    println!(
        "sled size_on_disk after load: {logical} B = {} B/profile",
        logical / PROFILES as u64
    );
    println!(
        "directory after load: {on_disk_before} B = {} B/profile",
        on_disk_before / PROFILES as u64
    );
    println!(
        "rewrite all once: {rewrite_elapsed:?}; directory after: {on_disk_after} B = {} B/profile",
        on_disk_after / PROFILES as u64
    );
    println!(
        "list {listed} profiles (decode): {list_elapsed:?}; get_profile x{PROFILES}: {get_cached:?} cached, {get_uncached:?} uncached, {get_shared:?} get_profile_shared cached"
    );
}
