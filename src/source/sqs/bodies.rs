//! What an SQS message body names: S3 event notifications sent straight to SQS, the same in an
//! SNS envelope, EventBridge "Object Created" events, and S3's test events (fix S2).

use crate::json::Value;

/// An object a notification names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    pub bucket: String,
    pub key: String,
}

/// Why a body names nothing we can read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// The body is not JSON.
    NotJson(String),
    /// JSON of no notification shape we know (or a record without bucket or key).
    Unknown(String),
}

/// Which shapes a subscriber accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shapes {
    /// `buckets` and `security_hub`: S3, SNS, EventBridge and test events.
    Notifications,
    /// `security_lake`: `detail.bucket.name` and `detail.object.key` only.
    SecurityLake,
}

/// The objects a body names, in order; none for a test event or an event that is not about
/// a new object (the message is then finished as it is).
pub fn objects(shapes: Shapes, body: &str) -> Result<Vec<Named>, BodyError> {
    let value = parse(body)?;
    match shapes {
        Shapes::SecurityLake => {
            let named = detail_object(&value).ok_or_else(|| unknown("no detail.object.key"))?;
            Ok(vec![named])
        }
        Shapes::Notifications => notification_objects(unwrap_sns(value)?),
    }
}

fn parse(text: &str) -> Result<Value, BodyError> {
    serde_json::from_str(text).map_err(|e| BodyError::NotJson(e.to_string()))
}

fn unknown(why: &str) -> BodyError {
    BodyError::Unknown(why.to_string())
}

/// An SNS envelope is replaced by its parsed `Message`.
fn unwrap_sns(value: Value) -> Result<Value, BodyError> {
    match (
        value.get("Type").and_then(Value::as_str),
        value.get("Message"),
    ) {
        (Some("Notification"), Some(Value::String(message))) => parse(message),
        _ => Ok(value),
    }
}

fn notification_objects(value: Value) -> Result<Vec<Named>, BodyError> {
    if !value.is_object() {
        return Err(unknown("not a JSON object"));
    }
    if value.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(Vec::new());
    }
    if let Some(Value::Array(records)) = value.get("Records") {
        if !records.is_empty() {
            return records.iter().filter_map(record_object).collect();
        }
    }
    if let Some(named) = detail_object(&value) {
        return Ok(match value.get("detail-type").map(Value::as_str) {
            None | Some(Some("Object Created")) => vec![named],
            Some(_) => Vec::new(),
        });
    }
    Err(unknown("no Records, detail or test event"))
}

/// One record of an S3 event notification; `None` for an event that is not a creation.
fn record_object(record: &Value) -> Option<Result<Named, BodyError>> {
    if let Some(Value::String(event)) = record.get("eventName") {
        if !event.starts_with("ObjectCreated:") {
            return None;
        }
    }
    let s3 = record.get("s3");
    let bucket = s3
        .and_then(|s| s.pointer("/bucket/name"))
        .and_then(Value::as_str);
    let key = s3
        .and_then(|s| s.pointer("/object/key"))
        .and_then(Value::as_str);
    Some(match (bucket, key) {
        (Some(bucket), Some(key)) => Ok(Named {
            bucket: bucket.to_string(),
            key: unquote_plus(key),
        }),
        _ => Err(unknown("a record without s3.bucket.name or s3.object.key")),
    })
}

/// `detail.bucket.name` and `detail.object.key` (EventBridge); the key is used as it is.
fn detail_object(value: &Value) -> Option<Named> {
    let text = |path: &str| value.pointer(path)?.as_str().map(str::to_string);
    Some(Named {
        bucket: text("/detail/bucket/name")?,
        key: text("/detail/object/key")?,
    })
}

/// Python's `urllib.parse.unquote_plus`: `+` is a space, `%XX` a byte; the bytes are read as
/// UTF-8, invalid sequences replaced.
pub fn unquote_plus(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3(keys: &[(&str, &str)]) -> String {
        let records: Vec<String> = keys
            .iter()
            .map(|(event, key)| {
                format!(
                    r#"{{"eventName":"{event}","s3":{{"bucket":{{"name":"b"}},"object":{{"key":"{key}"}}}}}}"#
                )
            })
            .collect();
        format!(r#"{{"Records":[{}]}}"#, records.join(","))
    }

    fn keys(body: &str) -> Vec<String> {
        objects(Shapes::Notifications, body)
            .unwrap()
            .into_iter()
            .map(|n| n.key)
            .collect()
    }

    #[test]
    fn every_created_record_in_order_with_keys_decoded() {
        let body = s3(&[
            ("ObjectCreated:Put", "a/audit+08-30%3D1.json"),
            ("ObjectRemoved:Delete", "a/old.json"),
            ("ObjectCreated:CompleteMultipartUpload", "a/b%2Bc"),
        ]);
        assert_eq!(keys(&body), ["a/audit 08-30=1.json", "a/b+c"]);
    }

    #[test]
    fn sns_envelopes_and_test_events() {
        let inner = s3(&[("ObjectCreated:Put", "k.gz")]);
        let sns = serde_json::json!({"Type": "Notification", "Message": inner}).to_string();
        assert_eq!(keys(&sns), ["k.gz"]);
        let test = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"b"}"#;
        assert!(keys(test).is_empty());
        let sns_test = serde_json::json!({"Type": "Notification", "Message": test}).to_string();
        assert!(keys(&sns_test).is_empty());
    }

    #[test]
    fn eventbridge_keys_are_not_decoded_and_other_detail_types_name_nothing() {
        let event = |t: &str| {
            format!(
                r#"{{"detail-type":"{t}","detail":{{"bucket":{{"name":"b"}},"object":{{"key":"x/2024-06-10T08:40:00Z/a+b.json"}}}}}}"#
            )
        };
        assert_eq!(
            keys(&event("Object Created")),
            ["x/2024-06-10T08:40:00Z/a+b.json"]
        );
        assert!(keys(&event("Object Deleted")).is_empty());
    }

    #[test]
    fn unreadable_bodies_are_told_apart() {
        let not_json = objects(Shapes::Notifications, "Hello from the pipeline");
        assert!(matches!(not_json, Err(BodyError::NotJson(_))));
        let alarm = objects(Shapes::Notifications, r#"{"AlarmName":"x"}"#);
        assert!(matches!(alarm, Err(BodyError::Unknown(_))));
        let no_key = objects(Shapes::Notifications, r#"{"Records":[{"s3":{}}]}"#);
        assert!(matches!(no_key, Err(BodyError::Unknown(_))));
        let empty = objects(Shapes::Notifications, r#"{"Records":[]}"#);
        assert!(matches!(empty, Err(BodyError::Unknown(_))));
    }

    #[test]
    fn security_lake_reads_only_the_detail() {
        let body = r#"{"detail":{"bucket":{"name":"lake"},"object":{"key":"a/b%20c.gz.parquet"}}}"#;
        let named = objects(Shapes::SecurityLake, body).unwrap();
        assert_eq!(named[0].key, "a/b%20c.gz.parquet");
        assert!(matches!(
            objects(
                Shapes::SecurityLake,
                s3(&[("ObjectCreated:Put", "k")]).as_str()
            ),
            Err(BodyError::Unknown(_))
        ));
    }

    #[test]
    fn unquote_plus_follows_python() {
        assert_eq!(unquote_plus("a+b%20c%2Bd%zz%4"), "a b c+d%zz%4");
        assert_eq!(unquote_plus("caf%C3%A9"), "café");
        assert_eq!(unquote_plus("bad%FF"), "bad\u{fffd}");
    }
}
