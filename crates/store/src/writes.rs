//! A commit's writes, encoded once into one buffer that is also the commit's journal.
//!
//! sled applies a [`sled::Batch`] atomically, but it pins its memory epoch for the
//! whole batch: every leaf an insert copies stays allocated until the batch ends. A
//! replay batch rewrites thousands of profiles, and those copies were most of the
//! replay's peak memory (heaptrack: ~130 MB of 268 MB at 1M events). So a commit of
//! more than [`crate::StoreOptions::commit_chunk_writes`] writes is made atomic the
//! way a database makes any large transaction atomic, with a redo journal:
//!
//! 1. every earlier commit is flushed (the journal is written against them);
//! 2. the whole write set is written to [`JOURNAL_FILE`] in the store's directory
//!    (a temporary file, fsynced, renamed into place, the directory fsynced);
//! 3. the writes before [`WriteSet::final_from`] are applied in chunks, each its own
//!    sled batch (the epoch is released between chunks);
//! 4. the rest (the outbox entries and user meta, so the sinks' threads see a commit's
//!    findings at once) is applied in one last batch;
//! 5. sled is flushed and the journal file removed.
//!
//! After a crash the journal file is either gone (the commit is durable whole) or
//! there with every write needed to finish it; [`crate::Store::open`] applies it again
//! (each write sets or removes a key to a value fixed in the journal, so applying it
//! twice is the same as once, and nothing was committed after it) and removes it. A
//! half-written temporary file means the commit never started applying: it is
//! dropped. The journal lives outside sled because sled keeps a value this large as a
//! blob file it reclaims only much later (tens of MB left behind per replay).
//! A small commit is one sled batch, as before.
//!
//! Layout: version byte [`JOURNAL_V1`], `final_from` as a big-endian u32, then per
//! write an op byte (`0` remove, `1` set), the key length (u32 BE) and key, and for a
//! set the value length (u32 BE) and value. Keys are whole sled keys (space prefix
//! included).

use std::io::Write as _;
use std::path::Path;

use crate::error::StoreError;

/// File name of the journal of a chunked commit, in the store's directory.
pub(crate) const JOURNAL_FILE: &str = "bedguard-commit.journal";
/// The journal while it is written.
const JOURNAL_TMP: &str = "bedguard-commit.journal.tmp";

/// Version byte of the encoding.
pub(crate) const JOURNAL_V1: u8 = 1;

const OP_REMOVE: u8 = 0;
const OP_SET: u8 = 1;
/// Version byte and `final_from`.
const HEADER_LEN: usize = 5;

/// One write of a [`WriteSet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Write<'a> {
    /// Sets `key` to `value`.
    Set(&'a [u8], &'a [u8]),
    /// Removes `key`.
    Remove(&'a [u8]),
}

/// The writes of one commit, in order.
#[derive(Debug)]
pub(crate) struct WriteSet {
    buf: Vec<u8>,
    len: usize,
    final_from: Option<usize>,
}

impl WriteSet {
    pub(crate) fn new() -> Self {
        let mut buf = Vec::with_capacity(4096);
        buf.push(JOURNAL_V1);
        buf.extend_from_slice(&0u32.to_be_bytes());
        Self {
            buf,
            len: 0,
            final_from: None,
        }
    }

    /// Number of writes.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Index of the first write of the last batch (all of them when not marked).
    pub(crate) fn final_from(&self) -> usize {
        self.final_from.unwrap_or(0)
    }

    /// Every write added from now on goes into the commit's last sled batch.
    pub(crate) fn begin_final(&mut self) {
        self.final_from = Some(self.len);
    }

    /// Sets `prefix` + `key` to `value`.
    pub(crate) fn set(&mut self, prefix: u8, key: &[u8], value: &[u8]) {
        self.key(OP_SET, prefix, key);
        self.buf
            .extend_from_slice(&len_u32(value.len()).to_be_bytes());
        self.buf.extend_from_slice(value);
    }

    /// Removes `prefix` + `key`.
    pub(crate) fn remove(&mut self, prefix: u8, key: &[u8]) {
        self.key(OP_REMOVE, prefix, key);
    }

    fn key(&mut self, op: u8, prefix: u8, key: &[u8]) {
        self.buf.push(op);
        self.buf
            .extend_from_slice(&len_u32(key.len() + 1).to_be_bytes());
        self.buf.push(prefix);
        self.buf.extend_from_slice(key);
        self.len += 1;
    }

    /// The encoding, with `final_from` filled in: the journal value.
    pub(crate) fn into_bytes(mut self) -> Vec<u8> {
        let final_from = len_u32(self.final_from());
        self.buf[1..HEADER_LEN].copy_from_slice(&final_from.to_be_bytes());
        self.buf
    }
}

