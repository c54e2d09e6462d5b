//! The only crate that knows sled: profiles, processed objects, dedup, outbox, meta.
//!
//! One [`Store`] is one sled database with one sled tree, in which the five logical
//! trees are keyspaces of a one-byte key prefix ([`space`]; layouts in [`keys`]). All
//! effects of one CloudTrail object go through [`Store::commit`] as one
//! [`ObjectBatch`], applied as a single [`sled::Batch`] on that tree: the profiles, the event ids for dedup, the
//! findings for every sink's outbox, meta values such as a backfill cursor, and the
//! object's processed mark become visible together or not at all, and a second commit
//! of the same object changes nothing. Values carry a version byte ([`codec`]);
//! profiles are generic serde values.
//!
//! # Durability
//!
//! sled keeps committed writes in its in-memory log buffer and writes + fsyncs them on
//! its own every `flush_every_ms` (default 100 ms). A commit is durable once a flush
//! started after it returns. The daemon therefore awaits [`Store::flush_async`] after
//! [`Store::commit`] and only then deletes the SQS message (invariant 4). A crash
//! (kill -9, OOM, power loss) loses at most the commits made since the last completed
//! flush. Each lost commit is lost whole: sled recovers a batch atomically, so
//! no object is half-applied. The lost object's SQS message was never deleted, so SQS
//! redelivers it after the visibility timeout; its processed mark is gone too, so it is
//! processed again and its profile updates, dedup entries and findings are applied
//! exactly once. Outbox acks, failure counts and `put_meta` values written outside a
//! commit become durable at the next flush as well: a crash can make a sink resend a
//! finding it already delivered (at-least-once), never drop one (invariant 5).
//!
//! A commit of more than [`StoreOptions::commit_chunk_writes`] writes is atomic through a
//! redo journal rather than one sled batch, which bounds the memory sled holds while
//! applying it: see [`writes`].
//!
//! `Tree::apply_batch` takes the same log reservation as a multi-tree transaction
//! (sled 0.34 `tree.rs`: `pin_log` before the writes, `seal_batch` after; recovery
//! applies the writes logged in between all or none), without the transaction's
//! write overlay and read set; commits are serialised by the store's commit lock, so
//! the processed-mark check and the outbox sequence are read under it.

mod batch;
mod cache;
pub mod codec;
mod dedup;
mod error;
pub mod keys;
mod outbox;
mod space;
mod store;
#[cfg(test)]
mod tests;
mod writes;

pub use batch::{CommitStats, ObjectBatch, ObjectMark};
pub use dedup::EventHash;
pub use error::StoreError;
pub use keys::{ObjectId, ProfileKey, ProfileScope};
pub use outbox::{OutboxEntry, OutboxStats};
pub use store::{ProcessedObject, SCHEMA_VERSION, Store, StoreOptions, TreeStats};
