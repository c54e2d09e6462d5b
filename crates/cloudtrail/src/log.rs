//! Log files: decompression, decoding into [`Record`]s, and S3 key classification.
//!
//! # Accepted layouts
//!
//! - CloudTrail's S3 delivery format, `{"Records":[...]}` (the `Records` key may sit
//!   anywhere in the top-level object; other keys are ignored).
//! - A bare JSON array of events, `[...]`.
//! - JSON lines: one event object per line (Panther exports); blank lines skipped.
//!
//! # Fast path and fallback
//!
//! The whole `Records` array is first decoded in one typed pass: by the hand-written
//! reader in `fast.rs` for the usual shape, else by serde_json (reading the buffer as
//! `&str` when it is valid UTF-8, so that borrowed strings are not validated one by
//! one). Only when that fails is the buffer read again element by element (each element kept as raw JSON, then
//! decoded on its own), so that one bad record never loses the others. A file cut
//! short (truncated download, partial gzip) keeps every record before the cut.
//!
//! # What makes a record bad
//!
//! A record is dropped and counted, by [`BadRecordReason`], when:
//! - it is not a JSON object (`not_an_object`);
//! - it is not valid JSON, or the file ends inside it (`invalid_json`);
//! - a structured field has the wrong shape, e.g. `userIdentity` is a string
//!   (`bad_field_type`);
//! - `eventName`, `eventSource` or `eventTime` is absent, `null`, empty or not a string
//!   (`missing_event_name`, `missing_event_source`, `missing_event_time`);
//! - `eventTime` is present but in no format [`crate::time`] accepts
//!   (`bad_event_time`).
//!
//! Nothing else rejects a record: quirky-but-real values (service names as source
//! IP, bracketed user agents, missing `userIdentity`, `null` request parameters,
//! mangled ARNs, booleans written as strings) are kept as they are.
//!
//! Record indices in [`RecordError`] are 0-based positions in the `Records` array, or
//! 0-based positions among the non-blank lines of a JSON-lines file.

use std::borrow::Cow;
use std::fmt;
use std::io::Read;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::record::Record;
use crate::time::{EpochMillis, is_event_time, utc_millis};

/// A whole log file that could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The input (or its decompressed form) is larger than the allowed bound.
    #[error("log file exceeds {max_bytes} bytes once decompressed")]
    TooLarge {
        /// The bound that was exceeded.
        max_bytes: usize,
    },
    /// The gzip stream is corrupt.
    #[error("gzip: {0}")]
    Gzip(#[source] std::io::Error),
    /// Nothing but whitespace.
    #[error("log file is empty")]
    Empty,
    /// Not a CloudTrail log in any accepted layout.
    #[error("not a CloudTrail log: {0}")]
    NotCloudTrail(String),
}

/// Why one record was dropped. See the module docs for the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BadRecordReason {
    /// The element is valid JSON but not an object.
    NotAnObject,
    /// The element is not valid JSON, or the file ends inside it.
    InvalidJson,
    /// A structured field has the wrong JSON type.
    BadFieldType,
    /// A required field (`eventName`, `eventSource`, `eventTime`) is missing or empty.
    MissingField(&'static str),
    /// `eventTime` is present but not a timestamp.
    BadEventTime,
}

impl BadRecordReason {
    /// A stable snake_case name, for counters and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotAnObject => "not_an_object",
            Self::InvalidJson => "invalid_json",
            Self::BadFieldType => "bad_field_type",
            Self::MissingField(EVENT_NAME) => "missing_event_name",
            Self::MissingField(EVENT_SOURCE) => "missing_event_source",
            Self::MissingField(EVENT_TIME) => "missing_event_time",
            Self::MissingField(_) => "missing_field",
            Self::BadEventTime => "bad_event_time",
        }
    }
}

impl fmt::Display for BadRecordReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

const EVENT_NAME: &str = "eventName";
const EVENT_SOURCE: &str = "eventSource";
const EVENT_TIME: &str = "eventTime";

/// One dropped record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    /// Position of the record (see the module docs).
    pub index: usize,
    /// Why it was dropped.
    pub reason: BadRecordReason,
    /// Details for a log line.
    pub message: String,
}

/// A decoded log file: the good records, in file order, and the dropped ones.
#[derive(Debug, Default)]
pub struct LogFile<'a> {
    /// Records that passed validation, in file order.
    pub records: Vec<Record<'a>>,
    /// Records that were dropped, in file order.
    pub errors: Vec<RecordError>,
}

impl LogFile<'_> {
    /// Dropped records per reason, sorted by reason name.
    pub fn error_counts(&self) -> Vec<(&'static str, usize)> {
        let mut counts = std::collections::BTreeMap::new();
        for e in &self.errors {
            *counts.entry(e.reason.as_str()).or_insert(0usize) += 1;
        }
        counts.into_iter().collect()
    }
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Gunzips `bytes` when they start with the gzip magic, else returns them as they
/// are. Either way the result is at most `max_bytes` long, or [`LogError::TooLarge`].
/// Concatenated gzip members are read as one stream.
pub fn decompress(bytes: &[u8], max_bytes: usize) -> Result<Cow<'_, [u8]>, LogError> {
    if !bytes.starts_with(&GZIP_MAGIC) {
        return plain(bytes, max_bytes).map(Cow::Borrowed);
    }
    let mut out = Vec::new();
    let len = decompress_into(bytes, max_bytes, &mut out)?.len();
    out.truncate(len);
    Ok(Cow::Owned(out))
}

/// [`decompress`] into `scratch`, a buffer the caller keeps from one file to the next:
/// each file's output overwrites the last one's, and only a file longer than every
/// earlier one grows (and zeroes) the buffer. Plain input is returned as it is.
pub fn decompress_into<'a>(
    bytes: &'a [u8],
    max_bytes: usize,
    scratch: &'a mut Vec<u8>,
) -> Result<&'a [u8], LogError> {
    if !bytes.starts_with(&GZIP_MAGIC) {
        return plain(bytes, max_bytes);
    }
    if let Some(n) = gunzip_single_member(bytes, max_bytes, scratch) {
        return Ok(scratch.get(..n).unwrap_or_default());
    }
    scratch.clear();
    gunzip_general(bytes, max_bytes, scratch)?;
    Ok(scratch)
}

