//! Errors of the store. Every variant names the tree and key it concerns, or the path
//! of the store for errors at open time.

use std::path::PathBuf;

/// An error of the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The sled database at `path` could not be opened.
    #[error("cannot open store at {}: {source}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: sled::Error,
    },
    /// The store was written by a newer bedguard; opening it could corrupt it.
    #[error(
        "store at {} has schema version {found}, this build supports up to {supported}: refusing to open it",
        path.display()
    )]
    SchemaTooNew {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    /// sled failed while reading or writing one key.
    #[error("store tree `{tree}` key `{key}`: {source}")]
    Sled {
        tree: &'static str,
        key: String,
        #[source]
        source: sled::Error,
    },
    /// A value carries an encoding version this build does not know.
    #[error("store tree `{tree}` key `{key}`: unknown encoding version {version}")]
    UnknownVersion {
        tree: &'static str,
        key: String,
        version: u8,
    },
    /// A value has a known version but its payload does not decode.
    #[error("store tree `{tree}` key `{key}`: cannot decode value: {source}")]
    Decode {
        tree: &'static str,
        key: String,
        #[source]
        source: postcard::Error,
    },
    /// A value could not be encoded.
    #[error("store tree `{tree}` key `{key}`: cannot encode value: {source}")]
    Encode {
        tree: &'static str,
        key: String,
        #[source]
        source: postcard::Error,
    },
    /// A fixed-layout value has the wrong shape (truncated, empty).
    #[error("store tree `{tree}` key `{key}`: malformed value: {what}")]
    Malformed {
        tree: &'static str,
        key: String,
        what: &'static str,
    },
    /// A key component contains a byte that the key layout reserves.
    #[error("invalid {what} `{value}`: must be non-empty and contain no NUL byte")]
    InvalidKeyPart { what: &'static str, value: String },
    /// An outbox operation named a sequence that is not (or no longer) queued.
    #[error("store tree `outbox` key `{sink}/{seq}`: no such entry")]
    OutboxEntryMissing { sink: String, seq: u64 },
    /// A batch of several objects found one of them already committed (by another
    /// writer): nothing was written.
    #[error(
        "store tree `objects` key `{key}`: already committed by another writer; the batch was not written"
    )]
    Conflict { key: String },
    /// A flush of the whole database failed.
    #[error("flushing the store failed: {source}")]
    Flush {
        #[source]
        source: sled::Error,
    },
    /// The journal of a chunked commit could not be written, read or decoded.
    #[error("commit journal {}: {what}", path.display())]
    Journal { path: PathBuf, what: String },
    /// A chunked commit failed half-applied and could not be finished from its
    /// journal: no further commit is taken until the store is reopened, which finishes it.
    #[error(
        "store at {}: a commit could not be finished; restart bedguard (reopening the store finishes it from its journal)",
        path.display()
    )]
    Broken { path: PathBuf },
    /// Test-only failure injected in the middle of a commit, before its batch is applied.
    #[cfg(test)]
    #[error("injected failure in commit of `{key}`")]
    Injected { key: String },
}

impl StoreError {
    pub(crate) fn sled(tree: &'static str, key: &[u8], source: sled::Error) -> Self {
        StoreError::Sled {
            tree,
            key: crate::codec::display_key(key),
            source,
        }
    }

    pub(crate) fn malformed(tree: &'static str, key: &[u8], what: &'static str) -> Self {
        StoreError::Malformed {
            tree,
            key: crate::codec::display_key(key),
            what,
        }
    }
}
