//! `bedguard eval`: detection quality on the labelled simulator, through the same
//! pipeline `replay` and `run` use.
//!
//! For each seed, a simulated organisation is generated; its warm-up weeks are
//! learned with detection off (as a user warms up with `replay --learn-only` or
//! `backfill --learn-only`), the rest is processed with detection on. Then:
//!
//! - recall: the share of attack scenarios with a finding of Medium or above about
//!   the labelled principal that names one of the attack's events or overlaps its time;
//! - false alarms: benign-drift scenarios with such a finding;
//! - noise: findings (any severity) that match no scenario, per 1,000 principal-days
//!   of ordinary traffic after the warm-up.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use detect::Finding;
use serde::Serialize;

use crate::cli::EvalArgs;
use crate::config::Config;
use crate::pipeline::{KeyPolicy, Mode, ObjectId, Outcome};

/// One scenario's result.
#[derive(Debug, Serialize)]
struct ScenarioResult {
    seed: u64,
    scenario: String,
    attack: bool,
    principal: String,
    /// Highest severity of a matching finding.
    max_severity: Option<f64>,
    finding_types: Vec<String>,
    /// Why: the signals of the most severe matching finding (JSON output only).
    signals: Vec<String>,
}

/// One seed's totals.
#[derive(Debug, Serialize)]
struct SeedResult {
    seed: u64,
    events: u64,
    principals: usize,
    ordinary_principal_days: f64,
    findings: usize,
    unmatched_findings: usize,
    unmatched_by_type: BTreeMap<String, u64>,
}

/// Runs the evaluation and prints the table.
pub fn run(cfg: &Config, args: &EvalArgs) -> Result<()> {
    let work = std::env::temp_dir().join(format!("bedguard-eval-{}", std::process::id()));
    std::fs::create_dir_all(&work).with_context(|| format!("cannot create {}", work.display()))?;
    let result = run_in(cfg, args, &work);
    let _ = std::fs::remove_dir_all(&work);
    result
}