/// Input that is not gzip, as it is: if it is within `max_bytes`.
fn plain(bytes: &[u8], max_bytes: usize) -> Result<&[u8], LogError> {
    if bytes.len() > max_bytes {
        return Err(LogError::TooLarge { max_bytes });
    }
    Ok(bytes)
}

/// Gunzips any gzip stream into the empty `out`, up to `max_bytes`.
fn gunzip_general(bytes: &[u8], max_bytes: usize, out: &mut Vec<u8>) -> Result<(), LogError> {
    // Anything else (several members, a corrupt or oversized stream, trailing bytes):
    // the general reader, which also makes every error. The last member's ISIZE
    // (uncompressed size mod 2^32) is a capacity hint, never trusted beyond the bound.
    let hint = bytes
        .len()
        .checked_sub(4)
        .and_then(|at| bytes.get(at..))
        .and_then(|t| <[u8; 4]>::try_from(t).ok())
        .map_or(0, |t| u32::from_le_bytes(t) as usize);
    out.reserve(hint.min(max_bytes).saturating_add(1));
    let limit = u64::try_from(max_bytes)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    flate2::read::MultiGzDecoder::new(bytes)
        .take(limit)
        .read_to_end(out)
        .map_err(LogError::Gzip)?;
    if out.len() > max_bytes {
        return Err(LogError::TooLarge { max_bytes });
    }
    Ok(())
}

/// The common case, fast: one gzip member (no header CRC) that ends the input,
/// inflated by libdeflate in one call straight into a buffer of the trailer's size,
/// which also checks the member's CRC-32 and length: the length, in the first bytes
/// of `out` (grown when too short, never shrunk). `None` for anything else,
/// including every error, so that [`decompress`] can take its general path (which
/// makes every error).
///
/// libdeflate stops at the end of the first member and does not say where that was,
/// so "the member ends the input" is checked separately: libdeflate has checked that
/// the 4 bytes after the member's CRC hold the output length `n`, and the input's last
/// 4 bytes hold `n` too (`n` equals the final ISIZE). Were there anything after the
/// member, that first copy of `n` would sit before the last 4 bytes; so no copy there
/// means exactly one member. A copy there by chance (rare: 4 bytes of compressed data)
/// only sends the input to the general path.
fn gunzip_single_member(bytes: &[u8], max_bytes: usize, out: &mut Vec<u8>) -> Option<usize> {
    const FHCRC: u8 = 0x02;
    const FIXED_HEADER: usize = 10;
    let &[0x1f, 0x8b, 8, flags, ..] = bytes else {
        return None;
    };
    // Reserved flags, and a header CRC (which the general reader checks, libdeflate
    // does not), are left to the general reader.
    if flags & (0xe0 | FHCRC) != 0 {
        return None;
    }
    let (_, isize) = bytes.split_last_chunk::<4>()?;
    let len = u32::from_le_bytes(*isize) as usize;
    if len > max_bytes {
        return None;
    }
    let searched = bytes.get(FIXED_HEADER..bytes.len() - 1)?;
    if memchr::memmem::find(searched, isize).is_some() {
        return None;
    }
    if out.len() < len {
        out.resize(len, 0);
    }
    let out = out.get_mut(..len)?;
    let n = INFLATE
        .with(|d| match d.try_borrow_mut() {
            Ok(mut d) => d.gzip_decompress(bytes, out),
            Err(_) => libdeflater::Decompressor::new().gzip_decompress(bytes, out),
        })
        .ok()?;
    (n == len).then_some(len)
}

thread_local! {
    /// One libdeflate decompressor per thread (it holds 10 kB of tables).
    static INFLATE: std::cell::RefCell<libdeflater::Decompressor> =
        std::cell::RefCell::new(libdeflater::Decompressor::new());
}

/// Decodes a (decompressed) log file. See the module docs for the accepted layouts
/// and for what makes a record bad. Errors only when the buffer is not a log at all.
pub fn parse_log(buf: &[u8]) -> Result<LogFile<'_>, LogError> {
    let start = buf
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .ok_or(LogError::Empty)?;
    // A UTF-8 byte-order mark is not JSON; skip it.
    let buf = match buf.get(start..) {
        Some([0xef, 0xbb, 0xbf, rest @ ..]) => rest,
        Some(rest) => rest,
        None => return Err(LogError::Empty),
    };
    match buf.first() {
        Some(b'[') => Ok(parse_array(buf)),
        Some(b'{') => parse_object(buf),
        // JSON lines whose first line is not an object: still JSON lines.
        _ => parse_lines(buf),
    }
}

/// A first guess at the number of records, so the fast path rarely regrows its
/// vector of (1 kB) records: real CloudTrail events run 1-3 kB of JSON each. It errs
/// high, since regrowing copies every record so far while capacity never written to
/// costs next to nothing.
fn capacity_hint(len: usize) -> usize {
    (len / 1000).min(1 << 20)
}

/// Fast path: decodes and validates `Records` in one typed pass. `None` when the
/// buffer has no `Records` or any element fails to decode.
///
/// A buffer that is valid UTF-8 (checked once, in bulk) is read as `&str`, so that
/// serde_json need not re-validate every string and raw value it borrows; the result
/// is the same as from bytes. Other buffers are read as bytes.
fn fast_object(buf: &[u8]) -> Option<LogFile<'_>> {
    match simdutf8::basic::from_utf8(buf) {
        Ok(text) => fast_records(text)
            .or_else(|| fast_object_in(buf.len(), serde_json::Deserializer::from_str(text))),
        Err(_) => fast_object_in(buf.len(), serde_json::Deserializer::from_slice(buf)),
    }
}

/// The hand-written reader of [`crate::fast`], for the usual `{"Records":[...]}`.
fn fast_records(text: &str) -> Option<LogFile<'_>> {
    let mut file = LogFile {
        records: Vec::with_capacity(capacity_hint(text.len())),
        errors: Vec::new(),
    };
    let errors = &mut file.errors;
    crate::fast::records(text, &mut file.records, |index, rec| match validate(rec) {
        Ok(()) => true,
        Err((reason, message)) => {
            errors.push(RecordError {
                index,
                reason,
                message,
            });
            false
        }
    })?;
    Some(file)
}

