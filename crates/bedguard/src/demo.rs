//! `bedguard demo`: the whole product on one machine with no AWS account.
//!
//! Starts a local S3+SQS endpoint (moto's server), creates a trail bucket whose
//! notifications go to a queue with a DLQ, writes the demo GeoIP databases, uploads a
//! few weeks of a simulated small organisation's CloudTrail (with one LLMjacking
//! attack near the end), runs `bedguard run` against it as a separate process until
//! the queue is drained, shows the findings its file sink received as a person reads
//! them, checks them against the simulator's labels, and stops everything it started.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use flate2::{Compression, write::GzEncoder};

use crate::cli::DemoArgs;

const BUCKET: &str = "demo-trail";
const QUEUE: &str = "demo-trail-notifications";
const DLQ: &str = "demo-trail-dlq";

/// A child process killed when dropped.
pub(crate) struct Guard(Child, &'static str);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        eprintln!("demo: stopped {}", self.1);
    }
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Starts `moto_server` on a free port and waits until it answers.
pub(crate) fn start_moto() -> Result<(Guard, String)> {
    let port = free_port()?;
    let child = Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start moto_server (install it with: pip install 'moto[server]')")?;
    let guard = Guard(child, "moto_server");
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok((guard, format!("http://127.0.0.1:{port}")));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("moto_server did not answer on port {port} within 30 s")
}

/// SDK clients for a local endpoint such as moto's, with its fixed test credentials.
pub(crate) async fn local_clients(endpoint: &str) -> Result<ingest::Clients> {
    let settings = ingest::AwsSettings {
        region: Some("us-east-1".into()),
        endpoint_url: Some(endpoint.to_string()),
        force_path_style: true,
        static_credentials: Some(ingest::StaticCredentials {
            access_key_id: "testing".into(),
            secret_access_key: "testing".into(),
        }),
        ..ingest::AwsSettings::default()
    };
    Ok(ingest::connect(&settings).await?)
}

