//! End-to-end checks of the simulator through the `cloudtrail` crate's own decoder.

// Helpers shared by the tests fail loudly, like the tests themselves.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};

use cloudtrail::{KeyKind, classify_key, parse_log, principal};
use sim::{ScenarioKind, SimConfig, SimFile, Simulation, bench_config};

/// A small organisation with every scenario, quick enough for debug builds.
fn all_scenarios(seed: u64) -> SimConfig {
    SimConfig {
        seed,
        accounts: 3,
        principals: 72,
        days: 12,
        events_per_principal_day: 15.0,
        scenarios: ScenarioKind::all().to_vec(),
        warmup_days: 4,
        ..SimConfig::default()
    }
}

fn run(cfg: SimConfig) -> (Vec<SimFile>, Vec<sim::Label>) {
    let mut s = Simulation::new(cfg);
    let files: Vec<SimFile> = s.files().collect();
    (files, s.labels().to_vec())
}

/// Facts about one record, by event id.
#[derive(Debug, Clone)]
struct Seen {
    principal: String,
    name: String,
    ip: String,
    ua: String,
    region: String,
    model: Option<String>,
    params: Option<String>,
    has_params_key: bool,
    error: Option<String>,
    time_ms: i64,
}

fn index(files: &[SimFile]) -> BTreeMap<String, Seen> {
    let mut out = BTreeMap::new();
    for f in files {
        let log = parse_log(&f.json).unwrap();
        assert!(log.errors.is_empty(), "{}: {:?}", f.key, log.errors);
        assert_eq!(log.records.len(), f.events, "{}", f.key);
        let raw: serde_json::Value = serde_json::from_slice(&f.json).unwrap();
        for (rec, raw) in log.records.iter().zip(raw["Records"].as_array().unwrap()) {
            let id = rec.event_id.as_deref().unwrap().to_owned();
            let seen = Seen {
                principal: principal(rec).key,
                name: rec.event_name.to_string(),
                ip: rec.source_ip_address.as_deref().unwrap_or("").to_owned(),
                ua: rec.user_agent.as_deref().unwrap_or("").to_owned(),
                region: rec.aws_region.as_deref().unwrap_or("").to_owned(),
                model: rec.model_id().map(|m| m.into_owned()),
                params: rec.request_parameters.map(|r| r.get().to_owned()),
                has_params_key: raw.get("requestParameters").is_some(),
                error: rec.error_code.as_deref().map(str::to_owned),
                time_ms: rec.event_time_ms().unwrap(),
            };
            assert!(
                out.insert(id.clone(), seen).is_none(),
                "duplicate eventID {id}"
            );
        }
    }
    out
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let (a, la) = run(all_scenarios(11));
    let (b, lb) = run(all_scenarios(11));
    assert_eq!(a, b);
    assert_eq!(la, lb);
    let (c, _) = run(all_scenarios(12));
    assert_ne!(a.first().map(|f| &f.json), c.first().map(|f| &f.json));
}

#[test]
fn every_record_decodes_and_keys_follow_cloudtrail_layout() {
    let (files, _) = run(all_scenarios(3));
    assert!(!files.is_empty());
    let seen = index(&files);
    let mut last_window = i64::MIN;
    for f in &files {
        let KeyKind::Log(key) = classify_key(&f.key) else {
            panic!("not a log key: {}", f.key)
        };
        assert_eq!(key.account_id, f.account_id);
        assert_eq!(key.region, f.region);
        // Delivery order: windows never go back in time.
        assert!(
            key.delivered_ms >= last_window.saturating_sub(240_000),
            "{}",
            f.key
        );
        last_window = last_window.max(key.delivered_ms);
    }
    // Every address is one the demo GeoIP databases know (models/geoip/README.md).
    let known = [
        ([64, 124, 0, 0], 16),
        ([73, 0, 0, 0], 8),
        ([24, 0, 0, 0], 12),
        ([44, 192, 0, 0], 11),
        ([52, 0, 0, 0], 11),
        ([3, 120, 0, 0], 14),
        ([92, 128, 0, 0], 10),
        ([81, 2, 64, 0], 18),
        ([45, 148, 8, 0], 22),
        ([5, 188, 0, 0], 16),
        ([103, 21, 244, 0], 22),
        ([185, 220, 100, 0], 22),
    ];
    for s in seen.values() {
        let ok =
            s.ip.ends_with(".amazonaws.com") || known.iter().any(|(b, p)| in_range(&s.ip, *b, *p));
        assert!(ok, "{} not in a demo range", s.ip);
    }
    // Non-Bedrock events are most of the log, Bedrock a real share.
    let bedrock = seen
        .values()
        .filter(|s| s.name.contains("Model") || s.name.starts_with("Converse"))
        .count();
    let share = bedrock as f64 / seen.len() as f64;
    assert!((0.15..0.45).contains(&share), "bedrock share {share}");
}

