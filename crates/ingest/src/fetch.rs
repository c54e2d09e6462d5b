//! S3 `GetObject` with streaming gunzip under a decompressed-size limit, and retries.
//!
//! The body is decompressed chunk by chunk as it arrives, so memory stays bounded by
//! `max_object_bytes` (plus one network chunk) whatever the object holds. A body that
//! does not start with the gzip magic is passed through as is (bounded the same way):
//! the processor decides whether it is CloudTrail JSON.

use std::io::Write;

use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::get_object::GetObjectError;
use cloudtrail::ObjectRef;
use flate2::write::MultiGzDecoder;
use serde::Deserialize;
use tracing::debug;

use crate::metrics::Metrics;
use crate::retry::RetrySettings;

/// Limits of one fetch.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct FetchLimits {
    /// Largest decompressed object accepted; larger ones fail as [`FetchError::TooLarge`].
    pub max_object_bytes: u64,
    /// Retries of failed S3 calls.
    pub retry: RetrySettings,
}

impl Default for FetchLimits {
    fn default() -> Self {
        Self {
            max_object_bytes: 256 * 1024 * 1024,
            retry: RetrySettings::default(),
        }
    }
}

/// Why an object could not be fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// S3 answered `NoSuchKey`.
    #[error("s3://{bucket}/{key}: no such key")]
    NotFound {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
    },
    /// S3 answered `AccessDenied` (or another 403).
    #[error("s3://{bucket}/{key}: access denied: {detail}")]
    AccessDenied {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
        /// What S3 said.
        detail: String,
    },
    /// Throttling (`SlowDown`) or a 5xx from S3.
    #[error("s3://{bucket}/{key}: throttled or server error: {detail}")]
    Throttled {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
        /// What S3 said.
        detail: String,
    },
    /// No answer (connection refused, timeout, body cut) or another S3 error.
    #[error("s3://{bucket}/{key}: {detail}")]
    Unreachable {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
        /// What went wrong.
        detail: String,
    },
    /// The object decompresses to more than the limit.
    #[error("s3://{bucket}/{key}: too large: more than {limit_bytes} bytes decompressed")]
    TooLarge {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
        /// The limit that was hit.
        limit_bytes: u64,
    },
    /// The object is not valid gzip.
    #[error("s3://{bucket}/{key}: bad gzip: {detail}")]
    BadGzip {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
        /// What the decoder said.
        detail: String,
    },
}

impl FetchError {
    /// Whether a later attempt may succeed (network, throttling, NoSuchKey that a
    /// lagging replica may still serve, an AccessDenied a policy fix may lift).
    pub fn is_retryable(&self) -> bool {
        !matches!(self, Self::TooLarge { .. } | Self::BadGzip { .. })
    }

    /// Whether the object itself is bad, so it belongs in the DLQ.
    pub fn is_malformed(&self) -> bool {
        !self.is_retryable()
    }

    pub(crate) fn count(&self, m: &Metrics) {
        let c = match self {
            Self::NotFound { .. } => &m.objects_failed_not_found,
            Self::AccessDenied { .. } => &m.objects_failed_access_denied,
            Self::Throttled { .. } => &m.objects_failed_throttled,
            Self::Unreachable { .. } => &m.objects_failed_unreachable,
            Self::TooLarge { .. } => &m.objects_failed_too_large,
            Self::BadGzip { .. } => &m.objects_failed_malformed,
        };
        Metrics::inc(c);
    }

    fn from_sdk(obj: &ObjectRef, err: &SdkError<GetObjectError>) -> Self {
        let bucket = obj.bucket.clone();
        let key = obj.key.clone();
        let detail = DisplayErrorContext(err).to_string();
        let status = err.raw_response().map(|r| r.status().as_u16());
        match err {
            SdkError::ServiceError(se) => {
                let code = se.err().code().unwrap_or_default();
                if se.err().is_no_such_key() || code == "NoSuchKey" || status == Some(404) {
                    Self::NotFound { bucket, key }
                } else if code == "AccessDenied" || status == Some(403) {
                    Self::AccessDenied {
                        bucket,
                        key,
                        detail,
                    }
                } else if code == "SlowDown"
                    || code.contains("Throttl")
                    || status.is_some_and(|s| s == 429 || s >= 500)
                {
                    Self::Throttled {
                        bucket,
                        key,
                        detail,
                    }
                } else {
                    Self::Unreachable {
                        bucket,
                        key,
                        detail,
                    }
                }
            }
            _ => Self::Unreachable {
                bucket,
                key,
                detail,
            },
        }
    }
}

