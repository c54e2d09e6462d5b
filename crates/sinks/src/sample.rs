//! Fixed sample findings: the inputs of the golden files, the tests and the benchmark.

use cloudtrail::{CredentialClass, PrincipalKind};
use detect::{
    Bucket, FeatureExplanation, Finding, FindingPrincipal, Network, Severity, Signal, SignalKind,
};

/// A finding with every field set, including characters each format must escape.
pub fn full() -> Finding {
    Finding {
        id: "bg-7f3a9c21d4e8b605".into(),
        finding_type: "Bedrock:IAMUser/AnomalousInvocation".into(),
        title: "Unusual Bedrock invocation by ci-bot | from a new ASN".into(),
        description: "ci-bot invoked anthropic.claude-3-sonnet from AS14061 (never seen), \
                      with python-requests.\nBaseline: country=US 97%, path C:\\tmp\\x ]\"quoted\""
            .into(),
        severity: 8.2,
        severity_label: Severity::High,
        region: "us-east-1".into(),
        principal: FindingPrincipal {
            key: "arn:aws:iam::123456789012:user/ci-bot".into(),
            kind: PrincipalKind::IamUser,
            account_id: "123456789012".into(),
            credential: CredentialClass::LongTermKey,
            access_key_ids: vec!["AKIAIOSFODNN7EXAMPLE".into()],
        },
        network: Network {
            ip: Some("203.0.113.45".into()),
            country: Some("NL".into()),
            city: Some("Amsterdam".into()),
            asn: Some(14061),
            as_org: Some("DIGITALOCEAN-ASN".into()),
            latitude: Some(52.3759),
            longitude: Some(4.8975),
            user_agent: Some("python-requests/2.31.0".into()),
        },
        first_seen: 1_700_000_000_000,
        last_seen: 1_700_000_360_123,
        count: 42,
        revision: 2,
        event_ids: vec![
            "0a1b2c3d-0000-4000-8000-000000000001".into(),
            "0a1b2c3d-0000-4000-8000-000000000002".into(),
        ],
        api_calls: vec![
            "bedrock.amazonaws.com:InvokeModel".into(),
            "bedrock.amazonaws.com:ListFoundationModels".into(),
        ],
        models: vec!["anthropic.claude-3-sonnet-20240229-v1:0".into()],
        signals: vec![
            Signal {
                kind: SignalKind::Novelty,
                name: "novelty:asn".into(),
                score: 6.5,
                detail: "AS14061 was never seen for this principal.".into(),
            },
            Signal {
                kind: SignalKind::Sequence,
                name: "recon_then_invoke".into(),
                score: 5.0,
                detail: "ListFoundationModels then InvokeModel within 10 minutes.".into(),
            },
        ],
        features: vec![
            FeatureExplanation {
                feature: "asn".into(),
                observed: "14061".into(),
                count: 0.0,
                share: 0.0,
                bucket: Bucket::Unseen,
                surprise_bits: 9.5,
                baseline: "principal".into(),
                usual: vec![("16509".into(), 0.91), ("7018".into(), 0.09)],
            },
            FeatureExplanation {
                feature: "country".into(),
                observed: "NL".into(),
                count: 1.5,
                share: 0.02,
                bucket: Bucket::Rare,
                surprise_bits: 5.6,
                baseline: "account".into(),
                usual: vec![("US".into(), 0.97)],
            },
        ],
    }
}

/// A finding with every optional field empty (revision 0, Low).
pub fn minimal() -> Finding {
    Finding {
        id: "bg-0000000000000001".into(),
        finding_type: "Bedrock:Root/ModelAccessEnabled".into(),
        title: "Root enabled model access".into(),
        description: "The root user enabled access to a foundation model.".into(),
        severity: 2.0,
        severity_label: Severity::Low,
        region: "eu-west-1".into(),
        principal: FindingPrincipal {
            key: "arn:aws:iam::210987654321:root".into(),
            kind: PrincipalKind::Root,
            account_id: "210987654321".into(),
            credential: CredentialClass::None,
            access_key_ids: Vec::new(),
        },
        network: Network::default(),
        first_seen: 1_600_000_000_000,
        last_seen: 1_600_000_000_000,
        count: 1,
        revision: 0,
        event_ids: Vec::new(),
        api_calls: Vec::new(),
        models: Vec::new(),
        signals: Vec::new(),
        features: Vec::new(),
    }
}

/// The `i`-th of a series of distinct findings (ids differ; everything else is [`full`]).
pub fn numbered(i: u64) -> Finding {
    let mut f = full();
    f.id = format!("bg-bench-{i:012}");
    f.revision = 0;
    f.last_seen += i as i64;
    f
}
