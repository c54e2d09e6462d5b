//! Ordinary traffic: one call of a principal following its habits (and any drift).

use crate::catalog::{self, Client, Op, Params};
use crate::event::{Call, Identity, render};
use crate::json::quoted;
use crate::org::{Account, Actor, BUCKET_PREFIXES, Change, Role, is_invocation};
use crate::rng::Rng;

/// What rendering an ordinary call produced.
#[derive(Debug)]
pub struct Produced {
    pub region: String,
    pub event_id: String,
    /// The drift label this event belongs to.
    pub label: Option<usize>,
}

/// Renders one ordinary call of `actor` at `t` into `buf`.
pub fn ordinary(
    actor: &Actor,
    account: &Account,
    t: i64,
    rng: &mut Rng,
    buf: &mut Vec<u8>,
) -> Produced {
    match actor.role {
        Role::ServiceCaller(service) => return assume_role(actor, account, service, t, rng, buf),
        Role::ServiceEvent(service) => return service_event(actor, account, service, t, rng, buf),
        _ => {}
    }
    let mut client = &actor.client;
    if let Some((at, newer)) = &actor.client_update
        && t >= *at
    {
        client = newer;
    }
    if let Some(second) = &actor.second_client
        && rng.chance(0.15)
    {
        client = second;
    }
    let mut ips: &[String] = &actor.ips;
    let mut travelling = false;
    let mut region = actor.region.as_str();
    let mut model_map: Option<(&str, &str)> = None;
    let mut label = None;
    for ov in &actor.overrides {
        if t < ov.start_ms || t >= ov.end_ms {
            continue;
        }
        match &ov.change {
            Change::Client(c) => client = c,
            Change::Ips(v) => {
                ips = v;
                travelling = true;
            }
            Change::Model { from, to } => model_map = Some((from, to)),
            Change::Region { region: r, ips: v } => {
                region = r;
                ips = v;
            }
            Change::Joined => {}
        }
        if t < ov.label_until_ms {
            label = Some((ov.label, matches!(ov.change, Change::Model { .. })));
        }
    }
    let op = actor
        .mix
        .get(rng.weighted(&actor.weights))
        .map(|(op, _)| op)
        .unwrap_or(&catalog::GET_CALLER_IDENTITY);
    // A model change only changes calls that name a model.
    let label =
        label.and_then(|(l, model_only)| (!model_only || op.params == Params::Model).then_some(l));
    let ip = choose_ip(actor, ips, travelling, t, rng);
    let model = actor
        .models
        .get(rng.index(actor.models.len()))
        .copied()
        .unwrap_or("amazon.titan-text-express-v1");
    let model = match model_map {
        Some((from, to)) if from == model => to,
        _ => model,
    };
    let region = if op.source == "iam.amazonaws.com" || op.name == "ListBuckets" {
        "us-east-1"
    } else {
        region
    };
    let identity = actor.identity_at(account, t, client.is_console());
    let error = ordinary_error(actor, op, &identity, rng);
    let mut extra = Vec::new();
    let mut response = None;
    let params = match op.params {
        Params::Bucket => {
            let bucket = account_bucket(actor, account, rng);
            extra.push(("resources", bucket_resources(account, &bucket)));
            Some(format!(
                "{{\"bucketName\":{},\"Host\":\"s3.amazonaws.com\"}}",
                quoted(&bucket)
            ))
        }
        _ if op.name == catalog::CREATE_CUSTOMIZATION_JOB.name => {
            let (params, resp) = customization_job(account, region, rng);
            response = Some(resp);
            Some(params)
        }
        _ => fill_params(op, actor, account, t, rng),
    };
    let ua = client.user_agent(op.source, op.name);
    let call = Call {
        time_ms: t,
        op,
        identity: &identity,
        region,
        ip,
        user_agent: &ua,
        model,
        error,
        params,
        response,
        extra,
        console: client.is_console(),
        recipient: &account.id,
        service_event: false,
    };
    let event_id = render(&call, rng, buf);
    Produced {
        region: region.to_owned(),
        event_id,
        label,
    }
}

fn choose_ip<'a>(
    actor: &'a Actor,
    ips: &'a [String],
    travelling: bool,
    t: i64,
    rng: &mut Rng,
) -> &'a str {
    let at_home = match (&actor.role, &actor.home_ip, travelling) {
        (Role::Person(_), Some(_), false) => {
            let how = i64::from(cloudtrail::time::hour_of_week(t));
            let local = (how + actor.tz_hours).rem_euclid(168);
            let office_hours = local / 24 < 5 && (8..18).contains(&(local % 24));
            !office_hours || rng.chance(0.25)
        }
        _ => false,
    };
    if at_home && let Some(home) = &actor.home_ip {
        return home;
    }
    ips.get(rng.index(ips.len()))
        .map_or("127.0.0.1", String::as_str)
}

