//! Bucket types. Each service module says only what differs between them: where its objects
//! live, which state table records them, how an object's bytes become events and how an
//! event is reshaped. Listing, markers, state, sending and deleting live once, in [`driver`].

pub mod cloudtrail;
pub mod driver;

use crate::state::{Retention, TableKind};
use serde_json::{Map, Value};
use std::fmt;

/// Where a type's objects live in the bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `PREFIX/AWSLogs/SUFFIX/[ORG_ID/]ACCOUNT/SERVICE/REGION/YYYY/MM/DD/...`: accounts and
    /// regions are discovered from the folders unless given.
    AwsLogs { service: &'static str },
}

/// Why an object's content could not be turned into events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<serde_json::Error> for ParseError {
    fn from(e: serde_json::Error) -> Self {
        ParseError(format!("JSONDecodeError('{e}')"))
    }
}

pub type Event = Map<String, Value>;

pub trait Bucket: Send + Sync {
    /// The `--type` value.
    fn type_name(&self) -> &'static str;

    /// The state table and which columns scope its rows.
    fn table(&self) -> (&'static str, TableKind);

    fn layout(&self) -> Layout;

    /// Types whose objects can arrive late rewind their start marker one day folder and keep
    /// that window's state rows (D11).
    fn late_arrival(&self) -> bool {
        false
    }

    fn retention(&self) -> Retention {
        if self.late_arrival() {
            Retention::NewestRowsAndLastDays
        } else {
            Retention::NewestRows
        }
    }

    /// `created_date` of the state row, `YYYYMMDD`. `None` leaves the object unrecorded, as
    /// the reference does for a key it cannot read a date from.
    fn creation_date(&self, key: &str) -> Option<i64> {
        aws_logs_creation_date(key)
    }

    /// The events of one decompressed object, in order.
    fn parse(&self, key: &str, data: &[u8]) -> Result<Vec<Event>, ParseError>;

    /// Reshape one enveloped message into what is sent (usually one message).
    fn reshape(&self, msg: Value) -> Vec<Value> {
        let mut msg = msg;
        crate::message::reformat_generic(&mut msg);
        vec![msg]
    }
}

/// `ACCOUNT_SERVICE_REGION_20240315T1405Z_RANDOM.json.gz` -> 20240315.
pub fn aws_logs_creation_date(key: &str) -> Option<i64> {
    let name = key.rsplit('/').next().unwrap_or(key);
    let parts: Vec<&str> = name.split('_').collect();
    if parts.len() < 2 {
        return None;
    }
    let stamp = parts[parts.len() - 2];
    let date = stamp.split('T').next().unwrap_or(stamp);
    date.trim().parse::<i64>().ok()
}

/// The bucket type for a `--type` value (case-insensitive), or why there is none.
pub fn for_type(name: &str) -> Result<Box<dyn Bucket>, TypeError> {
    match name.to_lowercase().as_str() {
        "cloudtrail" => Ok(Box::new(cloudtrail::CloudTrail)),
        other if crate::cli::BUCKET_TYPES.contains(&other) => {
            Err(TypeError::NotImplemented(other.to_string()))
        }
        _ => Err(TypeError::Invalid),
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum TypeError {
    Invalid,
    NotImplemented(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creation_date_from_key() {
        assert_eq!(
            aws_logs_creation_date(
                "AWSLogs/1/CloudTrail/us-east-1/2024/03/15/1_CloudTrail_us-east-1_20240315T1405Z_Fb.json.gz"
            ),
            Some(20240315)
        );
        assert_eq!(aws_logs_creation_date("AWSLogs/x/readme.txt"), None);
    }

    #[test]
    fn types_resolve() {
        assert!(for_type("CloudTrail").is_ok());
        assert_eq!(for_type("firewall").err(), Some(TypeError::Invalid));
    }
}
