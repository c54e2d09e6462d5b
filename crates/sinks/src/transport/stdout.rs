//! Standard output: one encoded finding a line.

use tokio::io::AsyncWriteExt;

use super::{Encoded, SendError, Transport};
use crate::encode::EncodeContext;

/// Writes findings to standard output.
#[derive(Debug, Default)]
pub struct StdoutTransport {
    buf: Vec<u8>,
}

impl Transport for StdoutTransport {
    async fn send(&mut self, batch: &[Encoded], _ctx: &EncodeContext) -> Result<(), SendError> {
        self.buf.clear();
        for e in batch {
            self.buf.extend_from_slice(&e.body);
            self.buf.push(b'\n');
        }
        let mut out = tokio::io::stdout();
        out.write_all(&self.buf).await?;
        out.flush().await?;
        Ok(())
    }
}
