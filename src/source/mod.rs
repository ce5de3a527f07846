//! Where units of work come from, and what finishing one means.
//!
//! - [`listing`]: a bucket run. Objects come from ListObjectsV2 pages after a start marker;
//!   finishing one records it in `s3_cloudtrail.db`, in listing order.
//!
//! - [`sqs`]: a subscriber run. Objects come from SQS notification bodies; a message is
//!   deleted once every object it names was finished.
//!
//! A source hands objects to [`crate::pipeline::start`] with a shared
//! [`crate::pipeline::RunContext`], passes each returned channel to
//! [`crate::pipeline::delivery::Sink::deliver`] in the order it needs, and then finishes the
//! object its own way.

pub mod listing;
pub mod sqs;
