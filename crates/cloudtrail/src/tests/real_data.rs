//! Every real public file decodes, with record counts computed independently.
//!
//! Every hard-coded number below was printed by
//! `python3 crates/cloudtrail/scripts/count_real.py`, which reads the files with
//! Python's own JSON parser and restates the documented rules (what makes a record
//! bad, which key is which credential class); none came from the Rust code.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use super::{read_real, real_data_dir};
use crate::identity::{
    BedrockSurface, CredentialClass, PrincipalKind, bedrock_surface, credential_class, principal,
};
use crate::log::{KeyKind, LogFile, classify_key, parse_log};

/// (file name, records) for the 55 invictus-ir files: all good.
const INVICTUS: [(&str, usize); 55] = [
    (
        "218007301253_CloudTrail_us-east-1_20230710T1145Z_7xgocspSowgK0Gto.json.gz",
        29,
    ),
    (
        "218007301253_CloudTrail_us-east-1_20230710T1145Z_s7dpHbl38neqZbm2.json.gz",
        51,
    ),
    (
        "218007301253_CloudTrail_us-east-1_20230710T1150Z_1vnLavRRp0ek1mP4.json.gz",
        2,
    ),
    (
        "218007301253_CloudTrail_us-east-1_20230710T1200Z_iLj9fb7yyUG9X4Bf.json.gz",
        394,
    ),
    (
        "218007301253_CloudTrail_us-east-1_20230710T1200Z_x9kHmzMa7cx6l9wM.json.gz",
        132,
    ),
    (
        "218007301253_CloudTrail_us-east-1_20230710T1205Z_1dM7GQM67kudSyGD.json.gz",
        13,
    ),
    (
        "218007301253_CloudTrail_us-east-1_20230710T1205Z_86g9Vok9HiUCgSI7.json.gz",
        19,
    ),
    (
        "218007301253_CloudTrail_us-east-1_20230710T1205Z_SjF3IkuNXJkoHyar.json.gz",
        26,
    ),
    (
        "218007301253_CloudTrail_us-east-1_20230710T1205Z_UljXNp9xLp8nsAGc.json.gz",
        55,
    ),
    (
        "218007301253_CloudTrail_us-east-1_20230710T1205Z_dOIWyEekdNWhkpqY.json.gz",
        26,
    ),
    (
        "218007301253_CloudTrail_us-east-1_20230710T1205Z_lKy08gyrqqRJyzsn.json.gz",
        1,
    ),
    (
        "218007301253_CloudTrail_us-east-1_20230710T1205Z_nx9Yx1FyJdBaTqKj.json.gz",
        10,
    ),
    (
        "218007301253_CloudTrail_us-east-1_20230710T1205Z_zs3JGxETHr59VpkX.json.gz",
        196,
    ),
    (
        "218007301253_CloudTrail_us-east-1_20230710T1210Z_2ru8PrDKZmsO3yWC.json.gz",
        3,
    ),
    (
        "218007301253_CloudTrail_us-east-1_20230710T1210Z_6CICdbJQM3beT7n3.json.gz",
        246,
    ),
    (
        "218007301253_CloudTrail_us-east-1_20230710T1210Z_QY5iPRtGUt0EpVaH.json.gz",
        69,
    ),
    (
        "218007301253_CloudTrail_us-east-1_20230710T1210Z_RBxlxVrF890sGHGg.json.gz",
        20,
    ),
    (
        "218007301253_CloudTrail_us-east-1_20230710T1210Z_ZgEBhdXGdLTXGoIe.json.gz",
        1,
    ),
    (
        "218007301253_CloudTrail_us-east-1_20230710T1210Z_bXGZYqBeCCsqWq1U.json.gz",
        6,
    ),
    (
        "218007301253_CloudTrail_us-east-1_20230710T1210Z_vj0QE0Tf5ZmzMsCo.json.gz",
        149,
    ),
    (
        "218007301253_CloudTrail_us-east-1_20230710T1215Z_5f9a6SYejzdNeREZ.json.gz",
        31,
    ),
    (
        "218007301253_CloudTrail_us-east-1_20230710T1215Z_MifI13MOmOjRfXzJ.json.gz",
        59,
    ),
    (
        "218007301253_CloudTrail_us-east-1_20230710T1215Z_P0WZuP2zvLW2RcUo.json.gz",
        33,
    ),
    (
        "218007301253_CloudTrail_us-east-1_20230710T1215Z_YMDRJwtmC82bUwAo.json.gz",
        156,
    ),
    (
        "218007301253_CloudTrail_us-east-1_20230710T1215Z_YxpR6PTmNBivhnJJ.json.gz",
        26,
    ),
    (
        "218007301253_CloudTrail_us-east-1_20230710T1215Z_Z8x5aqgtcXn5NEG9.json.gz",
        117,
    ),
    (
        "218007301253_CloudTrail_us-east-1_20230710T1215Z_dTTFsx4I2m3om5Oy.json.gz",
        1,
    ),
    (
        "218007301253_CloudTrail_us-east-1_20230710T1215Z_nBsuPO1qSTEVerMD.json.gz",
        222,
    ),
    (
        "218007301253_CloudTrail_us-east-1_20230710T1220Z_8sBQhbu5YO94UV8p.json.gz",
        6,
    ),
    (
        "218007301253_CloudTrail_us-east-1_20230710T1220Z_AkYyuTYmKtOUB1Lx.json.gz",
        12,
    ),
    (
        "218007301253_CloudTrail_us-east-1_20230710T1220Z_WMiHxZgr5Hdd6UDc.json.gz",
        13,
    ),
    (
        "218007301253_CloudTrail_us-east-1_20230710T1220Z_ovtmbuX3ENJ119uH.json.gz",
        56,
    ),
    (
        "218007301253_CloudTrail_us-east-1_20230710T1220Z_r7NFD65BgeDMqD23.json.gz",
        71,
    ),
    (
        "218007301253_CloudTrail_us-east-1_20230710T1220Z_sM25jC0Ku0QcGkDa.json.gz",
        10,
    ),
    (
        "218007301253_CloudTrail_us-east-1_20230710T1225Z_4iD2boYSOwmb6sWd.json.gz",
        12,
    ),
    (
        "218007301253_CloudTrail_us-east-1_20230710T1225Z_QqgbBkK0L13H8Wbv.json.gz",
        3,
    ),
    (
        "218007301253_CloudTrail_us-east-1_20230710T1225Z_RL8g7SsRoNFvvVBW.json.gz",
        5,
    ),
    (
        "218007301253_CloudTrail_us-east-1_20230710T1225Z_qWyTCPHzELqDMshA.json.gz",
        4,
    ),
    (
        "218007301253_CloudTrail_us-east-1_20230710T1225Z_vMAR90Iiaqr6M5sR.json.gz",
        16,
    ),
    (
        "218007301253_CloudTrail_us-east-1_20230710T1230Z_04rtp9DpvIpSZzMr.json.gz",
        17,
    ),
    (
        "218007301253_CloudTrail_us-east-1_20230710T1230Z_9JM8uKEITHqwJKXr.json.gz",
        22,
    ),
    (
        "218007301253_CloudTrail_us-east-1_20230710T1230Z_9SJSsrxJ0ChF5VFb.json.gz",
        84,
    ),
    (
        "218007301253_CloudTrail_us-east-1_20230710T1230Z_9dKPuRzdLzqZRjqm.json.gz",
        2,
    ),
    (
        "218007301253_CloudTrail_us-east-1_20230710T1230Z_AvIajGd5rkz6vTy4.json.gz",
        63,
    ),
    (
        "218007301253_CloudTrail_us-east-1_20230710T1230Z_GyyPwrInk2rgv8V0.json.gz",
        2,
    ),
    (
        "218007301253_CloudTrail_us-east-1_20230710T1230Z_KV9LZlfXqBel7nqf.json.gz",
        47,
    ),
    (
        "218007301253_CloudTrail_us-east-1_20230710T1230Z_OU6Ha25B4GGhUIMr.json.gz",
        5,
    ),
    (
        "218007301253_CloudTrail_us-east-1_20230710T1230Z_ZtUNbBkwAu98FPZb.json.gz",
        68,
    ),
    (
        "218007301253_CloudTrail_us-east-1_20230710T1230Z_lHgkh3VeI3XnjZSL.json.gz",
        92,
    ),
    (
        "218007301253_CloudTrail_us-east-1_20230710T1230Z_s2m4APJ8BhmXSIE6.json.gz",
        2,
    ),
    (
        "218007301253_CloudTrail_us-east-1_20230710T1230Z_soULWstxp7lqsODg.json.gz",
        3,
    ),
    (
        "218007301253_CloudTrail_us-east-1_20230710T1235Z_Vp7r3boWJKtPb3wM.json.gz",
        1,
    ),
    (
        "218007301253_CloudTrail_us-east-1_20230710T1235Z_YbVFCP9AYzJDhHV9.json.gz",
        185,
    ),
    (
        "218007301253_CloudTrail_us-east-1_20230710T1235Z_kboLbHJlz2H6cLyo.json.gz",
        4,
    ),
    (
        "218007301253_CloudTrail_us-east-1_20230710T1240Z_C1qUFaqvZS64BcIN.json.gz",
        2,
    ),
];