fn ordinary_error(
    actor: &Actor,
    op: &Op,
    identity: &Identity,
    rng: &mut Rng,
) -> Option<(&'static str, String)> {
    let x = rng.f64();
    if is_invocation(op) {
        if x < 0.004 {
            return Some((
                "ValidationException",
                "Malformed input request: #: extraneous key [max_tokens_to_sample] is not permitted, please reformat your input and try again.".to_owned(),
            ));
        }
        if matches!(actor.role, Role::BedrockApp) && x < 0.007 {
            return Some((
                "ThrottlingException",
                "Too many requests, please wait before trying again.".to_owned(),
            ));
        }
        return None;
    }
    if matches!(actor.role, Role::Person(_)) && x < 0.015 {
        let who = match identity {
            Identity::AssumedRole {
                account,
                role_name,
                session,
                ..
            } => {
                format!("arn:aws:sts::{account}:assumed-role/{role_name}/{session}")
            }
            _ => "the caller".to_owned(),
        };
        let service = op.source.split('.').next().unwrap_or("");
        return Some((
            "AccessDenied",
            format!(
                "User: {who} is not authorized to perform: {service}:{} because no identity-based policy allows the {service}:{} action",
                op.name, op.name
            ),
        ));
    }
    None
}

/// The bucket an S3 management call of `actor` names: people and CI touch all of the
/// account's buckets, data scientists mostly their data and artefacts.
fn account_bucket(actor: &Actor, account: &Account, rng: &mut Rng) -> String {
    let weights: &[f64] = match actor.role {
        Role::Person(crate::org::Team::DataScientist) => &[0.5, 0.4, 0.1],
        _ => &[0.4, 0.2, 0.4],
    };
    let prefix = BUCKET_PREFIXES
        .get(rng.weighted(weights))
        .copied()
        .unwrap_or("data");
    account.bucket(prefix)
}

/// `resources` of an S3 bucket call, as CloudTrail writes it for the owner's account.
fn bucket_resources(account: &Account, bucket: &str) -> String {
    format!(
        "[{{\"accountId\":{},\"type\":\"AWS::S3::Bucket\",\"ARN\":{}}}]",
        quoted(&account.id),
        quoted(&format!("arn:aws:s3:::{bucket}"))
    )
}

/// An ordinary fine-tuning job: training data from the account's data bucket, the
/// custom model's artefacts into its artefacts bucket. `(requestParameters, responseElements)`.
fn customization_job(account: &Account, region: &str, rng: &mut Rng) -> (String, String) {
    let base = "amazon.titan-text-express-v1";
    let job = format!("ft-{}", rng.hex(8));
    let params = format!(
        "{{\"jobName\":{job_q},\"customModelName\":{name},\"roleArn\":{role},\"baseModelIdentifier\":{base_q},\
         \"customizationType\":\"FINE_TUNING\",\"trainingDataConfig\":{{\"s3Uri\":{train}}},\
         \"outputDataConfig\":{{\"s3Uri\":{out}}},\"hyperParameters\":{{\"epochCount\":\"2\",\"batchSize\":\"1\",\"learningRate\":\"0.00001\"}}}}",
        job_q = quoted(&job),
        name = quoted(&format!("{job}-model")),
        role = quoted(&format!(
            "arn:aws:iam::{}:role/BedrockCustomizationRole",
            account.id
        )),
        base_q = quoted(base),
        train = quoted(&format!(
            "s3://{}/fine-tune/{job}/train.jsonl",
            account.bucket("data")
        )),
        out = quoted(&format!(
            "s3://{}/custom-models/{job}/",
            account.bucket("ml-artifacts")
        )),
    );
    let response = format!(
        "{{\"jobArn\":{}}}",
        quoted(&format!(
            "arn:aws:bedrock:{region}:{}:model-customization-job/{base}.{}",
            account.id,
            rng.base32(12).to_lowercase()
        ))
    );
    (params, response)
}

