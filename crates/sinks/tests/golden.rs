//! Golden-file tests of every encoder: a finding with every field set and one with
//! every optional field empty. `BEDGUARD_BLESS=1` rewrites the files.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // helpers outside #[test] fns

use std::path::PathBuf;

use sinks::encode::{EncodeContext, Encoding, cef, native, ocsf};
use sinks::sample;
use sinks::transport::Encoded;
use sinks::transport::syslog::format_message;

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/golden/findings")
}

fn ctx() -> EncodeContext {
    EncodeContext {
        product_name: "bedguard".into(),
        product_version: "0.1.0".into(),
        hostname: "sensor-1".into(),
        emitted_ms: 1_700_000_400_000,
    }
}

fn bless() -> bool {
    std::env::var_os("BEDGUARD_BLESS").is_some_and(|v| v == "1")
}

/// Compares JSON by value (key order free), text byte for byte.
fn check(name: &str, actual: &[u8], json: bool) {
    let path = golden_dir().join(name);
    let rendered = if json {
        let v: serde_json::Value = serde_json::from_slice(actual).unwrap();
        let mut s = serde_json::to_string_pretty(&v).unwrap();
        s.push('\n');
        s.into_bytes()
    } else {
        let mut v = actual.to_vec();
        v.push(b'\n');
        v
    };
    if bless() {
        std::fs::create_dir_all(golden_dir()).unwrap();
        std::fs::write(&path, &rendered).unwrap();
        return;
    }
    let expected = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run with BEDGUARD_BLESS=1 to create it",
            path.display()
        )
    });
    if json {
        let a: serde_json::Value = serde_json::from_slice(actual).unwrap();
        let e: serde_json::Value = serde_json::from_slice(&expected).unwrap();
        assert_eq!(a, e, "{name} differs from its golden file");
    } else {
        assert_eq!(
            String::from_utf8_lossy(&rendered),
            String::from_utf8_lossy(&expected),
            "{name} differs from its golden file"
        );
    }
}

#[test]
fn encoders_match_golden_files() {
    for (label, finding) in [("full", sample::full()), ("minimal", sample::minimal())] {
        for enc in Encoding::ALL {
            let bytes = enc.encode(&finding, &ctx()).unwrap();
            let ext = if enc.is_json() { "json" } else { "txt" };
            check(
                &format!("{label}.{}.{ext}", enc.as_str()),
                &bytes,
                enc.is_json(),
            );
        }
        let body = Encoding::Cef.encode(&finding, &ctx()).unwrap();
        let e = Encoded {
            id: finding.id.clone(),
            finding_type: finding.finding_type.clone(),
            severity: finding.severity_label,
            score: finding.severity,
            revision: finding.revision,
            last_seen_ms: finding.last_seen,
            json: false,
            body,
        };
        check(
            &format!("{label}.syslog.txt"),
            &format_message(&e, &ctx(), 16, "bedguard", 4242),
            false,
        );
    }
}

#[test]
fn encoders_are_deterministic_and_single_line() {
    for finding in [sample::full(), sample::minimal()] {
        for enc in Encoding::ALL {
            let a = enc.encode(&finding, &ctx()).unwrap();
            let b = enc.encode(&finding, &ctx()).unwrap();
            assert_eq!(a, b, "{enc:?}");
            assert!(!a.contains(&b'\n'), "{enc:?} output has a raw newline");
        }
    }
}

#[test]
fn native_round_trips_and_accepts_plain_serde() {
    for finding in [sample::full(), sample::minimal()] {
        let bytes = native::encode(&finding, &ctx()).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["schema_version"], 1);
        assert_eq!(native::decode(&bytes).unwrap(), finding);
        assert_eq!(
            native::decode(&native::encode_stored(&finding).unwrap()).unwrap(),
            finding
        );
        let plain = serde_json::to_vec(&finding).unwrap();
        assert_eq!(native::decode(&plain).unwrap(), finding);
    }
    let mut v: serde_json::Value =
        serde_json::from_slice(&native::encode(&sample::full(), &ctx()).unwrap()).unwrap();
    v["schema_version"] = 2.into();
    assert!(native::decode(&serde_json::to_vec(&v).unwrap()).is_err());
    assert!(native::decode(b"{not json").is_err());
}

