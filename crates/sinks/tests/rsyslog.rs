//! The syslog transport against a real rsyslogd (imudp, imtcp, and imtcp with the
//! gtls driver), run in the foreground on loopback ports, writing to a file that
//! the test polls. rsyslogd must be installed: the tests fail (they do not skip)
//! when it is not.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // helpers outside #[test] fns

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sinks::config::{DrainConfig, SyslogProtocol, SyslogSinkConfig};
use sinks::encode::native;
use sinks::transport::syslog::SyslogTransport;
use sinks::{Drain, Encoding, MemoryOutbox, Outbox, Step, sample};

const RSYSLOGD: &str = "/usr/sbin/rsyslogd";
const TEMPLATE: &str =
    "%syslogfacility%|%syslogseverity%|%app-name%|%msgid%|%structured-data%|%msg%\\n";

fn require_rsyslogd() {
    assert!(
        Path::new(RSYSLOGD).exists(),
        "{RSYSLOGD} not found: install rsyslog to run these tests \
         (apt-get install -y rsyslog rsyslog-gnutls)"
    );
}

/// A port nothing listens on, never the same twice in this process: the tests run in
/// parallel, and two rsyslogds given one port would have one of them fail to bind while
/// the readiness probe is answered by the other.
fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
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

/// A foreground rsyslogd, killed on drop.
struct Rsyslogd {
    child: Child,
    out: PathBuf,
    stderr: PathBuf,
}

