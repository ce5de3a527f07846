//! VPC Flow Logs: `AWSLogs/ACCOUNT/vpcflowlogs/REGION/YYYY/MM/DD/` space-separated records,
//! read per flow log of the region (its id is in the key).

use super::text::{row_event, CsvReader, Extras};
use super::{Bucket, Emit, Event, Format, Layout, ParseContext, ParseError, TypeInfo, BASE_INFO};
use crate::json::Value;
use crate::state::TableKind;
use chrono::DateTime;
use regex::Regex;
use std::sync::LazyLock;

/// The fields of the default (version 2) format, used when an object has no header row.
pub const DEFAULT_FIELDS: [&str; 14] = [
    "version",
    "account_id",
    "interface_id",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "action",
    "log_status",
];

pub struct VpcFlow;

pub const INFO: TypeInfo = TypeInfo {
    name: "vpcflow",
    table: "vpcflow",
    table_kind: TableKind::FlowLog,
    layout: Layout::AwsLogs {
        service: "vpcflowlogs",
    },
    ..BASE_INFO
};

impl Bucket for VpcFlow {
    fn info(&self) -> &'static TypeInfo {
        &INFO
    }
}

impl Format for VpcFlow {
    fn parse_stream(
        &self,
        _key: &str,
        input: &mut dyn std::io::BufRead,
        _ctx: ParseContext,
        emit: &mut Emit,
    ) -> Result<(), ParseError> {
        let mut rows = CsvReader::new(input, ' ');
        let first = rows.next_row()?;
        let (names, first) = match first.as_deref().and_then(header_names) {
            Some(names) => (names, None),
            None => (
                DEFAULT_FIELDS.iter().map(|s| s.to_string()).collect(),
                first,
            ),
        };
        if let Some(row) = first {
            emit(flow_event(&names, row, "vpc")?)?;
        }
        while let Some(row) = rows.next_row()? {
            emit(flow_event(&names, row, "vpc")?)?;
        }
        Ok(())
    }
}

/// The first line is a header when every field is lowercase words joined by hyphens (D1).
fn header_names(row: &[String]) -> Option<Vec<String>> {
    static RE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^[a-z]+(-[a-z]+)*$").expect("static regex"));
    let re = &*RE;
    if row.is_empty() || !row.iter().all(|f| re.is_match(f)) {
        return None;
    }
    Some(row.iter().map(|f| f.replace('-', "_")).collect())
}

/// One flow record with `start`/`end` as ISO 8601 UTC.
fn flow_event(names: &[String], row: Vec<String>, source: &str) -> Result<Event, ParseError> {
    let mut event = row_event(names, row, Extras::NullKey);
    for field in ["start", "end"] {
        if let Some(Value::String(v)) = event.get(field) {
            let iso = iso_time(v).ok_or_else(|| {
                ParseError::invalid(format!(
                    "ValueError(\"invalid literal for int() with base 10: '{v}'\")"
                ))
            })?;
            event.insert(field.into(), Value::from(iso));
        }
    }
    event.insert("source".into(), source.into());
    Ok(event)
}

/// Python `int()` then `utcfromtimestamp(...).strftime('%Y-%m-%dT%H:%M:%SZ')`.
fn iso_time(v: &str) -> Option<String> {
    let secs: i64 = v.trim().parse().ok()?;
    Some(
        DateTime::from_timestamp(secs, 0)?
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bucket::ParseAll;
    use crate::json;

    fn flow_records(text: &str) -> Result<Vec<Event>, ParseError> {
        VpcFlow.parse(
            "k",
            text.as_bytes(),
            ParseContext {
                skip_on_error: false,
            },
        )
    }

    #[test]
    fn header_names_columns_and_is_no_event() {
        let text = "version vpc-id srcaddr start end log-status\n\
                    5 vpc-1 10.0.0.1 1735722300 1735722360 OK\n";
        let events = flow_records(text).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(
            Value::Object(events[0].clone()),
            json!({"version": "5", "vpc_id": "vpc-1", "srcaddr": "10.0.0.1",
                   "start": "2025-01-01T09:05:00Z", "end": "2025-01-01T09:06:00Z",
                   "log_status": "OK", "source": "vpc"})
        );
    }

    #[test]
    fn no_header_uses_default_names_and_extras_go_to_null() {
        let text = "2 123456789012 eni-1 10.0.0.1 10.0.0.2 443 5000 6 10 840 1735722300 1735722360 ACCEPT OK extra\n\
                    2 123456789012 eni-1 - - - - - - - 1735722300 1735722360 - NODATA\n\
                    2 123456789012 eni-1\n";
        let events = flow_records(text).unwrap();
        assert_eq!(events.len(), 3);
        assert_eq!(events[0]["null"], json!(["extra"]));
        assert_eq!(events[0]["start"], "2025-01-01T09:05:00Z");
        assert_eq!(events[1]["log_status"], "NODATA");
        assert_eq!(events[2].len(), 4, "missing columns are simply absent");
    }

    #[test]
    fn bad_timestamps_are_parse_errors() {
        assert!(flow_records("2 1 e 1 2 3 4 6 1 1 x 5 ACCEPT OK\n").is_err());
        assert!(flow_records("").unwrap().is_empty());
    }
}