#[test]
fn raw_records_carry_the_fields_real_logs_carry() {
    let (files, _) = run(SimConfig {
        days: 3,
        ..all_scenarios(5)
    });
    let mut kinds = BTreeSet::new();
    let mut versions = BTreeSet::new();
    for f in &files {
        let v: serde_json::Value = serde_json::from_slice(&f.json).unwrap();
        for r in v["Records"].as_array().unwrap() {
            versions.insert(r["eventVersion"].as_str().unwrap().to_owned());
            assert_eq!(r["managementEvent"], true);
            assert_eq!(r["recipientAccountId"], f.account_id.as_str());
            assert_eq!(r["eventID"].as_str().unwrap().len(), 36);
            let kind = r["userIdentity"]["type"]
                .as_str()
                .unwrap_or("none")
                .to_owned();
            if r["eventType"] == "AwsApiCall" && kind != "AWSService" {
                let host = r["tlsDetails"]["clientProvidedHostHeader"]
                    .as_str()
                    .unwrap();
                if matches!(r["eventName"].as_str(), Some("InvokeModel" | "Converse")) {
                    assert_eq!(
                        host,
                        format!(
                            "bedrock-runtime.{}.amazonaws.com",
                            r["awsRegion"].as_str().unwrap()
                        )
                    );
                }
                if r["eventName"] == "ListFoundationModels" {
                    assert_eq!(
                        host,
                        format!("bedrock.{}.amazonaws.com", r["awsRegion"].as_str().unwrap())
                    );
                }
                assert!(r["requestID"].is_string());
            }
            match kind.as_str() {
                "AssumedRole" => {
                    assert!(
                        r["userIdentity"]["accessKeyId"]
                            .as_str()
                            .unwrap()
                            .starts_with("ASIA")
                    );
                    assert!(
                        r["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"].is_string()
                    );
                }
                "IAMUser" => assert!(
                    r["userIdentity"]["accessKeyId"]
                        .as_str()
                        .unwrap()
                        .starts_with("AKIA")
                ),
                "none" => {
                    assert_eq!(r["eventType"], "AwsServiceEvent");
                    assert!(
                        r["sourceIPAddress"]
                            .as_str()
                            .unwrap()
                            .ends_with(".amazonaws.com")
                    );
                }
                _ => {}
            }
            kinds.insert(kind);
        }
    }
    for k in ["AssumedRole", "IAMUser", "AWSService", "none"] {
        assert!(kinds.contains(k), "no {k} identity in {kinds:?}");
    }
    assert!(versions.len() >= 3, "{versions:?}");
}

