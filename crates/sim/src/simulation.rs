//! The simulation driver: generates one hour of activity at a time and cuts it into
//! CloudTrail log files in delivery order.

use std::collections::VecDeque;

use crate::config::SimConfig;
use crate::org::Org;
use crate::plan::{LabelAcc, Rendered, plan};
use crate::rng::Rng;
use crate::scenario::Label;
use crate::traffic::ordinary;

const HOUR_MS: i64 = 3_600_000;
const WINDOW_MS: i64 = 300_000;

/// One CloudTrail log file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimFile {
    /// The S3 key CloudTrail would write it under:
    /// `AWSLogs/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHMMZ_<16 alnum>.json.gz`.
    pub key: String,
    /// `{"Records":[...]}`, uncompressed.
    pub json: Vec<u8>,
    /// Number of records in `json`.
    pub events: usize,
    /// The account the file belongs to.
    pub account_id: String,
    /// The region of its events.
    pub region: String,
}

/// A seeded simulation. Drain [`Simulation::files`], then read [`Simulation::labels`].
#[derive(Debug)]
pub struct Simulation {
    cfg: SimConfig,
    org: Org,
    rng: Rng,
    names: Rng,
    planned: VecDeque<Rendered>,
    pending_labels: Vec<LabelAcc>,
    labels: Vec<Label>,
    next_hour_ms: i64,
    end_ms: i64,
    queue: VecDeque<SimFile>,
    done: bool,
}

impl Simulation {
    /// Builds the organisation and plans every scenario; no traffic is generated yet.
    pub fn new(cfg: SimConfig) -> Self {
        let mut root = Rng::new(cfg.seed);
        let mut org_rng = root.fork(1);
        let mut plan_rng = root.fork(2);
        let rng = root.fork(3);
        let names = root.fork(4);
        let mut org = Org::build(&cfg, &mut org_rng);
        let (events, pending_labels) = plan(&cfg, &mut org, &mut plan_rng);
        // An attack that starts late runs on past the configured end: so does the
        // ordinary traffic around it, so that every labelled event is delivered.
        let last_planned = events.last().map_or(i64::MIN, |e| {
            e.time_ms.div_euclid(HOUR_MS) * HOUR_MS + HOUR_MS
        });
        Self {
            next_hour_ms: cfg.start_hour_ms(),
            end_ms: cfg.end_ms().max(last_planned),
            cfg,
            org,
            rng,
            names,
            planned: events.into(),
            pending_labels,
            labels: Vec::new(),
            queue: VecDeque::new(),
            done: false,
        }
    }

