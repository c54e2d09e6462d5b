//! A loopback HTTP/1.1 receiver that behaves like Splunk HEC with indexer
//! acknowledgement, for tests and the benchmark: events are indexed only when their
//! `ackId` is reported acknowledged. It can fail with 503 for a number of requests
//! (an outage) and drop acknowledgements (an indexer that lost data).
//!
//! Not a production server: Content-Length bodies only, loopback only.

use std::collections::BTreeMap;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// What the receiver saw and holds.
#[derive(Debug, Default)]
pub struct ReceiverState {
    /// Token expected in `Authorization: Splunk <token>` (`None`: any).
    pub token: Option<String>,
    /// Answer this many event requests with 503 before accepting any.
    pub fail_next: u32,
    /// Never acknowledge this many of the next accepted event requests.
    pub drop_next_acks: u32,
    /// Acks become true only on the Nth poll that asks for them.
    pub ack_after_polls: u32,
    /// Indexed events (HEC) or lines (plain POST), in arrival order.
    pub indexed: Vec<serde_json::Value>,
    /// Requests by path, including failed ones.
    pub requests: BTreeMap<String, u64>,
    /// Requests answered 503.
    pub rejected: u64,
    /// Requests without the right token.
    pub unauthorized: u64,
    /// Gzip-encoded requests.
    pub gzipped: u64,
    /// Channel header values seen.
    pub channels: BTreeMap<String, u64>,
    /// Headers of the last request (lower-case names; Authorization omitted).
    pub last_headers: BTreeMap<String, String>,
    /// The next ackId handed out.
    pub next_ack: u64,
    /// Accepted requests not yet acknowledged, by ackId.
    pub pending: BTreeMap<u64, PendingAck>,
}

/// An accepted HEC request waiting for its acknowledgement.
#[derive(Debug)]
pub struct PendingAck {
    /// Its events.
    pub events: Vec<serde_json::Value>,
    /// Ack polls that asked for it.
    pub polls: u32,
    /// Never acknowledged (lost by the "indexer").
    pub dropped: bool,
}

/// A running receiver.
#[derive(Debug)]
pub struct Receiver {
    /// Its address.
    pub addr: SocketAddr,
    state: Arc<Mutex<ReceiverState>>,
    task: JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    /// Starts on an ephemeral loopback port.
    pub async fn start(state: ReceiverState) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(state));
        let shared = Arc::clone(&state);
        let task = tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let s = Arc::clone(&shared);
                tokio::spawn(async move {
                    let _ = serve(conn, s).await;
                });
            }
        });
        Ok(Self { addr, state, task })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The state, locked (recovering from a poisoned lock).
    pub fn state(&self) -> MutexGuard<'_, ReceiverState> {
        lock(&self.state)
    }
}

fn lock(m: &Mutex<ReceiverState>) -> MutexGuard<'_, ReceiverState> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

struct Req {
    method: String,
    path: String,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

async fn read_request(conn: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<Option<Req>> {
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let mut chunk = [0u8; 16 * 1024];
        let n = conn.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let method = first.next().unwrap_or("").to_owned();
    let path = first.next().unwrap_or("").to_owned();
    let headers: BTreeMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let start = head_end + 4;
    while buf.len() < start + len {
        let mut chunk = [0u8; 64 * 1024];
        let n = conn.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = buf[start..start + len].to_vec();
    buf.drain(..start + len);
    Ok(Some(Req {
        method,
        path,
        headers,
        body,
    }))
}

async fn serve(mut conn: TcpStream, state: Arc<Mutex<ReceiverState>>) -> std::io::Result<()> {
    let mut buf = Vec::new();
    while let Some(req) = read_request(&mut conn, &mut buf).await? {
        let (status, body) = handle(&req, &state);
        let reason = match status {
            200 => "OK",
            400 => "Bad Request",
            401 => "Unauthorized",
            404 => "Not Found",
            _ => "Service Unavailable",
        };
        let resp = format!(
            "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        conn.write_all(resp.as_bytes()).await?;
    }
    Ok(())
}

fn handle(req: &Req, state: &Mutex<ReceiverState>) -> (u16, String) {
    let mut st = lock(state);
    *st.requests.entry(req.path.clone()).or_default() += 1;
    st.last_headers = req
        .headers
        .iter()
        .filter(|(k, _)| k.as_str() != "authorization")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if req.method != "POST" {
        return (404, r#"{"text":"not found"}"#.into());
    }
    let body = if req.headers.get("content-encoding").map(String::as_str) == Some("gzip") {
        st.gzipped += 1;
        let mut out = Vec::new();
        if flate2::read::GzDecoder::new(&req.body[..])
            .read_to_end(&mut out)
            .is_err()
        {
            return (400, r#"{"text":"bad gzip","code":6}"#.into());
        }
        out
    } else {
        req.body.clone()
    };
    let hec = req.path.starts_with("/services/collector");
    if hec {
        if let Some(token) = &st.token
            && req.headers.get("authorization") != Some(&format!("Splunk {token}"))
        {
            st.unauthorized += 1;
            return (401, r#"{"text":"Invalid token","code":4}"#.into());
        }
        if let Some(c) = req.headers.get("x-splunk-request-channel") {
            *st.channels.entry(c.clone()).or_default() += 1;
        } else {
            return (
                400,
                r#"{"text":"Data channel is missing","code":10}"#.into(),
            );
        }
    }
    match req.path.as_str() {
        "/services/collector/event" => {
            if st.fail_next > 0 {
                st.fail_next -= 1;
                st.rejected += 1;
                return (503, r#"{"text":"Server is busy","code":9}"#.into());
            }
            let mut events = Vec::new();
            for v in serde_json::Deserializer::from_slice(&body).into_iter::<serde_json::Value>() {
                match v {
                    Ok(v) => events.push(v),
                    Err(_) => return (400, r#"{"text":"Invalid data format","code":6}"#.into()),
                }
            }
            let id = st.next_ack;
            st.next_ack += 1;
            let dropped = st.drop_next_acks > 0;
            if dropped {
                st.drop_next_acks -= 1;
            }
            st.pending.insert(
                id,
                PendingAck {
                    events,
                    polls: 0,
                    dropped,
                },
            );
            (
                200,
                format!(r#"{{"text":"Success","code":0,"ackId":{id}}}"#),
            )
        }
        "/services/collector/ack" => {
            #[derive(serde::Deserialize)]
            struct Ask {
                acks: Vec<u64>,
            }
            let Ok(ask) = serde_json::from_slice::<Ask>(&body) else {
                return (400, r#"{"text":"Invalid data format","code":6}"#.into());
            };
            let after = st.ack_after_polls;
            let mut answer = BTreeMap::new();
            for id in ask.acks {
                let done = match st.pending.get_mut(&id) {
                    Some(p) if !p.dropped => {
                        p.polls += 1;
                        p.polls >= after
                    }
                    _ => false,
                };
                if done && let Some(p) = st.pending.remove(&id) {
                    st.indexed.extend(p.events);
                }
                answer.insert(id.to_string(), done);
            }
            (200, serde_json::json!({ "acks": answer }).to_string())
        }
        _ if hec => (404, r#"{"text":"not found"}"#.into()),
        _ => {
            for line in body.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                match serde_json::from_slice(line) {
                    Ok(v) => st.indexed.push(v),
                    Err(_) => st.indexed.push(serde_json::Value::String(
                        String::from_utf8_lossy(line).into_owned(),
                    )),
                }
            }
            (200, "{}".into())
        }
    }
}
