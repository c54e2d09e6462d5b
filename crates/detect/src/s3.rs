//! S3 locations a call names, and the account's familiar buckets.
//!
//! An account's own buckets are observable in its own CloudTrail: S3 management calls
//! name them (`requestParameters.bucketName`, `resources` entries
//! `arn:aws:s3:::bucket` with the owner's `accountId`), and Bedrock requests name the
//! S3 locations they read and write (`trainingDataConfig.s3Uri`,
//! `loggingConfig.s3Config.bucketName`, ...). [`references`] extracts them all, with
//! the request field each came from, without knowing any API: which field of which
//! API is an *output* is catalogue knowledge (`[[output]]` in
//! `models/bedrock-catalogue.toml`).
//!
//! [`Buckets`] is the account's bounded, decayed set of buckets it has been seen to
//! use. A job that writes to a bucket outside that set, other than its own input
//! bucket, is sending data somewhere the account has never been seen to work with.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::counter::DecayedCounts;

/// Most references kept per call.
pub const MAX_REFS: usize = 16;
/// Deepest nesting of `requestParameters` walked.
const MAX_DEPTH: usize = 12;
/// The `field` of a reference that came from the record's `resources`.
pub const RESOURCES_FIELD: &str = "resources";

/// Sibling keys that name the account owning the bucket of an S3 location in the
/// same object (`s3BucketOwner` of batch inference, `bucketOwner` of async invoke,
/// `expectedBucketOwner` of several APIs). Generic AWS naming, not API knowledge.
const OWNER_KEYS: [&str; 3] = ["s3BucketOwner", "bucketOwner", "expectedBucketOwner"];

/// One S3 bucket a call names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct S3Ref {
    /// Where in the record: a dotted `requestParameters` path with array indices
    /// dropped (`validationDataConfig.validators.s3Uri`), or `resources`.
    pub field: String,
    /// The bucket name.
    pub bucket: String,
    /// The owning account, when the record says (a sibling owner key or the
    /// `accountId` of a `resources` entry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

/// The bucket of an `s3://bucket/key` URI.
pub fn bucket_of_uri(uri: &str) -> Option<&str> {
    let rest = uri.trim().strip_prefix("s3://")?;
    let b = rest.split('/').next().unwrap_or_default();
    valid_bucket(b).then_some(b)
}

/// The bucket of an `arn:<partition>:s3:::bucket[/key]` ARN.
pub fn bucket_of_arn(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(_), Some("s3"), Some(""), Some(""), Some(res)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let b = res.split('/').next().unwrap_or_default();
    valid_bucket(b).then_some(b)
}

/// A plausible bucket name: 3 to 255 characters (legacy names were longer than
/// today's 63), no slash, no space.
fn valid_bucket(b: &str) -> bool {
    (3..=255).contains(&b.len()) && !b.bytes().any(|c| c == b'/' || c.is_ascii_whitespace())
}

fn account_id(s: &str) -> Option<String> {
    let s = s.trim();
    (s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.to_string())
}

/// Every S3 bucket a record names: `s3://` URIs and `bucketName` values anywhere in
/// `requestParameters` (raw JSON), and S3 ARNs in `resources` (`(ARN, accountId)`
/// pairs). At most [`MAX_REFS`], in record order, duplicates (same field and bucket)
/// dropped. Cheap when nothing is there: the JSON is parsed only when its text
/// mentions `s3://` or a bucket key.
pub fn references<'a>(
    request_parameters: Option<&str>,
    resources: impl IntoIterator<Item = (Option<&'a str>, Option<&'a str>)>,
) -> Vec<S3Ref> {
    let mut out = Vec::new();
    if let Some(raw) = request_parameters
        && (raw.contains("s3://") || raw.contains("ucketName") || raw.contains("ucketOwner"))
        && let Ok(v) = serde_json::from_str::<Value>(raw)
    {
        let mut path = String::new();
        walk(&v, &mut path, "", None, 0, &mut out);
    }
    for (arn, owner) in resources {
        let Some(bucket) = arn.and_then(bucket_of_arn) else {
            continue;
        };
        push(
            &mut out,
            S3Ref {
                field: RESOURCES_FIELD.to_string(),
                bucket: bucket.to_string(),
                owner: owner.and_then(account_id),
            },
        );
    }
    out
}