/// (file name, records) for the 35 Stratus Red Team files: all good.
const STRATUS: [(&str, usize); 35] = [
    (
        "aws.credential-access.ec2-get-password-data.records.json.gz",
        34,
    ),
    (
        "aws.credential-access.ec2-steal-instance-credentials.records.json.gz",
        45,
    ),
    (
        "aws.credential-access.secretsmanager-batch-retrieve-secrets.records.json.gz",
        5,
    ),
    (
        "aws.credential-access.secretsmanager-retrieve-secrets.records.json.gz",
        21,
    ),
    (
        "aws.credential-access.ssm-retrieve-securestring-parameters.records.json.gz",
        10,
    ),
    ("aws.defense-evasion.cloudtrail-delete.records.json.gz", 1),
    (
        "aws.defense-evasion.cloudtrail-event-selectors.records.json.gz",
        1,
    ),
    ("aws.defense-evasion.cloudtrail-stop.records.json.gz", 1),
    ("aws.defense-evasion.dns-delete-logs.records.json.gz", 1),
    ("aws.defense-evasion.organizations-leave.records.json.gz", 3),
    (
        "aws.defense-evasion.vpc-remove-flow-logs.records.json.gz",
        1,
    ),
    ("aws.discovery.ec2-download-user-data.records.json.gz", 19),
    (
        "aws.execution.ec2-launch-unusual-instances.records.json.gz",
        3,
    ),
    ("aws.execution.ec2-user-data.records.json.gz", 35),
    ("aws.execution.ssm-send-command.records.json.gz", 56),
    ("aws.execution.ssm-start-session.records.json.gz", 29),
    (
        "aws.exfiltration.ec2-security-group-open-port-22-ingress.records.json.gz",
        1,
    ),
    ("aws.exfiltration.ec2-share-ami.records.json.gz", 1),
    ("aws.exfiltration.ec2-share-ebs-snapshot.records.json.gz", 1),
    ("aws.exfiltration.rds-share-snapshot.records.json.gz", 1),
    ("aws.impact.bedrock-invoke-model.records.json.gz", 15),
    (
        "aws.initial-access.console-login-without-mfa.records.json.gz",
        1,
    ),
    (
        "aws.lateral-movement.ec2-instance-connect.records.json.gz",
        3,
    ),
    (
        "aws.lateral-movement.ec2-serial-console-send-ssh-public-key.records.json.gz",
        4,
    ),
    ("aws.persistence.iam-backdoor-role.records.json.gz", 1),
    ("aws.persistence.iam-backdoor-user.records.json.gz", 1),
    ("aws.persistence.iam-create-admin-user.records.json.gz", 3),
    (
        "aws.persistence.iam-create-backdoor-role.records.json.gz",
        2,
    ),
    (
        "aws.persistence.iam-create-user-login-profile.records.json.gz",
        3,
    ),
    (
        "aws.persistence.lambda-backdoor-function.records.json.gz",
        1,
    ),
    ("aws.persistence.lambda-layer-extension.records.json.gz", 1),
    ("aws.persistence.lambda-overwrite-code.records.json.gz", 1),
    (
        "aws.persistence.rolesanywhere-create-trust-anchor.records.json.gz",
        2,
    ),
    ("aws.persistence.sts-federation-token.records.json.gz", 2),
    (
        "aws.privilege-escalation.iam-update-user-login-profile.records.json.gz",
        1,
    ),
];

