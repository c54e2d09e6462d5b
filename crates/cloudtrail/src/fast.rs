//! The hot path of [`crate::log::parse_log`]: a hand-written reader for the shape
//! CloudTrail actually writes (`{"Records":[{...},...]}`, string and boolean fields,
//! the known nested objects), producing exactly the [`Record`]s the serde decoder
//! would.
//!
//! It is all or nothing: at the first thing it does not handle itself (a number
//! where a string is expected, an array where an object is, a duplicate key, an
//! escape in a key, a syntax error, another top-level key...) it gives up on the
//! whole file and the serde decoder runs instead, so every rule and every error
//! message stays the serde decoder's. What it accepts is checked as strictly as
//! serde_json checks it: the buffer is valid UTF-8 (checked by the caller), strings
//! hold no control characters and only valid escapes, numbers follow the JSON
//! grammar, and the free-form values (`requestParameters`, ..., and every unknown
//! field) are checked by [`Parser::skip_value`], which accepts exactly what
//! serde_json's `ignore_value` accepts (the parser behind `&RawValue` and unknown
//! fields), nesting aside: past [`MAX_DEPTH`] levels it gives up.
//!
//! Where the time goes, and so how it is written: records are 45 keys and 35 short
//! strings in 1.4 kB, so the per-token overhead matters more than bulk scanning.
//! Strings are scanned 16 bytes at a time for `"`, `\\` and control characters (a
//! loop the compiler turns into SIMD compares); keys are dispatched by length first;
//! nested objects are decoded in place in the record, never built then moved; strings
//! borrow from the buffer unless they hold escapes, which serde_json decodes.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::record::{
    Record, Resource, SessionAttributes, SessionContext, SessionIssuer, TlsDetails, UserIdentity,
    first_filled,
};

/// Deeper free-form values are left to serde_json (which has no limit there).
const MAX_DEPTH: u32 = 64;

/// Gives up: the serde decoder takes over.
type Fast<T> = Option<T>;

/// Decodes `{"Records":[...]}` (nothing else at top level) into `out`, each record in
/// place (records are 1 kB: moving them costs), then asks `keep` with its index
/// whether it stays. `None` means "not handled here"; `out` may then hold a prefix of
/// the records, which the caller discards.
pub(crate) fn records<'a>(
    text: &'a str,
    out: &mut Vec<Record<'a>>,
    mut keep: impl FnMut(usize, &Record<'a>) -> bool,
) -> Fast<()> {
    let mut p = Parser {
        text,
        pos: 0,
        plain: !has_control(text.trim_end_matches([' ', '\n', '\r', '\t']).as_bytes()),
    };
    p.expect(b'{')?;
    if p.key()? != b"Records" {
        return None;
    }
    p.expect(b'[')?;
    if !p.eat(b']') {
        let mut index = 0;
        loop {
            out.push(Record::default());
            let slot = out.last_mut()?;
            p.record(slot)?;
            if !keep(index, slot) {
                out.pop();
            }
            index += 1;
            if !p.eat(b',') {
                p.expect(b']')?;
                break;
            }
        }
    }
    p.expect(b'}')?;
    p.ws();
    (p.pos == text.len()).then_some(())
}

/// `"`, `\\` and the control characters: what ends the plain run of a string.
#[inline(always)]
fn is_special(c: u8) -> bool {
    c == b'"' || c == b'\\' || c < 0x20
}

/// The high bit of each byte of `v` (little-endian) that is `"`, `\\` or a control
/// character, and possibly of bytes above the first such byte (a borrow only spills
/// upwards from a true match): the lowest set bit is exact. SWAR, eight bytes in a
/// word.
#[inline(always)]
fn special_bits(v: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let quote = v ^ (ONES * u64::from(b'"'));
    let slash = v ^ (ONES * u64::from(b'\\'));
    (quote.wrapping_sub(ONES) & !quote
        | slash.wrapping_sub(ONES) & !slash
        | v.wrapping_sub(ONES * 0x20) & !v)
        & HIGH
}

