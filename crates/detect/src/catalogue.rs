//! The Bedrock API catalogue: groups of APIs, single-call rules and sequences.
//!
//! Shipped as `models/bedrock-catalogue.toml` (compiled in by [`Catalogue::builtin`]),
//! replaceable by a file of the same shape. [`Catalogue::from_toml`] validates the whole
//! thing and lists every problem.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The catalogue shipped with bedguard.
pub const BUILTIN_TOML: &str = include_str!("../../../models/bedrock-catalogue.toml");

/// The only catalogue format version this build reads.
pub const CATALOGUE_VERSION: u32 = 1;

/// One problem in a catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{path}: {message}")]
pub struct CatalogueError {
    /// Where: `group[2].apis[0]`, `sequence[1].steps`, ...
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// A group of APIs with a shared meaning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// `recon`, `enablement`, `evasion`, `invocation`, `customization`, `keys`.
    pub name: String,
    /// Finding type of anomalies whose triggering call is in this group.
    pub finding_type: String,
    /// Prior suspicion of a call in this group, in bits.
    #[serde(default)]
    pub bits: f64,
    /// `source:EventName`.
    pub apis: Vec<String>,
}

/// A condition on a call beyond its API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum When {
    /// The record names another account as the owner of an output bucket (a sibling
    /// owner field of the output location, or the `accountId` of its `resources` entry).
    OutputExternal,
    /// An output bucket the account has never been seen to use, other than the call's
    /// own input bucket (see [`crate::s3`]).
    OutputUnfamiliar,
}

/// A call that makes AWS write data to an S3 location named in its request: which
/// request fields hold the output location, and which hold its inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Output {
    /// `source:EventName`.
    pub api: String,
    /// Dotted `requestParameters` paths of output locations, array indices dropped
    /// (`outputDataConfig.s3OutputDataConfig.s3Uri`).
    pub outputs: Vec<String>,
    /// The same for the call's input locations: output into one of them is as
    /// trusted as the input.
    #[serde(default)]
    pub inputs: Vec<String>,
    /// What is written, for explanations: `custom model artefacts`.
    pub what: String,
}

/// A single call that matters in itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Stable id, reported as the signal name.
    pub id: String,
    /// APIs it applies to.
    pub apis: Vec<String>,
    /// Extra condition.
    #[serde(default)]
    pub when: Option<When>,
    /// Finding type.
    pub finding_type: String,
    /// Least severity of the finding.
    #[serde(default)]
    pub floor: f64,
    /// Evidence, in bits, added to the call's novelty.
    #[serde(default)]
    pub bits: f64,
    /// One sentence a person reads.
    pub detail: String,
}

/// How a sequence joins calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SequenceKind {
    /// Groups in order within a window.
    Chain,
    /// A call of one group soon after one of some APIs.
    After,
    /// Bursts of failed calls across models or regions.
    Probe,
}

/// Calls joined per principal over time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sequence {
    /// Stable id, reported as the signal name.
    pub id: String,
    /// How it joins.
    pub kind: SequenceKind,
    /// Chain: groups in order.
    #[serde(default)]
    pub steps: Vec<String>,
    /// Chain: the last step must invoke a model new to the principal.
    #[serde(default)]
    pub new_model: bool,
    /// After: the APIs that open the window.
    #[serde(default)]
    pub after: Vec<String>,
    /// After: the group of calls that close it.
    #[serde(default)]
    pub then: Option<String>,
    /// Probe: error codes that count.
    #[serde(default)]
    pub errors: Vec<String>,
    /// Finding type.
    pub finding_type: String,
    /// Least severity of the finding.
    #[serde(default)]
    pub floor: f64,
    /// Evidence, in bits.
    #[serde(default)]
    pub bits: f64,
    /// One sentence a person reads.
    pub detail: String,
}

