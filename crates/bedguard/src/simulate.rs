//! `bedguard simulate`: writes a simulated organisation's CloudTrail to a directory,
//! gzipped, in CloudTrail's own key layout, with a MANIFEST (key, events, raw bytes)
//! and optionally the labels.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use flate2::{Compression, write::GzEncoder};

/// Writes every file of the simulation under `dir`; returns (files, events).
pub fn write(dir: &Path, cfg: sim::SimConfig, labels: Option<&Path>) -> Result<(u64, u64)> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut simulation = sim::Simulation::new(cfg);
    let mut manifest = String::new();
    let (mut files, mut events) = (0u64, 0u64);
    for file in simulation.files() {
        let path = dir.join(&file.key);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        let mut gz = GzEncoder::new(
            Vec::with_capacity(file.json.len() / 8),
            Compression::default(),
        );
        gz.write_all(&file.json)?;
        let bytes = gz.finish()?;
        std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
        let n = file.events as u64;
        manifest.push_str(&format!("{}\t{}\t{}\n", file.key, n, file.json.len()));
        files += 1;
        events += n;
    }
    if let Some(p) = labels {
        let json = serde_json::to_vec_pretty(simulation.labels())?;
        std::fs::write(p, json).with_context(|| format!("cannot write {}", p.display()))?;
    }
    let m = dir.join("MANIFEST");
    std::fs::write(&m, manifest).with_context(|| format!("cannot write {}", m.display()))?;
    Ok((files, events))
}
