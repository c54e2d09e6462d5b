//! bedguard: the binary. Config, CLI, wiring, signals, metrics; the only crate that
//! uses `anyhow`.

mod bench;
mod cli;
mod config;
mod daemon;
mod demo;
mod eval;
mod metrics;
mod observe;
mod pipeline;
mod profile;
mod render;
mod replay;
mod simulate;
mod stats;
mod systemd;
mod walk;

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;

use crate::cli::{BenchCommand, Cli, Command};
use crate::config::Config;

/// mimalloc instead of glibc malloc: the pipeline allocates and frees many small
/// strings per event, and glibc's per-thread arenas kept peak RSS at about twice the
/// live heap (measured with heaptrack against /proc VmHWM; see ARCHITECTURE.md).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit code for a bad config (EX_USAGE), as `bedguard validate` promises.
const EXIT_CONFIG: u8 = 64;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let cfg = match config::load_from_process(cli.config.as_deref()) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("bedguard: {e:#}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    init_logging(&cfg, cli.log_level.as_deref());
    match run(cli, cfg) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("bedguard: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli, mut cfg: Config) -> Result<ExitCode> {
    if let Some(state) = &cli.state {
        cfg.state.path = state.clone();
    }
    match &cli.command {
        Command::Validate { print } => {
            // What `run` would meet at start beyond the schema: every sink must build
            // (token files and variables, CA files), so ExecStartPre catches it too.
            let problems = sink_problems(&cfg);
            if !problems.is_empty() {
                let errors = config::ConfigErrors {
                    file: cli.config.clone(),
                    problems,
                };
                eprintln!("bedguard: {errors}");
                return Ok(ExitCode::from(EXIT_CONFIG));
            }
            if *print {
                print!(
                    "{}",
                    toml::to_string(&cfg).context("cannot print the configuration")?
                );
            } else {
                println!(
                    "{}: ok",
                    cli.config
                        .as_deref()
                        .map_or("embedded defaults".into(), |p| p.display().to_string())
                );
            }
        }
        Command::Replay(args) => {
            let mode = if args.learn_only {
                pipeline::Mode::LearnOnly
            } else {
                pipeline::Mode::Detect
            };
            let p = build_pipeline(&cfg, mode, pipeline::KeyPolicy::JsonFiles, Vec::new())?
                .with_batch_events(cfg.state.replay_batch_events);
            replay::run(p, args)?;
        }
        Command::Simulate(args) => {
            let sim_cfg = match args.preset.as_str() {
                "demo" => sim::demo_config(),
                "eval" => sim::eval_config(args.seed),
                "bench" => sim::bench_config(args.events, args.principals),
                other => anyhow::bail!("unknown preset {other:?} (demo, eval, bench)"),
            };
            let (files, events) = simulate::write(&args.out, sim_cfg, args.labels.as_deref())?;
            eprintln!(
                "wrote {files} files, {events} events under {}",
                args.out.display()
            );
        }
        Command::Bench(BenchCommand::Decode(args)) => bench::decode(args)?,
        Command::Bench(BenchCommand::Replay(args)) => bench::replay(args)?,
        Command::Bench(BenchCommand::Pipeline(args)) => bench::pipeline(args)?,
        Command::Run(args) => runtime()?.block_on(daemon::run(cfg, cli.config.clone(), args))?,
        Command::Backfill(args) => runtime()?.block_on(daemon::backfill(cfg, args))?,
        Command::Audit(args) => runtime()?.block_on(daemon::audit(cfg, args))?,
        Command::Profile(cmd) => profile::run(&cfg, cmd)?,
        Command::Eval(args) => eval::run(&cfg, args)?,
        Command::Demo(args) => demo::run(args)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Sinks that cannot be built from the config, one problem each, keyed `sinks[i]`.
fn sink_problems(cfg: &Config) -> Vec<config::Problem> {
    cfg.sinks
        .iter()
        .enumerate()
        .filter_map(|(i, sink)| {
            sinks::AnyTransport::build(sink)
                .err()
                .map(|e| config::Problem {
                    key: format!("sinks[{i}]"),
                    message: format!("sink {:?} cannot start: {e}", sink.name()),
                })
        })
        .collect()
}

/// Assembles the pipeline from config: GeoIP, user-agent rules, catalogue, detector, store.
fn build_pipeline(
    cfg: &Config,
    mode: pipeline::Mode,
    keys: pipeline::KeyPolicy,
    sinks: Vec<String>,
) -> Result<pipeline::Pipeline> {
    let (geo, warnings) = enrich::Enricher::open(&enrich::GeoIpConfig {
        city_db_path: Some(cfg.geoip.city_db_path.clone()),
        asn_db_path: Some(cfg.geoip.asn_db_path.clone()),
        cache_entries: cfg.geoip.cache_entries,
    })
    .context("cannot open GeoIP databases")?;
    for w in warnings {
        tracing::warn!("{w}");
    }
    let ua = match &cfg.models.useragents_path {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read {}", p.display()))?;
            enrich::UaRules::from_toml(&text)
                .with_context(|| format!("invalid user-agent rules {}", p.display()))?
        }
        None => enrich::UaRules::builtin().context("built-in user-agent rules")?,
    };
    let detector = build_detector(cfg)?;
    let store = std::sync::Arc::new(open_store(cfg)?);
    Ok(pipeline::Pipeline::new(
        pipeline::Parts {
            detector,
            geo,
            ua,
            store,
        },
        mode,
        keys,
        sinks,
        cfg.ingest.max_object_bytes as usize,
    ))
}

/// Opens the state store named by the config.
fn open_store(cfg: &Config) -> Result<store::Store> {
    store::Store::open(&cfg.state.path, &cfg.state.store_options()).with_context(|| {
        format!(
            "cannot open state directory {} (state.path, or --state)",
            cfg.state.path.display()
        )
    })
}

/// The detector: catalogue (file or embedded) and thresholds.
fn build_detector(cfg: &Config) -> Result<detect::Detector> {
    let catalogue = match &cfg.models.catalogue_path {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read {}", p.display()))?;
            detect::Catalogue::from_toml(&text).map_err(|errs| {
                anyhow::anyhow!(
                    "invalid catalogue {}:\n{}",
                    p.display(),
                    errs.iter()
                        .map(|e| format!("  - {e}"))
                        .collect::<Vec<_>>()
                        .join("\n")
                )
            })?
        }
        None => detect::Catalogue::builtin(),
    };
    detect::Detector::new(cfg.detect.clone(), catalogue).map_err(|errs| {
        anyhow::anyhow!(
            "invalid detector config:\n{}",
            errs.iter()
                .map(|e| format!("  - detect.{}: {}", e.key, e.message))
                .collect::<Vec<_>>()
                .join("\n")
        )
    })
}

/// A multi-threaded tokio runtime for the commands that talk to AWS.
fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Human logs on a terminal, JSON otherwise; level from flag, RUST_LOG, then config.
fn init_logging(cfg: &Config, flag: Option<&str>) {
    let filter = flag
        .map(str::to_string)
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| cfg.log.level.clone());
    let filter = tracing_subscriber::EnvFilter::try_new(&filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let json = match cfg.log.format.as_str() {
        "json" => true,
        "human" => false,
        _ => !std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().flatten_event(true).init();
    } else {
        builder.init();
    }
}
