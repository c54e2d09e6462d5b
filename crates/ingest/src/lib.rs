//! The only crate that knows the AWS SDK: SQS consumer, S3 fetch, backfill listing.
