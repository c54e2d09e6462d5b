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
//! hold no control characters, escapes are decoded by serde_json itself, and the
//! free-form objects (`requestParameters`, ..., and every unknown field) are read by
//! serde_json as raw values.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::record::{
    RawUserIdentity, Record, Resource, SessionAttributes, SessionContext, SessionIssuer, TlsDetails,
};

/// Fewer opening brackets than this in a raw value keep it well within serde_json's
/// nesting limit, whatever the depth it sits at in the file (at most 5 here).
const MAX_RAW_OPENS: usize = 100;

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
    let mut p = Parser { text, pos: 0 };
    p.expect(b'{')?;
    if p.key()? != "Records" {
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

/// The position of the first `"`, `\\` or control character in a string's body:
/// eight bytes at a time (SWAR), for the short strings logs are made of. The first
/// flagged byte is exact: the borrow of `x - 0x01..` only spills above a true match.
fn special(s: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut chunks = s.chunks_exact(8);
    let mut at = 0;
    for chunk in chunks.by_ref() {
        let v = u64::from_le_bytes(chunk.try_into().ok()?);
        let quote = v ^ (ONES * u64::from(b'"'));
        let slash = v ^ (ONES * u64::from(b'\\'));
        let found = (quote.wrapping_sub(ONES) & !quote
            | slash.wrapping_sub(ONES) & !slash
            | v.wrapping_sub(ONES * 0x20) & !v)
            & HIGH;
        if found != 0 {
            return Some(at + (found.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .map(|i| at + i)
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

/// A set of struct fields seen so far: a second sighting is a serde duplicate-field
/// error, so the fast path gives up.
#[derive(Default)]
struct Seen(u64);

impl Seen {
    fn first(&mut self, bit: u32) -> Fast<()> {
        let mask = 1u64 << bit;
        if self.0 & mask != 0 {
            return None;
        }
        self.0 |= mask;
        Some(())
    }
}

impl<'a> Parser<'a> {
    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.bytes().get(self.pos) {
            self.pos += 1;
        }
    }

    /// The next non-whitespace byte, not consumed.
    fn peek(&mut self) -> Fast<u8> {
        self.ws();
        self.bytes().get(self.pos).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, b: u8) -> Fast<()> {
        self.eat(b).then_some(())
    }

    /// A literal (`null`, `true`, `false`) at the current position.
    fn literal(&mut self, word: &str) -> Fast<()> {
        let end = self.pos + word.len();
        if self.text.get(self.pos..end)? != word {
            return None;
        }
        // serde_json reads `nullx` as `null` then fails on `x`; so do we, later.
        self.pos = end;
        Some(())
    }

    /// A string at the current position (after whitespace): its content, borrowed
    /// when it holds no escape, decoded by serde_json when it does.
    fn string(&mut self) -> Fast<Cow<'a, str>> {
        self.expect(b'"')?;
        let start = self.pos;
        let rest = self.bytes().get(start..)?;
        let len = special(rest)?;
        if rest.get(len) == Some(&b'"') {
            self.pos = start + len + 1;
            return Some(Cow::Borrowed(self.text.get(start..start + len)?));
        }
        // An escape: let serde_json find the end and decode it.
        self.pos = start - 1;
        let quoted = self.raw()?;
        serde_json::from_str::<String>(quoted.get())
            .ok()
            .map(Cow::Owned)
    }

    /// An object key without escapes, and its colon.
    fn key(&mut self) -> Fast<&'a str> {
        self.expect(b'"')?;
        let start = self.pos;
        let rest = self.bytes().get(start..)?;
        let len = special(rest)?;
        if rest.get(len) != Some(&b'"') {
            return None;
        }
        self.pos = start + len + 1;
        self.expect(b':')?;
        self.text.get(start..start + len)
    }

    /// `lenient::opt_str`, for the strings and nulls real logs hold.
    fn opt_str(&mut self) -> Fast<Option<Cow<'a, str>>> {
        match self.peek()? {
            b'"' => self.string().map(Some),
            b'n' => self.literal("null").map(|()| None),
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
            b't' => self.literal("true").map(|()| Some(true)),
            b'f' => self.literal("false").map(|()| Some(false)),
            b'n' => self.literal("null").map(|()| None),
            b'"' => match self.string()? {
                Cow::Borrowed(v) if v.eq_ignore_ascii_case("true") => Some(Some(true)),
                Cow::Borrowed(v) if v.eq_ignore_ascii_case("false") => Some(Some(false)),
                Cow::Borrowed(_) => Some(None),
                Cow::Owned(_) => None,
            },
            _ => None,
        }
    }

    /// Any value, read by serde_json as raw JSON (validated as it is skipped).
    fn raw(&mut self) -> Fast<&'a RawValue> {
        let rest = self.text.get(self.pos..)?;
        let mut de = serde_json::Deserializer::from_str(rest);
        let raw = <&'a RawValue>::deserialize(&mut de).ok()?;
        // The raw text is a slice of `text`: the value ends where it ends.
        let end = (raw.get().as_ptr() as usize + raw.get().len())
            .checked_sub(self.text.as_ptr() as usize)?;
        if end > self.text.len() {
            return None;
        }
        self.pos = end;
        // serde_json stops at 128 levels counted from the top of the file; this reader
        // starts counting afresh. Leave anything that could come near to serde_json.
        let opens = raw
            .get()
            .bytes()
            .filter(|&b| b == b'{' || b == b'[')
            .count();
        (opens < MAX_RAW_OPENS).then_some(raw)
    }

    /// `Option<&RawValue>`: `null` is `None`.
    fn opt_raw(&mut self) -> Fast<Option<&'a RawValue>> {
        if self.peek()? == b'n' {
            return self.literal("null").map(|()| None);
        }
        self.raw().map(Some)
    }

    /// An optional nested object: `null` is `None`, an object is read by `field` key
    /// by key, anything else gives up.
    fn opt_object<T: Default>(
        &mut self,
        mut field: impl FnMut(&mut Self, &mut T, &'a str) -> Fast<()>,
    ) -> Fast<Option<T>> {
        match self.peek()? {
            b'n' => self.literal("null").map(|()| None),
            b'{' => self.object(&mut field).map(Some),
            _ => None,
        }
    }

    fn object<T: Default>(
        &mut self,
        field: &mut impl FnMut(&mut Self, &mut T, &'a str) -> Fast<()>,
    ) -> Fast<T> {
        let mut out = T::default();
        self.object_into(&mut out, field)?;
        Some(out)
    }

    /// An object, its fields read into `out` (which starts as the default).
    fn object_into<T>(
        &mut self,
        out: &mut T,
        field: &mut impl FnMut(&mut Self, &mut T, &'a str) -> Fast<()>,
    ) -> Fast<()> {
        self.expect(b'{')?;
        if self.eat(b'}') {
            return Some(());
        }
        loop {
            let key = self.key()?;
            field(self, out, key)?;
            if !self.eat(b',') {
                return self.expect(b'}');
            }
        }
    }

    fn record(&mut self, out: &mut Record<'a>) -> Fast<()> {
        let mut seen = Seen::default();
        self.object_into(out, &mut |p: &mut Self,
                                    r: &mut Record<'a>,
                                    key: &'a str| {
            let (bit, _) = match key {
                "eventVersion" => (0, r.event_version = p.opt_str()?),
                "eventTime" => (1, r.event_time = p.req_str()?),
                "eventSource" => (2, r.event_source = p.req_str()?),
                "eventName" => (3, r.event_name = p.req_str()?),
                "awsRegion" => (4, r.aws_region = p.opt_str()?),
                "sourceIPAddress" => (5, r.source_ip_address = p.opt_str()?),
                "userAgent" => (6, r.user_agent = p.opt_str()?),
                "errorCode" => (7, r.error_code = p.opt_str()?),
                "errorMessage" => (8, r.error_message = p.opt_str()?),
                "requestID" => (9, r.request_id = p.opt_str()?),
                "eventID" => (10, r.event_id = p.opt_str()?),
                "eventType" => (11, r.event_type = p.opt_str()?),
                "apiVersion" => (12, r.api_version = p.opt_str()?),
                "readOnly" => (13, r.read_only = p.opt_bool()?),
                "managementEvent" => (14, r.management_event = p.opt_bool()?),
                "recipientAccountId" => (15, r.recipient_account_id = p.opt_str()?),
                "eventCategory" => (16, r.event_category = p.opt_str()?),
                "sharedEventID" => (17, r.shared_event_id = p.opt_str()?),
                "vpcEndpointId" => (18, r.vpc_endpoint_id = p.opt_str()?),
                "vpcEndpointAccountId" => (19, r.vpc_endpoint_account_id = p.opt_str()?),
                "sessionCredentialFromConsole" => {
                    (20, r.session_credential_from_console = p.opt_bool()?)
                }
                "userIdentity" => (21, r.user_identity = p.user_identity()?),
                "tlsDetails" => (22, r.tls_details = p.tls_details()?),
                "requestParameters" => (23, r.request_parameters = p.opt_raw()?),
                "responseElements" => (24, r.response_elements = p.opt_raw()?),
                "additionalEventData" => (25, r.additional_event_data = p.opt_raw()?),
                "serviceEventDetails" => (26, r.service_event_details = p.opt_raw()?),
                "resources" => (27, r.resources = p.resources()?),
                _ => return p.raw().map(drop),
            };
            seen.first(bit)
        })
    }

    fn user_identity(&mut self) -> Fast<Option<crate::record::UserIdentity<'a>>> {
        let mut seen = Seen::default();
        let raw = self.opt_object(|p: &mut Self, u: &mut RawUserIdentity<'a>, key| {
            let (bit, _) = match key {
                "type" => (0, u.kind = p.opt_str()?),
                "principalId" => (1, u.principal_id = p.opt_str()?),
                "principalid" => (2, u.principal_id_lc = p.opt_str()?),
                "arn" => (3, u.arn = p.opt_str()?),
                "accountId" => (4, u.account_id = p.opt_str()?),
                "accountid" => (5, u.account_id_lc = p.opt_str()?),
                "accessKeyId" => (6, u.access_key_id = p.opt_str()?),
                "accesKeyId" => (7, u.access_key_id_typo = p.opt_str()?),
                "accesskeyid" => (8, u.access_key_id_lc = p.opt_str()?),
                "userName" => (9, u.user_name = p.opt_str()?),
                "username" => (10, u.user_name_lc = p.opt_str()?),
                "invokedBy" => (11, u.invoked_by = p.opt_str()?),
                "invokedby" => (12, u.invoked_by_lc = p.opt_str()?),
                "credentialId" => (13, u.credential_id = p.opt_str()?),
                "identityProvider" => (14, u.identity_provider = p.opt_str()?),
                "sessionContext" => (15, u.session_context = p.session_context()?),
                "sessioncontext" => (16, u.session_context_lc = p.session_context()?),
                _ => return p.raw().map(drop),
            };
            seen.first(bit)
        })?;
        Some(raw.map(Into::into))
    }

    fn session_context(&mut self) -> Fast<Option<SessionContext<'a>>> {
        let mut seen = Seen::default();
        self.opt_object(|p: &mut Self, s: &mut SessionContext<'a>, key| {
            let (bit, _) = match key {
                "attributes" => (0, s.attributes = p.session_attributes()?),
                "sessionIssuer" | "sessionissuer" => (1, s.session_issuer = p.session_issuer()?),
                "ec2RoleDelivery" => (2, s.ec2_role_delivery = p.opt_str()?),
                "sourceIdentity" => (3, s.source_identity = p.opt_str()?),
                "webIdFederationData" => (4, s.web_id_federation_data = p.opt_raw()?),
                _ => return p.raw().map(drop),
            };
            seen.first(bit)
        })
    }

    fn session_attributes(&mut self) -> Fast<Option<SessionAttributes<'a>>> {
        let mut seen = Seen::default();
        self.opt_object(|p: &mut Self, a: &mut SessionAttributes<'a>, key| {
            let (bit, _) = match key {
                "creationDate" | "creationdate" => (0, a.creation_date = p.opt_str()?),
                "mfaAuthenticated" | "mfaauthenticated" => (1, a.mfa_authenticated = p.opt_bool()?),
                _ => return p.raw().map(drop),
            };
            seen.first(bit)
        })
    }

    fn session_issuer(&mut self) -> Fast<Option<SessionIssuer<'a>>> {
        let mut seen = Seen::default();
        self.opt_object(|p: &mut Self, i: &mut SessionIssuer<'a>, key| {
            let (bit, _) = match key {
                "type" => (0, i.kind = p.opt_str()?),
                "principalId" | "principalid" => (1, i.principal_id = p.opt_str()?),
                "arn" => (2, i.arn = p.opt_str()?),
                "accountId" | "accountid" => (3, i.account_id = p.opt_str()?),
                "userName" | "username" => (4, i.user_name = p.opt_str()?),
                _ => return p.raw().map(drop),
            };
            seen.first(bit)
        })
    }

    fn tls_details(&mut self) -> Fast<Option<TlsDetails<'a>>> {
        let mut seen = Seen::default();
        self.opt_object(|p: &mut Self, t: &mut TlsDetails<'a>, key| {
            let (bit, _) = match key {
                "tlsVersion" => (0, t.tls_version = p.opt_str()?),
                "cipherSuite" => (1, t.cipher_suite = p.opt_str()?),
                "clientProvidedHostHeader" => (2, t.client_provided_host_header = p.opt_str()?),
                _ => return p.raw().map(drop),
            };
            seen.first(bit)
        })
    }

    fn resource(&mut self) -> Fast<Resource<'a>> {
        let mut seen = Seen::default();
        self.object(&mut |p: &mut Self, r: &mut Resource<'a>, key: &'a str| {
            let (bit, _) = match key {
                "ARN" | "arn" => (0, r.arn = p.opt_str()?),
                "accountId" | "accountid" => (1, r.account_id = p.opt_str()?),
                "type" => (2, r.kind = p.opt_str()?),
                _ => return p.raw().map(drop),
            };
            seen.first(bit)
        })
    }

    /// `lenient::opt_objects` for `null` and arrays of objects.
    fn resources(&mut self) -> Fast<Option<Vec<Resource<'a>>>> {
        match self.peek()? {
            b'n' => self.literal("null").map(|()| None),
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