const PANTHER: &str = "panther-analysis_cloudtrail-rule-fixtures/panther_cloudtrail_tests.jsonl.gz";
const OTRF: &str = "otrf_security-datasets_aws/ec2_proxy_s3_exfiltration.records.json.gz";

/// Every real file, decompressed once, with its path relative to the data folder.
fn all_files() -> &'static [(String, Vec<u8>)] {
    static FILES: OnceLock<Vec<(String, Vec<u8>)>> = OnceLock::new();
    FILES.get_or_init(read_all_files)
}

fn read_all_files() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for (name, _) in INVICTUS {
        let rel = format!("invictus-ir_aws_dataset/{name}");
        out.push((rel.clone(), read_real(&rel)));
    }
    for (name, _) in STRATUS {
        let rel = format!("stratus-red-team_detonation-logs/{name}");
        out.push((rel.clone(), read_real(&rel)));
    }
    out.push((OTRF.to_owned(), read_real(OTRF)));
    out.push((PANTHER.to_owned(), read_real(PANTHER)));
    out
}

fn parse<'b>(rel: &str, buf: &'b [u8]) -> LogFile<'b> {
    parse_log(buf).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[test]
fn the_tables_list_every_real_file() {
    let mut on_disk = Vec::new();
    for dir in std::fs::read_dir(real_data_dir()).unwrap() {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&dir).unwrap() {
            let name = f.unwrap().file_name().into_string().unwrap();
            if name.ends_with(".gz") {
                on_disk.push(name);
            }
        }
    }
    on_disk.sort();
    let mut listed: Vec<String> = INVICTUS
        .iter()
        .chain(STRATUS.iter())
        .map(|(n, _)| (*n).to_owned())
        .chain([PANTHER, OTRF].map(|p| p.rsplit('/').next().unwrap().to_owned()))
        .collect();
    listed.sort();
    assert_eq!(on_disk, listed);
}

