//! AWS Config: `AWSLogs/ACCOUNT/Config/REGION/YYYY/M/D/` with un-padded month and day,
//! `configurationItems` per object, objects read in date order.

use super::{
    Bucket, DateStyle, Emit, Format, Layout, Listed, MarkerRule, ParseContext, ParseError,
    TypeInfo, BASE_INFO,
};
use crate::json::{Map, Value};
use crate::state::TableKind;
use chrono::{NaiveDate, NaiveDateTime};
use regex::Regex;
use std::sync::LazyLock;

pub const INFO: TypeInfo = TypeInfo {
    name: "config",
    table: "config",
    table_kind: TableKind::Regional,
    layout: Layout::AwsLogs { service: "Config" },
    date_style: DateStyle::Unpadded,
    marker: MarkerRule::YearFolder,
    ..BASE_INFO
};

pub struct Config;

/// The `/YYYY/M/D/` folder date of a key.
fn key_date(key: &str) -> Option<NaiveDate> {
    static RE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"/(\d{4})/(\d{1,2})/(\d{1,2})/").expect("static regex"));
    let c = RE.captures(key)?;
    NaiveDate::from_ymd_opt(c[1].parse().ok()?, c[2].parse().ok()?, c[3].parse().ok()?)
}

impl Bucket for Config {
    fn info(&self) -> &'static TypeInfo {
        &INFO
    }

    fn arrange_page(
        &self,
        objects: Vec<Listed>,
        only_logs_after: Option<NaiveDate>,
    ) -> Vec<Listed> {
        let mut dated: Vec<(Option<NaiveDate>, Listed)> =
            objects.into_iter().map(|o| (key_date(&o.key), o)).collect();
        // Stable: objects of one day keep the listing's order.
        dated.sort_by_key(|(d, _)| *d);
        dated
            .into_iter()
            .filter(|(d, _)| match only_logs_after {
                Some(after) => d.is_some_and(|d| d >= after),
                None => true,
            })
            .map(|(_, o)| o)
            .collect()
    }
}

impl Format for Config {
    fn parse_stream(
        &self,
        _key: &str,
        input: &mut dyn std::io::BufRead,
        _ctx: ParseContext,
        emit: &mut Emit,
    ) -> Result<(), ParseError> {
        super::records::stream_records(input, "configurationItems", "config", emit)
    }

    fn reshape(&self, msg: Value) -> Vec<Value> {
        let mut msg = msg;
        crate::message::reformat_generic(&mut msg);
        let ok = match msg.get_mut("aws").and_then(|a| a.get_mut("configuration")) {
            Some(Value::Object(configuration)) => reshape_configuration(configuration),
            _ => true,
        };
        if !ok {
            crate::log::warning(&format!("Could not reformat event {msg}"));
        }
        vec![msg]
    }
}

fn wrap(key: &str, v: Value) -> Value {
    let mut m = Map::new();
    m.insert(key.into(), v);
    Value::Object(m)
}

/// A list of security groups or availability zones to `{field: [values]}` (D5): string items
/// go to `string_field`, objects give their `fields`.
fn collect_fields(items: &[Value], fields: [&str; 2], string_field: &str) -> Value {
    let mut out = Map::new();
    for field in fields {
        let values: Vec<Value> = items
            .iter()
            .filter_map(|i| match i {
                Value::String(_) if field == string_field => Some(i.clone()),
                Value::Object(o) => o.get(field).cloned(),
                _ => None,
            })
            .collect();
        if !values.is_empty() {
            out.insert(field.into(), Value::Array(values));
        }
    }
    Value::Object(out)
}

