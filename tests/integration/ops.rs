//! Operating `bedguard run` as a service, through the real binary against moto's
//! S3+SQS server: a SIGHUP reload that takes effect for new objects without dropping
//! any in flight and that rejects a bad file while the old configuration keeps
//! running; `/metrics` and `/healthz` over plain HTTP with the values the work implies;
//! systemd's notify protocol (READY=1 only once SQS answers, WATCHDOG=1 at half the
//! period, STOPPING=1 on SIGTERM) on a datagram socket the test binds.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::harness::{Moto, Trail, bin_aws, free_port, gzip, runtime};

const ACCOUNT: &str = "111122223333";

// ---------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------

/// Polls `f` every 50 ms until it holds; fails the test naming `what` after `within`.
fn wait_until(what: &str, within: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !f() {
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?}: {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One CloudTrail record by IAM user `user`.
fn record(event_id: &str, user: &str, source: &str, name: &str, time: &str) -> serde_json::Value {
    serde_json::json!({
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": format!("AIDA{user}"),
            "arn": format!("arn:aws:iam::{ACCOUNT}:user/{user}"),
            "accountId": ACCOUNT,
            "accessKeyId": format!("AKIA{user}"),
            "userName": user,
        },
        "eventTime": time,
        "eventSource": source,
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "45.148.9.10",
        "userAgent": "python-requests/2.31.0",
        "requestID": format!("req-{event_id}"),
        "eventID": event_id,
        "readOnly": false,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
    })
}

/// A call that always raises a finding (a catalogue rule): invocation logging deleted.
fn logging_deleted(event_id: &str, user: &str, time: &str) -> serde_json::Value {
    record(
        event_id,
        user,
        "bedrock.amazonaws.com",
        "DeleteModelInvocationLoggingConfiguration",
        time,
    )
}

/// A gzipped CloudTrail log file holding `records` (any JSON values, bad ones too).
fn log_object(records: Vec<serde_json::Value>) -> Vec<u8> {
    gzip(
        serde_json::json!({ "Records": records })
            .to_string()
            .as_bytes(),
    )
}

/// A key in CloudTrail's layout, unique by `tag` (letters and digits).
fn log_key(tag: &str) -> String {
    format!(
        "AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2026/11/01/{ACCOUNT}_CloudTrail_us-east-1_20261101T1000Z_{tag}.json.gz"
    )
}

/// The principal keys of the findings in a native JSON-lines file (empty when absent).
fn finding_principals(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {l}", path.display()));
            v["principal"]["key"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

fn user_arn(user: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:user/{user}")
}

/// The `[state]`, `[aws]` and `[ingest]` tables every test's config starts with.
fn base_config(dir: &Path, endpoint: &str, queue_url: &str) -> String {
    format!(
        "[state]\npath = {state:?}\n[aws]\nregion = \"us-east-1\"\nendpoint_url = {endpoint:?}\n\
         [ingest]\nqueue_url = {queue_url:?}\nwait_time_secs = 1\nconcurrency = 2\n\
         visibility_timeout_secs = 30\nheartbeat_secs = 5\nshutdown_deadline_secs = 10\n",
        state = dir.join("state").display().to_string(),
    )
}

/// A file sink draining every 50 ms.
fn file_sink(name: &str, path: &Path) -> String {
    format!(
        "[[sinks]]\ntype = \"file\"\nname = {name:?}\npath = {:?}\n[sinks.drain]\npoll_interval_ms = 50\n",
        path.display().to_string()
    )
}

/// A running `bedguard run` whose stderr is collected line by line.
struct Daemon {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl Daemon {
    fn start(mut c: Command) -> Daemon {
        c.stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let log: Arc<Mutex<Vec<String>>> = Arc::default();
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push(line);
            }
        });
        Daemon { child, log }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    fn log_lines_with(&self, needle: &str) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(needle))
            .count()
    }

    /// Waits until `n` log lines contain `needle`.
    fn wait_log(&mut self, needle: &str, n: usize, within: Duration) {
        let deadline = Instant::now() + within;
        while self.log_lines_with(needle) < n {
            self.assert_running();
            assert!(
                Instant::now() < deadline,
                "no {n} log line(s) with {needle:?} within {within:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{sig} failed");
    }

    fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!("bedguard exited ({status}):\n{}", self.log());
        }
    }

    /// SIGTERM, then the exit status (within 30 s) and the whole log.
    fn stop(mut self) -> (ExitStatus, String) {
        self.signal("TERM");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the reader thread take the last lines.
                std::thread::sleep(Duration::from_millis(100));
                return (status, self.log());
            }
            assert!(
                Instant::now() < deadline,
                "no exit within 30 s of SIGTERM:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// GET `path` from `127.0.0.1:port` with a plain HTTP/1.1 request: (status line,
/// headers, body).
fn http_get(port: u16, path: &str) -> (String, String, String) {
    http_exchange(
        port,
        &[&format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
        )],
    )
}