/// The whole catalogue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalogue {
    /// Format version; must be [`CATALOGUE_VERSION`].
    pub version: u32,
    /// API groups.
    #[serde(default, rename = "group")]
    pub groups: Vec<Group>,
    /// Single-call rules.
    #[serde(default, rename = "rule")]
    pub rules: Vec<Rule>,
    /// Sequences.
    #[serde(default, rename = "sequence")]
    pub sequences: Vec<Sequence>,
    /// Calls that write to S3 locations their request names.
    #[serde(default, rename = "output")]
    pub outputs: Vec<Output>,
}

/// The fallback finding type of a Bedrock call in no group.
pub const DEFAULT_FINDING_TYPE: &str = "Bedrock:IAMUser/AnomalousBehavior";

impl Catalogue {
    /// The shipped catalogue. It is validated by a test, so failure here is a build bug;
    /// it still degrades to an empty catalogue rather than panicking.
    pub fn builtin() -> Self {
        Self::from_toml(BUILTIN_TOML).unwrap_or(Self {
            version: CATALOGUE_VERSION,
            groups: vec![],
            rules: vec![],
            sequences: vec![],
            outputs: vec![],
        })
    }

    /// Parse and validate.
    pub fn from_toml(s: &str) -> Result<Self, Vec<CatalogueError>> {
        let c: Catalogue = toml::from_str(s).map_err(|e| {
            vec![CatalogueError {
                path: "(toml)".into(),
                message: e.to_string(),
            }]
        })?;
        let errs = c.validate();
        if errs.is_empty() { Ok(c) } else { Err(errs) }
    }

