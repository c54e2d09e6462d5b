//! Simulation settings and the presets the binary, the benchmarks and the evaluation use.

use serde::{Deserialize, Serialize};

use crate::scenario::ScenarioKind;

/// 2026-03-02T00:00:00Z, a Monday.
const DEFAULT_START_MS: i64 = 1_772_409_600_000;
const DAY_MS: i64 = 86_400_000;

/// What to simulate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimConfig {
    /// Seed of every random draw: same seed and settings, same bytes.
    pub seed: u64,
    /// Number of AWS accounts (each with its own principals and log files).
    pub accounts: usize,
    /// Principals across all accounts: people, service roles, CI users and AWS
    /// services. A `NewJoiner` scenario adds one more.
    pub principals: usize,
    /// Length of the simulation in days.
    pub days: u32,
    /// Start (epoch ms); rounded down to the hour.
    pub start_ms: i64,
    /// Mean events per principal per day (before scenarios).
    pub events_per_principal_day: f64,
    /// Scenarios to inject (a kind may repeat), each after the warm-up.
    pub scenarios: Vec<ScenarioKind>,
    /// The home region of the organisation's workloads and people.
    pub region: String,
    /// Days of ordinary activity before the first scenario.
    pub warmup_days: u32,
    /// Largest number of records in one log file (busy 5-minute windows are split).
    pub max_records_per_file: usize,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            seed: 1,
            accounts: 1,
            principals: 25,
            days: 7,
            start_ms: DEFAULT_START_MS,
            events_per_principal_day: 40.0,
            scenarios: Vec::new(),
            region: "us-east-1".to_owned(),
            warmup_days: 5,
            max_records_per_file: 2_000,
        }
    }
}

impl SimConfig {
    /// The end (exclusive, epoch ms) of the simulated period.
    pub fn end_ms(&self) -> i64 {
        self.start_hour_ms() + i64::from(self.days) * DAY_MS
    }

    /// `start_ms` rounded down to the hour.
    pub fn start_hour_ms(&self) -> i64 {
        self.start_ms.div_euclid(3_600_000) * 3_600_000
    }
}

/// A small organisation for the no-AWS-account demo: one account, 25 principals,
/// three weeks, one LLMjacking attack in the last days. A few MB gzipped.
pub fn demo_config() -> SimConfig {
    SimConfig {
        seed: 20_260_302,
        accounts: 1,
        principals: 25,
        days: 21,
        events_per_principal_day: 30.0,
        scenarios: vec![ScenarioKind::LlmjackingStolenKey],
        warmup_days: 18,
        ..SimConfig::default()
    }
}

/// The detection evaluation: three accounts, four weeks of ordinary activity, then
/// every [`ScenarioKind`] (attacks and benign drift) injected over the last two weeks.
pub fn eval_config(seed: u64) -> SimConfig {
    SimConfig {
        seed,
        accounts: 3,
        principals: 90,
        days: 42,
        events_per_principal_day: 40.0,
        scenarios: ScenarioKind::all().to_vec(),
        warmup_days: 28,
        ..SimConfig::default()
    }
}

/// About `events` ordinary events from `principals` principals over a week, no scenarios.
pub fn bench_config(events: u64, principals: usize) -> SimConfig {
    let principals = principals.max(1);
    let days = 7u32;
    SimConfig {
        seed: 42,
        accounts: principals.div_ceil(500).max(1),
        principals,
        days,
        events_per_principal_day: events as f64 / (principals as f64 * f64::from(days)),
        scenarios: Vec::new(),
        warmup_days: days,
        ..SimConfig::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_what_their_users_need() {
        let eval = eval_config(3);
        assert_eq!(eval.scenarios, ScenarioKind::all());
        assert!(eval.warmup_days >= 21 && eval.warmup_days + 7 <= eval.days);
        let demo = demo_config();
        assert_eq!(demo.scenarios, [ScenarioKind::LlmjackingStolenKey]);
        assert!(demo.warmup_days + 3 >= demo.days);
        let bench = bench_config(1_000_000, 10_000);
        let planned = bench.events_per_principal_day * 10_000.0 * f64::from(bench.days);
        assert!((planned - 1e6).abs() < 1.0);
        assert!(bench.scenarios.is_empty());
        assert_eq!(end_days(&bench), 7);
    }

    fn end_days(cfg: &SimConfig) -> i64 {
        (cfg.end_ms() - cfg.start_hour_ms()) / DAY_MS
    }

    #[test]
    fn config_rejects_unknown_keys() {
        let mut v = serde_json::to_value(SimConfig::default()).unwrap();
        v["seed"] = 9.into();
        let ok: SimConfig = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(ok.seed, 9);
        v["bogus_secs"] = 1.into();
        assert!(serde_json::from_value::<SimConfig>(v).is_err());
    }
}
