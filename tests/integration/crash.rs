//! Crash safety: `bedguard replay` killed with SIGKILL at random points, twenty
//! times, then restarted to the end, leaves exactly the profiles an uninterrupted
//! run leaves. The killed runs commit small batches (300 events), each journaled and
//! applied to sled in chunks of 8 writes; the uninterrupted one the default (the whole
//! corpus at once), so this also shows the profiles do not depend on where commits
//! fall.

use std::process::Stdio;
use std::time::Instant;

use crate::harness::{bin, ok};

fn export(state: &std::path::Path) -> String {
    let mut c = bin();
    c.args(["profile", "export", "--state"]).arg(state);
    String::from_utf8(ok(c).stdout).unwrap()
}

fn replay(
    state: &std::path::Path,
    corpus: &std::path::Path,
    batch_events: Option<u64>,
) -> std::process::Command {
    let mut c = bin();
    c.args(["replay", "--no-progress", "--state"])
        .arg(state)
        .arg(corpus);
    if let Some(n) = batch_events {
        // Chunks of 8 writes: nearly every commit of the killed runs is journaled and
        // applied in several sled batches, so kills land inside them too.
        c.env("BEDGUARD_STATE_REPLAY_BATCH_EVENTS", n.to_string())
            .env("BEDGUARD_STATE_COMMIT_CHUNK_WRITES", "8");
    }
    c.stdout(Stdio::null()).stderr(Stdio::null());
    c
}

#[test]
fn kill_9_at_random_points_then_restart_equals_an_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus");
    let mut c = bin();
    c.args([
        "simulate",
        "--preset",
        "bench",
        "--events",
        "6000",
        "--principals",
        "30",
        "--out",
    ])
    .arg(&corpus);
    ok(c);

    let reference = dir.path().join("reference");
    assert!(
        replay(&reference, &corpus, None)
            .status()
            .unwrap()
            .success()
    );
    let expected = export(&reference);
    assert!(
        expected.lines().count() > 30,
        "profiles learned:\n{expected}"
    );

    // Kill points are fractions of how long a whole run with the killed runs'
    // settings takes, so they land inside the work in debug and release builds alike.
    let calibration = dir.path().join("calibration");
    let started = Instant::now();
    assert!(
        replay(&calibration, &corpus, Some(300))
            .status()
            .unwrap()
            .success()
    );
    let whole_run = started.elapsed();

    let crashed = dir.path().join("crashed");
    // A small LCG: the kill points differ between iterations and are reproducible.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut kills = 0;
    for _ in 0..20 {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        // 2% to 30% of a whole run: every killed run also redoes its start-up, and
        // the work left shrinks with each one.
        let delay = whole_run.mul_f64(0.02 + ((x >> 33) % 1000) as f64 / 3571.0);
        let mut child = replay(&crashed, &corpus, Some(300)).spawn().unwrap();
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        child.wait().unwrap();
    }
    eprintln!("{kills} of 20 runs were killed while working (a whole run: {whole_run:?})");
    assert!(
        kills >= 10,
        "only {kills} runs were still working when killed: make the corpus larger"
    );
    // The killed runs did commit work (else this would only test a fresh start).
    let mut c = bin();
    c.args(["profile", "storage", "--json", "--state"])
        .arg(&crashed);
    let storage: serde_json::Value = serde_json::from_slice(&ok(c).stdout).unwrap();
    let objects = storage["trees"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "objects")
        .and_then(|t| t["entries"].as_u64())
        .unwrap();
    assert!(objects > 0, "no object was committed before the last kill");
    assert!(
        replay(&crashed, &corpus, Some(300))
            .status()
            .unwrap()
            .success()
    );
    let got = export(&crashed);
    assert_eq!(got.lines().count(), expected.lines().count());
    assert!(got == expected, "profiles differ after crashes");
}
