//! Sink configuration: parsing, unknown keys, and validation with key paths.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // helpers outside #[test] fns

use sinks::Encoding;
use sinks::config::{SinkConfig, SyslogProtocol, validate};

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Root {
    sinks: Vec<SinkConfig>,
}

fn parse(s: &str) -> Result<Vec<SinkConfig>, toml::de::Error> {
    toml::from_str::<Root>(s).map(|r| r.sinks)
}

#[test]
fn parses_every_transport_with_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "t").unwrap();
    let sinks = parse(&format!(
        r#"
        [[sinks]]
        type = "file"
        name = "file"
        path = "/var/lib/bedguard/findings.jsonl"
        max_bytes = 1048576
        keep_files = 3

        [[sinks]]
        type = "stdout"
        name = "out"
        encoding = "ecs"

        [[sinks]]
        type = "syslog"
        name = "siem"
        protocol = "tcp"
        address = "127.0.0.1:6514"
        [sinks.drain]
        max_attempts = 7

        [[sinks]]
        type = "http"
        name = "splunk"
        url = "https://splunk.example:8088"
        headers = {{ "X-Extra" = "1" }}
        [sinks.hec]
        token_file = "{}"
        "#,
        token.display()
    ))
    .unwrap();
    assert_eq!(sinks.len(), 4);
    assert!(validate(&sinks).is_empty(), "{:?}", validate(&sinks));
    assert_eq!(sinks[1].encoding(), Encoding::Ecs);
    assert_eq!(sinks[2].encoding(), Encoding::Cef);
    assert_eq!(sinks[2].drain().max_attempts, 7);
    assert_eq!(sinks[2].drain().batch_max_findings, 100);
    match &sinks[2] {
        SinkConfig::Syslog(s) => assert_eq!(s.protocol, SyslogProtocol::Tcp),
        other => panic!("{other:?}"),
    }
    match &sinks[3] {
        SinkConfig::Http(h) => {
            assert!(h.gzip);
            let hec = h.hec.as_ref().unwrap();
            assert!(hec.ack);
            assert_eq!(hec.sourcetype, "bedguard:finding");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn unknown_keys_are_rejected_at_every_level() {
    let base = "[[sinks]]\ntype = \"stdout\"\nname = \"a\"\n";
    assert!(parse(base).is_ok());
    assert!(parse(&format!("{base}colour = \"red\"\n")).is_err());
    assert!(parse(&format!("{base}[sinks.drain]\nretries = 3\n")).is_err());
    assert!(parse("[[sinks]]\ntype = \"carrier_pigeon\"\nname = \"a\"\n").is_err());
    let http = "[[sinks]]\ntype = \"http\"\nname = \"h\"\nurl = \"http://x\"\n[sinks.hec]\ntoken_env = \"T\"\n";
    assert!(parse(http).is_ok());
    assert!(parse(&format!("{http}token = \"secret\"\n")).is_err());
}

#[test]
fn validate_lists_every_problem_with_its_key_path() {
    let sinks = parse(
        r#"
        [[sinks]]
        type = "file"
        name = "bad name"
        path = ""
        max_bytes = 10
        keep_files = 0
        [sinks.drain]
        batch_max_findings = 0
        backoff_initial_ms = 100
        backoff_max_ms = 10

        [[sinks]]
        type = "syslog"
        name = "s"
        protocol = "udp"
        address = "nohost"
        facility = 30
        max_message_bytes = 70000
        tls_ca_file = "/nonexistent/ca.pem"

        [[sinks]]
        type = "http"
        name = "s"
        url = "ftp://x"
        headers = { "Authorization" = "x", "bad header" = "v" }
        [sinks.hec]
        token_env = "A"
        token_file = "/nonexistent/token"
        "#,
    )
    .unwrap();
    let keys: Vec<String> = validate(&sinks).into_iter().map(|i| i.key).collect();
    for expected in [
        "sinks[0].name",
        "sinks[0].path",
        "sinks[0].max_bytes",
        "sinks[0].keep_files",
        "sinks[0].drain.batch_max_findings",
        "sinks[0].drain.backoff_max_ms",
        "sinks[1].address",
        "sinks[1].facility",
        "sinks[1].max_message_bytes",
        "sinks[1].tls_ca_file",
        "sinks[2].url",
        "sinks[2].headers.bad header",
        "sinks[2].headers.Authorization",
        "sinks[2].hec.token_env",
        "sinks[2].name",
    ] {
        assert!(
            keys.iter().any(|k| k == expected),
            "missing {expected} in {keys:?}"
        );
    }
}

#[test]
fn hec_token_comes_from_file_or_environment_and_never_prints() {
    use sinks::config::HecConfig;
    use sinks::transport::http::read_token;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, "  abc-123\n").unwrap();
    let mut h = HecConfig {
        token_file: Some(file),
        token_env: None,
        sourcetype: "s".into(),
        source: None,
        index: None,
        ack: true,
        ack_timeout_ms: 1_000,
        ack_poll_ms: 10,
    };
    let t = read_token(&h).unwrap();
    assert_eq!(format!("{t:?}"), "Secret(<redacted>)");
    // PATH is set in every test environment; a token from it round-trips.
    h.token_file = None;
    h.token_env = Some("PATH".into());
    assert!(read_token(&h).is_ok());
    h.token_env = Some("BEDGUARD_TEST_SURELY_UNSET_VARIABLE".into());
    let err = read_token(&h).unwrap_err().to_string();
    assert!(err.contains("BEDGUARD_TEST_SURELY_UNSET_VARIABLE"), "{err}");
}
