//! Syslog, RFC 5424, with bedguard structured data
//! (`[bedguard@32473 id="..." type="..." severity="..." score="..."]`), over UDP
//! (one datagram per message), TCP (octet counting, RFC 6587) or TLS (RFC 5425).
//!
//! UDP and plain TCP have no application-level acknowledgement: a batch counts as
//! delivered once the kernel took it. A broken TCP connection is noticed on the next
//! batch and re-established.

use std::sync::Arc;
use std::time::Duration;

use detect::Severity;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::{BuildError, Encoded, SendError, Transport, tls};
use crate::config::{SyslogProtocol, SyslogSinkConfig, split_host_port};
use crate::encode::EncodeContext;

/// Private enterprise number used in the structured-data id.
pub const SD_ID: &str = "bedguard@32473";

/// RFC 5424 severity of a finding band.
pub fn syslog_severity(s: Severity) -> u8 {
    match s {
        Severity::Critical => 2,
        Severity::High => 3,
        Severity::Medium => 4,
        Severity::Low => 5,
    }
}

/// Escapes an SD-PARAM value (`"`, `\` and `]`).
pub fn escape_param(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A header field: printable ASCII without spaces, at most `max` long, `-` when empty.
fn header_field(s: &str, max: usize) -> String {
    let v: String = s
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(max)
        .collect();
    if v.is_empty() { "-".into() } else { v }
}

/// Formats one RFC 5424 message (no framing).
pub fn format_message(
    e: &Encoded,
    ctx: &EncodeContext,
    facility: u8,
    app_name: &str,
    proc_id: u32,
) -> Vec<u8> {
    let pri = u16::from(facility) * 8 + u16::from(syslog_severity(e.severity));
    let mut out = format!(
        "<{pri}>1 {} {} {} {proc_id} finding [{SD_ID} id=\"{}\" type=\"{}\" severity=\"{}\" score=\"{:.1}\" revision=\"{}\"] ",
        cloudtrail::time::format_rfc3339(ctx.emitted_ms),
        header_field(&ctx.hostname, 255),
        header_field(app_name, 48),
        escape_param(&e.id),
        escape_param(&e.finding_type),
        e.severity.as_str(),
        e.score,
        e.revision,
    )
    .into_bytes();
    out.extend_from_slice(&e.body);
    out
}

enum Conn {
    Udp(UdpSocket),
    Tcp(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// Sends findings to a syslog receiver.
pub struct SyslogTransport {
    protocol: SyslogProtocol,
    address: String,
    server_name: ServerName<'static>,
    tls: Option<TlsConnector>,
    facility: u8,
    app_name: String,
    max_message_bytes: usize,
    timeout: Duration,
    conn: Option<Conn>,
    buf: Vec<u8>,
}

impl std::fmt::Debug for SyslogTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyslogTransport")
            .field("protocol", &self.protocol)
            .field("address", &self.address)
            .field("connected", &self.conn.is_some())
            .finish_non_exhaustive()
    }
}

impl SyslogTransport {
    /// A transport for `cfg` (connects on first send).
    pub fn new(cfg: &SyslogSinkConfig) -> Result<Self, BuildError> {
        let (host, _) = split_host_port(&cfg.address).ok_or_else(|| {
            BuildError::Config(format!("address {:?} is not host:port", cfg.address))
        })?;
        let name = cfg
            .tls_server_name
            .clone()
            .unwrap_or_else(|| host.to_owned());
        let server_name = ServerName::try_from(name.clone())
            .map_err(|e| BuildError::Tls(format!("server name {name:?}: {e}")))?;
        let tls = match cfg.protocol {
            SyslogProtocol::Tls => Some(TlsConnector::from(Arc::new(tls::client_config(
                cfg.tls_ca_file.as_deref(),
            )?))),
            _ => None,
        };
        Ok(Self {
            protocol: cfg.protocol,
            address: cfg.address.clone(),
            server_name,
            tls,
            facility: cfg.facility,
            app_name: cfg.app_name.clone(),
            max_message_bytes: cfg.max_message_bytes,
            timeout: Duration::from_millis(cfg.timeout_ms),
            conn: None,
            buf: Vec::new(),
        })
    }

    async fn connect(&self) -> Result<Conn, SendError> {
        let timeout_ms = self.timeout.as_millis() as u64;
        let fut = async {
            match self.protocol {
                SyslogProtocol::Udp => {
                    let target = tokio::net::lookup_host(&self.address)
                        .await?
                        .next()
                        .ok_or_else(|| {
                            SendError::Protocol(format!("{} did not resolve", self.address))
                        })?;
                    let bind = if target.is_ipv4() {
                        "0.0.0.0:0"
                    } else {
                        "[::]:0"
                    };
                    let sock = UdpSocket::bind(bind).await?;
                    sock.connect(target).await?;
                    Ok(Conn::Udp(sock))
                }
                SyslogProtocol::Tcp => {
                    let s = TcpStream::connect(&self.address).await?;
                    s.set_nodelay(true)?;
                    Ok(Conn::Tcp(s))
                }
                SyslogProtocol::Tls => {
                    let s = TcpStream::connect(&self.address).await?;
                    s.set_nodelay(true)?;
                    let connector = self
                        .tls
                        .as_ref()
                        .ok_or_else(|| SendError::Tls("no TLS configuration".into()))?;
                    let t = connector
                        .connect(self.server_name.clone(), s)
                        .await
                        .map_err(|e| SendError::Tls(e.to_string()))?;
                    Ok(Conn::Tls(Box::new(t)))
                }
            }
        };
        tokio::time::timeout(self.timeout, fut)
            .await
            .map_err(|_| SendError::Timeout(timeout_ms))?
    }

    async fn send_batch(
        &mut self,
        batch: &[Encoded],
        ctx: &EncodeContext,
    ) -> Result<(), SendError> {
        // A plain TCP peer that closed shows as a readable EOF: reconnect first.
        if let Some(Conn::Tcp(s)) = &self.conn {
            let mut probe = [0u8; 64];
            match s.try_read(&mut probe) {
                Ok(_) => self.conn = None,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => self.conn = None,
            }
        }
        if self.conn.is_none() {
            self.conn = Some(self.connect().await?);
        }
        let proc_id = std::process::id();
        let mut messages = Vec::with_capacity(batch.len());
        for e in batch {
            let m = format_message(e, ctx, self.facility, &self.app_name, proc_id);
            if m.len() > self.max_message_bytes {
                return Err(SendError::TooLarge {
                    len: m.len(),
                    max: self.max_message_bytes,
                });
            }
            messages.push(m);
        }
        let timeout_ms = self.timeout.as_millis() as u64;
        let timeout = self.timeout;
        let Some(conn) = self.conn.as_mut() else {
            return Err(SendError::Protocol("not connected".into()));
        };
        match conn {
            Conn::Udp(sock) => {
                for m in &messages {
                    tokio::time::timeout(timeout, sock.send(m))
                        .await
                        .map_err(|_| SendError::Timeout(timeout_ms))??;
                }
                Ok(())
            }
            Conn::Tcp(s) => write_framed(s, &mut self.buf, &messages, timeout).await,
            Conn::Tls(s) => {
                write_framed(s.as_mut(), &mut self.buf, &messages, timeout).await?;
                // Surface a closed session (close_notify or reset) on this batch.
                let mut probe = [0u8; 1];
                match tokio::time::timeout(Duration::from_millis(1), s.read(&mut probe)).await {
                    Ok(Ok(0)) => Err(SendError::Protocol("TLS peer closed the session".into())),
                    Ok(Err(e)) => Err(SendError::Io(e)),
                    _ => Ok(()),
                }
            }
        }
    }
}

async fn write_framed<W: AsyncWrite + Unpin>(
    w: &mut W,
    buf: &mut Vec<u8>,
    messages: &[Vec<u8>],
    timeout: Duration,
) -> Result<(), SendError> {
    buf.clear();
    for m in messages {
        buf.extend_from_slice(m.len().to_string().as_bytes());
        buf.push(b' ');
        buf.extend_from_slice(m);
    }
    let fut = async {
        w.write_all(buf).await?;
        w.flush().await
    };
    tokio::time::timeout(timeout, fut)
        .await
        .map_err(|_| SendError::Timeout(timeout.as_millis() as u64))?
        .map_err(SendError::Io)
}

impl Transport for SyslogTransport {
    async fn send(&mut self, batch: &[Encoded], ctx: &EncodeContext) -> Result<(), SendError> {
        let r = self.send_batch(batch, ctx).await;
        if r.is_err() {
            self.conn = None;
        }
        r
    }
}