/// Sends a request in `parts`, 200 ms apart (as a slow client or a split TCP segment
/// delivers it), and reads the whole response: (status line, headers, body).
fn http_exchange(port: u16, parts: &[&str]) -> (String, String, String) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_nodelay(true).unwrap();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            std::thread::sleep(Duration::from_millis(200));
        }
        s.write_all(part.as_bytes())
            .unwrap_or_else(|e| panic!("writing part {i} of the request {parts:?}: {e}"));
    }
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of headers in:\n{raw}"));
    let (status, headers) = head.split_once("\r\n").unwrap_or((head, ""));
    (status.to_string(), headers.to_string(), body.to_string())
}

/// Prometheus text format to `series -> value` (`name{labels}` as written).
fn parse_metrics(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (series, value) = l
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("not a sample: {l}"));
            let value: f64 = value
                .parse()
                .unwrap_or_else(|e| panic!("bad value in {l:?}: {e}"));
            (series.to_string(), value)
        })
        .collect()
}

fn metric(m: &BTreeMap<String, f64>, series: &str) -> f64 {
    *m.get(series)
        .unwrap_or_else(|| panic!("{series} missing from /metrics: {m:#?}"))
}

/// The local addresses of the TCP sockets `pid` listens on, as /proc/net/tcp{,6}
/// writes them (`0100007F:2677` is 127.0.0.1:9847).
fn listening_addresses(pid: u32) -> BTreeSet<String> {
    let inodes: BTreeSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|l| {
            let l = l.to_string_lossy().into_owned();
            Some(l.strip_prefix("socket:[")?.strip_suffix(']')?.to_string())
        })
        .collect();
    let mut out = BTreeSet::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            // sl local rem st tx:rx tr:when retrnsmt uid timeout inode
            if f.len() > 9 && f[3] == "0A" && inodes.contains(f[9]) {
                out.insert(f[1].to_string());
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------
// a. SIGHUP reload
// ---------------------------------------------------------------------------------

#[test]
fn sighup_reload_applies_to_new_objects_drops_nothing_and_rejects_a_bad_file() {
    let trail = Trail::start();
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first.jsonl");
    let second = dir.path().join("second.jsonl");
    let config = dir.path().join("bedguard.toml");
    let base = base_config(dir.path(), &trail.moto.endpoint, &trail.urls.queue_url);
    let v1 = format!("{base}{}", file_sink("first", &first));
    // v2: principals `quiet-*` allowlisted, and a second sink.
    let v2 = format!(
        "{base}[detect.suppression]\nallow_principals = [\"arn:aws:iam::{ACCOUNT}:user/quiet-*\"]\n{}{}",
        file_sink("first", &first),
        file_sink("second", &second)
    );
    std::fs::write(&config, &v1).unwrap();
    let t = "2026-11-01T10:00:00Z";

    let mut c = bin_aws();
    c.args(["run", "--config"]).arg(&config);
    let mut daemon = Daemon::start(c);

    // Before the reload a `quiet-*` principal is flagged like any other.
    trail.put(
        &log_key("before0"),
        log_object(vec![
            logging_deleted("before-quiet", "quiet-0", t),
            logging_deleted("before-loud", "loud-0", t),
        ]),
    );
    wait_until("the first two findings", Duration::from_secs(60), || {
        finding_principals(&first).len() == 2
    });
    assert_eq!(
        finding_principals(&first)
            .into_iter()
            .collect::<BTreeSet<_>>(),
        BTreeSet::from([user_arn("quiet-0"), user_arn("loud-0")])
    );

    // Objects in flight across the reload: four uploaded before SIGHUP, four right
    // after it, each with enough ordinary records to keep the pipeline busy while the
    // reload happens. Their principals are flagged under either config, so every one
    // of them must reach the first sink.
    let inflight: Vec<String> = (0..8).map(|i| format!("inflight-{i}")).collect();
    for (i, user) in inflight.iter().enumerate() {
        if i == 4 {
            std::fs::write(&config, &v2).unwrap();
            daemon.signal("HUP");
        }
        let mut recs: Vec<serde_json::Value> = (0..1_500)
            .map(|e| {
                record(
                    &format!("fill-{i}-{e}"),
                    &format!("filler-{}", e % 20),
                    "s3.amazonaws.com",
                    "ListBuckets",
                    t,
                )
            })
            .collect();
        recs.push(logging_deleted(&format!("ev-{user}"), user, t));
        trail.put(&log_key(&format!("inflight{i}")), log_object(recs));
    }
    daemon.wait_log("configuration reloaded", 1, Duration::from_secs(30));

    // After the reload: one object with an allowlisted and an ordinary principal.
    trail.put(
        &log_key("after0"),
        log_object(vec![
            logging_deleted("after-quiet", "quiet-1", t),
            logging_deleted("after-loud", "loud-1", t),
        ]),
    );
    wait_until(
        "every in-flight finding and loud-1's in the first sink",
        Duration::from_secs(60),
        || {
            let got: BTreeSet<String> = finding_principals(&first).into_iter().collect();
            inflight.iter().all(|u| got.contains(&user_arn(u))) && got.contains(&user_arn("loud-1"))
        },
    );
    wait_until(
        "loud-1's finding in the sink the reload added",
        Duration::from_secs(30),
        || finding_principals(&second).contains(&user_arn("loud-1")),
    );
    let in_first = finding_principals(&first);
    let in_second = finding_principals(&second);
    assert!(
        !in_first.contains(&user_arn("quiet-1")) && !in_second.contains(&user_arn("quiet-1")),
        "quiet-1 was allowlisted by the reload, yet flagged:\nfirst: {in_first:?}\nsecond: {in_second:?}"
    );
    // 2 before + 8 in flight + loud-1, each once.
    assert_eq!(in_first.len(), 11, "{in_first:?}");
    // The second sink only ever saw findings committed after the reload.
    for p in &in_second {
        assert!(
            p == &user_arn("loud-1") || inflight.iter().any(|u| p == &user_arn(u)),
            "unexpected finding in the second sink: {p}"
        );
    }
    wait_until("the queue drained", Duration::from_secs(30), || {
        trail.depth(&trail.urls.queue_url) == 0
    });
    assert_eq!(
        trail.depth(&trail.urls.dlq_url),
        0,
        "nothing went to the DLQ"
    );

    // An invalid file: rejected with every problem named by key, the old config kept.
    std::fs::write(
        &config,
        format!(
            "{base}wait_time_secs_typo = 1\n{}",
            file_sink("first", &first)
        ),
    )
    .unwrap();
    daemon.signal("HUP");
    daemon.wait_log("reload rejected", 1, Duration::from_secs(30));
    let rejected = daemon.log();
    assert!(
        rejected.contains("ingest.wait_time_secs_typo"),
        "the unknown key is named by its path:\n{rejected}"
    );
    std::fs::write(
        &config,
        format!("{v2}[detect.severity]\nmedium_bits = -1.0\n")
            .replace("wait_time_secs = 1\n", "wait_time_secs = 40\n"),
    )
    .unwrap();
    daemon.signal("HUP");
    daemon.wait_log("reload rejected", 2, Duration::from_secs(30));
    let rejected = daemon.log();
    assert!(
        rejected.contains(&config.display().to_string()),
        "the file is named:\n{rejected}"
    );
    // A file that validates but whose new sink cannot start (its HEC token variable is
    // unset) is rejected too, before anything is swapped.
    std::fs::write(
        &config,
        format!(
            "{base}{}[[sinks]]\ntype = \"http\"\nname = \"splunk\"\nurl = \"http://127.0.0.1:{}/services/collector/event\"\n\
             [sinks.hec]\ntoken_env = \"BEDGUARD_OPS_TEST_UNSET_TOKEN\"\n",
            file_sink("first", &first),
            free_port()
        ),
    )
    .unwrap();
    daemon.signal("HUP");
    daemon.wait_log("reload rejected", 3, Duration::from_secs(30));
    let rejected = daemon.log();
    assert!(
        rejected.contains("sinks[1]") && rejected.contains("BEDGUARD_OPS_TEST_UNSET_TOKEN"),
        "the sink that cannot start is named:\n{rejected}"
    );
    daemon.assert_running();

    // Still v2: quiet-* suppressed, both sinks fed.
    trail.put(
        &log_key("after1"),
        log_object(vec![
            logging_deleted("late-quiet", "quiet-2", t),
            logging_deleted("late-loud", "loud-2", t),
        ]),
    );
    wait_until(
        "loud-2's finding in both sinks",
        Duration::from_secs(60),
        || {
            finding_principals(&first).contains(&user_arn("loud-2"))
                && finding_principals(&second).contains(&user_arn("loud-2"))
        },
    );
    for p in [&first, &second] {
        assert!(
            !finding_principals(p).contains(&user_arn("quiet-2")),
            "{}: the rejected reload dropped the allowlist",
            p.display()
        );
    }
    let (status, log) = daemon.stop();
    assert!(status.success(), "exit status {status}:\n{log}");
    let (wrong_key, bad_value, bad_severity) = (
        log.contains("ingest.wait_time_secs"),
        log.contains("40 is outside 1 to 20"),
        log.contains("detect.severity"),
    );
    assert!(
        wrong_key && bad_value && bad_severity,
        "every problem of the second bad file is logged with its key:\n{log}"
    );
}

// ---------------------------------------------------------------------------------
// b. /metrics and /healthz
// ---------------------------------------------------------------------------------

/// The port `metrics.listen` defaults to.
const DEFAULT_METRICS_PORT: u16 = 9847;

#[test]
fn metrics_and_healthz_report_what_the_daemon_did() {
    let trail = Trail::start();
    let dir = tempfile::tempdir().unwrap();
    let findings = dir.path().join("findings.jsonl");
    let down_port = free_port(); // nothing listens there: that sink's outbox grows
    // The default listen address when its port is free (the assertion that matters:
    // it binds loopback only); else the same address on a free port.
    let default_port_free = std::net::TcpListener::bind(("0.0.0.0", DEFAULT_METRICS_PORT)).is_ok();
    let (port, listen) = if default_port_free {
        (DEFAULT_METRICS_PORT, String::new())
    } else {
        eprintln!(
            "port {DEFAULT_METRICS_PORT} is taken: checking the loopback bind on a free port instead"
        );
        let p = free_port();
        (p, format!("listen = \"127.0.0.1:{p}\"\n"))
    };
    let config = dir.path().join("bedguard.toml");
    std::fs::write(
        &config,
        format!(
            "{}[metrics]\nenabled = true\n{listen}{}\
             [[sinks]]\ntype = \"http\"\nname = \"down\"\nurl = \"http://127.0.0.1:{down_port}/in\"\ntimeout_ms = 500\n\
             [sinks.drain]\npoll_interval_ms = 50\nbackoff_initial_ms = 50\nbackoff_max_ms = 200\nmax_attempts = 100000\n",
            base_config(dir.path(), &trail.moto.endpoint, &trail.urls.queue_url),
            file_sink("file", &findings),
        ),
    )
    .unwrap();

    // Four objects, each: 5 ordinary calls, one call that raises a finding, and two
    // bad records (not an object; no eventTime). The first one adds a guardrail deletion.
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let event_ms = (now_ms / 1000 - 600) * 1000; // ten minutes ago, whole seconds
    let t = cloudtrail::time::format_rfc3339(event_ms);
    for o in 0..4 {
        let mut recs: Vec<serde_json::Value> = (0..5)
            .map(|e| {
                record(
                    &format!("ev-{o}-{e}"),
                    "app",
                    "s3.amazonaws.com",
                    "ListBuckets",
                    &t,
                )
            })
            .collect();
        recs.push(logging_deleted(
            &format!("ev-{o}-f"),
            &format!("metrics-{o}"),
            &t,
        ));
        recs.push(serde_json::json!(42));
        recs.push(serde_json::json!({"eventName": "x", "eventSource": "a"}));
        if o == 0 {
            recs.push(record(
                "ev-0-g",
                "guard",
                "bedrock.amazonaws.com",
                "DeleteGuardrail",
                &t,
            ));
        }
        trail.put(&log_key(&format!("metrics{o}")), log_object(recs));
    }

    let mut c = bin_aws();
    c.args(["run", "--config"])
        .arg(&config)
        .env("BEDGUARD_METRICS_ENABLED", "true");
    let mut daemon = Daemon::start(c);
    daemon.wait_log(
        &format!("127.0.0.1:{port}/metrics"),
        1,
        Duration::from_secs(30),
    );
    assert_eq!(
        listening_addresses(daemon.child.id()),
        BTreeSet::from([format!("0100007F:{port:04X}")]),
        "metrics listen on 127.0.0.1 only, nothing else"
    );

    let (status, headers, body) = http_get(port, "/healthz");
    assert!(status.contains(" 200 "), "{status}");
    assert_eq!(body, "ok\n");
    assert!(headers.contains("Content-Type: text/plain"), "{headers}");
    let (status, _, _) = http_get(port, "/nope");
    assert!(status.contains(" 404 "), "{status}");
    // A request that arrives in pieces is read whole before it is answered.
    let (status, _, body) = http_exchange(
        port,
        &[
            "GET /heal",
            "thz HTTP/1.1\r\nHost: x\r\n",
            "Connection: close\r\n\r\n",
        ],
    );
    assert!(status.contains(" 200 "), "split request: {status}");
    assert_eq!(body, "ok\n");

    wait_until(
        "five findings in the file sink",
        Duration::from_secs(60),
        || finding_principals(&findings).len() == 5,
    );
    let scrape = || {
        let (status, headers, body) = http_get(port, "/metrics");
        assert!(status.contains(" 200 "), "{status}");
        assert!(
            headers.contains("Content-Type: text/plain; version=0.0.4"),
            "{headers}"
        );
        parse_metrics(&body)
    };
    // The drains report their outbox after each attempt; wait for both to settle.
    wait_until(
        "outbox depths file=0, down=5",
        Duration::from_secs(30),
        || {
            let m = scrape();
            m.get("bedguard_outbox_depth{sink=\"file\"}") == Some(&0.0)
                && m.get("bedguard_outbox_depth{sink=\"down\"}") == Some(&5.0)
                && m.get("bedguard_ingest_messages_deleted_total") >= Some(&4.0)
        },
    );
    let m = scrape();
    let scraped_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;

    // 4 objects x 6 good records, plus the guardrail deletion.
    assert_eq!(metric(&m, "bedguard_objects_total"), 4.0);
    assert_eq!(metric(&m, "bedguard_events_total"), 25.0);
    assert_eq!(metric(&m, "bedguard_bedrock_calls_total"), 5.0);
    assert_eq!(metric(&m, "bedguard_duplicate_events_total"), 0.0);
    assert_eq!(metric(&m, "bedguard_malformed_objects_total"), 0.0);
    assert_eq!(
        metric(&m, "bedguard_bad_records_total{reason=\"not_an_object\"}"),
        4.0
    );
    assert_eq!(
        metric(
            &m,
            "bedguard_bad_records_total{reason=\"missing_event_time\"}"
        ),
        4.0
    );
    assert_eq!(
        metric(
            &m,
            "bedguard_findings_total{type=\"DefenseEvasion:Bedrock/InvocationLoggingDisabled\"}"
        ),
        4.0
    );
    assert_eq!(
        metric(
            &m,
            "bedguard_findings_total{type=\"DefenseEvasion:Bedrock/GuardrailDeleted\"}"
        ),
        1.0
    );
    assert_eq!(
        metric(
            &m,
            "bedguard_findings_by_severity_total{severity=\"Medium\"}"
        ),
        5.0
    );
    assert_eq!(metric(&m, "bedguard_suppressed_findings_total"), 0.0);
    // Lag: now minus the newest eventTime, ten minutes when the objects were made.
    let lag = metric(&m, "bedguard_lag_seconds");
    let expected = (scraped_ms - event_ms) as f64 / 1000.0;
    assert!(
        (lag - expected).abs() < 15.0 && lag >= 600.0,
        "lag {lag} s, expected about {expected} s"
    );
    // The outbox: delivered to the file, waiting for the sink that is down.
    assert_eq!(
        metric(&m, "bedguard_sink_delivered_total{sink=\"file\"}"),
        5.0
    );
    assert_eq!(
        metric(&m, "bedguard_sink_delivered_total{sink=\"down\"}"),
        0.0
    );
    assert_eq!(
        metric(&m, "bedguard_outbox_age_seconds{sink=\"file\"}"),
        0.0
    );
    let age = metric(&m, "bedguard_outbox_age_seconds{sink=\"down\"}");
    assert!(
        age > 0.0 && age < 120.0,
        "oldest waiting finding {age} s old"
    );
    // Ingest: four notifications (plus S3's test event, when it sends one), all deleted.
    let test_events = metric(&m, "bedguard_ingest_messages_test_total");
    assert!(test_events <= 1.0, "{test_events}");
    assert_eq!(
        metric(&m, "bedguard_ingest_messages_received_total"),
        4.0 + test_events
    );
    assert_eq!(
        metric(&m, "bedguard_ingest_messages_deleted_total"),
        4.0 + test_events
    );
    assert_eq!(metric(&m, "bedguard_ingest_objects_committed_total"), 4.0);
    assert_eq!(metric(&m, "bedguard_ingest_records_committed_total"), 25.0);
    assert_eq!(metric(&m, "bedguard_ingest_messages_left_total"), 0.0);
    // Latency histograms: one observation per object, cumulative buckets.
    for h in ["bedguard_pipeline_seconds", "bedguard_flush_seconds"] {
        assert_eq!(metric(&m, &format!("{h}_count")), 4.0, "{h}");
        assert_eq!(
            metric(&m, &format!("{h}_bucket{{le=\"+Inf\"}}")),
            4.0,
            "{h}"
        );
        let sum = metric(&m, &format!("{h}_sum"));
        assert!(sum > 0.0 && sum < 60.0, "{h}_sum {sum}");
        let mut buckets: Vec<(f64, f64)> = m
            .iter()
            .filter(|(k, _)| k.starts_with(&format!("{h}_bucket{{")))
            .map(|(k, v)| {
                let le = k
                    .split("le=\"")
                    .nth(1)
                    .and_then(|s| s.strip_suffix("\"}"))
                    .unwrap();
                (
                    if le == "+Inf" {
                        f64::INFINITY
                    } else {
                        le.parse().unwrap()
                    },
                    *v,
                )
            })
            .collect();
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert_eq!(buckets.len(), 13, "{h}: 12 bounds and +Inf");
        assert!(
            buckets.windows(2).all(|w| w[0].1 <= w[1].1),
            "{h} buckets are cumulative: {buckets:?}"
        );
    }
    let (status, log) = daemon.stop();
    assert!(status.success(), "exit status {status}:\n{log}");
}

// ---------------------------------------------------------------------------------
// c. systemd notify and watchdog
// ---------------------------------------------------------------------------------

/// Datagrams received on a socket the test bound, with their arrival times.
struct NotifySocket {
    path: PathBuf,
    got: Arc<Mutex<Vec<(Instant, String)>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl NotifySocket {
    fn bind(path: PathBuf) -> NotifySocket {
        let sock = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let got: Arc<Mutex<Vec<(Instant, String)>>> = Arc::default();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (g, s) = (Arc::clone(&got), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while !s.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok(n) = sock.recv(&mut buf) {
                    let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
                    g.lock().unwrap().push((Instant::now(), msg));
                }
            }
        });
        NotifySocket { path, got, stop }
    }

    /// Arrival times of messages that carry `assignment` (e.g. `READY=1`) on a line.
    fn times(&self, assignment: &str) -> Vec<Instant> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, m)| m.lines().any(|l| l == assignment))
            .map(|(t, _)| *t)
            .collect()
    }

    fn all(&self) -> Vec<String> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .map(|(_, m)| m.clone())
            .collect()
    }
}

