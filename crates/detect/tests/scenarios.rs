//! Scenario tests: hand-made principals with weeks of history, then the calls an analyst
//! cares about (and the ones they don't), through the real engine.

// Helpers outside `#[test]` functions build fixtures; failing loudly there is the point.
#![allow(clippy::unwrap_used)]

use cloudtrail::{BedrockSurface, CredentialClass, PrincipalKind, time::parse_event_time};
use detect::{
    AccountState, Baseline, Call, Catalogue, Client, DetectConfig, Detector, Finding, Geo,
    NetClass, Observation, PrincipalState, S3Ref, Severity, Verdict,
};

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;
const ALICE: &str = "arn:aws:iam::111122223333:user/alice";
const BOB: &str = "arn:aws:iam::111122223333:user/bob";
const CLAUDE: &str = "anthropic.claude-3-5-sonnet-20240620-v1:0";
const TITAN: &str = "amazon.titan-text-express-v1";

fn t0() -> i64 {
    parse_event_time("2026-01-05T00:00:00Z").unwrap()
}

fn frankfurt() -> Geo {
    Geo {
        country: Some("DE".into()),
        subdivision: Some("HE".into()),
        city: Some("Frankfurt am Main".into()),
        latitude: Some(50.11),
        longitude: Some(8.68),
        accuracy_km: Some(20),
        asn: Some(3320),
        as_org: Some("Deutsche Telekom AG".into()),
    }
}

fn sao_paulo() -> Geo {
    Geo {
        country: Some("BR".into()),
        subdivision: Some("SP".into()),
        city: Some("São Paulo".into()),
        latitude: Some(-23.55),
        longitude: Some(-46.63),
        accuracy_km: Some(50),
        asn: Some(262287),
        as_org: Some("Latitude.sh".into()),
    }
}

fn boto3(major: &str) -> Client {
    Client {
        family: "boto3".into(),
        major: Some(major.into()),
        os: Some("linux".into()),
        generic: false,
    }
}

fn python_requests() -> Client {
    Client {
        family: "python-requests".into(),
        major: Some("2".into()),
        os: None,
        generic: true,
    }
}

struct Obs(Observation);

impl Obs {
    fn new(principal: &str, t: i64, name: &str) -> Self {
        let mut seq = 0u64;
        for b in name.bytes().chain(t.to_le_bytes()) {
            seq = seq.wrapping_mul(31).wrapping_add(u64::from(b));
        }
        Obs(Observation {
            event_id: format!("ev-{t}-{name}-{seq:x}").into(),
            event_time: t,
            account_id: "111122223333".into(),
            principal: principal.into(),
            principal_kind: PrincipalKind::IamUser,
            credential: CredentialClass::LongTermKey,
            access_key_id: Some("AKIAEXAMPLE".into()),
            event_source: "bedrock.amazonaws.com".into(),
            event_name: name.into(),
            region: "us-east-1".into(),
            error_code: None,
            bedrock: Some(BedrockSurface::Runtime),
            model_id: Some(CLAUDE.into()),
            source_ip: Some("198.51.100.7".into()),
            net_class: NetClass::Public,
            geo: frankfurt(),
            user_agent: Some("Boto3/1.34.1 md/Botocore#1.34.1 ua/2.0 os/linux".into()),
            client: boto3("1"),
            s3: Vec::new(),
        })
    }
    fn non_bedrock(principal: &str, t: i64, source: &str, name: &str) -> Self {
        let mut o = Self::new(principal, t, name);
        o.0.event_source = source.into();
        o.0.bedrock = None;
        o.0.model_id = None;
        o
    }
    fn control(mut self) -> Self {
        self.0.bedrock = Some(BedrockSurface::Control);
        self.0.model_id = None;
        self
    }
    fn model(mut self, m: &str) -> Self {
        self.0.model_id = Some(m.into());
        self
    }
    fn region(mut self, r: &str) -> Self {
        self.0.region = r.into();
        self
    }
    fn from(mut self, geo: Geo, ip: &str) -> Self {
        self.0.geo = geo;
        self.0.source_ip = Some(ip.into());
        self
    }
    fn client(mut self, c: Client, ua: &str) -> Self {
        self.0.client = c;
        self.0.user_agent = Some(ua.into());
        self
    }
    fn error(mut self, code: &str) -> Self {
        self.0.error_code = Some(code.into());
        self
    }
}

/// A deterministic pseudo-random sequence (no rand dependency, same every run).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

struct World {
    det: Detector,
    alice: PrincipalState,
    bob: PrincipalState,
    account: AccountState,
    findings: Vec<Finding>,
}

impl World {
    fn new(cfg: DetectConfig) -> Self {
        World {
            det: Detector::new(cfg, Catalogue::builtin())
                .unwrap()
                .explaining_every_call(),
            alice: PrincipalState::default(),
            bob: PrincipalState::default(),
            account: AccountState::default(),
            findings: Vec::new(),
        }
    }

    fn run(&mut self, o: Obs) -> Verdict {
        let st = if o.0.principal == BOB {
            &mut self.bob
        } else {
            &mut self.alice
        };
        let v = self.det.process(&Call::new(o.0), st, &mut self.account);
        self.findings.extend(v.findings.iter().cloned());
        v
    }