/// The position of the first `"`, `\\` or control character at or after `at`, or
/// `b.len()`: eight bytes at a time, for the short strings logs are made of.
#[inline(always)]
fn find_special(b: &[u8], mut at: usize) -> usize {
    while let Some(chunk) = b.get(at..).and_then(|r| r.first_chunk::<8>()) {
        let bits = special_bits(u64::from_le_bytes(*chunk));
        if bits != 0 {
            return at + (bits.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    while let Some(&c) = b.get(at) {
        if is_special(c) {
            return at;
        }
        at += 1;
    }
    at
}

/// Whether `b` holds a control character: the minimum of each 256-byte block, a
/// branch-free loop the compiler vectorises.
fn has_control(b: &[u8]) -> bool {
    b.chunks(256)
        .any(|block| block.iter().fold(u8::MAX, |min, &x| min.min(x)) < 0x20)
}

/// [`special_bits`] for `"` and `\\` only.
#[inline(always)]
fn quote_or_escape_bits(v: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let quote = v ^ (ONES * u64::from(b'"'));
    let slash = v ^ (ONES * u64::from(b'\\'));
    (quote.wrapping_sub(ONES) & !quote | slash.wrapping_sub(ONES) & !slash) & HIGH
}

/// [`find_special`] for a buffer without control characters: `"` and `\\` only,
/// sixteen bytes (two words) a step.
#[inline(always)]
fn find_quote_or_escape(b: &[u8], mut at: usize) -> usize {
    while let Some(chunk) = b.get(at..).and_then(|r| r.first_chunk::<16>()) {
        let (lo, hi) = chunk.split_at(8);
        let lo = quote_or_escape_bits(u64::from_le_bytes(lo.try_into().unwrap_or_default()));
        let hi = quote_or_escape_bits(u64::from_le_bytes(hi.try_into().unwrap_or_default()));
        if lo | hi != 0 {
            return at
                + if lo != 0 {
                    (lo.trailing_zeros() / 8) as usize
                } else {
                    8 + (hi.trailing_zeros() / 8) as usize
                };
        }
        at += 16;
    }
    find_special(b, at)
}

/// From just after a string's opening quote: the position of its closing quote and
/// whether it holds escapes. Checked as serde_json checks a string it skips: no
/// control characters, escapes among `\" \\ \/ \b \f \n \r \t \uXXXX` (any four hex
/// digits: surrogates are checked only when a string is decoded).
#[inline(always)]
fn string_end(b: &[u8], from: usize, plain: bool) -> Fast<(usize, bool)> {
    let find = |b, at| {
        if plain {
            find_quote_or_escape(b, at)
        } else {
            find_special(b, at)
        }
    };
    let mut at = find(b, from);
    if b.get(at) == Some(&b'"') {
        return Some((at, false));
    }
    loop {
        match *b.get(at)? {
            b'"' => return Some((at, true)),
            b'\\' => {
                at = match *b.get(at + 1)? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => at + 2,
                    b'u' if b.get(at + 2..at + 6)?.iter().all(u8::is_ascii_hexdigit) => at + 6,
                    _ => return None,
                };
            }
            _ => return None,
        }
        at = find(b, at);
    }
}

/// `text` (one JSON value, already checked by [`Parser::skip_value`]) as a
/// `&RawValue`, without parsing it again: serde_json's own `Deserialize` for
/// `&RawValue` reads a one-entry map keyed by its private token, here fed from
/// serde's value deserializers. Should serde_json change that protocol, this returns
/// `None`, the fast path gives up, and the tests that require the fast path on real
/// files fail.
fn raw_value(text: &str) -> Fast<&RawValue> {
    use serde::de::value::{BorrowedStrDeserializer, Error, MapDeserializer};
    const TOKEN: &str = "$serde_json::private::RawValue";
    let entry = (
        BorrowedStrDeserializer::<Error>::new(TOKEN),
        BorrowedStrDeserializer::<Error>::new(text),
    );
    <&RawValue>::deserialize(MapDeserializer::new(std::iter::once(entry))).ok()
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
    /// No control character before the trailing whitespace: strings cannot hold
    /// one, so their ends are found by looking for `"` and `\\` alone.
    plain: bool,
}

/// A set of struct fields seen so far: a second sighting is a serde duplicate-field
/// error, so the fast path gives up.
#[derive(Default)]
struct Seen(u64);

impl Seen {
    #[inline(always)]
    fn first(&mut self, bit: u32) -> Fast<()> {
        let mask = 1u64 << bit;
        if self.0 & mask != 0 {
            return None;
        }
        self.0 |= mask;
        Some(())
    }
}

/// `userIdentity` key spellings other than the canonical one, kept apart until the
/// object ends and then merged as [`crate::record::RawUserIdentity`] merges them.
#[derive(Default)]
struct OtherSpellings<'a> {
    any: bool,
    principal_id: Option<Cow<'a, str>>,
    account_id: Option<Cow<'a, str>>,
    access_key_id_typo: Option<Cow<'a, str>>,
    access_key_id: Option<Cow<'a, str>>,
    user_name: Option<Cow<'a, str>>,
    invoked_by: Option<Cow<'a, str>>,
    session_context: Option<SessionContext<'a>>,
}

impl<'a> OtherSpellings<'a> {
    fn merge_into(self, u: &mut UserIdentity<'a>) {
        u.principal_id = first_filled([u.principal_id.take(), self.principal_id]);
        u.account_id = first_filled([u.account_id.take(), self.account_id]);
        u.access_key_id = first_filled([
            u.access_key_id.take(),
            self.access_key_id_typo,
            self.access_key_id,
        ]);
        u.user_name = first_filled([u.user_name.take(), self.user_name]);
        u.invoked_by = first_filled([u.invoked_by.take(), self.invoked_by]);
        if u.session_context.is_none() {
            u.session_context = self.session_context;
        }
    }
}

impl<'a> Parser<'a> {
    #[inline(always)]
    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    /// Skips JSON whitespace (what serde_json skips: no form feeds, no Unicode).
    #[inline(always)]
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.bytes().get(self.pos) {
            self.pos += 1;
        }
    }

    /// The next non-whitespace byte, not consumed.
    #[inline(always)]
    fn peek(&mut self) -> Fast<u8> {
        let c = *self.bytes().get(self.pos)?;
        if c > b' ' {
            return Some(c);
        }
        self.peek_after_ws()
    }

    /// [`Self::peek`] at whitespace (rare: CloudTrail writes compact JSON).
    #[inline(never)]
    fn peek_after_ws(&mut self) -> Fast<u8> {
        self.ws();
        self.bytes().get(self.pos).copied()
    }

    #[inline(always)]
    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    #[inline(always)]
    fn expect(&mut self, b: u8) -> Fast<()> {
        self.eat(b).then_some(())
    }

    /// A literal (`null`, `true`, `false`) at the current position.
    #[inline(always)]
    fn literal(&mut self, word: &[u8]) -> Fast<()> {
        if !self.bytes().get(self.pos..)?.starts_with(word) {
            return None;
        }
        // serde_json reads `nullx` as `null` then fails on `x`; so do we, later.
        self.pos += word.len();
        Some(())
    }

    /// A string at the current position (after whitespace): its content, borrowed
    /// when it holds no escape, decoded by serde_json when it does.
    #[inline(always)]
    fn string(&mut self) -> Fast<Cow<'a, str>> {
        self.expect(b'"')?;
        self.string_body()
    }

    /// [`Self::string`] after its opening quote.
    #[inline(always)]
    fn string_body(&mut self) -> Fast<Cow<'a, str>> {
        let start = self.pos;
        let (end, escaped) = string_end(self.bytes(), start, self.plain)?;
        self.pos = end + 1;
        if !escaped {
            return self.text.get(start..end).map(Cow::Borrowed);
        }
        let quoted = self.text.get(start - 1..end + 1)?;
        serde_json::from_str::<String>(quoted).ok().map(Cow::Owned)
    }

    /// An object key without escapes, and its colon.
    #[inline(always)]
    fn key(&mut self) -> Fast<&'a [u8]> {
        self.expect(b'"')?;
        let start = self.pos;
        let b = self.bytes();
        let end = if self.plain {
            find_quote_or_escape(b, start)
        } else {
            find_special(b, start)
        };
        if b.get(end) != Some(&b'"') {
            return None;
        }
        self.pos = end + 1;
        if b.get(self.pos) == Some(&b':') {
            self.pos += 1;
        } else {
            self.expect(b':')?;
        }
        b.get(start..end)
    }

    /// `lenient::opt_str`, for the strings and nulls real logs hold.
    #[inline(always)]
    fn opt_str(&mut self) -> Fast<Option<Cow<'a, str>>> {
        match self.peek()? {
            b'"' => {
                self.pos += 1;
                self.string_body().map(Some)
            }
            b'n' => self.literal(b"null").map(|()| None),
            _ => None,
        }
    }

    /// `lenient::str`.
    fn req_str(&mut self) -> Fast<Cow<'a, str>> {
        Some(self.opt_str()?.unwrap_or(Cow::Borrowed("")))
    }

    /// `lenient::opt_bool`, for booleans, strings without escapes and nulls.
    fn opt_bool(&mut self) -> Fast<Option<bool>> {
        match self.peek()? {
            b't' => self.literal(b"true").map(|()| Some(true)),
            b'f' => self.literal(b"false").map(|()| Some(false)),
            b'n' => self.literal(b"null").map(|()| None),
            b'"' => match self.string()? {
                Cow::Borrowed(v) if v.eq_ignore_ascii_case("true") => Some(Some(true)),
                Cow::Borrowed(v) if v.eq_ignore_ascii_case("false") => Some(Some(false)),
                Cow::Borrowed(_) => Some(None),
                Cow::Owned(_) => None,
            },
            _ => None,
        }
    }

    /// A number at the current position, by the JSON grammar as serde_json's
    /// `ignore_integer` checks it (no leading zeros, digits after `.` and `e`).
    fn number(&mut self) -> Fast<()> {
        let b = self.bytes();
        let digits = |mut at: usize| {
            while b.get(at).is_some_and(u8::is_ascii_digit) {
                at += 1;
            }
            at
        };
        let mut at = self.pos;
        if b.get(at) == Some(&b'-') {
            at += 1;
        }
        at = match *b.get(at)? {
            b'0' if b.get(at + 1).is_some_and(u8::is_ascii_digit) => return None,
            b'0' => at + 1,
            b'1'..=b'9' => digits(at + 1),
            _ => return None,
        };
        if b.get(at) == Some(&b'.') {
            let end = digits(at + 1);
            if end == at + 1 {
                return None;
            }
            at = end;
        }
        if let Some(b'e' | b'E') = b.get(at) {
            at += 1;
            if let Some(b'+' | b'-') = b.get(at) {
                at += 1;
            }
            let end = digits(at);
            if end == at {
                return None;
            }
            at = end;
        }
        self.pos = at;
        Some(())
    }

    /// A key inside a free-form object (escapes allowed, as serde_json allows them
    /// there), and its colon.
    fn skip_key(&mut self) -> Fast<()> {
        self.expect(b'"')?;
        let (end, _) = string_end(self.bytes(), self.pos, self.plain)?;
        self.pos = end + 1;
        self.expect(b':')
    }

    /// Skips one value (after whitespace), accepting exactly what serde_json's
    /// `ignore_value` accepts, up to [`MAX_DEPTH`] levels; returns where it started.
    /// Iterative, with the open containers as a bit stack (1 for an object).
    fn skip_value(&mut self) -> Fast<usize> {
        self.ws();
        let start = self.pos;
        let b = self.bytes();
        let (mut stack, mut depth) = (0u64, 0u32);
        loop {
            // A value starts here.
            match *b.get(self.pos)? {
                b'"' => {
                    let (end, _) = string_end(b, self.pos + 1, self.plain)?;
                    self.pos = end + 1;
                }
                open @ (b'{' | b'[') => {
                    if depth == MAX_DEPTH {
                        return None;
                    }
                    let object = open == b'{';
                    self.pos += 1;
                    let close = if object { b'}' } else { b']' };
                    if !self.eat(close) {
                        stack = stack << 1 | u64::from(object);
                        depth += 1;
                        if object {
                            self.skip_key()?;
                        }
                        self.ws();
                        continue;
                    }
                }
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'n' => self.literal(b"null")?,
                b'-' | b'0'..=b'9' => self.number()?,
                _ => return None,
            }
            // A value ended: close containers until one wants another value.
            loop {
                if depth == 0 {
                    return Some(start);
                }
                let object = stack & 1 == 1;
                match self.peek()? {
                    b',' => {
                        self.pos += 1;
                        if object {
                            self.skip_key()?;
                        }
                        self.ws();
                        break;
                    }
                    b'}' if object => {}
                    b']' if !object => {}
                    _ => return None,
                }
                self.pos += 1;
                stack >>= 1;
                depth -= 1;
            }
        }
    }

    /// Any value, as raw JSON.
    fn raw(&mut self) -> Fast<&'a RawValue> {
        let start = self.skip_value()?;
        raw_value(self.text.get(start..self.pos)?)
    }

    /// `Option<&RawValue>`: `null` is `None`.
    fn opt_raw(&mut self) -> Fast<Option<&'a RawValue>> {
        if self.peek()? == b'n' {
            return self.literal(b"null").map(|()| None);
        }
        self.raw().map(Some)
    }

    /// An object: each key is handed to `field`, which reads its value.
    #[inline(always)]
    fn fields(&mut self, mut field: impl FnMut(&mut Self, &'a [u8]) -> Fast<()>) -> Fast<()> {
        self.expect(b'{')?;
        if self.eat(b'}') {
            return Some(());
        }
        loop {
            let key = self.key()?;
            field(self, key)?;
            if !self.eat(b',') {
                return self.expect(b'}');
            }
        }
    }

    /// An optional nested object, decoded in place: `null` is `None`, an object is
    /// read by `field` key by key, anything else gives up.
    #[inline(always)]
    fn opt_object<T: Default>(
        &mut self,
        slot: &mut Option<T>,
        mut field: impl FnMut(&mut Self, &mut T, &'a [u8]) -> Fast<()>,
    ) -> Fast<()> {
        match self.peek()? {
            b'n' => {
                *slot = None;
                self.literal(b"null")
            }
            b'{' => {
                let out = slot.insert(T::default());
                self.fields(|p, key| field(p, out, key))
            }
            _ => None,
        }
    }

    fn record(&mut self, r: &mut Record<'a>) -> Fast<()> {
        let mut seen = Seen::default();
        self.fields(|p, key| {
            // By length first: one compare picks a handful of candidates.
            let bit = match key.len() {
                7 if key == b"eventID" => {
                    r.event_id = p.opt_str()?;
                    10
                }
                8 if key == b"readOnly" => {
                    r.read_only = p.opt_bool()?;
                    13
                }
                9 => match key {
                    b"eventTime" => {
                        r.event_time = p.req_str()?;
                        1
                    }
                    b"eventName" => {
                        r.event_name = p.req_str()?;
                        3
                    }
                    b"awsRegion" => {
                        r.aws_region = p.opt_str()?;
                        4
                    }
                    b"userAgent" => {
                        r.user_agent = p.opt_str()?;
                        6
                    }
                    b"requestID" => {
                        r.request_id = p.opt_str()?;
                        9
                    }
                    b"eventType" => {
                        r.event_type = p.opt_str()?;
                        11
                    }
                    b"errorCode" => {
                        r.error_code = p.opt_str()?;
                        7
                    }
                    b"resources" => {
                        r.resources = p.resources()?;
                        27
                    }
                    _ => return p.skip_value().map(drop),
                },
                10 => match key {
                    b"tlsDetails" => {
                        p.tls_details(&mut r.tls_details)?;
                        22
                    }
                    b"apiVersion" => {
                        r.api_version = p.opt_str()?;
                        12
                    }
                    _ => return p.skip_value().map(drop),
                },
                11 if key == b"eventSource" => {
                    r.event_source = p.req_str()?;
                    2
                }
                12 => match key {
                    b"userIdentity" => {
                        p.user_identity(&mut r.user_identity)?;
                        21
                    }
                    b"eventVersion" => {
                        r.event_version = p.opt_str()?;
                        0
                    }
                    b"errorMessage" => {
                        r.error_message = p.opt_str()?;
                        8
                    }
                    _ => return p.skip_value().map(drop),
                },
                13 => match key {
                    b"eventCategory" => {
                        r.event_category = p.opt_str()?;
                        16
                    }
                    b"sharedEventID" => {
                        r.shared_event_id = p.opt_str()?;
                        17
                    }
                    b"vpcEndpointId" => {
                        r.vpc_endpoint_id = p.opt_str()?;
                        18
                    }
                    _ => return p.skip_value().map(drop),
                },
                15 => match key {
                    b"sourceIPAddress" => {
                        r.source_ip_address = p.opt_str()?;
                        5
                    }
                    b"managementEvent" => {
                        r.management_event = p.opt_bool()?;
                        14
                    }
                    _ => return p.skip_value().map(drop),
                },
                16 if key == b"responseElements" => {
                    r.response_elements = p.opt_raw()?;
                    24
                }
                17 if key == b"requestParameters" => {
                    r.request_parameters = p.opt_raw()?;
                    23
                }
                18 if key == b"recipientAccountId" => {
                    r.recipient_account_id = p.opt_str()?;
                    15
                }
                19 => match key {
                    b"additionalEventData" => {
                        r.additional_event_data = p.opt_raw()?;
                        25
                    }
                    b"serviceEventDetails" => {
                        r.service_event_details = p.opt_raw()?;
                        26
                    }
                    _ => return p.skip_value().map(drop),
                },
                20 if key == b"vpcEndpointAccountId" => {
                    r.vpc_endpoint_account_id = p.opt_str()?;
                    19
                }
                28 if key == b"sessionCredentialFromConsole" => {
                    r.session_credential_from_console = p.opt_bool()?;
                    20
                }
                _ => return p.skip_value().map(drop),
            };
            seen.first(bit)
        })
    }

    /// `userIdentity`, decoded in place: canonical spellings straight into the
    /// record, the others aside and merged at the end (rare).
    fn user_identity(&mut self, slot: &mut Option<UserIdentity<'a>>) -> Fast<()> {
        let mut seen = Seen::default();
        let mut other = OtherSpellings::default();
        self.opt_object(slot, |p, u: &mut UserIdentity<'a>, key| {
            let bit = match key {
                b"type" => {
                    u.kind = p.opt_str()?;
                    0
                }
                b"principalId" => {
                    u.principal_id = p.opt_str()?;
                    1
                }
                b"arn" => {
                    u.arn = p.opt_str()?;
                    3
                }
                b"accountId" => {
                    u.account_id = p.opt_str()?;
                    4
                }
                b"accessKeyId" => {
                    u.access_key_id = p.opt_str()?;
                    6
                }
                b"userName" => {
                    u.user_name = p.opt_str()?;
                    9
                }
                b"sessionContext" => {
                    p.session_context(&mut u.session_context)?;
                    15
                }
                b"invokedBy" => {
                    u.invoked_by = p.opt_str()?;
                    11
                }
                b"credentialId" => {
                    u.credential_id = p.opt_str()?;
                    13
                }
                b"identityProvider" => {
                    u.identity_provider = p.opt_str()?;
                    14
                }
                _ => {
                    let bit = match key {
                        b"principalid" => {
                            other.principal_id = p.opt_str()?;
                            2
                        }
                        b"accountid" => {
                            other.account_id = p.opt_str()?;
                            5
                        }
                        b"accesKeyId" => {
                            other.access_key_id_typo = p.opt_str()?;
                            7
                        }
                        b"accesskeyid" => {
                            other.access_key_id = p.opt_str()?;
                            8
                        }
                        b"username" => {
                            other.user_name = p.opt_str()?;
                            10
                        }
                        b"invokedby" => {
                            other.invoked_by = p.opt_str()?;
                            12
                        }
                        b"sessioncontext" => {
                            p.session_context(&mut other.session_context)?;
                            16
                        }
                        _ => return p.skip_value().map(drop),
                    };
                    other.any = true;
                    bit
                }
            };
            seen.first(bit)
        })?;
        if other.any
            && let Some(u) = slot
        {
            other.merge_into(u);
        }
        Some(())
    }

    fn session_context(&mut self, slot: &mut Option<SessionContext<'a>>) -> Fast<()> {
        let mut seen = Seen::default();
        self.opt_object(slot, |p, s: &mut SessionContext<'a>, key| {
            let bit = match key {
                b"sessionIssuer" | b"sessionissuer" => {
                    p.session_issuer(&mut s.session_issuer)?;
                    1
                }
                b"webIdFederationData" => {
                    s.web_id_federation_data = p.opt_raw()?;
                    4
                }
                b"attributes" => {
                    p.session_attributes(&mut s.attributes)?;
                    0
                }
                b"ec2RoleDelivery" => {
                    s.ec2_role_delivery = p.opt_str()?;
                    2
                }
                b"sourceIdentity" => {
                    s.source_identity = p.opt_str()?;
                    3
                }
                _ => return p.skip_value().map(drop),
            };
            seen.first(bit)
        })
    }

    fn session_attributes(&mut self, slot: &mut Option<SessionAttributes<'a>>) -> Fast<()> {
        let mut seen = Seen::default();
        self.opt_object(slot, |p, a: &mut SessionAttributes<'a>, key| {
            let bit = match key {
                b"creationDate" | b"creationdate" => {
                    a.creation_date = p.opt_str()?;
                    0
                }
                b"mfaAuthenticated" | b"mfaauthenticated" => {
                    a.mfa_authenticated = p.opt_bool()?;
                    1
                }
                _ => return p.skip_value().map(drop),
            };
            seen.first(bit)
        })
    }

    fn session_issuer(&mut self, slot: &mut Option<SessionIssuer<'a>>) -> Fast<()> {
        let mut seen = Seen::default();
        self.opt_object(slot, |p, i: &mut SessionIssuer<'a>, key| {
            let bit = match key {
                b"type" => {
                    i.kind = p.opt_str()?;
                    0
                }
                b"principalId" | b"principalid" => {
                    i.principal_id = p.opt_str()?;
                    1
                }
                b"arn" => {
                    i.arn = p.opt_str()?;
                    2
                }
                b"accountId" | b"accountid" => {
                    i.account_id = p.opt_str()?;
                    3
                }
                b"userName" | b"username" => {
                    i.user_name = p.opt_str()?;
                    4
                }
                _ => return p.skip_value().map(drop),
            };
            seen.first(bit)
        })
    }

    fn tls_details(&mut self, slot: &mut Option<TlsDetails<'a>>) -> Fast<()> {
        let mut seen = Seen::default();
        self.opt_object(slot, |p, t: &mut TlsDetails<'a>, key| {
            let bit = match key {
                b"tlsVersion" => {
                    t.tls_version = p.opt_str()?;
                    0
                }
                b"cipherSuite" => {
                    t.cipher_suite = p.opt_str()?;
                    1
                }
                b"clientProvidedHostHeader" => {
                    t.client_provided_host_header = p.opt_str()?;
                    2
                }
                _ => return p.skip_value().map(drop),
            };
            seen.first(bit)
        })
    }

    fn resource(&mut self) -> Fast<Resource<'a>> {
        let mut seen = Seen::default();
        let mut r = Resource::default();
        self.fields(|p, key| {
            let bit = match key {
                b"ARN" | b"arn" => {
                    r.arn = p.opt_str()?;
                    0
                }
                b"accountId" | b"accountid" => {
                    r.account_id = p.opt_str()?;
                    1
                }
                b"type" => {
                    r.kind = p.opt_str()?;
                    2
                }
                _ => return p.skip_value().map(drop),
            };
            seen.first(bit)
        })?;
        Some(r)
    }

    /// `lenient::opt_objects` for `null` and arrays of objects.
    fn resources(&mut self) -> Fast<Option<Vec<Resource<'a>>>> {
        match self.peek()? {
            b'n' => self.literal(b"null").map(|()| None),
            b'[' => {
                self.pos += 1;
                let mut out = Vec::new();
                if self.eat(b']') {
                    return Some(Some(out));
                }
                loop {
                    if self.peek()? != b'{' {
                        return None;
                    }
                    out.push(self.resource()?);
                    if !self.eat(b',') {
                        self.expect(b']')?;
                        return Some(Some(out));
                    }
                }
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// What serde_json's `&RawValue` makes of `text`: the value and where it ends.
    fn serde_skip(text: &str) -> Option<(String, usize)> {
        let mut de = serde_json::Deserializer::from_str(text);
        let raw = <&RawValue>::deserialize(&mut de).ok()?;
        let end = raw.get().as_ptr() as usize + raw.get().len() - text.as_ptr() as usize;
        Some((raw.get().to_owned(), end))
    }

    /// The skipper's answer, which must not depend on whether the buffer is known to
    /// be free of control characters.
    fn fast_skip(text: &str) -> Option<(String, usize)> {
        let skip = |plain| {
            let mut p = Parser {
                text,
                pos: 0,
                plain,
            };
            let raw = p.raw()?;
            Some((raw.get().to_owned(), p.pos))
        };
        let general = skip(false);
        if !has_control(text.as_bytes()) {
            assert_eq!(skip(true), general, "{text:?}");
        }
        general
    }

    #[test]
    fn skipper_accepts_what_serde_accepts() {
        for text in [
            "0",
            "-0",
            "12",
            "-7",
            "1.5",
            "1e3",
            "1E+3",
            "1.25e-3",
            " \n\t\r 1 ",
            "true",
            "false",
            "null",
            r#""""#,
            r#""a\"b\\c\/d\b\f\n\r\t\u0041\uD83D\uDE00\udc00""#,
            r#""é€😀""#,
            "{}",
            "[]",
            "[ ]",
            "{ }",
            r#"{"a":1,"b":[true,false,null,{"c":"d"}],"e\u0041":{}}"#,
            r#"[1, 2 , 3 ,{ "x" : [ ] } ]"#,
            "nullx",
            "1x",
            "[1]]",
            // Not accepted, by either.
            "",
            " ",
            "01",
            "-",
            "-a",
            "1.",
            "1.e3",
            ".5",
            "1e",
            "1e+",
            "+1",
            "nul",
            "tru",
            "fals",
            "True",
            r#"""#,
            r#""\x""#,
            r#""\u12G4""#,
            r#""\u123""#,
            "\"a\u{1}b\"",
            "\"tab\there\"",
            "[",
            "[1,]",
            "[,1]",
            "[1 2]",
            "{",
            r#"{"a"}"#,
            r#"{"a":}"#,
            r#"{"a":1,}"#,
            r#"{,"a":1}"#,
            r#"{"a" 1}"#,
            "{1:2}",
            r#"{"a":1]"#,
            r#"[1}"#,
            "]",
            "}",
            ",",
            "\u{c}1",
        ] {
            let serde = serde_skip(text);
            let fast = fast_skip(text);
            assert_eq!(fast, serde, "{text:?}");
        }
    }

    #[test]
    fn skipper_gives_up_only_past_its_depth() {
        let deep = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
        let ok = deep(MAX_DEPTH as usize);
        assert_eq!(fast_skip(&ok), serde_skip(&ok));
        let over = deep(MAX_DEPTH as usize + 1);
        assert!(serde_skip(&over).is_some());
        assert_eq!(fast_skip(&over), None);
        let objects = format!("{}{}", r#"{"a":"#.repeat(40), "}".repeat(40));
        assert_eq!(fast_skip(&objects), None);
        let objects = format!("{}1{}", r#"{"a":"#.repeat(40), "}".repeat(40));
        assert_eq!(fast_skip(&objects), serde_skip(&objects));
    }

    /// Valid JSON of every kind, with whitespace here and there.
    fn json() -> impl Strategy<Value = String> {
        let ws = prop::sample::select(vec!["", "", "", " ", "\n", "\t ", "\r\n"]);
        let string = r#""([a-z é€😀/]|\\[bfnrt/"\\]|\\u[0-9a-fA-F]{4}){0,6}""#;
        let leaf = prop_oneof![
            Just("null".to_owned()),
            Just("true".to_owned()),
            Just("false".to_owned()),
            "-?(0|[1-9][0-9]{0,3})(\\.[0-9]{1,3})?([eE][+-]?[0-9]{1,2})?",
            string,
        ];
        leaf.prop_recursive(5, 40, 5, move |inner| {
            let item =
                (ws.clone(), inner.clone(), ws.clone()).prop_map(|(a, v, b)| format!("{a}{v}{b}"));
            prop_oneof![
                prop::collection::vec(item.clone(), 0..5)
                    .prop_map(|v| format!("[{}]", v.join(","))),
                prop::collection::vec((string, ws.clone(), item), 0..5).prop_map(|v| {
                    let fields: Vec<String> =
                        v.iter().map(|(k, w, x)| format!("{w}{k}{w}:{x}")).collect();
                    format!("{{{}}}", fields.join(","))
                }),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        /// The skipper accepts exactly what serde_json's `&RawValue` accepts, and ends
        /// where it ends, on valid JSON and on JSON with a byte changed, added or cut.
        #[test]
        fn skipper_agrees_with_serde(
            text in json(),
            edit in (any::<usize>(), 0u8..4, prop::sample::select(
                b"\"\\{}[],:0-.eE+tfnu \n\x01a".to_vec(),
            )),
        ) {
            prop_assert_eq!(fast_skip(&text), serde_skip(&text));
            let (at, kind, byte) = edit;
            let mut bytes = text.into_bytes();
            let at = at % (bytes.len() + 1);
            match kind {
                0 if at < bytes.len() => bytes[at] = byte,
                1 => bytes.insert(at, byte),
                2 if at < bytes.len() => { bytes.remove(at); }
                _ => bytes.truncate(at),
            }
            if let Ok(text) = std::str::from_utf8(&bytes) {
                prop_assert_eq!(fast_skip(text), serde_skip(text));
            }
        }
    }

    #[test]
    fn has_control_sees_every_position() {
        for len in [0, 1, 31, 32, 33, 64, 100] {
            let mut text = vec![b'a'; len];
            assert!(!has_control(&text));
            for at in 0..len {
                for c in [0, b'\n', 0x1f] {
                    text[at] = c;
                    assert!(has_control(&text), "{len} {at}");
                    text[at] = b' ';
                    assert!(!has_control(&text));
                }
            }
        }
    }

    #[test]
    fn find_quote_or_escape_finds_the_first() {
        let text = vec![b'a'; 80];
        assert_eq!(find_quote_or_escape(&text, 0), 80);
        for at in 0..80 {
            for c in [b'"', b'\\'] {
                let mut t = text.clone();
                t[at] = c;
                for from in [0, at.saturating_sub(9), at.saturating_sub(8), at] {
                    assert_eq!(find_quote_or_escape(&t, from), at, "{at} {from}");
                }
                assert_eq!(find_quote_or_escape(&t, at + 1), 80);
            }
        }
    }

    #[test]
    fn find_special_finds_the_first() {
        let mut text = vec![b'a'; 40];
        assert_eq!(find_special(&text, 0), 40);
        for at in 0..40 {
            for c in [b'"', b'\\', 0, 0x1f] {
                let mut t = text.clone();
                t[at] = c;
                t[39] = b'"';
                assert_eq!(find_special(&t, 0), at, "{at} {c}");
                assert_eq!(find_special(&t, at), at);
                if at < 39 {
                    assert_eq!(find_special(&t, at + 1), 39);
                }
            }
        }
        text[5] = 0x7f;
        text[6] = 0xc3;
        assert_eq!(find_special(&text, 0), 40);
    }
}
