//! Property tests: no input panics `parse_log`, `decompress`, `decode_notification`
//! or `classify_key`, arbitrary or mutated from real inputs; and bad records are
//! isolated exactly.

use std::io::Write;
use std::sync::OnceLock;

use proptest::prelude::*;

use super::{read_real, workspace_dir};
use crate::log::{BadRecordReason, classify_key, decompress, parse_log};
use crate::notification::decode_notification;

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// A small real Records file (51 events), the Stratus Bedrock file and the Panther
/// JSON-lines file, decompressed once.
fn real_samples() -> &'static [Vec<u8>] {
    static SAMPLES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    SAMPLES.get_or_init(|| vec![
        read_real(
            "invictus-ir_aws_dataset/218007301253_CloudTrail_us-east-1_20230710T1145Z_s7dpHbl38neqZbm2.json.gz",
        ),
        read_real("stratus-red-team_detonation-logs/aws.impact.bedrock-invoke-model.records.json.gz"),
        read_real("panther-analysis_cloudtrail-rule-fixtures/panther_cloudtrail_tests.jsonl.gz"),
    ])
}

/// The same samples, gzipped once.
fn real_samples_gz() -> &'static [Vec<u8>] {
    static SAMPLES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    SAMPLES.get_or_init(|| real_samples().iter().map(|s| gzip(s)).collect())
}

fn notification_samples() -> &'static [String] {
    static SAMPLES: OnceLock<Vec<String>> = OnceLock::new();
    SAMPLES.get_or_init(|| {
        let dir = workspace_dir().join("tests/fixtures/notifications");
        let mut out: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
            .collect();
        out.sort();
        out
    })
}