    /// Three weeks of steady office-hours use by alice (and bob, in the same account):
    /// boto3 from Frankfurt, two models, two regions, some non-Bedrock calls.
    fn history(&mut self, days: i64) {
        let mut rng = Lcg(7);
        for d in 0..days {
            for h in 8..18 {
                for who in [ALICE, BOB] {
                    let calls = 3 + rng.next(10) as i64;
                    for i in 0..calls {
                        let t = t0()
                            + d * DAY
                            + h * HOUR
                            + i * (HOUR / (calls + 1))
                            + rng.next(1000) as i64;
                        let mut o = Obs::new(
                            who,
                            t,
                            if rng.next(4) == 0 {
                                "Converse"
                            } else {
                                "InvokeModel"
                            },
                        );
                        if rng.next(5) == 0 {
                            o = o.model(TITAN);
                        }
                        if rng.next(6) == 0 {
                            o = o.region("eu-central-1");
                        }
                        let v = self.run(o);
                        assert!(
                            v.findings.is_empty(),
                            "history must be quiet: {:#?}",
                            v.findings
                        );
                    }
                    let t = t0() + d * DAY + h * HOUR + 59 * 60_000;
                    self.run(Obs::non_bedrock(who, t, "s3.amazonaws.com", "ListBuckets"));
                    if h == 10 {
                        // The account's own buckets show up in its S3 management calls.
                        let bucket = if d % 2 == 0 {
                            "acme-data"
                        } else {
                            "acme-models"
                        };
                        let mut o = Obs::non_bedrock(
                            who,
                            t + 30_000,
                            "s3.amazonaws.com",
                            "GetBucketLocation",
                        );
                        o.0.s3 = vec![s3ref("bucketName", bucket, None)];
                        self.run(o);
                    }
                }
            }
        }
    }

    /// A world with three weeks of quiet history, built once and cloned.
    fn with_history(cfg: DetectConfig) -> Self {
        static HISTORY: std::sync::OnceLock<(PrincipalState, PrincipalState, AccountState)> =
            std::sync::OnceLock::new();
        let (alice, bob, account) = HISTORY.get_or_init(|| {
            let mut w = World::new(DetectConfig::default());
            w.history(21);
            assert!(w.findings.is_empty());
            (w.alice, w.bob, w.account)
        });
        let mut w = World::new(cfg);
        w.alice = alice.clone();
        w.bob = bob.clone();
        w.account = account.clone();
        w
    }

    fn end(&self) -> i64 {
        self.alice.profile.last_seen_ms
    }
}

fn max_severity(v: &[Finding]) -> f64 {
    v.iter().map(|f| f.severity).fold(0.0, f64::max)
}

#[test]
fn steady_history_then_new_country_generic_client_burst_is_high() {
    let mut w = World::with_history(DetectConfig::default());
    assert!(w.findings.is_empty());
    let start = w.end() + 3 * HOUR;
    let mut verdicts = Vec::new();
    for i in 0..300 {
        let o = Obs::new(ALICE, start + i * 10_000, "InvokeModel")
            .from(sao_paulo(), "203.0.113.50")
            .client(python_requests(), "python-requests/2.31.0");
        verdicts.push(w.run(o));
    }
    let first = verdicts[0].assessment.as_ref().unwrap();
    assert_eq!(first.baseline, Baseline::Principal);
    assert!(
        first.severity >= 4.0,
        "the first call is already worth a look: {first:#?}"
    );
    let emitted: Vec<&Finding> = verdicts.iter().flat_map(|v| &v.findings).collect();
    assert!(
        max_severity(&w.findings) >= 7.0,
        "burst must reach High: {:#?}",
        emitted.last()
    );
    // One finding, updated: a handful of emissions for 300 calls.
    let ids: std::collections::BTreeSet<&str> = emitted.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert!(emitted.len() <= 16, "{} emissions", emitted.len());
    let last = *emitted.last().unwrap();
    assert_eq!(last.finding_type, "Bedrock:IAMUser/AnomalousInvocation");
    assert_eq!(last.count, 256, "updates at powers of two");
    assert!(last.revision as usize == emitted.len() - 1);
    // Every call but a few early Medium ones (learned before the burst reached High,
    // so later calls were briefly less novel) folded into the one finding.
    let open = &w.alice.open[0].finding;
    assert!(open.count >= 250 && open.count <= 300, "{}", open.count);
    // Explanation: the country is unseen, its usual value named; volume in the signals.
    let country = first
        .features
        .iter()
        .find(|f| f.feature == "country")
        .unwrap();
    assert_eq!(country.observed, "BR");
    assert_eq!(country.bucket, detect::Bucket::Unseen);
    assert_eq!(country.usual[0].0, "DE");
    let country = last
        .features
        .iter()
        .find(|f| f.feature == "country")
        .unwrap();
    assert!(country.bucket > detect::Bucket::Frequent && country.usual[0].0 == "DE");
    assert!(
        last.signals.iter().any(|s| s.name == "volume"),
        "{:#?}",
        last.signals
    );
    assert!(
        last.signals
            .iter()
            .any(|s| s.name == "novelty:generic_client")
    );
    assert!(last.description.contains("BR") && last.description.contains("python-requests"));
    assert!(last.event_ids.len() <= 20 && !last.event_ids.is_empty());
    // Poisoning: High calls are not learned; only the burst's Medium start reached alice's baseline.
    let learned = verdicts.iter().filter(|v| v.learn).count();
    let sevs: Vec<f64> = verdicts
        .iter()
        .map(|v| v.assessment.as_ref().unwrap().severity)
        .collect();
    assert!(learned < 100, "{learned} learned; severities {sevs:?}");
    let br = w.alice.profile.country.count("BR").unwrap_or(0.0);
    assert!(br <= learned as f64 + 0.01, "{br}");
}

