//! User agents and source addresses from the real public CloudTrail logs in
//! `/work/shared/data/real-cloudtrail` (gunzipped here), normalised with the built-in rules.

// Test helpers outside `#[test]` functions fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use detect::NetClass;
use enrich::{UNKNOWN_FAMILY, UaRules, classify_source};
use flate2::read::GzDecoder;
use serde_json::Value;

const DATA: &str = "/work/shared/data/real-cloudtrail";

fn gz_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            gz_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "gz") {
            out.push(path);
        }
    }
}

/// Every event in the corpus (Records files and Panther JSON lines).
fn events() -> Vec<Value> {
    let mut files = Vec::new();
    gz_files(Path::new(DATA), &mut files);
    files.sort();
    assert!(
        files.len() > 50,
        "real CloudTrail corpus not found under {DATA}"
    );
    let mut events = Vec::new();
    for file in files {
        let mut text = String::new();
        GzDecoder::new(fs::File::open(&file).unwrap())
            .read_to_string(&mut text)
            .unwrap();
        if let Ok(Value::Object(doc)) = serde_json::from_str::<Value>(&text)
            && let Some(Value::Array(records)) = doc.get("Records")
        {
            events.extend(records.iter().cloned());
            continue;
        }
        events.extend(
            text.lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok()),
        );
    }
    events
}

fn field<'a>(event: &'a Value, name: &str) -> Option<&'a str> {
    event.get(name).and_then(Value::as_str)
}

#[test]
fn every_real_user_agent_normalises_and_known_ones_are_recognised() {
    let rules = UaRules::builtin().unwrap();
    let mut families: BTreeMap<String, usize> = BTreeMap::new();
    let mut unknown: BTreeMap<String, usize> = BTreeMap::new();
    let events = events();
    assert!(events.len() > 3_000, "{}", events.len());
    for event in &events {
        let Some(ua) = field(event, "userAgent") else {
            continue;
        };
        let client = rules.normalize(ua);
        *families.entry(client.family.to_string()).or_default() += 1;
        if client.family == UNKNOWN_FAMILY {
            *unknown.entry(ua.to_owned()).or_default() += 1;
        }
        // Things that have a name in them must not fall through to unknown.
        for (needle, family) in [
            ("aws-cli/", "aws-cli"),
            ("Terraform/", "terraform"),
            ("Boto3/", "boto3"),
            ("python-requests/", "python-requests"),
        ] {
            if ua.contains(needle) && !ua.contains("stratus-red-team_") {
                assert_eq!(client.family, family, "{ua}");
            }
        }
        if ua.contains("stratus-red-team_") {
            assert_eq!(client.family, "stratus-red-team", "{ua}");
        }
        if ua.ends_with(".amazonaws.com")
            && !ua.starts_with("console.")
            && ua != "cloudformation.amazonaws.com"
        {
            assert_eq!(client.family, "aws-service", "{ua}");
        }
        if ua.starts_with('[') && ua.ends_with(']') {
            // Brackets never change the answer.
            assert_eq!(client, rules.normalize(&ua[1..ua.len() - 1]), "{ua}");
        }
    }
    // The corpus's placeholders are the only unknown agents.
    // (Test-fixture placeholders, mostly from the Panther rule tests.)
    let allowed = [
        "example-user-agent",
        "sample-user-agent",
        "SampleUserAgent",
        "68319f60-9dec-43b2-9702-de3a08c9d8a3",
        "<Victim browser user agent>",
        "Chrome Browser",
        "Datadog",
        "Jersey/${project.version}",
        "aws sdk",
    ];
    let surprising: Vec<&String> = unknown
        .keys()
        .filter(|ua| !allowed.contains(&ua.trim_matches(|c| c == '[' || c == ']')))
        .collect();
    assert!(
        surprising.is_empty(),
        "unrecognised real agents: {surprising:#?}"
    );
    for family in [
        "terraform",
        "aws-internal",
        "aws-service",
        "console",
        "aws-cli",
        "boto3",
        "aws-sdk-go",
        "stratus-red-team",
    ] {
        assert!(
            families.get(family).copied().unwrap_or(0) > 0,
            "no {family} in {families:?}"
        );
    }
}

#[test]
fn every_real_source_address_classifies() {
    let mut classes: BTreeMap<String, usize> = BTreeMap::new();
    for event in events() {
        let Some(source) = field(&event, "sourceIPAddress") else {
            continue;
        };
        let (class, ip) = classify_source(source);
        assert_eq!(
            ip.is_some(),
            matches!(class, NetClass::Public | NetClass::Private),
            "{source}"
        );
        *classes.entry(format!("{class:?}")).or_default() += 1;
        if source == "035.249.253.232" || source == "253.252.51.07" {
            assert_eq!(class, NetClass::Invalid);
        }
        if source == "AWS Internal" || source.ends_with(".amazonaws.com") {
            assert_eq!(class, NetClass::AwsService, "{source}");
        }
    }
    for class in ["Public", "Private", "AwsService", "Invalid"] {
        assert!(
            classes.get(class).copied().unwrap_or(0) > 0,
            "no {class} in {classes:?}"
        );
    }
}