    /// The group an API (`source:EventName`) belongs to.
    pub fn group_of(&self, api: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.apis.iter().any(|a| a == api))
    }

    /// The output description of an API, when it writes to S3 locations it names.
    pub fn output_of(&self, api: &str) -> Option<&Output> {
        self.outputs.iter().find(|o| o.api == api)
    }

    /// Whether an API is in the catalogue at all.
    pub fn knows(&self, api: &str) -> bool {
        self.group_of(api).is_some()
    }

    /// Every problem; empty when valid.
    pub fn validate(&self) -> Vec<CatalogueError> {
        let mut errs = Vec::new();
        let mut bad = |path: String, message: String| errs.push(CatalogueError { path, message });
        if self.version != CATALOGUE_VERSION {
            bad(
                "version".into(),
                format!(
                    "{} is not supported (expected {CATALOGUE_VERSION})",
                    self.version
                ),
            );
        }
        let mut names = BTreeSet::new();
        let mut apis = BTreeSet::new();
        for (i, g) in self.groups.iter().enumerate() {
            if g.name.is_empty() || !names.insert(g.name.as_str()) {
                bad(
                    format!("group[{i}].name"),
                    format!("{:?} is empty or repeated", g.name),
                );
            }
            if !valid_type(&g.finding_type) {
                bad(
                    format!("group[{i}].finding_type"),
                    bad_type(&g.finding_type),
                );
            }
            if !(g.bits.is_finite() && g.bits >= 0.0) {
                bad(
                    format!("group[{i}].bits"),
                    "must be a non-negative number".into(),
                );
            }
            for (j, a) in g.apis.iter().enumerate() {
                if !valid_api(a) {
                    bad(
                        format!("group[{i}].apis[{j}]"),
                        format!("{a:?} is not source:EventName"),
                    );
                } else if !apis.insert(a.as_str()) {
                    bad(
                        format!("group[{i}].apis[{j}]"),
                        format!("{a:?} is in more than one group"),
                    );
                }
            }
        }
        let mut ids = BTreeSet::new();
        let mut check_common = |bad: &mut dyn FnMut(String, String),
                                p: &str,
                                id: &str,
                                ft: &str,
                                floor: f64,
                                bits: f64| {
            if id.is_empty() || !ids.insert(id.to_string()) {
                bad(format!("{p}.id"), format!("{id:?} is empty or repeated"));
            }
            if !valid_type(ft) {
                bad(format!("{p}.finding_type"), bad_type(ft));
            }
            if !(floor.is_finite() && (0.0..=10.0).contains(&floor)) {
                bad(format!("{p}.floor"), "must be in 0..=10".into());
            }
            if !(bits.is_finite() && bits >= 0.0) {
                bad(format!("{p}.bits"), "must be a non-negative number".into());
            }
        };
        let mut output_apis = BTreeSet::new();
        for (i, o) in self.outputs.iter().enumerate() {
            let p = format!("output[{i}]");
            if !apis.contains(o.api.as_str()) {
                bad(format!("{p}.api"), format!("{:?} is in no group", o.api));
            } else if !output_apis.insert(o.api.as_str()) {
                bad(
                    format!("{p}.api"),
                    format!("{:?} is described twice", o.api),
                );
            }
            if o.outputs.is_empty() {
                bad(format!("{p}.outputs"), "is empty".into());
            }
            for (k, list) in [("outputs", &o.outputs), ("inputs", &o.inputs)] {
                for (j, f) in list.iter().enumerate() {
                    if !valid_field(f) {
                        bad(
                            format!("{p}.{k}[{j}]"),
                            format!("{f:?} is not a dotted requestParameters path"),
                        );
                    }
                }
            }
        }
        for (i, r) in self.rules.iter().enumerate() {
            let p = format!("rule[{i}]");
            check_common(&mut bad, &p, &r.id, &r.finding_type, r.floor, r.bits);
            if r.apis.is_empty() {
                bad(format!("{p}.apis"), "is empty".into());
            }
            for (j, a) in r.apis.iter().enumerate() {
                if !apis.contains(a.as_str()) {
                    bad(format!("{p}.apis[{j}]"), format!("{a:?} is in no group"));
                } else if r.when.is_some() && !output_apis.contains(a.as_str()) {
                    bad(
                        format!("{p}.apis[{j}]"),
                        format!("{a:?} has no [[output]] entry for `when` to judge"),
                    );
                }
            }
        }
        for (i, s) in self.sequences.iter().enumerate() {
            let p = format!("sequence[{i}]");
            check_common(&mut bad, &p, &s.id, &s.finding_type, s.floor, s.bits);
            match s.kind {
                SequenceKind::Chain => {
                    if s.steps.len() < 2 || s.steps.len() > 8 {
                        bad(format!("{p}.steps"), "a chain needs 2 to 8 steps".into());
                    }
                    for (j, g) in s.steps.iter().enumerate() {
                        if !names.contains(g.as_str()) {
                            bad(format!("{p}.steps[{j}]"), format!("{g:?} is not a group"));
                        }
                    }
                }
                SequenceKind::After => {
                    if s.after.is_empty() {
                        bad(format!("{p}.after"), "is empty".into());
                    }
                    for (j, a) in s.after.iter().enumerate() {
                        if !apis.contains(a.as_str()) {
                            bad(format!("{p}.after[{j}]"), format!("{a:?} is in no group"));
                        }
                    }
                    match &s.then {
                        Some(g) if names.contains(g.as_str()) => {}
                        other => bad(format!("{p}.then"), format!("{other:?} is not a group")),
                    }
                }
                SequenceKind::Probe => {
                    if s.errors.is_empty() {
                        bad(format!("{p}.errors"), "is empty".into());
                    }
                }
            }
        }
        errs
    }
}

fn valid_api(a: &str) -> bool {
    match a.split_once(':') {
        Some((src, name)) => {
            !src.is_empty()
                && !name.is_empty()
                && src
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
                && name.bytes().all(|b| b.is_ascii_alphanumeric())
        }
        None => false,
    }
}

/// `a.b.c`: non-empty ASCII identifiers joined by dots.
fn valid_field(f: &str) -> bool {
    !f.is_empty()
        && f.split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
}

/// `ThreatPurpose:ResourceType/ThreatFamily`, GuardDuty's shape.
fn valid_type(t: &str) -> bool {
    match t.split_once(':') {
        Some((purpose, rest)) => match rest.split_once('/') {
            Some((res, fam)) => [purpose, res, fam].iter().all(|p| {
                !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            }),
            None => false,
        },
        None => false,
    }
}

