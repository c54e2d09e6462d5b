//! The one integration-test binary: drives `bedguard` through the paths a user takes,
//! against real services (an S3+SQS endpoint, syslog, HTTP) and real files.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod config;
mod crash;
mod daemon;
mod harness;
mod ops;
mod replay;
