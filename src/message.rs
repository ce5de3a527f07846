//! What every bucket type does to an event on its way to Wazuh: the envelope, null removal,
//! the generic reshaping, and the `--discard-field/--discard-regex` filter.
//!
//! The order is the reference's and it shows in the output: the filter sees the raw event;
//! nulls are removed from objects (not from inside lists) before one-element lists are
//! flattened, so a flattened object keeps its nulls (REFERENCE-QUIRKS kept 5).

use crate::json::{Map, Value};
use regex::Regex;
use std::net::IpAddr;

/// Where an event came from, for `aws.log_info` (and `aws.aws_account_id` on AWSLogs/ types).
pub struct Origin<'a> {
    pub bucket: &'a str,
    /// Bucket runs always name an alias (maybe empty); subscribers' messages have none.
    pub account_alias: Option<&'a str>,
    pub log_key: &'a str,
    /// Set for `AWSLogs/`-layout types, which add `aws.aws_account_id`.
    pub account_id: Option<&'a str>,
}

fn log_info(origin: &Origin) -> Value {
    let mut info = Map::new();
    if let Some(alias) = origin.account_alias {
        info.insert("aws_account_alias".into(), alias.into());
    }
    info.insert("log_file".into(), origin.log_key.into());
    info.insert("s3bucket".into(), origin.bucket.into());
    Value::Object(info)
}

/// `{"integration": "aws", "aws": {"log_info": ..., <event fields>}}` with nulls removed.
pub fn envelope(origin: &Origin, event: Map) -> Value {
    let mut aws = event;
    remove_nulls(&mut aws);
    // The event's own fields stay where they are (no rehashing); log_info goes first. An
    // event field named log_info wins, as `dict.update` lets it in the reference.
    let info = aws.remove("log_info").unwrap_or_else(|| log_info(origin));
    aws.insert_first("log_info".into(), info);
    if let Some(account) = origin.account_id {
        aws.insert("aws_account_id".into(), account.into());
    }
    let mut msg = Map::new();
    msg.insert("integration".into(), "aws".into());
    msg.insert("aws".into(), Value::Object(aws));
    Value::Object(msg)
}

/// The message sent instead of an object's events when it cannot be read (`--skip_on_error`).
pub fn error_envelope(origin: &Origin, error_msg: &str) -> Value {
    let mut aws = Map::new();
    aws.insert("log_info".into(), log_info(origin));
    if let Some(account) = origin.account_id {
        aws.insert("aws_account_id".into(), account.into());
    }
    let mut msg = Map::new();
    msg.insert("integration".into(), "aws".into());
    msg.insert("aws".into(), Value::Object(aws));
    msg.insert("error_msg".into(), error_msg.into());
    Value::Object(msg)
}

/// Remove null-valued fields through nested objects; lists are left untouched.
pub fn remove_nulls(map: &mut Map) {
    map.retain(|_, v| !v.is_null());
    for v in map.values_mut() {
        if let Value::Object(inner) = v {
            remove_nulls(inner);
        }
    }
}

/// Replace every one-element list by its element, through nested objects. The element itself
/// is not visited (as in the reference), so lists inside it stay as they are.
pub fn flatten_single_element_lists(map: &mut Map) {
    for v in map.values_mut() {
        match v {
            Value::Array(items) if items.len() == 1 => {
                *v = items.pop().expect("one element");
            }
            Value::Object(inner) => flatten_single_element_lists(inner),
            _ => {}
        }
    }
}

/// The reshaping every bucket type gets (the reference's `AWSBucket.reformat_msg`).
pub fn reformat_generic(msg: &mut Value) {
    let Value::Object(root) = msg else { return };
    flatten_single_element_lists(root);
    let Some(Value::Object(aws)) = root.get_mut("aws") else {
        return;
    };
    // Only real IP addresses: the field is mapped as an IP in the Wazuh indexer (D4).
    if let Some(Value::String(ip)) = aws.get("sourceIPAddress") {
        if ip.parse::<IpAddr>().is_ok() {
            let ip = ip.clone();
            aws.insert("source_ip_address".into(), Value::String(ip));
        }
    }
    if let Some(tags) = aws.get_mut("tags") {
        if !tags.is_object() {
            let value = tags.take();
            let mut wrapped = Map::new();
            wrapped.insert("value".into(), value);
            *tags = Value::Object(wrapped);
        }
    }
}

/// `--discard-field/--discard-regex`: skip events whose field (or text) matches the regex.
pub struct DiscardFilter {
    field: Option<String>,
    pattern: String,
    regex: Regex,
}

impl DiscardFilter {
    /// Python's `re.match` anchors at the start of the value only; `\A(?:...)` does the same.
    pub fn new(field: Option<&str>, pattern: &str) -> Result<DiscardFilter, regex::Error> {
        let regex = Regex::new(&format!(r"\A(?:{pattern})"))?;
        Ok(DiscardFilter {
            field: field.map(str::to_string),
            pattern: pattern.to_string(),
            regex,
        })
    }

    pub fn field(&self) -> &str {
        self.field.as_deref().unwrap_or_default()
    }

    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// Whether a plain-text event matches `--discard-regex` (`re.match`).
    pub fn text_matches(&self, text: &str) -> bool {
        self.regex.is_match(text)
    }

