//! Deterministic, labelled CloudTrail simulator: ordinary organisations, attacks and benign drift.
//!
//! [`Simulation`] builds an organisation from a [`SimConfig`], injects the configured
//! [`ScenarioKind`]s after a warm-up, and streams CloudTrail log files ([`SimFile`],
//! `{"Records":[...]}` under CloudTrail's own key layout) in delivery order, holding one
//! hour of activity in memory at a time. Every injected scenario gets a [`Label`] with
//! its principal key (as `cloudtrail::principal` computes it) and event ids.
//!
//! The organisation, per account:
//! - people on Identity Center (`AWSReservedSSO_<Team>_<hex>` roles, the person as
//!   session name): office or home addresses, working hours in their time zone, days
//!   off, one or two clients (CLI, Boto3, console), their team's 0-3 models;
//! - service roles (EC2, Lambda, ECS sessions) on AWS addresses of their region, 24/7,
//!   one SDK, hourly session keys; about four in ten call Bedrock at volume;
//! - IAM users with long-term `AKIA` keys (CI and batch bots);
//! - AWS services: `sts:AssumeRole` by `lambda.amazonaws.com`, `AwsServiceEvent`s.
//!
//! About a quarter of the events are Bedrock calls; the rest are S3, STS, EC2, KMS,
//! CloudWatch, Logs, SSM, Secrets Manager, IAM, Lambda, ECR and CloudFormation.
//! S3 bucket calls name one of the account's own buckets (`data-`, `ml-artifacts-`,
//! `app-logs-<account>`) with a `resources` entry carrying the owner, as CloudTrail
//! writes them; data scientists now and then run a fine-tuning job that reads the data
//! bucket and writes the artefacts bucket.
//! Addresses come from the ranges of the demo GeoIP databases
//! (`models/geoip/README.md`); attackers use the VPS, hosting and anonymiser ranges.
//!
//! Everything is a function of the seed: the same [`SimConfig`] gives the same bytes.
//! The crate is pure (no IO, no clock); `bedguard simulate` writes the files.

mod catalog;
mod config;
mod event;
mod json;
mod org;
mod plan;
mod rng;
mod scenario;
mod simulation;
mod traffic;

pub use config::{SimConfig, bench_config, demo_config, eval_config};
pub use scenario::{Label, ScenarioKind};
pub use simulation::{SimFile, Simulation};
