//! `bedguard replay` over real public CloudTrail logs and simulated ones.

use crate::harness::{bin, json, ok, real_data};

#[test]
fn replays_every_real_file_without_loss() {
    let state = tempfile::tempdir().unwrap();
    let mut c = bin();
    c.arg("replay")
        .arg("--json")
        .arg("--state")
        .arg(state.path())
        .arg(real_data());
    let summary = json(&ok(c));
    // Counted independently: python3 -c 'import gzip,json,glob; ...' over the same files
    // (see crates/cloudtrail tests for the per-file counts).
    let records = summary["records"].as_u64().unwrap();
    let bad: u64 = summary["bad_records"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(
        records + bad + summary["duplicate_records"].as_u64().unwrap(),
        3_777,
        "{summary:#}"
    );
    assert!(
        summary["malformed_files"].as_object().unwrap().is_empty(),
        "{summary:#}"
    );
    assert!(
        summary["bedrock_calls"].as_u64().unwrap() >= 19,
        "{summary:#}"
    );
}

#[test]
fn a_second_replay_of_the_same_files_changes_nothing() {
    let state = tempfile::tempdir().unwrap();
    let run = || {
        let mut c = bin();
        c.arg("replay")
            .arg("--json")
            .arg("--state")
            .arg(state.path())
            .arg(real_data().join("invictus-ir_aws_dataset"));
        json(&ok(c))
    };
    let first = run();
    assert!(first["records"].as_u64().unwrap() > 2_000, "{first:#}");
    let second = run();
    assert_eq!(second["records"].as_u64().unwrap(), 0, "{second:#}");
    assert_eq!(
        second["already_processed"], first["log_files"],
        "{second:#}"
    );
}

#[test]
fn the_number_of_reading_threads_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus");
    let mut c = bin();
    c.args(["simulate", "--preset", "demo", "--out"])
        .arg(&corpus);
    ok(c);
    // Thousands of files: every reader gets many groups, and the pipeline must take
    // them back in order for the findings and profiles to come out the same.
    let run = |readers: &str| {
        let state = dir.path().join(format!("state-{readers}"));
        let findings = dir.path().join(format!("findings-{readers}.jsonl"));
        let mut c = bin();
        c.args(["replay", "--json", "--no-progress", "--readers", readers])
            .arg("--findings")
            .arg(&findings)
            .arg("--state")
            .arg(&state)
            .arg(&corpus);
        let summary = json(&ok(c));
        let mut c = bin();
        c.args(["profile", "export", "--state"]).arg(&state);
        let profiles = String::from_utf8(ok(c).stdout).unwrap();
        (
            summary,
            std::fs::read_to_string(&findings).unwrap(),
            profiles,
        )
    };
    let one = run("1");
    assert!(one.0["log_files"].as_u64().unwrap() > 1_000, "{:#}", one.0);
    assert!(!one.1.is_empty(), "the demo's attack gives findings");
    let three = run("3");
    assert_eq!(one.0, three.0);
    assert!(
        one.1 == three.1,
        "findings differ:\n{}\n---\n{}",
        one.1,
        three.1
    );
    assert!(one.2 == three.2, "profiles differ");
}
