//! Throughput of every encoder, of each transport through a real drain, and of a
//! drain emptying an outbox after an outage. `bedguard bench sinks` calls [`run`];
//! every receiver is on loopback and every file in the given directory.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;

use crate::config::{
    DrainConfig, FileSinkConfig, HecConfig, HttpSinkConfig, SyslogProtocol, SyslogSinkConfig,
};
use crate::drain::{Drain, Step};
use crate::encode::{EncodeContext, Encoding, native};
use crate::outbox::{MemoryOutbox, Outbox};
use crate::receiver::{Receiver, ReceiverState};
use crate::sample;
use crate::transport::{AnyTransport, Transport};

/// One measurement.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchLine {
    /// What was measured.
    pub name: String,
    /// Findings processed.
    pub findings: u64,
    /// Wall time.
    pub elapsed: Duration,
}

impl BenchLine {
    /// Findings per second.
    pub fn per_sec(&self) -> f64 {
        self.findings as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// All measurements.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BenchReport {
    /// In the order measured.
    pub lines: Vec<BenchLine>,
}

impl std::fmt::Display for BenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for l in &self.lines {
            writeln!(
                f,
                "{:<36} {:>8} findings {:>9.1} ms {:>12.0} findings/s",
                l.name,
                l.findings,
                l.elapsed.as_secs_f64() * 1000.0,
                l.per_sec()
            )?;
        }
        Ok(())
    }
}

