//! The one integration-test binary: drives `bedguard` through the paths a user takes,
//! against real services (S3+SQS endpoint, syslog, HTTP).
