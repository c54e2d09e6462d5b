//! The SQS consumer: long-poll, decode, fetch, process, and delete only after commit.
//!
//! - Back-pressure: a semaphore of `max_in_flight` permits; a receive asks for at most as
//!   many messages as there are free permits, so nothing waits in memory unworked.
//! - Start: until one `ReceiveMessage` has answered, receives are short polls, so the
//!   first answer (the `receive_calls` counter, which the daemon's readiness waits for)
//!   comes at once even from an empty queue; long polls follow.
//! - Heartbeat: while a message is in work its visibility is extended every
//!   `heartbeat_interval_ms`, so a long object is never processed twice at once.
//! - Failures: a malformed object or an undecodable body leaves the message to the
//!   queue's redrive policy (DLQ); a failed fetch or a transient processor error leaves it
//!   too, or resets its visibility to `failure_visibility_secs` when set. SQS errors are
//!   retried with backoff forever: the consumer only returns on shutdown.
//! - Shutdown ([`CancellationToken`]): stop receiving, let in-flight messages finish
//!   within `shutdown_grace_ms`, then release the rest (visibility 0) and return.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};
use cloudtrail::notification::{Notification, decode_notification};
use serde::Deserialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use crate::config::Clients;
use crate::fetch::FetchLimits;
use crate::metrics::Metrics;
use crate::object::handle_object;
use crate::processor::Processor;
use crate::retry::RetrySettings;

/// How the consumer polls and works.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ConsumerSettings {
    /// The notification queue.
    pub queue_url: String,
    /// Long-poll wait of one `ReceiveMessage` (0..=20).
    pub wait_time_secs: u32,
    /// Messages asked for per receive (1..=10).
    pub batch_size: u32,
    /// Messages in work at once.
    pub max_in_flight: usize,
    /// Visibility timeout set on receive and renewed by the heartbeat.
    pub visibility_timeout_secs: u32,
    /// Heartbeat period; `None` is a third of the visibility timeout.
    pub heartbeat_interval_ms: Option<u64>,
    /// After a retryable failure, make the message visible again after this delay
    /// instead of waiting out the visibility timeout.
    pub failure_visibility_secs: Option<u32>,
    /// On shutdown, how long in-flight messages may still take before being released.
    pub shutdown_grace_ms: u64,
    /// Size limit and S3 retries of each fetch.
    pub fetch: FetchLimits,
    /// Backoff of failed SQS calls (receive retries forever; delete gives up after
    /// `max_attempts`, and the message simply comes back).
    pub sqs_retry: RetrySettings,
}

impl Default for ConsumerSettings {
    fn default() -> Self {
        Self {
            queue_url: String::new(),
            wait_time_secs: 20,
            batch_size: 10,
            max_in_flight: 16,
            visibility_timeout_secs: 300,
            heartbeat_interval_ms: None,
            failure_visibility_secs: None,
            shutdown_grace_ms: 30_000,
            fetch: FetchLimits::default(),
            sqs_retry: RetrySettings {
                max_attempts: 5,
                base_delay_ms: 500,
                max_delay_ms: 30_000,
            },
        }
    }
}

/// A setting out of the range SQS accepts or that makes no sense.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// No queue URL.
    #[error("queue_url is empty")]
    NoQueue,
    /// A value out of its range.
    #[error("{name} = {value} is out of range {range}")]
    OutOfRange {
        /// The setting.
        name: &'static str,
        /// Its value.
        value: u64,
        /// What is allowed.
        range: &'static str,
    },
}

impl ConsumerSettings {
    /// Checks every setting against what SQS accepts.
    ///
    /// # Errors
    /// The first setting out of range.
    pub fn validate(&self) -> Result<(), SettingsError> {
        if self.queue_url.is_empty() {
            return Err(SettingsError::NoQueue);
        }
        let check = |name, value: u64, lo: u64, hi: u64, range| {
            if (lo..=hi).contains(&value) {
                Ok(())
            } else {
                Err(SettingsError::OutOfRange { name, value, range })
            }
        };
        check(
            "wait_time_secs",
            self.wait_time_secs.into(),
            0,
            20,
            "0..=20",
        )?;
        check("batch_size", self.batch_size.into(), 1, 10, "1..=10")?;
        check(
            "max_in_flight",
            self.max_in_flight as u64,
            1,
            100_000,
            "1..=100000",
        )?;
        check(
            "visibility_timeout_secs",
            self.visibility_timeout_secs.into(),
            1,
            43_200,
            "1..=43200",
        )?;
        let visibility_ms = u64::from(self.visibility_timeout_secs) * 1_000;
        if let Some(hb) = self.heartbeat_interval_ms {
            check(
                "heartbeat_interval_ms",
                hb,
                100,
                visibility_ms - 1,
                "100..visibility",
            )?;
        }
        if let Some(f) = self.failure_visibility_secs {
            check("failure_visibility_secs", f.into(), 0, 43_200, "0..=43200")?;
        }
        Ok(())
    }

    fn heartbeat(&self) -> Duration {
        let auto = u64::from(self.visibility_timeout_secs) * 1_000 / 3;
        Duration::from_millis(self.heartbeat_interval_ms.unwrap_or(auto).max(100))
    }
}