fn run_in(cfg: &Config, args: &EvalArgs, work: &std::path::Path) -> Result<()> {
    let (city, asn) = enrich::demo::write_demo_databases(work)?;
    let mut scenarios = Vec::new();
    let mut seeds = Vec::new();
    for &seed in &args.seeds {
        let mut cfg = cfg.clone();
        cfg.state.path = work.join(format!("state-{seed}"));
        cfg.geoip.city_db_path = city.clone();
        cfg.geoip.asn_db_path = asn.clone();
        let sim_cfg = sim::eval_config(seed);
        let learn_until = sim_cfg.start_ms + i64::from(sim_cfg.warmup_days) * 86_400_000;
        let ordinary_days = f64::from(sim_cfg.days.saturating_sub(sim_cfg.warmup_days));
        let mut pipeline =
            crate::build_pipeline(&cfg, Mode::LearnOnly, KeyPolicy::CloudTrailOnly, Vec::new())?
                .with_batch_events(cfg.state.replay_batch_events);
        let mut simulation = sim::Simulation::new(sim_cfg);
        let mut findings: Vec<Finding> = Vec::new();
        let mut events = 0u64;
        for file in simulation.files() {
            let delivered = match cloudtrail::log::classify_key(&file.key) {
                cloudtrail::log::KeyKind::Log(k) => k.delivered_ms,
                _ => 0,
            };
            pipeline.set_mode(if delivered < learn_until {
                Mode::LearnOnly
            } else {
                Mode::Detect
            });
            events += file.events as u64;
            let id = ObjectId {
                bucket: "eval",
                key: &file.key,
                etag: None,
            };
            if let Outcome::Processed { findings: f, .. } = pipeline.process(id, &file.json)? {
                findings.extend(f);
            }
        }
        let labels = simulation.labels().to_vec();
        let principals = simulation.principals();
        let findings = crate::render::latest_revisions(findings);
        let mut matched = vec![false; findings.len()];
        for l in &labels {
            let ids: std::collections::BTreeSet<&str> =
                l.event_ids.iter().map(String::as_str).collect();
            let mut max_severity: Option<f64> = None;
            let mut types = Vec::new();
            let mut signals = Vec::new();
            for (i, f) in findings.iter().enumerate() {
                let same = f.principal.key == l.principal;
                let by_event = f.event_ids.iter().any(|e| ids.contains(e.as_str()));
                let by_time = same && f.first_seen <= l.end_ms && f.last_seen >= l.start_ms;
                if by_event || by_time {
                    matched[i] = true;
                    if max_severity.is_none_or(|m| f.severity > m) {
                        signals = f
                            .signals
                            .iter()
                            .map(|s| format!("{} {:.1}: {}", s.name, s.score, s.detail))
                            .collect();
                    }
                    max_severity =
                        Some(max_severity.map_or(f.severity, |m: f64| m.max(f.severity)));
                    types.push(f.finding_type.clone());
                }
            }
            types.sort();
            types.dedup();
            scenarios.push(ScenarioResult {
                seed,
                scenario: l.scenario.as_str().to_string(),
                attack: l.scenario.is_attack(),
                principal: l.principal.clone(),
                max_severity,
                finding_types: types,
                signals,
            });
        }
        let mut unmatched_by_type = BTreeMap::new();
        for (f, m) in findings.iter().zip(&matched) {
            if !m {
                *unmatched_by_type
                    .entry(format!(
                        "{} [{}]",
                        f.finding_type,
                        f.severity_label.as_str()
                    ))
                    .or_insert(0) += 1;
            }
        }
        seeds.push(SeedResult {
            seed,
            events,
            principals,
            ordinary_principal_days: principals as f64 * ordinary_days,
            findings: findings.len(),
            unmatched_findings: matched.iter().filter(|m| !**m).count(),
            unmatched_by_type,
        });
    }

    let attacks: Vec<_> = scenarios.iter().filter(|s| s.attack).collect();
    let benign: Vec<_> = scenarios.iter().filter(|s| !s.attack).collect();
    let caught = attacks
        .iter()
        .filter(|s| s.max_severity.is_some_and(|v| v >= 4.0))
        .count();
    let false_alarms = benign
        .iter()
        .filter(|s| s.max_severity.is_some_and(|v| v >= 4.0))
        .count();
    let pdays: f64 = seeds.iter().map(|s| s.ordinary_principal_days).sum();
    let noise: usize = seeds.iter().map(|s| s.unmatched_findings).sum();
    let recall = if attacks.is_empty() {
        0.0
    } else {
        caught as f64 / attacks.len() as f64
    };
    let per_k = if pdays > 0.0 {
        noise as f64 * 1000.0 / pdays
    } else {
        0.0
    };
    if args.json {
        let v = serde_json::json!({
            "recall_medium_plus": recall, "attacks": attacks.len(), "caught": caught,
            "benign": benign.len(), "benign_at_medium_plus": false_alarms,
            "ordinary_principal_days": pdays, "unmatched_findings": noise,
            "findings_per_1000_principal_days": per_k,
            "scenarios": scenarios, "seeds": seeds,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!(
        "{:<6} {:<7} {:<30} {:>8}  {:<50}",
        "seed", "kind", "scenario", "severity", "finding types"
    );
    for s in &scenarios {
        println!(
            "{:<6} {:<7} {:<30} {:>8}  {}",
            s.seed,
            if s.attack { "attack" } else { "benign" },
            s.scenario,
            s.max_severity
                .map_or("-".to_string(), |v| format!("{v:.1}")),
            s.finding_types.join(", ")
        );
    }
    println!();
    for s in &seeds {
        println!(
            "seed {}: {} events, {} principals, {:.0} ordinary principal-days, {} findings, {} matching no scenario",
            s.seed,
            s.events,
            s.principals,
            s.ordinary_principal_days,
            s.findings,
            s.unmatched_findings
        );
        for (t, n) in &s.unmatched_by_type {
            println!("    {n:>4}  {t}");
        }
    }
    println!();
    println!("| metric | value | target |");
    println!("|---|---|---|");
    println!(
        "| recall at Medium and above | {recall:.3} ({caught}/{}) | >= 0.95 |",
        attacks.len()
    );
    println!(
        "| benign drift at Medium and above | {false_alarms}/{} | 0 |",
        benign.len()
    );
    println!(
        "| findings per 1,000 principal-days of ordinary traffic | {per_k:.2} ({noise} in {pdays:.0}) | <= 1 |"
    );
    Ok(())
}