#[test]
fn sdk_upgrade_is_not_medium() {
    let mut w = World::with_history(DetectConfig::default());
    let start = w.end() + 14 * HOUR;
    for i in 0..40 {
        // The usual pace: eight calls an hour.
        let o = Obs::new(ALICE, start + i * 450_000, "InvokeModel")
            .client(boto3("2"), "Boto3/2.0.1 md/Botocore#2.0.1 ua/2.0 os/linux");
        let v = w.run(o);
        let a = v.assessment.unwrap();
        assert!(a.severity < 4.0, "an SDK major upgrade is routine: {a:#?}");
    }
    assert!(w.findings.is_empty());
}

#[test]
fn known_place_and_client_is_quiet_and_new_model_alone_is_not_medium() {
    let mut w = World::with_history(DetectConfig::default());
    let t = w.end() + 15 * HOUR;
    let v = w.run(Obs::new(ALICE, t, "InvokeModel").model("meta.llama3-70b-instruct-v1:0"));
    assert!(v.findings.is_empty(), "{:#?}", v.assessment);
    let v = w.run(Obs::new(ALICE, t + 60_000, "InvokeModel"));
    assert!(v.assessment.unwrap().severity < 1.0);
}

#[test]
fn logging_deletion_is_medium_then_invocation_is_high() {
    let mut w = World::with_history(DetectConfig::default());
    let t = w.end() + 15 * HOUR;
    let v = w.run(Obs::new(ALICE, t, "DeleteModelInvocationLoggingConfiguration").control());
    let f = &v.findings[0];
    assert_eq!(
        f.finding_type,
        "DefenseEvasion:Bedrock/InvocationLoggingDisabled"
    );
    assert!(f.severity >= 4.0 && f.severity < 7.0, "{}", f.severity);
    assert!(
        f.signals
            .iter()
            .any(|s| s.name == "invocation_logging_disabled")
    );
    let v = w.run(Obs::new(ALICE, t + 5 * 60_000, "InvokeModel"));
    let f = &v.findings[0];
    assert_eq!(
        f.finding_type,
        "DefenseEvasion:Bedrock/InvocationAfterLoggingDisabled"
    );
    assert!(f.severity >= 7.0, "{}", f.severity);
    // The deletion's event id is among the contributors.
    assert!(
        f.event_ids
            .iter()
            .any(|id| id.contains("DeleteModelInvocationLoggingConfiguration"))
    );
    // Past the window, invocations are ordinary again.
    let v = w.run(Obs::new(ALICE, t + 3 * HOUR, "InvokeModel"));
    assert!(v.findings.is_empty(), "{:#?}", v.findings);
}

#[test]
fn logging_deletion_without_any_baseline_is_still_medium() {
    let mut w = World::new(DetectConfig::default());
    let v = w.run(Obs::new(ALICE, t0(), "DeleteModelInvocationLoggingConfiguration").control());
    assert_eq!(v.assessment.as_ref().unwrap().baseline, Baseline::None);
    assert_eq!(v.findings[0].severity_label, Severity::Medium);
}

#[test]
fn recon_enable_first_invocation_is_high() {
    let mut w = World::with_history(DetectConfig::default());
    let t = w.end() + 15 * HOUR;
    for (i, name) in [
        "ListFoundationModels",
        "GetFoundationModelAvailability",
        "GetUseCaseForModelAccess",
    ]
    .iter()
    .enumerate()
    {
        w.run(Obs::new(ALICE, t + i as i64 * 60_000, name).control());
    }
    let v = w.run(Obs::new(ALICE, t + 10 * 60_000, "PutUseCaseForModelAccess").control());
    let f = &v.findings[0];
    assert_eq!(
        f.finding_type,
        "Bedrock:IAMUser/ModelAccessEnabledAnomalously"
    );
    assert!(f.severity >= 4.0);
    // Invoking a model alice already uses does not complete the chain.
    let v = w.run(Obs::new(ALICE, t + 20 * 60_000, "InvokeModel"));
    assert!(
        v.findings
            .iter()
            .all(|f| f.finding_type != "Bedrock:IAMUser/ModelAccessEnabledAndInvoked")
    );
    let v = w.run(
        Obs::new(ALICE, t + 25 * 60_000, "InvokeModel")
            .model("anthropic.claude-3-opus-20240229-v1:0"),
    );
    let f = v
        .findings
        .iter()
        .find(|f| f.finding_type == "Bedrock:IAMUser/ModelAccessEnabledAndInvoked")
        .unwrap();
    assert!(f.severity >= 7.0);
    assert!(f.signals.iter().any(|s| s.name == "recon_enable_invoke"));
    assert!(f.event_ids.len() >= 3, "{:?}", f.event_ids);
}

#[test]
fn enablement_without_recon_by_a_known_principal_from_home_is_quiet() {
    let mut w = World::with_history(DetectConfig::default());
    let t = w.end() + 15 * HOUR;
    let v = w.run(Obs::new(ALICE, t, "PutUseCaseForModelAccess").control());
    assert!(v.findings.is_empty(), "{:#?}", v.findings);
}

