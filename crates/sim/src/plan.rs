//! Scenario injection: picks a victim for every scenario, renders attack events up
//! front (they are few), and installs benign drift as habit changes on principals.

use std::collections::BTreeSet;

use crate::catalog::{self, Client, Host, Op, Params};
use crate::config::SimConfig;
use crate::event::{Call, Identity, render};
use crate::json::quoted;
use crate::org::{Actor, Change, Org, Override, Role, Team, is_invocation};
use crate::rng::Rng;
use crate::scenario::{Label, ScenarioKind};

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;

/// One event ready for delivery.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub time_ms: i64,
    pub account: usize,
    pub region: String,
    pub json: Vec<u8>,
}

/// A label being filled while events are generated.
#[derive(Debug, Clone)]
pub struct LabelAcc {
    pub scenario: ScenarioKind,
    pub principal: String,
    pub account_id: String,
    pub detail: String,
    pub planned: (i64, i64),
    pub ids: Vec<(i64, String)>,
}

impl LabelAcc {
    /// The finished label: ids in time order, span of the events (or the plan).
    pub fn finish(&self) -> Label {
        let mut ids = self.ids.clone();
        ids.sort();
        let (start_ms, end_ms) = match (ids.first(), ids.last()) {
            // eventTime has whole seconds.
            (Some(f), Some(l)) => (f.0 - f.0.rem_euclid(1000), l.0 - l.0.rem_euclid(1000)),
            _ => self.planned,
        };
        Label {
            scenario: self.scenario,
            principal: self.principal.clone(),
            event_ids: ids.into_iter().map(|(_, id)| id).collect(),
            start_ms,
            end_ms,
            account_id: self.account_id.clone(),
            detail: self.detail.clone(),
        }
    }
}

/// Plans every scenario of `cfg`: returns the attack events (time-ordered) and the labels.
pub fn plan(cfg: &SimConfig, org: &mut Org, rng: &mut Rng) -> (Vec<Rendered>, Vec<LabelAcc>) {
    let mut events = Vec::new();
    let mut labels = Vec::new();
    let mut used = BTreeSet::new();
    let days = i64::from(cfg.days.max(1));
    let warmup = i64::from(cfg.warmup_days).min(days - 1);
    let span = (days - warmup - 1).max(1);
    let n = cfg.scenarios.len().max(1) as i64;
    for (i, kind) in cfg.scenarios.iter().enumerate() {
        let day = (warmup + i as i64 * span / n).min(days - 1);
        let day_ms = cfg.start_hour_ms() + day * DAY_MS;
        let mut srng = rng.fork(i as u64);
        let label = labels.len();
        if let Some(acc) = inject(
            *kind,
            cfg,
            org,
            &mut srng,
            &mut used,
            day_ms,
            label,
            &mut events,
        ) {
            labels.push(acc);
        }
    }
    events.sort_by_key(|e| e.time_ms);
    (events, labels)
}

/// Picks a principal matching `pred`, preferring one no other scenario uses.
fn choose(
    org: &Org,
    used: &mut BTreeSet<usize>,
    rng: &mut Rng,
    pred: impl Fn(&Actor) -> bool,
) -> Option<usize> {
    let all: Vec<usize> = (0..org.actors.len())
        .filter(|&i| {
            org.actors
                .get(i)
                .is_some_and(|a| a.active_from_ms == i64::MIN && pred(a))
        })
        .collect();
    let fresh: Vec<usize> = all.iter().copied().filter(|i| !used.contains(i)).collect();
    let pool = if fresh.is_empty() { &all } else { &fresh };
    let pick = *rng.pick(pool)?;
    used.insert(pick);
    Some(pick)
}

fn is_person(a: &Actor) -> bool {
    matches!(a.role, Role::Person(_))
}

fn is_bedrock_person(a: &Actor) -> bool {
    matches!(a.role, Role::Person(Team::DataScientist | Team::Developer)) && !a.models.is_empty()
}

fn is_ci(a: &Actor) -> bool {
    a.role == Role::Ci
}

fn is_app(a: &Actor) -> bool {
    a.role == Role::BedrockApp
}

