//! Shared test plumbing: the binary under test, scratch directories, the real data
//! shipped beside the repository, and real services started on free ports.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `bedguard` binary cargo built for this test run.
pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_bedguard"));
    // No GeoIP databases unless a test asks for them; never the host's.
    c.env("BEDGUARD_GEOIP_CITY_DB_PATH", "/nonexistent/city.mmdb");
    c.env("BEDGUARD_GEOIP_ASN_DB_PATH", "/nonexistent/asn.mmdb");
    c.env("BEDGUARD_METRICS_ENABLED", "false");
    c.env_remove("RUST_LOG");
    c
}

/// Runs a command to completion and returns its output, failing the test with
/// stderr when it did not succeed.
pub fn ok(mut c: Command) -> Output {
    let out = c.output().expect("run bedguard");
    assert!(
        out.status.success(),
        "{:?} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        c,
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The repository's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Real public CloudTrail logs shipped beside the repository (`../shared`).
pub fn real_data() -> PathBuf {
    let p = repo().join("../shared/data/real-cloudtrail");
    assert!(
        p.is_dir(),
        "real CloudTrail data not found at {}",
        p.display()
    );
    p
}

/// The demo GeoIP databases the project ships.
pub fn demo_geoip() -> (PathBuf, PathBuf) {
    let d = repo().join("models/geoip");
    (d.join("demo-City.mmdb"), d.join("demo-ASN.mmdb"))
}

/// A free TCP port on localhost.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Parses stdout as JSON.
pub fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}