#[test]
fn probing_across_models_fires_and_one_broken_app_does_not() {
    let mut w = World::with_history(DetectConfig::default());
    let t = w.end() + 15 * HOUR;
    // A broken app: the same model failing validation, over and over.
    for i in 0..30 {
        let v = w.run(Obs::new(BOB, t + i * 5_000, "InvokeModel").error("ValidationException"));
        assert!(
            v.findings
                .iter()
                .all(|f| f.finding_type != "Discovery:Bedrock/ModelProbing")
        );
    }
    let models = ["a.m1", "b.m2", "c.m3", "d.m4"];
    let mut fired = None;
    for i in 0..12 {
        let o = Obs::new(ALICE, t + i * 10_000, "InvokeModel")
            .model(models[i as usize % 4])
            .error("AccessDenied");
        let v = w.run(o);
        if let Some(f) = v
            .findings
            .iter()
            .find(|f| f.finding_type == "Discovery:Bedrock/ModelProbing")
        {
            fired.get_or_insert(i);
            assert!(f.severity >= 4.0);
        }
    }
    assert_eq!(fired, Some(9), "fires at the 10th failed call");
}

#[test]
fn learning_principal_is_judged_by_its_account() {
    let mut w = World::with_history(DetectConfig::default());
    let t = w.end() + 15 * HOUR;
    let carol = "arn:aws:iam::111122223333:user/carol";
    let mut carol_state = PrincipalState::default();
    let o = Obs::new(carol, t, "InvokeModel");
    let v = w
        .det
        .process(&Call::new(o.0), &mut carol_state, &mut w.account);
    let a = v.assessment.unwrap();
    assert_eq!(a.baseline, Baseline::Account);
    assert!(v.findings.is_empty(), "{a:#?}");
    let o = Obs::new(carol, t + 60_000, "InvokeModel")
        .from(sao_paulo(), "203.0.113.50")
        .client(python_requests(), "python-requests/2.31.0");
    let v = w
        .det
        .process(&Call::new(o.0), &mut carol_state, &mut w.account);
    let f = &v.findings[0];
    assert!(f.severity >= 4.0);
    assert!(f.features.iter().all(|x| x.baseline == "account"));
    assert!(f.description.contains("still learning"));
}

#[test]
fn allowlisted_asn_is_counted_not_forwarded_and_rules_expire() {
    let mut cfg = DetectConfig::default();
    cfg.suppression.allow_asns = vec![262287];
    let mut w = World::with_history(cfg);
    let t = w.end() + 3 * HOUR;
    let o = Obs::new(ALICE, t, "InvokeModel")
        .from(sao_paulo(), "203.0.113.50")
        .client(python_requests(), "python-requests/2.31.0");
    let v = w.run(o);
    assert!(v.findings.is_empty());
    assert_eq!(v.suppressed, 1);
    assert_eq!(v.suppressed_by.as_deref(), Some("allow_asns"));
    assert!(v.learn, "suppressed calls are trusted and learned");

    let mut cfg = DetectConfig::default();
    cfg.suppression.rules.push(detect::config::SuppressionRule {
        name: "pentest".into(),
        cidr: Some("203.0.113.0/24".into()),
        expires: Some("2026-01-26T20:00:00Z".into()),
        ..Default::default()
    });
    let mut w = World::with_history(cfg);
    let before = parse_event_time("2026-01-26T19:00:00Z").unwrap();
    let after = parse_event_time("2026-01-26T21:00:00Z").unwrap();
    let mk = |t| {
        Obs::new(ALICE, t, "InvokeModel")
            .from(sao_paulo(), "203.0.113.50")
            .client(python_requests(), "python-requests/2.31.0")
    };
    let v = w.run(mk(before));
    assert_eq!(
        v.suppressed_by.as_deref(),
        Some("rule:pentest"),
        "{:#?}",
        v.assessment
    );
    // The suppressed call was learned, so a second one an hour later is less surprising
    // but still novel enough; what matters is that the rule no longer applies.
    let v = w.run(mk(after));
    assert_eq!(v.suppressed, 0);
}

fn s3ref(field: &str, bucket: &str, owner: Option<&str>) -> S3Ref {
    S3Ref {
        field: field.into(),
        bucket: bucket.into(),
        owner: owner.map(str::to_string),
    }
}

fn customization_job(t: i64, out: &str, train: &str) -> Obs {
    let mut o = Obs::new(ALICE, t, "CreateModelCustomizationJob").control();
    o.0.s3 = vec![
        s3ref("outputDataConfig.s3Uri", out, None),
        s3ref("trainingDataConfig.s3Uri", train, None),
    ];
    o
}

fn exfiltration(v: &Verdict) -> Option<&Finding> {
    v.findings
        .iter()
        .find(|f| f.finding_type.starts_with("Exfiltration:"))
}

#[test]
fn customization_output_to_a_known_bucket_or_its_own_input_is_quiet() {
    let mut w = World::with_history(DetectConfig::default());
    let t = w.end() + 15 * HOUR;
    let v = w.run(customization_job(t, "acme-models", "acme-data"));
    assert!(exfiltration(&v).is_none(), "{:#?}", v.findings);
    // A bucket never seen, but the job's own input: as trusted as the input.
    let v = w.run(customization_job(
        t + 60_000,
        "team-scratch",
        "team-scratch",
    ));
    assert!(exfiltration(&v).is_none(), "{:#?}", v.findings);
}