impl Drop for Rsyslogd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Rsyslogd {
    fn start(dir: &Path, name: &str, global: &str, inputs: &str, wait_tcp: u16) -> Self {
        require_rsyslogd();
        let work = dir.join(format!("{name}-work"));
        std::fs::create_dir_all(&work).unwrap();
        let out = dir.join(format!("{name}.log"));
        let conf = dir.join(format!("{name}.conf"));
        std::fs::write(
            &conf,
            format!(
                "global(workDirectory=\"{}\" maxMessageSize=\"64k\" {global})\n\
                 {inputs}\n\
                 template(name=\"t\" type=\"string\" string=\"{TEMPLATE}\")\n\
                 action(type=\"omfile\" file=\"{}\" template=\"t\" flushOnTXEnd=\"on\" asyncWriting=\"off\")\n",
                work.display(),
                out.display()
            ),
        )
        .unwrap();
        let stderr = dir.join(format!("{name}.stderr"));
        let child = Command::new(RSYSLOGD)
            .arg("-n")
            .arg("-f")
            .arg(&conf)
            .arg("-i")
            .arg(dir.join(format!("{name}.pid")))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {RSYSLOGD}: {e}; install rsyslog"));
        let mut r = Self { child, out, stderr };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", wait_tcp)).is_err() {
            if let Ok(Some(status)) = r.child.try_wait() {
                panic!(
                    "rsyslogd exited with {status}: {}",
                    std::fs::read_to_string(&r.stderr).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "rsyslogd did not listen on {wait_tcp}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        r.child.try_wait().unwrap();
        r
    }

    /// Lines written so far, by finding id (from the structured data).
    fn lines_by_id(&self) -> BTreeMap<String, Vec<String>> {
        let text = std::fs::read_to_string(&self.out).unwrap_or_default();
        let mut by_id: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for line in text.lines() {
            if let Some(rest) = line.split("id=\"").nth(1)
                && let Some(id) = rest.split('"').next()
            {
                by_id
                    .entry(id.to_owned())
                    .or_default()
                    .push(line.to_owned());
            }
        }
        by_id
    }

    /// Polls the output until `ids` are all there (the file is written asynchronously).
    fn wait_for(&self, ids: &[String]) -> BTreeMap<String, Vec<String>> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let got = self.lines_by_id();
            if ids.iter().all(|id| got.contains_key(id)) {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "rsyslog wrote {} of {} findings; stderr: {}",
                ids.iter().filter(|id| got.contains_key(*id)).count(),
                ids.len(),
                std::fs::read_to_string(&self.stderr).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn syslog_cfg(
    protocol: SyslogProtocol,
    port: u16,
    encoding: Encoding,
    ca: Option<PathBuf>,
) -> SyslogSinkConfig {
    SyslogSinkConfig {
        name: "siem".into(),
        encoding,
        protocol,
        address: format!("localhost:{port}"),
        tls_ca_file: ca,
        tls_server_name: None,
        facility: 16,
        app_name: "bedguard".into(),
        max_message_bytes: 60_000,
        timeout_ms: 5_000,
        drain: DrainConfig::default(),
    }
}

fn drain_cfg() -> DrainConfig {
    DrainConfig {
        batch_max_findings: 20,
        max_attempts: 5,
        backoff_initial_ms: 5,
        backoff_max_ms: 50,
        poll_interval_ms: 5,
        dead_letter_path: None,
    }
}

/// Pushes findings `range` and drains them through a syslog transport; returns their ids.
async fn deliver(
    cfg: &SyslogSinkConfig,
    range: std::ops::Range<u64>,
    dir: &Path,
) -> (Vec<String>, Drain<SyslogTransport>) {
    let outbox = Arc::new(MemoryOutbox::new());
    let mut ids = Vec::new();
    for i in range {
        let f = sample::numbered(i);
        ids.push(f.id.clone());
        outbox
            .push(&["siem"], 0, native::encode_stored(&f).unwrap())
            .unwrap();
    }
    let transport = SyslogTransport::new(cfg).unwrap();
    let mut drain = Drain::new(
        "siem",
        cfg.encoding,
        outbox.clone(),
        transport,
        drain_cfg(),
        dir.join("dead.jsonl"),
        "sensor-1",
    );
    drain_fully(&mut drain, outbox.as_ref()).await;
    (ids, drain)
}

async fn drain_fully(drain: &mut Drain<SyslogTransport>, outbox: &dyn Outbox) {
    for _ in 0..500 {
        match drain.step().await.unwrap() {
            Step::Idle => break,
            Step::Failed { retry_in, .. } => tokio::time::sleep(retry_in).await,
            Step::Delivered(_) => {}
        }
    }
    assert_eq!(outbox.stats("siem").unwrap().0, 0, "outbox not drained");
}

fn check_lines(got: &BTreeMap<String, Vec<String>>, ids: &[String], encoding: Encoding) {
    for id in ids {
        let lines = &got[id];
        assert_eq!(lines.len(), 1, "{id} written {} times", lines.len());
        let fields: Vec<&str> = lines[0].splitn(6, '|').collect();
        assert_eq!(
            &fields[..4],
            ["16", "3", "bedguard", "finding"],
            "{}",
            lines[0]
        );
        assert!(
            fields[4].starts_with(&format!(
                "[bedguard@32473 id=\"{id}\" type=\"Bedrock:IAMUser/AnomalousInvocation\" severity=\"High\""
            )),
            "structured data: {}",
            fields[4]
        );
        let msg = fields[5].trim_start();
        match encoding {
            Encoding::Cef => assert!(msg.starts_with("CEF:0|bedguard|bedguard|"), "{msg}"),
            _ => {
                let v: serde_json::Value =
                    serde_json::from_str(msg).unwrap_or_else(|e| panic!("{e}: {msg}"));
                assert_eq!(v["id"], id.as_str());
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_and_tcp_reach_rsyslog() {
    let dir = tempfile::tempdir().unwrap();
    let (udp, tcp) = (free_port(), free_port());
    let inputs = format!(
        "module(load=\"imudp\")\nmodule(load=\"imtcp\")\n\
         input(type=\"imudp\" address=\"127.0.0.1\" port=\"{udp}\")\n\
         input(type=\"imtcp\" address=\"127.0.0.1\" port=\"{tcp}\")"
    );
    let rs = Rsyslogd::start(dir.path(), "plain", "", &inputs, tcp);

    let (udp_ids, _) = deliver(
        &syslog_cfg(SyslogProtocol::Udp, udp, Encoding::Cef, None),
        0..30,
        dir.path(),
    )
    .await;
    let (tcp_ids, _) = deliver(
        &syslog_cfg(SyslogProtocol::Tcp, tcp, Encoding::Native, None),
        1_000..1_060,
        dir.path(),
    )
    .await;
    let got = rs.wait_for(&udp_ids);
    check_lines(&got, &udp_ids, Encoding::Cef);
    let got = rs.wait_for(&tcp_ids);
    check_lines(&got, &tcp_ids, Encoding::Native);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_reconnects_after_rsyslog_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let tcp = free_port();
    let inputs = format!(
        "module(load=\"imtcp\")\ninput(type=\"imtcp\" address=\"127.0.0.1\" port=\"{tcp}\")"
    );
    let cfg = syslog_cfg(SyslogProtocol::Tcp, tcp, Encoding::Cef, None);
    let rs = Rsyslogd::start(dir.path(), "first", "", &inputs, tcp);
    let (ids, mut drain) = deliver(&cfg, 0..10, dir.path()).await;
    check_lines(&rs.wait_for(&ids), &ids, Encoding::Cef);
    drop(rs);

    // The same drain (and its now dead connection) carries on with a new rsyslogd.
    let rs = Rsyslogd::start(dir.path(), "second", "", &inputs, tcp);
    let outbox = Arc::new(MemoryOutbox::new());
    let mut more = Vec::new();
    for i in 100..110 {
        let f = sample::numbered(i);
        more.push(f.id.clone());
        outbox
            .push(&["siem"], 0, native::encode_stored(&f).unwrap())
            .unwrap();
    }
    drain = Drain::new(
        "siem",
        Encoding::Cef,
        outbox.clone(),
        take_transport(drain),
        drain_cfg(),
        dir.path().join("dead.jsonl"),
        "sensor-1",
    );
    drain_fully(&mut drain, outbox.as_ref()).await;
    check_lines(&rs.wait_for(&more), &more, Encoding::Cef);
}

/// Moves the (connected) transport out of a drain.
fn take_transport(drain: Drain<SyslogTransport>) -> SyslogTransport {
    drain.into_transport()
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("openssl is needed to make a test CA: {e}"));
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A throwaway CA and a server certificate for localhost / 127.0.0.1.
fn make_certs(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=bedguard test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_reaches_rsyslog_and_checks_the_certificate() {
    let dir = tempfile::tempdir().unwrap();
    make_certs(dir.path());
    let d = dir.path().display();
    let tls = free_port();
    let global = format!(
        "defaultNetstreamDriver=\"gtls\" defaultNetstreamDriverCAFile=\"{d}/ca.pem\" \
         defaultNetstreamDriverCertFile=\"{d}/server.pem\" defaultNetstreamDriverKeyFile=\"{d}/server.key\""
    );
    let inputs = format!(
        "module(load=\"imtcp\" streamDriver.name=\"gtls\" streamDriver.mode=\"1\" streamDriver.authMode=\"anon\")\n\
         input(type=\"imtcp\" address=\"127.0.0.1\" port=\"{tls}\")"
    );
    let rs = Rsyslogd::start(dir.path(), "tls", &global, &inputs, tls);
    let cfg = syslog_cfg(
        SyslogProtocol::Tls,
        tls,
        Encoding::Cef,
        Some(dir.path().join("ca.pem")),
    );
    let (ids, _) = deliver(&cfg, 0..40, dir.path()).await;
    check_lines(&rs.wait_for(&ids), &ids, Encoding::Cef);

    // A CA that did not sign the server's certificate: the handshake fails, nothing is acked.
    let other = dir.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    make_certs(&other);
    let bad = syslog_cfg(
        SyslogProtocol::Tls,
        tls,
        Encoding::Cef,
        Some(other.join("ca.pem")),
    );
    let outbox = Arc::new(MemoryOutbox::new());
    outbox
        .push(
            &["siem"],
            0,
            native::encode_stored(&sample::full()).unwrap(),
        )
        .unwrap();
    let mut drain = Drain::new(
        "siem",
        Encoding::Cef,
        outbox.clone(),
        SyslogTransport::new(&bad).unwrap(),
        drain_cfg(),
        dir.path().join("dead.jsonl"),
        "h",
    );
    let step = drain.step().await.unwrap();
    assert!(
        matches!(
            step,
            Step::Failed {
                transient: true,
                ..
            }
        ),
        "{step:?}"
    );
    assert_eq!(outbox.stats("siem").unwrap().0, 1);
}
