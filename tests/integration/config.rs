//! Configuration as a user meets it: the shipped file, `validate`, bad files
//! rejected with every problem listed, environment overrides.

use crate::harness::{bin, ok, repo};

#[test]
fn the_shipped_config_is_valid_and_equals_the_defaults() {
    let shipped = repo().join("config/bedguard.toml");
    let mut c = bin();
    c.arg("validate").arg("--config").arg(&shipped);
    ok(c);
    // Every key at its default: dumping the shipped file and the embedded defaults
    // gives the same effective configuration.
    let mut a = bin();
    a.args(["validate", "--print", "--config"]).arg(&shipped);
    let mut b = bin();
    b.args(["validate", "--print"]);
    let (a, b) = (ok(a), ok(b));
    assert_eq!(
        String::from_utf8_lossy(&a.stdout),
        String::from_utf8_lossy(&b.stdout)
    );
}

#[test]
fn a_bad_config_exits_64_and_lists_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.toml");
    std::fs::write(
        &p,
        "[ingest]\nwait_time_secs = 40\nconcurrency = 0\n[log]\nformat = \"xml\"\n[detect.severity]\nmedium_bits = -1.0\n",
    )
    .unwrap();
    let out = bin()
        .arg("validate")
        .arg("--config")
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let err = String::from_utf8_lossy(&out.stderr);
    for key in [
        "ingest.wait_time_secs",
        "ingest.concurrency",
        "log.format",
        "detect.severity",
    ] {
        assert!(err.contains(key), "{key} missing from:\n{err}");
    }
    assert!(
        err.contains(&p.display().to_string()),
        "names the file:\n{err}"
    );

    std::fs::write(&p, "[ingest]\nqueue = \"x\"\n").unwrap();
    let out = bin()
        .arg("validate")
        .arg("--config")
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("queue"),
        "unknown key named"
    );
}

#[test]
fn environment_overrides_the_file() {
    let out = bin()
        .args(["validate", "--print"])
        .env("BEDGUARD_INGEST_CONCURRENCY", "7")
        .env("BEDGUARD_LOG_LEVEL", "debug")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("concurrency = 7"), "{text}");
    let out = bin()
        .args(["validate"])
        .env("BEDGUARD_INGEST_CONCURRENCY", "0")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
}

#[test]
fn validate_rejects_a_sink_that_cannot_start_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("sinks.toml");
    let bad_ca = dir.path().join("not-a-ca.pem");
    std::fs::write(&bad_ca, "not a certificate").unwrap();
    std::fs::write(
        &p,
        format!(
            "[[sinks]]\ntype = \"http\"\nname = \"splunk\"\nurl = \"http://127.0.0.1:9/services/collector/event\"\n\
             [sinks.hec]\ntoken_env = \"BEDGUARD_VALIDATE_TEST_UNSET_TOKEN\"\n\
             [[sinks]]\ntype = \"syslog\"\nname = \"siem\"\naddress = \"127.0.0.1:6514\"\nprotocol = \"tls\"\ntls_ca_file = {:?}\n\
             [[sinks]]\ntype = \"stdout\"\nname = \"console\"\n",
            bad_ca.display().to_string()
        ),
    )
    .unwrap();
    let out = bin()
        .arg("validate")
        .arg("--config")
        .arg(&p)
        .env_remove("BEDGUARD_VALIDATE_TEST_UNSET_TOKEN")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(64), "{err}");
    assert!(err.contains("2 problem(s)"), "{err}");
    assert!(
        err.contains("sinks[0]") && err.contains("BEDGUARD_VALIDATE_TEST_UNSET_TOKEN"),
        "{err}"
    );
    assert!(
        err.contains("sinks[1]") && err.contains("not-a-ca.pem"),
        "{err}"
    );
    assert!(!err.contains("sinks[2]"), "{err}");

    // With the token set, that problem is gone.
    let out = bin()
        .arg("validate")
        .arg("--config")
        .arg(&p)
        .env("BEDGUARD_VALIDATE_TEST_UNSET_TOKEN", "t0ken")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("sinks[0]"), "{err}");
}
