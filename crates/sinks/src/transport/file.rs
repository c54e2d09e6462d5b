//! JSON-lines file with size-based rotation: `path`, then `path.1` (newest) to
//! `path.N` (oldest, N = `keep_files`). Each batch is synced to disk before it is
//! reported delivered.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{Encoded, SendError, Transport};
use crate::config::FileSinkConfig;
use crate::encode::EncodeContext;

/// Appends findings to a rotating file.
#[derive(Debug)]
pub struct FileTransport {
    writer: Option<RotatingFile>,
}

impl FileTransport {
    /// A transport for `cfg` (the file is opened on first write).
    pub fn new(cfg: &FileSinkConfig) -> Self {
        Self {
            writer: Some(RotatingFile::new(
                cfg.path.clone(),
                cfg.max_bytes,
                cfg.keep_files,
            )),
        }
    }
}

impl Transport for FileTransport {
    async fn send(&mut self, batch: &[Encoded], _ctx: &EncodeContext) -> Result<(), SendError> {
        let mut writer = self
            .writer
            .take()
            .ok_or_else(|| SendError::Protocol("file writer lost by an earlier failure".into()))?;
        let lines: Vec<Vec<u8>> = batch.iter().map(|e| e.body.clone()).collect();
        let (writer, result) = tokio::task::spawn_blocking(move || {
            let r = writer.write_batch(&lines);
            (writer, r)
        })
        .await
        .map_err(|e| SendError::Protocol(format!("file writer task failed: {e}")))?;
        self.writer = Some(writer);
        result.map_err(SendError::Io)
    }
}

/// A file that rotates before it would grow past `max_bytes`.
#[derive(Debug)]
pub struct RotatingFile {
    path: PathBuf,
    max_bytes: u64,
    keep_files: u32,
    file: Option<File>,
    size: u64,
}

impl RotatingFile {
    /// A rotating file at `path`.
    pub fn new(path: PathBuf, max_bytes: u64, keep_files: u32) -> Self {
        Self {
            path,
            max_bytes,
            keep_files,
            file: None,
            size: 0,
        }
    }

    /// Appends each line plus `\n`, rotating as needed, then syncs.
    pub fn write_batch(&mut self, lines: &[Vec<u8>]) -> std::io::Result<()> {
        let result = self.write_lines(lines);
        if result.is_err() {
            // Reopen next time: the handle may be broken.
            self.file = None;
        }
        result
    }

    fn write_lines(&mut self, lines: &[Vec<u8>]) -> std::io::Result<()> {
        for line in lines {
            let len = line.len() as u64 + 1;
            if self.file.is_none() {
                self.open()?;
            }
            if self.size > 0 && self.size + len > self.max_bytes {
                self.sync()?;
                self.rotate()?;
                self.open()?;
            }
            let Some(f) = self.file.as_mut() else {
                return Err(std::io::Error::other("file not open"));
            };
            let mut buf = Vec::with_capacity(line.len() + 1);
            buf.extend_from_slice(line);
            buf.push(b'\n');
            f.write_all(&buf)?;
            self.size += len;
        }
        self.sync()
    }

    fn sync(&mut self) -> std::io::Result<()> {
        if let Some(f) = self.file.as_mut() {
            f.flush()?;
            f.sync_data()?;
        }
        Ok(())
    }

    fn open(&mut self) -> std::io::Result<()> {
        let f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        self.size = f.metadata()?.len();
        self.file = Some(f);
        Ok(())
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        self.file = None;
        let oldest = rotated(&self.path, self.keep_files);
        match std::fs::remove_file(&oldest) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        for i in (1..self.keep_files).rev() {
            let from = rotated(&self.path, i);
            if from.exists() {
                std::fs::rename(&from, rotated(&self.path, i + 1))?;
            }
        }
        std::fs::rename(&self.path, rotated(&self.path, 1))?;
        self.size = 0;
        Ok(())
    }
}

/// `path.N`.
pub fn rotated(path: &Path, n: u32) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}
