//! `bedguard run` against a real S3+SQS endpoint (moto's server): notifications in,
//! objects fetched, state committed, messages deleted; a malformed object ends in the
//! DLQ while good ones complete; SIGTERM mid-batch loses nothing.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::harness::{Moto, bin, bin_aws, gzip, json, ok};

/// A small simulated organisation's files: (key, gzipped bytes).
fn small_org() -> Vec<(String, Vec<u8>)> {
    let cfg = sim::SimConfig {
        seed: 11,
        accounts: 1,
        principals: 4,
        days: 2,
        events_per_principal_day: 30.0,
        scenarios: Vec::new(),
        warmup_days: 2,
        ..sim::SimConfig::default()
    };
    let mut s = sim::Simulation::new(cfg);
    s.files().map(|f| (f.key, gzip(&f.json))).collect()
}

fn write_config(dir: &Path, endpoint: &str, queue_url: &str) -> std::path::PathBuf {
    let p = dir.join("bedguard.toml");
    std::fs::write(
        &p,
        format!(
            "[state]\npath = {state:?}\n[aws]\nregion = \"us-east-1\"\nendpoint_url = {endpoint:?}\n\
             [ingest]\nqueue_url = {queue_url:?}\nwait_time_secs = 1\nconcurrency = 3\n\
             visibility_timeout_secs = 5\nheartbeat_secs = 2\nshutdown_deadline_secs = 10\n\
             [metrics]\nenabled = false\n\
             [[sinks]]\ntype = \"file\"\nname = \"file\"\npath = {findings:?}\n",
            state = dir.join("state").display().to_string(),
            findings = dir.join("findings.jsonl").display().to_string(),
        ),
    )
    .unwrap();
    p
}

fn processed_objects(config: &Path) -> u64 {
    let mut c = bin();
    c.args(["profile", "list", "--json", "--config"])
        .arg(config);
    let v = json(&ok(c));
    v.as_array()
        .unwrap()
        .iter()
        .filter(|p| p["kind"] == "principal")
        .count() as u64
}

/// moto with a trail bucket notifying a queue (with a DLQ), and a small simulated
/// organisation's files uploaded to it.
struct Trail {
    moto: Moto,
    rt: tokio::runtime::Runtime,
    clients: ingest::Clients,
    urls: ingest::test_util::QueueUrls,
    files: Vec<(String, Vec<u8>)>,
}

fn trail() -> Trail {
    let t = crate::harness::Trail::start();
    let files = small_org();
    for (key, body) in &files {
        t.put(key, body.clone());
    }
    Trail {
        moto: t.moto,
        rt: t.rt,
        clients: t.clients,
        urls: t.urls,
        files,
    }
}

#[test]
fn run_consumes_notifications_commits_and_sends_malformed_objects_to_the_dlq() {
    let Trail {
        moto,
        rt,
        clients,
        urls,
        files,
    } = trail();
    assert!(files.len() > 10, "{}", files.len());
    // A malformed object in CloudTrail's layout: good gzip, not CloudTrail JSON.
    let bad_key = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/01/01/111122223333_CloudTrail_us-east-1_20240101T0000Z_badbadbadbadbadb.json.gz";
    rt.block_on(ingest::test_util::put_object(
        &clients,
        "trail",
        bad_key,
        gzip(b"{\"not\": \"cloudtrail\"}"),
    ))
    .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &moto.endpoint, &urls.queue_url);
    let mut c = bin_aws();
    c.args(["run", "--exit-when-idle-secs", "12", "--config"])
        .arg(&config);
    let out = ok(c);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(bad_key),
        "the malformed object is reported with its key:\n{stderr}"
    );

    let (visible, in_flight) = rt
        .block_on(ingest::test_util::queue_depth(&clients, &urls.queue_url))
        .unwrap();
    assert_eq!(visible + in_flight, 0, "every good message deleted");
    let (dlq, dlq_flight) = rt
        .block_on(ingest::test_util::queue_depth(&clients, &urls.dlq_url))
        .unwrap();
    assert_eq!(
        dlq + dlq_flight,
        1,
        "the malformed object's message is in the DLQ"
    );
    assert_eq!(processed_objects(&config), 4, "all four principals learned");

    // A redelivery of an object already committed changes nothing: the same object
    // uploaded again announces itself again, with the same ETag.
    let before = std::fs::read_to_string(dir.path().join("findings.jsonl")).unwrap_or_default();
    rt.block_on(ingest::test_util::put_object(
        &clients,
        "trail",
        &files[0].0,
        files[0].1.clone(),
    ))
    .unwrap();
    let mut c = bin_aws();
    c.args(["run", "--exit-when-idle-secs", "6", "--config"])
        .arg(&config);
    let out = ok(c);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let (visible, in_flight) = rt
        .block_on(ingest::test_util::queue_depth(&clients, &urls.queue_url))
        .unwrap();
    assert_eq!(
        visible + in_flight,
        0,
        "redelivered message deleted:\n{stderr}"
    );
    assert!(
        stderr.contains("\"objects\":0,\"records\":0"),
        "nothing processed again:\n{stderr}"
    );
    let after = std::fs::read_to_string(dir.path().join("findings.jsonl")).unwrap_or_default();
    assert_eq!(before, after, "no finding emitted again");
}

#[test]
fn sigterm_mid_batch_exits_cleanly_and_a_restart_finishes_the_work() {
    let Trail {
        moto,
        rt,
        clients,
        urls,
        ..
    } = trail();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &moto.endpoint, &urls.queue_url);
    let mut c = bin_aws();
    c.args(["run", "--config"]).arg(&config);
    c.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    // Let it get into the work, then ask it to stop.
    std::thread::sleep(Duration::from_secs(4));
    let pid = child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let started = Instant::now();
    let status = child.wait().unwrap();
    assert!(status.success(), "exit status after SIGTERM: {status}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "stopped within the deadline"
    );

    // Whatever was in flight was released, not lost: a restart drains the queue.
    let mut c = bin_aws();
    c.args(["run", "--exit-when-idle-secs", "6", "--config"])
        .arg(&config);
    ok(c);
    let (visible, in_flight) = rt
        .block_on(ingest::test_util::queue_depth(&clients, &urls.queue_url))
        .unwrap();
    assert_eq!(visible + in_flight, 0);
    let (dlq, _) = rt
        .block_on(ingest::test_util::queue_depth(&clients, &urls.dlq_url))
        .unwrap();
    assert_eq!(dlq, 0, "nothing good went to the DLQ");
    assert_eq!(processed_objects(&config), 4);
}
