//! Helpers for tests, benchmarks and the no-AWS demo (feature `test-util`): create a
//! bucket → queue → DLQ pipeline on any S3/SQS endpoint (moto), upload objects, send
//! messages, and build CloudTrail-shaped keys and gzip bodies.

use std::io::Write;

use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, Event, NotificationConfiguration,
    QueueConfiguration,
};
use aws_sdk_sqs::types::QueueAttributeName;
use cloudtrail::time::{EpochMillis, civil_from_days};
use flate2::{Compression, write::GzEncoder};

use crate::config::Clients;

/// A test helper's AWS call failed.
#[derive(Debug, thiserror::Error)]
#[error("{op}: {detail}")]
pub struct TestUtilError {
    /// The operation.
    pub op: &'static str,
    /// What went wrong.
    pub detail: String,
}

fn err<E: std::error::Error>(op: &'static str) -> impl FnOnce(E) -> TestUtilError {
    move |e| TestUtilError {
        op,
        detail: DisplayErrorContext(&e).to_string(),
    }
}

/// The queues [`setup_local_pipeline`] created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueUrls {
    /// The notification queue.
    pub queue_url: String,
    /// Its ARN.
    pub queue_arn: String,
    /// The dead-letter queue.
    pub dlq_url: String,
    /// Its ARN.
    pub dlq_arn: String,
}

/// `maxReceiveCount` of the redrive policy [`setup_local_pipeline`] sets.
pub const MAX_RECEIVE_COUNT: u32 = 2;

/// Creates `bucket`, the queue `dlq`, the queue `queue` redriving to it after
/// [`MAX_RECEIVE_COUNT`] receives, and the bucket notification (every `ObjectCreated`
/// to `queue`). The queue policy lets S3 send, so it also works on real AWS.
///
/// # Errors
/// The first AWS call that fails.
pub async fn setup_local_pipeline(
    clients: &Clients,
    bucket: &str,
    queue: &str,
    dlq: &str,
) -> Result<QueueUrls, TestUtilError> {
    let region = clients
        .s3
        .config()
        .region()
        .map(|r| r.as_ref().to_owned())
        .unwrap_or_default();
    let mut create = clients.s3.create_bucket().bucket(bucket);
    if !region.is_empty() && region != "us-east-1" {
        create = create.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region.as_str()))
                .build(),
        );
    }
    create.send().await.map_err(err("CreateBucket"))?;

    let (dlq_url, dlq_arn) = create_queue(clients, dlq, Vec::new()).await?;
    let redrive =
        format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"{MAX_RECEIVE_COUNT}"}}"#);
    let (queue_url, queue_arn) = create_queue(
        clients,
        queue,
        vec![(QueueAttributeName::RedrivePolicy, redrive)],
    )
    .await?;
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Service":"s3.amazonaws.com"}},"Action":"sqs:SendMessage","Resource":"{queue_arn}","Condition":{{"ArnLike":{{"aws:SourceArn":"arn:aws:s3:::{bucket}"}}}}}}]}}"#
    );
    clients
        .sqs
        .set_queue_attributes()
        .queue_url(&queue_url)
        .attributes(QueueAttributeName::Policy, policy)
        .send()
        .await
        .map_err(err("SetQueueAttributes"))?;

    let queue_conf = QueueConfiguration::builder()
        .queue_arn(&queue_arn)
        .events(Event::S3ObjectCreated)
        .build()
        .map_err(err("QueueConfiguration"))?;
    clients
        .s3
        .put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(
            NotificationConfiguration::builder()
                .queue_configurations(queue_conf)
                .build(),
        )
        .send()
        .await
        .map_err(err("PutBucketNotificationConfiguration"))?;
    Ok(QueueUrls {
        queue_url,
        queue_arn,
        dlq_url,
        dlq_arn,
    })
}

async fn create_queue(
    clients: &Clients,
    name: &str,
    attributes: Vec<(QueueAttributeName, String)>,
) -> Result<(String, String), TestUtilError> {
    let mut req = clients.sqs.create_queue().queue_name(name);
    for (k, v) in attributes {
        req = req.attributes(k, v);
    }
    let url = req
        .send()
        .await
        .map_err(err("CreateQueue"))?
        .queue_url
        .unwrap_or_default();
    let arn = clients
        .sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(err("GetQueueAttributes"))?
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .unwrap_or_default();
    Ok((url, arn))
}

