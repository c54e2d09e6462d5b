//! Throughput and state size of the detector on a synthetic month.
//!
//! `cargo run --release -p detect --example detect_throughput` prints events per second for
//! `Detector::process` and the encoded size of principal state. Not a test: numbers only.

use std::time::Instant;

use cloudtrail::{BedrockSurface, CredentialClass, PrincipalKind};
use detect::{
    AccountState, Call, Catalogue, Client, DetectConfig, Detector, Geo, NetClass, Observation,
    PrincipalState,
};

fn obs(principal: usize, t: i64, n: u64) -> Observation {
    let models = [
        "anthropic.claude-3-5-sonnet-20240620-v1:0",
        "amazon.titan-text-express-v1",
        "meta.llama3-70b-instruct-v1:0",
    ];
    let bedrock = !n.is_multiple_of(5);
    Observation {
        event_id: format!("ev-{n}").into(),
        event_time: t,
        account_id: "111122223333".into(),
        principal: format!("arn:aws:iam::111122223333:user/u{principal}").into(),
        principal_kind: PrincipalKind::IamUser,
        credential: CredentialClass::LongTermKey,
        access_key_id: Some("AKIAEXAMPLE".into()),
        event_source: if bedrock {
            "bedrock.amazonaws.com"
        } else {
            "s3.amazonaws.com"
        }
        .into(),
        event_name: if bedrock { "InvokeModel" } else { "GetObject" }.into(),
        region: if n.is_multiple_of(7) {
            "eu-central-1"
        } else {
            "us-east-1"
        }
        .into(),
        error_code: None,
        bedrock: bedrock.then_some(BedrockSurface::Runtime),
        model_id: bedrock.then(|| models[(n % 3) as usize].into()),
        source_ip: Some("198.51.100.7".into()),
        net_class: NetClass::Public,
        geo: Geo {
            country: Some(["DE", "FR", "US"][principal % 3].into()),
            city: Some(["Frankfurt am Main", "Paris", "Ashburn"][principal % 3].into()),
            latitude: Some(50.1),
            longitude: Some(8.7),
            accuracy_km: Some(20),
            asn: Some(3320 + (principal % 4) as u32),
            ..Geo::default()
        },
        user_agent: Some("Boto3/1.34.1".into()),
        client: Client {
            family: "boto3".into(),
            major: Some((1 + n % 2).to_string().into()),
            os: None,
            generic: false,
        },
        s3: Vec::new(),
    }
}

fn main() {
    let det = match Detector::new(DetectConfig::default(), Catalogue::builtin()) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("{e:?}");
            return;
        }
    };
    let principals = 50;
    let mut states: Vec<PrincipalState> =
        (0..principals).map(|_| PrincipalState::default()).collect();
    let mut account = AccountState::default();
    let start = 1_767_571_200_000i64; // 2026-01-05
    let mut events = Vec::new();
    let mut n = 0u64;
    for minute in 0..(30 * 24 * 60) {
        let t = start + minute * 60_000;
        for p in 0..principals {
            // Each principal calls roughly every 25 minutes, more in office hours.
            let hour = (minute / 60) % 24;
            let busy = (8..18).contains(&hour);
            if (minute as usize + p * 7).is_multiple_of(if busy { 5 } else { 60 }) {
                events.push((p, Call::new(obs(p, t, n))));
                n += 1;
            }
        }
    }
    let t = Instant::now();
    let mut findings = 0usize;
    for (p, o) in &events {
        if let Some(s) = states.get_mut(*p) {
            findings += det.process(o, s, &mut account).findings.len();
        }
    }
    let secs = t.elapsed().as_secs_f64();
    let json: Vec<usize> = states
        .iter()
        .map(|s| serde_json::to_string(&s.profile).map_or(0, |j| j.len()))
        .collect();
    let full: Vec<usize> = states
        .iter()
        .map(|s| serde_json::to_string(s).map_or(0, |j| j.len()))
        .collect();
    println!(
        "{} events, {principals} principals, 30 days: {:.3} s, {:.0} events/s, {:.2} us/event, {findings} findings",
        events.len(),
        secs,
        events.len() as f64 / secs,
        secs * 1e6 / events.len() as f64
    );
    println!(
        "profile JSON bytes: max {} mean {:.0}; principal state JSON max {}; account profile JSON {}",
        json.iter().max().unwrap_or(&0),
        json.iter().sum::<usize>() as f64 / json.len().max(1) as f64,
        full.iter().max().unwrap_or(&0),
        serde_json::to_string(&account.profile).map_or(0, |j| j.len())
    );
}