fn bad_type(t: &str) -> String {
    format!("{t:?} is not ThreatPurpose:ResourceType/ThreatFamily")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_is_valid_and_complete() {
        let c = Catalogue::from_toml(BUILTIN_TOML).unwrap();
        assert_eq!(c, Catalogue::builtin());
        for g in [
            "recon",
            "enablement",
            "evasion",
            "invocation",
            "customization",
            "keys",
        ] {
            assert!(c.groups.iter().any(|x| x.name == g), "{g}");
        }
        assert_eq!(
            c.group_of("bedrock:InvokeModel").unwrap().name,
            "invocation"
        );
        assert_eq!(
            c.group_of("bedrock:ListFoundationModels").unwrap().name,
            "recon"
        );
        assert_eq!(
            c.group_of("bedrock:DeleteModelInvocationLoggingConfiguration")
                .unwrap()
                .name,
            "evasion"
        );
        assert_eq!(
            c.group_of("bedrock:PutUseCaseForModelAccess").unwrap().name,
            "enablement"
        );
        assert!(c.group_of("s3:GetObject").is_none());
    }

    #[test]
    fn invalid_catalogue_lists_every_problem() {
        let s = r#"
version = 2
[[group]]
name = "a"
finding_type = "nope"
apis = ["bedrock:X", "bad api"]
[[group]]
name = "a"
finding_type = "A:B/C"
apis = ["bedrock:X"]
[[rule]]
id = "r"
apis = ["bedrock:Y"]
finding_type = "A:B/C"
floor = 11.0
detail = "d"
[[sequence]]
id = "r"
kind = "chain"
steps = ["a", "zzz"]
finding_type = "A:B/C"
detail = "d"
[[sequence]]
id = "s"
kind = "after"
after = []
finding_type = "A:B/C"
detail = "d"
"#;
        let paths: Vec<String> = Catalogue::from_toml(s)
            .unwrap_err()
            .into_iter()
            .map(|e| e.path)
            .collect();
        assert_eq!(
            paths,
            vec![
                "version",
                "group[0].finding_type",
                "group[0].apis[1]",
                "group[1].name",
                "group[1].apis[0]",
                "rule[0].floor",
                "rule[0].apis[0]",
                "sequence[0].id",
                "sequence[0].steps[1]",
                "sequence[1].after",
                "sequence[1].then",
            ]
        );
    }

    #[test]
    fn outputs_name_request_fields_and_rules_need_them() {
        let c = Catalogue::builtin();
        let o = c.output_of("bedrock:CreateModelCustomizationJob").unwrap();
        assert_eq!(o.outputs, ["outputDataConfig.s3Uri"]);
        assert!(o.inputs.iter().any(|f| f == "trainingDataConfig.s3Uri"));
        assert_eq!(
            c.output_of("bedrock:CreateModelInvocationJob")
                .unwrap()
                .outputs,
            ["outputDataConfig.s3OutputDataConfig.s3Uri"]
        );
        assert!(c.output_of("bedrock:InvokeModel").is_none());
        for r in c.rules.iter().filter(|r| r.when.is_some()) {
            for a in &r.apis {
                assert!(c.output_of(a).is_some(), "{} {a}", r.id);
            }
        }
        let s = r#"
version = 1
[[group]]
name = "g"
finding_type = "A:B/C"
apis = ["bedrock:X", "bedrock:Y"]
[[rule]]
id = "r"
apis = ["bedrock:Y"]
when = "output_unfamiliar"
finding_type = "A:B/C"
detail = "d"
[[output]]
api = "bedrock:X"
outputs = ["a..b"]
what = "w"
[[output]]
api = "bedrock:Z"
outputs = []
what = "w"
"#;
        let paths: Vec<String> = Catalogue::from_toml(s)
            .unwrap_err()
            .into_iter()
            .map(|e| e.path)
            .collect();
        assert_eq!(
            paths,
            vec![
                "output[0].outputs[0]",
                "output[1].api",
                "output[1].outputs",
                "rule[0].apis[0]",
            ]
        );
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let s = "version = 1\nextra = true\n";
        assert!(Catalogue::from_toml(s).is_err());
    }
}
