//! The command line: every subcommand and flag, with clap.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// bedguard: watches Amazon Bedrock use through CloudTrail and flags calls that
/// deviate from each principal's baseline (LLMjacking: stolen keys running models).
#[derive(Debug, Parser)]
#[command(name = "bedguard", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Config file (TOML). Without it, embedded defaults; BEDGUARD_* variables and
    /// flags override both.
    #[arg(long, short = 'c', global = true, env = "BEDGUARD_CONFIG")]
    pub config: Option<PathBuf>,
    /// State directory (sled), overriding `state.path`.
    #[arg(long, global = true)]
    pub state: Option<PathBuf>,
    /// Log level filter (overrides `log.level` and RUST_LOG), e.g. `info`, `bedguard=debug`.
    #[arg(long, global = true)]
    pub log_level: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Process local CloudTrail files (or directories, recursively) in delivery order:
    /// the offline twin of `run`.
    Replay(ReplayArgs),
    /// Run the daemon: consume the SQS queue, fetch objects from S3, detect, forward.
    Run(RunArgs),
    /// Process a range of an S3 trail prefix in time order; resumes where it stopped.
    Backfill(BackfillArgs),
    /// Report (and with --fetch, process) log files the digest files list as
    /// delivered but that were never processed.
    Audit(AuditArgs),
    /// Show what bedguard has learned.
    #[command(subcommand)]
    Profile(ProfileCommand),
    /// Check a config file: exits 64 and lists every problem when it is bad.
    Validate {
        /// Print the effective configuration (defaults, file, environment) as TOML.
        #[arg(long)]
        print: bool,
    },
    /// Write a simulated organisation's CloudTrail (deterministic, labelled) to a directory.
    Simulate(SimulateArgs),
    /// Benchmarks that print a table; figures are ratios against a reference measured in the same run.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// The whole product on this machine, no AWS account: a local S3+SQS endpoint, a
    /// simulated organisation with one LLMjacking attack, `bedguard run`, the findings.
    Demo(DemoArgs),
    /// Detection quality on the labelled simulator: recall, false alarms, findings per 1,000 principal-days.
    Eval(EvalArgs),
}

/// `replay` flags.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Files or directories.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// Learn baselines only (warm-up from history); emit no findings.
    #[arg(long)]
    pub learn_only: bool,
    /// Write findings as JSON lines to this file (`-` for stdout).
    #[arg(long)]
    pub findings: Option<PathBuf>,
    /// Never show a progress bar.
    #[arg(long)]
    pub no_progress: bool,
    /// Threads that read, decompress, parse and enrich files ahead of the pipeline
    /// (default: one per core, at most 8). The results do not depend on it.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub readers: Option<u16>,
}

/// `run` flags.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// SQS queue URL (overrides `ingest.queue_url`).
    #[arg(long)]
    pub queue_url: Option<String>,
    /// S3/SQS endpoint override, e.g. a local S3-compatible store (overrides `aws.endpoint_url`).
    #[arg(long)]
    pub endpoint_url: Option<String>,
    /// Stop after this many seconds without a message (for demos and tests); 0 = never.
    #[arg(long, default_value_t = 0)]
    pub exit_when_idle_secs: u64,
}

/// `backfill` flags.
#[derive(Debug, Args)]
pub struct BackfillArgs {
    /// `s3://bucket/prefix` of the trail.
    pub url: String,
    /// First day (YYYY-MM-DD, UTC), inclusive.
    #[arg(long)]
    pub from: String,
    /// Last day (YYYY-MM-DD, UTC), inclusive.
    #[arg(long)]
    pub to: String,
    /// Learn baselines only; emit no findings.
    #[arg(long)]
    pub learn_only: bool,
    /// S3 endpoint override.
    #[arg(long)]
    pub endpoint_url: Option<String>,
}

/// `audit` flags.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// `s3://bucket/prefix` of the trail.
    pub url: String,
    /// First day (YYYY-MM-DD, UTC), inclusive.
    #[arg(long)]
    pub from: String,
    /// Last day (YYYY-MM-DD, UTC), inclusive.
    #[arg(long)]
    pub to: String,
    /// Fetch and process the missing files too.
    #[arg(long)]
    pub fetch: bool,
    /// S3 endpoint override.
    #[arg(long)]
    pub endpoint_url: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `profile` subcommands.
#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// A principal's baseline as a person reads it.
    Show {
        /// Principal key (an ARN, or ARN/session for Identity Center people), or `account:ID`.
        principal: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Every stored profile, one JSON object a line, in key order (for backups,
    /// diffs and the crash test).
    Export,
    /// Every principal with its event count, first and last seen.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// What the state store holds: entries and bytes per tree, bytes on disk.
    Storage {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `simulate` flags.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Output directory (CloudTrail key layout below it).
    #[arg(long)]
    pub out: PathBuf,
    /// `demo` (a small org with one attack), `eval` (every scenario) or `bench`.
    #[arg(long, default_value = "demo")]
    pub preset: String,
    /// Seed.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// For `bench`: events to generate.
    #[arg(long, default_value_t = 500_000)]
    pub events: u64,
    /// For `bench`: principals.
    #[arg(long, default_value_t = 1_000)]
    pub principals: usize,
    /// Also write the labels (JSON) here.
    #[arg(long)]
    pub labels: Option<PathBuf>,
}

/// `bench` subcommands.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Decode and parse a generated corpus, beside `gzip -dc` of the same files.
    Decode(BenchArgs),
    /// Full replay (enrichment, detection, sled commits), beside `gzip -dc`.
    Replay(BenchArgs),
    /// The daemon against a local S3+SQS endpoint: objects/s, events/s, and the latency
    /// from PutObject to finding written (p50, p99).
    Pipeline(PipelineBenchArgs),
}

/// Flags shared by benchmarks.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Events in the generated corpus.
    #[arg(long, default_value_t = 500_000)]
    pub events: u64,
    /// Principals in the generated corpus.
    #[arg(long, default_value_t = 1_000)]
    pub principals: usize,
    /// Where to keep the corpus (reused when it is already there).
    #[arg(long)]
    pub corpus: Option<PathBuf>,
    /// Repetitions; the best is reported.
    #[arg(long, default_value_t = 3)]
    pub repeat: u32,
}

/// `eval` flags.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Seeds to evaluate (each a different organisation).
    #[arg(long, num_args = 1.., default_values_t = vec![1u64, 2, 3])]
    pub seeds: Vec<u64>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `demo` flags.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the demo's files (state, config, GeoIP databases, findings) here instead
    /// of a temporary directory.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Show the daemon's info logs.
    #[arg(long)]
    pub verbose: bool,
}

/// `bench pipeline` flags.
#[derive(Debug, Args)]
pub struct PipelineBenchArgs {
    /// Objects to upload.
    #[arg(long, default_value_t = 200)]
    pub objects: usize,
    /// Ordinary events per object (plus one that raises a finding).
    #[arg(long, default_value_t = 100)]
    pub events: usize,
    /// Pause between uploads (0: as fast as possible, a burst that queues up).
    #[arg(long, default_value_t = 0)]
    pub interval_ms: u64,
    /// Give up after this long.
    #[arg(long, default_value_t = 300)]
    pub timeout_secs: u64,
}
