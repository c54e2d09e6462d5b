//! Finding encoders (pure) and transports (IO): file, stdout, syslog, HTTP/HEC.
//!
//! - [`encode`]: `Finding` to bytes, one module per format (native, OCSF, ASFF, CEF,
//!   ECS), pure and pinned by golden files.
//! - [`transport`]: where the bytes go (file, stdout, syslog, HTTP and Splunk HEC).
//! - [`outbox`] and [`drain`]: the per-sink loop that moves findings from the
//!   durable outbox to a transport, acking only what the receiver acknowledged.
//! - [`config`]: the `[[sinks]]` tables and their validation.
//! - [`bench`]: throughput of every encoder and transport, and of a drain after an outage.

pub mod bench;
pub mod config;
pub mod drain;
pub mod encode;
pub mod outbox;
pub mod receiver;
pub mod sample;
pub mod transport;

pub use config::{ConfigIssue, DrainConfig, SinkConfig, validate};
pub use drain::{Drain, DrainError, DrainMetrics, RunningSink, Step, spawn_all};
pub use encode::{EncodeContext, EncodeError, Encoding};
pub use outbox::{MemoryOutbox, Outbox, OutboxEntry, OutboxError};
pub use transport::{AnyTransport, BuildError, Encoded, SendError, Transport};
