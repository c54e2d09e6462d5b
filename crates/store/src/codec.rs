//! Versioned value encodings.
//!
//! Every value the store writes starts with one version byte. Profiles are the value
//! in postcard (a compact, non self-describing serde format), in one of two framings:
//!
//! - [`PROFILE_V1`]: the byte `1` then the postcard bytes;
//! - [`PROFILE_V2`]: the byte `2`, the postcard length as a big-endian u32, then those
//!   bytes as raw DEFLATE (RFC 1951, libdeflate level 1).
//!
//! [`encode_versioned`] writes whichever is shorter. A profile is a few hundred bytes of
//! counters whose strings, hours and float exponents repeat, so DEFLATE takes about a
//! third off it, and with it a third of what sled writes and keeps on disk (sled's log
//! holds up to twice the live bytes before it cleans a segment). Both framings are read.
//!
//! The small fixed-layout records (processed objects, outbox entries, dedup times) use
//! their own version byte `1` then big-endian integers. A reader that meets an unknown
//! version returns [`StoreError::UnknownVersion`] instead of guessing, so a downgrade
//! never decodes garbage.

use std::cell::RefCell;

use libdeflater::{CompressionLvl, Compressor, Decompressor};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::StoreError;

/// Version byte of a postcard-encoded serde value, stored as is.
pub const PROFILE_V1: u8 = 1;
/// Version byte of a postcard-encoded serde value, stored DEFLATE-compressed.
pub const PROFILE_V2: u8 = 2;
/// The largest postcard payload a [`PROFILE_V2`] value may claim: far above any real
/// profile (their counters are capped), low enough that a corrupt length cannot make
/// the reader allocate gigabytes.
const MAX_PAYLOAD_BYTES: usize = 64 << 20;
/// Values shorter than this are stored as [`PROFILE_V1`] without trying: DEFLATE's
/// block header and code tables cost more than such a value could save.
const MIN_COMPRESS_BYTES: usize = 64;

/// libdeflate's fastest level that compresses (level 0 only frames stored blocks).
/// Level 6 saves ~1% more on profiles at several times the cost.
const LEVEL: CompressionLvl = match CompressionLvl::new(1) {
    Ok(level) => level,
    Err(_) => panic!("libdeflate level 1 exists"),
};

thread_local! {
    /// One compressor per thread: libdeflate's compressor owns ~100 KB of match
    /// tables, too much to allocate per value.
    static COMPRESSOR: RefCell<Compressor> = RefCell::new(Compressor::new(LEVEL));
    static DECOMPRESSOR: RefCell<Decompressor> = RefCell::new(Decompressor::new());
}
/// Version byte of the fixed-layout records (objects, outbox, events).
pub(crate) const RECORD_V1: u8 = 1;

/// Encodes `value` as version byte + postcard payload, compressed ([`PROFILE_V2`])
/// when that is shorter.
pub fn encode_versioned<T: Serialize + ?Sized>(
    tree: &'static str,
    key: &[u8],
    value: &T,
) -> Result<Vec<u8>, StoreError> {
    let plain =
        postcard::to_extend(value, vec![PROFILE_V1]).map_err(|source| StoreError::Encode {
            tree,
            key: display_key(key),
            source,
        })?;
    let payload = &plain[1..];
    if payload.len() < MIN_COMPRESS_BYTES || payload.len() > MAX_PAYLOAD_BYTES {
        return Ok(plain);
    }
    Ok(compress(payload).unwrap_or(plain))
}

/// Values this many or more are encoded on every core by [`encode_versioned_all`].
const PARALLEL_ENCODE_MIN: usize = 256;

