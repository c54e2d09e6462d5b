//! Counters for one replay or one daemon lifetime: files, records, bad records by
//! reason, Bedrock calls per principal, findings by type and severity. Every map is
//! reported in key order, so every report prints the same way twice.

use std::collections::{BTreeMap, HashMap};

use foldhash::fast::RandomState as Seeded;
use serde::{Serialize, Serializer};

/// What happened to the objects and records seen so far.
#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct Stats {
    /// Objects read (files in replay, S3 objects in the daemon).
    pub files: u64,
    /// Objects that were CloudTrail logs and were processed.
    pub log_files: u64,
    /// Objects skipped because their key is not a log (digest, insights, other), by kind.
    pub skipped_files: BTreeMap<String, u64>,
    /// Objects already processed earlier (redelivery, replay of the same file).
    pub already_processed: u64,
    /// Objects that could not be decoded at all, with the reason (key → reason).
    pub malformed_files: BTreeMap<String, String>,
    /// Bytes read (as stored, compressed or not).
    pub bytes: u64,
    /// Bytes after decompression.
    pub decompressed_bytes: u64,
    /// Records decoded.
    pub records: u64,
    /// Records skipped as duplicates of an event id already processed.
    pub duplicate_records: u64,
    /// Records skipped as bad, by reason.
    pub bad_records: BTreeMap<String, u64>,
    /// Bedrock calls decoded.
    pub bedrock_calls: u64,
    /// Bedrock calls per principal key. Counted on every Bedrock call, so hashed (ARNs
    /// share long prefixes that make an ordered map compare much); reported in order.
    #[serde(serialize_with = "in_key_order")]
    pub bedrock_by_principal: HashMap<String, u64, Seeded>,
    /// Findings emitted (new or updated), by type.
    pub findings_by_type: BTreeMap<String, u64>,
    /// Findings emitted, by severity band.
    pub findings_by_severity: BTreeMap<String, u64>,
    /// Findings suppressed by allowlists or suppression rules.
    pub suppressed_findings: u64,
    /// Newest eventTime processed, epoch ms.
    pub newest_event_ms: Option<i64>,
}

impl Stats {
    /// Bad records in all.
    pub fn bad_record_total(&self) -> u64 {
        self.bad_records.values().sum()
    }

    /// Findings in all.
    pub fn finding_total(&self) -> u64 {
        self.findings_by_type.values().sum()
    }

    /// Counts one more of `key` in `map`.
    pub fn bump(map: &mut BTreeMap<String, u64>, key: &str, by: u64) {
        match map.get_mut(key) {
            Some(v) => *v += by,
            None => {
                map.insert(key.to_string(), by);
            }
        }
    }

    /// Counts one more Bedrock call of `principal`.
    pub fn bump_bedrock(&mut self, principal: &str) {
        match self.bedrock_by_principal.get_mut(principal) {
            Some(v) => *v += 1,
            None => {
                self.bedrock_by_principal.insert(principal.to_string(), 1);
            }
        }
    }

    /// The summary a person reads at the end of a replay.
    pub fn render(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(s, "files              {:>12}", self.files);
        let _ = writeln!(s, "  logs             {:>12}", self.log_files);
        for (k, v) in &self.skipped_files {
            let _ = writeln!(s, "  skipped {k:<9}{v:>12}");
        }
        if self.already_processed > 0 {
            let _ = writeln!(s, "  already processed{:>12}", self.already_processed);
        }
        let _ = writeln!(s, "  malformed        {:>12}", self.malformed_files.len());
        for (k, v) in &self.malformed_files {
            let _ = writeln!(s, "    {k}: {v}");
        }
        let _ = writeln!(s, "bytes read         {:>12}", self.bytes);
        let _ = writeln!(s, "bytes decompressed {:>12}", self.decompressed_bytes);
        let _ = writeln!(s, "records            {:>12}", self.records);
        if self.duplicate_records > 0 {
            let _ = writeln!(s, "duplicate records  {:>12}", self.duplicate_records);
        }
        let _ = writeln!(s, "bad records        {:>12}", self.bad_record_total());
        for (k, v) in &self.bad_records {
            let _ = writeln!(s, "  {k:<17}{v:>12}");
        }
        let _ = writeln!(s, "bedrock calls      {:>12}", self.bedrock_calls);
        let mut by: Vec<_> = self.bedrock_by_principal.iter().collect();
        by.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        for (p, n) in by {
            let _ = writeln!(s, "  {n:>8}  {p}");
        }
        if !self.findings_by_type.is_empty() || self.suppressed_findings > 0 {
            let _ = writeln!(s, "findings           {:>12}", self.finding_total());
            for (k, v) in &self.findings_by_severity {
                let _ = writeln!(s, "  {k:<17}{v:>12}");
            }
            for (k, v) in &self.findings_by_type {
                let _ = writeln!(s, "  {v:>8}  {k}");
            }
            let _ = writeln!(s, "suppressed         {:>12}", self.suppressed_findings);
        }
        s
    }
}

/// Serializes a hashed map as an object in key order.
fn in_key_order<S: Serializer>(
    map: &HashMap<String, u64, Seeded>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_map(map.iter().collect::<BTreeMap<_, _>>())
}