#[test]
fn labels_point_at_real_events_of_their_principal() {
    let (files, labels) = run(all_scenarios(7));
    let seen = index(&files);
    let kinds: BTreeSet<ScenarioKind> = labels.iter().map(|l| l.scenario).collect();
    assert_eq!(kinds.len(), ScenarioKind::all().len(), "{kinds:?}");
    for label in &labels {
        assert!(
            !label.event_ids.is_empty(),
            "{} has no events",
            label.scenario.as_str()
        );
        assert!(label.start_ms <= label.end_ms);
        for id in &label.event_ids {
            let s = seen
                .get(id)
                .unwrap_or_else(|| panic!("{}: {id} not in output", label.scenario.as_str()));
            assert_eq!(s.principal, label.principal, "{}", label.scenario.as_str());
            assert!((label.start_ms..=label.end_ms).contains(&s.time_ms));
        }
    }
}

fn events_of<'a>(label: &sim::Label, seen: &'a BTreeMap<String, Seen>) -> Vec<&'a Seen> {
    label
        .event_ids
        .iter()
        .filter_map(|id| seen.get(id))
        .collect()
}

fn in_range(ip: &str, base: [u8; 4], prefix: u32) -> bool {
    let Ok(addr) = ip.parse::<std::net::Ipv4Addr>() else {
        return false;
    };
    let mask = u32::MAX << (32 - prefix);
    u32::from(addr) & mask == u32::from_be_bytes(base) & mask
}

fn attacker_range(ip: &str) -> bool {
    in_range(ip, [45, 148, 8, 0], 22)
        || in_range(ip, [5, 188, 0, 0], 16)
        || in_range(ip, [103, 21, 244, 0], 22)
        || in_range(ip, [185, 220, 100, 0], 22)
}