#[test]
fn customization_output_to_an_unfamiliar_bucket_is_medium() {
    let mut w = World::with_history(DetectConfig::default());
    let t = w.end() + 15 * HOUR;
    let v = w.run(customization_job(
        t,
        "model-exports-999988887777",
        "acme-data",
    ));
    let f = exfiltration(&v).expect("unfamiliar output bucket");
    assert_eq!(
        f.finding_type,
        "Exfiltration:Bedrock/CustomizationOutputUnfamiliar"
    );
    assert!((5.0..7.0).contains(&f.severity), "{f:#?}");
    assert!(f.description.contains("s3://model-exports-999988887777"));
    assert!(
        f.description.contains("2 other buckets"),
        "{}",
        f.description
    );
}

#[test]
fn customization_output_owned_by_another_account_is_high() {
    let mut w = World::with_history(DetectConfig::default());
    let t = w.end() + 15 * HOUR;
    // The owner in `resources` outranks everything, even a bucket name the account knows.
    let mut o = customization_job(t, "acme-models", "acme-data");
    o.0.s3
        .push(s3ref("resources", "acme-models", Some("999988887777")));
    let v = w.run(o);
    let f = exfiltration(&v).expect("external output bucket");
    assert_eq!(
        f.finding_type,
        "Exfiltration:Bedrock/CustomizationOutputExternal"
    );
    assert!(f.severity >= 7.0);
    assert!(f.description.contains("owned by account 999988887777"));
    // The account's own id as owner vouches for a bucket never seen.
    let mut o = customization_job(t + 60_000, "fresh-bucket", "acme-data");
    o.0.s3
        .push(s3ref("resources", "fresh-bucket", Some("111122223333")));
    assert!(exfiltration(&w.run(o)).is_none());
}

#[test]
fn batch_inference_output_owner_field_is_judged() {
    let mut w = World::with_history(DetectConfig::default());
    let t = w.end() + 15 * HOUR;
    let mut o = Obs::new(ALICE, t, "CreateModelInvocationJob").control();
    o.0.s3 = vec![
        s3ref(
            "outputDataConfig.s3OutputDataConfig.s3Uri",
            "acme-models",
            Some("999988887777"),
        ),
        s3ref("inputDataConfig.s3InputDataConfig.s3Uri", "acme-data", None),
    ];
    let f = exfiltration(&w.run(o))
        .cloned()
        .expect("external batch output");
    assert_eq!(
        f.finding_type,
        "Exfiltration:Bedrock/InferenceOutputExternal"
    );
}

#[test]
fn without_bucket_knowledge_only_an_explicit_owner_counts() {
    // No S3 activity ever seen in the account: every bucket would be "new", so
    // unfamiliarity is not judged; an explicit foreign owner still is.
    let mut w = World::with_history(DetectConfig::default());
    w.account.buckets = detect::Buckets::default();
    let t = w.end() + 15 * HOUR;
    let v = w.run(customization_job(t, "model-exports-x", "acme-data"));
    assert!(exfiltration(&v).is_none(), "{:#?}", v.findings);
    let mut o = customization_job(t + 60_000, "model-exports-x", "acme-data");
    o.0.s3[0].owner = Some("999988887777".into());
    assert!(exfiltration(&w.run(o)).is_some_and(|f| f.severity >= 7.0));
}

#[test]
fn region_fan_out_and_impossible_travel_are_signalled() {
    let mut w = World::with_history(DetectConfig::default());
    let t = w.end() + 15 * HOUR;
    let regions = [
        "us-west-2",
        "ap-northeast-1",
        "eu-west-3",
        "ca-central-1",
        "sa-east-1",
    ];
    let mut last = None;
    for (i, r) in regions.iter().enumerate() {
        last = Some(w.run(Obs::new(ALICE, t + i as i64 * 60_000, "InvokeModel").region(r)));
    }
    let a = last.unwrap().assessment.unwrap();
    assert!(
        a.signals.iter().any(|s| s.name == "region_fan_out"),
        "{a:#?}"
    );
    assert!(a.severity >= 4.0, "{a:#?}");

    let mut w = World::with_history(DetectConfig::default());
    let t = w.end() + 10 * 60_000;
    let v = w.run(Obs::new(ALICE, t, "InvokeModel").from(sao_paulo(), "203.0.113.50"));
    let a = v.assessment.unwrap();
    let s = a
        .signals
        .iter()
        .find(|s| s.name == "impossible_travel")
        .expect("travel signal");
    assert!(s.detail.contains("km/h"));
}

#[test]
fn poisoning_threshold_at_medium_keeps_the_whole_burst_out() {
    let mut cfg = DetectConfig::default();
    cfg.poisoning.min_severity = 4.0;
    let mut w = World::with_history(cfg);
    let start = w.end() + 3 * HOUR;
    for i in 0..100 {
        let o = Obs::new(ALICE, start + i * 10_000, "InvokeModel")
            .from(sao_paulo(), "203.0.113.50")
            .client(python_requests(), "python-requests/2.31.0");
        let v = w.run(o);
        assert!(!v.learn);
        let country = &v.assessment.unwrap().features[0];
        assert_eq!(
            (country.feature.as_str(), country.bucket),
            ("country", detect::Bucket::Unseen)
        );
    }
    assert!(w.alice.profile.country.count("BR").is_none());
}