/// [`encode_versioned`] of every `(key, value)`, in order. Many values (a replay
/// batch's thousands of profiles) are split between one thread per core: the commit
/// runs while the threads that read ahead of it wait, so their cores are idle.
pub fn encode_versioned_all<K, T>(
    tree: &'static str,
    items: &[(K, T)],
) -> Result<Vec<Vec<u8>>, StoreError>
where
    K: AsRef<[u8]> + Sync,
    T: Serialize + Sync,
{
    let encode = |chunk: &[(K, T)]| {
        chunk
            .iter()
            .map(|(k, v)| encode_versioned(tree, k.as_ref(), v))
            .collect::<Result<Vec<_>, _>>()
    };
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    if items.len() < PARALLEL_ENCODE_MIN || threads < 2 {
        return encode(items);
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let parts: Vec<_> = items
            .chunks(chunk)
            .map(|c| scope.spawn(move || encode(c)))
            .collect();
        let mut out = Vec::with_capacity(items.len());
        for part in parts {
            // A panic in an encoder is a bug, not input: it goes on as one.
            out.extend(
                part.join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p))?,
            );
        }
        Ok(out)
    })
}

/// `payload` framed as [`PROFILE_V2`], or `None` when that is not shorter than
/// [`PROFILE_V1`].
fn compress(payload: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(payload.len() + 1);
    out.push(PROFILE_V2);
    out.extend_from_slice(&u32::try_from(payload.len()).ok()?.to_be_bytes());
    let header = out.len();
    // No more room than V1 would take: a payload DEFLATE cannot shrink fails with
    // InsufficientSpace, and V1 is written instead.
    let room = (payload.len() + 1).checked_sub(header)?;
    out.resize(header + room, 0);
    let written = COMPRESSOR
        .with(|c| c.borrow_mut().deflate_compress(payload, &mut out[header..]))
        .ok()?;
    out.truncate(header + written);
    Some(out)
}

/// The postcard bytes of a [`PROFILE_V2`] body (after its version byte).
fn decompress(tree: &'static str, key: &[u8], body: &[u8]) -> Result<Vec<u8>, StoreError> {
    let (len, deflated) = body
        .split_first_chunk::<4>()
        .ok_or_else(|| StoreError::malformed(tree, key, "compressed value: bad length"))?;
    let len = u32::from_be_bytes(*len) as usize;
    if len > MAX_PAYLOAD_BYTES {
        return Err(StoreError::malformed(
            tree,
            key,
            "compressed value: length over 64 MiB",
        ));
    }
    let mut out = vec![0; len];
    let written = DECOMPRESSOR
        .with(|d| d.borrow_mut().deflate_decompress(deflated, &mut out))
        .map_err(|e| {
            let what = match e {
                libdeflater::DecompressionError::BadData => "compressed value: not valid DEFLATE",
                libdeflater::DecompressionError::InsufficientSpace => {
                    "compressed value: longer than its recorded length"
                }
            };
            StoreError::malformed(tree, key, what)
        })?;
    if written != len {
        return Err(StoreError::malformed(
            tree,
            key,
            "compressed value: shorter than its recorded length",
        ));
    }
    Ok(out)
}

/// Decodes a value written by [`encode_versioned`].
pub fn decode_versioned<T: DeserializeOwned>(
    tree: &'static str,
    key: &[u8],
    bytes: &[u8],
) -> Result<T, StoreError> {
    match bytes.split_first() {
        None => Err(StoreError::malformed(tree, key, "empty value")),
        Some((&PROFILE_V1, payload)) => decode_payload(tree, key, payload),
        Some((&PROFILE_V2, body)) => decode_payload(tree, key, &decompress(tree, key, body)?),
        Some((&version, _)) => Err(StoreError::UnknownVersion {
            tree,
            key: display_key(key),
            version,
        }),
    }
}

