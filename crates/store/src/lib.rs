//! The only crate that knows sled: profiles, processed objects, dedup, outbox.
