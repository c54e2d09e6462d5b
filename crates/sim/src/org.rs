//! The simulated organisation: accounts and the principals in them, with the habits
//! (places, clients, models, hours, volume) their ordinary traffic follows.

use std::collections::BTreeSet;

use crate::catalog::{self, Client, Mix, Op};
use crate::config::SimConfig;
use crate::event::Identity;
use crate::rng::{Rng, mix};

const HOUR_MS: i64 = 3_600_000;
/// Share of days a person does not work at all.
const DAYS_OFF_PERCENT: u64 = 6;

/// One AWS account.
#[derive(Debug, Clone)]
pub struct Account {
    /// 12-digit account id.
    pub id: String,
    /// Egress addresses of the Seattle office.
    pub office_ips: Vec<String>,
    /// Egress addresses of the London office.
    pub london_ips: Vec<String>,
    /// Identity Center role name per team.
    pub sso_roles: Vec<(Team, String, String)>,
    /// Models each team uses.
    pub team_models: Vec<(Team, Vec<&'static str>)>,
}

/// The prefixes of an account's S3 buckets (`<prefix>-<account id>`): training data,
/// model artefacts, application logs.
pub const BUCKET_PREFIXES: [&str; 3] = ["data", "ml-artifacts", "app-logs"];

impl Account {
    /// The account's bucket with `prefix` (one of [`BUCKET_PREFIXES`]).
    pub fn bucket(&self, prefix: &str) -> String {
        format!("{prefix}-{}", self.id)
    }
}

/// The permission set (and habits) of an Identity Center person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Team {
    DataScientist,
    Developer,
    PlatformAdmin,
    ReadOnly,
}

impl Team {
    fn name(self) -> &'static str {
        match self {
            Self::DataScientist => "DataScientist",
            Self::Developer => "Developer",
            Self::PlatformAdmin => "PlatformAdmin",
            Self::ReadOnly => "ReadOnly",
        }
    }

    fn mix(self) -> Mix {
        match self {
            Self::DataScientist => catalog::MIX_DATA_SCIENTIST,
            Self::Developer => catalog::MIX_DEVELOPER,
            Self::PlatformAdmin => catalog::MIX_ADMIN,
            Self::ReadOnly => catalog::MIX_READ_ONLY,
        }
    }

    fn volume(self) -> f64 {
        match self {
            Self::DataScientist => 1.0,
            Self::Developer => 1.2,
            Self::PlatformAdmin => 0.9,
            Self::ReadOnly => 0.5,
        }
    }

    const ALL: [Team; 4] = [
        Self::DataScientist,
        Self::Developer,
        Self::PlatformAdmin,
        Self::ReadOnly,
    ];
}

