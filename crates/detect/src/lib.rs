//! Profiles, novelty and volume scoring, Bedrock rules and sequences, findings.
//!
//! Pure: no IO, no clock. Event time arrives inside each [`Observation`]; everything
//! that depends on time (decay, windows, learning periods) runs on it.
//!
//! - [`observation`]: one enriched CloudTrail event, the detector's only input.
//! - [`finding`]: what the detector emits; the native wire schema (version 1).

pub mod finding;
pub mod observation;

pub use finding::{
    Bucket, FeatureExplanation, Finding, FindingPrincipal, Network, Severity, Signal, SignalKind,
};
pub use observation::{Client, Geo, NetClass, Observation};