fn fast_object_in<'a, R: serde_json::de::Read<'a>>(
    len: usize,
    mut de: serde_json::Deserializer<R>,
) -> Option<LogFile<'a>> {
    let mut file = LogFile {
        records: Vec::with_capacity(capacity_hint(len)),
        errors: Vec::new(),
    };
    let mut seen_records = false;
    let visitor = TypedEnvelope {
        file: &mut file,
        seen_records: &mut seen_records,
    };
    de::Deserializer::deserialize_map(&mut de, visitor).ok()?;
    de.end().ok()?;
    seen_records.then_some(file)
}

/// Fast path for a bare array of events (see [`fast_object`]).
fn fast_array(buf: &[u8]) -> Option<LogFile<'_>> {
    match simdutf8::basic::from_utf8(buf) {
        Ok(text) => fast_array_in(buf.len(), serde_json::Deserializer::from_str(text)),
        Err(_) => fast_array_in(buf.len(), serde_json::Deserializer::from_slice(buf)),
    }
}

fn fast_array_in<'a, R: serde_json::de::Read<'a>>(
    len: usize,
    mut de: serde_json::Deserializer<R>,
) -> Option<LogFile<'a>> {
    let mut file = LogFile {
        records: Vec::with_capacity(capacity_hint(len)),
        errors: Vec::new(),
    };
    de::Deserializer::deserialize_seq(&mut de, TypedSeq { file: &mut file }).ok()?;
    de.end().ok()?;
    Some(file)
}

fn parse_object(buf: &[u8]) -> Result<LogFile<'_>, LogError> {
    if let Some(file) = fast_object(buf) {
        return Ok(file);
    }
    // Slow path: keep every element raw, so bad ones can be isolated.
    let mut raws = Vec::new();
    let mut de = serde_json::Deserializer::from_slice(buf);
    let mut seen_records = false;
    let outcome = de::Deserializer::deserialize_map(
        &mut de,
        EnvelopeVisitor {
            raws: &mut raws,
            seen_records: &mut seen_records,
        },
    );
    if seen_records {
        let mut file = decode_raws(&raws);
        finish(&mut file, raws.len(), outcome, &mut de);
        return Ok(file);
    }
    parse_lines(buf)
}

fn parse_array(buf: &[u8]) -> LogFile<'_> {
    if let Some(file) = fast_array(buf) {
        return file;
    }
    let mut raws = Vec::new();
    let mut de = serde_json::Deserializer::from_slice(buf);
    let outcome = de::Deserializer::deserialize_seq(&mut de, RawSeqVisitor { raws: &mut raws });
    let mut file = decode_raws(&raws);
    finish(&mut file, raws.len(), outcome, &mut de);
    file
}

/// Reports how the slow path ended: cut short inside the records (the rest is
/// lost), or trailing data after a complete log (nothing lost, still reported).
fn finish<'a>(
    file: &mut LogFile<'a>,
    read: usize,
    outcome: Result<(), serde_json::Error>,
    de: &mut serde_json::Deserializer<serde_json::de::SliceRead<'a>>,
) {
    let message = match outcome {
        Err(e) => format!("log unreadable from this record on: {e}"),
        Ok(()) => match de.end() {
            Ok(()) => return,
            Err(e) => format!("trailing data after the log: {e}"),
        },
    };
    file.errors.push(RecordError {
        index: read,
        reason: BadRecordReason::InvalidJson,
        message,
    });
}

/// JSON lines: every non-blank line is one event.
fn parse_lines(buf: &[u8]) -> Result<LogFile<'_>, LogError> {
    let mut file = LogFile::default();
    let mut index = 0;
    let mut objects = 0usize;
    for line in buf.split(|&b| b == b'\n') {
        let line = trim_ascii(line);
        if line.is_empty() {
            continue;
        }
        if line.first() == Some(&b'{') {
            objects += 1;
        }
        match serde_json::from_slice::<&RawValue>(line) {
            Ok(raw) => decode_one(index, raw, &mut file),
            Err(e) => file.errors.push(RecordError {
                index,
                reason: BadRecordReason::InvalidJson,
                message: e.to_string(),
            }),
        }
        index += 1;
    }
    if objects == 0 {
        return Err(LogError::NotCloudTrail(
            "neither {\"Records\":[...]} nor JSON lines of events".to_owned(),
        ));
    }
    if file.records.is_empty() && index == 1 {
        // One object that is no event and has no Records: say what it is.
        if let Some(err) = file.errors.pop() {
            return Err(LogError::NotCloudTrail(format!(
                "a single object without \"Records\" that is no event ({})",
                err.message
            )));
        }
    }
    Ok(file)
}

fn trim_ascii(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if first.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = s {
        if last.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    s
}

fn decode_raws<'a>(raws: &[&'a RawValue]) -> LogFile<'a> {
    let mut file = LogFile::default();
    for (index, raw) in raws.iter().enumerate() {
        decode_one(index, raw, &mut file);
    }
    file
}

fn decode_one<'a>(index: usize, raw: &'a RawValue, file: &mut LogFile<'a>) {
    let text = raw.get();
    if !text.starts_with('{') {
        file.errors.push(RecordError {
            index,
            reason: BadRecordReason::NotAnObject,
            message: format!("a JSON {}, not an object", json_kind(text)),
        });
        return;
    }
    match serde_json::from_str::<Record<'a>>(text) {
        Ok(rec) => push_validated(index, rec, file),
        Err(e) => file.errors.push(RecordError {
            index,
            reason: if e.is_data() {
                BadRecordReason::BadFieldType
            } else {
                BadRecordReason::InvalidJson
            },
            message: e.to_string(),
        }),
    }
}

fn json_kind(text: &str) -> &'static str {
    match text.as_bytes().first() {
        Some(b'[') => "array",
        Some(b'"') => "string",
        Some(b't' | b'f') => "boolean",
        Some(b'n') => "null",
        _ => "number",
    }
}

fn push_validated<'a>(index: usize, rec: Record<'a>, file: &mut LogFile<'a>) {
    match validate(&rec) {
        Ok(()) => file.records.push(rec),
        Err((reason, message)) => file.errors.push(RecordError {
            index,
            reason,
            message,
        }),
    }
}

