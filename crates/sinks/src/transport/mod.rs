//! Transports: where encoded findings go. Each sends a batch and returns only once
//! the receiver has it as far as the protocol can tell (file synced, TCP written,
//! HEC indexer acknowledged).

pub mod file;
pub mod http;
pub mod stdout;
pub mod syslog;
pub mod tls;

use std::future::Future;

use detect::Severity;

use crate::config::SinkConfig;
use crate::encode::EncodeContext;

/// One finding, encoded for a sink, with the facts transports put in their framing.
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded {
    /// Finding id.
    pub id: String,
    /// Finding type.
    pub finding_type: String,
    /// Severity band.
    pub severity: Severity,
    /// Severity score, 1.0 to 10.0.
    pub score: f64,
    /// Revision of the finding.
    pub revision: u32,
    /// Event time of the latest call, epoch milliseconds.
    pub last_seen_ms: i64,
    /// Whether `body` is one JSON object.
    pub json: bool,
    /// The encoded finding.
    pub body: Vec<u8>,
}

/// Why a batch was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Connect, read or write failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// The receiver did not answer in time.
    #[error("timed out after {0} ms")]
    Timeout(u64),
    /// TLS set-up or handshake failed.
    #[error("tls: {0}")]
    Tls(String),
    /// The receiver answered with an HTTP error status.
    #[error("http status {status}: {body}")]
    Status {
        /// Status code.
        status: u16,
        /// The start of the response body.
        body: String,
    },
    /// The receiver said something we did not understand.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// One message is larger than the transport carries.
    #[error("message of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
}

impl SendError {
    /// True when retrying the same batch later may succeed (outage, overload,
    /// timeout); false when the receiver rejected the content itself.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Io(_) | Self::Timeout(_) | Self::Tls(_) | Self::Protocol(_) => true,
            Self::Status { status, .. } => !matches!(status, 400 | 413 | 415 | 422),
            Self::TooLarge { .. } => false,
        }
    }
}

/// Why a transport could not be built from its configuration.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A setting is unusable.
    #[error("{0}")]
    Config(String),
    /// TLS set-up failed.
    #[error("tls: {0}")]
    Tls(String),
    /// A file (CA bundle, token, output) could not be opened.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// Delivers batches of encoded findings.
pub trait Transport: Send {
    /// Delivers `batch`; `Ok` only once the receiver has it.
    fn send<'a>(
        &'a mut self,
        batch: &'a [Encoded],
        ctx: &'a EncodeContext,
    ) -> impl Future<Output = Result<(), SendError>> + Send + 'a;
}

/// Any configured transport.
#[derive(Debug)]
pub enum AnyTransport {
    /// JSON-lines file.
    File(file::FileTransport),
    /// Standard output.
    Stdout(stdout::StdoutTransport),
    /// Syslog.
    Syslog(syslog::SyslogTransport),
    /// HTTP / HEC.
    Http(Box<http::HttpTransport>),
}

impl AnyTransport {
    /// Builds the transport a sink's configuration describes.
    pub fn build(cfg: &SinkConfig) -> Result<Self, BuildError> {
        Ok(match cfg {
            SinkConfig::File(c) => Self::File(file::FileTransport::new(c)),
            SinkConfig::Stdout(_) => Self::Stdout(stdout::StdoutTransport::default()),
            SinkConfig::Syslog(c) => Self::Syslog(syslog::SyslogTransport::new(c)?),
            SinkConfig::Http(c) => Self::Http(Box::new(http::HttpTransport::new(c)?)),
        })
    }
}

impl Transport for AnyTransport {
    async fn send(&mut self, batch: &[Encoded], ctx: &EncodeContext) -> Result<(), SendError> {
        match self {
            Self::File(t) => t.send(batch, ctx).await,
            Self::Stdout(t) => t.send(batch, ctx).await,
            Self::Syslog(t) => t.send(batch, ctx).await,
            Self::Http(t) => t.send(batch, ctx).await,
        }
    }
}
