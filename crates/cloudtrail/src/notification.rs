//! Notifications that announce a new log object: S3 event notifications (raw or inside
//! SNS), CloudTrail's own SNS notification, EventBridge "Object Created", s3:TestEvent.

use serde::{Deserialize, Serialize};

/// One S3 object to fetch and process: the unit of work.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ObjectRef {
    /// Bucket name.
    pub bucket: String,
    /// Object key, decoded (no URL form encoding left).
    pub key: String,
    /// ETag when the notification carried one (S3 events do, CloudTrail's SNS does not).
    pub etag: Option<String>,
    /// Size in bytes when the notification carried it.
    pub size: Option<u64>,
}
