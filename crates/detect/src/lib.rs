//! Profiles, novelty and volume scoring, Bedrock rules and sequences, findings.
//!
//! Pure: no IO, no clock. Event time arrives inside each [`Observation`]; everything
//! that depends on time (decay, windows, learning periods) runs on it.
//!
//! - [`observation`]: one enriched CloudTrail event, the detector's only input, and
//!   [`call`]: the same with what the detector derives from it alone.
//! - [`finding`]: what the detector emits; the native wire schema (version 1).
//! - [`config`]: every threshold and weight, with documented defaults.
//! - [`counter`]: decayed, capped value counts and their missing mass.
//! - [`profile`]: per-principal and per-account baselines.
//! - [`novelty`], [`volume`], [`travel`]: the statistical signals.
//! - [`catalogue`], [`sequence`]: the Bedrock API catalogue, its rules and sequences.
//! - [`s3`]: the S3 locations a call names and the account's familiar buckets.
//! - [`severity`], [`suppress`], [`engine`]: combining, suppressing, aggregating.

pub mod call;
pub mod catalogue;
pub mod config;
pub mod counter;
pub mod engine;
pub mod fasthash;
pub mod finding;
pub mod novelty;
pub mod observation;
pub mod profile;
pub mod s3;
pub mod sequence;
pub mod severity;
pub mod suppress;
pub mod travel;
pub mod volume;

pub use call::Call;
pub use catalogue::{Catalogue, CatalogueError};
pub use config::{ConfigError, DetectConfig};
pub use engine::{AccountState, Assessment, Detector, OpenFinding, PrincipalState, Verdict};
pub use finding::{
    Bucket, FeatureExplanation, Finding, FindingPrincipal, Network, Severity, Signal, SignalKind,
};
pub use novelty::Baseline;
pub use observation::{Client, Geo, NetClass, Observation};
pub use profile::{Feature, Profile, ProfileSummary};
pub use s3::{Buckets, S3Ref};
pub use sequence::SequenceState;
pub use smol_str::SmolStr;
