//! What can be injected into a simulated organisation, and the labels that say where.

use serde::{Deserialize, Serialize};

/// An attack or a benign behaviour change injected after the warm-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ScenarioKind {
    /// A stolen long-term key: recon, model enablement, then bursts of invocations of an
    /// expensive, never-used model from a VPS with a generic client, across regions.
    LlmjackingStolenKey,
    /// `DeleteModelInvocationLoggingConfiguration`, then invocations.
    LoggingDisabled,
    /// `DeleteGuardrail` / `UpdateGuardrail`, then invocations.
    GuardrailDeleted,
    /// A service role's session credentials used from a hosting range with another client.
    ExfiltratedRoleCredentials,
    /// A principal's own place and client, 20-50x its hourly invocation rate for hours.
    VolumeSpike,
    /// `CreateModelCustomizationJob` writing its output to another account's bucket.
    CustomizationToForeignBucket,
    /// A new ASN and a new user agent, with the usual model at the usual volume.
    SubtleNewAsnNewUa,
    /// Model-access enablement calls (use case, agreement, entitlement) without invocations.
    ModelAccessEnablement,
    /// Short probes of many regions, mostly failing.
    RegionFanOutProbing,
    /// Benign: the same SDK family, a new major version.
    SdkUpgrade,
    /// Benign: a person works from another US city for a few days.
    TravelWithinCountry,
    /// Benign: a new Identity Center person who behaves like their team.
    NewJoiner,
    /// Benign: a newer version of the same model family.
    NewModelAdoption,
    /// Benign: a service role moves to its paired region for a day.
    RegionFailover,
}

const ALL: [ScenarioKind; 14] = [
    ScenarioKind::LlmjackingStolenKey,
    ScenarioKind::LoggingDisabled,
    ScenarioKind::GuardrailDeleted,
    ScenarioKind::ExfiltratedRoleCredentials,
    ScenarioKind::VolumeSpike,
    ScenarioKind::CustomizationToForeignBucket,
    ScenarioKind::SubtleNewAsnNewUa,
    ScenarioKind::ModelAccessEnablement,
    ScenarioKind::RegionFanOutProbing,
    ScenarioKind::SdkUpgrade,
    ScenarioKind::TravelWithinCountry,
    ScenarioKind::NewJoiner,
    ScenarioKind::NewModelAdoption,
    ScenarioKind::RegionFailover,
];

impl ScenarioKind {
    /// True for attacks, false for benign drift.
    pub fn is_attack(self) -> bool {
        !matches!(
            self,
            Self::SdkUpgrade
                | Self::TravelWithinCountry
                | Self::NewJoiner
                | Self::NewModelAdoption
                | Self::RegionFailover
        )
    }

    /// Every scenario, attacks first.
    pub fn all() -> &'static [ScenarioKind] {
        &ALL
    }

    /// A stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LlmjackingStolenKey => "llmjacking_stolen_key",
            Self::LoggingDisabled => "logging_disabled",
            Self::GuardrailDeleted => "guardrail_deleted",
            Self::ExfiltratedRoleCredentials => "exfiltrated_role_credentials",
            Self::VolumeSpike => "volume_spike",
            Self::CustomizationToForeignBucket => "customization_to_foreign_bucket",
            Self::SubtleNewAsnNewUa => "subtle_new_asn_new_ua",
            Self::ModelAccessEnablement => "model_access_enablement",
            Self::RegionFanOutProbing => "region_fan_out_probing",
            Self::SdkUpgrade => "sdk_upgrade",
            Self::TravelWithinCountry => "travel_within_country",
            Self::NewJoiner => "new_joiner",
            Self::NewModelAdoption => "new_model_adoption",
            Self::RegionFailover => "region_failover",
        }
    }
}

/// Where one injected scenario is in the output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    /// What was injected.
    pub scenario: ScenarioKind,
    /// The principal key, as `cloudtrail::identity::principal` computes it.
    pub principal: String,
    /// Every event the scenario produced (attacks) or changed (drift), in time order.
    pub event_ids: Vec<String>,
    /// First event time (epoch ms); the planned start when there were no events.
    pub start_ms: i64,
    /// Last event time (epoch ms); the planned end when there were no events.
    pub end_ms: i64,
    /// The account the principal belongs to.
    pub account_id: String,
    /// A sentence on what was done (attacker range, client, models, ...).
    pub detail: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_attacks_come_first() {
        let names: std::collections::BTreeSet<&str> =
            ScenarioKind::all().iter().map(|k| k.as_str()).collect();
        assert_eq!(names.len(), ScenarioKind::all().len());
        let attacks: Vec<bool> = ScenarioKind::all().iter().map(|k| k.is_attack()).collect();
        assert_eq!(attacks.iter().filter(|a| **a).count(), 9);
        assert!(attacks.windows(2).all(|w| w[0] >= w[1]));
    }
}
