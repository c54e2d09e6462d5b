//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong while opening databases or loading rules.
#[derive(Debug, thiserror::Error)]
pub enum EnrichError {
    /// A GeoIP database exists but could not be opened or is not a valid mmdb file.
    #[error("GeoIP {role} database {path}: {source}")]
    Database {
        /// `city` or `ASN`.
        role: &'static str,
        /// The file.
        path: PathBuf,
        /// What the reader said.
        #[source]
        source: maxminddb::MaxMindDbError,
    },
    /// A file could not be read, written or inspected (other than not existing, where
    /// that is allowed).
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The user-agent rules are not valid; every problem found is listed.
    #[error("invalid user-agent rules{}: {}", origin.as_deref().map(|o| format!(" in {o}")).unwrap_or_default(), errors.join("; "))]
    Rules {
        /// Where the rules came from, when loaded from a file.
        origin: Option<String>,
        /// Every problem found, in file order.
        errors: Vec<String>,
    },
    /// The demo database writer failed.
    #[error("writing demo GeoIP database: {0}")]
    Writer(String),
}