    /// Whether the event's `--discard-field` value matches `--discard-regex`; never without
    /// a field.
    pub fn field_matches(&self, event: &Map) -> bool {
        let Some(field) = self.field.as_deref() else {
            return false;
        };
        let (head, rest) = match field.split_once('.') {
            Some((h, r)) => (h, Some(r)),
            None => (field, None),
        };
        match (event.get(head), rest) {
            (None, _) => false,
            (Some(v), None) => self.matches(v),
            (Some(v), Some(rest)) => self.check(v, rest),
        }
    }

    /// The reference's `_check_recursive`, including how it walks lists: a list is searched
    /// element by element with only the first remaining path component.
    fn check(&self, item: &Value, path: &str) -> bool {
        let (head, rest) = match path.split_once('.') {
            Some((h, r)) => (h, Some(r)),
            None => (path, None),
        };
        let value = match item {
            Value::Object(map) => match map.get(head) {
                Some(v) => v,
                None => return false,
            },
            Value::Array(items) => return items.iter().any(|i| self.check(i, head)),
            _ => return false,
        };
        match rest {
            None => self.matches(value),
            Some(rest) => self.check(value, rest),
        }
    }

    fn matches(&self, value: &Value) -> bool {
        match value {
            Value::String(s) => self.regex.is_match(s),
            Value::Array(items) => items.iter().any(|i| self.matches(i)),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    fn obj(v: Value) -> Map {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn envelope_removes_nulls_in_objects_not_lists() {
        let origin = Origin {
            bucket: "b",
            account_alias: Some("alias"),
            log_key: "k",
            account_id: Some("111122223333"),
        };
        let msg = envelope(
            &origin,
            obj(json!({"a": null, "b": {"c": null, "d": 1}, "e": [null, {"f": null}]})),
        );
        assert_eq!(
            msg,
            json!({"integration": "aws", "aws": {
                "log_info": {"aws_account_alias": "alias", "log_file": "k", "s3bucket": "b"},
                "b": {"d": 1}, "e": [null, {"f": null}], "aws_account_id": "111122223333"}})
        );
    }

    #[test]
    fn single_element_lists_flatten_without_visiting_the_element() {
        let mut m =
            obj(json!({"a": [1], "b": {"c": ["x"]}, "d": [{"e": [2]}], "f": [1, 2], "g": []}));
        flatten_single_element_lists(&mut m);
        assert_eq!(
            Value::Object(m),
            json!({"a": 1, "b": {"c": "x"}, "d": {"e": [2]}, "f": [1, 2], "g": []})
        );
    }

    #[test]
    fn source_ip_address_only_for_ips_and_tags_wrapped() {
        let mut msg = json!({"aws": {"sourceIPAddress": "10.1.2.3", "tags": ["a", "b"]}});
        reformat_generic(&mut msg);
        assert_eq!(msg["aws"]["source_ip_address"], "10.1.2.3");
        assert_eq!(msg["aws"]["tags"], json!({"value": ["a", "b"]}));
        for not_ip in ["10.1.2.3.nip.io", "AWS Internal", "ec2.amazonaws.com"] {
            let mut msg = json!({"aws": {"sourceIPAddress": not_ip}});
            reformat_generic(&mut msg);
            assert!(msg["aws"].get("source_ip_address").is_none(), "{not_ip}");
        }
        let mut msg = json!({"aws": {"sourceIPAddress": "2001:db8::1", "tags": {"k": "v"}}});
        reformat_generic(&mut msg);
        assert_eq!(msg["aws"]["source_ip_address"], "2001:db8::1");
        assert_eq!(msg["aws"]["tags"], json!({"k": "v"}));
    }

    impl DiscardFilter {
        fn should_skip(&self, event: &Value) -> bool {
            self.field_matches(event.as_object().expect("an event is an object"))
        }
    }

    #[test]
    fn discard_filter_paths() {
        let event = json!({
            "eventSource": "kms.amazonaws.com",
            "userIdentity": {"type": "AssumedRole"},
            "resources": [{"type": "AWS::S3::Object"}, {"type": "AWS::KMS::Key"}],
            "count": 5,
            "names": ["alpha", "beta"]
        });
        assert!(DiscardFilter::new(Some("eventSource"), r"kms\.")
            .unwrap()
            .should_skip(&event));
        assert!(!DiscardFilter::new(Some("eventSource"), r"amazonaws")
            .unwrap()
            .should_skip(&event));
        assert!(
            DiscardFilter::new(Some("userIdentity.type"), "(AssumedRole|Root)")
                .unwrap()
                .should_skip(&event)
        );
        assert!(DiscardFilter::new(Some("resources.type"), "AWS::S3::.*")
            .unwrap()
            .should_skip(&event));
        assert!(!DiscardFilter::new(Some("count"), "5")
            .unwrap()
            .should_skip(&event));
        assert!(DiscardFilter::new(Some("names"), "bet")
            .unwrap()
            .should_skip(&event));
        assert!(!DiscardFilter::new(Some("missing.path"), ".*")
            .unwrap()
            .should_skip(&event));
        // Alternation stays anchored at the start as a whole.
        assert!(!DiscardFilter::new(Some("eventSource"), "x|amazon")
            .unwrap()
            .should_skip(&event));
    }
}