/// Reshape `aws.configuration`; false when a field had a type the reference cannot handle.
fn reshape_configuration(conf: &mut Map) -> bool {
    let mut ok = true;
    // SSM inventories and the like: keep only the names of `Content` entries.
    for v in conf.values_mut() {
        if let Some(slot) = v.get_mut("Content") {
            if let Value::Object(content) = slot {
                let keys: Vec<Value> = content.keys().map(Value::from).collect();
                *slot = Value::Array(keys);
            }
        }
    }
    for (field, parts, string_field) in [
        ("securityGroups", ["groupId", "groupName"], "groupId"),
        ("availabilityZones", ["subnetId", "zoneName"], "zoneName"),
    ] {
        let Some(v) = conf.get_mut(field) else {
            continue;
        };
        *v = match v.take() {
            Value::String(s) => wrap(string_field, Value::Array(vec![Value::String(s)])),
            Value::Array(items) => collect_fields(&items, parts, string_field),
            Value::Object(o) => Value::Object(
                o.into_iter()
                    .map(|(k, v)| (k, Value::Array(vec![v])))
                    .collect(),
            ),
            other => {
                ok = false;
                other
            }
        };
    }
    for field in ["state", "iamInstanceProfile"] {
        let Some(v) = conf.get_mut(field) else {
            continue;
        };
        match v {
            Value::String(s) => *v = wrap("name", Value::String(s.clone())),
            Value::Object(_) => {}
            _ => ok = false,
        }
    }
    if let Some(v) = conf.get_mut("createdTime") {
        match v {
            Value::Number(n) => {
                if let Some(f) = n.as_f64() {
                    *v = Value::from(f);
                }
            }
            Value::Bool(b) => *v = Value::from(if *b { 1.0 } else { 0.0 }),
            Value::String(s) => match epoch_seconds(s) {
                Some(secs) => *v = Value::from(secs),
                None => ok = false,
            },
            _ => ok = false,
        }
    }
    ok
}

/// `2024-01-15T10:20:30.123Z` or `2024-01-15T10:20:30Z`, UTC, fraction dropped (D5).
fn epoch_seconds(s: &str) -> Option<f64> {
    let t = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.fZ")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%SZ"))
        .ok()?;
    Some(t.and_utc().timestamp() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    fn conf(c: Value) -> Value {
        let msg = json!({"integration": "aws", "aws": {"configuration": c}});
        Config.reshape(msg).pop().unwrap()["aws"]["configuration"].clone()
    }

    #[test]
    fn configuration_fields() {
        let c = conf(json!({
            "securityGroups": [{"groupId": "sg-1", "groupName": "web"}, {"groupId": "sg-2"}],
            "availabilityZones": ["us-east-1a", {"subnetId": "s-1", "zoneName": "us-east-1b"}],
            "state": "running",
            "iamInstanceProfile": {"arn": "x"},
            "createdTime": "2024-01-15T10:20:30.123Z",
            "AWS:InstanceInformation": {"Content": {"i-1": {"a": 1}, "i-2": {}}}
        }));
        assert_eq!(
            c["securityGroups"],
            json!({"groupId": ["sg-1", "sg-2"], "groupName": ["web"]})
        );
        assert_eq!(
            c["availabilityZones"],
            json!({"subnetId": ["s-1"], "zoneName": ["us-east-1a", "us-east-1b"]})
        );
        assert_eq!(c["state"], json!({"name": "running"}));
        assert_eq!(c["createdTime"], json!(1705314030.0));
        assert_eq!(
            c["AWS:InstanceInformation"]["Content"],
            json!(["i-1", "i-2"])
        );
        let c = conf(
            json!({"securityGroups": ["sg-1", "sg-2"], "createdTime": 1705314030, "iamInstanceProfile": "p"}),
        );
        assert_eq!(c["securityGroups"], json!({"groupId": ["sg-1", "sg-2"]}));
        assert_eq!(c["createdTime"], json!(1705314030.0));
        assert_eq!(c["iamInstanceProfile"], json!({"name": "p"}));
        // A one-element list was flattened first: an object becomes lists of its values.
        let c = conf(json!({"securityGroups": [{"groupId": "sg-9"}], "createdTime": "yesterday"}));
        assert_eq!(c["securityGroups"], json!({"groupId": ["sg-9"]}));
        assert_eq!(c["createdTime"], "yesterday");
    }

    #[test]
    fn pages_are_sorted_and_filtered_by_the_date_in_the_key() {
        let l = |k: &str| Listed {
            key: k.into(),
            last_modified: None,
        };
        let page = vec![
            l("p/2024/10/1/a"),
            l("p/2024/9/29/b"),
            l("p/2024/9/30/c"),
            l("p/2024/10/1/d"),
        ];
        let got: Vec<String> = Config
            .arrange_page(page, NaiveDate::from_ymd_opt(2024, 9, 30))
            .into_iter()
            .map(|o| o.key)
            .collect();
        assert_eq!(got, ["p/2024/9/30/c", "p/2024/10/1/a", "p/2024/10/1/d"]);
    }
}