/// Why the benchmark failed.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Setting up a receiver or file failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// A transport could not be built.
    #[error("transport: {0}")]
    Build(#[from] crate::transport::BuildError),
    /// The drain failed.
    #[error("drain: {0}")]
    Drain(#[from] crate::drain::DrainError),
    /// Encoding failed.
    #[error("encode: {0}")]
    Encode(#[from] crate::encode::EncodeError),
    /// The outbox failed.
    #[error("outbox: {0}")]
    Outbox(#[from] crate::outbox::OutboxError),
    /// A drain did not finish.
    #[error("{0} did not drain: {1} findings left")]
    Stuck(String, u64),
}

fn fast_drain() -> DrainConfig {
    DrainConfig {
        batch_max_findings: 200,
        max_attempts: 1_000,
        backoff_initial_ms: 5,
        backoff_max_ms: 50,
        poll_interval_ms: 5,
        dead_letter_path: None,
    }
}

fn filled_outbox(sink: &str, n: usize) -> Result<Arc<MemoryOutbox>, BenchError> {
    let outbox = Arc::new(MemoryOutbox::new());
    for i in 0..n {
        let bytes = native::encode_stored(&sample::numbered(i as u64))?;
        outbox.push(&[sink], 0, bytes)?;
    }
    Ok(outbox)
}

/// Drains `outbox` through `drain` until empty; returns (total time, time from the
/// first delivery).
async fn drain_all<T: Transport>(
    name: &str,
    drain: &mut Drain<T>,
    outbox: &dyn Outbox,
    sink: &str,
) -> Result<(Duration, Duration), BenchError> {
    let start = Instant::now();
    let mut first: Option<Instant> = None;
    let deadline = start + Duration::from_secs(300);
    loop {
        match drain.step().await? {
            Step::Idle => break,
            Step::Delivered(_) => {
                first.get_or_insert_with(Instant::now);
            }
            Step::Failed { retry_in, .. } => tokio::time::sleep(retry_in).await,
        }
        if Instant::now() > deadline {
            let (depth, _) = outbox.stats(sink)?;
            return Err(BenchError::Stuck(name.to_owned(), depth));
        }
    }
    let total = start.elapsed();
    let from_first = first.map_or(total, |t| t.elapsed());
    Ok((total, from_first))
}

async fn transport_line(
    name: &str,
    n: usize,
    encoding: Encoding,
    transport: AnyTransport,
    dir: &Path,
) -> Result<BenchLine, BenchError> {
    let outbox = filled_outbox(name, n)?;
    let mut drain = Drain::new(
        name,
        encoding,
        outbox.clone(),
        transport,
        fast_drain(),
        dir.join(format!("dead-{name}.jsonl")),
        "bench-host",
    );
    let (elapsed, _) = drain_all(name, &mut drain, outbox.as_ref(), name).await?;
    Ok(BenchLine {
        name: format!("drain → {name} ({})", encoding.as_str()),
        findings: n as u64,
        elapsed,
    })
}

/// A loopback TCP receiver that reads and discards.
async fn discard_tcp() -> std::io::Result<(std::net::SocketAddr, tokio::task::JoinHandle<()>)> {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = l.local_addr()?;
    let task = tokio::spawn(async move {
        while let Ok((mut c, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                while matches!(c.read(&mut buf).await, Ok(n) if n > 0) {}
            });
        }
    });
    Ok((addr, task))
}

/// Runs every measurement with `n` findings, writing files under `dir`.
pub async fn run(n: usize, dir: &Path) -> Result<BenchReport, BenchError> {
    let mut report = BenchReport::default();
    let ctx = EncodeContext::new("bench-host", 1_700_000_400_000);
    let findings: Vec<_> = (0..n as u64).map(sample::numbered).collect();
    for enc in Encoding::ALL {
        let start = Instant::now();
        let mut bytes = 0usize;
        for f in &findings {
            bytes += enc.encode(f, &ctx)?.len();
        }
        report.lines.push(BenchLine {
            name: format!("encode {} ({} B avg)", enc.as_str(), bytes / n.max(1)),
            findings: n as u64,
            elapsed: start.elapsed(),
        });
    }

    let file = FileSinkConfig {
        name: "file".into(),
        encoding: Encoding::Native,
        path: dir.join("findings.jsonl"),
        max_bytes: 16 * 1024 * 1024,
        keep_files: 2,
        drain: fast_drain(),
    };
    report.lines.push(
        transport_line(
            "file",
            n,
            Encoding::Native,
            AnyTransport::build(&crate::SinkConfig::File(file))?,
            dir,
        )
        .await?,
    );

    let (tcp_addr, tcp_task) = discard_tcp().await?;
    let syslog = |protocol, address: String| SyslogSinkConfig {
        name: "syslog".into(),
        encoding: Encoding::Cef,
        protocol,
        address,
        tls_ca_file: None,
        tls_server_name: None,
        facility: 16,
        app_name: "bedguard".into(),
        max_message_bytes: 65_000,
        timeout_ms: 5_000,
        drain: fast_drain(),
    };
    let tcp = syslog(SyslogProtocol::Tcp, tcp_addr.to_string());
    report.lines.push(
        transport_line(
            "syslog-tcp",
            n,
            Encoding::Cef,
            AnyTransport::build(&crate::SinkConfig::Syslog(tcp))?,
            dir,
        )
        .await?,
    );
    tcp_task.abort();

    let udp_sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await?;
    let udp_addr = udp_sock.local_addr()?;
    let udp_task = tokio::spawn(async move {
        let mut buf = vec![0u8; 65_536];
        while udp_sock.recv(&mut buf).await.is_ok() {}
    });
    let udp = syslog(SyslogProtocol::Udp, udp_addr.to_string());
    report.lines.push(
        transport_line(
            "syslog-udp",
            n,
            Encoding::Cef,
            AnyTransport::build(&crate::SinkConfig::Syslog(udp))?,
            dir,
        )
        .await?,
    );
    udp_task.abort();

    let http_rx = Receiver::start(ReceiverState::default()).await?;
    let http = HttpSinkConfig {
        name: "http".into(),
        encoding: Encoding::Ecs,
        url: format!("{}/ingest", http_rx.url()),
        headers: Default::default(),
        gzip: true,
        batch_max_bytes: 1024 * 1024,
        timeout_ms: 10_000,
        tls_ca_file: None,
        hec: None,
        drain: fast_drain(),
    };
    report.lines.push(
        transport_line(
            "http-gzip",
            n,
            Encoding::Ecs,
            AnyTransport::build(&crate::SinkConfig::Http(http))?,
            dir,
        )
        .await?,
    );
    drop(http_rx);

    let token_file = dir.join("hec.token");
    std::fs::write(&token_file, "bench-token\n")?;
    let hec_cfg = |url: String| HttpSinkConfig {
        name: "hec".into(),
        encoding: Encoding::Native,
        url,
        headers: Default::default(),
        gzip: true,
        batch_max_bytes: 1024 * 1024,
        timeout_ms: 10_000,
        tls_ca_file: None,
        hec: Some(HecConfig {
            token_file: Some(token_file.clone()),
            token_env: None,
            sourcetype: "bedguard:finding".into(),
            source: None,
            index: None,
            ack: true,
            ack_timeout_ms: 10_000,
            ack_poll_ms: 2,
        }),
        drain: fast_drain(),
    };
    let hec_rx = Receiver::start(ReceiverState {
        token: Some("bench-token".into()),
        ..ReceiverState::default()
    })
    .await?;
    report.lines.push(
        transport_line(
            "hec-ack",
            n,
            Encoding::Native,
            AnyTransport::build(&crate::SinkConfig::Http(hec_cfg(hec_rx.url())))?,
            dir,
        )
        .await?,
    );
    drop(hec_rx);

    // An outage: the first 20 requests get 503, then the receiver recovers.
    let outage_rx = Receiver::start(ReceiverState {
        token: Some("bench-token".into()),
        fail_next: 20,
        ..ReceiverState::default()
    })
    .await?;
    let outbox = filled_outbox("hec", n)?;
    let transport = AnyTransport::build(&crate::SinkConfig::Http(hec_cfg(outage_rx.url())))?;
    let mut drain = Drain::new(
        "hec",
        Encoding::Native,
        outbox.clone(),
        transport,
        fast_drain(),
        dir.join("dead-outage.jsonl"),
        "bench-host",
    );
    let (total, after) = drain_all("hec-outage", &mut drain, outbox.as_ref(), "hec").await?;
    report.lines.push(BenchLine {
        name: "outage: backlog drain after recovery".into(),
        findings: n as u64,
        elapsed: after,
    });
    report.lines.push(BenchLine {
        name: "outage: total incl. 20 x 503".into(),
        findings: n as u64,
        elapsed: total,
    });
    Ok(report)
}
