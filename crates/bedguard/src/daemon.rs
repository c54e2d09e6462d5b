//! `bedguard run`, `backfill` and `audit`: the pipeline behind the SQS consumer or an
//! S3 listing, with the sinks draining the outbox beside it, metrics, systemd
//! notifications and signals.
//!
//! Work flow per object: ingest fetches and gunzips it, [`DaemonProcessor`] runs the
//! pipeline on a blocking thread (one object at a time, so profiles are never updated
//! by two objects at once), awaits a flush of the store, and only then returns `Ok`,
//! after which ingest deletes the SQS message (invariant 4).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use cloudtrail::ObjectRef;
use ingest::{CancellationToken, Outcome as IngestOutcome, ProcessError, Processor};
use tokio::sync::watch;

use crate::config::Config;
use crate::pipeline::{KeyPolicy, Mode, ObjectId, Outcome, Pipeline, PipelineError};
use crate::{build_detector, build_pipeline, metrics, systemd};

/// What the daemon's tasks share.
pub struct Shared {
    /// The pipeline; one object at a time.
    pub pipeline: Mutex<Pipeline>,
    /// The store, for flushes and the outbox, without taking the pipeline lock.
    pub store: Arc<store::Store>,
    /// Ingest's counters.
    pub ingest: Arc<ingest::Metrics>,
    /// Running sinks' counters, by sink name.
    pub sinks: Mutex<Vec<(String, Arc<sinks::DrainMetrics>)>>,
    /// Per-stage latency histograms.
    pub latency: metrics::Latencies,
    /// Signalled when the pipeline can take no more objects until a restart (see
    /// [`needs_restart`]): the daemon then stops with an error, and systemd's
    /// `Restart=on-failure` starts it again, which reopens and repairs the store.
    pub fatal: tokio::sync::Notify,
}

/// The ingest processor: the pipeline behind a lock, on a blocking thread.
pub struct DaemonProcessor {
    shared: Arc<Shared>,
}

impl Processor for DaemonProcessor {
    async fn process(
        &self,
        obj: &ObjectRef,
        bytes: Vec<u8>,
    ) -> Result<IngestOutcome, ProcessError> {
        let shared = Arc::clone(&self.shared);
        let obj_log = (obj.bucket.clone(), obj.key.clone());
        let obj = obj.clone();
        let started = std::time::Instant::now();
        let result = tokio::task::spawn_blocking(move || {
            let mut p = shared
                .pipeline
                .lock()
                .map_err(|_| PipelineErrorKind::Poisoned)?;
            let id = ObjectId {
                bucket: &obj.bucket,
                key: &obj.key,
                etag: obj.etag.as_deref(),
            };
            p.process(id, &bytes).map_err(PipelineErrorKind::Pipeline)
        })
        .await
        .map_err(|e| ProcessError::Transient(format!("pipeline task failed: {e}")))?;
        self.shared.latency.pipeline.observe(started.elapsed());
        let outcome = match result {
            Ok(Outcome::Processed { records, .. }) => IngestOutcome::Committed { records },
            Ok(Outcome::AlreadyProcessed) => IngestOutcome::AlreadyProcessed,
            Ok(Outcome::Skipped(kind)) => {
                tracing::debug!(bucket = %obj_log.0, key = %obj_log.1, kind, "not a CloudTrail log: skipped");
                return Ok(IngestOutcome::Skipped);
            }
            Err(PipelineErrorKind::Pipeline(e @ PipelineError::Malformed { .. })) => {
                tracing::warn!("{e}");
                return Err(ProcessError::Malformed(e.to_string()));
            }
            Err(e) => {
                if needs_restart(&e) {
                    // Left on the queue: retrying here would only fail again until
                    // the message went to the DLQ.
                    self.shared.fatal.notify_one();
                }
                return Err(ProcessError::Transient(e.to_string()));
            }
        };
        // Durable before ingest may delete the message.
        let flushed = std::time::Instant::now();
        self.shared
            .store
            .flush_async()
            .await
            .map_err(|e| ProcessError::Transient(format!("flush: {e}")))?;
        self.shared.latency.flush.observe(flushed.elapsed());
        Ok(outcome)
    }