/// Uploads `body` to `bucket/key`.
///
/// # Errors
/// When S3 refuses.
pub async fn put_object(
    clients: &Clients,
    bucket: &str,
    key: &str,
    body: Vec<u8>,
) -> Result<(), TestUtilError> {
    clients
        .s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body))
        .send()
        .await
        .map_err(err("PutObject"))?;
    Ok(())
}

/// Sends `body` to the queue.
///
/// # Errors
/// When SQS refuses.
pub async fn send_message(
    clients: &Clients,
    queue_url: &str,
    body: &str,
) -> Result<(), TestUtilError> {
    clients
        .sqs
        .send_message()
        .queue_url(queue_url)
        .message_body(body)
        .send()
        .await
        .map_err(err("SendMessage"))?;
    Ok(())
}

/// The number of messages in a queue, visible and in flight (approximate in SQS,
/// exact in moto).
///
/// # Errors
/// When SQS refuses.
pub async fn queue_depth(clients: &Clients, queue_url: &str) -> Result<(u64, u64), TestUtilError> {
    let attrs = clients
        .sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .map_err(err("GetQueueAttributes"))?
        .attributes
        .unwrap_or_default();
    let get = |k: &QueueAttributeName| attrs.get(k).and_then(|v| v.parse().ok()).unwrap_or(0);
    Ok((
        get(&QueueAttributeName::ApproximateNumberOfMessages),
        get(&QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
    ))
}

/// The key CloudTrail gives a log file: `[prefix/]AWSLogs/ACCOUNT/CloudTrail/REGION/
/// YYYY/MM/DD/ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHmmZ_UNIQUE.json.gz`.
pub fn log_key(
    prefix: &str,
    account: &str,
    region: &str,
    delivered_ms: EpochMillis,
    unique: &str,
) -> String {
    let t = Civil::of(delivered_ms);
    format!(
        "{}AWSLogs/{account}/CloudTrail/{region}/{}/{account}_CloudTrail_{region}_{}{:02}{:02}Z_{unique}.json.gz",
        crate::keys::folder(prefix),
        t.folder(),
        t.date(),
        t.hour,
        t.minute,
    )
}

/// The key CloudTrail gives a digest file ending at `end_ms`.
pub fn digest_key(
    prefix: &str,
    account: &str,
    region: &str,
    trail: &str,
    end_ms: EpochMillis,
) -> String {
    let t = Civil::of(end_ms);
    format!(
        "{}AWSLogs/{account}/CloudTrail-Digest/{region}/{}/{account}_CloudTrail-Digest_{region}_{trail}_{region}_{}{:02}{:02}{:02}Z.json.gz",
        crate::keys::folder(prefix),
        t.folder(),
        t.date(),
        t.hour,
        t.minute,
        t.second,
    )
}

/// A UTC time split into its fields.
struct Civil {
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
}

impl Civil {
    fn of(ms: EpochMillis) -> Self {
        let secs = ms.div_euclid(1_000);
        let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
        let sod = secs.rem_euclid(86_400);
        Self {
            year,
            month,
            day,
            hour: sod / 3_600,
            minute: sod % 3_600 / 60,
            second: sod % 60,
        }
    }

    /// `YYYY/MM/DD`
    fn folder(&self) -> String {
        format!("{:04}/{:02}/{:02}", self.year, self.month, self.day)
    }

    /// `YYYYMMDDT`
    fn date(&self) -> String {
        format!("{:04}{:02}{:02}T", self.year, self.month, self.day)
    }
}

/// A digest file's JSON listing `log_files` of `bucket`.
pub fn digest_json(bucket: &str, log_files: &[String]) -> String {
    let files: Vec<serde_json::Value> = log_files
        .iter()
        .map(|k| {
            serde_json::json!({
                "s3Bucket": bucket,
                "s3Object": k,
                "hashValue": "00",
                "hashAlgorithm": "SHA-256",
            })
        })
        .collect();
    serde_json::json!({
        "awsAccountId": "123456789012",
        "digestS3Bucket": bucket,
        "digestSignatureAlgorithm": "SHA256withRSA",
        "logFiles": files,
    })
    .to_string()
}

/// Gzips `data`.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    // Writing to a Vec cannot fail.
    let _ = enc.write_all(data);
    enc.finish().unwrap_or_default()
}