fn is_role(a: &Actor) -> bool {
    matches!(a.role, Role::BedrockApp | Role::Workload)
}

fn is_signing(a: &Actor) -> bool {
    is_person(a) || is_role(a) || is_ci(a)
}

/// Chooses with a preference list: the first predicate that matches anyone wins.
fn choose_pref(
    org: &Org,
    used: &mut BTreeSet<usize>,
    rng: &mut Rng,
    preds: &[fn(&Actor) -> bool],
) -> Option<usize> {
    preds.iter().find_map(|p| choose(org, used, rng, p))
}

#[allow(clippy::too_many_arguments)]
fn inject(
    kind: ScenarioKind,
    cfg: &SimConfig,
    org: &mut Org,
    rng: &mut Rng,
    used: &mut BTreeSet<usize>,
    day_ms: i64,
    label: usize,
    events: &mut Vec<Rendered>,
) -> Option<LabelAcc> {
    use ScenarioKind as K;
    let victim = match kind {
        K::LlmjackingStolenKey
        | K::LoggingDisabled
        | K::ModelAccessEnablement
        | K::RegionFanOutProbing => choose_pref(org, used, rng, &[is_ci, is_role, is_signing])?,
        K::GuardrailDeleted | K::SubtleNewAsnNewUa => {
            choose_pref(org, used, rng, &[is_bedrock_person, is_person, is_signing])?
        }
        K::CustomizationToForeignBucket => choose_pref(
            org,
            used,
            rng,
            &[
                |a| a.role == Role::Person(Team::DataScientist),
                is_bedrock_person,
                is_signing,
            ],
        )?,
        K::ExfiltratedRoleCredentials | K::VolumeSpike | K::NewModelAdoption => {
            choose_pref(org, used, rng, &[is_app, is_role, is_signing])?
        }
        K::SdkUpgrade => choose_pref(org, used, rng, &[is_role, is_signing])?,
        K::RegionFailover => {
            let home = cfg.region.clone();
            choose(org, used, rng, |a| is_app(a) && a.region == home)
                .or_else(|| choose_pref(org, used, rng, &[is_app, is_role]))?
        }
        K::TravelWithinCountry => choose(org, used, rng, |a| is_person(a) && a.tz_hours == -8)
            .or_else(|| choose(org, used, rng, is_person))?,
        K::NewJoiner => {
            let mate = choose_pref(org, used, rng, &[is_bedrock_person, is_person])?;
            let (account, team) = match org.actors.get(mate)?.role {
                Role::Person(t) => (org.actors.get(mate)?.account, t),
                _ => return None,
            };
            let start = day_ms + 16 * HOUR_MS;
            let joiner = org.new_joiner(rng, account, team, start)?;
            used.insert(joiner);
            joiner
        }
    };
    if kind.is_attack() {
        attack(kind, org, rng, victim, day_ms, label, events)
    } else {
        drift(kind, org, rng, victim, day_ms, label)
    }
}