/// Fills the placeholders of a fixed `requestParameters` template.
fn fill_params(op: &Op, actor: &Actor, account: &Account, t: i64, rng: &mut Rng) -> Option<String> {
    let Params::Fixed(raw) = op.params else {
        return None;
    };
    if !raw.bytes().any(|b| b.is_ascii_uppercase()) || !needs_fill(raw) {
        return None;
    }
    let app = actor.role_name.split('-').next().unwrap_or("app");
    let start = cloudtrail::time::format_rfc3339(t - t % 60_000 - 3_600_000);
    let end = cloudtrail::time::format_rfc3339(t - t % 60_000);
    let out = raw
        .replace("\"ACCOUNT\"", &quoted(&account.id))
        .replace("\"START\"", &quoted(&start))
        .replace("\"END\"", &quoted(&end))
        .replace("GUARDRAIL", "gr-default")
        .replace("LOGGROUP", app)
        .replace("STREAM", &rng.hex(32))
        .replace("ROLE", &format!("{app}-role"))
        .replace("SECRET", &format!("{app}/db-credentials"))
        .replace("PARAM", &format!("{app}/config"))
        .replace("TABLE", &format!("{app}-state"))
        .replace("STACK", &format!("{app}-stack"))
        .replace("FUNCTION", &format!("{app}-handler"));
    Some(out)
}

fn needs_fill(raw: &str) -> bool {
    const HOLES: &[&str] = &[
        "ACCOUNT",
        "START",
        "END",
        "GUARDRAIL",
        "LOGGROUP",
        "STREAM",
        "ROLE",
        "SECRET",
        "PARAM",
        "TABLE",
        "STACK",
        "FUNCTION",
    ];
    HOLES.iter().any(|h| raw.contains(h))
}

fn assume_role(
    actor: &Actor,
    account: &Account,
    service: &'static str,
    t: i64,
    rng: &mut Rng,
    buf: &mut Vec<u8>,
) -> Produced {
    let session = rng.hex(32);
    let key = format!("ASIA{}", rng.base32(16));
    let params = format!(
        "{{\"roleArn\":{},\"roleSessionName\":{},\"durationSeconds\":3600}}",
        quoted(&actor.role_arn),
        quoted(&session)
    );
    let expiry = cloudtrail::time::format_rfc3339(t - t % 1000 + 3_600_000);
    let response = format!(
        "{{\"credentials\":{{\"accessKeyId\":{},\"sessionToken\":\"IQoJb3JpZ2luX2VjEBYaCXVzLWVhc3QtMSJHMEUCIQD\",\"expiration\":{}}}}}",
        quoted(&key),
        quoted(&expiry)
    );
    let resources = format!(
        "[{{\"accountId\":{},\"type\":\"AWS::IAM::Role\",\"ARN\":{}}}]",
        quoted(&account.id),
        quoted(&actor.role_arn)
    );
    let shared = quoted(&rng.uuid());
    let identity = Identity::AwsService { service };
    let call = Call {
        time_ms: t,
        op: &catalog::ASSUME_ROLE,
        identity: &identity,
        region: &actor.region,
        ip: service,
        user_agent: service,
        model: "",
        error: None,
        params: Some(params),
        response: Some(response),
        extra: vec![("resources", resources), ("sharedEventID", shared)],
        console: false,
        recipient: &account.id,
        service_event: false,
    };
    let event_id = render(&call, rng, buf);
    Produced {
        region: actor.region.clone(),
        event_id,
        label: None,
    }
}

fn service_event(
    actor: &Actor,
    account: &Account,
    service: &'static str,
    t: i64,
    rng: &mut Rng,
    buf: &mut Vec<u8>,
) -> Produced {
    let key_arn = format!(
        "arn:aws:kms:{}:{}:key/{}",
        actor.region,
        account.id,
        rng.uuid()
    );
    let resources = format!(
        "[{{\"ARN\":{},\"accountId\":{},\"type\":\"AWS::KMS::Key\"}}]",
        quoted(&key_arn),
        quoted(&account.id)
    );
    let extra_data = format!("{{\"keyId\":{}}}", quoted(&key_arn));
    let client = Client::Generic(service);
    let ua = client.user_agent(service, "RotateKey");
    let call = Call {
        time_ms: t,
        op: &catalog::ROTATE_KEY,
        identity: &Identity::None,
        region: &actor.region,
        ip: service,
        user_agent: &ua,
        model: "",
        error: None,
        params: None,
        response: None,
        extra: vec![
            ("additionalEventData", extra_data),
            ("resources", resources),
        ],
        console: false,
        recipient: &account.id,
        service_event: true,
    };
    let event_id = render(&call, rng, buf);
    Produced {
        region: actor.region.clone(),
        event_id,
        label: None,
    }
}
