//! The JSON-lines file transport: every line lands, rotation keeps `keep_files`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // helpers outside #[test] fns

use sinks::config::{DrainConfig, FileSinkConfig};
use sinks::transport::file::{FileTransport, rotated};
use sinks::transport::{Encoded, Transport};
use sinks::{EncodeContext, Encoding, sample};

fn encoded(i: u64) -> Encoded {
    let f = sample::numbered(i);
    Encoded {
        id: f.id.clone(),
        finding_type: f.finding_type.clone(),
        severity: f.severity_label,
        score: f.severity,
        revision: f.revision,
        last_seen_ms: f.last_seen,
        json: true,
        body: Encoding::Native
            .encode(&f, &EncodeContext::new("h", 0))
            .unwrap(),
    }
}

#[tokio::test]
async fn rotates_by_size_and_keeps_the_newest_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("findings.jsonl");
    let cfg = FileSinkConfig {
        name: "f".into(),
        encoding: Encoding::Native,
        path: path.clone(),
        max_bytes: 8 * 1024,
        keep_files: 2,
        drain: DrainConfig::default(),
    };
    let mut t = FileTransport::new(&cfg);
    let ctx = EncodeContext::new("h", 0);
    let all: Vec<Encoded> = (0..40).map(encoded).collect();
    for chunk in all.chunks(7) {
        t.send(chunk, &ctx).await.unwrap();
    }
    assert!(
        !rotated(&path, 3).exists(),
        "more than keep_files rotated files"
    );
    let mut ids = Vec::new();
    for p in [rotated(&path, 2), rotated(&path, 1), path.clone()] {
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(
            text.len() as u64 <= cfg.max_bytes,
            "{} is {} bytes",
            p.display(),
            text.len()
        );
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            ids.push(v["id"].as_str().unwrap().to_owned());
        }
    }
    // The kept files hold the newest findings, in order, with none missing between.
    let last: Vec<String> = all[all.len() - ids.len()..]
        .iter()
        .map(|e| e.id.clone())
        .collect();
    assert_eq!(ids, last);
    assert!(ids.len() >= 8, "only {} lines kept", ids.len());
}