fn drift(
    kind: ScenarioKind,
    org: &mut Org,
    rng: &mut Rng,
    victim: usize,
    day_ms: i64,
    label: usize,
) -> Option<LabelAcc> {
    use ScenarioKind as K;
    let start = day_ms + 15 * HOUR_MS + rng.below(2 * HOUR_MS as u64) as i64;
    let actor = org.actors.get_mut(victim)?;
    let (change, end, label_until, detail) = match kind {
        K::SdkUpgrade => {
            actor.client = Client::JavaV1 {
                version: "1.12.681",
            };
            (
                Change::Client(Client::JavaV2 { version: "2.25.16" }),
                i64::MAX,
                start + 3 * DAY_MS,
                "aws-sdk-java 1.12.681 -> 2.25.16, same place and calls".to_owned(),
            )
        }
        K::TravelWithinCountry => {
            let hotel = catalog::TRAVEL_NEW_YORK.ip(rng);
            let end = start + 3 * DAY_MS;
            let detail = format!(
                "works from New York ({hotel}, AS12271) for three days, same client and models"
            );
            (Change::Ips(vec![hotel]), end, end, detail)
        }
        K::NewJoiner => (
            Change::Joined,
            i64::MAX,
            start + 5 * DAY_MS,
            "new Identity Center person behaving like their team".to_owned(),
        ),
        K::NewModelAdoption => {
            actor.models = vec![catalog::ADOPTION_FROM];
            (
                Change::Model {
                    from: catalog::ADOPTION_FROM,
                    to: catalog::ADOPTION_TO,
                },
                i64::MAX,
                start + 3 * DAY_MS,
                format!("{} -> {}", catalog::ADOPTION_FROM, catalog::ADOPTION_TO),
            )
        }
        K::RegionFailover => {
            let to = catalog::paired_region(&actor.region).to_owned();
            let range = catalog::aws_range(&to);
            let ips = (0..2).map(|_| range.ip(rng)).collect();
            let end = start + DAY_MS;
            let detail = format!("{} -> {to} for a day, AWS addresses", actor.region);
            (Change::Region { region: to, ips }, end, end, detail)
        }
        _ => return None,
    };
    let start = if kind == K::NewJoiner {
        actor.active_from_ms
    } else {
        start
    };
    actor.overrides.push(Override {
        label,
        start_ms: start,
        end_ms: end,
        label_until_ms: label_until,
        change,
    });
    let account = org.accounts.get(actor.account)?;
    let principal = actor.identity_at(account, start, false).principal_key("");
    Some(LabelAcc {
        scenario: kind,
        principal,
        account_id: account.id.clone(),
        detail,
        planned: (start, label_until.min(end)),
        ids: Vec::new(),
    })
}

/// Renders an attacker's (or a misused principal's) calls.
struct Actor2<'a> {
    org: &'a Org,
    actor: &'a Actor,
    ips: Vec<String>,
    client: Client,
    /// A stolen session, fixed for the whole attack; `None`: the principal's own.
    identity: Option<Identity>,
    rng: &'a mut Rng,
    out: &'a mut Vec<Rendered>,
    ids: Vec<(i64, String)>,
}