    async fn is_processed(&self, obj: &ObjectRef) -> bool {
        let etag = crate::pipeline::etag_or_none(obj.etag.as_deref());
        self.shared
            .store
            .is_processed(&obj.bucket, &obj.key, etag)
            .unwrap_or(false)
    }
}

/// Whether the pipeline cannot process anything until the process restarts: a commit
/// that could not be finished (the store refuses commits until it is reopened, which
/// finishes it from its journal), or a panic that poisoned the pipeline's lock.
fn needs_restart(e: &PipelineErrorKind) -> bool {
    matches!(
        e,
        PipelineErrorKind::Poisoned
            | PipelineErrorKind::Pipeline(PipelineError::Store(store::StoreError::Broken { .. }))
    )
}

#[derive(Debug, thiserror::Error)]
enum PipelineErrorKind {
    #[error("pipeline lock poisoned by an earlier panic")]
    Poisoned,
    #[error(transparent)]
    Pipeline(PipelineError),
}

/// The store as the sinks' outbox.
pub struct StoreOutbox(pub Arc<store::Store>);

fn storage(e: store::StoreError) -> sinks::OutboxError {
    sinks::OutboxError::Storage(e.to_string())
}

impl sinks::Outbox for StoreOutbox {
    fn peek(&self, sink: &str, max: usize) -> Result<Vec<sinks::OutboxEntry>, sinks::OutboxError> {
        Ok(self
            .0
            .outbox_peek(sink, max)
            .map_err(storage)?
            .into_iter()
            .map(|e| sinks::OutboxEntry {
                seq: e.seq,
                attempts: e.attempts,
                enqueued_ms: e.enqueued_ms,
                finding: e.bytes,
            })
            .collect())
    }
    fn ack(&self, sink: &str, seqs: &[u64]) -> Result<(), sinks::OutboxError> {
        self.0.outbox_ack(sink, seqs).map_err(storage)?;
        Ok(())
    }
    fn record_failure(&self, sink: &str, seq: u64) -> Result<u32, sinks::OutboxError> {
        self.0.outbox_record_failure(sink, seq).map_err(storage)
    }
    fn remove_dead(&self, sink: &str, seq: u64) -> Result<(), sinks::OutboxError> {
        self.0.outbox_dead_letter(sink, seq).map_err(storage)?;
        Ok(())
    }
    fn stats(&self, sink: &str) -> Result<(u64, Option<i64>), sinks::OutboxError> {
        let s = self.0.outbox_stats(sink).map_err(storage)?;
        Ok((s.depth, s.oldest_enqueued_ms))
    }
}

/// Backfill cursors in the store's meta tree.
pub struct StoreCursor(pub Arc<store::Store>);

impl ingest::CursorStore for StoreCursor {
    fn load(&self, name: &str) -> Option<String> {
        let v = self.0.get_meta(&format!("backfill:{name}")).ok()??;
        String::from_utf8(v).ok()
    }
    fn save(&self, name: &str, value: &str) {
        if let Err(e) = self
            .0
            .put_meta(&format!("backfill:{name}"), value.as_bytes())
        {
            tracing::warn!("cannot save backfill cursor {name}: {e}");
        }
    }
}

/// AWS settings from config and flags.
pub fn aws_settings(cfg: &Config, endpoint_override: Option<&str>) -> ingest::AwsSettings {
    let endpoint_url = endpoint_override
        .map(str::to_string)
        .or_else(|| cfg.aws.endpoint_url.clone());
    ingest::AwsSettings {
        region: cfg.aws.region.clone(),
        force_path_style: endpoint_url.is_some(),
        endpoint_url,
        ..ingest::AwsSettings::default()
    }
}