/// What happened to the messages in flight when the consumer stopped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Messages that finished (deleted or left) after shutdown was requested.
    pub finished: u64,
    /// Messages released (visibility 0) because the grace period ran out.
    pub released: u64,
}

/// The SQS consumer. Cheap to clone.
pub struct Consumer<P: Processor> {
    inner: Arc<Inner<P>>,
}

impl<P: Processor> Clone for Consumer<P> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

struct Inner<P> {
    clients: Clients,
    settings: ConsumerSettings,
    processor: Arc<P>,
    metrics: Arc<Metrics>,
}

/// What to do with a message once its work ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Disposition {
    /// Everything committed (or nothing to do): delete.
    Delete,
    /// Leave it: it comes back after the visibility timeout, and reaches the DLQ after
    /// the redrive policy's receive count.
    Leave,
    /// Make it visible again after this many seconds.
    Release(u32),
    /// Shutdown: make it visible at once.
    Shutdown,
}

impl<P: Processor> Consumer<P> {
    /// A consumer of `settings.queue_url` feeding `processor`.
    ///
    /// # Errors
    /// A setting out of range (see [`ConsumerSettings::validate`]).
    pub fn new(
        clients: Clients,
        settings: ConsumerSettings,
        processor: Arc<P>,
        metrics: Arc<Metrics>,
    ) -> Result<Self, SettingsError> {
        settings.validate()?;
        Ok(Self {
            inner: Arc::new(Inner {
                clients,
                settings,
                processor,
                metrics,
            }),
        })
    }

    /// The counters this consumer updates.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.inner.metrics
    }

    /// Consumes until `shutdown` is cancelled, then drains (see the module docs).
    /// Never returns early on AWS errors: they are retried with backoff.
    pub async fn run(&self, shutdown: CancellationToken) -> ShutdownReport {
        let inner = &self.inner;
        let s = &inner.settings;
        let permits = Arc::new(Semaphore::new(s.max_in_flight));
        let hard_stop = CancellationToken::new();
        let mut tasks: JoinSet<Disposition> = JoinSet::new();
        let mut failures = 0u32;
        let mut answered = false;
        info!(queue = %s.queue_url, max_in_flight = s.max_in_flight, "consumer started");

        loop {
            while let Some(joined) = tasks.try_join_next() {
                log_join(joined);
            }
            let first = tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                p = Arc::clone(&permits).acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => break,
                },
            };
            let mut batch = vec![first];
            while batch.len() < s.batch_size as usize {
                match Arc::clone(&permits).try_acquire_owned() {
                    Ok(p) => batch.push(p),
                    Err(_) => break,
                }
            }
            let received = tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                r = inner.receive(batch.len(), if answered { s.wait_time_secs } else { 0 }) => r,
            };
            match received {
                Ok(messages) => {
                    failures = 0;
                    answered = true;
                    for message in messages {
                        // SQS never returns more than asked; an extra one would be worked
                        // without a permit rather than dropped.
                        let permit = batch.pop();
                        tasks.spawn(Arc::clone(inner).run_message(
                            message,
                            hard_stop.clone(),
                            permit,
                        ));
                    }
                }
                Err(detail) => {
                    Metrics::inc(&inner.metrics.receive_errors);
                    Metrics::inc(&inner.metrics.sqs_retries);
                    let delay = s.sqs_retry.delay(failures);
                    failures = failures.saturating_add(1);
                    warn!(queue = %s.queue_url, %detail, ?delay, "ReceiveMessage failed; backing off");
                    drop(batch);
                    tokio::select! {
                        biased;
                        () = shutdown.cancelled() => break,
                        () = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }

        info!(
            in_flight = tasks.len(),
            grace_ms = s.shutdown_grace_ms,
            "consumer stopping"
        );
        let deadline = Instant::now() + Duration::from_millis(s.shutdown_grace_ms);
        let mut report = ShutdownReport::default();
        loop {
            tokio::select! {
                joined = tasks.join_next() => match joined {
                    None => break,
                    Some(Ok(Disposition::Shutdown)) => report.released += 1,
                    Some(other) => {
                        report.finished += 1;
                        log_join(other);
                    }
                },
                () = tokio::time::sleep_until(deadline), if !hard_stop.is_cancelled() => {
                    info!(in_flight = tasks.len(), "grace period over; releasing messages in flight");
                    hard_stop.cancel();
                }
            }
        }
        info!(
            finished = report.finished,
            released = report.released,
            "consumer stopped"
        );
        report
    }
}

fn log_join(joined: Result<Disposition, tokio::task::JoinError>) {
    if let Err(e) = joined {
        error!(error = %e, "message task failed; the message will be redelivered");
    }
}

