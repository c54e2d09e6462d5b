//! Paginated S3 listing: folders under a prefix (delimiter `/`) and keys under a prefix,
//! and the discovery of a CloudTrail bucket's account/region folders.

use aws_sdk_s3::error::DisplayErrorContext;
use cloudtrail::ObjectRef;

use crate::keys::{folder, last_segment};

/// Listing a bucket failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("listing s3://{bucket}/{prefix}: {detail}")]
pub struct ListError {
    /// Bucket.
    pub bucket: String,
    /// Prefix being listed.
    pub prefix: String,
    /// What S3 said.
    pub detail: String,
}

/// Folder prefixes directly under `prefix` (which ends in `/` or is empty), sorted.
pub(crate) async fn list_folders(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<String>, ListError> {
    let mut out = Vec::new();
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .delimiter("/")
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| ListError {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
            detail: DisplayErrorContext(&e).to_string(),
        })?;
        out.extend(
            page.common_prefixes()
                .iter()
                .filter_map(|p| p.prefix().map(str::to_owned)),
        );
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Every object under `prefix`, in key order.
pub(crate) async fn list_objects(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<ObjectRef>, ListError> {
    let mut out = Vec::new();
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| ListError {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
            detail: DisplayErrorContext(&e).to_string(),
        })?;
        out.extend(page.contents().iter().filter_map(|o| {
            Some(ObjectRef {
                bucket: bucket.to_owned(),
                key: o.key()?.to_owned(),
                etag: o.e_tag().map(|t| t.trim_matches('"').to_owned()),
                size: o.size().and_then(|s| u64::try_from(s).ok()),
            })
        }));
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}

/// The `.../AWSLogs/[o-org/]ACCOUNT/{kind}/REGION/` folders of a bucket, discovered by
/// delimiter listing; `kind` is `CloudTrail` or `CloudTrail-Digest`.
pub(crate) async fn region_folders(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
    kind: &str,
) -> Result<Vec<String>, ListError> {
    let root = format!("{}AWSLogs/", folder(prefix));
    let mut accounts = Vec::new();
    for child in list_folders(s3, bucket, &root).await? {
        if last_segment(&child).starts_with("o-") {
            accounts.extend(list_folders(s3, bucket, &child).await?);
        } else {
            accounts.push(child);
        }
    }
    let mut regions = Vec::new();
    for account in accounts {
        regions.extend(list_folders(s3, bucket, &format!("{account}{kind}/")).await?);
    }
    regions.sort();
    Ok(regions)
}
