//! Per-principal short-term state: catalogue sequences, failed-call probing, region
//! fan-out and the current hour's call count.
//!
//! Unlike the [`crate::profile::Profile`], this state tracks every relevant call,
//! learned or not: an attack kept out of the baseline must still advance its sequences
//! and its volume.

use serde::{Deserialize, Serialize};

use crate::catalogue::{Catalogue, SequenceKind};
use crate::config::DetectConfig;
use crate::observation::Observation;
use crate::profile::hour_index;

/// At most this many failed calls are remembered for probing.
const MAX_FAILED: usize = 64;
/// At most this many event ids are kept per chain or change.
const MAX_IDS: usize = 8;

/// Progress of one chain sequence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChainProgress {
    /// Sequence id.
    pub id: String,
    /// Steps matched so far.
    pub step: u8,
    /// Event time of the first step.
    pub started_ms: i64,
    /// Event ids of the steps, latest last.
    pub event_ids: Vec<String>,
}

/// An opened `after` window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// Sequence id.
    pub id: String,
    /// The API that opened it.
    pub api: String,
    /// When.
    pub at_ms: i64,
    /// Its event id.
    pub event_id: String,
}

/// A failed Bedrock call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedCall {
    /// When.
    pub at_ms: i64,
    /// Region.
    pub region: String,
    /// Model, when known.
    pub model: Option<String>,
    /// Event id.
    pub event_id: String,
}

/// Per-principal short-term state (serde, persisted with the profile).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SequenceState {
    /// Chains in progress.
    pub chains: Vec<ChainProgress>,
    /// `after` windows open.
    pub changes: Vec<Change>,
    /// Recent failed Bedrock calls.
    pub failed: Vec<FailedCall>,
    /// Regions with Bedrock calls and the time of the latest.
    pub regions: Vec<(String, i64)>,
    /// Current hour (hours since the epoch).
    pub hour: i64,
    /// Bedrock calls in the current hour, learned or not.
    pub hour_calls: u32,
    /// Largest fan-out of a learned call in the current hour; folded into the profile's
    /// `max_fanout` when the hour closes, so a burst is judged against a fixed baseline.
    pub hour_fanout: u8,
}

/// A sequence that completed on this call.
#[derive(Debug, Clone, PartialEq)]
pub struct SequenceHit {
    /// Index into the catalogue's sequences.
    pub index: usize,
    /// What joined, in words.
    pub detail: String,
    /// Event ids of the earlier calls.
    pub event_ids: Vec<String>,
}

impl SequenceState {
    /// Count a Bedrock call into the current hour. Returns the hour's count and, when
    /// an hour closed, the learned fan-out peak of the closed hour.
    pub fn count_hour(&mut self, at_ms: i64) -> (u32, Option<u8>) {
        let h = hour_index(at_ms);
        let mut closed = None;
        if h > self.hour {
            closed = Some(self.hour_fanout);
            self.hour = h;
            self.hour_calls = 0;
            self.hour_fanout = 0;
        }
        self.hour_calls = self.hour_calls.saturating_add(1);
        (self.hour_calls, closed)
    }

    /// Note a Bedrock call's region; returns the distinct regions inside the window.
    pub fn fan_out(&mut self, obs: &Observation, cfg: &DetectConfig) -> Vec<String> {
        let t = obs.event_time;
        let window = cfg.fanout.window_secs as i64 * 1000;
        match self.regions.iter_mut().find(|(r, _)| *r == obs.region) {
            Some((_, at)) => *at = (*at).max(t),
            None => self.regions.push((obs.region.to_string(), t)),
        }
        self.regions.retain(|(_, at)| t - *at < window);
        self.regions.truncate(64);
        let mut v: Vec<String> = self.regions.iter().map(|(r, _)| r.clone()).collect();
        v.sort();
        v
    }