/// Decodes a whole postcard payload: trailing bytes are an error.
fn decode_payload<T: DeserializeOwned>(
    tree: &'static str,
    key: &[u8],
    payload: &[u8],
) -> Result<T, StoreError> {
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

/// Renders a key for error messages and logs: printable ASCII as is, any other byte
/// (the NUL separators too) as `\xNN`.
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

    /// A profile-sized sample: many counters whose strings and numbers repeat.
    fn large_sample() -> Sample {
        Sample {
            name: "arn:aws:sts::123456789012:assumed-role/DataScience/alice".into(),
            counts: (0..40)
                .map(|i| {
                    (
                        format!("bedrock.amazonaws.com:InvokeModel{}", i % 7),
                        1.5 * f64::from(i),
                    )
                })
                .collect(),
            last_ms: 1_773_009_014_000,
        }
    }

    #[test]
    fn a_compressible_value_is_stored_compressed_and_reads_back() {
        let plain = postcard::to_allocvec(&large_sample()).unwrap();
        let bytes = encode_versioned("profiles", b"k", &large_sample()).unwrap();
        assert_eq!(bytes[0], PROFILE_V2);
        assert!(
            bytes.len() * 2 < plain.len(),
            "{} compressed bytes for {} plain",
            bytes.len(),
            plain.len()
        );
        let back: Sample = decode_versioned("profiles", b"k", &bytes).unwrap();
        assert_eq!(back, large_sample());
    }

    #[test]
    fn values_written_uncompressed_by_earlier_versions_still_read() {
        let mut v1 = vec![PROFILE_V1];
        v1.extend(postcard::to_allocvec(&large_sample()).unwrap());
        let back: Sample = decode_versioned("profiles", b"k", &v1).unwrap();
        assert_eq!(back, large_sample());
    }

    #[test]
    fn an_incompressible_value_is_stored_plain() {
        // A xorshift sequence: DEFLATE cannot shrink it.
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let noise: Vec<u8> = (0..512)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let bytes = encode_versioned("profiles", b"k", &noise).unwrap();
        assert_eq!(bytes[0], PROFILE_V1);
        let back: Vec<u8> = decode_versioned("profiles", b"k", &bytes).unwrap();
        assert_eq!(back, noise);
    }

    #[test]
    fn corrupt_compressed_values_are_errors_that_name_the_key() {
        let good = encode_versioned("profiles", b"k", &large_sample()).unwrap();
        assert_eq!(good[0], PROFILE_V2);
        let mut flipped = good.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0xff;
        let mut longer = good.clone();
        longer[4] = longer[4].wrapping_add(1);
        let mut cases = vec![
            ("no length", vec![PROFILE_V2]),
            ("short length", vec![PROFILE_V2, 0, 0, 1]),
            ("over 64 MiB", vec![PROFILE_V2, 0x04, 0, 0, 1, 0]),
            ("flipped", flipped),
            ("claims more", longer),
        ];
        for cut in [3, good.len() / 2, good.len() - 1] {
            cases.push(("truncated", good[..cut].to_vec()));
        }
        for (what, bytes) in cases {
            match decode_versioned::<Sample>("profiles", b"p\0acct", &bytes) {
                Err(StoreError::Malformed { tree, key, .. }) => {
                    assert_eq!((tree, key.as_str()), ("profiles", "p\\x00acct"), "{what}");
                }
                // A flipped bit can still inflate to the recorded length; postcard
                // then rejects the payload.
                Err(StoreError::Decode { .. }) => {}
                other => panic!("{what}: {other:?}"),
            }
        }
    }

    #[test]
    fn encoding_many_values_at_once_keeps_their_order_and_bytes() {
        // Above the parallel threshold, of different sizes, so the chunks differ.
        let items: Vec<(Vec<u8>, Sample)> = (0..PARALLEL_ENCODE_MIN * 2 + 7)
            .map(|i| {
                let mut s = if i % 3 == 0 { large_sample() } else { sample() };
                s.last_ms = i as i64;
                (format!("p\0{i}").into_bytes(), s)
            })
            .collect();
        let all = encode_versioned_all("profiles", &items).unwrap();
        assert_eq!(all.len(), items.len());
        for ((key, value), bytes) in items.iter().zip(&all) {
            assert_eq!(bytes, &encode_versioned("profiles", key, value).unwrap());
        }
        let few = encode_versioned_all("profiles", &items[..3]).unwrap();
        assert_eq!(few, all[..3]);
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
