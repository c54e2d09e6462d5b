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
//! loop the compiler turns into SIMD compares); keys are expected in the order
//! CloudTrail writes them and each compared whole where it is expected, with the
//! punctuation around it, as straight-line code (`in_order!`); out of that order,
//! known keys are recognised from their first eight bytes, without scanning for
//! their end ([`Known`]); nested objects are decoded in place in the record, never
//! built then moved; strings borrow from the buffer unless they hold escapes, which
//! serde_json decodes.

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
    keep: impl FnMut(usize, &Record<'a>) -> bool,
) -> Fast<()> {
    if has_control(text.trim_end_matches([' ', '\n', '\r', '\t']).as_bytes()) {
        records_in(Parser::<false>::new(text), out, keep)
    } else {
        records_in(Parser::<true>::new(text), out, keep)
    }
}

/// [`records`] with a parser for the buffer (plain or not: one copy of the parser
/// each, so that string scans need not ask which).
fn records_in<'a, const PLAIN: bool>(
    mut p: Parser<'a, PLAIN>,
    out: &mut Vec<Record<'a>>,
    mut keep: impl FnMut(usize, &Record<'a>) -> bool,
) -> Fast<()> {
    let text = p.text;
    p.expect(b'{')?;
    if p.key()? != b"Records" {
        return None;
    }
    p.expect(b'[')?;
    if !p.eat(b']') {
        let mut index = 0;
        loop {
            out.resize_with(out.len() + 1, Record::default);
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

/// `"` and `\\`: what ends the plain run of a string in a buffer without control
/// characters.
#[inline(always)]
fn is_quote_or_escape(c: u8) -> bool {
    c == b'"' || c == b'\\'
}

/// The offset of the first byte of `block` for which `hit` holds, if any.
///
/// Written so that the compiler makes SIMD of it: the per-byte answers become a
/// 16-byte mask (0xff or 0) from one vector compare per test; whether any byte is
/// set is an OR of the mask's bytes (one `pmovmskb` and a test), and only then is
/// the mask read as one 128-bit word whose lowest set bit gives the offset. (Read
/// as a word for the test too, the mask takes a trip through the stack in every
/// block.)
#[inline(always)]
fn first_in_block(block: &[u8; 16], hit: impl Fn(u8) -> bool) -> Option<usize> {
    // A plain loop: `std::array::from_fn` here is not always inlined.
    let mut mask = [0u8; 16];
    for (m, &c) in mask.iter_mut().zip(block) {
        *m = u8::from(hit(c)).wrapping_neg();
    }
    if mask.iter().fold(0, |any, &m| any | m) == 0 {
        return None;
    }
    let mask = u128::from_le_bytes(mask);
    Some((mask.trailing_zeros() / 8) as usize)
}

/// The position of the first byte at or after `at` for which `hit` holds, or
/// `b.len()` (`at` when past the end): 16 bytes a step, then byte by byte for the
/// last few bytes of the buffer.
#[inline(always)]
fn find_first(b: &[u8], mut at: usize, hit: impl Fn(u8) -> bool + Copy) -> usize {
    // One bound check a block (`at..at + 16` rather than `at..` then 16 of it).
    while let Some(block) = b.get(at..at + 16).and_then(|r| r.first_chunk::<16>()) {
        if let Some(i) = first_in_block(block, hit) {
            return at + i;
        }
        at += 16;
    }
    while let Some(&c) = b.get(at) {
        if hit(c) {
            return at;
        }
        at += 1;
    }
    at
}

/// The position of the first `"`, `\\` or control character at or after `at`, or
/// `b.len()`.
#[inline(always)]
fn find_special(b: &[u8], at: usize) -> usize {
    find_first(b, at, is_special)
}

/// Whether `b` holds a control character: the minimum of all bytes, a branch-free
/// loop the compiler vectorises (`pminub`, 64 bytes a step); control characters are
/// rare enough that stopping early at one is not worth a branch per block.
fn has_control(b: &[u8]) -> bool {
    // 64 bytes a step into four vectors' worth of running minimums.
    let mut min = [u8::MAX; 64];
    let mut blocks = b.chunks_exact(64);
    for block in &mut blocks {
        for (m, &x) in min.iter_mut().zip(block) {
            *m = (*m).min(x);
        }
    }
    let rest = blocks.remainder().iter().copied();
    min.into_iter().chain(rest).fold(u8::MAX, u8::min) < 0x20
}

/// [`find_special`] for a buffer without control characters: `"` and `\\` only.
#[inline(always)]
fn find_quote_or_escape(b: &[u8], at: usize) -> usize {
    find_first(b, at, is_quote_or_escape)
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

/// The fields of one kind of object, recognised by key.
///
/// `fast` is the hot path: it sees the bytes just after a key's opening quote and
/// recognises the usual spellings from the first eight (one word compare, the
/// compiler makes a search tree of the `match`), checks the rest of the key, its
/// closing quote and the colon right after it against constants, and returns the
/// field and the length of all that. It only ever answers for bytes that spell a known key
/// exactly (letters only, so no escape), so that it agrees with `slow`; for anything
/// else (another key, another spelling, whitespace before the colon, the buffer's
/// end near) it says `None` and the key is read whole and classified by `slow`, the
/// reference.
trait Known: Copy {
    fn fast(rest: &[u8]) -> Option<(Self, usize)>;
    fn slow(key: &[u8]) -> Self;
}

/// The first eight bytes of a key (with its closing quote if seven long), as
/// [`word`] reads them.
const fn prefix(key: &[u8; 8]) -> u64 {
    u64::from_le_bytes(*key)
}

/// The eight bytes at the start of `rest`, little-endian.
#[inline(always)]
fn word(rest: &[u8]) -> Option<u64> {
    rest.first_chunk::<8>().map(|w| u64::from_le_bytes(*w))
}

/// The length of a key whose first eight bytes matched, with its closing quote and
/// colon, when the bytes after the eight are `tail` (the rest of those).
#[inline(always)]
fn tail<const N: usize>(rest: &[u8], tail: &[u8; N]) -> Option<usize> {
    (rest.get(8..)?.first_chunk::<N>()? == tail).then_some(8 + N)
}

/// A key shorter than seven bytes: `key` is the key, its closing quote and colon.
#[inline(always)]
fn short<const N: usize>(rest: &[u8], key: &[u8; N]) -> bool {
    rest.first_chunk::<N>() == Some(key)
}

/// Record fields; the discriminant is the field's [`Seen`] bit.
#[derive(Clone, Copy, Debug, PartialEq)]
enum RecordKey {
    EventVersion,
    EventTime,
    EventSource,
    EventName,
    AwsRegion,
    SourceIpAddress,
    UserAgent,
    ErrorCode,
    ErrorMessage,
    RequestId,
    EventId,
    EventType,
    ApiVersion,
    ReadOnly,
    ManagementEvent,
    RecipientAccountId,
    EventCategory,
    SharedEventId,
    VpcEndpointId,
    VpcEndpointAccountId,
    SessionCredentialFromConsole,
    UserIdentity,
    TlsDetails,
    RequestParameters,
    ResponseElements,
    AdditionalEventData,
    ServiceEventDetails,
    Resources,
    Other,
}

impl Known for RecordKey {
    #[inline(always)]
    fn fast(rest: &[u8]) -> Option<(Self, usize)> {
        use RecordKey as K;
        const EVENT_VER: u64 = prefix(b"eventVer");
        const EVENT_TIM: u64 = prefix(b"eventTim");
        const EVENT_SOU: u64 = prefix(b"eventSou");
        const EVENT_NAM: u64 = prefix(b"eventNam");
        const EVENT_ID: u64 = prefix(b"eventID\"");
        const EVENT_TYP: u64 = prefix(b"eventTyp");
        const EVENT_CAT: u64 = prefix(b"eventCat");
        const AWS_REGIO: u64 = prefix(b"awsRegio");
        const SOURCE_IP: u64 = prefix(b"sourceIP");
        const USER_AGEN: u64 = prefix(b"userAgen");
        const USER_IDEN: u64 = prefix(b"userIden");
        const ERROR_COD: u64 = prefix(b"errorCod");
        const ERROR_MES: u64 = prefix(b"errorMes");
        const REQUEST_I: u64 = prefix(b"requestI");
        const REQUEST_P: u64 = prefix(b"requestP");
        const RESPONSE: u64 = prefix(b"response");
        const API_VERSI: u64 = prefix(b"apiVersi");
        const READ_ONLY: u64 = prefix(b"readOnly");
        const MANAGEME: u64 = prefix(b"manageme");
        const RECIPIEN: u64 = prefix(b"recipien");
        const SHARED_EV: u64 = prefix(b"sharedEv");
        const VPC_ENDPO: u64 = prefix(b"vpcEndpo");
        const SESSION_C: u64 = prefix(b"sessionC");
        const TLS_DETAI: u64 = prefix(b"tlsDetai");
        const ADDITION: u64 = prefix(b"addition");
        const SERVICE_E: u64 = prefix(b"serviceE");
        const RESOURCE: u64 = prefix(b"resource");
        Some(match word(rest)? {
            EVENT_VER => (K::EventVersion, tail(rest, b"sion\":")?),
            EVENT_TIM => (K::EventTime, tail(rest, b"e\":")?),
            EVENT_SOU => (K::EventSource, tail(rest, b"rce\":")?),
            EVENT_NAM => (K::EventName, tail(rest, b"e\":")?),
            EVENT_ID => (K::EventId, tail(rest, b":")?),
            EVENT_TYP => (K::EventType, tail(rest, b"e\":")?),
            EVENT_CAT => (K::EventCategory, tail(rest, b"egory\":")?),
            AWS_REGIO => (K::AwsRegion, tail(rest, b"n\":")?),
            SOURCE_IP => (K::SourceIpAddress, tail(rest, b"Address\":")?),
            USER_AGEN => (K::UserAgent, tail(rest, b"t\":")?),
            USER_IDEN => (K::UserIdentity, tail(rest, b"tity\":")?),
            ERROR_COD => (K::ErrorCode, tail(rest, b"e\":")?),
            ERROR_MES => (K::ErrorMessage, tail(rest, b"sage\":")?),
            REQUEST_I => (K::RequestId, tail(rest, b"D\":")?),
            REQUEST_P => (K::RequestParameters, tail(rest, b"arameters\":")?),
            RESPONSE => (K::ResponseElements, tail(rest, b"Elements\":")?),
            API_VERSI => (K::ApiVersion, tail(rest, b"on\":")?),
            READ_ONLY => (K::ReadOnly, tail(rest, b"\":")?),
            MANAGEME => (K::ManagementEvent, tail(rest, b"ntEvent\":")?),
            RECIPIEN => (K::RecipientAccountId, tail(rest, b"tAccountId\":")?),
            SHARED_EV => (K::SharedEventId, tail(rest, b"entID\":")?),
            VPC_ENDPO => match tail(rest, b"intId\":") {
                Some(len) => (K::VpcEndpointId, len),
                None => (K::VpcEndpointAccountId, tail(rest, b"intAccountId\":")?),
            },
            SESSION_C => (
                K::SessionCredentialFromConsole,
                tail(rest, b"redentialFromConsole\":")?,
            ),
            TLS_DETAI => (K::TlsDetails, tail(rest, b"ls\":")?),
            ADDITION => (K::AdditionalEventData, tail(rest, b"alEventData\":")?),
            SERVICE_E => (K::ServiceEventDetails, tail(rest, b"ventDetails\":")?),
            RESOURCE => (K::Resources, tail(rest, b"s\":")?),
            _ => return None,
        })
    }

    fn slow(key: &[u8]) -> Self {
        use RecordKey as K;
        match key {
            b"eventVersion" => K::EventVersion,
            b"eventTime" => K::EventTime,
            b"eventSource" => K::EventSource,
            b"eventName" => K::EventName,
            b"awsRegion" => K::AwsRegion,
            b"sourceIPAddress" => K::SourceIpAddress,
            b"userAgent" => K::UserAgent,
            b"errorCode" => K::ErrorCode,
            b"errorMessage" => K::ErrorMessage,
            b"requestID" => K::RequestId,
            b"eventID" => K::EventId,
            b"eventType" => K::EventType,
            b"apiVersion" => K::ApiVersion,
            b"readOnly" => K::ReadOnly,
            b"managementEvent" => K::ManagementEvent,
            b"recipientAccountId" => K::RecipientAccountId,
            b"eventCategory" => K::EventCategory,
            b"sharedEventID" => K::SharedEventId,
            b"vpcEndpointId" => K::VpcEndpointId,
            b"vpcEndpointAccountId" => K::VpcEndpointAccountId,
            b"sessionCredentialFromConsole" => K::SessionCredentialFromConsole,
            b"userIdentity" => K::UserIdentity,
            b"tlsDetails" => K::TlsDetails,
            b"requestParameters" => K::RequestParameters,
            b"responseElements" => K::ResponseElements,
            b"additionalEventData" => K::AdditionalEventData,
            b"serviceEventDetails" => K::ServiceEventDetails,
            b"resources" => K::Resources,
            _ => K::Other,
        }
    }
}

/// `userIdentity` fields, canonical spellings then the others
/// ([`OtherSpellings`]); the discriminant is the field's [`Seen`] bit.
#[derive(Clone, Copy, Debug, PartialEq)]
enum IdentityKey {
    Type,
    PrincipalId,
    Arn,
    AccountId,
    AccessKeyId,
    UserName,
    InvokedBy,
    CredentialId,
    IdentityProvider,
    SessionContext,
    PrincipalIdLower,
    AccountIdLower,
    AccesKeyIdTypo,
    AccessKeyIdLower,
    UserNameLower,
    InvokedByLower,
    SessionContextLower,
    Other,
}

impl Known for IdentityKey {
    #[inline(always)]
    fn fast(rest: &[u8]) -> Option<(Self, usize)> {
        use IdentityKey as K;
        const PRINCIPA: u64 = prefix(b"principa");
        const ACCOUNT_I: u64 = prefix(b"accountI");
        const ACCESS_KE: u64 = prefix(b"accessKe");
        const USER_NAME: u64 = prefix(b"userName");
        const SESSION_C: u64 = prefix(b"sessionC");
        const INVOKED_B: u64 = prefix(b"invokedB");
        const CREDENTI: u64 = prefix(b"credenti");
        const IDENTITY: u64 = prefix(b"identity");
        Some(match word(rest)? {
            PRINCIPA => (K::PrincipalId, tail(rest, b"lId\":")?),
            ACCOUNT_I => (K::AccountId, tail(rest, b"d\":")?),
            ACCESS_KE => (K::AccessKeyId, tail(rest, b"yId\":")?),
            USER_NAME => (K::UserName, tail(rest, b"\":")?),
            SESSION_C => (K::SessionContext, tail(rest, b"ontext\":")?),
            INVOKED_B => (K::InvokedBy, tail(rest, b"y\":")?),
            CREDENTI => (K::CredentialId, tail(rest, b"alId\":")?),
            IDENTITY => (K::IdentityProvider, tail(rest, b"Provider\":")?),
            _ if short(rest, b"type\":") => (K::Type, 6),
            _ if short(rest, b"arn\":") => (K::Arn, 5),
            _ => return None,
        })
    }

    fn slow(key: &[u8]) -> Self {
        use IdentityKey as K;
        match key {
            b"type" => K::Type,
            b"principalId" => K::PrincipalId,
            b"arn" => K::Arn,
            b"accountId" => K::AccountId,
            b"accessKeyId" => K::AccessKeyId,
            b"userName" => K::UserName,
            b"invokedBy" => K::InvokedBy,
            b"credentialId" => K::CredentialId,
            b"identityProvider" => K::IdentityProvider,
            b"sessionContext" => K::SessionContext,
            b"principalid" => K::PrincipalIdLower,
            b"accountid" => K::AccountIdLower,
            b"accesKeyId" => K::AccesKeyIdTypo,
            b"accesskeyid" => K::AccessKeyIdLower,
            b"username" => K::UserNameLower,
            b"invokedby" => K::InvokedByLower,
            b"sessioncontext" => K::SessionContextLower,
            _ => K::Other,
        }
    }
}

/// `sessionContext` fields; the discriminant is the field's [`Seen`] bit.
#[derive(Clone, Copy, Debug, PartialEq)]
enum ContextKey {
    Attributes,
    SessionIssuer,
    Ec2RoleDelivery,
    SourceIdentity,
    WebIdFederationData,
    Other,
}

impl Known for ContextKey {
    #[inline(always)]
    fn fast(rest: &[u8]) -> Option<(Self, usize)> {
        use ContextKey as K;
        const ATTRIBUT: u64 = prefix(b"attribut");
        const SESSION_I: u64 = prefix(b"sessionI");
        const EC2_ROLE_D: u64 = prefix(b"ec2RoleD");
        const SOURCE_ID: u64 = prefix(b"sourceId");
        const WEB_ID_FED: u64 = prefix(b"webIdFed");
        Some(match word(rest)? {
            ATTRIBUT => (K::Attributes, tail(rest, b"es\":")?),
            SESSION_I => (K::SessionIssuer, tail(rest, b"ssuer\":")?),
            EC2_ROLE_D => (K::Ec2RoleDelivery, tail(rest, b"elivery\":")?),
            SOURCE_ID => (K::SourceIdentity, tail(rest, b"entity\":")?),
            WEB_ID_FED => (K::WebIdFederationData, tail(rest, b"erationData\":")?),
            _ => return None,
        })
    }

    fn slow(key: &[u8]) -> Self {
        use ContextKey as K;
        match key {
            b"attributes" => K::Attributes,
            b"sessionIssuer" | b"sessionissuer" => K::SessionIssuer,
            b"ec2RoleDelivery" => K::Ec2RoleDelivery,
            b"sourceIdentity" => K::SourceIdentity,
            b"webIdFederationData" => K::WebIdFederationData,
            _ => K::Other,
        }
    }
}

/// `sessionContext.attributes` fields; the discriminant is the field's [`Seen`] bit.
#[derive(Clone, Copy, Debug, PartialEq)]
enum AttributesKey {
    CreationDate,
    MfaAuthenticated,
    Other,
}

impl Known for AttributesKey {
    #[inline(always)]
    fn fast(rest: &[u8]) -> Option<(Self, usize)> {
        use AttributesKey as K;
        const CREATION: u64 = prefix(b"creation");
        const MFA_AUTHE: u64 = prefix(b"mfaAuthe");
        Some(match word(rest)? {
            CREATION => (K::CreationDate, tail(rest, b"Date\":")?),
            MFA_AUTHE => (K::MfaAuthenticated, tail(rest, b"nticated\":")?),
            _ => return None,
        })
    }

    fn slow(key: &[u8]) -> Self {
        use AttributesKey as K;
        match key {
            b"creationDate" | b"creationdate" => K::CreationDate,
            b"mfaAuthenticated" | b"mfaauthenticated" => K::MfaAuthenticated,
            _ => K::Other,
        }
    }
}

/// `sessionIssuer` fields; the discriminant is the field's [`Seen`] bit.
#[derive(Clone, Copy, Debug, PartialEq)]
enum IssuerKey {
    Type,
    PrincipalId,
    Arn,
    AccountId,
    UserName,
    Other,
}

impl Known for IssuerKey {
    #[inline(always)]
    fn fast(rest: &[u8]) -> Option<(Self, usize)> {
        use IssuerKey as K;
        const PRINCIPA: u64 = prefix(b"principa");
        const ACCOUNT_I: u64 = prefix(b"accountI");
        const USER_NAME: u64 = prefix(b"userName");
        Some(match word(rest)? {
            PRINCIPA => (K::PrincipalId, tail(rest, b"lId\":")?),
            ACCOUNT_I => (K::AccountId, tail(rest, b"d\":")?),
            USER_NAME => (K::UserName, tail(rest, b"\":")?),
            _ if short(rest, b"type\":") => (K::Type, 6),
            _ if short(rest, b"arn\":") => (K::Arn, 5),
            _ => return None,
        })
    }

    fn slow(key: &[u8]) -> Self {
        use IssuerKey as K;
        match key {
            b"type" => K::Type,
            b"principalId" | b"principalid" => K::PrincipalId,
            b"arn" => K::Arn,
            b"accountId" | b"accountid" => K::AccountId,
            b"userName" | b"username" => K::UserName,
            _ => K::Other,
        }
    }
}

/// `tlsDetails` fields; the discriminant is the field's [`Seen`] bit.
#[derive(Clone, Copy, Debug, PartialEq)]
enum TlsKey {
    TlsVersion,
    CipherSuite,
    ClientProvidedHostHeader,
    Other,
}

impl Known for TlsKey {
    #[inline(always)]
    fn fast(rest: &[u8]) -> Option<(Self, usize)> {
        use TlsKey as K;
        const TLS_VERSI: u64 = prefix(b"tlsVersi");
        const CIPHER_SU: u64 = prefix(b"cipherSu");
        const CLIENT_PR: u64 = prefix(b"clientPr");
        Some(match word(rest)? {
            TLS_VERSI => (K::TlsVersion, tail(rest, b"on\":")?),
            CIPHER_SU => (K::CipherSuite, tail(rest, b"ite\":")?),
            CLIENT_PR => (
                K::ClientProvidedHostHeader,
                tail(rest, b"ovidedHostHeader\":")?,
            ),
            _ => return None,
        })
    }

    fn slow(key: &[u8]) -> Self {
        use TlsKey as K;
        match key {
            b"tlsVersion" => K::TlsVersion,
            b"cipherSuite" => K::CipherSuite,
            b"clientProvidedHostHeader" => K::ClientProvidedHostHeader,
            _ => K::Other,
        }
    }
}

/// `resources[]` fields; the discriminant is the field's [`Seen`] bit.
#[derive(Clone, Copy, Debug, PartialEq)]
enum ResourceKey {
    Arn,
    AccountId,
    Type,
    Other,
}

impl Known for ResourceKey {
    #[inline(always)]
    fn fast(rest: &[u8]) -> Option<(Self, usize)> {
        use ResourceKey as K;
        const ACCOUNT_I: u64 = prefix(b"accountI");
        Some(match word(rest)? {
            ACCOUNT_I => (K::AccountId, tail(rest, b"d\":")?),
            _ if short(rest, b"ARN\":") => (K::Arn, 5),
            _ if short(rest, b"type\":") => (K::Type, 6),
            _ => return None,
        })
    }

    fn slow(key: &[u8]) -> Self {
        use ResourceKey as K;
        match key {
            b"ARN" | b"arn" => K::Arn,
            b"accountId" | b"accountid" => K::AccountId,
            b"type" => K::Type,
            _ => K::Other,
        }
    }
}

/// Reads the fields of an object whose `{` is read, in the order CloudTrail writes
/// them, as straight-line code: each listed key is compared where it is expected,
/// whole with its quotes, the `,` before it and the `:` after it, then its value is
/// read by `$read` (as the general loop reads it); a key that is not there is
/// passed over at the cost of that one compare. Evaluates to the fields read and
/// whether none was (the `first` of [`Parser::next_key`]), for the general loop that
/// reads the rest: keys out of this order, other spellings, whitespace, unknown keys,
/// a second sighting (a duplicate: [`Seen`] tells) and the object's end.
///
/// Nothing is read unless the first key is there (after it, every key starts with
/// `,`). Each listed key must spell its field: debug builds check it against
/// [`Known::slow`].
macro_rules! in_order {
    (
        $p:ident.$read:ident $args:tt;
        $first:literal => $first_field:expr
        $(, $key:literal => $field:expr)* $(,)?
    ) => {{
        let mut seen = Seen::default();
        let none = !$p.next_is(concat!("\"", $first, "\":").as_bytes());
        if !none {
            debug_assert!(spells($first, $first_field));
            in_order!(@read $p.$read $args $first_field)?;
            seen.add($first_field as u32);
            $(
                if $p.next_is(concat!(",\"", $key, "\":").as_bytes()) {
                    debug_assert!(spells($key, $field));
                    in_order!(@read $p.$read $args $field)?;
                    seen.add($field as u32);
                }
            )*
        }
        (seen, none)
    }};
    (@read $p:ident.$read:ident ($($arg:expr),*) $field:expr) => {
        $p.$read($($arg,)* $field)
    };
}

/// Whether `key` is a spelling of `field` (a check for [`in_order!`]).
fn spells<F: Known + PartialEq>(key: &str, field: F) -> bool {
    F::slow(key.as_bytes()) == field
}

/// `PLAIN`: no control character before the trailing whitespace, so strings cannot
/// hold one, and their ends are found by looking for `"` and `\\` alone.
struct Parser<'a, const PLAIN: bool> {
    text: &'a str,
    pos: usize,
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

    /// Marks a field seen, known to be seen for the first time.
    #[inline(always)]
    fn add(&mut self, bit: u32) {
        self.0 |= 1u64 << bit;
    }
}

/// `userIdentity` key spellings other than the canonical one, kept apart until the
/// object ends and then merged as [`crate::record::RawUserIdentity`] merges them;
/// built at the first such key (rare).
#[derive(Default)]
struct OtherSpellings<'a> {
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

impl<'a, const PLAIN: bool> Parser<'a, PLAIN> {
    fn new(text: &'a str) -> Self {
        Parser { text, pos: 0 }
    }

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
        if self.bytes().get(self.pos..self.pos + word.len()) != Some(word) {
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
        let (end, escaped) = string_end(self.bytes(), start, PLAIN)?;
        self.pos = end + 1;
        if !escaped {
            // Two one-sided slicings: each checks one char boundary, inline.
            return self
                .text
                .get(start..)
                .and_then(|t| t.get(..end - start))
                .map(Cow::Borrowed);
        }
        let quoted = self.text.get(start - 1..end + 1)?;
        serde_json::from_str::<String>(quoted).ok().map(Cow::Owned)
    }

    /// An object key without escapes, and its colon.
    #[inline(always)]
    fn key(&mut self) -> Fast<&'a [u8]> {
        self.expect(b'"')?;
        self.key_body()
    }

    /// Whether the next bytes are `key` (no whitespace before), read if they are.
    #[inline(always)]
    fn next_is(&mut self, key: &[u8]) -> bool {
        // One range (not `pos..` then `starts_with`): one bound check.
        let hit = self.bytes().get(self.pos..self.pos + key.len()) == Some(key);
        if hit {
            self.pos += key.len();
        }
        hit
    }

    /// A key of a known object, and its colon: recognised from its first bytes when
    /// it can (see [`Known`]), else read whole and classified.
    #[inline(always)]
    fn known_key<F: Known>(&mut self) -> Fast<F> {
        self.expect(b'"')?;
        self.known_key_body()
    }

    /// [`Self::known_key`] after its opening quote.
    #[inline(always)]
    fn known_key_body<F: Known>(&mut self) -> Fast<F> {
        let b = self.bytes();
        let Some((field, len)) = b.get(self.pos..).and_then(F::fast) else {
            return self.key_body().map(F::slow);
        };
        self.pos += len;
        Some(field)
    }

    /// [`Self::key`] after its opening quote.
    #[inline(always)]
    fn key_body(&mut self) -> Fast<&'a [u8]> {
        let start = self.pos;
        let b = self.bytes();
        let end = if PLAIN {
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
        // The usual case first: the string's quote right there.
        if self.bytes().get(self.pos) == Some(&b'"') {
            self.pos += 1;
            return self.string_body().map(Some);
        }
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
    #[inline(always)]
    fn req_str(&mut self) -> Fast<Cow<'a, str>> {
        Some(self.opt_str()?.unwrap_or(Cow::Borrowed("")))
    }

    /// `lenient::opt_bool`, for booleans, strings without escapes and nulls.
    #[inline(always)]
    fn opt_bool(&mut self) -> Fast<Option<bool>> {
        match self.peek()? {
            b't' => self.literal(b"true").map(|()| Some(true)),
            b'f' => self.literal(b"false").map(|()| Some(false)),
            b'n' => self.literal(b"null").map(|()| None),
            // The usual spellings, whole with their quotes, without a string scan
            // nor a case-insensitive compare.
            b'"' if self.next_is(b"\"true\"") => Some(Some(true)),
            b'"' if self.next_is(b"\"false\"") => Some(Some(false)),
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
        let (end, _) = string_end(self.bytes(), self.pos, PLAIN)?;
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
                    let (end, _) = string_end(b, self.pos + 1, PLAIN)?;
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

    /// The next key of an object of a [`Known`] kind (whose `{` is read), and its
    /// colon; `None` at the object's end. `first` is true before the first key.
    #[inline(always)]
    fn next_key<F: Known>(&mut self, first: &mut bool) -> Fast<Option<F>> {
        if *first {
            *first = false;
            if self.eat(b'}') {
                return Some(None);
            }
        } else if self.bytes().get(self.pos) == Some(&b'}') {
            // The end right there: what ends every object read in order.
            self.pos += 1;
            return Some(None);
        } else if self.bytes().get(self.pos..).and_then(<[u8]>::first_chunk) == Some(b",\"") {
            // The usual compact `,"`: both at once.
            self.pos += 2;
            return self.known_key_body().map(Some);
        } else if !self.eat(b',') {
            return self.expect(b'}').map(|()| None);
        }
        self.known_key().map(Some)
    }

    /// An optional nested object, opened in place: `null` is `None` (and `Ok(None)`
    /// here: nothing more to read), an object's `{` is read and its slot returned,
    /// anything else gives up.
    #[inline(always)]
    fn open_object<'s, T: Default>(&mut self, slot: &'s mut Option<T>) -> Fast<Option<&'s mut T>> {
        match self.peek()? {
            b'n' => {
                *slot = None;
                self.literal(b"null").map(|()| None)
            }
            b'{' => {
                self.pos += 1;
                // Always empty here on the usual path: no drop to call.
                let object = match slot {
                    Some(old) => {
                        *old = T::default();
                        old
                    }
                    None => slot.insert(T::default()),
                };
                Some(Some(object))
            }
            _ => None,
        }
    }

    fn record(&mut self, r: &mut Record<'a>) -> Fast<()> {
        use RecordKey as K;
        self.expect(b'{')?;
        let (mut seen, mut first) = in_order!(self.record_field(r);
            "eventVersion" => K::EventVersion,
            "userIdentity" => K::UserIdentity,
            "eventTime" => K::EventTime,
            "eventSource" => K::EventSource,
            "eventName" => K::EventName,
            "awsRegion" => K::AwsRegion,
            "sourceIPAddress" => K::SourceIpAddress,
            "userAgent" => K::UserAgent,
            "errorCode" => K::ErrorCode,
            "errorMessage" => K::ErrorMessage,
            "requestParameters" => K::RequestParameters,
            "responseElements" => K::ResponseElements,
            "additionalEventData" => K::AdditionalEventData,
            "requestID" => K::RequestId,
            "eventID" => K::EventId,
            "readOnly" => K::ReadOnly,
            "resources" => K::Resources,
            "eventType" => K::EventType,
            "apiVersion" => K::ApiVersion,
            "managementEvent" => K::ManagementEvent,
            "recipientAccountId" => K::RecipientAccountId,
            "sharedEventID" => K::SharedEventId,
            "vpcEndpointId" => K::VpcEndpointId,
            "serviceEventDetails" => K::ServiceEventDetails,
            "eventCategory" => K::EventCategory,
            "tlsDetails" => K::TlsDetails,
            "sessionCredentialFromConsole" => K::SessionCredentialFromConsole,
        );
        while let Some(key) = self.next_key::<RecordKey>(&mut first)? {
            if let K::Other = key {
                self.skip_value()?;
                continue;
            }
            self.record_field(r, key)?;
            seen.first(key as u32)?;
        }
        Some(())
    }

    /// The value of one record field, into its place.
    #[inline(always)]
    fn record_field(&mut self, r: &mut Record<'a>, key: RecordKey) -> Fast<()> {
        use RecordKey as K;
        match key {
            K::EventVersion => r.event_version = self.opt_str()?,
            K::EventTime => r.event_time = self.req_str()?,
            K::EventSource => r.event_source = self.req_str()?,
            K::EventName => r.event_name = self.req_str()?,
            K::AwsRegion => r.aws_region = self.opt_str()?,
            K::SourceIpAddress => r.source_ip_address = self.opt_str()?,
            K::UserAgent => r.user_agent = self.opt_str()?,
            K::ErrorCode => r.error_code = self.opt_str()?,
            K::ErrorMessage => r.error_message = self.opt_str()?,
            K::RequestId => r.request_id = self.opt_str()?,
            K::EventId => r.event_id = self.opt_str()?,
            K::EventType => r.event_type = self.opt_str()?,
            K::ApiVersion => r.api_version = self.opt_str()?,
            K::ReadOnly => r.read_only = self.opt_bool()?,
            K::ManagementEvent => r.management_event = self.opt_bool()?,
            K::RecipientAccountId => r.recipient_account_id = self.opt_str()?,
            K::EventCategory => r.event_category = self.opt_str()?,
            K::SharedEventId => r.shared_event_id = self.opt_str()?,
            K::VpcEndpointId => r.vpc_endpoint_id = self.opt_str()?,
            K::VpcEndpointAccountId => r.vpc_endpoint_account_id = self.opt_str()?,
            K::SessionCredentialFromConsole => {
                r.session_credential_from_console = self.opt_bool()?;
            }
            K::UserIdentity => self.user_identity(&mut r.user_identity)?,
            K::TlsDetails => self.tls_details(&mut r.tls_details)?,
            K::RequestParameters => r.request_parameters = self.opt_raw()?,
            K::ResponseElements => r.response_elements = self.opt_raw()?,
            K::AdditionalEventData => r.additional_event_data = self.opt_raw()?,
            K::ServiceEventDetails => r.service_event_details = self.opt_raw()?,
            K::Resources => r.resources = self.resources()?,
            K::Other => {
                self.skip_value()?;
            }
        }
        Some(())
    }

    /// `userIdentity`, decoded in place: canonical spellings straight into the
    /// record, the others aside and merged at the end (rare).
    fn user_identity(&mut self, slot: &mut Option<UserIdentity<'a>>) -> Fast<()> {
        use IdentityKey as K;
        let Some(u) = self.open_object(slot)? else {
            return Some(());
        };
        let mut other = None;
        let (mut seen, mut first) = in_order!(self.identity_field(u, &mut other);
            "type" => K::Type,
            "principalId" => K::PrincipalId,
            "arn" => K::Arn,
            "accountId" => K::AccountId,
            "accessKeyId" => K::AccessKeyId,
            "userName" => K::UserName,
            "sessionContext" => K::SessionContext,
            "invokedBy" => K::InvokedBy,
        );
        while let Some(key) = self.next_key::<IdentityKey>(&mut first)? {
            if let K::Other = key {
                self.skip_value()?;
                continue;
            }
            self.identity_field(u, &mut other, key)?;
            seen.first(key as u32)?;
        }
        if let Some(other) = other {
            other.merge_into(u);
        }
        Some(())
    }

    /// The value of one `userIdentity` field: into its place when spelled
    /// canonically, else into `other`.
    #[inline(always)]
    fn identity_field(
        &mut self,
        u: &mut UserIdentity<'a>,
        other: &mut Option<OtherSpellings<'a>>,
        key: IdentityKey,
    ) -> Fast<()> {
        use IdentityKey as K;
        match key {
            K::Type => u.kind = self.opt_str()?,
            K::PrincipalId => u.principal_id = self.opt_str()?,
            K::Arn => u.arn = self.opt_str()?,
            K::AccountId => u.account_id = self.opt_str()?,
            K::AccessKeyId => u.access_key_id = self.opt_str()?,
            K::UserName => u.user_name = self.opt_str()?,
            K::InvokedBy => u.invoked_by = self.opt_str()?,
            K::CredentialId => u.credential_id = self.opt_str()?,
            K::IdentityProvider => u.identity_provider = self.opt_str()?,
            K::SessionContext => self.session_context(&mut u.session_context)?,
            K::Other => {
                self.skip_value()?;
            }
            _ => {
                let other = other.get_or_insert_with(OtherSpellings::default);
                match key {
                    K::PrincipalIdLower => other.principal_id = self.opt_str()?,
                    K::AccountIdLower => other.account_id = self.opt_str()?,
                    K::AccesKeyIdTypo => other.access_key_id_typo = self.opt_str()?,
                    K::AccessKeyIdLower => other.access_key_id = self.opt_str()?,
                    K::UserNameLower => other.user_name = self.opt_str()?,
                    K::InvokedByLower => other.invoked_by = self.opt_str()?,
                    _ => self.session_context(&mut other.session_context)?,
                }
            }
        }
        Some(())
    }

    fn session_context(&mut self, slot: &mut Option<SessionContext<'a>>) -> Fast<()> {
        use ContextKey as K;
        let Some(s) = self.open_object(slot)? else {
            return Some(());
        };
        let (mut seen, mut first) = in_order!(self.context_field(s);
            "sessionIssuer" => K::SessionIssuer,
            "webIdFederationData" => K::WebIdFederationData,
            "attributes" => K::Attributes,
            "sourceIdentity" => K::SourceIdentity,
            "ec2RoleDelivery" => K::Ec2RoleDelivery,
        );
        while let Some(key) = self.next_key::<ContextKey>(&mut first)? {
            if let K::Other = key {
                self.skip_value()?;
                continue;
            }
            self.context_field(s, key)?;
            seen.first(key as u32)?;
        }
        Some(())
    }

    /// The value of one `sessionContext` field, into its place.
    #[inline(always)]
    fn context_field(&mut self, s: &mut SessionContext<'a>, key: ContextKey) -> Fast<()> {
        use ContextKey as K;
        match key {
            K::SessionIssuer => self.session_issuer(&mut s.session_issuer)?,
            K::WebIdFederationData => s.web_id_federation_data = self.opt_raw()?,
            K::Attributes => self.session_attributes(&mut s.attributes)?,
            K::Ec2RoleDelivery => s.ec2_role_delivery = self.opt_str()?,
            K::SourceIdentity => s.source_identity = self.opt_str()?,
            K::Other => {
                self.skip_value()?;
            }
        }
        Some(())
    }

    fn session_attributes(&mut self, slot: &mut Option<SessionAttributes<'a>>) -> Fast<()> {
        use AttributesKey as K;
        let Some(a) = self.open_object(slot)? else {
            return Some(());
        };
        let (mut seen, mut first) = in_order!(self.attributes_field(a);
            "creationDate" => K::CreationDate,
            "mfaAuthenticated" => K::MfaAuthenticated,
        );
        while let Some(key) = self.next_key::<AttributesKey>(&mut first)? {
            if let K::Other = key {
                self.skip_value()?;
                continue;
            }
            self.attributes_field(a, key)?;
            seen.first(key as u32)?;
        }
        Some(())
    }

    /// The value of one `sessionContext.attributes` field, into its place.
    #[inline(always)]
    fn attributes_field(&mut self, a: &mut SessionAttributes<'a>, key: AttributesKey) -> Fast<()> {
        use AttributesKey as K;
        match key {
            K::CreationDate => a.creation_date = self.opt_str()?,
            K::MfaAuthenticated => a.mfa_authenticated = self.opt_bool()?,
            K::Other => {
                self.skip_value()?;
            }
        }
        Some(())
    }

    fn session_issuer(&mut self, slot: &mut Option<SessionIssuer<'a>>) -> Fast<()> {
        use IssuerKey as K;
        let Some(i) = self.open_object(slot)? else {
            return Some(());
        };
        let (mut seen, mut first) = in_order!(self.issuer_field(i);
            "type" => K::Type,
            "principalId" => K::PrincipalId,
            "arn" => K::Arn,
            "accountId" => K::AccountId,
            "userName" => K::UserName,
        );
        while let Some(key) = self.next_key::<IssuerKey>(&mut first)? {
            if let K::Other = key {
                self.skip_value()?;
                continue;
            }
            self.issuer_field(i, key)?;
            seen.first(key as u32)?;
        }
        Some(())
    }

    /// The value of one `sessionIssuer` field, into its place.
    #[inline(always)]
    fn issuer_field(&mut self, i: &mut SessionIssuer<'a>, key: IssuerKey) -> Fast<()> {
        use IssuerKey as K;
        match key {
            K::Type => i.kind = self.opt_str()?,
            K::PrincipalId => i.principal_id = self.opt_str()?,
            K::Arn => i.arn = self.opt_str()?,
            K::AccountId => i.account_id = self.opt_str()?,
            K::UserName => i.user_name = self.opt_str()?,
            K::Other => {
                self.skip_value()?;
            }
        }
        Some(())
    }

    fn tls_details(&mut self, slot: &mut Option<TlsDetails<'a>>) -> Fast<()> {
        use TlsKey as K;
        let Some(t) = self.open_object(slot)? else {
            return Some(());
        };
        let (mut seen, mut first) = in_order!(self.tls_field(t);
            "tlsVersion" => K::TlsVersion,
            "cipherSuite" => K::CipherSuite,
            "clientProvidedHostHeader" => K::ClientProvidedHostHeader,
        );
        while let Some(key) = self.next_key::<TlsKey>(&mut first)? {
            if let K::Other = key {
                self.skip_value()?;
                continue;
            }
            self.tls_field(t, key)?;
            seen.first(key as u32)?;
        }
        Some(())
    }

    /// The value of one `tlsDetails` field, into its place.
    #[inline(always)]
    fn tls_field(&mut self, t: &mut TlsDetails<'a>, key: TlsKey) -> Fast<()> {
        use TlsKey as K;
        match key {
            K::TlsVersion => t.tls_version = self.opt_str()?,
            K::CipherSuite => t.cipher_suite = self.opt_str()?,
            K::ClientProvidedHostHeader => t.client_provided_host_header = self.opt_str()?,
            K::Other => {
                self.skip_value()?;
            }
        }
        Some(())
    }

    fn resource(&mut self) -> Fast<Resource<'a>> {
        use ResourceKey as K;
        let mut seen = Seen::default();
        let mut r = Resource::default();
        self.expect(b'{')?;
        let mut first = true;
        while let Some(key) = self.next_key::<ResourceKey>(&mut first)? {
            match key {
                K::Arn => r.arn = self.opt_str()?,
                K::AccountId => r.account_id = self.opt_str()?,
                K::Type => r.kind = self.opt_str()?,
                K::Other => {
                    self.skip_value()?;
                    continue;
                }
            }
            seen.first(key as u32)?;
        }
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
        fn skip<const PLAIN: bool>(text: &str) -> Option<(String, usize)> {
            let mut p = Parser::<PLAIN>::new(text);
            let raw = p.raw()?;
            Some((raw.get().to_owned(), p.pos))
        }
        let general = skip::<false>(text);
        if !has_control(text.as_bytes()) {
            assert_eq!(skip::<true>(text), general, "{text:?}");
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
    fn opt_bool_reads_strings_as_lenient_does() {
        for (text, want) in [
            (r#""true""#, Some(Some(true))),
            (r#""false""#, Some(Some(false))),
            (r#""TRUE""#, Some(Some(true))),
            (r#""False""#, Some(Some(false))),
            (r#""yes""#, Some(None)),
            (r#""tru""#, Some(None)),
            (r#""truex""#, Some(None)),
            (r#""true"#, None),
            (r#""fals"#, None),
            (r#""\u0074rue""#, None),
            ("true", Some(Some(true))),
            ("false", Some(Some(false))),
            ("null", Some(None)),
        ] {
            let mut p = Parser::<false>::new(text);
            assert_eq!(p.opt_bool(), want, "{text}");
            if want.is_some() {
                assert_eq!(p.pos, text.len(), "{text}");
            }
        }
    }

    #[test]
    fn has_control_sees_every_position() {
        for len in [0, 1, 31, 32, 33, 63, 64, 65, 100, 128, 130, 200] {
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
        for from in 0..=82 {
            assert_eq!(find_quote_or_escape(&text, from), from.max(80));
        }
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

    /// A value in [`canonical`]: JSON text, or an object's fields in order.
    #[derive(Clone, Debug)]
    enum Node {
        Leaf(&'static str),
        Object(Vec<(&'static str, Node)>),
    }

    /// A record with every key [`in_order`] expects, in the order it expects them
    /// (what CloudTrail writes, and then some).
    fn canonical() -> Node {
        use Node::{Leaf, Object};
        let issuer = Object(vec![
            ("type", Leaf(r#""Role""#)),
            ("principalId", Leaf(r#""AROAEXAMPLE""#)),
            ("arn", Leaf(r#""arn:aws:iam::123456789012:role/r""#)),
            ("accountId", Leaf(r#""123456789012""#)),
            ("userName", Leaf(r#""r""#)),
        ]);
        let attributes = Object(vec![
            ("creationDate", Leaf(r#""2023-07-10T11:00:00Z""#)),
            ("mfaAuthenticated", Leaf(r#""false""#)),
        ]);
        let context = Object(vec![
            ("sessionIssuer", issuer),
            ("webIdFederationData", Leaf("{}")),
            ("attributes", attributes),
            ("sourceIdentity", Leaf(r#""me""#)),
            ("ec2RoleDelivery", Leaf(r#""2.0""#)),
        ]);
        let identity = Object(vec![
            ("type", Leaf(r#""AssumedRole""#)),
            ("principalId", Leaf(r#""AROAEXAMPLE:me""#)),
            (
                "arn",
                Leaf(r#""arn:aws:sts::123456789012:assumed-role/r/me""#),
            ),
            ("accountId", Leaf(r#""123456789012""#)),
            ("accessKeyId", Leaf(r#""ASIAEXAMPLE""#)),
            ("userName", Leaf(r#""me""#)),
            ("sessionContext", context),
            ("invokedBy", Leaf(r#""bedrock.amazonaws.com""#)),
        ]);
        let tls = Object(vec![
            ("tlsVersion", Leaf(r#""TLSv1.3""#)),
            ("cipherSuite", Leaf(r#""TLS_AES_128_GCM_SHA256""#)),
            (
                "clientProvidedHostHeader",
                Leaf(r#""bedrock.us-east-1.amazonaws.com""#),
            ),
        ]);
        Object(vec![
            ("eventVersion", Leaf(r#""1.09""#)),
            ("userIdentity", identity),
            ("eventTime", Leaf(r#""2023-07-10T11:45:02Z""#)),
            ("eventSource", Leaf(r#""bedrock.amazonaws.com""#)),
            ("eventName", Leaf(r#""InvokeModel""#)),
            ("awsRegion", Leaf(r#""us-east-1""#)),
            ("sourceIPAddress", Leaf(r#""192.0.2.1""#)),
            ("userAgent", Leaf(r#""Boto3/1.28 \"quoted\"""#)),
            ("errorCode", Leaf(r#""AccessDenied""#)),
            ("errorMessage", Leaf(r#""no \u0041ccess""#)),
            (
                "requestParameters",
                Leaf(r#"{"modelId":"m","n":[1,2.5,null]}"#),
            ),
            ("responseElements", Leaf("null")),
            ("additionalEventData", Leaf(r#"{"k":"v"}"#)),
            ("requestID", Leaf(r#""req""#)),
            ("eventID", Leaf(r#""ev""#)),
            ("readOnly", Leaf("false")),
            (
                "resources",
                Leaf(r#"[{"ARN":"a","accountId":"1","type":"t"}]"#),
            ),
            ("eventType", Leaf(r#""AwsApiCall""#)),
            ("apiVersion", Leaf(r#""2023-01-01""#)),
            ("managementEvent", Leaf(r#""true""#)),
            ("recipientAccountId", Leaf(r#""123456789012""#)),
            ("sharedEventID", Leaf(r#""shared""#)),
            ("vpcEndpointId", Leaf(r#""vpce-1""#)),
            ("serviceEventDetails", Leaf(r#"{"d":true}"#)),
            ("eventCategory", Leaf(r#""Management""#)),
            ("tlsDetails", tls),
            ("sessionCredentialFromConsole", Leaf(r#""true""#)),
        ])
    }

    /// `node` as compact JSON, with `ws` before every key and around every colon.
    fn render(node: &Node, ws: &str, out: &mut String) {
        match node {
            Node::Leaf(text) => out.push_str(text),
            Node::Object(fields) => {
                out.push('{');
                for (i, (key, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&format!("{ws}\"{key}\"{ws}:{ws}"));
                    render(value, ws, out);
                }
                out.push('}');
            }
        }
    }

    /// One change to the canonical order.
    #[derive(Clone, Debug)]
    enum Edit {
        Drop(usize),
        Swap(usize),
        Duplicate(usize, usize),
        Unknown(usize),
        Spelling(usize),
    }

    /// Applies `edit` to the object at pre-order position `which` in `node`.
    fn apply(node: &mut Node, which: &mut usize, edit: &Edit) -> bool {
        let Node::Object(fields) = node else {
            return false;
        };
        if *which == 0 {
            let n = fields.len();
            match *edit {
                _ if n == 0 => {}
                Edit::Drop(at) => {
                    fields.remove(at % n);
                }
                Edit::Swap(at) if n > 1 => fields.swap(at % (n - 1), at % (n - 1) + 1),
                Edit::Swap(_) => {}
                Edit::Duplicate(from, to) => {
                    let field = fields[from % n].clone();
                    fields.insert(to % (n + 1), field);
                }
                Edit::Unknown(at) => fields.insert(
                    at % (n + 1),
                    ("other", Node::Leaf(r#"[1,{"eventTime":"x"}]"#)),
                ),
                Edit::Spelling(at) => {
                    let (key, _) = &mut fields[at % n];
                    *key = match *key {
                        "accountId" => "accountid",
                        "accessKeyId" => "accesKeyId",
                        "sessionIssuer" => "sessionissuer",
                        "mfaAuthenticated" => "mfaauthenticated",
                        "principalId" => "principalid",
                        "userName" => "username",
                        "eventTime" => "EventTime",
                        other => other,
                    };
                }
            }
            return true;
        }
        *which -= 1;
        fields
            .iter_mut()
            .any(|(_, value)| apply(value, which, edit))
    }

    /// `records` (rendered) read by the hand-written reader and by serde: the same
    /// records, or the reader gives up. Returns whether it read them.
    fn check(records: &[String]) -> bool {
        let buf = format!(r#"{{"Records":[{}]}}"#, records.join(","));
        crate::log::fast_tests::same_as_serde(buf.as_bytes())
    }

    #[test]
    fn in_order_reads_the_canonical_record_and_every_variation_as_serde_does() {
        let mut text = String::new();
        render(&canonical(), "", &mut text);
        assert!(check(&[text.clone(), text]), "the canonical record is read");
        // Each object (pre-order: record, userIdentity, sessionContext,
        // sessionIssuer, attributes, tlsDetails), each field, each kind of edit.
        for which in 0..6 {
            for at in 0..30 {
                for edit in [
                    Edit::Drop(at),
                    Edit::Swap(at),
                    Edit::Duplicate(at, at + 1),
                    Edit::Duplicate(at, at + 7),
                    Edit::Unknown(at),
                    Edit::Spelling(at),
                ] {
                    let mut node = canonical();
                    assert!(apply(&mut node, &mut { which }, &edit));
                    for ws in ["", " ", "\n\t"] {
                        let mut text = String::new();
                        render(&node, ws, &mut text);
                        let taken = check(&[text.clone()]);
                        let duplicate = matches!(edit, Edit::Duplicate(..));
                        assert!(
                            taken || duplicate,
                            "gave up on {which} {edit:?} {ws:?}: {text}"
                        );
                    }
                }
            }
        }
    }

    fn edit() -> impl Strategy<Value = (usize, Edit)> {
        let at = 0usize..40;
        (
            0usize..6,
            prop_oneof![
                at.clone().prop_map(Edit::Drop),
                at.clone().prop_map(Edit::Swap),
                (at.clone(), at.clone()).prop_map(|(a, b)| Edit::Duplicate(a, b)),
                at.clone().prop_map(Edit::Unknown),
                at.prop_map(Edit::Spelling),
            ],
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Any number of edits anywhere, and whitespace: the hand-written reader
        /// (in order, then the general loop) reads what serde reads.
        #[test]
        fn in_order_falls_back_exactly(
            edits in prop::collection::vec(edit(), 0..6),
            ws in prop::sample::select(vec!["", "", " ", "\r\n"]),
        ) {
            let mut node = canonical();
            for (which, edit) in &edits {
                apply(&mut node, &mut { *which }, edit);
            }
            let mut text = String::new();
            render(&node, ws, &mut text);
            let taken = check(&[text.clone(), text]);
            let duplicate = edits.iter().any(|(_, e)| matches!(e, Edit::Duplicate(..)));
            prop_assert!(taken || duplicate);
        }
    }
}