    /// Advance every sequence with one call of `api` in catalogue group `group`.
    /// `model_is_new`: the call invokes a model the principal's baseline has not seen.
    pub fn advance(
        &mut self,
        obs: &Observation,
        api: &str,
        group: Option<&str>,
        model_is_new: bool,
        catalogue: &Catalogue,
        cfg: &DetectConfig,
    ) -> Vec<SequenceHit> {
        let t = obs.event_time;
        let chain_w = cfg.sequences.chain_window_secs as i64 * 1000;
        let after_w = cfg.sequences.after_change_window_secs as i64 * 1000;
        let probe_w = cfg.sequences.probe_window_secs as i64 * 1000;
        self.chains.retain(|c| t - c.started_ms <= chain_w);
        self.changes.retain(|c| t - c.at_ms <= after_w);
        self.failed.retain(|f| t - f.at_ms <= probe_w);
        let mut hits = Vec::new();
        for (index, seq) in catalogue.sequences.iter().enumerate() {
            match seq.kind {
                SequenceKind::Chain => {
                    if let Some(hit) = self.chain(index, seq, obs, group, model_is_new) {
                        hits.push(hit);
                    }
                }
                SequenceKind::After => {
                    let then = seq.then.as_deref();
                    if group.is_some() && group == then {
                        let opened: Vec<&Change> = self
                            .changes
                            .iter()
                            .filter(|c| c.id == seq.id && c.at_ms <= t)
                            .collect();
                        if let Some(last) = opened.last() {
                            let mins = (t - last.at_ms) / 60_000;
                            hits.push(SequenceHit {
                                index,
                                detail: format!("{} {mins} min after {}", obs.event_name, last.api),
                                event_ids: opened.iter().map(|c| c.event_id.clone()).collect(),
                            });
                        }
                    }
                    if seq.after.iter().any(|a| a == api) {
                        self.changes.push(Change {
                            id: seq.id.clone(),
                            api: api.to_string(),
                            at_ms: t,
                            event_id: obs.event_id.to_string(),
                        });
                        let n = self.changes.len();
                        if n > MAX_IDS * 4 {
                            self.changes.drain(..n - MAX_IDS * 4);
                        }
                    }
                }
                SequenceKind::Probe => {}
            }
        }
        if let Some(code) = &obs.error_code {
            let probes: Vec<usize> = catalogue
                .sequences
                .iter()
                .enumerate()
                .filter(|(_, s)| {
                    s.kind == SequenceKind::Probe && s.errors.iter().any(|e| e == code)
                })
                .map(|(i, _)| i)
                .collect();
            if !probes.is_empty() {
                self.failed.push(FailedCall {
                    at_ms: t,
                    region: obs.region.to_string(),
                    model: obs.model_id.as_deref().map(str::to_string),
                    event_id: obs.event_id.to_string(),
                });
                if self.failed.len() > MAX_FAILED {
                    self.failed.remove(0);
                }
                let s = &cfg.sequences;
                let mut models: Vec<&str> = self
                    .failed
                    .iter()
                    .filter_map(|f| f.model.as_deref())
                    .collect();
                models.sort_unstable();
                models.dedup();
                let mut regions: Vec<&str> =
                    self.failed.iter().map(|f| f.region.as_str()).collect();
                regions.sort_unstable();
                regions.dedup();
                let errors = self.failed.len() as u32;
                if errors >= s.probe_min_errors
                    && (models.len() as u32 >= s.probe_min_models
                        || regions.len() as u32 >= s.probe_min_regions)
                {
                    for index in probes {
                        hits.push(SequenceHit {
                            index,
                            detail: format!(
                                "{errors} failed Bedrock calls in {} min across {} models and {} regions",
                                s.probe_window_secs / 60,
                                models.len(),
                                regions.len()
                            ),
                            event_ids: self.failed.iter().rev().take(MAX_IDS).map(|f| f.event_id.clone()).collect(),
                        });
                    }
                }
            }
        }
        hits
    }

    fn chain(
        &mut self,
        index: usize,
        seq: &crate::catalogue::Sequence,
        obs: &Observation,
        group: Option<&str>,
        model_is_new: bool,
    ) -> Option<SequenceHit> {
        let group = group?;
        let t = obs.event_time;
        let last = seq.steps.len();
        let pos = self.chains.iter().position(|c| c.id == seq.id);
        let step = pos
            .and_then(|i| self.chains.get(i))
            .map_or(0, |c| usize::from(c.step));
        // The next step expected, or a repeat of the step just matched.
        if step > 0 && step <= last && seq.steps.get(step).is_some_and(|g| g == group) {
            let is_last = step + 1 == last;
            if is_last && seq.new_model && !model_is_new {
                return None;
            }
            let c = pos.and_then(|i| self.chains.get_mut(i))?;
            c.event_ids.push(obs.event_id.to_string());
            if c.event_ids.len() > MAX_IDS {
                c.event_ids.remove(0);
            }
            if is_last {
                // Stay complete: later first invocations within the window join too.
                c.step = (last - 1) as u8;
                let detail = format!(
                    "{} within {} min",
                    seq.steps.join(" → "),
                    (t - c.started_ms) / 60_000
                );
                return Some(SequenceHit {
                    index,
                    detail,
                    event_ids: c.event_ids.clone(),
                });
            }
            c.step = (step + 1) as u8;
            return None;
        }
        if seq.steps.first().is_some_and(|g| g == group) && step <= 1 {
            // (Re)start the chain at its first step.
            let c = ChainProgress {
                id: seq.id.clone(),
                step: 1,
                started_ms: t,
                event_ids: vec![obs.event_id.to_string()],
            };
            match pos {
                Some(i) => {
                    if let Some(slot) = self.chains.get_mut(i) {
                        *slot = c;
                    }
                }
                None => self.chains.push(c),
            }
        }
        None
    }
}
