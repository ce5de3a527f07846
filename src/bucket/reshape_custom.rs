//! The reshaping the reference's custom bucket gives every type derived from it (custom, WAF,
//! load balancers, server access, Umbrella): the generic one, plus Macie summaries reduced to
//! lists of paths and GuardDuty's `additionalInfo.unusual` wrapped in an object.

use crate::json::{Map, Value};

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
        Value::String(s) => s.to_string(),
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
                p.push(k.to_string());
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
            vec![Value::from(p[..keep].join("."))]
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