/// Runs the demo.
pub fn run(args: &DemoArgs) -> Result<()> {
    let tmp;
    let dir: PathBuf = match &args.dir {
        Some(d) => d.clone(),
        None => {
            tmp = tempdir()?;
            tmp.0.clone()
        }
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let started = Instant::now();
    let (city, asn) = enrich::demo::write_demo_databases(&dir)
        .context("cannot write the demo GeoIP databases")?;
    eprintln!(
        "demo: GeoIP databases {} and {}",
        city.display(),
        asn.display()
    );

    let (_moto, endpoint) = start_moto()?;
    eprintln!("demo: local S3+SQS endpoint (moto) at {endpoint}");
    let rt = crate::runtime()?;
    let clients = rt.block_on(crate::demo::local_clients(&endpoint))?;
    let urls = rt.block_on(ingest::test_util::setup_local_pipeline(
        &clients, BUCKET, QUEUE, DLQ,
    ))?;
    eprintln!(
        "demo: bucket s3://{BUCKET} notifies {} (DLQ {})",
        urls.queue_url, urls.dlq_url
    );

    // Simulate and upload. CloudTrail delivers a file about every five minutes per
    // region; the demo folds each hour's files into one object so that a local
    // endpoint gets through three weeks in a minute or two.
    let mut simulation = sim::Simulation::new(sim::demo_config());
    let (mut files, mut events) = (0u64, 0u64);
    let mut open: std::collections::BTreeMap<String, (String, Vec<u8>)> =
        std::collections::BTreeMap::new();
    let mut current_hour = String::new();
    let upload = |key: &str, records: &[u8]| -> Result<()> {
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(b"{\"Records\":[")?;
        gz.write_all(records)?;
        gz.write_all(b"]}")?;
        rt.block_on(ingest::test_util::put_object(
            &clients,
            BUCKET,
            key,
            gz.finish()?,
        ))?;
        Ok(())
    };
    for file in simulation.files() {
        // `..._CloudTrail_us-east-1_20240102T1005Z_<random>.json.gz`: the group is the
        // key up to the hour, the hour is `20240102T10`.
        let group = file
            .key
            .rsplit_once('_')
            .map(|(head, _)| head[..head.len().saturating_sub(3)].to_string())
            .unwrap_or_default();
        let hour = group
            .rsplit_once('_')
            .map(|(_, h)| h.to_string())
            .unwrap_or_default();
        if hour != current_hour {
            for (_, (key, records)) in std::mem::take(&mut open) {
                upload(&key, &records)?;
                files += 1;
            }
            current_hour = hour;
        }
        let body = inner_records(&file.json);
        let entry = open
            .entry(group)
            .or_insert_with(|| (file.key.clone(), Vec::new()));
        if !body.is_empty() {
            if !entry.1.is_empty() {
                entry.1.push(b',');
            }
            entry.1.extend_from_slice(body);
        }
        events += file.events as u64;
    }
    for (_, (key, records)) in open {
        upload(&key, &records)?;
        files += 1;
    }
    let labels = simulation.labels().to_vec();
    eprintln!(
        "demo: uploaded {files} CloudTrail files ({events} events) of a simulated organisation"
    );

    // The daemon, as a user runs it.
    let findings_path = dir.join("findings.jsonl");
    let _ = std::fs::remove_file(&findings_path);
    let config_path = dir.join("bedguard.toml");
    std::fs::write(
        &config_path,
        format!(
            r#"# Written by `bedguard demo`.
[state]
path = "{state}"

[aws]
region = "us-east-1"
endpoint_url = "{endpoint}"

[ingest]
queue_url = "{queue}"
wait_time_secs = 1
concurrency = 4

[geoip]
city_db_path = "{city}"
asn_db_path = "{asn}"

[metrics]
enabled = false

[[sinks]]
type = "file"
name = "demo-file"
path = "{findings}"
"#,
            state = dir.join("state").display(),
            queue = urls.queue_url,
            city = city.display(),
            asn = asn.display(),
            findings = findings_path.display(),
        ),
    )?;
    let exe = std::env::current_exe().context("cannot find the bedguard executable")?;
    eprintln!("demo: bedguard run --config {}", config_path.display());
    let status = Command::new(exe)
        .args(["run", "--config"])
        .arg(&config_path)
        .args(["--exit-when-idle-secs", "5"])
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("BEDGUARD_LOG_FORMAT", "human")
        .env(
            "BEDGUARD_LOG_LEVEL",
            if args.verbose { "info" } else { "warn" },
        )
        .status()
        .context("cannot run bedguard run")?;
    if !status.success() {
        bail!("bedguard run failed: {status}");
    }
    let (depth, dlq_depth) = (
        rt.block_on(ingest::test_util::queue_depth(&clients, &urls.queue_url))?,
        rt.block_on(ingest::test_util::queue_depth(&clients, &urls.dlq_url))?,
    );

    // What the SIEM received.
    let text = std::fs::read_to_string(&findings_path).unwrap_or_default();
    let mut findings = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        findings.push(
            sinks::encode::native::decode(line.as_bytes())
                .context("the file sink wrote a line that is not a finding")?,
        );
    }
    let mut shown = crate::render::latest_revisions(findings);
    shown.sort_by(|a, b| {
        b.severity
            .total_cmp(&a.severity)
            .then(a.first_seen.cmp(&b.first_seen))
    });
    println!();
    println!(
        "=== {} finding(s) delivered to the file sink {} ===",
        shown.len(),
        findings_path.display()
    );
    println!();
    for f in &shown {
        println!("{}", crate::render::finding(f));
    }

    // Against the labels.
    println!("=== against the simulator's labels ===");
    for l in &labels {
        let ids: std::collections::BTreeSet<&str> =
            l.event_ids.iter().map(String::as_str).collect();
        let caught = shown
            .iter()
            .filter(|f| f.severity >= 4.0 && f.event_ids.iter().any(|e| ids.contains(e.as_str())))
            .map(|f| format!("{} ({:.1})", f.finding_type, f.severity))
            .collect::<Vec<_>>();
        println!(
            "{:<8} {:<32} {:<60} {}",
            if l.scenario.is_attack() {
                "attack"
            } else {
                "benign"
            },
            l.scenario.as_str(),
            l.principal,
            if caught.is_empty() {
                "no finding at Medium or above".to_string()
            } else {
                format!("flagged: {}", caught.join(", "))
            }
        );
    }
    println!();
    println!(
        "queue left: {} message(s), DLQ: {} message(s); demo took {:.0}s; files kept in {}",
        depth.0 + depth.1,
        dlq_depth.0 + dlq_depth.1,
        started.elapsed().as_secs_f64(),
        if args.dir.is_some() {
            dir.display().to_string()
        } else {
            "(a temporary directory, removed)".to_string()
        }
    );
    Ok(())
}

/// The bytes between `{"Records":[` and the closing `]}` of a simulated file.
fn inner_records(json: &[u8]) -> &[u8] {
    let start = json.iter().position(|&b| b == b'[').map_or(0, |i| i + 1);
    let end = json.iter().rposition(|&b| b == b']').unwrap_or(json.len());
    json.get(start..end).unwrap_or_default()
}

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tempdir() -> Result<TempDir> {
    let p = std::env::temp_dir().join(format!("bedguard-demo-{}", std::process::id()));
    std::fs::create_dir_all(&p).with_context(|| format!("cannot create {}", p.display()))?;
    Ok(TempDir(p))
}
