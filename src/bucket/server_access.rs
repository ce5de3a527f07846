//! S3 server access logs: `PREFIX/YYYY-MM-DD-HH-MM-SS-UNIQUEID`, one request per line with
//! bracketed times and quoted values.

use super::text::Lines;
use super::{
    Bucket, DateStyle, Emit, Event, Format, ParseContext, ParseError, TypeInfo, BASE_INFO,
};
use crate::json::Value;
use crate::state::TableKind;
use regex::Regex;
use std::sync::LazyLock;

const FIELDS: [&str; 24] = [
    "bucket_owner",
    "bucket",
    "time",
    "remote_ip",
    "requester",
    "request_id",
    "operation",
    "key",
    "request_uri",
    "http_status",
    "error_code",
    "bytes_sent",
    "object_sent",
    "total_time",
    "turn_around_time",
    "referer",
    "user_agent",
    "version_id",
    "host_id",
    "signature_version",
    "cipher_suite",
    "authentication_type",
    "host_header",
    "tls_version",
];

pub struct ServerAccess;

pub const INFO: TypeInfo = TypeInfo {
    name: "server_access",
    table: "s3_server_access",
    table_kind: TableKind::Global,
    date_style: DateStyle::Dashes,
    marker_separator: Some('-'),
    same_prefix_date: Some(key_timestamp),
    empty_when_no_folders: false,
    ..BASE_INFO
};

/// `2024-02-06-00-05-12`, which must follow the prefix directly.
fn key_timestamp() -> &'static Regex {
    static RE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}").expect("static regex"));
    &RE
}

impl Bucket for ServerAccess {
    fn info(&self) -> &'static TypeInfo {
        &INFO
    }
}

impl Format for ServerAccess {
    fn parse_stream(
        &self,
        _key: &str,
        input: &mut dyn std::io::BufRead,
        _ctx: ParseContext,
        emit: &mut Emit,
    ) -> Result<(), ParseError> {
        let mut lines = Lines::new(input);
        while let Some(line) = lines.next_line()? {
            emit({
                // Fields past the 24 named ones are dropped, as the reference's zip() does.
                let mut e: Event = FIELDS
                    .iter()
                    .zip(split_line(&line))
                    .map(|(k, v)| (crate::json::Str::from(*k), Value::from(v)))
                    .collect();
                e.insert("source".into(), "s3_server_access".into());
                e
            })?;
        }
        Ok(())
    }

    fn reshape(&self, msg: Value) -> Vec<Value> {
        vec![super::reshape_custom::reshape_custom(msg)]
    }
}

/// The reference's `parse_line`: split on single spaces, then join `[...]`, `"..."` and
/// `'...'` groups and drop their delimiters. An empty token (two spaces) ends the line.
fn split_line(line: &str) -> Vec<String> {
    let mut tokens = line.split(' ');
    let mut values: Vec<String> = Vec::new();
    let strip = |s: &str| -> String {
        let mut c = s.chars();
        c.next();
        c.next_back();
        c.as_str().to_string()
    };
    while let Some(value) = tokens.next().filter(|t| !t.is_empty()) {
        values.push(value.to_string());
        let (first, last) = (
            value.chars().next().unwrap_or(' '),
            value.chars().last().unwrap_or(' '),
        );
        let closing = match first {
            '[' if last != ']' => Some(']'),
            '"' if last != '"' => Some('"'),
            '\'' if last != '\'' => Some('\''),
            _ => None,
        };
        match closing {
            Some(delim) => {
                while let Some(next) = tokens.next().filter(|t| !t.is_empty()) {
                    let joined = format!("{} {next}", values.last().expect("pushed"));
                    *values.last_mut().expect("pushed") = joined;
                    if next.ends_with(delim) {
                        let stripped = strip(values.last().expect("pushed"));
                        *values.last_mut().expect("pushed") = stripped;
                        break;
                    }
                }
            }
            None if (first == '"' || first == '\'') && last == first => {
                let stripped = strip(value);
                *values.last_mut().expect("pushed") = stripped;
            }
            None => {}
        }
    }
    if let Some(last) = values.last_mut() {
        *last = last.replace('\n', "");
    }
    values
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bucket::ParseAll;

    #[test]
    fn line_groups() {
        let line = "owner bkt [06/Feb/2024:00:00:38 +0000] 192.0.2.3 - 3E57 REST.GET.VERSIONING - \"GET /bkt?versioning HTTP/1.1\" 200 - 113 - 7 - \"-\" \"S3Console/0.4\" - host= SigV4 ECDHE AuthHeader bkt.s3.amazonaws.com TLSV1.2 - Yes\n";
        let v = split_line(line);
        assert_eq!(v[2], "06/Feb/2024:00:00:38 +0000");
        assert_eq!(v[8], "GET /bkt?versioning HTTP/1.1");
        assert_eq!(v[15], "-");
        assert_eq!(v[16], "S3Console/0.4");
        assert_eq!(v.last().unwrap(), "Yes");
        let events = ServerAccess
            .parse(
                "k",
                line.as_bytes(),
                ParseContext {
                    skip_on_error: false,
                },
            )
            .unwrap();
        assert_eq!(events[0].len(), 25);
        assert_eq!(events[0]["tls_version"], "TLSV1.2");
    }

    #[test]
    fn quoted_last_field_keeps_its_quotes() {
        assert_eq!(split_line("a \"b\"\n"), ["a", "\"b\""]);
        assert_eq!(split_line("a \"b\""), ["a", "b"]);
        assert_eq!(split_line("a  b"), ["a"]);
    }
}