#[test]
fn scenarios_look_like_what_they_claim() {
    let (files, labels) = run(all_scenarios(9));
    let seen = index(&files);
    let by_kind = |k: ScenarioKind| labels.iter().find(|l| l.scenario == k).unwrap();

    let llm = events_of(by_kind(ScenarioKind::LlmjackingStolenKey), &seen);
    let names: BTreeSet<&str> = llm.iter().map(|s| s.name.as_str()).collect();
    for n in [
        "ListFoundationModels",
        "GetModelInvocationLoggingConfiguration",
        "PutUseCaseForModelAccess",
        "CreateFoundationModelAgreement",
        "PutFoundationModelEntitlement",
        "InvokeModel",
    ] {
        assert!(names.contains(n), "LLMjacking lacks {n}");
    }
    assert!(llm.iter().all(|s| attacker_range(&s.ip)));
    assert!(llm.iter().all(|s| {
        ["python-requests", "aiohttp", "axios"]
            .iter()
            .any(|g| s.ua.contains(g))
    }));
    assert!(
        llm.iter()
            .any(|s| s.error.as_deref() == Some("AccessDenied"))
    );
    assert!(llm.iter().filter(|s| s.name.starts_with("Invoke")).count() >= 90);
    let put = llm
        .iter()
        .find(|s| s.name == "PutUseCaseForModelAccess")
        .unwrap();
    // `"requestParameters": null` (the decoder reads a JSON null as no value).
    assert!(put.has_params_key && put.params.as_deref().is_none_or(|p| p == "null"));
    let regions: BTreeSet<&str> = llm.iter().map(|s| s.region.as_str()).collect();
    assert!(regions.len() >= 2, "{regions:?}");
    // The attack model is never used by the organisation itself.
    let attack_models: BTreeSet<&str> = llm.iter().filter_map(|s| s.model.as_deref()).collect();
    let attack_ids: BTreeSet<&String> = labels.iter().flat_map(|l| &l.event_ids).collect();
    let org_uses = seen
        .iter()
        .filter(|(id, s)| {
            !attack_ids.contains(id)
                && s.model
                    .as_deref()
                    .is_some_and(|m| attack_models.contains(m))
        })
        .count();
    assert_eq!(org_uses, 0);

    let logging = events_of(by_kind(ScenarioKind::LoggingDisabled), &seen);
    let del = logging
        .iter()
        .find(|s| s.name == "DeleteModelInvocationLoggingConfiguration")
        .unwrap();
    assert!(!del.has_params_key);
    assert!(
        logging
            .iter()
            .any(|s| s.name == "InvokeModel" && s.time_ms > del.time_ms)
    );

    let guard = events_of(by_kind(ScenarioKind::GuardrailDeleted), &seen);
    assert!(
        guard
            .iter()
            .any(|s| s.name == "DeleteGuardrail" || s.name == "UpdateGuardrail")
    );

    let exfil = events_of(by_kind(ScenarioKind::ExfiltratedRoleCredentials), &seen);
    assert!(exfil.iter().all(|s| in_range(&s.ip, [103, 21, 244, 0], 22)));

    let custom = events_of(by_kind(ScenarioKind::CustomizationToForeignBucket), &seen);
    let job = custom
        .iter()
        .find(|s| s.name == "CreateModelCustomizationJob")
        .unwrap();
    let params: serde_json::Value = serde_json::from_str(job.params.as_deref().unwrap()).unwrap();
    let out = params["outputDataConfig"]["s3Uri"].as_str().unwrap();
    let account = &by_kind(ScenarioKind::CustomizationToForeignBucket).account_id;
    assert!(
        out.starts_with("s3://") && !out.contains(account.as_str()),
        "{out}"
    );

    let probe = events_of(by_kind(ScenarioKind::RegionFanOutProbing), &seen);
    let regions: BTreeSet<&str> = probe.iter().map(|s| s.region.as_str()).collect();
    assert!(regions.len() >= 8);

    // Volume spike: own place (no attacker range), many invocations in a few hours.
    let spike_label = by_kind(ScenarioKind::VolumeSpike);
    let spike = events_of(spike_label, &seen);
    assert!(spike.iter().all(|s| !attacker_range(&s.ip)));
    let usual_per_hour = seen
        .values()
        .filter(|s| s.principal == spike_label.principal)
        .filter(|s| s.name.contains("Invoke") || s.name.starts_with("Converse"))
        .count() as f64
        / (12.0 * 24.0);
    let spike_hours = ((spike_label.end_ms - spike_label.start_ms) as f64 / 3.6e6)
        .ceil()
        .max(1.0);
    assert!(
        spike.len() as f64 / spike_hours > 10.0 * usual_per_hour,
        "{} in {spike_hours}h vs {usual_per_hour}/h",
        spike.len()
    );

    let subtle = events_of(by_kind(ScenarioKind::SubtleNewAsnNewUa), &seen);
    assert!(
        subtle
            .iter()
            .all(|s| in_range(&s.ip, [45, 148, 8, 0], 22) && s.ua.contains("os/windows"))
    );

    // Benign drift.
    let sdk = events_of(by_kind(ScenarioKind::SdkUpgrade), &seen);
    assert!(sdk.iter().all(|s| s.ua.starts_with("aws-sdk-java/2.")));
    let travel = events_of(by_kind(ScenarioKind::TravelWithinCountry), &seen);
    assert!(travel.iter().all(|s| in_range(&s.ip, [24, 0, 0, 0], 12)));
    let adoption = events_of(by_kind(ScenarioKind::NewModelAdoption), &seen);
    assert!(
        adoption
            .iter()
            .filter_map(|s| s.model.as_deref())
            .all(|m| m == "anthropic.claude-3-5-haiku-20241022-v1:0")
    );
    let failover = events_of(by_kind(ScenarioKind::RegionFailover), &seen);
    assert!(
        failover
            .iter()
            .all(|s| s.region == "us-west-2" && in_range(&s.ip, [52, 0, 0, 0], 11))
    );
    let joiner = by_kind(ScenarioKind::NewJoiner);
    let first_seen = seen
        .values()
        .filter(|s| s.principal == joiner.principal)
        .map(|s| s.time_ms)
        .min()
        .unwrap();
    assert!(first_seen >= joiner.start_ms);
    assert!(joiner.principal.contains("AWSReservedSSO_"));
}

fn count_events(cfg: SimConfig) -> usize {
    Simulation::new(cfg).files().map(|f| f.events).sum()
}

