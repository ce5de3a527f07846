//! Custom buckets: CloudWatch-Events-style objects (concatenated JSON with `detail` and
//! `source`, as Firehose writes them) under a prefix, or space-separated VPC-style rows. The
//! reshaping here (Macie summaries, `additionalInfo.unusual`) is shared by every type that
//! the reference derives from its custom bucket.

use super::text::{concatenated_json, csv_rows, read_error, row_event, Extras};
use super::{Bucket, Emit, Event, Layout, ParseContext, ParseError};
use crate::json::{Map, Value};
use crate::state::TableKind;
use regex::Regex;
use std::sync::OnceLock;

pub struct Custom;

/// The date folder that must follow the prefix directly (`PREFIX/YYYY/MM/DD/...`).
pub fn slash_date() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"\d{4}/\d{2}/\d{2}").expect("static regex"))
}

impl Bucket for Custom {
    fn type_name(&self) -> &'static str {
        "custom"
    }

    fn table(&self) -> (&'static str, TableKind) {
        ("custom", TableKind::Global)
    }

    fn layout(&self) -> Layout {
        Layout::Custom
    }

    fn same_prefix_date(&self) -> Option<&'static Regex> {
        Some(slash_date())
    }

    fn parse_stream(
        &self,
        _key: &str,
        input: &mut dyn std::io::BufRead,
        _ctx: ParseContext,
        emit: &mut Emit,
    ) -> Result<(), ParseError> {
        // Held whole: a Macie object may need its coordinates repaired before parsing.
        let text = read_all(input)?;
        for event in events_or_rows(&text)? {
            emit(event)?;
        }
        Ok(())
    }

    fn reshape(&self, msg: Value) -> Vec<Value> {
        vec![reshape_custom(msg)]
    }
}

/// The whole object as text.
pub fn read_all(input: &mut dyn std::io::BufRead) -> Result<String, ParseError> {
    let mut text = String::new();
    input.read_to_string(&mut text).map_err(read_error)?;
    Ok(text)
}

/// Macie writes coordinates with leading zeros (`"lat":040.4168`), which is not JSON (D6).
fn repair_macie_coordinates(text: &str) -> Option<String> {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        Regex::new(r#""lat":(-?0+\d+\.\d+),"lon":(-?0+\d+\.\d+)"#).expect("static regex")
    });
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
        detail.insert("source".into(), Value::String(source));
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

const MACIE_SUMMARY_FIELDS: [&str; 9] = [
    "Bucket",
    "DLP risk",
    "IP",
    "Location",
    "Object",
    "Owner",
    "Themes",
    "Timestamps",
    "recipientAccountId",
];

/// Python's `str()` of a JSON value, for summary paths.
fn py_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        other => other.to_string(),
    }
}

/// The reference's `list_paths_from_dict`: every path to a leaf joined with `.`, leaving out
/// the last `discard` components (0 leaves out everything: `[""]`, kept quirk 9).
fn list_paths(value: &Value, discard: usize, path: Vec<String>) -> Vec<Value> {
    match value {
        Value::Object(map) => map
            .iter()
            .flat_map(|(k, v)| {
                let mut p = path.clone();
                p.push(k.clone());
                list_paths(v, discard, p)
            })
            .collect(),
        leaf => {
            let mut p = path;
            match leaf {
                Value::Array(items) => p.extend(items.iter().map(py_str)),
                other => p.push(py_str(other)),
            }
            let keep = if discard == 0 {
                0
            } else {
                p.len().saturating_sub(discard)
            };
            vec![Value::String(p[..keep].join("."))]
        }
    }
}

fn reshape_macie_summary(summary: &mut Map) {
    for field in MACIE_SUMMARY_FIELDS {
        if let Some(v) = summary.get_mut(field) {
            if v.is_object() {
                *v = Value::Array(list_paths(v, 1, Vec::new()));
            }
        }
    }
    if let Some(Value::Object(events)) = summary.get_mut("Events") {
        for fields in events.values_mut() {
            let Value::Object(fields) = fields else {
                continue;
            };
            for (name, v) in fields.iter_mut() {
                let discard = if name == "count" { 0 } else { 1 };
                *v = Value::Array(list_paths(v, discard, Vec::new()));
            }
        }
    }
}

/// The reference's custom-bucket reformatting, after the generic one.
pub fn reshape_custom(msg: Value) -> Value {
    let mut msg = msg;
    crate::message::reformat_generic(&mut msg);
    let Some(Value::Object(aws)) = msg.get_mut("aws") else {
        return msg;
    };
    let is_macie = aws.get("source").and_then(Value::as_str) == Some("macie");
    if is_macie {
        aws.remove("trigger");
    }
    if let Some(Value::Object(info)) = aws
        .get_mut("service")
        .and_then(|s| s.get_mut("additionalInfo"))
    {
        if let Some(unusual) = info.get_mut("unusual") {
            if !unusual.is_object() {
                let mut wrapped = Map::new();
                wrapped.insert("value".into(), unusual.take());
                *unusual = Value::Object(wrapped);
            }
        }
    }
    if is_macie {
        if let Some(Value::Object(summary)) = aws.get_mut("summary") {
            reshape_macie_summary(summary);
        }
    }
    msg
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

    #[test]
    fn macie_summary_and_unusual() {
        let msg = json!({"integration": "aws", "aws": {
            "source": "macie", "trigger": {"x": 1},
            "summary": {"IP": {"34.1.2.3": 3}, "Bucket": {"b1": {"x": 2}}, "Owner": "me",
                        "Events": {"GetObject": {"count": 4, "isp": {"Amazon": 4}}}},
            "service": {"additionalInfo": {"unusual": 5}}}});
        let out = reshape_custom(msg);
        let aws = &out["aws"];
        assert!(aws.get("trigger").is_none());
        assert_eq!(aws["summary"]["IP"], json!(["34.1.2.3"]));
        assert_eq!(aws["summary"]["Bucket"], json!(["b1.x"]));
        assert_eq!(aws["summary"]["Owner"], "me");
        assert_eq!(
            aws["summary"]["Events"]["GetObject"],
            json!({"count": [""], "isp": ["Amazon"]})
        );
        assert_eq!(
            aws["service"]["additionalInfo"]["unusual"],
            json!({"value": 5})
        );
    }
}