/// Fetches `obj`, retrying per `limits.retry`, and returns its decompressed bytes.
///
/// # Errors
/// The last [`FetchError`] once retries are exhausted, or at once when retrying cannot
/// help (too large, bad gzip).
pub async fn fetch_object(
    s3: &aws_sdk_s3::Client,
    obj: &ObjectRef,
    limits: &FetchLimits,
    metrics: &Metrics,
) -> Result<Vec<u8>, FetchError> {
    let mut attempt = 1;
    loop {
        match fetch_once(s3, obj, limits.max_object_bytes, metrics).await {
            Ok(bytes) => {
                Metrics::inc(&metrics.objects_fetched);
                Metrics::add(&metrics.bytes_decompressed, bytes.len() as u64);
                return Ok(bytes);
            }
            Err(e) if e.is_retryable() && limits.retry.allows_another(attempt) => {
                let delay = limits.retry.delay(attempt - 1);
                debug!(bucket = %obj.bucket, key = %obj.key, attempt, ?delay, error = %e, "retrying S3 GetObject");
                Metrics::inc(&metrics.s3_retries);
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

async fn fetch_once(
    s3: &aws_sdk_s3::Client,
    obj: &ObjectRef,
    max_bytes: u64,
    metrics: &Metrics,
) -> Result<Vec<u8>, FetchError> {
    let resp = s3
        .get_object()
        .bucket(&obj.bucket)
        .key(&obj.key)
        .send()
        .await
        .map_err(|e| FetchError::from_sdk(obj, &e))?;
    let mut body = resp.body;
    let mut sink = Decompressor::new(max_bytes);
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| FetchError::Unreachable {
            bucket: obj.bucket.clone(),
            key: obj.key.clone(),
            detail: format!("reading body: {}", DisplayErrorContext(&e)),
        })?;
        Metrics::add(&metrics.bytes_fetched, chunk.len() as u64);
        sink.write(&chunk).map_err(|e| e.at(obj))?;
    }
    sink.finish().map_err(|e| e.at(obj))
}

/// A size-bounded byte sink: errors as soon as more than `limit` bytes arrive.
struct Bounded {
    buf: Vec<u8>,
    limit: u64,
    exceeded: bool,
}

impl Write for Bounded {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.buf.len() as u64 + data.len() as u64 > self.limit {
            self.exceeded = true;
            return Err(std::io::Error::other("decompressed size limit exceeded"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Why decompressing failed, before the object is known.
#[derive(Debug)]
pub(crate) enum DecodeError {
    TooLarge(u64),
    BadGzip(String),
}

impl DecodeError {
    fn at(self, obj: &ObjectRef) -> FetchError {
        let bucket = obj.bucket.clone();
        let key = obj.key.clone();
        match self {
            Self::TooLarge(limit_bytes) => FetchError::TooLarge {
                bucket,
                key,
                limit_bytes,
            },
            Self::BadGzip(detail) => FetchError::BadGzip {
                bucket,
                key,
                detail,
            },
        }
    }
}

/// Streaming decompression of a body that may or may not be gzip, decided by its first
/// two bytes.
pub(crate) struct Decompressor {
    state: State,
    limit: u64,
}

enum State {
    /// Fewer than two bytes seen so far.
    Sniffing(Vec<u8>),
    Gzip(Box<MultiGzDecoder<Bounded>>),
    Plain(Bounded),
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

impl Decompressor {
    pub(crate) fn new(limit: u64) -> Self {
        Self {
            state: State::Sniffing(Vec::with_capacity(2)),
            limit,
        }
    }

    pub(crate) fn write(&mut self, mut data: &[u8]) -> Result<(), DecodeError> {
        if let State::Sniffing(head) = &mut self.state {
            while head.len() < 2 {
                let Some((&b, rest)) = data.split_first() else {
                    return Ok(());
                };
                head.push(b);
                data = rest;
            }
            let head = std::mem::take(head);
            let bounded = Bounded {
                buf: Vec::new(),
                limit: self.limit,
                exceeded: false,
            };
            self.state = if head == GZIP_MAGIC {
                State::Gzip(Box::new(MultiGzDecoder::new(bounded)))
            } else {
                State::Plain(bounded)
            };
            self.feed(&head)?;
        }
        self.feed(data)
    }

    fn feed(&mut self, data: &[u8]) -> Result<(), DecodeError> {
        let limit = self.limit;
        match &mut self.state {
            State::Sniffing(_) => Ok(()),
            State::Plain(b) => b.write_all(data).map_err(|_| DecodeError::TooLarge(limit)),
            State::Gzip(d) => d.write_all(data).map_err(|e| {
                if d.get_ref().exceeded {
                    DecodeError::TooLarge(limit)
                } else {
                    DecodeError::BadGzip(e.to_string())
                }
            }),
        }
    }

    pub(crate) fn finish(self) -> Result<Vec<u8>, DecodeError> {
        let limit = self.limit;
        match self.state {
            State::Sniffing(head) => Ok(head),
            State::Plain(b) => Ok(b.buf),
            State::Gzip(mut d) => {
                if let Err(e) = d.try_finish() {
                    return Err(if d.get_ref().exceeded {
                        DecodeError::TooLarge(limit)
                    } else {
                        DecodeError::BadGzip(e.to_string())
                    });
                }
                let bounded = d
                    .finish()
                    .map_err(|e| DecodeError::BadGzip(e.to_string()))?;
                Ok(bounded.buf)
            }
        }
    }
}

/// Decompresses a whole buffer (gzip or plain) under `limit`.
#[cfg(test)]
pub(crate) fn decompress(bytes: &[u8], limit: u64) -> Result<Vec<u8>, DecodeError> {
    let mut d = Decompressor::new(limit);
    d.write(bytes)?;
    d.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compression, write::GzEncoder};

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    fn decompress_chunked(bytes: &[u8], chunk: usize, limit: u64) -> Result<Vec<u8>, DecodeError> {
        let mut d = Decompressor::new(limit);
        for c in bytes.chunks(chunk) {
            d.write(c)?;
        }
        d.finish()
    }

    #[test]
    fn gzip_round_trips_in_any_chunking() {
        let data: Vec<u8> = (0..100_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let gz = gzip(&data);
        for chunk in [1, 2, 3, 7, 4096, gz.len()] {
            assert_eq!(
                decompress_chunked(&gz, chunk, u64::MAX).unwrap(),
                data,
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn concatenated_gzip_members_are_all_read() {
        let mut gz = gzip(b"{\"Records\":");
        gz.extend(gzip(b"[]}"));
        assert_eq!(decompress(&gz, 1_000).unwrap(), b"{\"Records\":[]}");
    }

    #[test]
    fn plain_bodies_pass_through() {
        assert_eq!(
            decompress(b"{\"Records\":[]}", 100).unwrap(),
            b"{\"Records\":[]}"
        );
        assert_eq!(decompress(b"{", 100).unwrap(), b"{");
        assert_eq!(decompress(b"", 100).unwrap(), b"");
    }

    #[test]
    fn the_limit_is_on_decompressed_size() {
        let data = vec![b'a'; 1_000_000];
        let gz = gzip(&data);
        assert!(gz.len() < 10_000);
        assert!(matches!(
            decompress_chunked(&gz, 512, 999_999),
            Err(DecodeError::TooLarge(999_999))
        ));
        assert_eq!(
            decompress_chunked(&gz, 512, 1_000_000).unwrap().len(),
            1_000_000
        );
        assert!(matches!(
            decompress(&data, 10),
            Err(DecodeError::TooLarge(10))
        ));
    }

    #[test]
    fn truncated_and_corrupt_gzip_are_bad_gzip() {
        let gz = gzip(&vec![b'x'; 10_000]);
        let truncated = &gz[..gz.len() / 2];
        assert!(matches!(
            decompress(truncated, u64::MAX),
            Err(DecodeError::BadGzip(_))
        ));
        let mut corrupt = gz.clone();
        for b in corrupt.iter_mut().skip(12).take(20) {
            *b ^= 0x5a;
        }
        assert!(matches!(
            decompress(&corrupt, u64::MAX),
            Err(DecodeError::BadGzip(_))
        ));
        assert!(matches!(
            decompress(&[0x1f, 0x8b, 0, 1, 2], u64::MAX),
            Err(DecodeError::BadGzip(_))
        ));
    }
}