#[test]
fn poisoning_can_be_disabled() {
    let mut cfg = DetectConfig::default();
    cfg.poisoning.enabled = false;
    let mut w = World::with_history(cfg);
    let start = w.end() + 3 * HOUR;
    for i in 0..300 {
        let o =
            Obs::new(ALICE, start + i * 10_000, "InvokeModel").from(sao_paulo(), "203.0.113.50");
        let v = w.run(o);
        assert!(v.learn);
    }
    // Counted once per active hour: the burst is one hour of evidence.
    assert!(w.alice.profile.country.count("BR").unwrap() >= 1.0);
}

#[test]
fn non_bedrock_calls_are_learned_not_scored() {
    let mut w = World::with_history(DetectConfig::default());
    let before = w.alice.profile.events;
    let o = Obs::non_bedrock(ALICE, w.end() + HOUR, "s3.amazonaws.com", "GetObject")
        .from(sao_paulo(), "203.0.113.50");
    let v = w.run(o);
    assert!(v.assessment.is_none() && v.findings.is_empty() && v.learn);
    assert_eq!(w.alice.profile.events, before + 1);
}

#[test]
fn same_input_same_findings() {
    let run = || {
        let mut w = World::new(DetectConfig::default());
        w.history(10);
        let t = w.end() + 3 * HOUR;
        w.run(Obs::new(ALICE, t, "DeleteModelInvocationLoggingConfiguration").control());
        for i in 0..50 {
            w.run(Obs::new(ALICE, t + i * 20_000, "InvokeModel").from(sao_paulo(), "203.0.113.50"));
        }
        serde_json::to_string(&w.findings).unwrap()
    };
    let a = run();
    assert!(a.len() > 100);
    assert_eq!(a, run());
}

#[test]
fn state_is_compact_and_round_trips() {
    let mut w = World::with_history(DetectConfig::default());
    // A principal spraying random user agents and regions cannot grow without limit.
    let t = w.end() + HOUR;
    for i in 0..500 {
        let o = Obs::non_bedrock(
            ALICE,
            t + i * 1000,
            "sts.amazonaws.com",
            "GetCallerIdentity",
        )
        .client(boto3(&i.to_string()), "x")
        .region(&format!("xx-{i}-1"));
        w.run(o);
    }
    let json = serde_json::to_string(&w.alice.profile).unwrap();
    assert!(json.len() < 6000, "profile JSON is {} bytes", json.len());
    let back: detect::Profile = serde_json::from_str(&json).unwrap();
    assert_eq!(back.events, w.alice.profile.events);
    let state = serde_json::to_string(&w.alice).unwrap();
    let back: PrincipalState = serde_json::from_str(&state).unwrap();
    assert_eq!(serde_json::to_string(&back).unwrap(), state);
    let summary = w.alice.profile.summary(t + 600_000, w.det.config());
    assert!(!summary.learning);
    let ua = summary
        .features
        .iter()
        .find(|f| f.feature == "ua_version")
        .unwrap();
    assert!(ua.top.len() <= 8 && ua.distinct >= 500);
    assert_eq!(summary.features[0].top[0].value, "DE");
    assert_eq!(summary.features[0].top[0].bucket, detect::Bucket::Frequent);
}

#[test]
fn guardrail_deletion_then_invocation_and_config_change_then_invocation() {
    let mut w = World::with_history(DetectConfig::default());
    let t = w.end() + 15 * HOUR;
    let v = w.run(Obs::new(ALICE, t, "DeleteGuardrail").control());
    assert_eq!(
        v.findings[0].finding_type,
        "DefenseEvasion:Bedrock/GuardrailDeleted"
    );
    assert!(v.findings[0].severity >= 4.0);
    let v = w.run(Obs::new(ALICE, t + 60_000, "InvokeModel"));
    assert_eq!(
        v.findings[0].finding_type,
        "DefenseEvasion:Bedrock/InvocationAfterGuardrailDeleted"
    );
    assert!(v.findings[0].severity >= 5.0);

    // Bob (a known admin, from home) reconfigures logging and invokes: evidence, not a floor.
    let v = w.run(Obs::new(BOB, t, "PutModelInvocationLoggingConfiguration").control());
    assert!(v.findings.is_empty(), "{:#?}", v.findings);
    let v = w.run(Obs::new(BOB, t + 60_000, "InvokeModel"));
    let a = v.assessment.unwrap();
    assert!(
        a.signals
            .iter()
            .any(|s| s.name == "invoke_after_config_change")
    );
    assert!(a.severity < 4.0, "{a:#?}");
}

#[test]
fn key_creation_and_recon_from_a_stranger_place() {
    let mut w = World::with_history(DetectConfig::default());
    let t = w.end() + 15 * HOUR;
    let mut o = Obs::non_bedrock(
        ALICE,
        t,
        "iam.amazonaws.com",
        "CreateServiceSpecificCredential",
    )
    .from(sao_paulo(), "203.0.113.50")
    .client(python_requests(), "python-requests/2.31.0");
    o.0.region = "us-east-1".into();
    let v = w.run(o);
    let f = &v.findings[0];
    assert_eq!(
        f.finding_type,
        "Persistence:IAMUser/AnomalousBedrockKeyCreation"
    );
    assert_eq!(
        f.api_calls,
        vec!["iam:CreateServiceSpecificCredential".to_string()]
    );
    let v = w.run(
        Obs::new(BOB, t, "ListFoundationModels")
            .control()
            .from(sao_paulo(), "203.0.113.51")
            .client(python_requests(), "python-requests/2.31.0"),
    );
    assert_eq!(
        v.findings[0].finding_type,
        "Discovery:IAMUser/AnomalousBedrockRecon"
    );
    // The same recon from home with the usual SDK is nothing.
    let v = w.run(Obs::new(BOB, t + HOUR, "ListFoundationModels").control());
    assert!(v.findings.is_empty());
}

