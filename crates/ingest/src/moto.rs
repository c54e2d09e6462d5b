//! Test harness: a real S3+SQS endpoint, moto's server, on a free loopback port.
//! Started per test (isolation without ordering), reset on start, killed on drop.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::config::{AwsSettings, Clients, StaticCredentials, connect};

/// A running `moto_server`.
pub(crate) struct Moto {
    child: Child,
    port: u16,
}

impl Moto {
    /// Starts moto on a free port and waits until it answers.
    pub(crate) async fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port");
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server must be installed (pip install 'moto[server]')");
        let moto = Self { child, port };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if moto.request("POST", "/moto-api/reset").await.is_ok() {
                return moto;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "moto_server did not answer on port {port}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The endpoint URL.
    pub(crate) fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Forgets every bucket and queue.
    pub(crate) async fn reset(&self) {
        self.request("POST", "/moto-api/reset")
            .await
            .expect("moto reset");
    }

    /// SDK clients for this server (static `testing` credentials, us-east-1).
    pub(crate) async fn clients(&self) -> Clients {
        clients_for(&self.endpoint()).await
    }

    /// A minimal HTTP/1.1 request; Ok when the status is 2xx.
    async fn request(&self, method: &str, path: &str) -> std::io::Result<()> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).await?;
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        );
        stream.write_all(req.as_bytes()).await?;
        let mut resp = Vec::new();
        stream.read_to_end(&mut resp).await?;
        if resp.starts_with(b"HTTP/1.1 2") || resp.starts_with(b"HTTP/1.0 2") {
            Ok(())
        } else {
            Err(std::io::Error::other(
                String::from_utf8_lossy(&resp).into_owned(),
            ))
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// SDK clients for an S3/SQS endpoint with moto's test credentials.
pub(crate) async fn clients_for(endpoint: &str) -> Clients {
    connect(&AwsSettings {
        region: Some("us-east-1".into()),
        endpoint_url: Some(endpoint.to_owned()),
        force_path_style: true,
        static_credentials: Some(StaticCredentials {
            access_key_id: "testing".into(),
            secret_access_key: "testing".into(),
        }),
        ..AwsSettings::default()
    })
    .await
    .expect("clients")
}
