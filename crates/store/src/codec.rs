//! Versioned value encodings.
//!
//! Every value the store writes starts with one version byte. Profiles use
//! [`PROFILE_V1`]: the byte `1` then the value in postcard (a compact, non
//! self-describing serde format). The small fixed-layout records (processed objects,
//! outbox entries, dedup times) use their own version byte `1` then big-endian integers.
//! A reader that meets an unknown version returns [`StoreError::UnknownVersion`] instead
//! of guessing, so a downgrade never decodes garbage.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::StoreError;

/// Version byte of a postcard-encoded serde value.
pub const PROFILE_V1: u8 = 1;
/// Version byte of the fixed-layout records (objects, outbox, events).
pub(crate) const RECORD_V1: u8 = 1;

/// Encodes `value` as version byte + postcard payload.
pub fn encode_versioned<T: Serialize + ?Sized>(
    tree: &'static str,
    key: &[u8],
    value: &T,
) -> Result<Vec<u8>, StoreError> {
    let out = vec![PROFILE_V1];
    postcard::to_extend(value, out).map_err(|source| StoreError::Encode {
        tree,
        key: display_key(key),
        source,
    })
}

/// Decodes a value written by [`encode_versioned`].
pub fn decode_versioned<T: DeserializeOwned>(
    tree: &'static str,
    key: &[u8],
    bytes: &[u8],
) -> Result<T, StoreError> {
    match bytes.split_first() {
        None => Err(StoreError::malformed(tree, key, "empty value")),
        Some((&PROFILE_V1, payload)) => {
            let (value, rest) =
                postcard::take_from_bytes(payload).map_err(|source| StoreError::Decode {
                    tree,
                    key: display_key(key),
                    source,
                })?;
            if rest.is_empty() {
                Ok(value)
            } else {
                Err(StoreError::malformed(
                    tree,
                    key,
                    "trailing bytes after payload",
                ))
            }
        }
        Some((&version, _)) => Err(StoreError::UnknownVersion {
            tree,
            key: display_key(key),
            version,
        }),
    }
}

/// Checks the version byte of a fixed-layout record of at least `min_len` bytes
/// (version byte included) and returns the bytes after the version byte.
pub(crate) fn record_body<'a>(
    tree: &'static str,
    key: &[u8],
    bytes: &'a [u8],
    min_len: usize,
) -> Result<&'a [u8], StoreError> {
    match bytes.split_first() {
        None => Err(StoreError::malformed(tree, key, "empty value")),
        Some((&RECORD_V1, body)) if body.len() + 1 >= min_len => Ok(body),
        Some((&RECORD_V1, _)) => Err(StoreError::malformed(tree, key, "truncated record")),
        Some((&version, _)) => Err(StoreError::UnknownVersion {
            tree,
            key: display_key(key),
            version,
        }),
    }
}

/// Reads a big-endian u64 at `at`; the caller has checked the length.
pub(crate) fn be_u64(body: &[u8], at: usize) -> Option<u64> {
    let chunk: [u8; 8] = body.get(at..at + 8)?.try_into().ok()?;
    Some(u64::from_be_bytes(chunk))
}

/// Reads a big-endian u32 at `at`.
pub(crate) fn be_u32(body: &[u8], at: usize) -> Option<u32> {
    let chunk: [u8; 4] = body.get(at..at + 4)?.try_into().ok()?;
    Some(u32::from_be_bytes(chunk))
}

/// Maps an i64 to a u64 whose big-endian bytes sort like the i64.
pub(crate) fn order_i64(value: i64) -> u64 {
    (value as u64) ^ (1 << 63)
}

/// Inverse of [`order_i64`].
pub(crate) fn unorder_i64(value: u64) -> i64 {
    (value ^ (1 << 63)) as i64
}

/// Renders a key for error messages and logs: printable ASCII as is, NUL as `\0`,
/// any other byte escaped.
pub fn display_key(key: &[u8]) -> String {
    key.escape_ascii().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Sample {
        name: String,
        counts: Vec<(String, f64)>,
        last_ms: i64,
    }

    fn sample() -> Sample {
        Sample {
            name: "arn:aws:iam::123456789012:user/alice".into(),
            counts: vec![("DE".into(), 3.5), ("US".into(), 0.25)],
            last_ms: -5,
        }
    }

    #[test]
    fn round_trip_starts_with_version_byte() {
        let bytes = encode_versioned("profiles", b"p\0a", &sample()).unwrap();
        assert_eq!(bytes[0], PROFILE_V1);
        let back: Sample = decode_versioned("profiles", b"p\0a", &bytes).unwrap();
        assert_eq!(back, sample());
    }

    #[test]
    fn unknown_version_names_tree_key_and_version() {
        let mut bytes = encode_versioned("profiles", b"k", &sample()).unwrap();
        bytes[0] = 9;
        let err = decode_versioned::<Sample>("profiles", b"p\x00123\x00bob", &bytes).unwrap_err();
        match &err {
            StoreError::UnknownVersion { tree, key, version } => {
                assert_eq!(*tree, "profiles");
                assert_eq!(key, "p\\x00123\\x00bob");
                assert_eq!(*version, 9);
            }
            other => panic!("unexpected error {other:?}"),
        }
        assert!(err.to_string().contains("unknown encoding version 9"));
    }

    #[test]
    fn truncated_and_empty_values_are_errors_not_garbage() {
        let bytes = encode_versioned("profiles", b"k", &sample()).unwrap();
        let err = decode_versioned::<Sample>("profiles", b"k", &bytes[..bytes.len() - 3]);
        assert!(matches!(err, Err(StoreError::Decode { .. })), "{err:?}");
        let err = decode_versioned::<Sample>("profiles", b"k", &[]);
        assert!(matches!(err, Err(StoreError::Malformed { .. })), "{err:?}");
        let mut long = bytes.clone();
        long.push(0);
        let err = decode_versioned::<Sample>("profiles", b"k", &long);
        assert!(matches!(err, Err(StoreError::Malformed { .. })), "{err:?}");
    }

    #[test]
    fn ordered_i64_sorts_like_i64() {
        let values = [i64::MIN, -1_000, -1, 0, 1, 1_700_000_000_000, i64::MAX];
        for pair in values.windows(2) {
            let (a, b) = (order_i64(pair[0]), order_i64(pair[1]));
            assert!(a.to_be_bytes() < b.to_be_bytes());
            assert_eq!(unorder_i64(a), pair[0]);
        }
    }
}