#[test]
fn finding_ids_are_deterministic_and_distinct_per_window() {
    let mut w = World::new(DetectConfig::default());
    let t = t0();
    let a = w.run(Obs::new(ALICE, t, "DeleteModelInvocationLoggingConfiguration").control());
    let b = w.run(
        Obs::new(
            ALICE,
            t + 60_000,
            "DeleteModelInvocationLoggingConfiguration",
        )
        .control(),
    );
    // Folded: the second deletion is an update of the same finding (count 2: a power of two).
    assert_eq!(a.findings[0].id, b.findings[0].id);
    assert_eq!(b.findings[0].revision, 1);
    assert_eq!(b.findings[0].count, 2);
    // After the aggregation window, a new finding with a new id.
    let c = w.run(
        Obs::new(
            ALICE,
            t + 7 * HOUR,
            "DeleteModelInvocationLoggingConfiguration",
        )
        .control(),
    );
    assert_ne!(c.findings[0].id, a.findings[0].id);
    assert_eq!(c.findings[0].revision, 0);
    assert_eq!(
        a.findings[0].id,
        detect::engine::finding_id(
            "111122223333",
            ALICE,
            "DefenseEvasion:Bedrock/InvocationLoggingDisabled",
            t
        )
    );
}

mod no_panic {
    use super::*;
    use proptest::prelude::*;