fn fetch_limits(cfg: &Config) -> ingest::FetchLimits {
    ingest::FetchLimits {
        max_object_bytes: cfg.ingest.max_object_bytes,
        ..ingest::FetchLimits::default()
    }
}

/// Opens everything the daemon needs; the pipeline's store is shared.
fn open_shared(cfg: &Config, mode: Mode, keys: KeyPolicy) -> Result<Arc<Shared>> {
    let sink_names: Vec<String> = cfg.sinks.iter().map(|s| s.name().to_string()).collect();
    let pipeline = build_pipeline(cfg, mode, keys, sink_names)?;
    let store = pipeline.store_arc();
    Ok(Arc::new(Shared {
        pipeline: Mutex::new(pipeline),
        store,
        ingest: Arc::new(ingest::Metrics::default()),
        sinks: Mutex::new(Vec::new()),
        latency: metrics::Latencies::default(),
        fatal: tokio::sync::Notify::new(),
    }))
}

fn start_sinks(
    cfg: &Config,
    shared: &Arc<Shared>,
    stop: &watch::Receiver<bool>,
) -> Result<Vec<sinks::RunningSink>> {
    let host = hostname();
    let outbox: Arc<dyn sinks::Outbox> = Arc::new(StoreOutbox(Arc::clone(&shared.store)));
    let running = sinks::spawn_all(&cfg.sinks, outbox, &cfg.state.path, &host, stop)
        .context("cannot start sinks")?;
    if let Ok(mut m) = shared.sinks.lock() {
        *m = running
            .iter()
            .map(|r| (r.name.clone(), Arc::clone(&r.metrics)))
            .collect();
    }
    Ok(running)
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// `bedguard run`.
pub async fn run(
    mut cfg: Config,
    config_path: Option<std::path::PathBuf>,
    args: &crate::cli::RunArgs,
) -> Result<()> {
    if let Some(q) = &args.queue_url {
        cfg.ingest.queue_url = Some(q.clone());
    }
    if let Some(e) = &args.endpoint_url {
        cfg.aws.endpoint_url = Some(e.clone());
    }
    let queue_url = cfg
        .ingest
        .queue_url
        .clone()
        .ok_or_else(|| anyhow!("no queue: set ingest.queue_url in the config, BEDGUARD_INGEST_QUEUE_URL, or --queue-url"))?;
    let shared = open_shared(&cfg, Mode::Detect, KeyPolicy::CloudTrailOnly)?;
    let clients = ingest::connect(&aws_settings(&cfg, None))
        .await
        .context("cannot set up AWS clients")?;
    let settings = ingest::ConsumerSettings {
        queue_url: queue_url.clone(),
        wait_time_secs: cfg.ingest.wait_time_secs,
        max_in_flight: cfg.ingest.concurrency,
        visibility_timeout_secs: cfg.ingest.visibility_timeout_secs,
        heartbeat_interval_ms: Some(u64::from(cfg.ingest.heartbeat_secs) * 1000),
        shutdown_grace_ms: cfg.ingest.shutdown_deadline_secs * 1000,
        fetch: fetch_limits(&cfg),
        ..ingest::ConsumerSettings::default()
    };
    let processor = Arc::new(DaemonProcessor {
        shared: Arc::clone(&shared),
    });
    let consumer = ingest::Consumer::new(clients, settings, processor, Arc::clone(&shared.ingest))
        .context("invalid consumer settings")?;

    let (stop_tx, stop_rx) = watch::channel(false);
    let mut running = start_sinks(&cfg, &shared, &stop_rx)?;
    let metrics_task = if cfg.metrics.enabled {
        Some(metrics::serve(&cfg.metrics.listen, Arc::clone(&shared)).await?)
    } else {
        None
    };

    let shutdown = CancellationToken::new();
    let consumer_task = {
        let consumer = consumer.clone();
        let token = shutdown.clone();
        tokio::spawn(async move { consumer.run(token).await })
    };
    {
        let p = shared
            .pipeline
            .lock()
            .map_err(|_| anyhow!("pipeline lock poisoned"))?;
        tracing::info!(queue = %queue_url, state = %cfg.state.path.display(), sinks = cfg.sinks.len(), geoip = %p.geo().describe(), "bedguard running");
    }
    // Ready (for systemd's Type=notify) once SQS has answered a ReceiveMessage: the
    // store, the sinks and the metrics listener are up by now, and that answer proves
    // the credentials, the queue and the permission to read it.
    systemd::notify(&format!("STATUS=waiting for SQS to answer on {queue_url}"));
    let mut ready = false;
    let mut ready_check = tokio::time::interval(Duration::from_millis(100));

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    // Keep-alives at half the period systemd asked for, from this loop, so a stuck
    // loop stops them.
    let mut watchdog = systemd::watchdog_interval().map(|every| {
        let mut i = tokio::time::interval(every);
        i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        i
    });
    let mut last_geo_check = std::time::Instant::now();
    let mut idle_since = std::time::Instant::now();
    let mut last_activity = (0u64, 0u64);
    let mut fatal = false;
    loop {
        tokio::select! {
            _ = shared.fatal.notified() => {
                tracing::error!("the pipeline cannot continue without a restart: shutting down with an error");
                fatal = true;
                break;
            }
            _ = term.recv() => { tracing::info!("SIGTERM: shutting down"); break; }
            _ = tokio::signal::ctrl_c() => { tracing::info!("SIGINT: shutting down"); break; }
            _ = hup.recv() => {
                match reload(config_path.as_deref(), &shared) {
                    Ok(new_cfg) => {
                        let _ = stop_tx.send(true);
                        for r in running.drain(..) { let _ = r.task.await; }
                        let _ = stop_tx.send(false);
                        running = start_sinks(&new_cfg, &shared, &stop_rx)?;
                        cfg = new_cfg;
                        tracing::info!("configuration reloaded");
                    }
                    Err(e) => tracing::error!("reload rejected, keeping the running configuration: {e:#}"),
                }
            }
            _ = ready_check.tick(), if !ready => {
                if shared.ingest.receive_calls.load(std::sync::atomic::Ordering::Relaxed) > 0 {
                    ready = true;
                    systemd::notify(&format!("READY=1\nSTATUS=consuming {queue_url}"));
                    tracing::info!(queue = %queue_url, "SQS answered: ready");
                }
            }
            _ = next_tick(&mut watchdog) => systemd::notify("WATCHDOG=1"),
            _ = tick.tick() => {
                if last_geo_check.elapsed() >= Duration::from_secs(cfg.geoip.reload_check_secs) {
                    last_geo_check = std::time::Instant::now();
                    if let Ok(p) = shared.pipeline.lock() {
                        match p.geo().reload_if_changed() {
                            Ok(true) => tracing::info!(geoip = %p.geo().describe(), "GeoIP databases reloaded"),
                            Ok(false) => {}
                            Err(e) => tracing::warn!("GeoIP reload failed, keeping the loaded databases: {e}"),
                        }
                    }
                }
                if args.exit_when_idle_secs > 0 {
                    use std::sync::atomic::Ordering::Relaxed;
                    let now = (shared.ingest.messages_received.load(Relaxed), shared.ingest.messages_deleted.load(Relaxed) + shared.ingest.messages_left.load(Relaxed));
                    if now != last_activity { last_activity = now; idle_since = std::time::Instant::now(); }
                    let depth: u64 = shared.store.outbox_sinks().unwrap_or_default().iter()
                        .map(|s| shared.store.outbox_stats(s).map(|x| x.depth).unwrap_or(0)).sum();
                    if now.0 == now.1 && depth == 0 && idle_since.elapsed() >= Duration::from_secs(args.exit_when_idle_secs) {
                        tracing::info!("idle for {}s: stopping", args.exit_when_idle_secs);
                        break;
                    }
                }
            }
        }
    }
    systemd::notify("STOPPING=1");
    shutdown.cancel();
    let report = consumer_task.await.context("consumer task failed")?;
    tracing::info!(
        finished = report.finished,
        released = report.released,
        "consumer stopped"
    );
    shared.store.flush().context("final flush")?;
    let _ = stop_tx.send(true);
    for r in running {
        let _ = tokio::time::timeout(
            Duration::from_secs(cfg.ingest.shutdown_deadline_secs),
            r.task,
        )
        .await;
    }
    if let Some(t) = metrics_task {
        t.abort();
    }
    shared.store.flush().context("final flush")?;
    if fatal {
        anyhow::bail!(
            "stopped: the pipeline cannot continue (a store commit could not be finished, or a panic poisoned the pipeline); a restart reopens the store, which finishes the commit from its journal"
        );
    }
    let p = shared
        .pipeline
        .lock()
        .map_err(|_| anyhow!("pipeline lock poisoned"))?;
    tracing::info!(
        objects = p.stats.log_files,
        records = p.stats.records,
        findings = p.stats.finding_total(),
        "bedguard stopped"
    );
    Ok(())
}

/// The next tick of an optional interval; never, without one.
async fn next_tick(interval: &mut Option<tokio::time::Interval>) {
    match interval {
        Some(i) => {
            i.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// Re-reads the config; on success swaps the detector and the sink list and returns it.
/// Nothing is swapped unless the whole file is usable: valid, with a detector and every
/// sink's transport buildable (a token file or variable, a CA bundle), so the caller's
/// restart of the sinks cannot fail on the new config.
fn reload(path: Option<&std::path::Path>, shared: &Arc<Shared>) -> Result<Config> {
    let cfg = crate::config::load_from_process(path)?;
    let detector = build_detector(&cfg)?;
    for (i, sink) in cfg.sinks.iter().enumerate() {
        sinks::AnyTransport::build(sink)
            .with_context(|| format!("sinks[{i}] (name {:?}) cannot start", sink.name()))?;
    }
    let mut p = shared
        .pipeline
        .lock()
        .map_err(|_| anyhow!("pipeline lock poisoned"))?;
    p.set_detector(detector);
    p.set_sinks(cfg.sinks.iter().map(|s| s.name().to_string()).collect());
    Ok(cfg)
}

/// Parses `s3://bucket/prefix`.
fn parse_s3_url(url: &str) -> Result<(String, String)> {
    let rest = url
        .strip_prefix("s3://")
        .ok_or_else(|| anyhow!("{url:?} is not an s3://bucket/prefix URL"))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(anyhow!("{url:?} has no bucket"));
    }
    Ok((bucket.to_string(), prefix.to_string()))
}

/// Parses a `YYYY-MM-DD` day to epoch ms of its start (UTC).
pub fn parse_day(s: &str) -> Result<i64> {
    cloudtrail::time::parse_event_time(&format!("{s}T00:00:00Z"))
        .ok_or_else(|| anyhow!("{s:?} is not a date (YYYY-MM-DD)"))
}

/// `bedguard backfill`.
pub async fn backfill(cfg: Config, args: &crate::cli::BackfillArgs) -> Result<()> {
    let (bucket, prefix) = parse_s3_url(&args.url)?;
    let from_ms = parse_day(&args.from)?;
    let to_ms = parse_day(&args.to)? + 86_400_000;
    let mode = if args.learn_only {
        Mode::LearnOnly
    } else {
        Mode::Detect
    };
    let shared = open_shared(&cfg, mode, KeyPolicy::CloudTrailOnly)?;
    let clients = ingest::connect(&aws_settings(&cfg, args.endpoint_url.as_deref())).await?;
    let spec = ingest::BackfillSpec {
        name: format!("{bucket}/{prefix}"),
        bucket,
        prefix,
        from_ms,
        to_ms,
        fetch: fetch_limits(&cfg),
        prefetch: cfg.ingest.concurrency,
    };
    let processor = DaemonProcessor {
        shared: Arc::clone(&shared),
    };
    let cursor = StoreCursor(Arc::clone(&shared.store));
    let report = ingest::backfill(&clients, &processor, &spec, &cursor).await?;
    shared.store.flush()?;
    println!(
        "listed {} objects ({} before the saved cursor); committed {}, records {}, already processed {}, skipped {}, malformed {}",
        report.listed,
        report.before_cursor,
        report.committed,
        report.records,
        report.already_processed,
        report.skipped,
        report.malformed.len()
    );
    for (obj, why) in &report.malformed {
        println!("  malformed s3://{}/{}: {why}", obj.bucket, obj.key);
    }
    print_findings_summary(&shared);
    Ok(())
}

fn print_findings_summary(shared: &Arc<Shared>) {
    if let Ok(p) = shared.pipeline.lock() {
        println!("findings {}", p.stats.finding_total());
        for (k, v) in &p.stats.findings_by_type {
            println!("  {v:>6}  {k}");
        }
    }
}

/// `bedguard audit`.
pub async fn audit(cfg: Config, args: &crate::cli::AuditArgs) -> Result<()> {
    let (bucket, prefix) = parse_s3_url(&args.url)?;
    let spec = ingest::AuditSpec {
        bucket,
        prefix,
        from_ms: parse_day(&args.from)?,
        to_ms: parse_day(&args.to)? + 86_400_000,
        fetch: fetch_limits(&cfg),
    };
    let shared = open_shared(&cfg, Mode::Detect, KeyPolicy::CloudTrailOnly)?;
    let clients = ingest::connect(&aws_settings(&cfg, args.endpoint_url.as_deref())).await?;
    let processor = DaemonProcessor {
        shared: Arc::clone(&shared),
    };
    let report = ingest::audit_digests(&clients, &processor, &spec).await?;
    let fetched = if args.fetch && !report.missing.is_empty() {
        let r = ingest::process_missing(&clients, &processor, &report.missing, &spec.fetch).await?;
        shared.store.flush()?;
        Some(r)
    } else {
        None
    };
    if args.json {
        let v = serde_json::json!({
            "digests": report.digests,
            "log_files": report.log_files,
            "digest_errors": report.digest_errors.iter().map(|(o, e)| serde_json::json!({"bucket": o.bucket, "key": o.key, "error": e})).collect::<Vec<_>>(),
            "missing": report.missing.iter().map(|o| format!("s3://{}/{}", o.bucket, o.key)).collect::<Vec<_>>(),
            "fetched": fetched.as_ref().map(|r| r.committed),
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!(
            "digests read {}, log files listed {}, never processed {}",
            report.digests,
            report.log_files,
            report.missing.len()
        );
        for (o, e) in &report.digest_errors {
            println!("  unreadable digest s3://{}/{}: {e}", o.bucket, o.key);
        }
        for o in &report.missing {
            println!("  missing s3://{}/{}", o.bucket, o.key);
        }
        if let Some(r) = fetched {
            println!(
                "fetched and processed {} of them ({} records)",
                r.committed, r.records
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_broken_store_or_a_poisoned_pipeline_needs_a_restart() {
        let broken = store::StoreError::Broken {
            path: "/var/lib/bedguard".into(),
        };
        assert!(needs_restart(&PipelineErrorKind::Pipeline(
            PipelineError::Store(broken)
        )));
        assert!(needs_restart(&PipelineErrorKind::Poisoned));
        let malformed = PipelineError::Malformed {
            bucket: "b".into(),
            key: "k".into(),
            reason: "bad gzip".into(),
        };
        assert!(!needs_restart(&PipelineErrorKind::Pipeline(malformed)));
        let journal = store::StoreError::Journal {
            path: "/var/lib/bedguard/bedguard-commit.journal".into(),
            what: "cannot write: No space left on device".into(),
        };
        assert!(!needs_restart(&PipelineErrorKind::Pipeline(
            PipelineError::Store(journal)
        )));
    }
}