/// A length as u32. A key or value of 4 GiB cannot reach here: sled and the
/// pipeline's object size limit stop far below.
fn len_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The writes of an encoded write set and its `final_from`.
pub(crate) fn decode(bytes: &[u8]) -> Result<(usize, Vec<Write<'_>>), &'static str> {
    let (&version, rest) = bytes.split_first().ok_or("empty journal")?;
    if version != JOURNAL_V1 {
        return Err("unknown journal version");
    }
    let (final_from, mut rest) = take_u32(rest).ok_or("truncated journal header")?;
    let mut writes = Vec::new();
    while let Some((&op, after_op)) = rest.split_first() {
        let (key, after_key) = take_bytes(after_op).ok_or("truncated journal key")?;
        match op {
            OP_SET => {
                let (value, after_value) =
                    take_bytes(after_key).ok_or("truncated journal value")?;
                writes.push(Write::Set(key, value));
                rest = after_value;
            }
            OP_REMOVE => {
                writes.push(Write::Remove(key));
                rest = after_key;
            }
            _ => return Err("unknown journal op"),
        }
    }
    let final_from = usize::try_from(final_from).map_err(|_| "journal final_from too large")?;
    if final_from > writes.len() {
        return Err("journal final_from past its writes");
    }
    Ok((final_from, writes))
}

fn take_u32(bytes: &[u8]) -> Option<(u32, &[u8])> {
    let (head, rest) = bytes.split_at_checked(4)?;
    Some((u32::from_be_bytes(head.try_into().ok()?), rest))
}

fn take_bytes(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = take_u32(bytes)?;
    rest.split_at_checked(usize::try_from(len).ok()?)
}

/// Decodes a journal, naming its file on error.
pub(crate) fn decode_journal<'a>(
    path: &Path,
    bytes: &'a [u8],
) -> Result<(usize, Vec<Write<'a>>), StoreError> {
    decode(bytes).map_err(|what| StoreError::Journal {
        path: path.to_path_buf(),
        what: what.to_string(),
    })
}

fn journal_err(path: &Path, what: &str, e: std::io::Error) -> StoreError {
    StoreError::Journal {
        path: path.to_path_buf(),
        what: format!("{what}: {e}"),
    }
}

/// Writes `bytes` as the journal at `path`, durably: a temporary file beside it,
/// fsynced, renamed over `path`, and the directory fsynced.
pub(crate) fn write_journal(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let tmp = path.with_file_name(JOURNAL_TMP);
    let mut f = std::fs::File::create(&tmp).map_err(|e| journal_err(&tmp, "cannot create", e))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| journal_err(&tmp, "cannot write", e))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| journal_err(path, "cannot rename into place", e))?;
    sync_dir(path)
}

/// The journal at `path`, if there is one. A leftover temporary file (a crash while
/// writing it, before any of its writes were applied) is removed.
pub(crate) fn read_journal(path: &Path) -> Result<Option<Vec<u8>>, StoreError> {
    let tmp = path.with_file_name(JOURNAL_TMP);
    match std::fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(journal_err(&tmp, "cannot remove", e)),
    }
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(journal_err(path, "cannot read", e)),
    }
}

/// Removes the journal once its commit is durable.
pub(crate) fn remove_journal(path: &Path) -> Result<(), StoreError> {
    std::fs::remove_file(path).map_err(|e| journal_err(path, "cannot remove", e))?;
    sync_dir(path)
}

fn sync_dir(path: &Path) -> Result<(), StoreError> {
    let Some(dir) = path.parent() else {
        return Ok(());
    };
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| journal_err(dir, "cannot sync directory", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_sets_removes_and_final_from() {
        let mut w = WriteSet::new();
        w.set(b'p', b"a", b"1");
        w.remove(b'd', b"old");
        w.begin_final();
        w.set(b'o', b"mark", b"");
        assert_eq!(w.len(), 3);
        assert_eq!(w.final_from(), 2);
        let bytes = w.into_bytes();
        let (final_from, writes) = decode(&bytes).unwrap();
        assert_eq!(final_from, 2);
        assert_eq!(
            writes,
            vec![
                Write::Set(b"pa", b"1"),
                Write::Remove(b"dold"),
                Write::Set(b"omark", b""),
            ]
        );
    }

    #[test]
    fn unmarked_final_from_is_zero_and_empty_sets_decode() {
        let bytes = WriteSet::new().into_bytes();
        assert_eq!(decode(&bytes).unwrap(), (0, vec![]));
    }

    #[test]
    fn every_truncation_and_corruption_is_an_error_not_a_panic() {
        let mut w = WriteSet::new();
        w.set(b'p', b"key", b"value");
        w.remove(b'p', b"gone");
        let bytes = w.into_bytes();
        for cut in 0..bytes.len() {
            // Every strict prefix either fails or decodes fewer writes.
            if let Ok((_, writes)) = decode(&bytes[..cut]) {
                assert!(writes.len() < 2, "cut {cut}");
            }
        }
        let mut bad = bytes.clone();
        bad[0] = 9;
        assert_eq!(decode(&bad), Err("unknown journal version"));
        let mut bad = bytes.clone();
        bad[HEADER_LEN] = 7;
        assert_eq!(decode(&bad), Err("unknown journal op"));
        let mut bad = bytes;
        bad[1..HEADER_LEN].copy_from_slice(&5u32.to_be_bytes());
        assert_eq!(decode(&bad), Err("journal final_from past its writes"));
    }
}