impl Drop for NotifySocket {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Gaps between consecutive keep-alives in `[from, to]`.
fn gaps(pings: &[Instant], from: Instant, to: Instant) -> Vec<Duration> {
    let inside: Vec<Instant> = pings
        .iter()
        .copied()
        .filter(|t| *t >= from && *t <= to)
        .collect();
    inside.windows(2).map(|w| w[1] - w[0]).collect()
}

/// Keep-alives for `WATCHDOG_USEC=2000000`: every gap well below 2 s (where systemd
/// would kill the service), around 1 s (half the period) in the middle.
fn assert_cadence(what: &str, gaps: &[Duration]) {
    assert!(
        gaps.len() >= 3,
        "{what}: only {} gaps: {gaps:?}",
        gaps.len()
    );
    let max = gaps.iter().max().copied().unwrap_or_default();
    assert!(
        max < Duration::from_millis(1_800),
        "{what}: a keep-alive gap of {max:?} (systemd kills at 2 s): {gaps:?}"
    );
    let mut sorted = gaps.to_vec();
    sorted.sort();
    let median = sorted[sorted.len() / 2];
    assert!(
        median >= Duration::from_millis(800) && median <= Duration::from_millis(1_250),
        "{what}: median gap {median:?}, expected about 1 s: {gaps:?}"
    );
}

#[test]
fn systemd_ready_only_once_sqs_answers_watchdog_at_half_the_period_stopping_on_sigterm() {
    let moto = Moto::start();
    let rt = runtime();
    let clients = moto.clients(&rt);
    let dir = tempfile::tempdir().unwrap();
    let findings = dir.path().join("findings.jsonl");
    // The queue does not exist yet: SQS answers every receive with an error.
    let queue_url = format!("{}/123456789012/later", moto.endpoint);
    let config = dir.path().join("bedguard.toml");
    std::fs::write(
        &config,
        format!(
            "{}[metrics]\nenabled = false\n{}",
            base_config(dir.path(), &moto.endpoint, &queue_url),
            file_sink("file", &findings)
        ),
    )
    .unwrap();
    let notify = NotifySocket::bind(dir.path().join("notify.sock"));

    let mut c = bin_aws();
    c.args(["run", "--config"])
        .arg(&config)
        .env("NOTIFY_SOCKET", &notify.path)
        .env("WATCHDOG_USEC", "2000000")
        .env_remove("WATCHDOG_PID");
    let started = Instant::now();
    let mut daemon = Daemon::start(c);

    // Not ready while the queue cannot be read; alive all the same.
    daemon.wait_log("ReceiveMessage failed", 2, Duration::from_secs(30));
    assert!(
        notify.times("READY=1").is_empty(),
        "READY=1 before SQS ever answered: {:?}",
        notify.all()
    );
    assert!(
        notify
            .all()
            .iter()
            .any(|m| m.starts_with("STATUS=waiting for SQS")),
        "a status says what it waits for: {:?}",
        notify.all()
    );

    // The queue appears: READY=1 follows, and only then.
    let urls = rt
        .block_on(ingest::test_util::setup_local_pipeline(
            &clients,
            "trail",
            "later",
            "later-dlq",
        ))
        .unwrap();
    assert_eq!(urls.queue_url, queue_url, "moto's queue URL layout");
    let created = Instant::now();
    wait_until("READY=1", Duration::from_secs(30), || {
        !notify.times("READY=1").is_empty()
    });
    let ready = notify.times("READY=1");
    assert_eq!(ready.len(), 1, "READY=1 once: {:?}", notify.all());
    assert!(ready[0] > created, "READY=1 came before the queue existed");

    // Idle: keep-alives at about 1 s.
    let idle_from = Instant::now();
    std::thread::sleep(Duration::from_secs(5));
    let idle_to = Instant::now();
    let pings = notify.times("WATCHDOG=1");
    assert!(
        pings
            .first()
            .is_some_and(|t| *t - started < Duration::from_secs(5)),
        "keep-alives start with the process, before READY"
    );
    assert_cadence("idle", &gaps(&pings, idle_from, idle_to));

    // Working: a burst of objects of a few thousand records each.
    let trail_put = |key: &str, body: Vec<u8>| {
        rt.block_on(ingest::test_util::put_object(&clients, "trail", key, body))
            .unwrap();
    };
    let t = "2026-11-01T10:00:00Z";
    let work_from = Instant::now();
    // Objects keep coming for at least 4 s (however fast this machine processes
    // them), so there is a working period to observe keep-alives in.
    let mut objects = 0;
    while objects < 12 || work_from.elapsed() < Duration::from_secs(4) {
        let o = objects;
        let mut recs: Vec<serde_json::Value> = (0..2_000)
            .map(|e| {
                record(
                    &format!("w-{o}-{e}"),
                    &format!("worker-{}", e % 50),
                    "s3.amazonaws.com",
                    "ListBuckets",
                    t,
                )
            })
            .collect();
        recs.push(logging_deleted(
            &format!("w-{o}-f"),
            &format!("busy-{o}"),
            t,
        ));
        trail_put(&log_key(&format!("work{o}")), log_object(recs));
        objects += 1;
    }
    wait_until("a finding per object", Duration::from_secs(120), || {
        finding_principals(&findings).len() == objects
    });
    let work_to = Instant::now();
    assert!(
        work_to - work_from >= Duration::from_secs(3),
        "the work took {:?}: too short to observe keep-alives during it",
        work_to - work_from
    );
    daemon.assert_running();
    assert_cadence(
        "working",
        &gaps(&notify.times("WATCHDOG=1"), work_from, work_to),
    );

    // SIGTERM: STOPPING=1, then a clean exit.
    let term = Instant::now();
    let (status, log) = daemon.stop();
    assert!(status.success(), "exit status {status}:\n{log}");
    wait_until("STOPPING=1", Duration::from_secs(5), || {
        !notify.times("STOPPING=1").is_empty()
    });
    let stopping = notify.times("STOPPING=1");
    assert_eq!(stopping.len(), 1, "{:?}", notify.all());
    assert!(stopping[0] > term, "STOPPING=1 before SIGTERM");
}
