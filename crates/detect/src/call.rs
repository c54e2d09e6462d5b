//! A call ready for the detector: an [`Observation`] and what the detector derives
//! from the observation alone (its API key and every feature's value and hash).
//!
//! None of it depends on state or configuration, so it is built where the observation
//! is, on any thread (the binary builds it while reading ahead of the pipeline), and
//! the detector's single-threaded part only reads it. The observation is reachable
//! only through [`Call::observation`], so the derived values cannot go stale.

use smol_str::SmolStr;

use crate::observation::Observation;
use crate::profile::{Feature, FeatureValue, FeatureValues, api_key};

/// An observation with its API key and feature values.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    obs: Observation,
    /// [`api_key`] of `obs`.
    api: SmolStr,
    values: FeatureValues,
}

impl Call {
    /// Derives what the detector needs from `obs`.
    pub fn new(obs: Observation) -> Self {
        let api = api_key(&obs);
        let values = Feature::ALL.map(|f| f.value_in(&obs, Some(&api)).map(FeatureValue::new));
        Self { obs, api, values }
    }

    /// The observation.
    pub fn observation(&self) -> &Observation {
        &self.obs
    }

    /// `eventSource:eventName` without `.amazonaws.com` ([`api_key`]).
    pub fn api(&self) -> &str {
        &self.api
    }

    /// Every feature's value, with the hash its counters look it up by.
    pub fn values(&self) -> &FeatureValues {
        &self.values
    }
}