    /// The log files, in delivery order (5-minute windows; within a window by account,
    /// then region). Only one hour of activity is held in memory.
    pub fn files(&mut self) -> impl Iterator<Item = SimFile> + '_ {
        std::iter::from_fn(move || self.next_file())
    }

    /// One label per injected scenario; complete once [`Simulation::files`] is drained.
    pub fn labels(&self) -> &[Label] {
        &self.labels
    }

    /// Principals in the organisation (including any new joiner).
    pub fn principals(&self) -> usize {
        self.org.actors.len()
    }

    fn next_file(&mut self) -> Option<SimFile> {
        loop {
            if let Some(f) = self.queue.pop_front() {
                return Some(f);
            }
            if self.next_hour_ms >= self.end_ms {
                if !self.done {
                    self.done = true;
                    self.labels = self.pending_labels.iter().map(LabelAcc::finish).collect();
                }
                return None;
            }
            let hour = self.next_hour_ms;
            self.next_hour_ms += HOUR_MS;
            self.generate_hour(hour);
        }
    }

    fn generate_hour(&mut self, hour: i64) {
        let mut events: Vec<Rendered> = Vec::new();
        for actor in &self.org.actors {
            let Some(account) = self.org.accounts.get(actor.account) else {
                continue;
            };
            let n = self.rng.poisson(actor.lambda(hour));
            for _ in 0..n {
                let t = hour + self.rng.below(HOUR_MS as u64) as i64;
                if t < actor.active_from_ms {
                    continue;
                }
                let mut json = Vec::with_capacity(1400);
                let produced = ordinary(actor, account, t, &mut self.rng, &mut json);
                if let Some(label) = produced.label.and_then(|l| self.pending_labels.get_mut(l)) {
                    label.ids.push((t, produced.event_id));
                }
                events.push(Rendered {
                    time_ms: t,
                    account: actor.account,
                    region: produced.region,
                    json,
                });
            }
        }
        while self
            .planned
            .front()
            .is_some_and(|e| e.time_ms < hour + HOUR_MS)
        {
            if let Some(e) = self.planned.pop_front() {
                events.push(e);
            }
        }
        events.sort_by(|a, b| {
            (
                a.time_ms.div_euclid(WINDOW_MS),
                a.account,
                &a.region,
                a.time_ms,
            )
                .cmp(&(
                    b.time_ms.div_euclid(WINDOW_MS),
                    b.account,
                    &b.region,
                    b.time_ms,
                ))
        });
        let max = self.cfg.max_records_per_file.max(1);
        let mut start = 0;
        while start < events.len() {
            let Some(first) = events.get(start) else {
                break;
            };
            let key = (
                first.time_ms.div_euclid(WINDOW_MS),
                first.account,
                first.region.clone(),
            );
            let mut end = start;
            while end < events.len()
                && end - start < max
                && events.get(end).is_some_and(|e| {
                    e.time_ms.div_euclid(WINDOW_MS) == key.0
                        && e.account == key.1
                        && e.region == key.2
                })
            {
                end += 1;
            }
            let file = self.assemble(events.get(start..end).unwrap_or_default(), key.0);
            self.queue.push_back(file);
            start = end;
        }
    }

    fn assemble(&mut self, records: &[Rendered], window: i64) -> SimFile {
        let (account_idx, region) = records
            .first()
            .map_or((0, String::new()), |r| (r.account, r.region.clone()));
        let account_id = self
            .org
            .accounts
            .get(account_idx)
            .map(|a| a.id.clone())
            .unwrap_or_default();
        let size: usize = records.iter().map(|r| r.json.len() + 1).sum();
        let mut json = Vec::with_capacity(size + 16);
        json.extend_from_slice(b"{\"Records\":[");
        for (i, r) in records.iter().enumerate() {
            if i > 0 {
                json.push(b',');
            }
            json.extend_from_slice(&r.json);
        }
        json.extend_from_slice(b"]}");
        // CloudTrail delivers a window's file a few minutes after it closes.
        let delivered = (window + 1) * WINDOW_MS + self.names.range(0, 240) as i64 * 1000;
        let key = object_key(&account_id, &region, delivered, &self.names.alnum_mixed(16));
        SimFile {
            key,
            json,
            events: records.len(),
            account_id,
            region,
        }
    }
}

/// `AWSLogs/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHMMZ_SUFFIX.json.gz`.
fn object_key(account: &str, region: &str, ms: i64, suffix: &str) -> String {
    let secs = ms.div_euclid(1000);
    let (y, m, d) = cloudtrail::time::civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    let (hh, mm) = (sod / 3600, (sod / 60) % 60);
    format!(
        "AWSLogs/{account}/CloudTrail/{region}/{y:04}/{m:02}/{d:02}/{account}_CloudTrail_{region}_{y:04}{m:02}{d:02}T{hh:02}{mm:02}Z_{suffix}.json.gz"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_layout() {
        // 2026-03-02T00:07:00Z
        let k = object_key(
            "123456789012",
            "us-east-1",
            1_772_410_020_000,
            "AbCdEfGhIjKlMnOp",
        );
        assert_eq!(
            k,
            "AWSLogs/123456789012/CloudTrail/us-east-1/2026/03/02/123456789012_CloudTrail_us-east-1_20260302T0007Z_AbCdEfGhIjKlMnOp.json.gz"
        );
    }
}
