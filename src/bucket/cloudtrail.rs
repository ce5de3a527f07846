//! CloudTrail: `AWSLogs/.../CloudTrail/REGION/YYYY/MM/DD/*.json.gz`, one JSON document per
//! object with the events under `Records`.

use super::{
    Bucket, Emit, Format, Layout, MarkerRule, ParseContext, ParseError, TypeInfo, BASE_INFO,
};
use crate::json::{Map, Value};
use crate::state::TableKind;

pub const INFO: TypeInfo = TypeInfo {
    name: "cloudtrail",
    table: "cloudtrail",
    table_kind: TableKind::Regional,
    layout: Layout::AwsLogs {
        service: "CloudTrail",
    },
    marker: MarkerRule::RewindOneDay,
    ..BASE_INFO
};

/// Fields whose type changes from event to event; the indexer maps them as objects.
const DYNAMIC_FIELDS: [&str; 3] = [
    "additionalEventData",
    "responseElements",
    "requestParameters",
];

pub struct CloudTrail;

impl Bucket for CloudTrail {
    fn info(&self) -> &'static TypeInfo {
        &INFO
    }
}

impl Format for CloudTrail {
    fn parse_stream(
        &self,
        _key: &str,
        input: &mut dyn std::io::BufRead,
        _ctx: ParseContext,
        emit: &mut Emit,
    ) -> Result<(), ParseError> {
        super::records::stream_records(input, "Records", "cloudtrail", emit)
    }

    fn reshape(&self, msg: Value) -> Vec<Value> {
        let mut msg = msg;
        crate::message::reformat_generic(&mut msg);
        if let Some(Value::Object(aws)) = msg.get_mut("aws") {
            reshape_dynamic_fields(aws);
        }
        if !disable_api_termination_ok(&mut msg) {
            crate::log::warning(&format!("Could not reformat event {msg}"));
        }
        vec![msg]
    }
}

/// A dynamic field that is not an object becomes `{"string": TEXT}` (D3): a string as is,
/// anything else as compact JSON text.
fn reshape_dynamic_fields(aws: &mut Map) {
    for field in DYNAMIC_FIELDS {
        let Some(v) = aws.get_mut(field) else {
            continue;
        };
        if v.is_object() {
            continue;
        }
        let text = match &*v {
            Value::String(s) => s.clone(),
            other => other.to_string().into(),
        };
        let mut wrapped = Map::new();
        wrapped.insert("string".into(), Value::String(text));
        *v = Value::Object(wrapped);
    }
}

/// `requestParameters.disableApiTermination` as a bool becomes `{"value": b}`; an object is
/// kept; any other type is left alone and reported (false), as the reference does.
fn disable_api_termination_ok(msg: &mut Value) -> bool {
    let Some(v) = msg
        .get_mut("aws")
        .and_then(|a| a.get_mut("requestParameters"))
        .and_then(|r| r.get_mut("disableApiTermination"))
    else {
        return true;
    };
    match v {
        Value::Bool(b) => {
            let mut wrapped = Map::new();
            wrapped.insert("value".into(), Value::Bool(*b));
            *v = Value::Object(wrapped);
            true
        }
        Value::Object(_) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bucket::ParseAll;
    use crate::json;

    const CTX: ParseContext = ParseContext {
        skip_on_error: false,
    };

    fn reshape(aws: Value) -> Value {
        let mut msg = json!({"integration": "aws", "aws": aws});
        msg = CloudTrail.reshape(msg).pop().unwrap();
        msg["aws"].clone()
    }

    #[test]
    fn records_get_source() {
        let events = CloudTrail
            .parse(
                "k",
                br#"{"Records": [{"eventName": "A", "source": "x"}, {"eventName": "B"}]}"#,
                CTX,
            )
            .unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0]["source"], "cloudtrail");
        assert_eq!(events[1]["eventName"], "B");
    }

    #[test]
    fn no_records_no_events_and_bad_json_is_an_error() {
        assert!(CloudTrail
            .parse("k", br#"{"Other": 1}"#, CTX)
            .unwrap()
            .is_empty());
        assert!(CloudTrail.parse("k", br#"[1, 2]"#, CTX).unwrap().is_empty());
        assert!(CloudTrail
            .parse("k", br#"{"Records": []}"#, CTX)
            .unwrap()
            .is_empty());
        assert!(CloudTrail.parse("k", b"{bad", CTX).is_err());
        assert!(CloudTrail.parse("k", b"", CTX).is_err());
        assert!(CloudTrail.parse("k", br#"{"Records": [1]}"#, CTX).is_err());
        assert!(CloudTrail.parse("k", br#"{"Records": "x"}"#, CTX).is_err());
        assert!(CloudTrail.parse("k", &[0xff, 0xfe], CTX).is_err());
    }

    #[test]
    fn dynamic_fields_become_objects() {
        let aws = reshape(json!({
            "requestParameters": "plain",
            "responseElements": ["ok", "applied"],
            "additionalEventData": true,
        }));
        assert_eq!(aws["requestParameters"], json!({"string": "plain"}));
        assert_eq!(
            aws["responseElements"],
            json!({"string": "[\"ok\",\"applied\"]"})
        );
        assert_eq!(aws["additionalEventData"], json!({"string": "true"}));
        let aws = reshape(json!({"requestParameters": ["x"], "responseElements": [1, 2.5, "é"]}));
        assert_eq!(aws["requestParameters"], json!({"string": "x"}));
        assert_eq!(aws["responseElements"], json!({"string": "[1,2.5,\"é\"]"}));
        let aws = reshape(json!({"responseElements": {"a": 1}}));
        assert_eq!(aws["responseElements"], json!({"a": 1}));
    }

    #[test]
    fn disable_api_termination() {
        let aws = reshape(json!({"requestParameters": {"disableApiTermination": false}}));
        assert_eq!(
            aws["requestParameters"]["disableApiTermination"],
            json!({"value": false})
        );
        let aws = reshape(json!({"requestParameters": {"disableApiTermination": {"value": true}}}));
        assert_eq!(
            aws["requestParameters"]["disableApiTermination"],
            json!({"value": true})
        );
        let aws = reshape(json!({"requestParameters": {"disableApiTermination": "yes"}}));
        assert_eq!(aws["requestParameters"]["disableApiTermination"], "yes");
    }
}