    fn arb_obs() -> impl Strategy<Value = Observation> {
        (
            (
                any::<i64>().prop_map(|x| x % (4_000_000_000_000)),
                0usize..6,
                prop::option::of("[A-Za-z]{0,12}"),
                prop::option::of(prop_oneof![
                    Just(f64::NAN),
                    Just(f64::INFINITY),
                    -200.0f64..200.0
                ]),
                prop::option::of(prop_oneof![Just(f64::NAN), Just(1e300), -200.0f64..200.0]),
                prop::option::of(any::<u32>()),
            ),
            (
                0usize..3,
                "[a-z0-9-]{0,12}",
                any::<bool>(),
                prop::option::of("[A-Za-z]{0,10}"),
            ),
        )
            .prop_map(
                |((t, name, country, lat, lon, asn), (who, region, generic, err))| {
                    let names = [
                        "InvokeModel",
                        "ListFoundationModels",
                        "PutUseCaseForModelAccess",
                        "DeleteModelInvocationLoggingConfiguration",
                        "GetObject",
                        "Converse",
                    ];
                    let mut o = Obs::new([ALICE, BOB, "x"][who], t, names[name]);
                    if name == 4 {
                        o.0.event_source = "s3.amazonaws.com".into();
                        o.0.bedrock = None;
                    }
                    o.0.geo.country = country.map(Into::into);
                    o.0.geo.latitude = lat;
                    o.0.geo.longitude = lon;
                    o.0.geo.asn = asn;
                    o.0.region = region.into();
                    o.0.client.generic = generic;
                    o.0.error_code = err.map(Into::into);
                    o.0
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn any_sequence_is_handled(events in prop::collection::vec(arb_obs(), 1..200)) {
            let det = Detector::new(DetectConfig::default(), Catalogue::builtin())
                .unwrap()
                .explaining_every_call();
            // The daemon's detector, which puts words only on calls that may emit.
            let quiet = Detector::new(DetectConfig::default(), Catalogue::builtin()).unwrap();
            let min_emit = DetectConfig::default().severity.min_emit;
            let mut p = PrincipalState::default();
            let mut a = AccountState::default();
            let (mut qp, mut qa) = (PrincipalState::default(), AccountState::default());
            for o in events {
                let call = Call::new(o);
                let v = det.process(&call, &mut p, &mut a);
                let q = quiet.process(&call, &mut qp, &mut qa);
                // JSON, not ==: a finding may carry NaN from input.
                prop_assert_eq!(
                    serde_json::to_string(&q.findings).unwrap(),
                    serde_json::to_string(&v.findings).unwrap()
                );
                prop_assert_eq!((q.learn, q.suppressed), (v.learn, v.suppressed));
                let expected = v.assessment.as_ref().filter(|x| x.severity >= min_emit);
                prop_assert_eq!(
                    serde_json::to_string(&q.assessment).unwrap(),
                    serde_json::to_string(&expected).unwrap()
                );
                if let Some(x) = &v.assessment {
                    prop_assert!((0.0..=10.0).contains(&x.severity), "{}", x.severity);
                }
                for f in &v.findings {
                    prop_assert!((1.0..=10.0).contains(&f.severity));
                    prop_assert!(!f.event_ids.is_empty());
                }
            }
            // The state survives a round trip (findings may carry NaN from input as null,
            // so compare the profile and sequences, which the detector writes itself).
            let json = serde_json::to_string(&(&p.profile, &p.seq)).unwrap();
            prop_assert_eq!(&serde_json::to_string(&(&qp.profile, &qp.seq)).unwrap(), &json);
            let back: (detect::Profile, detect::SequenceState) = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(serde_json::to_string(&back).unwrap(), json);
        }
    }
}

#[test]
fn a_roaming_principal_is_not_flagged_for_one_more_country() {
    let mut w = World::new(DetectConfig::default());
    let countries = ["DE", "FR", "US", "JP", "SG", "GB", "IN", "AU"];
    let mut rng = Lcg(11);
    for d in 0..21 {
        for h in 0..24 {
            if rng.next(3) != 0 {
                continue;
            }
            let cc = countries[rng.next(countries.len() as u64) as usize];
            let geo = Geo {
                country: Some(cc.into()),
                city: Some(format!("City-{cc}").into()),
                asn: Some(64_500 + rng.next(20) as u32),
                ..Geo::default()
            };
            let t = t0() + d * DAY + h * HOUR;
            w.run(Obs::new(ALICE, t, "InvokeModel").from(geo, "198.51.100.9"));
        }
    }
    assert!(w.findings.is_empty(), "{:#?}", w.findings.first());
    let t = w.end() + HOUR;
    let geo = Geo {
        country: Some("BR".into()),
        city: Some("City-BR".into()),
        asn: Some(64_999),
        ..Geo::default()
    };
    let v = w.run(Obs::new(ALICE, t, "InvokeModel").from(geo, "198.51.100.9"));
    let a = v.assessment.unwrap();
    assert!(a.severity < 4.0, "{a:#?}");
    assert!(v.findings.is_empty());
}

fn boto3_on(os: &str) -> Client {
    Client {
        os: Some(os.into()),
        ..boto3("1")
    }
}

fn amsterdam_vps() -> Geo {
    Geo {
        country: Some("NL".into()),
        subdivision: Some("NH".into()),
        city: Some("Amsterdam".into()),
        latitude: Some(52.37),
        longitude: Some(4.90),
        accuracy_km: Some(20),
        asn: Some(48090),
        as_org: Some("Example VPS Hosting".into()),
    }
}

#[test]
fn a_new_place_alone_is_low_and_with_a_new_device_it_is_medium() {
    // A day after alice's last call (no impossible travel), from a VPS in a country
    // neither she nor her account ever used, at her usual pace, usual model.
    let w0 = World::with_history(DetectConfig::default());
    let t = w0.end() + 20 * HOUR;
    let mut w = World::with_history(DetectConfig::default());
    let v = w.run(Obs::new(ALICE, t, "InvokeModel").from(amsterdam_vps(), "45.148.8.9"));
    let a = v.assessment.unwrap();
    assert!(a.severity < 4.0, "one aspect (where) alone: {a:#?}");
    assert!(a.severity >= 1.0, "but not nothing: {a:#?}");
    // The same, from a Windows machine with her usual SDK: two independent unseen
    // aspects (where, device) of a stable principal are jointly improbable.
    let mut w = World::with_history(DetectConfig::default());
    let v = w.run(
        Obs::new(ALICE, t, "InvokeModel")
            .from(amsterdam_vps(), "45.148.8.9")
            .client(boto3_on("windows"), "Boto3/1.34.100 ua/2.0 os/windows#10"),
    );
    let a = v.assessment.unwrap();
    assert!((4.0..7.0).contains(&a.severity), "{a:#?}");
    assert!(
        a.signals.iter().any(|s| s.name == "novelty:ua_os"),
        "{a:#?}"
    );
    assert!(!v.findings.is_empty());
}

#[test]
fn a_new_device_alone_is_not_medium() {
    let mut w = World::with_history(DetectConfig::default());
    let t = w.end() + 15 * HOUR;
    let v = w.run(
        Obs::new(ALICE, t, "InvokeModel")
            .client(boto3_on("windows"), "Boto3/1.34.100 ua/2.0 os/windows#10"),
    );
    let a = v.assessment.unwrap();
    assert!(a.severity < 4.0, "{a:#?}");
}

#[test]
fn region_failover_is_operational_drift_not_medium() {
    // Alice's calls move to a region never used, from another datacentre of a
    // provider (new ASN and city), minutes after her last call: "impossible travel"
    // between datacentres. One change of place: at most Low.
    let mut w = World::with_history(DetectConfig::default());
    let t = w.end() + 5 * 60_000;
    let boardman = Geo {
        country: Some("US".into()),
        subdivision: Some("OR".into()),
        city: Some("Boardman".into()),
        latitude: Some(45.84),
        longitude: Some(-119.70),
        accuracy_km: Some(20),
        asn: Some(16509),
        as_org: Some("Amazon.com".into()),
    };
    for i in 0..24 {
        // Her usual pace, eight calls an hour.
        let v = w.run(
            Obs::new(ALICE, t + i * 450_000, "InvokeModel")
                .region("us-west-2")
                .from(boardman.clone(), "52.10.0.9"),
        );
        let a = v.assessment.unwrap();
        assert!(a.severity < 4.0, "call {i}: {a:#?}");
    }
    assert!(w.findings.is_empty(), "{:#?}", w.findings.first());
}

#[test]
fn travel_within_the_country_is_not_medium() {
    let mut w = World::with_history(DetectConfig::default());
    let t = w.end() + 20 * HOUR;
    let munich = Geo {
        city: Some("Munich".into()),
        subdivision: Some("BY".into()),
        latitude: Some(48.14),
        longitude: Some(11.58),
        asn: Some(8881),
        as_org: Some("Vodafone GmbH".into()),
        ..frankfurt()
    };
    for i in 0..20 {
        let v = w.run(
            Obs::new(ALICE, t + i * 450_000, "InvokeModel").from(munich.clone(), "203.0.113.9"),
        );
        assert!(v.assessment.unwrap().severity < 4.0);
    }
    assert!(w.findings.is_empty());
}