#[test]
fn non_finite_numbers_are_errors_not_nulls() {
    let mut f = sample::full();
    f.severity = f64::NAN;
    for enc in Encoding::ALL {
        assert!(
            enc.encode(&f, &ctx()).is_err(),
            "{enc:?} accepted NaN severity"
        );
    }
    let mut f = sample::full();
    f.features[0].share = f64::INFINITY;
    for enc in [Encoding::Native, Encoding::Ocsf, Encoding::Ecs] {
        assert!(
            enc.encode(&f, &ctx()).is_err(),
            "{enc:?} accepted an infinite share"
        );
    }
}

#[test]
fn ocsf_activity_follows_revision_and_buckets_are_carried() {
    let mut f = sample::full();
    f.revision = 0;
    let v: serde_json::Value = serde_json::from_slice(&ocsf::encode(&f, &ctx()).unwrap()).unwrap();
    assert_eq!(v["type_uid"], 200401);
    assert_eq!(v["class_uid"], 2004);
    assert_eq!(v["category_uid"], 2);
    assert_eq!(v["severity_id"], 4);
    assert_eq!(v["metadata"]["version"], "1.3.0");
    f.revision = 3;
    let v: serde_json::Value = serde_json::from_slice(&ocsf::encode(&f, &ctx()).unwrap()).unwrap();
    assert_eq!(v["type_uid"], 200402);
    let patterns: Vec<&str> = v["anomaly_analyses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["anomalies"][0]["observed_pattern"].as_str().unwrap())
        .collect();
    assert_eq!(patterns, ["UNSEEN", "RARE"]);
    assert_eq!(
        v["anomaly_analyses"][0]["baselines"][0]["observations"][0]["value"],
        "16509"
    );
}

#[test]
fn cef_escapes_header_and_extension() {
    assert_eq!(cef::escape_header(r"a|b\c"), r"a\|b\\c");
    assert_eq!(cef::escape_header("a\nb"), "a b");
    assert_eq!(cef::escape_value("k=v\\x\ny\r"), r"k\=v\\x\ny\r");
    assert_eq!(cef::escape_value("a|b"), "a|b");
    let line = String::from_utf8(cef::encode(&sample::full(), &ctx()).unwrap()).unwrap();
    // Seven unescaped pipes close the header.
    let mut pipes = 0;
    let mut escaped = false;
    for c in line.chars() {
        match (escaped, c) {
            (false, '\\') => escaped = true,
            (false, '|') => pipes += 1,
            _ => escaped = false,
        }
    }
    assert_eq!(pipes, 7, "{line}");
    assert!(line.starts_with("CEF:0|bedguard|bedguard|0.1.0|Bedrock:IAMUser/AnomalousInvocation|Unusual Bedrock invocation by ci-bot \\| from a new ASN|8|"));
    assert!(line.contains(r"path C:\\tmp\\x"), "{line}");
    assert!(
        line.contains(r"never seen), with python-requests.\nBaseline: country\=US"),
        "{line}"
    );
}

#[test]
fn asff_has_every_required_field_and_respects_limits() {
    let mut f = sample::full();
    let s = f.signals[0].clone();
    f.signals = (0..80).map(|_| s.clone()).collect();
    f.title = "t".repeat(400);
    let v: serde_json::Value =
        serde_json::from_slice(&Encoding::Asff.encode(&f, &ctx()).unwrap()).unwrap();
    for key in [
        "SchemaVersion",
        "Id",
        "ProductArn",
        "GeneratorId",
        "AwsAccountId",
        "Types",
        "CreatedAt",
        "UpdatedAt",
        "Severity",
        "Title",
        "Description",
        "Resources",
    ] {
        assert!(!v[key].is_null(), "missing {key}");
    }
    assert_eq!(v["SchemaVersion"], "2018-10-08");
    assert_eq!(v["Severity"]["Label"], "HIGH");
    assert_eq!(v["Severity"]["Normalized"], 82);
    assert_eq!(
        v["ProductArn"],
        "arn:aws:securityhub:us-east-1:123456789012:product/123456789012/default"
    );
    assert!(v["ProductFields"].as_object().unwrap().len() <= 50);
    assert_eq!(v["Title"].as_str().unwrap().chars().count(), 256);
}
