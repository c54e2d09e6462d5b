//! CloudTrail records, log files, notifications and principals: pure, no IO, no clock.
//!
//! - [`time`]: the `eventTime` formats real logs carry, to epoch milliseconds.
//! - [`identity`]: who made a call (principal key), with what credential, and whether
//!   it is a Bedrock call.
//! - [`notification`]: every shape of message that announces a new log object.

pub mod identity;
pub mod notification;
pub mod time;

pub use identity::{BedrockSurface, CredentialClass, PrincipalKind};
pub use notification::ObjectRef;
