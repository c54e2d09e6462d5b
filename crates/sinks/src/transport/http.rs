//! HTTP(S) POST with batching, gzip and configurable headers, and the Splunk HTTP
//! Event Collector preset.
//!
//! Plain HTTP: each request body is newline-delimited encoded findings; any 2xx is
//! delivery. HEC: events `{"time":..,"host":..,"sourcetype":..,"event":..}` to
//! `/services/collector/event` with `Authorization: Splunk <token>` and an
//! `X-Splunk-Request-Channel`; with acknowledgement on, the `ackId` of every request
//! is polled at `/services/collector/ack` until the indexers confirm it. A 200 alone
//! only means the request looked valid.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use http::header::{AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, HeaderName, HeaderValue};
use http::{Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::value::RawValue;

use super::{BuildError, Encoded, SendError, Transport, tls};
use crate::config::{HecConfig, HttpSinkConfig};
use crate::encode::EncodeContext;

/// A secret that never prints.
#[derive(Clone)]
pub struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Secret {
    fn expose(&self) -> &str {
        &self.0
    }
}

/// Reads the HEC token from its file or environment variable.
pub fn read_token(h: &HecConfig) -> Result<Secret, BuildError> {
    let raw = match (&h.token_file, &h.token_env) {
        (Some(path), _) => std::fs::read_to_string(path).map_err(|source| BuildError::Io {
            path: path.display().to_string(),
            source,
        })?,
        (None, Some(var)) => std::env::var(var)
            .map_err(|_| BuildError::Config(format!("environment variable {var} is not set")))?,
        (None, None) => {
            return Err(BuildError::Config(
                "hec needs token_file or token_env".into(),
            ));
        }
    };
    let token = raw.trim().to_owned();
    if token.is_empty() {
        return Err(BuildError::Config("the HEC token is empty".into()));
    }
    Ok(Secret(token))
}

/// A random channel id in UUID form.
fn channel_id() -> String {
    let a = fastrand::u64(..);
    let b = fastrand::u64(..);
    let hex = format!("{a:016x}{b:016x}");
    format!(
        "{}-{}-4{}-{}{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        ["8", "9", "a", "b"][fastrand::usize(..4)],
        &hex[17..20],
        &hex[20..32]
    )
}

struct Hec {
    token: Secret,
    channel: String,
    event_uri: Uri,
    ack_uri: Uri,
    cfg: HecConfig,
}

/// Sends findings over HTTP(S).
pub struct HttpTransport {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    uri: Uri,
    headers: Vec<(HeaderName, HeaderValue)>,
    gzip: bool,
    batch_max_bytes: usize,
    timeout: Duration,
    hec: Option<Hec>,
}

impl std::fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpTransport")
            .field("uri", &self.uri)
            .field("gzip", &self.gzip)
            .field("hec", &self.hec.is_some())
            .finish_non_exhaustive()
    }
}

fn parse_uri(s: &str) -> Result<Uri, BuildError> {
    s.parse::<Uri>()
        .map_err(|e| BuildError::Config(format!("url {s:?}: {e}")))
}

impl HttpTransport {
    /// A transport for `cfg`; reads the HEC token now.
    pub fn new(cfg: &HttpSinkConfig) -> Result<Self, BuildError> {
        let tls = tls::client_config(cfg.tls_ca_file.as_deref())?;
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        let headers = header_list(&cfg.headers)?;
        let hec = match &cfg.hec {
            None => None,
            Some(h) => {
                let base = cfg.url.trim_end_matches('/');
                Some(Hec {
                    token: read_token(h)?,
                    channel: channel_id(),
                    event_uri: parse_uri(&format!("{base}/services/collector/event"))?,
                    ack_uri: parse_uri(&format!("{base}/services/collector/ack"))?,
                    cfg: h.clone(),
                })
            }
        };
        Ok(Self {
            client,
            uri: parse_uri(&cfg.url)?,
            headers,
            gzip: cfg.gzip,
            batch_max_bytes: cfg.batch_max_bytes,
            timeout: Duration::from_millis(cfg.timeout_ms),
            hec,
        })
    }

    /// The HEC channel id, when this is a HEC transport.
    pub fn hec_channel(&self) -> Option<&str> {
        self.hec.as_ref().map(|h| h.channel.as_str())
    }

    fn event_bytes(&self, e: &Encoded, ctx: &EncodeContext) -> Result<Vec<u8>, SendError> {
        let Some(h) = &self.hec else {
            return Ok(e.body.clone());
        };
        #[derive(serde::Serialize)]
        struct Event<'a> {
            time: f64,
            host: &'a str,
            sourcetype: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            source: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            index: Option<&'a str>,
            event: EventBody<'a>,
        }
        #[derive(serde::Serialize)]
        #[serde(untagged)]
        enum EventBody<'a> {
            Json(&'a RawValue),
            Text(std::borrow::Cow<'a, str>),
        }
        let raw;
        let body = if e.json {
            raw = serde_json::from_slice::<&RawValue>(&e.body).map_err(|err| {
                SendError::Protocol(format!("encoded finding is not JSON: {err}"))
            })?;
            EventBody::Json(raw)
        } else {
            EventBody::Text(String::from_utf8_lossy(&e.body))
        };
        let ev = Event {
            time: e.last_seen_ms as f64 / 1000.0,
            host: &ctx.hostname,
            sourcetype: &h.cfg.sourcetype,
            source: h.cfg.source.as_deref(),
            index: h.cfg.index.as_deref(),
            event: body,
        };
        serde_json::to_vec(&ev).map_err(|err| SendError::Protocol(err.to_string()))
    }