impl Actor2<'_> {
    fn call(
        &mut self,
        t: i64,
        op: &Op,
        region: &str,
        model: &str,
        error: Option<(&'static str, String)>,
        params: Option<String>,
    ) {
        self.call_full(t, op, region, model, error, params, None);
    }

    #[allow(clippy::too_many_arguments)]
    fn call_full(
        &mut self,
        t: i64,
        op: &Op,
        region: &str,
        model: &str,
        error: Option<(&'static str, String)>,
        params: Option<String>,
        response: Option<String>,
    ) {
        let Some(account) = self.org.accounts.get(self.actor.account) else {
            return;
        };
        let identity = match &self.identity {
            Some(id) => id.clone(),
            None => self.actor.identity_at(account, t, self.client.is_console()),
        };
        let ip = self
            .ips
            .get(self.rng.index(self.ips.len()))
            .cloned()
            .unwrap_or_default();
        let ua = self.client.user_agent(op.source, op.name);
        let call = Call {
            time_ms: t,
            op,
            identity: &identity,
            region,
            ip: &ip,
            user_agent: &ua,
            model,
            error,
            params,
            response,
            extra: Vec::new(),
            console: self.client.is_console(),
            recipient: &account.id,
            service_event: false,
        };
        let mut json = Vec::with_capacity(1500);
        let id = render(&call, self.rng, &mut json);
        self.ids.push((t, id));
        self.out.push(Rendered {
            time_ms: t,
            account: self.actor.account,
            region: region.to_owned(),
            json,
        });
    }

    fn principal(&self, t: i64) -> String {
        match (&self.identity, self.org.accounts.get(self.actor.account)) {
            (Some(id), _) => id.principal_key(""),
            (None, Some(acct)) => self.actor.identity_at(acct, t, false).principal_key(""),
            (None, None) => String::new(),
        }
    }

    /// Seconds to wait between two calls of a script.
    fn gap(&mut self, lo_s: u64, hi_s: u64) -> i64 {
        self.rng.range(lo_s * 1000, hi_s * 1000) as i64
    }
}

fn access_denied(model: &str) -> (&'static str, String) {
    let _ = model;
    (
        "AccessDenied",
        "You don't have access to the model with the specified model ID.".to_owned(),
    )
}

fn on_demand_unsupported(model: &str) -> (&'static str, String) {
    (
        "ValidationException",
        format!(
            "Invocation of model ID {model} with on-demand throughput isn't supported. Retry your request with the ID or ARN of an inference profile that contains this model."
        ),
    )
}

const GET_GUARDRAIL: Op = Op {
    source: "bedrock.amazonaws.com",
    name: "GetGuardrail",
    read_only: true,
    host: Host::Regional("bedrock"),
    params: Params::Fixed(
        "{\"guardrailIdentifier\":\"gr-default\",\"guardrailVersion\":\"DRAFT\"}",
    ),
    version: "1.09",
};

fn generic(rng: &mut Rng, choices: &[&'static str]) -> Client {
    Client::Generic(
        rng.pick(choices)
            .copied()
            .unwrap_or("python-requests/2.31.0"),
    )
}

fn invocation_ops(actor: &Actor) -> Vec<(Op, f64)> {
    let ops: Vec<(Op, f64)> = actor
        .mix
        .iter()
        .filter(|(op, _)| is_invocation(op))
        .copied()
        .collect();
    if ops.is_empty() {
        vec![(catalog::INVOKE_MODEL, 1.0)]
    } else {
        ops
    }
}

#[allow(clippy::too_many_lines)]
fn attack(
    kind: ScenarioKind,
    org: &Org,
    rng: &mut Rng,
    victim: usize,
    day_ms: i64,
    label: usize,
    events: &mut Vec<Rendered>,
) -> Option<LabelAcc> {
    use ScenarioKind as K;
    let _ = label;
    let actor = org.actors.get(victim)?;
    let account = org.accounts.get(actor.account)?;
    let home = if actor.region.is_empty() {
        org.region.clone()
    } else {
        actor.region.clone()
    };
    // Attackers work at any hour; misuse from a principal's own place happens in its working day.
    let odd_hour = day_ms + rng.range(0, 23) as i64 * HOUR_MS + rng.below(HOUR_MS as u64) as i64;
    let work_hour = day_ms + (10 - actor.tz_hours) * HOUR_MS + rng.below(HOUR_MS as u64) as i64;
    let stolen = |t: i64| actor.identity_at(account, t, false);
    let model = rng
        .pick(catalog::ATTACKER_MODELS)
        .copied()
        .unwrap_or("anthropic.claude-3-opus-20240229-v1:0");
    let own_model = actor
        .models
        .first()
        .copied()
        .unwrap_or("anthropic.claude-3-haiku-20240307-v1:0");
    let (ips, client, identity, start, detail) = match kind {
        K::LlmjackingStolenKey => {
            let ips: Vec<String> = (0..rng.range(1, 2))
                .map(|_| catalog::VPS_AMSTERDAM.ip(rng))
                .collect();
            let c = generic(rng, &catalog::GENERIC_CLIENTS[..3]);
            let d = format!(
                "stolen key from AS48090 (Amsterdam VPS), {}, model {model}",
                c.user_agent("", "")
            );
            (ips, c, Some(stolen(odd_hour)), odd_hour, d)
        }
        K::LoggingDisabled => {
            let ips = vec![catalog::ANONYMISER_BERLIN.ip(rng)];
            let c = Client::Generic("Python/3.11 aiohttp/3.9.3");
            (
                ips,
                c,
                Some(stolen(odd_hour)),
                odd_hour,
                format!("invocation logging deleted from AS208294, then {model}"),
            )
        }
        K::GuardrailDeleted => {
            let ips = vec![catalog::HOSTING_MOSCOW.ip(rng)];
            let c = Client::Generic("python-requests/2.31.0");
            (
                ips,
                c,
                Some(stolen(odd_hour)),
                odd_hour,
                "hijacked session from AS49505 removes the guardrail, then invokes".to_owned(),
            )
        }
        K::ExfiltratedRoleCredentials => {
            let ips = vec![catalog::CLOUD_SINGAPORE.ip(rng)];
            let c = if rng.chance(0.5) {
                Client::Generic("python-requests/2.31.0")
            } else {
                Client::Boto3 {
                    version: "1.34.100",
                    os: "windows#10",
                }
            };
            let d = format!(
                "role session used from AS14061 (Singapore) with {}",
                c.user_agent("", "")
            );
            (ips, c, Some(stolen(odd_hour)), odd_hour, d)
        }
        K::VolumeSpike => (
            actor.ips.clone(),
            actor.client.clone(),
            None,
            work_hour,
            String::new(),
        ),
        K::CustomizationToForeignBucket => {
            let ips = actor.ips.clone();
            (ips, actor.client.clone(), None, work_hour, String::new())
        }
        K::SubtleNewAsnNewUa => {
            let ips = vec![catalog::VPS_AMSTERDAM.ip(rng)];
            let c = Client::Boto3 {
                version: "1.34.100",
                os: "windows#10",
            };
            (
                ips,
                c,
                Some(stolen(work_hour)),
                work_hour,
                format!(
                    "usual model {own_model} at usual volume from AS48090 with Boto3 on Windows"
                ),
            )
        }
        K::ModelAccessEnablement => {
            let ips = vec![catalog::HOSTING_MOSCOW.ip(rng)];
            let c = Client::Boto3 {
                version: "1.34.100",
                os: "linux#5.15.0-101-generic",
            };
            (
                ips,
                c,
                Some(stolen(odd_hour)),
                odd_hour,
                "model access enabled from AS49505 for never-used models".to_owned(),
            )
        }
        K::RegionFanOutProbing => {
            let ips = vec![catalog::ANONYMISER_BERLIN.ip(rng)];
            (
                ips,
                Client::Generic("curl/8.5.0"),
                Some(stolen(odd_hour)),
                odd_hour,
                "curl probes Bedrock in ten regions from AS208294".to_owned(),
            )
        }
        _ => return None,
    };
    let mut a = Actor2 {
        org,
        actor,
        ips,
        client,
        identity,
        rng,
        out: events,
        ids: Vec::new(),
    };
    let mut t = start;
    let mut detail = detail;
    match kind {
        K::LlmjackingStolenKey => {
            let mut regions = vec![home.clone()];
            for r in catalog::PROBE_REGIONS {
                if regions.len() < 3 && *r != home && a.rng.chance(0.4) {
                    regions.push((*r).to_owned());
                }
            }
            a.call(t, &catalog::GET_CALLER_IDENTITY, &home, "", None, None);
            for r in &regions {
                t += a.gap(1, 8);
                a.call(t, &catalog::GET_LOGGING, r, "", None, None);
                t += a.gap(1, 8);
                a.call(t, &catalog::LIST_FOUNDATION_MODELS, r, "", None, None);
            }
            for op in [
                &catalog::GET_AVAILABILITY,
                &catalog::LIST_AGREEMENT_OFFERS,
                &catalog::GET_USE_CASE,
            ] {
                t += a.gap(1, 10);
                a.call(t, op, &home, model, None, None);
            }
            t += a.gap(60, 300);
            a.call(t, &catalog::PUT_USE_CASE, &home, model, None, None);
            t += a.gap(2, 20);
            let offer = format!(
                "{{\"offerToken\":{},\"modelId\":{}}}",
                quoted(&a.rng.hex(64)),
                quoted(model)
            );
            a.call(
                t,
                &catalog::CREATE_AGREEMENT,
                &home,
                model,
                None,
                Some(offer),
            );
            t += a.gap(2, 20);
            a.call(t, &catalog::PUT_ENTITLEMENT, &home, model, None, None);
            for r in catalog::PROBE_REGIONS
                .iter()
                .filter(|r| !regions.iter().any(|x| x == *r))
                .take(3)
            {
                t += a.gap(1, 5);
                a.call(
                    t,
                    &catalog::INVOKE_MODEL,
                    r,
                    model,
                    Some(access_denied(model)),
                    None,
                );
            }
            t += a.gap(1, 5);
            a.call(
                t,
                &catalog::INVOKE_MODEL,
                &home,
                model,
                Some(on_demand_unsupported(model)),
                None,
            );
            let bursts = a.rng.range(3, 5);
            for _ in 0..bursts {
                t += a.gap(20 * 60, 90 * 60);
                let region = regions
                    .get(a.rng.index(regions.len()))
                    .cloned()
                    .unwrap_or_else(|| home.clone());
                for _ in 0..a.rng.range(30, 120) {
                    t += a.gap(0, 4) + 300;
                    let op = if a.rng.chance(0.6) {
                        &catalog::INVOKE_MODEL
                    } else {
                        &catalog::INVOKE_STREAM
                    };
                    let err = a.rng.chance(0.03).then(|| on_demand_unsupported(model));
                    a.call(t, op, &region, model, err, None);
                }
            }
        }
        K::LoggingDisabled => {
            a.call(t, &catalog::GET_LOGGING, &home, "", None, None);
            t += a.gap(5, 60);
            a.call(t, &catalog::DELETE_LOGGING, &home, "", None, None);
            t += a.gap(60, 600);
            for _ in 0..a.rng.range(40, 150) {
                t += a.gap(5, 50);
                a.call(t, &catalog::INVOKE_MODEL, &home, model, None, None);
            }
        }
        K::GuardrailDeleted => {
            a.call(t, &catalog::LIST_GUARDRAILS, &home, "", None, None);
            t += a.gap(5, 30);
            a.call(t, &GET_GUARDRAIL, &home, "", None, None);
            t += a.gap(5, 60);
            let op = if a.rng.chance(0.5) {
                &catalog::DELETE_GUARDRAIL
            } else {
                &catalog::UPDATE_GUARDRAIL
            };
            let params = match op.params {
                Params::Fixed(raw) => Some(raw.replace("GUARDRAIL", "gr-default")),
                _ => None,
            };
            a.call(t, op, &home, "", None, params);
            detail = format!("{} ({})", detail, op.name);
            for _ in 0..a.rng.range(30, 100) {
                t += a.gap(10, 90);
                a.call(t, &catalog::CONVERSE, &home, own_model, None, None);
            }
        }
        K::ExfiltratedRoleCredentials => {
            a.call(t, &catalog::GET_CALLER_IDENTITY, &home, "", None, None);
            t += a.gap(10, 120);
            a.call(t, &catalog::LIST_FOUNDATION_MODELS, &home, "", None, None);
            for _ in 0..a.rng.range(40, 150) {
                t += a.gap(10, 80);
                let m = if a.rng.chance(0.7) { own_model } else { model };
                a.call(t, &catalog::INVOKE_MODEL, &home, m, None, None);
            }
        }
        K::VolumeSpike => {
            let ops = invocation_ops(actor);
            let weights: Vec<f64> = ops.iter().map(|(_, w)| *w).collect();
            let factor = a.rng.range(20, 50) as f64;
            let hours = a.rng.range(2, 4) as i64;
            let hour0 = start - start % HOUR_MS;
            for h in 0..hours {
                let base = hour0 + h * HOUR_MS;
                let rate = actor.lambda(base) * actor.invoke_share() * factor;
                let n = a.rng.poisson(rate).max(40);
                let mut times: Vec<i64> = (0..n)
                    .map(|_| base + a.rng.below(HOUR_MS as u64) as i64)
                    .collect();
                times.sort_unstable();
                for tt in times {
                    let op = ops
                        .get(a.rng.weighted(&weights))
                        .map_or(catalog::INVOKE_MODEL, |(op, _)| *op);
                    let m = actor
                        .models
                        .get(a.rng.index(actor.models.len()))
                        .copied()
                        .unwrap_or(own_model);
                    a.call(tt, &op, &home, m, None, None);
                }
            }
            detail = format!(
                "{factor}x the usual hourly invocation rate for {hours} hours, own place and client"
            );
        }
        K::CustomizationToForeignBucket => {
            let foreign = loop {
                let id = format!("{:012}", a.rng.range(100_000_000_000, 999_999_999_999));
                if !org.accounts.iter().any(|x| x.id == id) {
                    break id;
                }
            };
            let base = "amazon.titan-text-express-v1";
            a.call(t, &catalog::LIST_CUSTOM_MODELS, &home, "", None, None);
            t += a.gap(20, 200);
            a.call(t, &catalog::GET_FOUNDATION_MODEL, &home, base, None, None);
            t += a.gap(30, 300);
            let job = format!("ft-{}", a.rng.hex(8));
            let bucket = format!("model-exports-{foreign}");
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
                train = quoted(&format!("s3://data-{}/fine-tune/train.jsonl", account.id)),
                out = quoted(&format!("s3://{bucket}/output/")),
            );
            let response = format!(
                "{{\"jobArn\":{}}}",
                quoted(&format!(
                    "arn:aws:bedrock:{home}:{}:model-customization-job/{}.{}",
                    account.id,
                    base,
                    a.rng.base32(12).to_lowercase()
                ))
            );
            a.call_full(
                t,
                &catalog::CREATE_CUSTOMIZATION_JOB,
                &home,
                "",
                None,
                Some(params),
                Some(response),
            );
            detail = format!("customization job output to s3://{bucket}/ (account {foreign})");
        }
        K::SubtleNewAsnNewUa => {
            let ops = invocation_ops(actor);
            let weights: Vec<f64> = ops.iter().map(|(_, w)| *w).collect();
            let hour0 = start - start % HOUR_MS;
            for h in 0..3 {
                let base = hour0 + h * HOUR_MS;
                let n = a
                    .rng
                    .poisson(actor.lambda(base) * actor.invoke_share())
                    .max(2);
                let mut times: Vec<i64> = (0..n)
                    .map(|_| base + a.rng.below(HOUR_MS as u64) as i64)
                    .collect();
                times.sort_unstable();
                for tt in times {
                    let op = ops
                        .get(a.rng.weighted(&weights))
                        .map_or(catalog::INVOKE_MODEL, |(op, _)| *op);
                    let m = actor
                        .models
                        .get(a.rng.index(actor.models.len()))
                        .copied()
                        .unwrap_or(own_model);
                    a.call(tt, &op, &home, m, None, None);
                }
            }
        }
        K::ModelAccessEnablement => {
            a.call(t, &catalog::GET_USE_CASE, &home, "", None, None);
            t += a.gap(5, 60);
            a.call(t, &catalog::PUT_USE_CASE, &home, "", None, None);
            for m in catalog::ATTACKER_MODELS.iter().take(2) {
                t += a.gap(5, 60);
                a.call(t, &catalog::LIST_AGREEMENT_OFFERS, &home, m, None, None);
                t += a.gap(5, 60);
                let offer = format!(
                    "{{\"offerToken\":{},\"modelId\":{}}}",
                    quoted(&a.rng.hex(64)),
                    quoted(m)
                );
                a.call(t, &catalog::CREATE_AGREEMENT, &home, m, None, Some(offer));
                t += a.gap(5, 60);
                a.call(t, &catalog::PUT_ENTITLEMENT, &home, m, None, None);
            }
        }
        K::RegionFanOutProbing => {
            for r in catalog::PROBE_REGIONS {
                t += a.gap(5, 90);
                let err = a.rng.chance(0.5).then(|| {
                    (
                        "AccessDenied",
                        format!(
                            "User is not authorized to perform: bedrock:ListFoundationModels in {r}"
                        ),
                    )
                });
                a.call(t, &catalog::LIST_FOUNDATION_MODELS, r, "", err, None);
                t += a.gap(1, 10);
                let err = if a.rng.chance(0.5) {
                    access_denied(model)
                } else {
                    on_demand_unsupported(model)
                };
                let err = if a.rng.chance(0.85) { Some(err) } else { None };
                a.call(t, &catalog::INVOKE_MODEL, r, model, err, None);
            }
        }
        _ => return None,
    }
    let ids = std::mem::take(&mut a.ids);
    let principal = a.principal(start);
    let end = ids.last().map_or(start, |x| x.0);
    Some(LabelAcc {
        scenario: kind,
        principal,
        account_id: account.id.clone(),
        detail,
        planned: (start, end),
        ids,
    })
}