#[test]
fn invictus_files_decode_with_expected_counts() {
    for (name, expected) in INVICTUS {
        let rel = format!("invictus-ir_aws_dataset/{name}");
        let buf = read_real(&rel);
        let file = parse(&rel, &buf);
        assert_eq!(
            (file.records.len(), file.errors.len()),
            (expected, 0),
            "{rel}"
        );
        // The bare CloudTrail file names classify as logs, with the account in them.
        match classify_key(name) {
            KeyKind::Log(k) => {
                assert_eq!(k.account_id, "218007301253");
                assert_eq!(k.region, "us-east-1");
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    assert_eq!(INVICTUS.iter().map(|(_, n)| n).sum::<usize>(), 2900);
}

#[test]
fn stratus_files_decode_with_expected_counts() {
    for (name, expected) in STRATUS {
        let rel = format!("stratus-red-team_detonation-logs/{name}");
        let buf = read_real(&rel);
        let file = parse(&rel, &buf);
        assert_eq!(
            (file.records.len(), file.errors.len()),
            (expected, 0),
            "{rel}"
        );
        assert_eq!(classify_key(name), KeyKind::Other);
    }
    assert_eq!(STRATUS.iter().map(|(_, n)| n).sum::<usize>(), 310);
}

#[test]
fn otrf_file_decodes() {
    let buf = read_real(OTRF);
    let file = parse(OTRF, &buf);
    assert_eq!((file.records.len(), file.errors.len()), (103, 0));
}

#[test]
fn panther_json_lines_decode_and_count_bad_records_by_reason() {
    let buf = read_real(PANTHER);
    let file = parse(PANTHER, &buf);
    assert_eq!(file.records.len(), 444);
    assert_eq!(
        file.error_counts(),
        [
            ("bad_event_time", 2),
            ("missing_event_source", 5),
            ("missing_event_time", 13),
        ]
    );
    // Indices are positions among the 464 lines.
    assert!(file.errors.iter().all(|e| e.index < 464));
    let mut indices: Vec<usize> = file.errors.iter().map(|e| e.index).collect();
    indices.dedup();
    assert_eq!(indices.len(), 20);
}

/// Quirk counts over the 3,757 good records of all files (script: the lines after
/// `good`).
#[test]
fn quirks_survive_and_are_kept_as_written() {
    let files = all_files();
    let mut good = 0;
    let mut no_identity = 0;
    let mut bracketed_ua = 0;
    let mut aws_internal_ip = 0;
    let mut params = BTreeMap::<&str, usize>::new();
    let mut versions = BTreeMap::<String, usize>::new();
    let mut space_times = 0;
    for (rel, buf) in files {
        let file = parse(rel, buf);
        for r in &file.records {
            good += 1;
            // eventTime parses for every record that came out.
            assert!(r.event_time_ms().is_some(), "{rel}: {}", r.event_time);
            if r.event_time.contains(' ') {
                space_times += 1;
            }
            no_identity += usize::from(r.user_identity.is_none());
            bracketed_ua +=
                usize::from(r.user_agent.as_deref().is_some_and(|u| u.starts_with('[')));
            aws_internal_ip += usize::from(r.source_ip_address.as_deref() == Some("AWS Internal"));
            let p = match r.request_parameters.map(|p| p.get()) {
                None => "absent_or_null",
                Some("{}") => "empty",
                Some(_) => "object_or_other",
            };
            *params.entry(p).or_default() += 1;
            if let Some(v) = &r.event_version {
                *versions.entry(v.to_string()).or_default() += 1;
            }
        }
    }
    assert_eq!(good, 3757);
    assert_eq!(no_identity, 4);
    assert_eq!(bracketed_ua, 277);
    assert_eq!(aws_internal_ip, 193);
    assert_eq!(space_times, 124);
    // 384 null + 47 absent; 8 are `{}`.
    assert_eq!(params["absent_or_null"], 431);
    assert_eq!(params["empty"], 8);
    assert_eq!(
        versions.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "1.03", "1.04", "1.05", "1.06", "1.07", "1.08", "1.09", "1.10", "1.11"
        ]
    );
    assert_eq!(versions.values().sum::<usize>(), 3757 - 30);
}

/// Principal kinds follow `userIdentity.type` (script: `userIdentity.type`,
/// `typeless identities`, `Identity Center sessions`); credential classes follow
/// the key (script: `credential classes`).
#[test]
fn identities_and_credentials_over_real_data() {
    let files = all_files();
    let mut kinds = BTreeMap::<PrincipalKind, usize>::new();
    let mut classes = BTreeMap::<CredentialClass, usize>::new();
    for (rel, buf) in files {
        for r in &parse(rel, buf).records {
            let p = principal(r);
            assert!(!p.key.is_empty());
            *kinds.entry(p.kind).or_default() += 1;
            *classes.entry(credential_class(r)).or_default() += 1;
        }
    }
    assert_eq!(kinds[&PrincipalKind::IamUser], 3194);
    assert_eq!(
        kinds[&PrincipalKind::AssumedRole] + kinds[&PrincipalKind::IdentityCenter],
        456
    );
    assert_eq!(kinds[&PrincipalKind::IdentityCenter], 53);
    assert_eq!(kinds[&PrincipalKind::Root], 12);
    assert_eq!(kinds[&PrincipalKind::AwsAccount], 5);
    assert_eq!(kinds[&PrincipalKind::FederatedUser], 3);
    // 41 typed AWSService + 42 type-less identities with only invokedBy + 2 service
    // events without any identity.
    assert_eq!(kinds[&PrincipalKind::AwsService], 85);
    assert_eq!(kinds[&PrincipalKind::Unknown], 2);
    assert_eq!(classes[&CredentialClass::LongTermKey], 2497);
    assert_eq!(classes[&CredentialClass::Console], 481);
    assert_eq!(classes[&CredentialClass::Session], 603);
    assert_eq!(classes.get(&CredentialClass::BedrockApiKey), None);
    assert_eq!(classes[&CredentialClass::None], 176);
}

#[test]
fn stratus_bedrock_detonation() {
    let rel = "stratus-red-team_detonation-logs/aws.impact.bedrock-invoke-model.records.json.gz";
    let buf = read_real(rel);
    let file = parse(rel, &buf);
    let mut runtime = 0;
    for r in &file.records {
        let surface = bedrock_surface(r);
        if &*r.event_name == "InvokeModel" {
            runtime += 1;
            assert_eq!(surface, Some(BedrockSurface::Runtime));
        } else {
            assert_eq!(surface, Some(BedrockSurface::Control), "{}", r.event_name);
        }
        let p = principal(r);
        assert_eq!(p.key, "arn:aws:iam::494659789341:role/test-role");
        assert_eq!(p.kind, PrincipalKind::AssumedRole);
        assert_eq!(p.session_name.as_deref(), Some("cli"));
        assert_eq!(credential_class(r), CredentialClass::Session);
        if &*r.event_name == "PutUseCaseForModelAccess" {
            assert_eq!(r.model_id(), None);
        } else {
            assert_eq!(
                r.model_id().as_deref(),
                Some("anthropic.claude-3-sonnet-20240229-v1:0"),
                "{}",
                r.event_name
            );
        }
    }
    assert_eq!(runtime, 1);
}

/// Anonymisation quirks: an Identity Center ARN with no session part (the session
/// comes from the principal id, the role from `sessionIssuer`), and invalid dotted
/// quads kept verbatim as source addresses (both counted with `grep -o` over the
/// gunzipped files: 4 records and 15 records).
#[test]
fn anonymised_identities_and_addresses() {
    let mut sso = 0;
    let mut bad_quad = 0;
    for (rel, buf) in all_files() {
        for r in &parse(rel, buf).records {
            let arn = r.user_identity.as_ref().and_then(|u| u.arn.as_deref());
            if arn
                == Some(
                    "arn:aws:sts::844015365555:assumed-role/AWSReservedSSOrandoml3I7nL6f7BmB@gmail.com",
                )
            {
                sso += 1;
                let p = principal(r);
                assert_eq!(p.kind, PrincipalKind::IdentityCenter);
                assert_eq!(
                    p.key,
                    "arn:aws:iam::844015365555:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_account-admin_599c9e90e350d2ff/randomca0L529zwNAY@gmail.com"
                );
                assert_eq!(
                    p.session_name.as_deref(),
                    Some("randomca0L529zwNAY@gmail.com")
                );
            }
            if r.source_ip_address.as_deref() == Some("035.249.253.232") {
                bad_quad += 1;
            }
        }
    }
    assert_eq!((sso, bad_quad), (4, 15));
}