    async fn post(
        &self,
        uri: &Uri,
        body: Vec<u8>,
        ndjson: bool,
    ) -> Result<(u16, Bytes), SendError> {
        let mut req = Request::builder().method(Method::POST).uri(uri.clone());
        for (k, v) in &self.headers {
            req = req.header(k, v);
        }
        req = req.header(
            CONTENT_TYPE,
            if ndjson {
                "application/x-ndjson"
            } else {
                "application/json"
            },
        );
        if let Some(h) = &self.hec {
            let auth = HeaderValue::from_str(&format!("Splunk {}", h.token.expose()))
                .map_err(|_| SendError::Protocol("HEC token is not a valid header value".into()))?;
            req = req
                .header(AUTHORIZATION, auth)
                .header("X-Splunk-Request-Channel", h.channel.as_str());
        }
        let body = if self.gzip {
            req = req.header(CONTENT_ENCODING, "gzip");
            let mut gz = GzEncoder::new(Vec::with_capacity(body.len() / 4), Compression::fast());
            gz.write_all(&body)?;
            gz.finish()?
        } else {
            body
        };
        let req = req
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| SendError::Protocol(e.to_string()))?;
        let timeout_ms = self.timeout.as_millis() as u64;
        let fut = async {
            let resp = self
                .client
                .request(req)
                .await
                .map_err(|e| SendError::Protocol(format!("request failed: {e}")))?;
            let status = resp.status().as_u16();
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| SendError::Protocol(format!("reading response: {e}")))?
                .to_bytes();
            Ok::<_, SendError>((status, body))
        };
        tokio::time::timeout(self.timeout, fut)
            .await
            .map_err(|_| SendError::Timeout(timeout_ms))?
    }

    async fn post_ok(&self, uri: &Uri, body: Vec<u8>, ndjson: bool) -> Result<Bytes, SendError> {
        let (status, body) = self.post(uri, body, ndjson).await?;
        if (200..300).contains(&status) {
            Ok(body)
        } else {
            let text: String = String::from_utf8_lossy(&body).chars().take(512).collect();
            Err(SendError::Status { status, body: text })
        }
    }

    /// Polls the HEC ack endpoint until every id is acknowledged.
    async fn wait_acks(&self, h: &Hec, mut pending: Vec<u64>) -> Result<(), SendError> {
        let deadline = tokio::time::Instant::now() + Duration::from_millis(h.cfg.ack_timeout_ms);
        loop {
            let body = serde_json::to_vec(&serde_json::json!({ "acks": pending }))
                .map_err(|e| SendError::Protocol(e.to_string()))?;
            let resp = self.post_ok(&h.ack_uri, body, false).await?;
            #[derive(serde::Deserialize)]
            struct AckResponse {
                acks: BTreeMap<String, bool>,
            }
            let acks: AckResponse = serde_json::from_slice(&resp)
                .map_err(|e| SendError::Protocol(format!("bad HEC ack response: {e}")))?;
            pending.retain(|id| acks.acks.get(&id.to_string()) != Some(&true));
            if pending.is_empty() {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(SendError::Protocol(format!(
                    "HEC did not acknowledge ackIds {pending:?} within {} ms",
                    h.cfg.ack_timeout_ms
                )));
            }
            tokio::time::sleep(Duration::from_millis(h.cfg.ack_poll_ms)).await;
        }
    }

    async fn send_batch(&self, batch: &[Encoded], ctx: &EncodeContext) -> Result<(), SendError> {
        let mut chunks: Vec<Vec<u8>> = Vec::new();
        let mut cur: Vec<u8> = Vec::new();
        for e in batch {
            let ev = self.event_bytes(e, ctx)?;
            if !cur.is_empty() && cur.len() + ev.len() + 1 > self.batch_max_bytes {
                chunks.push(std::mem::take(&mut cur));
            }
            cur.extend_from_slice(&ev);
            cur.push(b'\n');
        }
        if !cur.is_empty() {
            chunks.push(cur);
        }
        match &self.hec {
            None => {
                for c in chunks {
                    self.post_ok(&self.uri, c, true).await?;
                }
                Ok(())
            }
            Some(h) => {
                let mut ack_ids = Vec::new();
                for c in chunks {
                    let resp = self.post_ok(&h.event_uri, c, false).await?;
                    if h.cfg.ack {
                        #[derive(serde::Deserialize)]
                        #[serde(rename_all = "camelCase")]
                        struct EventResponse {
                            ack_id: Option<u64>,
                        }
                        let r: EventResponse = serde_json::from_slice(&resp).map_err(|e| {
                            SendError::Protocol(format!("bad HEC event response: {e}"))
                        })?;
                        let id = r.ack_id.ok_or_else(|| {
                            SendError::Protocol(
                                "HEC returned no ackId: is indexer acknowledgement enabled on the token?"
                                    .into(),
                            )
                        })?;
                        ack_ids.push(id);
                    }
                }
                if ack_ids.is_empty() {
                    Ok(())
                } else {
                    self.wait_acks(h, ack_ids).await
                }
            }
        }
    }
}

fn header_list(
    headers: &BTreeMap<String, String>,
) -> Result<Vec<(HeaderName, HeaderValue)>, BuildError> {
    headers
        .iter()
        .map(|(k, v)| {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|e| BuildError::Config(format!("header {k:?}: {e}")))?;
            let value = HeaderValue::from_str(v)
                .map_err(|e| BuildError::Config(format!("header {k:?}: {e}")))?;
            Ok((name, value))
        })
        .collect()
}

impl Transport for HttpTransport {
    async fn send(&mut self, batch: &[Encoded], ctx: &EncodeContext) -> Result<(), SendError> {
        self.send_batch(batch, ctx).await
    }
}