impl<P: Processor> Inner<P> {
    async fn receive(&self, n: usize, wait_time_secs: u32) -> Result<Vec<Message>, String> {
        let s = &self.settings;
        let out = self
            .clients
            .sqs
            .receive_message()
            .queue_url(&s.queue_url)
            .max_number_of_messages(to_i32(n as u64))
            .wait_time_seconds(to_i32(wait_time_secs.into()))
            .visibility_timeout(to_i32(s.visibility_timeout_secs.into()))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(|e| DisplayErrorContext(&e).to_string())?;
        Metrics::inc(&self.metrics.receive_calls);
        let messages = out.messages.unwrap_or_default();
        Metrics::add(&self.metrics.messages_received, messages.len() as u64);
        Ok(messages)
    }

    async fn run_message(
        self: Arc<Self>,
        message: Message,
        hard_stop: CancellationToken,
        _permit: Option<OwnedSemaphorePermit>,
    ) -> Disposition {
        let id = message.message_id.clone().unwrap_or_default();
        let Some(receipt) = message.receipt_handle.clone() else {
            warn!(message_id = %id, "message without receipt handle");
            return Disposition::Leave;
        };
        let heartbeat = self.settings.heartbeat();
        let work = self.work(message.body.as_deref(), &id);
        tokio::pin!(work);
        let mut beat = tokio::time::interval_at(Instant::now() + heartbeat, heartbeat);
        beat.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let disposition = loop {
            tokio::select! {
                biased;
                () = hard_stop.cancelled() => break Disposition::Shutdown,
                d = &mut work => break d,
                _ = beat.tick() => {
                    let secs = self.settings.visibility_timeout_secs;
                    if self.set_visibility(&receipt, secs).await {
                        Metrics::inc(&self.metrics.heartbeats);
                    }
                }
            }
        };
        match disposition {
            Disposition::Delete => self.delete(&receipt, &id).await,
            Disposition::Leave => {
                Metrics::inc(&self.metrics.messages_left);
                debug!(message_id = %id, "message left to the redrive policy");
            }
            Disposition::Release(secs) => {
                if self.set_visibility(&receipt, secs).await {
                    Metrics::inc(&self.metrics.messages_released);
                }
            }
            Disposition::Shutdown => {
                if self.set_visibility(&receipt, 0).await {
                    Metrics::inc(&self.metrics.messages_released);
                }
            }
        }
        disposition
    }

    async fn work(&self, body: Option<&str>, id: &str) -> Disposition {
        let decoded = match body {
            Some(body) => decode_notification(body).map_err(|e| e.to_string()),
            None => Err("no body".to_owned()),
        };
        let objects = match decoded {
            Ok(Notification::Objects(objects)) => objects,
            Ok(Notification::Test) => {
                Metrics::inc(&self.metrics.messages_test);
                return Disposition::Delete;
            }
            Err(error) => {
                Metrics::inc(&self.metrics.messages_poison);
                warn!(message_id = %id, %error, "undecodable message; leaving it for the DLQ");
                return Disposition::Leave;
            }
        };
        let (mut malformed, mut retry) = (false, false);
        for obj in &objects {
            let result = handle_object(
                &self.clients,
                self.processor.as_ref(),
                obj,
                &self.settings.fetch,
                &self.metrics,
            )
            .await;
            match result {
                Ok(_) => {}
                Err(f) if f.is_malformed() => malformed = true,
                Err(_) => retry = true,
            }
        }
        match (malformed, retry, self.settings.failure_visibility_secs) {
            (true, _, _) => Disposition::Leave,
            (false, true, Some(secs)) => Disposition::Release(secs),
            (false, true, None) => Disposition::Leave,
            (false, false, _) => Disposition::Delete,
        }
    }

    async fn delete(&self, receipt: &str, id: &str) {
        let retry = &self.settings.sqs_retry;
        let mut attempt = 1;
        loop {
            let result = self
                .clients
                .sqs
                .delete_message()
                .queue_url(&self.settings.queue_url)
                .receipt_handle(receipt)
                .send()
                .await;
            match result {
                Ok(_) => {
                    Metrics::inc(&self.metrics.messages_deleted);
                    return;
                }
                Err(e) if retry.allows_another(attempt) => {
                    Metrics::inc(&self.metrics.sqs_retries);
                    debug!(message_id = %id, error = %DisplayErrorContext(&e), "DeleteMessage failed; retrying");
                    tokio::time::sleep(retry.delay(attempt - 1)).await;
                    attempt += 1;
                }
                Err(e) => {
                    Metrics::inc(&self.metrics.delete_errors);
                    warn!(message_id = %id, error = %DisplayErrorContext(&e),
                        "DeleteMessage failed; the message will be redelivered and found processed");
                    return;
                }
            }
        }
    }

    /// `ChangeMessageVisibility`; true when it succeeded.
    async fn set_visibility(&self, receipt: &str, secs: u32) -> bool {
        let result = self
            .clients
            .sqs
            .change_message_visibility()
            .queue_url(&self.settings.queue_url)
            .receipt_handle(receipt)
            .visibility_timeout(to_i32(secs.into()))
            .send()
            .await;
        match result {
            Ok(_) => true,
            Err(e) => {
                Metrics::inc(&self.metrics.visibility_errors);
                warn!(error = %DisplayErrorContext(&e), secs, "ChangeMessageVisibility failed");
                false
            }
        }
    }
}

fn to_i32(v: u64) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}
