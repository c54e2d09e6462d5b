//! Crate-level tests: the real public CloudTrail files, golden notifications, and
//! property tests that no input panics. Tests may read files; the crate may not.

mod golden;
mod props;
mod real_data;
mod throughput;

use std::path::PathBuf;

/// `/work/shared/data/real-cloudtrail`, found relative to the crate.
pub(crate) fn real_data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/real-cloudtrail")
}

/// The workspace root (`tests/fixtures`, `tests/golden` live there).
pub(crate) fn workspace_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The decompressed bytes of one real file, through [`crate::log::decompress`].
pub(crate) fn read_real(rel: &str) -> Vec<u8> {
    let path = real_data_dir().join(rel);
    let raw = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    crate::log::decompress(&raw, 64 << 20).unwrap().into_owned()
}