/// One edit to a byte buffer.
#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, byte: u8 },
    Truncate { at: usize },
    Insert { at: usize, bytes: Vec<u8> },
    Delete { at: usize, len: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let special = prop::sample::select(vec![
        b'"', b'{', b'}', b'[', b']', b',', b':', b'\\', b'\n', 0u8, 0xff, b'0', b'n',
    ]);
    prop_oneof![
        (any::<usize>(), prop_oneof![any::<u8>(), special.clone()])
            .prop_map(|(at, byte)| Mutation::Flip { at, byte }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        (any::<usize>(), prop::collection::vec(special, 1..8))
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        (any::<usize>(), 1usize..64).prop_map(|(at, len)| Mutation::Delete { at, len }),
    ]
}

fn apply(buf: &mut Vec<u8>, muts: &[Mutation]) {
    for m in muts {
        let n = buf.len().max(1);
        match m {
            Mutation::Flip { at, byte } => {
                if let Some(b) = buf.get_mut(at % n) {
                    *b = *byte;
                }
            }
            Mutation::Truncate { at } => buf.truncate(at % n),
            Mutation::Insert { at, bytes } => {
                let at = (at % n).min(buf.len());
                buf.splice(at..at, bytes.iter().copied());
            }
            Mutation::Delete { at, len } => {
                let at = (at % n).min(buf.len());
                let end = (at + len).min(buf.len());
                buf.drain(at..end);
            }
        }
    }
}

/// What a generated record looks like.
#[derive(Debug, Clone)]
enum Gen {
    Good {
        name: String,
        source: String,
        ip: String,
    },
    NotAnObject(i64),
    NoName,
    NoSource,
    NoTime,
    BadTime(String),
    BadType,
}

fn gen_record() -> impl Strategy<Value = Gen> {
    let text = "[a-zA-Z0-9 ._:/\\[\\]\"\\\\é-]{1,24}";
    prop_oneof![
        6 => (text, text, text).prop_map(|(name, source, ip)| Gen::Good { name, source, ip }),
        1 => any::<i64>().prop_map(Gen::NotAnObject),
        1 => Just(Gen::NoName),
        1 => Just(Gen::NoSource),
        1 => Just(Gen::NoTime),
        1 => "[a-z ]{0,12}".prop_map(Gen::BadTime),
        1 => Just(Gen::BadType),
    ]
}

fn render(g: &Gen) -> (String, Option<BadRecordReason>) {
    let t = r#""eventTime":"2024-05-01T10:00:00Z""#;
    match g {
        Gen::Good { name, source, ip } => (
            serde_json::json!({
                "eventTime": "2024-05-01 10:00:00.123456789",
                "eventName": name,
                "eventSource": source,
                "sourceIPAddress": ip,
                "requestParameters": null,
            })
            .to_string(),
            None,
        ),
        Gen::NotAnObject(n) => (n.to_string(), Some(BadRecordReason::NotAnObject)),
        Gen::NoName => (
            format!(r#"{{{t},"eventSource":"s","eventName":null}}"#),
            Some(BadRecordReason::MissingField("eventName")),
        ),
        Gen::NoSource => (
            format!(r#"{{{t},"eventName":"n"}}"#),
            Some(BadRecordReason::MissingField("eventSource")),
        ),
        Gen::NoTime => (
            r#"{"eventName":"n","eventSource":"s","eventTime":""}"#.to_owned(),
            Some(BadRecordReason::MissingField("eventTime")),
        ),
        Gen::BadTime(s) => (
            serde_json::json!({"eventName":"n","eventSource":"s","eventTime": format!("x{s}")})
                .to_string(),
            Some(BadRecordReason::BadEventTime),
        ),
        Gen::BadType => (
            format!(r#"{{{t},"eventName":"n","eventSource":"s","userIdentity":"root"}}"#),
            Some(BadRecordReason::BadFieldType),
        ),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_log(&bytes);
        let _ = decompress(&bytes, 1 << 16);
        let mut gz = vec![0x1f, 0x8b];
        gz.extend_from_slice(&bytes);
        let _ = decompress(&gz, 1 << 16);
    }

    #[test]
    fn arbitrary_strings_never_panic(s in "\\PC{0,200}") {
        let _ = decode_notification(&s);
        let _ = classify_key(&s);
        let _ = parse_log(s.as_bytes());
    }

    #[test]
    fn key_like_strings_never_panic(s in "(AWSLogs/)?(o-[a-z0-9]{0,12}/)?[0-9]{0,13}(/CloudTrail(-Digest|-Insight)?)?(/[a-z0-9-]{0,12})?(/[0-9]{0,4}){0,3}/[0-9]{0,13}_CloudTrail(-Digest)?_[a-z0-9-]{0,12}_[0-9T]{0,14}Z?_[A-Za-z0-9]{0,16}(\\.json)?(\\.gz)?") {
        let _ = classify_key(&s);
    }

    #[test]
    fn mutated_notifications_never_panic(which in 0usize..15, muts in prop::collection::vec(mutation(), 1..4)) {
        let samples = notification_samples();
        let mut buf = samples[which % samples.len()].clone().into_bytes();
        apply(&mut buf, &muts);
        let s = String::from_utf8_lossy(&buf);
        let _ = decode_notification(&s);
    }

    /// Generated logs with bad records mixed in: exactly the good ones come out, in
    /// order, and each bad one is reported at its index with its reason, whichever
    /// layout carries them.
    #[test]
    fn bad_records_are_isolated_exactly(gens in prop::collection::vec(gen_record(), 0..40), layout in 0u8..3) {
        let rendered: Vec<(String, Option<BadRecordReason>)> = gens.iter().map(render).collect();
        let bodies: Vec<&str> = rendered.iter().map(|(b, _)| b.as_str()).collect();
        let buf = match layout {
            0 => format!(r#"{{"Records":[{}]}}"#, bodies.join(",")),
            1 => format!("[{}]", bodies.join(",\n")),
            _ => bodies.join("\n"),
        };
        let parsed = parse_log(buf.as_bytes());
        let want_good: Vec<&str> = gens.iter().filter_map(|g| match g {
            Gen::Good { name, .. } => Some(name.as_str()),
            _ => None,
        }).collect();
        let file = match parsed {
            Ok(file) => file,
            Err(_) => {
                // Only JSON lines without any event object may be rejected as a
                // whole: nothing, only non-objects, or one lone non-event line.
                let lone_or_no_object = gens.len() <= 1
                    || gens.iter().all(|g| matches!(g, Gen::NotAnObject(_)));
                prop_assert!(layout == 2 && want_good.is_empty() && lone_or_no_object);
                return Ok(());
            }
        };
        let got_good: Vec<&str> = file.records.iter().map(|r| &*r.event_name).collect();
        prop_assert_eq!(got_good, want_good);
        let want_bad: Vec<(usize, BadRecordReason)> = rendered
            .iter()
            .enumerate()
            .filter_map(|(i, (_, r))| r.map(|r| (i, r)))
            .collect();
        let got_bad: Vec<(usize, BadRecordReason)> =
            file.errors.iter().map(|e| (e.index, e.reason)).collect();
        prop_assert_eq!(got_bad, want_bad);
    }

    /// A log cut anywhere keeps every record that ended before the cut.
    #[test]
    fn truncation_keeps_complete_records(cut in 0.0f64..1.0) {
        let buf = &real_samples()[0];
        // Element end offsets, from an independent raw parse.
        #[derive(serde::Deserialize)]
        struct Raw<'a> {
            #[serde(borrow, rename = "Records")]
            records: Vec<&'a serde_json::value::RawValue>,
        }
        let raw: Raw<'_> = serde_json::from_slice(buf).unwrap();
        let base = buf.as_ptr() as usize;
        let ends: Vec<usize> = raw
            .records
            .iter()
            .map(|r| r.get().as_ptr() as usize - base + r.get().len())
            .collect();
        let at = ((buf.len() as f64) * cut) as usize;
        let complete = ends.iter().filter(|&&e| e <= at).count();
        match parse_log(&buf[..at]) {
            Ok(file) => {
                prop_assert_eq!(file.records.len(), complete);
                prop_assert!(file.errors.len() <= 1);
            }
            // Cut before the first byte of the array: not a log.
            Err(_) => prop_assert_eq!(complete, 0),
        }
    }
}

proptest! {
    // Each case parses up to 680 kB in a debug build: fewer cases, same coverage
    // of mutation kinds.
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn mutated_real_logs_never_panic(which in 0usize..3, muts in prop::collection::vec(mutation(), 1..6)) {
        let samples = real_samples();
        let mut buf = samples[which].clone();
        apply(&mut buf, &muts);
        if let Ok(file) = parse_log(&buf) {
            for r in &file.records {
                // What comes out is valid by the documented rules.
                prop_assert!(!r.event_name.is_empty() && !r.event_source.is_empty());
                prop_assert!(r.event_time_ms().is_some());
                let _ = crate::identity::principal(r);
                let _ = crate::identity::credential_class(r);
                let _ = crate::identity::bedrock_surface(r);
                let _ = r.model_id();
            }
        }
        let mut gz = real_samples_gz()[which].clone();
        apply(&mut gz, &muts);
        let _ = decompress(&gz, 8 << 20);
    }
}

/// What `decompress` did before its libdeflate fast path: flate2's multi-member
/// reader for every gzip input, bounded.
fn reference_gunzip(bytes: &[u8], max: usize) -> Result<Vec<u8>, &'static str> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .take(max as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|_| "gzip")?;
    if out.len() > max {
        return Err("too large");
    }
    Ok(out)
}

/// How a generated gzip input ends.
#[derive(Debug, Clone)]
enum GzTail {
    Whole,
    Cut(usize),
    Garbage(Vec<u8>),
    /// Garbage, then a copy of the last member's trailer.
    ForgedTrailer(Vec<u8>),
    Flip(usize, u8),
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// The fast single-member path changes nothing: one or more members, cut short,
    /// followed by garbage or a forged trailer, corrupted, or over the bound, every
    /// input decompresses to what flate2 alone makes of it (or fails alike).
    #[test]
    fn decompress_matches_the_general_reader(
        members in prop::collection::vec((any::<u64>(), 0usize..3000, 0u32..10), 1..4),
        tail in prop_oneof![
            4 => Just(GzTail::Whole),
            1 => any::<usize>().prop_map(GzTail::Cut),
            1 => prop::collection::vec(any::<u8>(), 1..12).prop_map(GzTail::Garbage),
            1 => prop::collection::vec(any::<u8>(), 0..12).prop_map(GzTail::ForgedTrailer),
            1 => (any::<usize>(), 1u8..=255).prop_map(|(at, x)| GzTail::Flip(at, x)),
        ],
        slack in prop_oneof![Just(0usize), Just(1 << 20)],
        under in any::<bool>(),
    ) {
        let mut gz = Vec::new();
        let mut plain = 0;
        for &(seed, len, level) in &members {
            // Compressible bytes: runs of a few symbols, with noise.
            let mut x = seed | 1;
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    if x % 4 == 0 { x as u8 } else { b"a{\"}"[(x >> 8) as usize % 4] }
                })
                .collect();
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
            enc.write_all(&data).unwrap();
            gz.extend(enc.finish().unwrap());
            plain += data.len();
        }
        match tail {
            GzTail::Whole => {}
            GzTail::Cut(at) => gz.truncate(at % gz.len()),
            GzTail::Garbage(g) => gz.extend(g),
            GzTail::ForgedTrailer(g) => {
                let trailer = gz[gz.len() - 8..].to_vec();
                gz.extend(g);
                gz.extend(trailer);
            }
            GzTail::Flip(at, x) => {
                let n = gz.len();
                gz[at % n] ^= x;
            }
        }
        let max = if under { plain.saturating_sub(1) } else { plain + slack };
        let got = match decompress(&gz, max) {
            Ok(out) => Ok(out.into_owned()),
            Err(crate::log::LogError::TooLarge { .. }) => Err("too large"),
            Err(crate::log::LogError::Gzip(_)) => Err("gzip"),
            Err(e) => panic!("{e}"),
        };
        let want = if gz.starts_with(&[0x1f, 0x8b]) {
            reference_gunzip(&gz, max)
        } else if gz.len() > max {
            Err("too large")
        } else {
            Ok(gz.clone())
        };
        prop_assert_eq!(got, want);
    }
}

/// Keys the hand-written reader knows (every spelling), a few it does not, and some
/// it must give up on.
const KEYS: &[&str] = &[
    "eventVersion",
    "eventTime",
    "eventSource",
    "eventName",
    "awsRegion",
    "sourceIPAddress",
    "userAgent",
    "errorCode",
    "errorMessage",
    "requestID",
    "eventID",
    "eventType",
    "apiVersion",
    "readOnly",
    "managementEvent",
    "recipientAccountId",
    "eventCategory",
    "sharedEventID",
    "vpcEndpointId",
    "vpcEndpointAccountId",
    "sessionCredentialFromConsole",
    "userIdentity",
    "tlsDetails",
    "requestParameters",
    "responseElements",
    "additionalEventData",
    "serviceEventDetails",
    "resources",
    "type",
    "principalId",
    "principalid",
    "arn",
    "ARN",
    "accountId",
    "accountid",
    "accessKeyId",
    "accesKeyId",
    "accesskeyid",
    "userName",
    "username",
    "invokedBy",
    "invokedby",
    "credentialId",
    "identityProvider",
    "sessionContext",
    "sessioncontext",
    "attributes",
    "sessionIssuer",
    "sessionissuer",
    "ec2RoleDelivery",
    "sourceIdentity",
    "webIdFederationData",
    "creationDate",
    "creationdate",
    "mfaAuthenticated",
    "mfaauthenticated",
    "tlsVersion",
    "cipherSuite",
    "clientProvidedHostHeader",
    "other",
    "Records",
    "event\\u004eame",
    "",
];

/// Scalar values of every kind the fields meet.
const SCALARS: &[&str] = &[
    r#""2023-07-10T11:45:02Z""#,
    r#""x""#,
    r#""""#,
    r#""TRUE""#,
    r#""false""#,
    r#""a\"b""#,
    r#""\u0041\n""#,
    r#""\ud83d\ude00""#,
    r#""é€""#,
    "null",
    "true",
    "false",
    "0",
    "-0",
    "12",
    "-7",
    "1.5",
    "1e3",
    "123456789012",
    "{}",
    "[]",
    r#"{"a":[1,{"b":null}]}"#,
    "[1,2]",
    r#"[{"ARN":"a","accountId":"1","type":"t"},{"arn":"b"}]"#,
    r#"[{"ARN":"a"},"s"]"#,
    r#"{"sessionContext":{"sessionIssuer":{"type":"Role","arn":"r"},"attributes":{"mfaAuthenticated":"true"}}}"#,
    r#""\u0000""#,
    "nul",
    "tru",
    r#""x"#,
    "{",
    r#"{"a":}"#,
    "[1,]",
];

/// Strings the reader takes itself, or hands to serde_json (escapes).
const STRINGS: &[&str] = &[
    r#""2023-07-10T11:45:02Z""#,
    r#""x""#,
    r#""""#,
    r#""TRUE""#,
    r#""false""#,
    r#""a\"b""#,
    r#""\u0041\n""#,
    r#""\ud83d\ude00""#,
    r#""é€ ü""#,
    "null",
    "true",
    "false",
];

/// A value for `key`: mostly of the kind the field expects, sometimes anything.
fn gen_value(key: &'static str, depth: u32) -> BoxedStrategy<String> {
    let any = prop::sample::select(SCALARS).prop_map(str::to_owned);
    let string = prop::sample::select(STRINGS).prop_map(str::to_owned);
    let nested = matches!(
        key,
        "userIdentity"
            | "sessionContext"
            | "sessioncontext"
            | "attributes"
            | "sessionIssuer"
            | "sessionissuer"
            | "tlsDetails"
            | "requestParameters"
            | "other"
    );
    if nested && depth > 0 {
        prop_oneof![4 => gen_object(depth - 1), 1 => any].boxed()
    } else if key == "resources" && depth > 0 {
        prop_oneof![
            4 => prop::collection::vec(gen_object(0), 0..3).prop_map(|v| format!("[{}]", v.join(","))),
            1 => any,
        ]
        .boxed()
    } else {
        prop_oneof![6 => string, 1 => any].boxed()
    }
}

fn gen_field(depth: u32) -> BoxedStrategy<String> {
    (
        prop::sample::select(KEYS),
        prop::sample::select(&["", " ", "\n\t"][..]),
    )
        .prop_flat_map(move |(k, ws)| {
            gen_value(k, depth).prop_map(move |v| format!("{ws}\"{k}\"{ws}:{ws}{v}"))
        })
        .boxed()
}

fn gen_object(depth: u32) -> BoxedStrategy<String> {
    prop::collection::vec(gen_field(depth), 0..8)
        .prop_map(|fields| format!("{{{}}}", fields.join(",")))
        .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// The hand-written reader of `{"Records":[...]}` either gives up or decodes
    /// exactly what serde decodes, field for field.
    #[test]
    fn hand_reader_agrees_with_serde(
        records in prop::collection::vec(gen_object(3), 0..6),
        required in prop::collection::vec(any::<bool>(), 6),
    ) {
        let records: Vec<String> = records
            .iter()
            .zip(&required)
            .map(|(r, &req)| {
                if req && r.len() > 2 {
                    // Mostly-valid events, so that validation passes too.
                    format!(
                        r#"{{"eventTime":"2023-07-10T11:45:02Z","eventSource":"s","eventName":"n",{}"#,
                        &r[1..]
                    )
                } else {
                    r.clone()
                }
            })
            .collect();
        let buf = format!("{{\"Records\":[{}]}} ", records.join(","));
        crate::log::fast_tests::same_as_serde(buf.as_bytes());
    }

    #[test]
    fn hand_reader_agrees_with_serde_on_mutated_real_logs(muts in prop::collection::vec(mutation(), 1..4)) {
        let mut buf = real_samples()[1].clone();
        apply(&mut buf, &muts);
        crate::log::fast_tests::same_as_serde(&buf);
    }
}