fn validate(rec: &Record<'_>) -> Result<(), (BadRecordReason, String)> {
    let missing = |field: &'static str| {
        (
            BadRecordReason::MissingField(field),
            format!("{field} is missing, null, empty or not a string"),
        )
    };
    if rec.event_name.is_empty() {
        return Err(missing(EVENT_NAME));
    }
    if rec.event_source.is_empty() {
        return Err(missing(EVENT_SOURCE));
    }
    if rec.event_time.is_empty() {
        return Err(missing(EVENT_TIME));
    }
    if !is_event_time(&rec.event_time) {
        let shown: String = rec.event_time.chars().take(40).collect();
        return Err((
            BadRecordReason::BadEventTime,
            format!("eventTime {shown:?} is not a timestamp"),
        ));
    }
    Ok(())
}

/// Reads the top-level object, decoding the elements of `Records` as it goes.
struct TypedEnvelope<'v, 'a> {
    file: &'v mut LogFile<'a>,
    seen_records: &'v mut bool,
}

impl<'de: 'a, 'a> Visitor<'de> for TypedEnvelope<'_, 'a> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object with a Records array")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if key == "Records" && !*self.seen_records {
                *self.seen_records = true;
                map.next_value_seed(TypedSeq {
                    file: &mut *self.file,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// Decodes an array of records, validating each as it is read.
struct TypedSeq<'v, 'a> {
    file: &'v mut LogFile<'a>,
}

impl<'de: 'a, 'a> DeserializeSeed<'de> for TypedSeq<'_, 'a> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de: 'a, 'a> Visitor<'de> for TypedSeq<'_, 'a> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        while let Some(rec) = seq.next_element::<Record<'de>>()? {
            push_validated(index, rec, self.file);
            index += 1;
        }
        Ok(())
    }
}

/// Reads the top-level object, keeping the elements of `Records` raw; elements read
/// before an error stay in `raws`.
struct EnvelopeVisitor<'v, 'a> {
    raws: &'v mut Vec<&'a RawValue>,
    seen_records: &'v mut bool,
}

impl<'de: 'a, 'a> Visitor<'de> for EnvelopeVisitor<'_, 'a> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object with a Records array")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if key == "Records" && !*self.seen_records {
                *self.seen_records = true;
                map.next_value_seed(RawSeqSeed { raws: self.raws })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

struct RawSeqSeed<'v, 'a> {
    raws: &'v mut Vec<&'a RawValue>,
}

impl<'de: 'a, 'a> DeserializeSeed<'de> for RawSeqSeed<'_, 'a> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(RawSeqVisitor { raws: self.raws })
    }
}

struct RawSeqVisitor<'v, 'a> {
    raws: &'v mut Vec<&'a RawValue>,
}

impl<'de: 'a, 'a> Visitor<'de> for RawSeqVisitor<'_, 'a> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(raw) = seq.next_element::<&'de RawValue>()? {
            self.raws.push(raw);
        }
        Ok(())
    }
}

/// What an S3 key under a CloudTrail bucket holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyKind {
    /// A log file.
    Log(LogKey),
    /// A digest file (`CloudTrail-Digest`).
    Digest,
    /// An Insights file (`CloudTrail-Insight`).
    Insights,
    /// Anything else.
    Other,
}

/// What a log file's key says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogKey {
    /// The account whose events the file holds.
    pub account_id: String,
    /// The region the events come from.
    pub region: String,
    /// The delivery time from the file name, to the minute.
    pub delivered_ms: EpochMillis,
    /// The organization id, for organization trails.
    pub org_id: Option<String>,
}

/// Classifies an S3 key (or a bare file name):
/// `[prefix/]AWSLogs/[o-xxx/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHMMZ_RANDOM.json.gz`
/// is a [`KeyKind::Log`]; so is a bare file name of that form. Keys with a
/// `CloudTrail-Digest` or `CloudTrail-Insight` segment or file-name part are digests
/// and Insights files. The file name is what counts; the path only adds the org id.
pub fn classify_key(key: &str) -> KeyKind {
    let (dir, name) = key.rsplit_once('/').unwrap_or(("", key));
    if name.contains("_CloudTrail-Digest_") || dir.split('/').any(|s| s == "CloudTrail-Digest") {
        return KeyKind::Digest;
    }
    if name.contains("_CloudTrail-Insight_") || dir.split('/').any(|s| s == "CloudTrail-Insight") {
        return KeyKind::Insights;
    }
    match parse_log_name(name) {
        Some(mut log) => {
            log.org_id = org_id(dir);
            KeyKind::Log(log)
        }
        None => KeyKind::Other,
    }
}

/// `ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHMMZ_RANDOM.json[.gz]`
fn parse_log_name(name: &str) -> Option<LogKey> {
    let stem = name
        .strip_suffix(".json.gz")
        .or_else(|| name.strip_suffix(".json"))?;
    let mut parts = stem.split('_');
    let account = parts.next()?;
    if parts.next()? != "CloudTrail" {
        return None;
    }
    let region = parts.next()?;
    let stamp = parts.next()?;
    let random = parts.next()?;
    if parts.next().is_some()
        || account.is_empty()
        || account.len() > 12
        || !account.bytes().all(|b| b.is_ascii_digit())
        || region.is_empty()
        || !region
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        || random.is_empty()
    {
        return None;
    }
    Some(LogKey {
        account_id: account.to_owned(),
        region: region.to_owned(),
        delivered_ms: parse_stamp(stamp)?,
        org_id: None,
    })
}

/// `YYYYMMDDTHHMMZ` to epoch milliseconds.
fn parse_stamp(s: &str) -> Option<EpochMillis> {
    let b = s.as_bytes();
    if b.len() != 14 || b.get(8) != Some(&b'T') || b.get(13) != Some(&b'Z') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let d = b.get(r)?;
        d.iter().try_fold(0i64, |v, &c| {
            c.is_ascii_digit().then(|| v * 10 + i64::from(c - b'0'))
        })
    };
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi) = (num(9..11)?, num(11..13)?);
    utc_millis(y, mo, d, h, mi, 0)
}

