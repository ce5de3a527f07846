//! The object formats of the SQS subscribers (`--subscriber buckets|security_hub|
//! security_lake`): how an object a notification names becomes messages. Where the objects
//! come from is `source::sqs`. `buckets` and `security_hub` messages have the bucket types'
//! envelope without `aws_account_alias` (the alias is `None`), nulls removed through objects
//! but not inside lists (kept 24), and no generic reshaping.

pub mod buckets;
pub mod csv_dialect;
pub mod parquet_footer;
pub mod security_hub;
pub mod security_lake;

use crate::exit::code;
use crate::pipeline::format::{Format, ParseError, SubscriberFailures};
use crate::source::sqs::bodies::Shapes;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subscriber {
    Buckets,
    SecurityHub,
    SecurityLake,
}

impl Subscriber {
    /// The `--subscriber` value (case-insensitive), or `None` for an unknown one.
    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_lowercase().as_str() {
            "buckets" => Some(Subscriber::Buckets),
            "security_hub" => Some(Subscriber::SecurityHub),
            "security_lake" => Some(Subscriber::SecurityLake),
            _ => None,
        }
    }

    pub fn format(self) -> Arc<dyn Format> {
        match self {
            Subscriber::Buckets => Arc::new(buckets::Buckets),
            Subscriber::SecurityHub => Arc::new(security_hub::SecurityHub),
            Subscriber::SecurityLake => Arc::new(security_lake::SecurityLake),
        }
    }

    pub fn shapes(self) -> Shapes {
        match self {
            Subscriber::SecurityLake => Shapes::SecurityLake,
            Subscriber::Buckets | Subscriber::SecurityHub => Shapes::Notifications,
        }
    }
}

/// The reference's buckets subscriber: a missing object and content it cannot read both end
/// the run with 12 (kept 25).
pub const SUBSCRIBER_FAILURES: SubscriberFailures = SubscriberFailures {
    fetch_exit: code::INVALID_TYPE,
    parse_exit: code::INVALID_TYPE,
    parse_text: None,
};

/// The object as text, as Python's text mode reads it: UTF-8, universal newlines.
pub fn read_text(input: &mut dyn std::io::BufRead) -> Result<String, ParseError> {
    let bytes = crate::bucket::text::read_whole(input)?;
    let text = String::from_utf8(bytes)
        .map_err(|e| ParseError::invalid(format!("UnicodeDecodeError('utf-8': {e})")))?;
    Ok(match text.contains('\r') {
        true => text.replace("\r\n", "\n").replace('\r', "\n"),
        false => text,
    })
}
