//! Objects as CloudWatch Events rules deliver them through Kinesis Firehose: concatenated
//! JSON events with `detail` and `source`; or, in custom buckets, space-separated VPC-style
//! rows. Read by the custom type and by GuardDuty's Kinesis layout.

use super::text::{concatenated_json, csv_rows, read_error, row_event, Extras};
use super::{Event, ParseError};
use crate::json::Value;
use regex::Regex;
use std::sync::LazyLock;

/// The whole object as text, within [`crate::limits::MAX_WHOLE_OBJECT`].
pub fn read_all(input: &mut dyn std::io::BufRead) -> Result<String, ParseError> {
    let data = crate::bucket::text::read_whole(input)?;
    String::from_utf8(data).map_err(|e| {
        read_error(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            e.utf8_error(),
        ))
    })
}

/// Macie writes coordinates with leading zeros (`"lat":040.4168`), which is not JSON (D6).
fn repair_macie_coordinates(text: &str) -> Option<String> {
    static RE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#""lat":(-?0+\d+\.\d+),"lon":(-?0+\d+\.\d+)"#).expect("static regex")
    });
    let re = &*RE;
    if !re.is_match(text) {
        return None;
    }
    let fixed = re.replace_all(text, |c: &regex::Captures| {
        let lat: f64 = c[1].parse().unwrap_or_default();
        let lon: f64 = c[2].parse().unwrap_or_default();
        format!(r#""lat":{lat},"lon":{lon}"#)
    });
    Some(fixed.into_owned())
}

/// Concatenated JSON values, each a CloudWatch event; those without `detail` are skipped.
pub fn cloudwatch_events(text: &str) -> Result<Vec<Event>, ParseError> {
    let mut values = concatenated_json(text);
    if values.iter().any(|v| v.is_err()) {
        if let Some(fixed) = repair_macie_coordinates(text) {
            values = concatenated_json(&fixed);
        }
    }
    let mut events = Vec::new();
    for value in values {
        let value = value?;
        let Value::Object(mut event) = value else {
            return Err(ParseError::invalid("an event is not a JSON object"));
        };
        let Some(detail) = event.remove("detail") else {
            continue;
        };
        let Value::Object(mut detail) = detail else {
            return Err(ParseError::invalid(
                "an event's detail is not a JSON object",
            ));
        };
        let source = match event.get("source") {
            Some(Value::String(s)) => s.replace("aws.", ""),
            _ => return Err(ParseError::invalid("an event has no source")),
        };
        detail.insert("source".into(), Value::from(source));
        events.push(detail);
    }
    Ok(events)
}

/// A custom object: CloudWatch events when it starts with `{`, otherwise space-separated rows
/// with the 14 default VPC names (D7: the first character is kept).
pub fn events_or_rows(text: &str) -> Result<Vec<Event>, ParseError> {
    if text.starts_with('{') {
        return cloudwatch_events(text);
    }
    Ok(csv_rows(text, ' ')
        .into_iter()
        .map(|row| {
            let mut e = row_event(&super::vpcflow::DEFAULT_FIELDS, row, Extras::NullKey);
            e.insert("source".into(), "vpc".into());
            e
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    #[test]
    fn events_need_detail_and_whitespace_is_allowed() {
        let text = "{\"source\":\"aws.macie\",\"detail\":{\"a\":1}}{\"source\":\"aws.x\"}\n {\"source\":\"aws.guardduty\",\"detail\":{\"b\":2}}\n";
        let events = events_or_rows(text).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0]["source"], "macie");
        assert_eq!(events[1]["source"], "guardduty");
        assert!(events_or_rows("{\"source\":\"aws.x\",\"detail\":{}} junk").is_err());
    }

    #[test]
    fn macie_coordinates_are_repaired_each_with_its_values() {
        let text = r#"{"source":"aws.macie","detail":{"l1":{"lat":040.4168,"lon":-03.7038},"l2":{"lat":01.5,"lon":002.25}}}"#;
        let events = events_or_rows(text).unwrap();
        assert_eq!(events[0]["l1"], json!({"lat": 40.4168, "lon": -3.7038}));
        assert_eq!(events[0]["l2"], json!({"lat": 1.5, "lon": 2.25}));
    }

    #[test]
    fn rows_keep_the_first_character() {
        let events =
            events_or_rows("2 123456789012 eni-1 1.1.1.1 2.2.2.2 1 2 6 1 1 10 20 ACCEPT OK\n")
                .unwrap();
        assert_eq!(events[0]["version"], "2");
        assert_eq!(events[0]["start"], "10");
        assert_eq!(events[0]["source"], "vpc");
    }
}
