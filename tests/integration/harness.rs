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

/// A free TCP port on localhost.
pub fn free_port() -> u16 {
    // Never the same port twice in this process: tests run in parallel, and a server
    // started on a port another test was also given would fail to bind.
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut given = GIVEN.lock().unwrap();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
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

/// A moto server (S3+SQS) on a free port, stopped when dropped.
pub struct Moto {
    child: std::process::Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

impl Moto {
    /// Starts `moto_server`; fails the test with an install hint when it is missing.
    pub fn start() -> Moto {
        let port = free_port();
        let child = std::process::Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect(
                "moto_server not found: pip install 'moto[server]' (scripts/setup-deps.sh does)",
            );
        let moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "moto_server did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        moto
    }

    /// SDK clients for it.
    pub fn clients(&self, rt: &tokio::runtime::Runtime) -> ingest::Clients {
        let settings = ingest::AwsSettings {
            region: Some("us-east-1".into()),
            endpoint_url: Some(self.endpoint.clone()),
            force_path_style: true,
            static_credentials: Some(ingest::StaticCredentials {
                access_key_id: "testing".into(),
                secret_access_key: "testing".into(),
            }),
            ..ingest::AwsSettings::default()
        };
        rt.block_on(ingest::connect(&settings)).unwrap()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A current-thread runtime for test-side AWS calls.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// `bedguard` with AWS test credentials for a local endpoint.
pub fn bin_aws() -> Command {
    let mut c = bin();
    c.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1");
    c
}

/// Gzips bytes.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

/// moto with a trail bucket notifying a queue (with a DLQ).
pub struct Trail {
    pub moto: Moto,
    pub rt: tokio::runtime::Runtime,
    pub clients: ingest::Clients,
    pub urls: ingest::test_util::QueueUrls,
}

impl Trail {
    /// Starts moto and creates bucket `trail`, queue `notes` and DLQ `notes-dlq`.
    pub fn start() -> Trail {
        let moto = Moto::start();
        let rt = runtime();
        let clients = moto.clients(&rt);
        let urls = rt
            .block_on(ingest::test_util::setup_local_pipeline(
                &clients,
                "trail",
                "notes",
                "notes-dlq",
            ))
            .unwrap();
        Trail {
            moto,
            rt,
            clients,
            urls,
        }
    }

    /// Uploads one object to the trail bucket.
    pub fn put(&self, key: &str, body: Vec<u8>) {
        self.rt
            .block_on(ingest::test_util::put_object(
                &self.clients,
                "trail",
                key,
                body,
            ))
            .unwrap();
    }

    /// Visible plus in-flight messages of a queue.
    pub fn depth(&self, url: &str) -> u64 {
        let (v, f) = self
            .rt
            .block_on(ingest::test_util::queue_depth(&self.clients, url))
            .unwrap();
        v + f
    }
}