fn push(out: &mut Vec<S3Ref>, r: S3Ref) {
    if out.len() < MAX_REFS
        && !out
            .iter()
            .any(|x| x.field == r.field && x.bucket == r.bucket)
    {
        out.push(r);
    }
}

/// Walk `v`, found under `key` (the last path segment) in an object whose owner
/// field says `owner`.
fn walk(
    v: &Value,
    path: &mut String,
    key: &str,
    owner: Option<&str>,
    depth: usize,
    out: &mut Vec<S3Ref>,
) {
    if depth > MAX_DEPTH || out.len() >= MAX_REFS {
        return;
    }
    match v {
        Value::String(s) => {
            let bucket = if s.starts_with("s3://") {
                bucket_of_uri(s)
            } else if key == "bucketName" || key == "bucket" {
                Some(s.as_str()).filter(|b| valid_bucket(b))
            } else {
                None
            };
            if let Some(b) = bucket {
                push(
                    out,
                    S3Ref {
                        field: path.clone(),
                        bucket: b.to_string(),
                        owner: owner.map(str::to_string),
                    },
                );
            }
        }
        Value::Array(items) => {
            for item in items {
                walk(item, path, key, owner, depth + 1, out);
            }
        }
        Value::Object(map) => {
            let own = OWNER_KEYS
                .iter()
                .find_map(|k| map.get(*k).and_then(Value::as_str).and_then(account_id));
            for (k, child) in map {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                walk(child, path, k, own.as_deref(), depth + 1, out);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

/// The buckets an account has been seen to use: decayed active-hour counts, capped
/// (the heaviest stay), like every other baseline.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Buckets {
    /// Bucket names.
    pub counts: DecayedCounts<String>,
}

/// How an output bucket relates to the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputJudgement {
    /// The record names another account as the bucket's owner.
    External {
        /// The bucket.
        bucket: String,
        /// Its owner.
        owner: String,
    },
    /// The account has never been seen to use the bucket, and it is not the job's
    /// own input bucket.
    Unfamiliar {
        /// The bucket.
        bucket: String,
        /// Distinct buckets the account has been seen to use.
        known: u32,
    },
    /// Owned by the account, its input bucket, or one it uses.
    Familiar,
    /// Not enough knowledge of the account's buckets to tell.
    Unknown,
}

impl Buckets {
    /// Learn the buckets of one call, except those the record says belong to another
    /// account.
    pub fn observe(
        &mut self,
        refs: &[S3Ref],
        account: &str,
        at_ms: i64,
        half_life_ms: f64,
        cap: usize,
    ) {
        for r in refs {
            if r.owner.as_deref().is_none_or(|o| o == account) {
                self.counts.observe(&r.bucket, at_ms, half_life_ms, cap);
            }
        }
    }

    /// Whether the account has been seen to use `bucket`.
    pub fn knows(&self, bucket: &str) -> bool {
        self.counts.count(&bucket.to_string()).is_some()
    }

    /// Distinct buckets tracked.
    pub fn len(&self) -> usize {
        self.counts.items.len()
    }

    /// Whether no bucket was ever learned.
    pub fn is_empty(&self) -> bool {
        self.counts.items.is_empty()
    }

    /// Judge the output locations of one call. `outputs` and `inputs` are the
    /// catalogue's request fields for the call's API; `refs` the call's references;
    /// `min_known`: fewer known buckets than this and unfamiliarity is not judged.
    pub fn judge(
        &self,
        refs: &[S3Ref],
        outputs: &[String],
        inputs: &[String],
        account: &str,
        min_known: usize,
    ) -> OutputJudgement {
        let mut verdict = OutputJudgement::Familiar;
        let mut any = false;
        for out in refs.iter().filter(|r| outputs.contains(&r.field)) {
            any = true;
            // The owner, from the request itself or from `resources`.
            let owner = out.owner.clone().or_else(|| {
                refs.iter()
                    .filter(|r| r.field == RESOURCES_FIELD && r.bucket == out.bucket)
                    .find_map(|r| r.owner.clone())
            });
            match owner {
                Some(o) if o != account => {
                    return OutputJudgement::External {
                        bucket: out.bucket.clone(),
                        owner: o,
                    };
                }
                Some(_) => continue,
                None => {}
            }
            let is_input = refs
                .iter()
                .any(|r| inputs.contains(&r.field) && r.bucket == out.bucket);
            if is_input || self.knows(&out.bucket) {
                continue;
            }
            if self.len() < min_known.max(1) {
                if verdict == OutputJudgement::Familiar {
                    verdict = OutputJudgement::Unknown;
                }
                continue;
            }
            verdict = OutputJudgement::Unfamiliar {
                bucket: out.bucket.clone(),
                known: self.len() as u32,
            };
        }
        if any {
            verdict
        } else {
            OutputJudgement::Unknown
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCT: &str = "111122223333";
    const HL: f64 = 90.0 * 86_400_000.0;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn uris_and_arns() {
        assert_eq!(bucket_of_uri("s3://my-bucket/a/b.jsonl"), Some("my-bucket"));
        assert_eq!(bucket_of_uri("s3://my-bucket"), Some("my-bucket"));
        assert_eq!(bucket_of_uri("https://x/y"), None);
        assert_eq!(bucket_of_uri("s3://"), None);
        assert_eq!(bucket_of_arn("arn:aws:s3:::my-bucket"), Some("my-bucket"));
        assert_eq!(
            bucket_of_arn("arn:aws-cn:s3:::my-bucket/k/e/y"),
            Some("my-bucket")
        );
        assert_eq!(bucket_of_arn("arn:aws:iam::111122223333:role/x"), None);
        assert_eq!(bucket_of_arn("arn:aws:s3"), None);
    }

    #[test]
    fn customization_job_request_fields() {
        let raw = r#"{"jobName":"j","trainingDataConfig":{"s3Uri":"s3://data-a/train.jsonl"},
            "validationDataConfig":{"validators":[{"s3Uri":"s3://data-a/val.jsonl"}]},
            "outputDataConfig":{"s3Uri":"s3://exports-b/out/"}}"#;
        let refs = references(Some(raw), []);
        let mut got: Vec<(&str, &str)> = refs
            .iter()
            .map(|r| (r.field.as_str(), r.bucket.as_str()))
            .collect();
        got.sort();
        assert_eq!(
            got,
            vec![
                ("outputDataConfig.s3Uri", "exports-b"),
                ("trainingDataConfig.s3Uri", "data-a"),
                ("validationDataConfig.validators.s3Uri", "data-a"),
            ]
        );
    }

    #[test]
    fn owner_siblings_bucket_names_and_resources() {
        let raw = r#"{"outputDataConfig":{"s3OutputDataConfig":{"s3Uri":"s3://out-b/x","s3BucketOwner":"999988887777"}},
            "loggingConfig":{"s3Config":{"bucketName":"logs-a","keyPrefix":""}}}"#;
        let mut refs = references(
            Some(raw),
            [
                (Some("arn:aws:s3:::logs-a"), Some(ACCT)),
                (Some("arn:aws:iam::111122223333:role/r"), Some(ACCT)),
                (None, None),
            ],
        );
        refs.sort_by(|a, b| a.field.cmp(&b.field));
        assert_eq!(
            refs,
            vec![
                S3Ref {
                    field: "loggingConfig.s3Config.bucketName".into(),
                    bucket: "logs-a".into(),
                    owner: None
                },
                S3Ref {
                    field: "outputDataConfig.s3OutputDataConfig.s3Uri".into(),
                    bucket: "out-b".into(),
                    owner: Some("999988887777".into())
                },
                S3Ref {
                    field: "resources".into(),
                    bucket: "logs-a".into(),
                    owner: Some(ACCT.into())
                },
            ]
        );
        assert!(references(Some(r#"{"modelId":"m"}"#), []).is_empty());
        assert!(references(Some("not json s3://"), []).is_empty());
        assert!(references(None, []).is_empty());
    }

    #[test]
    fn references_are_bounded() {
        let many: Vec<String> = (0..100).map(|i| format!("\"s3://b{i:03}/k\"")).collect();
        let raw = format!("{{\"x\":[{}]}}", many.join(","));
        // One field, many buckets: each distinct bucket is a reference, up to the cap.
        assert_eq!(references(Some(&raw), []).len(), MAX_REFS);
    }

    fn known(buckets: &[&str]) -> Buckets {
        let mut b = Buckets::default();
        for (i, name) in buckets.iter().enumerate() {
            let r = S3Ref {
                field: "bucketName".into(),
                bucket: (*name).into(),
                owner: None,
            };
            b.observe(&[r], ACCT, i as i64 * 3_600_000, HL, 64);
        }
        b
    }

    fn job(out: &str, train: &str, owner: Option<&str>) -> Vec<S3Ref> {
        vec![
            S3Ref {
                field: "outputDataConfig.s3Uri".into(),
                bucket: out.into(),
                owner: owner.map(str::to_string),
            },
            S3Ref {
                field: "trainingDataConfig.s3Uri".into(),
                bucket: train.into(),
                owner: None,
            },
        ]
    }

    #[test]
    fn judging_outputs() {
        let b = known(&["data-a", "artifacts-a"]);
        let outs = strings(&["outputDataConfig.s3Uri"]);
        let ins = strings(&["trainingDataConfig.s3Uri"]);
        let j = |refs: &[S3Ref]| b.judge(refs, &outs, &ins, ACCT, 1);
        assert_eq!(
            j(&job("artifacts-a", "data-a", None)),
            OutputJudgement::Familiar
        );
        // Output into the job's own input bucket: as trusted as the input.
        assert_eq!(j(&job("new-b", "new-b", None)), OutputJudgement::Familiar);
        assert_eq!(
            j(&job("exports-x", "data-a", None)),
            OutputJudgement::Unfamiliar {
                bucket: "exports-x".into(),
                known: 2
            }
        );
        // An explicit foreign owner is the strongest evidence, even for a known bucket.
        assert_eq!(
            j(&job("artifacts-a", "data-a", Some("999988887777"))),
            OutputJudgement::External {
                bucket: "artifacts-a".into(),
                owner: "999988887777".into()
            }
        );
        // An explicit own owner vouches for a bucket never seen.
        assert_eq!(
            j(&job("fresh-a", "data-a", Some(ACCT))),
            OutputJudgement::Familiar
        );
        // The owner may come from `resources`.
        let mut refs = job("exports-x", "data-a", None);
        refs.push(S3Ref {
            field: RESOURCES_FIELD.into(),
            bucket: "exports-x".into(),
            owner: Some("999988887777".into()),
        });
        assert!(matches!(j(&refs), OutputJudgement::External { .. }));
        // No output field named: nothing to judge.
        assert_eq!(
            b.judge(&job("x", "y", None), &strings(&["other"]), &ins, ACCT, 1),
            OutputJudgement::Unknown
        );
        // An account with no bucket knowledge cannot call a bucket unfamiliar.
        assert_eq!(
            Buckets::default().judge(&job("exports-x", "data-a", None), &outs, &ins, ACCT, 1),
            OutputJudgement::Unknown
        );
    }

    #[test]
    fn foreign_buckets_are_not_learned() {
        let mut b = Buckets::default();
        let refs = vec![
            S3Ref {
                field: RESOURCES_FIELD.into(),
                bucket: "theirs".into(),
                owner: Some("999988887777".into()),
            },
            S3Ref {
                field: RESOURCES_FIELD.into(),
                bucket: "ours".into(),
                owner: Some(ACCT.into()),
            },
        ];
        b.observe(&refs, ACCT, 0, HL, 64);
        assert!(b.knows("ours"));
        assert!(!b.knows("theirs"));
    }

    #[test]
    fn bounded_by_the_cap() {
        let names: Vec<String> = (0..200).map(|i| format!("bucket-{i}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut b = Buckets::default();
        for (i, name) in refs.iter().enumerate() {
            let r = S3Ref {
                field: "bucketName".into(),
                bucket: (*name).into(),
                owner: None,
            };
            b.observe(&[r], ACCT, i as i64 * 3_600_000, HL, 64);
        }
        assert_eq!(b.len(), 64);
    }
}