#[test]
fn volume_knobs_scale_linearly() {
    let base = SimConfig {
        accounts: 2,
        principals: 40,
        days: 7,
        events_per_principal_day: 20.0,
        ..SimConfig::default()
    };
    let n = count_events(base.clone()) as f64;
    let expected = 40.0 * 7.0 * 20.0;
    assert!((n / expected - 1.0).abs() < 0.1, "{n} vs {expected}");
    let more_rate = count_events(SimConfig {
        events_per_principal_day: 40.0,
        ..base.clone()
    }) as f64;
    let more_people = count_events(SimConfig {
        principals: 80,
        ..base.clone()
    }) as f64;
    let more_days = count_events(SimConfig { days: 14, ..base }) as f64;
    for (what, m) in [
        ("rate", more_rate),
        ("principals", more_people),
        ("days", more_days),
    ] {
        assert!((m / n - 2.0).abs() < 0.2, "doubling {what}: {n} -> {m}");
    }
}

#[test]
fn bench_config_hits_its_targets() {
    let cfg = bench_config(20_000, 200);
    let n = count_events(cfg) as f64;
    assert!((n / 20_000.0 - 1.0).abs() < 0.1, "{n}");
}

#[test]
fn files_respect_the_size_cap() {
    let cfg = SimConfig {
        max_records_per_file: 7,
        days: 1,
        ..SimConfig::default()
    };
    let files: Vec<SimFile> = Simulation::new(cfg).files().collect();
    assert!(files.iter().all(|f| f.events <= 7 && f.events > 0));
    assert!(files.iter().any(|f| f.events == 7));
}

#[test]
fn demo_is_small_with_one_attack_near_the_end() {
    let cfg = sim::demo_config();
    let end = cfg.end_ms();
    let (files, labels) = run(cfg);
    let bytes: usize = files.iter().map(|f| f.json.len()).sum();
    assert!(bytes < 40_000_000, "{bytes}");
    assert_eq!(labels.len(), 1);
    let l = &labels[0];
    assert_eq!(l.scenario, ScenarioKind::LlmjackingStolenKey);
    assert!(l.start_ms > end - 4 * 86_400_000 && l.end_ms < end);
    let principals: BTreeSet<String> = index(&files).into_values().map(|s| s.principal).collect();
    assert!(
        (20..=30).contains(&principals.len()),
        "{}",
        principals.len()
    );
}

#[test]
fn scenarios_late_in_a_short_run_are_still_delivered() {
    let cfg = SimConfig {
        accounts: 1,
        principals: 40,
        days: 1,
        warmup_days: 0,
        scenarios: ScenarioKind::all().to_vec(),
        ..SimConfig::default()
    };
    let (files, labels) = run(cfg);
    let seen = index(&files);
    assert!(
        labels
            .iter()
            .filter(|l| l.scenario.is_attack())
            .all(|l| !l.event_ids.is_empty())
    );
    for l in &labels {
        assert!(
            l.event_ids.iter().all(|id| seen.contains_key(id)),
            "{}",
            l.scenario.as_str()
        );
    }
}

#[test]
fn degenerate_configs_do_not_panic() {
    for cfg in [
        SimConfig {
            principals: 0,
            scenarios: ScenarioKind::all().to_vec(),
            ..SimConfig::default()
        },
        SimConfig {
            accounts: 5,
            principals: 2,
            scenarios: ScenarioKind::all().to_vec(),
            ..SimConfig::default()
        },
        SimConfig {
            days: 0,
            ..SimConfig::default()
        },
        SimConfig {
            events_per_principal_day: 0.0,
            ..SimConfig::default()
        },
        SimConfig {
            events_per_principal_day: f64::NAN,
            ..SimConfig::default()
        },
    ] {
        let (files, labels) = run(cfg);
        let seen = index(&files);
        for l in &labels {
            assert!(l.event_ids.iter().all(|id| seen.contains_key(id)));
        }
    }
}