/// What a principal is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// An Identity Center person.
    Person(Team),
    /// A service role of an application that calls Bedrock.
    BedrockApp,
    /// A service role of an ordinary workload.
    Workload,
    /// An IAM user with a long-term key (CI, batch jobs).
    Ci,
    /// An AWS service assuming roles in the account (`AWSService` identity).
    ServiceCaller(&'static str),
    /// An AWS service emitting `AwsServiceEvent`s (no identity).
    ServiceEvent(&'static str),
}

/// A temporary or permanent change of habit (benign drift).
#[derive(Debug, Clone)]
pub struct Override {
    /// Index of the label this drift feeds.
    pub label: usize,
    pub start_ms: i64,
    /// When the change ends (`i64::MAX`: never).
    pub end_ms: i64,
    /// Events before this are labelled.
    pub label_until_ms: i64,
    pub change: Change,
}

/// What a drift changes.
#[derive(Debug, Clone)]
pub enum Change {
    Client(Client),
    Ips(Vec<String>),
    Model {
        from: &'static str,
        to: &'static str,
    },
    Region {
        region: String,
        ips: Vec<String>,
    },
    /// The principal itself is new.
    Joined,
}

/// One principal and its habits.
#[derive(Debug, Clone)]
pub struct Actor {
    pub account: usize,
    pub role: Role,
    pub seed: u64,
    pub mix: Mix,
    pub weights: Vec<f64>,
    pub client: Client,
    /// A second client a person uses now and then (console or CLI).
    pub second_client: Option<Client>,
    /// A routine minor upgrade of the main client, from a time on.
    pub client_update: Option<(i64, Client)>,
    pub region: String,
    /// Usual source addresses (weighted equally).
    pub ips: Vec<String>,
    /// A person's home address, used evenings, weekends and some weekdays.
    pub home_ip: Option<String>,
    /// Hours from UTC of the principal's working day.
    pub tz_hours: i64,
    pub models: Vec<&'static str>,
    /// Mean events per day.
    pub per_day: f64,
    /// Mean of the hourly weights over a week.
    pub norm: f64,
    pub active_from_ms: i64,
    /// IAM user name or role session name.
    pub name: String,
    pub role_name: String,
    pub role_arn: String,
    /// `AROA...` / `AIDA...`.
    pub principal_id: String,
    /// The long-term key of an IAM user.
    pub access_key: String,
    pub ec2: bool,
    pub overrides: Vec<Override>,
}

impl Actor {
    /// Relative activity in an hour of the week (UTC, 0 = Monday 00:00).
    pub fn weight(&self, hour_of_week: i64) -> f64 {
        let local = (hour_of_week + self.tz_hours).rem_euclid(168);
        let (day, hour) = (local / 24, local % 24);
        let weekday = day < 5;
        match self.role {
            Role::Person(_) => match (weekday, hour) {
                (true, 9..=11 | 13..=16) => 1.0,
                (true, 12 | 17) => 0.6,
                (true, 8 | 18) => 0.35,
                (true, 19..=21) => 0.08,
                (true, _) => 0.005,
                (false, 10..=17) => 0.03,
                (false, _) => 0.0,
            },
            Role::BedrockApp | Role::Workload => {
                let phase = (hour as f64 - 9.0) / 24.0 * std::f64::consts::TAU;
                let base = 1.0 + 0.45 * phase.sin();
                if weekday { base } else { base * 0.7 }
            }
            Role::Ci => match (weekday, hour) {
                (_, 2) => 2.5,
                (true, 9..=18) => 1.0,
                (true, _) => 0.05,
                (false, _) => 0.02,
            },
            Role::ServiceCaller(_) | Role::ServiceEvent(_) => 1.0,
        }
    }

    /// Expected events in the hour starting at `hour_ms`.
    pub fn lambda(&self, hour_ms: i64) -> f64 {
        if self.norm <= 0.0 {
            return 0.0;
        }
        let how = cloudtrail::time::hour_of_week(hour_ms);
        let base = self.per_day / 24.0 * self.weight(i64::from(how)) / self.norm;
        if !matches!(self.role, Role::Person(_)) {
            return base;
        }
        // People take days off (holidays, sick days): the other days make up for them,
        // so the mean stays `per_day`.
        let local_day = (hour_ms.div_euclid(HOUR_MS) + self.tz_hours).div_euclid(24);
        if mix(self.seed ^ mix(local_day as u64)) % 100 < DAYS_OFF_PERCENT {
            0.0
        } else {
            base * 100.0 / (100 - DAYS_OFF_PERCENT) as f64
        }
    }

    /// The share of this principal's calls that are model invocations.
    pub fn invoke_share(&self) -> f64 {
        let total: f64 = self.weights.iter().sum();
        let inv: f64 = self
            .mix
            .iter()
            .filter(|(op, _)| is_invocation(op))
            .map(|(_, w)| w)
            .sum();
        if total > 0.0 { inv / total } else { 0.0 }
    }

    /// The identity that signs a call at `t`: the user's key, or the session live then.
    pub fn identity_at(&self, account: &Account, t: i64, console: bool) -> Identity {
        match &self.role {
            Role::Ci => Identity::IamUser {
                account: account.id.clone(),
                user: self.name.clone(),
                user_id: self.principal_id.clone(),
                access_key: self.access_key.clone(),
            },
            Role::Person(_) | Role::BedrockApp | Role::Workload => {
                let slot_ms = if matches!(self.role, Role::Person(_)) {
                    8 * HOUR_MS
                } else {
                    HOUR_MS
                };
                let slot = t.div_euclid(slot_ms);
                let mut r = Rng::new(mix(self.seed ^ mix(slot as u64) ^ u64::from(console)));
                Identity::AssumedRole {
                    account: account.id.clone(),
                    role_arn: self.role_arn.clone(),
                    role_name: self.role_name.clone(),
                    role_id: self.principal_id.clone(),
                    session: self.name.clone(),
                    access_key: format!("ASIA{}", r.base32(16)),
                    created_ms: slot * slot_ms + r.range(0, 600) as i64 * 1000,
                    mfa: false,
                    ec2: self.ec2,
                }
            }
            Role::ServiceCaller(service) => Identity::AwsService { service },
            Role::ServiceEvent(_) => Identity::None,
        }
    }
}

/// True for a Bedrock runtime invocation.
pub fn is_invocation(op: &Op) -> bool {
    matches!(
        op.name,
        "InvokeModel" | "InvokeModelWithResponseStream" | "Converse" | "ConverseStream"
    )
}

/// All accounts and principals.
#[derive(Debug, Clone)]
pub struct Org {
    pub accounts: Vec<Account>,
    pub actors: Vec<Actor>,
    /// The home region.
    pub region: String,
}

impl Org {
    /// Builds the organisation `cfg` describes.
    pub fn build(cfg: &SimConfig, rng: &mut Rng) -> Self {
        let n_accounts = cfg.accounts.max(1);
        let mut accounts = Vec::with_capacity(n_accounts);
        let mut actors = Vec::with_capacity(cfg.principals);
        let mut ids = BTreeSet::new();
        for a in 0..n_accounts {
            let account = new_account(rng, &mut ids);
            let share = cfg.principals / n_accounts + usize::from(a < cfg.principals % n_accounts);
            add_actors(cfg, rng, a, &account, share, &mut actors);
            accounts.push(account);
        }
        for actor in &mut actors {
            add_client_habits(cfg, rng, actor);
        }
        let total: f64 = actors.iter().map(|a| a.per_day).sum();
        if total > 0.0 {
            let scale = cfg.events_per_principal_day * actors.len() as f64 / total;
            for a in &mut actors {
                a.per_day *= scale;
            }
        }
        Self {
            accounts,
            actors,
            region: cfg.region.clone(),
        }
    }

    /// A new Identity Center person on `team` in `account`, shaped like the team.
    pub fn new_joiner(
        &mut self,
        rng: &mut Rng,
        account: usize,
        team: Team,
        from_ms: i64,
    ) -> Option<usize> {
        let acct = self.accounts.get(account)?;
        let per_day = {
            let mates: Vec<f64> = self
                .actors
                .iter()
                .filter(|a| a.account == account && a.role == Role::Person(team))
                .map(|a| a.per_day)
                .collect();
            if mates.is_empty() {
                10.0
            } else {
                mates.iter().sum::<f64>() / mates.len() as f64
            }
        };
        let taken: BTreeSet<String> = self
            .actors
            .iter()
            .filter(|a| a.account == account)
            .map(|a| a.name.clone())
            .collect();
        let seat = Seat {
            account,
            team,
            index: taken.len() + 7,
            place: Place::Seattle,
        };
        let mut actor = person(rng, seat, acct, &taken, &self.region);
        actor.per_day = per_day;
        actor.active_from_ms = from_ms;
        if rng.chance(0.4) {
            actor.second_client = Some(actor.client.second_for_person(rng));
        }
        self.actors.push(actor);
        Some(self.actors.len() - 1)
    }
}

fn new_account(rng: &mut Rng, ids: &mut BTreeSet<String>) -> Account {
    let id = loop {
        let id = format!("{:012}", rng.range(100_000_000_000, 999_999_999_999));
        if ids.insert(id.clone()) {
            break id;
        }
    };
    let office_ips = (0..3).map(|_| catalog::OFFICE_SEATTLE.ip(rng)).collect();
    let london_ips = (0..2).map(|_| catalog::OFFICE_LONDON.ip(rng)).collect();
    let sso_roles = Team::ALL
        .iter()
        .map(|t| {
            let name = format!("AWSReservedSSO_{}_{}", t.name(), rng.hex(16));
            (*t, name, format!("AROA{}", rng.base32(17)))
        })
        .collect();
    let team_models = Team::ALL
        .iter()
        .map(|t| {
            let n = match t {
                Team::DataScientist => 3,
                Team::Developer => 2,
                Team::PlatformAdmin => 1,
                Team::ReadOnly => 0,
            };
            let mut pool = catalog::ORG_MODELS.to_vec();
            rng.shuffle(&mut pool);
            pool.truncate(n);
            (*t, pool)
        })
        .collect();
    Account {
        id,
        office_ips,
        london_ips,
        sso_roles,
        team_models,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Seattle,
    London,
    Paris,
}

fn add_actors(
    cfg: &SimConfig,
    rng: &mut Rng,
    a: usize,
    account: &Account,
    n: usize,
    out: &mut Vec<Actor>,
) {
    let services = if n >= 6 { 2 } else { 0 };
    let rest = n - services;
    let ci = if rest >= 4 {
        (rest * 12 / 100).max(1)
    } else {
        0
    };
    let roles = if rest >= 2 {
        (rest * 30 / 100).max(1)
    } else {
        0
    };
    let people = rest - ci - roles;
    let mut taken = BTreeSet::new();
    let mut role_arns = Vec::new();
    for i in 0..people {
        let team = match rng.weighted(&[0.35, 0.35, 0.15, 0.15]) {
            0 => Team::DataScientist,
            1 => Team::Developer,
            2 => Team::PlatformAdmin,
            _ => Team::ReadOnly,
        };
        let place = match (i, rng.f64()) {
            (4, _) => Place::Paris,
            (_, x) if x < 0.15 => Place::London,
            _ => Place::Seattle,
        };
        let actor = person(
            rng,
            Seat {
                account: a,
                team,
                index: i,
                place,
            },
            account,
            &taken,
            &cfg.region,
        );
        taken.insert(actor.name.clone());
        out.push(actor);
    }
    for i in 0..roles {
        let actor = service_role(cfg, rng, a, account, i);
        role_arns.push(actor.role_arn.clone());
        out.push(actor);
    }
    for i in 0..ci {
        out.push(ci_user(cfg, rng, a, i));
    }
    for service in ["lambda.amazonaws.com", "kms.amazonaws.com"]
        .into_iter()
        .take(services)
    {
        let role = if service == "kms.amazonaws.com" {
            Role::ServiceEvent(service)
        } else {
            Role::ServiceCaller(service)
        };
        let volume = if matches!(role, Role::ServiceEvent(_)) {
            0.05
        } else {
            2.0
        };
        let name = role_arns
            .first()
            .cloned()
            .unwrap_or_else(|| format!("arn:aws:iam::{}:role/lambda-exec-role", account.id));
        out.push(Actor {
            account: a,
            seed: rng.next_u64(),
            mix: &[],
            weights: Vec::new(),
            client: Client::Generic(service),
            second_client: None,
            client_update: None,
            region: cfg.region.clone(),
            ips: vec![service.to_owned()],
            home_ip: None,
            tz_hours: 0,
            models: Vec::new(),
            per_day: volume,
            norm: 1.0,
            active_from_ms: i64::MIN,
            name: service.to_owned(),
            role_name: String::new(),
            role_arn: name,
            principal_id: String::new(),
            access_key: String::new(),
            ec2: false,
            overrides: Vec::new(),
            role,
        });
    }
}

/// People use a second client now and then; CLIs and SDKs get minor upgrades.
fn add_client_habits(cfg: &SimConfig, rng: &mut Rng, actor: &mut Actor) {
    if !matches!(actor.role, Role::Person(_) | Role::Ci) {
        return;
    }
    if matches!(actor.role, Role::Person(_)) && rng.chance(0.4) {
        actor.second_client = Some(actor.client.second_for_person(rng));
    }
    if rng.chance(0.3)
        && let Some(newer) = actor.client.newer_minor()
    {
        let day = rng.below(u64::from(cfg.days.max(1))) as i64;
        actor.client_update = Some((cfg.start_hour_ms() + day * 86_400_000 + 18 * HOUR_MS, newer));
    }
}

fn lognormal(rng: &mut Rng) -> f64 {
    (0.5 * rng.normal()).exp()
}

fn weights(mix: Mix) -> Vec<f64> {
    mix.iter().map(|(_, w)| *w).collect()
}

/// Where a new person sits in an account.
#[derive(Debug, Clone, Copy)]
struct Seat {
    account: usize,
    team: Team,
    index: usize,
    place: Place,
}

fn person(
    rng: &mut Rng,
    seat: Seat,
    account: &Account,
    taken: &BTreeSet<String>,
    region: &str,
) -> Actor {
    let Seat {
        account: a,
        team,
        index: i,
        place,
    } = seat;
    let first = catalog::FIRST_NAMES
        .get((i * 7 + rng.index(5)) % catalog::FIRST_NAMES.len())
        .copied()
        .unwrap_or("user");
    let last = rng.pick(catalog::LAST_NAMES).copied().unwrap_or("doe");
    let mut name = format!("{first}.{last}");
    let mut k = 2;
    while taken.contains(&name) {
        name = format!("{first}.{last}{k}");
        k += 1;
    }
    let (role_name, principal_id) = account
        .sso_roles
        .iter()
        .find(|(t, _, _)| *t == team)
        .map(|(_, n, id)| (n.clone(), id.clone()))
        .unwrap_or_default();
    let models = account
        .team_models
        .iter()
        .find(|(t, _)| *t == team)
        .map(|(_, m)| m.clone())
        .unwrap_or_default();
    let (ips, home_ip, tz) = match place {
        Place::Seattle => (
            account.office_ips.clone(),
            Some(catalog::HOME_PORTLAND.ip(rng)),
            -8,
        ),
        Place::London => (
            account.london_ips.clone(),
            Some(catalog::OFFICE_LONDON.ip(rng)),
            0,
        ),
        Place::Paris => (vec![catalog::ABROAD_PARIS.ip(rng)], None, 1),
    };
    let mix = team.mix();
    let mut actor = Actor {
        account: a,
        role: Role::Person(team),
        seed: rng.next_u64(),
        mix,
        weights: weights(mix),
        client: Client::for_person(rng),
        second_client: None,
        client_update: None,
        region: region.to_owned(),
        ips,
        home_ip,
        tz_hours: tz,
        models,
        per_day: team.volume() * lognormal(rng),
        norm: 0.0,
        active_from_ms: i64::MIN,
        role_arn: format!(
            "arn:aws:iam::{}:role/aws-reserved/sso.amazonaws.com/{role_name}",
            account.id
        ),
        role_name,
        name,
        principal_id,
        access_key: String::new(),
        ec2: false,
        overrides: Vec::new(),
    };
    actor.norm = week_norm(&actor);
    actor
}

fn service_role(cfg: &SimConfig, rng: &mut Rng, a: usize, account: &Account, i: usize) -> Actor {
    let bedrock = i == 0 || rng.chance(0.4);
    let app = catalog::APP_NAMES
        .get((i + rng.index(3)) % catalog::APP_NAMES.len())
        .copied()
        .unwrap_or("app");
    let env = ["prod", "staging"]
        .get(usize::from(rng.chance(0.25)))
        .copied()
        .unwrap_or("prod");
    let region = if i > 0 && rng.chance(0.15) {
        "eu-central-1".to_owned()
    } else {
        cfg.region.clone()
    };
    let role_name = format!("{app}-{env}-{i}");
    let (name, ec2) = match rng.index(3) {
        0 => (format!("i-0{}", rng.hex(16)), true),
        1 => (format!("{app}-{env}-handler"), false),
        _ => (rng.hex(32), false),
    };
    let range = catalog::aws_range(&region);
    let mix = if !bedrock {
        catalog::MIX_WORKLOAD
    } else if rng.chance(0.5) {
        catalog::MIX_BEDROCK_APP
    } else {
        catalog::MIX_CONVERSE_APP
    };
    let mut models: Vec<&'static str> = vec![
        rng.pick(catalog::ORG_MODELS)
            .copied()
            .unwrap_or("amazon.titan-text-express-v1"),
    ];
    if rng.chance(0.3) {
        let m = rng
            .pick(catalog::ORG_MODELS)
            .copied()
            .unwrap_or("amazon.titan-embed-text-v2:0");
        if !models.contains(&m) {
            models.push(m);
        }
    }
    let mut actor = Actor {
        account: a,
        role: if bedrock {
            Role::BedrockApp
        } else {
            Role::Workload
        },
        seed: rng.next_u64(),
        mix,
        weights: weights(mix),
        client: Client::for_service(rng),
        second_client: None,
        client_update: None,
        ips: (0..2).map(|_| range.ip(rng)).collect(),
        region,
        home_ip: None,
        tz_hours: -5,
        models,
        per_day: 3.0 * lognormal(rng),
        norm: 0.0,
        active_from_ms: i64::MIN,
        role_arn: format!("arn:aws:iam::{}:role/{role_name}", account.id),
        role_name,
        name,
        principal_id: format!("AROA{}", rng.base32(17)),
        access_key: String::new(),
        ec2,
        overrides: Vec::new(),
    };
    actor.norm = week_norm(&actor);
    actor
}

fn ci_user(cfg: &SimConfig, rng: &mut Rng, a: usize, i: usize) -> Actor {
    const NAMES: &[&str] = &[
        "ci-deployer",
        "batch-eval-bot",
        "github-actions",
        "jenkins",
        "data-sync",
        "nightly-reports",
    ];
    let base = NAMES.get(i % NAMES.len()).copied().unwrap_or("bot");
    let name = if i < NAMES.len() {
        base.to_owned()
    } else {
        format!("{base}-{i}")
    };
    let client = if rng.chance(0.5) {
        Client::AwsCli2 {
            version: "2.15.30",
            os: "linux#6.5.0-1014-aws",
        }
    } else {
        Client::Boto3 {
            version: "1.34.69",
            os: "linux#6.5.0-1014-aws",
        }
    };
    let range = catalog::aws_range(&cfg.region);
    let mix = catalog::MIX_CI;
    let mut actor = Actor {
        account: a,
        role: Role::Ci,
        seed: rng.next_u64(),
        mix,
        weights: weights(mix),
        client,
        second_client: None,
        client_update: None,
        region: cfg.region.clone(),
        ips: (0..2).map(|_| range.ip(rng)).collect(),
        home_ip: None,
        tz_hours: -8,
        models: vec![
            rng.pick(catalog::ORG_MODELS)
                .copied()
                .unwrap_or("amazon.titan-text-express-v1"),
        ],
        per_day: lognormal(rng),
        norm: 0.0,
        active_from_ms: i64::MIN,
        role_name: String::new(),
        role_arn: String::new(),
        principal_id: format!("AIDA{}", rng.base32(17)),
        access_key: format!("AKIA{}", rng.base32(16)),
        name,
        ec2: false,
        overrides: Vec::new(),
    };
    actor.norm = week_norm(&actor);
    actor
}

fn week_norm(actor: &Actor) -> f64 {
    (0..168).map(|h| actor.weight(h)).sum::<f64>() / 168.0
}