/// The `o-xxxxxxxxxx` segment right after `AWSLogs`, if any.
fn org_id(dir: &str) -> Option<String> {
    let mut segs = dir.split('/');
    segs.find(|s| *s == "AWSLogs")?;
    let next = segs.next()?;
    let id = next.strip_prefix("o-")?;
    (!id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric())).then(|| next.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const GOOD: &str = r#"{"eventTime":"2023-07-10T11:45:02Z","eventSource":"s3.amazonaws.com","eventName":"GetObject"}"#;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    fn reasons(file: &LogFile<'_>) -> Vec<(usize, &'static str)> {
        file.errors
            .iter()
            .map(|e| (e.index, e.reason.as_str()))
            .collect()
    }

    #[test]
    fn fast_path_keeps_order_and_borrows() {
        let buf = format!(
            r#"{{"Records":[{GOOD},{}]}}"#,
            GOOD.replace("GetObject", "PutObject")
        );
        let file = parse_log(buf.as_bytes()).unwrap();
        assert!(file.errors.is_empty());
        let names: Vec<&str> = file.records.iter().map(|r| &*r.event_name).collect();
        assert_eq!(names, ["GetObject", "PutObject"]);
        assert!(matches!(file.records[0].event_name, Cow::Borrowed(_)));
        assert_eq!(file.records[0].event_time_ms(), Some(1_688_989_502_000));
    }

    #[test]
    fn fast_path_validates_and_leaves_undecodable_elements_to_the_fallback() {
        let buf = format!(r#"{{"Records":[{GOOD},{{"eventName":"x"}}]}}"#);
        let fast = fast_object(buf.as_bytes()).unwrap();
        assert_eq!(fast.records.len(), 1);
        assert_eq!(reasons(&fast), [(1, "missing_event_source")]);
        let buf = format!(r#"{{"Records":[{GOOD},7]}}"#);
        assert!(fast_object(buf.as_bytes()).is_none());
        assert!(fast_object(br#"{"digest":1}"#).is_none());
        let buf = format!("[{GOOD}]");
        assert_eq!(fast_array(buf.as_bytes()).unwrap().records.len(), 1);
    }

    #[test]
    fn one_bad_record_never_loses_the_others() {
        let buf = format!(
            r#"{{"Records":[{GOOD},42,{{"eventSource":"a","eventTime":"2023-07-10T11:45:02Z"}},{GOOD},{{"eventName":"x","eventTime":"2023-07-10T11:45:02Z"}},{{"eventName":"x","eventSource":"a"}},{{"eventName":"x","eventSource":"a","eventTime":"yesterday"}},{{"eventName":"x","eventSource":"a","eventTime":"2023-07-10T11:45:02Z","userIdentity":"root"}},[1],{GOOD}]}}"#
        );
        let file = parse_log(buf.as_bytes()).unwrap();
        assert_eq!(file.records.len(), 3);
        assert_eq!(
            reasons(&file),
            [
                (1, "not_an_object"),
                (2, "missing_event_name"),
                (4, "missing_event_source"),
                (5, "missing_event_time"),
                (6, "bad_event_time"),
                (7, "bad_field_type"),
                (8, "not_an_object"),
            ]
        );
        assert_eq!(
            file.error_counts(),
            [
                ("bad_event_time", 1),
                ("bad_field_type", 1),
                ("missing_event_name", 1),
                ("missing_event_source", 1),
                ("missing_event_time", 1),
                ("not_an_object", 2),
            ]
        );
    }

    #[test]
    fn quirky_but_real_values_are_kept() {
        let rec = r#"{"eventVersion":"1.03","eventTime":"2025-01-21 17:49:47.000000000","eventSource":"ec2.amazonaws.com","eventName":"RunInstances","sourceIPAddress":"AWS Internal","userAgent":"[aws-cli/1.16.19 Python/2.7]","readOnly":"true","managementEvent":"false","requestParameters":null,"responseElements":"odd","resources":null,"recipientAccountId":12345678901,"userIdentity":{"type":"IAMUser","accountid":"12345678901","principalid":"AIDA","accesKeyId":"AKIAX","invokedBy":null}}"#;
        let file = parse_log(rec.as_bytes()).unwrap();
        assert_eq!(file.errors, vec![]);
        let r = &file.records[0];
        assert_eq!(r.source_ip_address.as_deref(), Some("AWS Internal"));
        assert_eq!(
            r.user_agent.as_deref(),
            Some("[aws-cli/1.16.19 Python/2.7]")
        );
        assert_eq!((r.read_only, r.management_event), (Some(true), Some(false)));
        assert!(r.request_parameters.is_none());
        assert_eq!(r.response_elements.map(|v| v.get()), Some(r#""odd""#));
        assert!(r.resources.is_none());
        assert_eq!(r.recipient_account_id.as_deref(), Some("12345678901"));
        let ui = r.user_identity.as_ref().unwrap();
        assert_eq!(ui.account_id.as_deref(), Some("12345678901"));
        assert_eq!(ui.access_key_id.as_deref(), Some("AKIAX"));
        assert_eq!(ui.invoked_by, None);
        assert_eq!(r.model_id(), None);
    }

    #[test]
    fn model_id_and_request_params() {
        let line = |params: &str| {
            format!(
                r#"{{"eventTime":"2023-07-10T11:45:02Z","eventSource":"bedrock.amazonaws.com","eventName":"InvokeModel","requestParameters":{params}}}"#
            )
        };
        let model = |params: &str| {
            let buf = line(params);
            parse_log(buf.as_bytes()).unwrap().records[0]
                .model_id()
                .map(|m| m.into_owned())
        };
        assert_eq!(
            model(r#"{"modelId":"anthropic.claude-3-sonnet-20240229-v1:0"}"#).as_deref(),
            Some("anthropic.claude-3-sonnet-20240229-v1:0")
        );
        assert_eq!(
            model(r#"{"baseModelIdentifier":"amazon.titan","other":1}"#).as_deref(),
            Some("amazon.titan")
        );
        assert_eq!(
            model(r#"{"modelId":"","modelIdentifier":"meta.llama3"}"#).as_deref(),
            Some("meta.llama3")
        );
        assert_eq!(model("{}"), None);
        assert_eq!(model("null"), None);
        assert_eq!(model(r#"{"modelId":true}"#), None);
        // Numbers read as their text, like every lenient string field.
        assert_eq!(model(r#"{"modelId":7}"#).as_deref(), Some("7"));
        let buf = line(r#"{"modelId":"m","maxTokens":512}"#);
        let file = parse_log(buf.as_bytes()).unwrap();
        assert_eq!(
            file.records[0].request_param("maxTokens"),
            Some(serde_json::json!(512))
        );
        assert_eq!(file.records[0].request_param("absent"), None);
    }

    #[test]
    fn json_lines_and_bare_arrays() {
        let buf = format!("{GOOD}\n\n{{\"not\":\"an event\"}}\r\n{GOOD}\n{{broken\n");
        let file = parse_log(buf.as_bytes()).unwrap();
        assert_eq!(file.records.len(), 2);
        assert_eq!(
            reasons(&file),
            [(1, "missing_event_name"), (3, "invalid_json")]
        );
        let buf = format!("[{GOOD}, 1, {GOOD}]");
        let file = parse_log(buf.as_bytes()).unwrap();
        assert_eq!(file.records.len(), 2);
        assert_eq!(reasons(&file), [(1, "not_an_object")]);
    }

    #[test]
    fn truncated_file_keeps_what_came_before() {
        let buf = format!(r#"{{"Records":[{GOOD},{GOOD},{GOOD}]}}"#);
        let cut = &buf.as_bytes()[..buf.len() - 20];
        let file = parse_log(cut).unwrap();
        assert_eq!(file.records.len(), 2);
        assert_eq!(reasons(&file), [(2, "invalid_json")]);
    }

    #[test]
    fn trailing_data_is_reported_without_losing_records() {
        let buf = format!(r#"{{"Records":[{GOOD},{GOOD}]}} {{"#);
        let file = parse_log(buf.as_bytes()).unwrap();
        assert_eq!(file.records.len(), 2);
        assert_eq!(reasons(&file), [(2, "invalid_json")]);
        assert!(file.errors[0].message.starts_with("trailing data"));
    }

    #[test]
    fn records_key_need_not_come_first() {
        let buf = format!(r#"{{"other":[1,2],"Records":[{GOOD},"x"]}}"#);
        let file = parse_log(buf.as_bytes()).unwrap();
        assert_eq!(file.records.len(), 1);
        assert_eq!(reasons(&file), [(1, "not_an_object")]);
    }

    #[test]
    fn whole_file_errors() {
        assert!(matches!(parse_log(b""), Err(LogError::Empty)));
        assert!(matches!(parse_log(b" \n\t"), Err(LogError::Empty)));
        assert!(matches!(
            parse_log(b"hello"),
            Err(LogError::NotCloudTrail(_))
        ));
        let err = parse_log(br#"{"digestStartTime":"x"}"#).unwrap_err();
        assert!(err.to_string().contains("no event"), "{err}");
        // An empty Records array is a valid, empty log.
        let file = parse_log(br#"{"Records":[]}"#).unwrap();
        assert!(file.records.is_empty() && file.errors.is_empty());
        // A byte-order mark is tolerated.
        let buf = format!("\u{feff}{{\"Records\":[{GOOD}]}}");
        assert_eq!(parse_log(buf.as_bytes()).unwrap().records.len(), 1);
    }

    #[test]
    fn decompress_gunzips_and_bounds() {
        let plain = format!(r#"{{"Records":[{GOOD}]}}"#).into_bytes();
        let gz = gzip(&plain);
        assert_eq!(&*decompress(&gz, plain.len()).unwrap(), plain.as_slice());
        assert!(matches!(
            decompress(&gz, plain.len() - 1),
            Err(LogError::TooLarge { .. })
        ));
        assert!(matches!(
            decompress(&plain, plain.len()).unwrap(),
            Cow::Borrowed(_)
        ));
        assert!(matches!(
            decompress(&plain, 3),
            Err(LogError::TooLarge { max_bytes: 3 })
        ));
        // Concatenated members read as one stream.
        let mut two = gzip(b"ab");
        two.extend(gzip(b"cd"));
        assert_eq!(&*decompress(&two, 10).unwrap(), b"abcd");
        // A corrupt stream is an error, not a panic.
        let mut bad = gz.clone();
        bad.truncate(gz.len() / 2);
        assert!(matches!(decompress(&bad, 1 << 20), Err(LogError::Gzip(_))));
        // A gzip bomb stops at the bound.
        let bomb = gzip(&vec![b' '; 2 << 20]);
        // Small enough to pass any input-size check, too big once inflated.
        assert!(bomb.len() < 256 << 10);
        assert!(matches!(
            decompress(&bomb, 256 << 10),
            Err(LogError::TooLarge { .. })
        ));
    }

    #[test]
    fn decompress_into_reuses_its_buffer_and_matches_decompress() {
        let long = format!(r#"{{"Records":[{GOOD},{GOOD}]}}"#).into_bytes();
        let short = br#"{"Records":[]}"#.to_vec();
        let mut two = gzip(b"ab");
        two.extend(gzip(b"cd"));
        let mut scratch = Vec::new();
        // Long, then short (the buffer keeps the long one's tail), then two members
        // (the general path), then long again.
        for input in [gzip(&long), gzip(&short), two, gzip(&long), short.clone()] {
            let want = decompress(&input, 1 << 20).unwrap().into_owned();
            let got = decompress_into(&input, 1 << 20, &mut scratch).unwrap();
            assert_eq!(got, want.as_slice());
        }
        assert!(matches!(
            decompress_into(&gzip(&long), long.len() - 1, &mut scratch),
            Err(LogError::TooLarge { .. })
        ));
        let mut bad = gzip(&long);
        bad.truncate(bad.len() / 2);
        assert!(matches!(
            decompress_into(&bad, 1 << 20, &mut scratch),
            Err(LogError::Gzip(_))
        ));
    }

    /// The fast path into a fresh buffer: the output, or `None`.
    fn single(bytes: &[u8], max_bytes: usize) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        let n = gunzip_single_member(bytes, max_bytes, &mut out)?;
        out.truncate(n);
        Some(out)
    }

    #[test]
    fn single_member_fast_path_checks_what_the_general_reader_checks() {
        let plain = format!(r#"{{"Records":[{GOOD},{GOOD}]}}"#).into_bytes();
        // Header fields the fast path skips: name, comment, extra.
        let mut enc = flate2::GzBuilder::new()
            .filename("x.json")
            .comment("c")
            .extra(vec![1, 2, 3])
            .write(Vec::new(), flate2::Compression::default());
        enc.write_all(&plain).unwrap();
        let gz = enc.finish().unwrap();
        assert!(single(&gz, 1 << 20).is_some());
        assert_eq!(&*decompress(&gz, 1 << 20).unwrap(), plain.as_slice());
        // A wrong CRC or length is the general reader's error.
        let n = gz.len();
        for at in [n - 8, n - 1] {
            let mut bad = gz.clone();
            bad[at] ^= 1;
            assert!(single(&bad, 1 << 20).is_none());
            assert!(matches!(decompress(&bad, 1 << 20), Err(LogError::Gzip(_))));
        }
        // A trailer that understates the size: the general reader gets it right.
        let mut big = Vec::new();
        for _ in 0..2000 {
            big.extend_from_slice(GOOD.as_bytes());
        }
        let mut gz = gzip(&big);
        let at = gz.len() - 4;
        gz[at..].copy_from_slice(&10u32.to_le_bytes());
        assert!(single(&gz, 1 << 24).is_none());
        assert!(matches!(decompress(&gz, 1 << 24), Err(LogError::Gzip(_))));
        let gz = gzip(&big);
        assert_eq!(single(&gz, 1 << 24).as_deref(), Some(big.as_slice()));
        // Bytes after the member: the general reader decides.
        let mut trailing = gzip(b"ab");
        trailing.extend_from_slice(&[0, 0]);
        assert!(single(&trailing, 1 << 20).is_none());
        // Two identical members: libdeflate would stop after the first, whose trailer
        // is also the input's last 8 bytes; the earlier copy of the length catches it.
        let one = gzip(plain.as_slice());
        let mut two = one.clone();
        two.extend_from_slice(&one);
        assert!(single(&two, 1 << 20).is_none());
        let mut both = plain.clone();
        both.extend_from_slice(&plain);
        assert_eq!(&*decompress(&two, 1 << 20).unwrap(), both.as_slice());
        // Garbage after the member that ends with a copy of the member's trailer.
        let mut forged = one.clone();
        forged.extend_from_slice(b"garbage!");
        forged.extend_from_slice(&one[one.len() - 8..]);
        assert!(single(&forged, 1 << 20).is_none());
        assert!(matches!(
            decompress(&forged, 1 << 20),
            Err(LogError::Gzip(_))
        ));
        // The bound holds before anything is inflated.
        assert!(single(&one, plain.len() - 1).is_none());
        assert!(single(&one, plain.len()).is_some());
    }

    #[test]
    fn classifies_keys() {
        let log = |key: &str| match classify_key(key) {
            KeyKind::Log(k) => k,
            other => panic!("{key}: {other:?}"),
        };
        let k = log(
            "AWSLogs/111122223333/CloudTrail/us-east-1/2023/07/10/111122223333_CloudTrail_us-east-1_20230710T1145Z_7xgocspSowgK0Gto.json.gz",
        );
        assert_eq!(k.account_id, "111122223333");
        assert_eq!(k.region, "us-east-1");
        assert_eq!(k.delivered_ms, 1_688_989_500_000);
        assert_eq!(k.org_id, None);
        let k = log(
            "trail-prefix/AWSLogs/o-exampleorg1/111122223333/CloudTrail/eu-west-1/2024/02/29/111122223333_CloudTrail_eu-west-1_20240229T2355Z_abc.json.gz",
        );
        assert_eq!(k.org_id.as_deref(), Some("o-exampleorg1"));
        assert_eq!(k.region, "eu-west-1");
        // Bare file names, as in the real-data folder.
        let k = log("218007301253_CloudTrail_us-east-1_20230710T1145Z_s7dpHbl38neqZbm2.json.gz");
        assert_eq!(k.account_id, "218007301253");
        assert_eq!(
            classify_key(
                "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2023/07/10/111122223333_CloudTrail-Digest_us-east-1_trail_us-east-1_20230710T114502Z.json.gz"
            ),
            KeyKind::Digest
        );
        assert_eq!(
            classify_key(
                "AWSLogs/111122223333/CloudTrail-Insight/us-east-1/2023/07/10/111122223333_CloudTrail-Insight_us-east-1_20230710T1145Z_abc.json.gz"
            ),
            KeyKind::Insights
        );
        for other in [
            "",
            "/",
            "AWSLogs/111122223333/CloudTrail/us-east-1/2023/07/10/",
            "aws.impact.bedrock-invoke-model.records.json.gz",
            "111122223333_CloudTrail_us-east-1_20231310T1145Z_abc.json.gz",
            "111122223333_CloudTrail_us-east-1_20230230T1145Z_abc.json.gz",
            "111122223333_CloudTrail_us-east-1_20230710T2445Z_abc.json.gz",
            "111122223333_CloudTrail_us-east-1_20230710T1160Z_abc.json.gz",
            "111122223333_CloudTrail_us-east-1_20230710T1145_abc.json.gz",
            "1111x2223333_CloudTrail_us-east-1_20230710T1145Z_abc.json.gz",
            "111122223333_CloudTrail_us-east-1_20230710T1145Z_abc.txt",
            "AWSLogs/111122223333/elasticloadbalancing/us-east-1/x.log.gz",
        ] {
            assert_eq!(classify_key(other), KeyKind::Other, "{other}");
        }
    }
}

#[cfg(test)]
pub(crate) mod fast_tests {
    use super::*;

    /// The hand-written reader either gives up or gives exactly what serde gives.
    pub(crate) fn same_as_serde(buf: &[u8]) -> bool {
        let Ok(text) = std::str::from_utf8(buf) else {
            return false;
        };
        let Some(fast) = fast_records(text) else {
            return false;
        };
        let serde = fast_object_in(buf.len(), serde_json::Deserializer::from_str(text))
            .unwrap_or_else(|| panic!("hand reader accepted what serde rejects"));
        assert_eq!(
            format!("{:?}", fast.records),
            format!("{:?}", serde.records)
        );
        assert_eq!(fast.errors, serde.errors);
        true
    }

    /// A `Records` file of `records`, each completed with the required fields.
    fn file_of(records: &[&str]) -> String {
        let full: Vec<String> = records
            .iter()
            .map(|r| {
                let sep = if r.trim() == "{}" { "" } else { "," };
                format!(
                    r#"{{"eventTime":"2023-07-10T11:45:02Z","eventSource":"s","eventName":"n"{sep}{}"#,
                    &r.trim()[1..]
                )
            })
            .collect();
        format!(r#"{{"Records":[{}]}}"#, full.join(","))
    }

    /// The edges the hand-written reader decodes itself, each checked against serde.
    #[test]
    fn hand_reader_takes_and_matches_the_edges() {
        let nested = format!(
            r#"{{"requestParameters":{}1{}}}"#,
            r#"{"a":["#.repeat(30),
            "]}".repeat(30)
        );
        let too_deep = format!(
            r#"{{"requestParameters":{}1{}}}"#,
            "[".repeat(80),
            "]".repeat(80)
        );
        let taken = [
            // Escapes in values: decoded, owned.
            r#"{"userAgent":"a\"b\\c\/d\b\f\n\r\t"}"#,
            r#"{"userAgent":"\u0041\u00e9\u20ac"}"#,
            // A surrogate pair, and raw UTF-8 beside it.
            r#"{"errorMessage":"\ud83d\ude00 é€😀"}"#,
            // Lone surrogates inside free-form values are kept as written.
            r#"{"requestParameters":{"k":"\udc00\ud800x","\u0041":1}}"#,
            // Deep but within the reader's depth.
            &nested,
            // Numbers wherever free-form values allow them.
            r#"{"responseElements":[0,-0,1.5,-2e10,3E+2,4.0e-3,123456789012345678901234567890]}"#,
            r#"{"additionalEventData":-1.25,"serviceEventDetails":7,"unknown":[1e1,{"x":-0}]}"#,
            // Booleans as strings and as booleans; nulls everywhere.
            r#"{"readOnly":"TRUE","managementEvent":false,"sessionCredentialFromConsole":"x"}"#,
            r#"{"userIdentity":null,"tlsDetails":null,"resources":null,"requestParameters":null}"#,
            // Every spelling of userIdentity keys, first filled wins.
            r#"{"userIdentity":{"accountid":"1","accountId":"","accesKeyId":"AK","accesskeyid":"AL","username":"u","sessioncontext":{"attributes":{"mfaauthenticated":"true"}}}}"#,
            r#"{"userIdentity":{"sessionContext":null,"sessioncontext":{"sessionissuer":{"arn":"r"}}}}"#,
            r#"{"resources":[{"ARN":"a","accountId":"1","type":"t"},{"arn":"b","x":[{}]}]}"#,
            "{}",
        ];
        for record in taken {
            let buf = file_of(&[record]);
            assert!(same_as_serde(buf.as_bytes()), "gave up on {buf}");
        }
        // Whitespace: compact, Python's `", "`/`": "`, and pretty-printed (which has
        // control characters between tokens, so strings are scanned for them too).
        let compact = file_of(&taken);
        let spaced = compact.replace("\",\"", "\", \"").replace("\":", "\": ");
        // (serde_json::Value cannot hold the lone surrogates.)
        let decodable: Vec<&str> = taken
            .iter()
            .copied()
            .filter(|r| !r.contains("udc00"))
            .collect();
        let value: serde_json::Value = serde_json::from_str(&file_of(&decodable)).unwrap();
        let pretty = serde_json::to_string_pretty(&value).unwrap();
        for buf in [&compact, &spaced, &pretty, &format!(" {pretty}\n\n")] {
            assert!(same_as_serde(buf.as_bytes()), "gave up on {buf}");
        }
        // What it leaves to serde: numbers in string fields, escaped keys, lone
        // surrogates in decoded strings, values nested past its depth, duplicates.
        for record in [
            r#"{"recipientAccountId":123456789012}"#,
            r#"{"eventVersion":1.08}"#,
            r#"{"event\u0056ersion":"1.08"}"#,
            r#"{"userAgent":"\ud800"}"#,
            &too_deep,
            r#"{"awsRegion":"a","awsRegion":"b"}"#,
            r#"{"userIdentity":{"sessionContext":{"sessionIssuer":{},"sessionissuer":{}}}}"#,
            "{\"userAgent\":\"tab\tin a string\"}",
        ] {
            let buf = file_of(&[record]);
            assert!(!same_as_serde(buf.as_bytes()), "took {buf}");
        }
        // ... and serde decodes them as before.
        let number = file_of(&[r#"{"recipientAccountId":123456789012}"#]);
        let file = parse_log(number.as_bytes()).unwrap();
        assert_eq!(
            file.records[0].recipient_account_id.as_deref(),
            Some("123456789012")
        );
        let deep = file_of(&[&too_deep]);
        let file = parse_log(deep.as_bytes()).unwrap();
        assert_eq!(file.records.len(), 1);
        assert!(file.records[0].request_parameters.is_some());
    }

    #[test]
    fn hand_reader_matches_serde_on_real_files() {
        let mut taken = Vec::new();
        for dir in [
            "invictus-ir_aws_dataset",
            "stratus-red-team_detonation-logs",
            "otrf_security-datasets_aws",
        ] {
            let path = crate::tests::real_data_dir().join(dir);
            for e in std::fs::read_dir(path).unwrap() {
                let name = e.unwrap().file_name().to_string_lossy().into_owned();
                if !name.ends_with(".gz") {
                    continue;
                }
                let buf = crate::tests::read_real(&format!("{dir}/{name}"));
                taken.push((same_as_serde(&buf), name));
            }
        }
        let missed: Vec<_> = taken.iter().filter(|t| !t.0).map(|t| &t.1).collect();
        // Every real Records file is the usual shape: none may fall back to serde.
        assert!(missed.is_empty(), "hand reader gave up on {missed:?}");
        assert_eq!(taken.len(), 91);
    }

    /// [`hand_reader_matches_serde_on_real_files`] over every `*.json.gz` under
    /// `CLOUDTRAIL_BENCH_DIR` (e.g. a `bedguard bench` corpus): the hand reader takes
    /// each file and gives exactly what serde gives.
    #[test]
    #[ignore = "needs CLOUDTRAIL_BENCH_DIR"]
    fn hand_reader_matches_serde_on_bench_dir() {
        let dir = std::env::var_os("CLOUDTRAIL_BENCH_DIR").expect("CLOUDTRAIL_BENCH_DIR");
        let mut dirs = vec![std::path::PathBuf::from(dir)];
        let mut files = 0;
        while let Some(dir) = dirs.pop() {
            for e in std::fs::read_dir(dir).unwrap() {
                let path = e.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.to_string_lossy().ends_with(".json.gz") {
                    let gz = std::fs::read(&path).unwrap();
                    let buf = decompress(&gz, 1 << 30).unwrap();
                    assert!(same_as_serde(&buf), "hand reader gave up on {path:?}");
                    files += 1;
                }
            }
        }
        assert!(files > 0);
        println!("{files} files: hand reader = serde");
    }
}
