//! Notifications that announce a new log object: S3 event notifications (raw or inside
//! SNS), CloudTrail's own SNS notification, EventBridge "Object Created", s3:TestEvent.
//!
//! Shapes decoded by [`decode_notification`]:
//! - S3 event notification `{"Records":[{"eventName":"ObjectCreated:Put","s3":{...}}]}`:
//!   every `ObjectCreated:*` record gives an object; other records (removals, ...) are
//!   skipped. Keys are URL-form-encoded (`+` is a space, `%XX` escapes; moto also
//!   escapes `/` as `%2F`) and are decoded.
//! - `s3:TestEvent` (`{"Event":"s3:TestEvent",...}`): [`Notification::Test`].
//! - CloudTrail's SNS notification `{"s3Bucket":"...","s3ObjectKey":["..."]}`: keys
//!   are plain, not encoded.
//! - EventBridge `{"detail-type":"Object Created","source":"aws.s3","detail":{...}}`:
//!   keys are decoded like S3 notification keys (CloudTrail keys never contain `+`
//!   or `%`, so decoding is safe for them either way).
//! - Any of the above wrapped in an SNS envelope `{"Type":"Notification","Message":"..."}`
//!   (one level of wrapping).
//!
//! ETags are given without surrounding quotes (moto keeps them, S3 does not).
//!
//! Anything else is a [`NotificationError`] whose message lists the top-level keys.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

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

/// What a notification asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    /// Objects to process, in notification order (possibly none, e.g. only removals).
    Objects(Vec<ObjectRef>),
    /// A test message (`s3:TestEvent`): nothing to do, delete it.
    Test,
}

/// A message that announces nothing this crate understands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotificationError {
    /// The body is not JSON.
    #[error("notification is not JSON: {0}")]
    NotJson(String),
    /// JSON of no known shape.
    #[error("unknown notification shape: {0}")]
    UnknownShape(String),
    /// A known shape with a field missing or of the wrong type.
    #[error("malformed {shape} notification: {detail}")]
    Malformed {
        /// Which shape was recognised.
        shape: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// An object key whose URL encoding does not decode to UTF-8.
    #[error("object key {0:?} does not decode to UTF-8")]
    BadKey(String),
}

/// Decodes one queue message body. See the module docs for the shapes.
pub fn decode_notification(body: &str) -> Result<Notification, NotificationError> {
    let value: Value =
        serde_json::from_str(body).map_err(|e| NotificationError::NotJson(e.to_string()))?;
    decode_value(value, true)
}

fn decode_value(value: Value, may_unwrap_sns: bool) -> Result<Notification, NotificationError> {
    let Value::Object(obj) = value else {
        return Err(NotificationError::UnknownShape(format!(
            "a JSON {}, not an object",
            kind(&value)
        )));
    };
    if obj.contains_key("Records") {
        return s3_event(obj);
    }
    if obj.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(Notification::Test);
    }
    if obj.contains_key("s3Bucket") || obj.contains_key("s3ObjectKey") {
        return cloudtrail_sns(obj);
    }
    if obj.contains_key("detail-type") && obj.contains_key("detail") {
        return eventbridge(obj);
    }
    match obj.get("Type").and_then(Value::as_str) {
        Some("Notification") if may_unwrap_sns => {
            let message = obj
                .get("Message")
                .and_then(Value::as_str)
                .ok_or_else(|| malformed("SNS", "Message is missing or not a string"))?;
            let inner: Value = serde_json::from_str(message)
                .map_err(|e| malformed("SNS", format!("Message is not JSON: {e}")))?;
            decode_value(inner, false)
        }
        Some(kind @ ("SubscriptionConfirmation" | "UnsubscribeConfirmation")) => {
            Err(NotificationError::UnknownShape(format!(
                "SNS {kind}: confirm the subscription (SubscribeURL), it announces no object"
            )))
        }
        _ => Err(NotificationError::UnknownShape(format!(
            "top-level keys [{}]",
            sorted_keys(&obj)
        ))),
    }
}

fn malformed(shape: &'static str, detail: impl Into<String>) -> NotificationError {
    NotificationError::Malformed {
        shape,
        detail: detail.into(),
    }
}

