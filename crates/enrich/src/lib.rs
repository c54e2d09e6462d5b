//! GeoIP (maxminddb) and user-agent normalisation.
//!
//! * [`classify_source`] sorts a CloudTrail `sourceIPAddress` into public, reserved, AWS
//!   service or invalid.
//! * [`Enricher`] geolocates public addresses with MaxMind-format city and ASN databases
//!   (GeoIP2, GeoLite2, DB-IP lite), caches answers per address, and picks up a database
//!   replaced on disk ([`Enricher::reload_if_changed`]).
//! * [`UaRules`] normalises user agents with rules kept as data in
//!   `models/useragents.toml`.
//! * With the `writer` feature, [`demo`] writes the project's demo databases.

mod cache;
#[cfg(any(test, feature = "writer"))]
pub mod demo;
mod error;
mod geoip;
mod source;
mod ua;

pub use cache::CacheStats;
pub use error::EnrichError;
pub use geoip::{
    DEFAULT_ASN_DB, DEFAULT_CACHE_ENTRIES, DEFAULT_CITY_DB, Enricher, GeoIpConfig, GeoLookup,
};
pub use source::{classify_source, is_reserved};
pub use ua::{BUILTIN_RULES, RULES_VERSION, UNKNOWN_FAMILY, UaRules};
