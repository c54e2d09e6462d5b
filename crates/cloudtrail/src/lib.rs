//! CloudTrail records, log files, notifications and principals: pure, no IO, no clock.
//!
//! - [`time`]: the `eventTime` formats real logs carry, to epoch milliseconds.
//! - [`record`]: one event, borrowed from the decompressed buffer.
//! - [`log`]: decompression, log-file decoding (fast typed pass, per-record fallback),
//!   S3 key classification. Its hot path, a hand-written reader of the usual
//!   `{"Records":[...]}` shape that gives up to serde on anything else, is `fast`.
//! - [`identity`]: who made a call (principal key), with what credential, and whether
//!   it is a Bedrock call.
//! - [`notification`]: every shape of message that announces a new log object.

mod fast;
pub mod identity;
mod lenient;
pub mod log;
pub mod notification;
pub mod record;
pub mod time;

pub use identity::{
    BedrockSurface, CredentialClass, Principal, PrincipalKind, bedrock_surface, credential_class,
    principal,
};
pub use log::{
    BadRecordReason, KeyKind, LogError, LogFile, LogKey, RecordError, classify_key, decompress,
    parse_log,
};
pub use notification::{Notification, NotificationError, ObjectRef, decode_notification};
pub use record::Record;

#[cfg(test)]
mod tests;