fn sorted_keys(obj: &Map<String, Value>) -> String {
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut shown: Vec<String> = keys.iter().take(20).map(|k| format!("{k:?}")).collect();
    if keys.len() > 20 {
        shown.push(format!("... {} more", keys.len() - 20));
    }
    shown.join(", ")
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[derive(Deserialize)]
struct S3Record {
    #[serde(rename = "eventName", default)]
    event_name: Option<String>,
    #[serde(default)]
    s3: Option<S3Entity>,
}

#[derive(Deserialize)]
struct S3Entity {
    bucket: Bucket,
    object: S3Object,
}

#[derive(Deserialize)]
struct Bucket {
    name: String,
}

#[derive(Deserialize)]
struct S3Object {
    key: String,
    #[serde(default)]
    size: Option<u64>,
    #[serde(rename = "eTag", alias = "etag", default)]
    etag: Option<String>,
}

fn s3_event(obj: Map<String, Value>) -> Result<Notification, NotificationError> {
    const SHAPE: &str = "S3 event";
    let records = match obj.get("Records") {
        Some(Value::Array(records)) => records,
        _ => return Err(malformed(SHAPE, "Records is not an array")),
    };
    let mut objects = Vec::new();
    for (i, rec) in records.iter().enumerate() {
        if rec.get("s3").is_none() {
            return Err(malformed(
                SHAPE,
                format!(
                    "Records[{i}] has no \"s3\" entity (a CloudTrail log, not a notification?)"
                ),
            ));
        }
        let rec: S3Record = serde_json::from_value(rec.clone())
            .map_err(|e| malformed(SHAPE, format!("Records[{i}]: {e}")))?;
        let created = rec
            .event_name
            .as_deref()
            .is_some_and(|n| n.trim_start_matches("s3:").starts_with("ObjectCreated:"));
        let Some(s3) = rec.s3.filter(|_| created) else {
            continue;
        };
        objects.push(ObjectRef {
            bucket: s3.bucket.name,
            key: decode_key(&s3.object.key)?,
            etag: clean_etag(s3.object.etag),
            size: s3.object.size,
        });
    }
    Ok(Notification::Objects(objects))
}

#[derive(Deserialize)]
struct CloudTrailSns {
    #[serde(rename = "s3Bucket")]
    bucket: String,
    #[serde(rename = "s3ObjectKey")]
    keys: Vec<String>,
}

fn cloudtrail_sns(obj: Map<String, Value>) -> Result<Notification, NotificationError> {
    let msg: CloudTrailSns = serde_json::from_value(Value::Object(obj))
        .map_err(|e| malformed("CloudTrail SNS", e.to_string()))?;
    Ok(Notification::Objects(
        msg.keys
            .into_iter()
            .map(|key| ObjectRef {
                bucket: msg.bucket.clone(),
                key,
                etag: None,
                size: None,
            })
            .collect(),
    ))
}

#[derive(Deserialize)]
struct EventBridge {
    #[serde(default)]
    source: Option<String>,
    detail: EventBridgeDetail,
}

#[derive(Deserialize)]
struct EventBridgeDetail {
    bucket: Bucket,
    object: S3Object,
}

fn eventbridge(obj: Map<String, Value>) -> Result<Notification, NotificationError> {
    const SHAPE: &str = "EventBridge";
    let detail_type = obj.get("detail-type").and_then(Value::as_str);
    if detail_type != Some("Object Created") {
        // Deletions and other S3 events on the bus: nothing to process.
        return match detail_type {
            Some(_) if obj.get("source").and_then(Value::as_str) == Some("aws.s3") => {
                Ok(Notification::Objects(Vec::new()))
            }
            _ => Err(NotificationError::UnknownShape(format!(
                "EventBridge event with detail-type {:?} from source {:?}",
                detail_type.unwrap_or("?"),
                obj.get("source").and_then(Value::as_str).unwrap_or("?")
            ))),
        };
    }
    let ev: EventBridge =
        serde_json::from_value(Value::Object(obj)).map_err(|e| malformed(SHAPE, e.to_string()))?;
    if ev.source.as_deref().is_some_and(|s| s != "aws.s3") {
        return Err(malformed(
            SHAPE,
            format!("Object Created from source {:?}, not aws.s3", ev.source),
        ));
    }
    Ok(Notification::Objects(vec![ObjectRef {
        bucket: ev.detail.bucket.name,
        key: decode_key(&ev.detail.object.key)?,
        etag: clean_etag(ev.detail.object.etag),
        size: ev.detail.object.size,
    }]))
}

/// An ETag without the surrounding quotes some emitters (moto) keep; `None` if empty.
fn clean_etag(etag: Option<String>) -> Option<String> {
    let etag = etag?;
    let trimmed = etag.trim_matches('"');
    if trimmed.is_empty() {
        None
    } else if trimmed.len() == etag.len() {
        Some(etag)
    } else {
        Some(trimmed.to_owned())
    }
}

/// Decodes a URL-form-encoded key: `+` is a space, `%XX` an escaped byte.
pub fn decode_key(key: &str) -> Result<String, NotificationError> {
    if !key.contains(['+', '%']) {
        return Ok(key.to_owned());
    }
    let spaced = key.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map(|k| k.into_owned())
        .map_err(|_| NotificationError::BadKey(key.to_owned()))
}
