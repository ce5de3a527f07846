//! AWS WAF logs (Kinesis Firehose under a prefix): JSON events, one or more per line, with
//! `httpRequest.headers` reduced to the standard header names.

use super::text::Lines;
use super::{Bucket, Emit, Event, Format, ParseContext, ParseError, TypeInfo, BASE_INFO};
use crate::json::{Map, Value};
use crate::state::TableKind;

const STANDARD_HTTP_HEADERS: &[&str] = &[
    "a-im",
    "accept",
    "accept-charset",
    "accept-encoding",
    "accept-language",
    "access-control-request-method",
    "access-control-request-headers",
    "authorization",
    "cache-control",
    "connection",
    "content-encoding",
    "content-length",
    "content-type",
    "cookie",
    "date",
    "expect",
    "forwarded",
    "from",
    "host",
    "http2-settings",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "max-forwards",
    "origin",
    "pragma",
    "prefer",
    "proxy-authorization",
    "range",
    "referer",
    "te",
    "trailer",
    "transfer-encoding",
    "user-agent",
    "upgrade",
    "via",
    "warning",
    "x-requested-with",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
];

pub struct Waf;

pub const INFO: TypeInfo = TypeInfo {
    name: "waf",
    table: "waf",
    table_kind: TableKind::Global,
    same_prefix_date: Some(super::slash_date),
    ..BASE_INFO
};

impl Bucket for Waf {
    fn info(&self) -> &'static TypeInfo {
        &INFO
    }
}

impl Format for Waf {
    fn parse_stream(
        &self,
        key: &str,
        input: &mut dyn std::io::BufRead,
        ctx: ParseContext,
        emit: &mut Emit,
    ) -> Result<(), ParseError> {
        let mut lines = Lines::new(input);
        while let Some(line) = lines.next_line()? {
            let mut rest = line.trim_end();
            while !rest.is_empty() {
                let parsed = if rest.starts_with(char::is_whitespace) {
                    None
                } else {
                    let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<Value>();
                    match stream.next() {
                        Some(Ok(v)) => Some((v, stream.byte_offset())),
                        _ => None,
                    }
                };
                let Some((value, used)) = parsed else {
                    let name = key.rsplit('/').next().unwrap_or(key);
                    let msg = format!("Events from {name} file could not be loaded.");
                    if !ctx.skip_on_error {
                        return Err(ParseError::Rejected(msg));
                    }
                    crate::log::error(&msg);
                    break;
                };
                rest = &rest[used..];
                let Value::Object(mut event) = value else {
                    return Err(ParseError::invalid("an event is not a JSON object"));
                };
                event.insert("source".into(), "waf".into());
                if !filter_headers(&mut event) {
                    let msg = format!("The {key} file doesn't have the expected structure.");
                    if !ctx.skip_on_error {
                        return Err(ParseError::Rejected(msg));
                    }
                    crate::log::error(&msg);
                }
                emit(event)?;
            }
        }
        Ok(())
    }

    fn reshape(&self, msg: Value) -> Vec<Value> {
        vec![super::reshape_custom::reshape_custom(msg)]
    }
}

/// `httpRequest.headers` (a list of name/value objects) to an object of the standard headers;
/// false, and the event untouched, when the structure is not that.
fn filter_headers(event: &mut Event) -> bool {
    let Some(Value::Array(list)) = event.get("httpRequest").and_then(|r| r.get("headers")) else {
        return false;
    };
    let mut headers = Map::new();
    for element in list {
        let (Some(Value::String(name)), Some(value)) = (element.get("name"), element.get("value"))
        else {
            return false;
        };
        if STANDARD_HTTP_HEADERS.contains(&name.to_lowercase().as_str()) {
            headers.insert(name.clone(), value.clone());
        }
    }
    if let Some(slot) = event
        .get_mut("httpRequest")
        .and_then(|r| r.get_mut("headers"))
    {
        *slot = Value::Object(headers);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bucket::ParseAll;
    use crate::json;

    const NO_SKIP: ParseContext = ParseContext {
        skip_on_error: false,
    };
    const SKIP: ParseContext = ParseContext {
        skip_on_error: true,
    };

    #[test]
    fn headers_are_reduced_and_lines_may_hold_several_events() {
        let line = r#"{"a":1,"httpRequest":{"headers":[{"name":"Host","value":"x"},{"name":"X-Custom","value":"y"},{"name":"host","value":"z"}]}}{"a":2,"httpRequest":{"headers":[]}}"#;
        let events = Waf
            .parse("k", format!("{line}\n").as_bytes(), NO_SKIP)
            .unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(
            events[0]["httpRequest"]["headers"],
            json!({"Host": "x", "host": "z"})
        );
        assert_eq!(events[1]["source"], "waf");
    }

    #[test]
    fn bad_lines_and_missing_headers() {
        let data = b"{\"a\":1}\nnot json\n";
        assert!(matches!(
            Waf.parse("k", data, NO_SKIP),
            Err(ParseError::Rejected(_))
        ));
        let events = Waf.parse("k", data, SKIP).unwrap();
        assert_eq!(
            events.len(),
            1,
            "the header-less event is kept, the bad line dropped"
        );
        assert_eq!(events[0]["a"], 1);
    }
}
