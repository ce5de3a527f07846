//! Bucket types. Each service module says only what differs between them: where its objects
//! live, which state table records them, how an object's bytes become events and how an
//! event is reshaped. Listing, markers, state, sending and deleting live once, in [`driver`].

pub mod cloudtrail;
pub mod config;
pub mod custom;
pub mod driver;
pub mod guardduty;
pub mod load_balancers;
pub mod pipeline;
pub mod records;
pub mod server_access;
pub mod text;
pub mod umbrella;
pub mod vpcflow;
pub mod waf;

use crate::json::{Map, Value};
use crate::state::TableKind;
use chrono::{DateTime, NaiveDate, Utc};
use regex::Regex;
use std::fmt;
use std::sync::OnceLock;

/// Where a type's objects live in the bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `PREFIX/AWSLogs/SUFFIX/[ORG_ID/]ACCOUNT/SERVICE/REGION/...`: accounts and regions are
    /// discovered from the folders unless given, and each (account, region) is read on its own.
    AwsLogs { service: &'static str },
    /// Everything under `PREFIX`, read as one listing for the caller's account (STS).
    Custom,
}

/// How a date is written in the keys, for start markers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateStyle {
    /// `2024/03/05`
    Slashes,
    /// `2024-03-05`
    Dashes,
    /// `2024/3/5` (AWS Config folders)
    Unpadded,
}

impl DateStyle {
    pub fn format(self, d: NaiveDate) -> String {
        match self {
            DateStyle::Slashes => d.format("%Y/%m/%d").to_string(),
            DateStyle::Dashes => d.format("%Y-%m-%d").to_string(),
            DateStyle::Unpadded => d.format("%Y/%-m/%-d").to_string(),
        }
    }
}

/// Why an object's content could not be turned into events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// The object is malformed: an `error_msg` event with `--skip_on_error`, else exit 9.
    Invalid(String),
    /// The run cannot go on whatever the flags say (exit code, `ERROR:` text).
    Fatal(i32, String),
    /// Reading the object failed (a decompression error, told apart by the caller).
    Read(String),
}

impl ParseError {
    pub fn invalid(msg: impl Into<String>) -> Self {
        ParseError::Invalid(msg.into())
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Invalid(m) | ParseError::Fatal(_, m) | ParseError::Read(m) => {
                f.write_str(m)
            }
        }
    }
}

impl From<serde_json::Error> for ParseError {
    fn from(e: serde_json::Error) -> Self {
        ParseError::Invalid(format!("JSONDecodeError('{e}')"))
    }
}

pub type Event = Map;

/// Where a parser hands each event as soon as it has it; an error stops the parser.
pub type Emit<'a> = dyn FnMut(Event) -> Result<(), ParseError> + 'a;

/// What a parser may need to know about the run.
#[derive(Debug, Clone, Copy)]
pub struct ParseContext {
    pub skip_on_error: bool,
}

/// One listed object.
#[derive(Debug, Clone)]
pub struct Listed {
    pub key: String,
    pub last_modified: Option<DateTime<Utc>>,
}

pub trait Bucket: Send + Sync {
    /// The `--type` value.
    fn type_name(&self) -> &'static str;

    /// The state table and which columns scope its rows.
    fn table(&self) -> (&'static str, TableKind);

    fn layout(&self) -> Layout;

    /// `AWSLogs/` types proper (CloudTrail, Config, VPC) add `aws.aws_account_id` to every
    /// message and put the suffix in the state's `bucket_path`.
    fn is_aws_logs_type(&self) -> bool {
        false
    }

    /// Whether `--aws_organization_id` is part of the `AWSLogs/` path (load balancers ignore it).
    fn uses_organization_id(&self) -> bool {
        true
    }

    /// Types whose objects can arrive late rewind their start marker one day folder and keep
    /// that window's state rows (D11).
    fn late_arrival(&self) -> bool {
        false
    }

    fn date_style(&self) -> DateStyle {
        DateStyle::Slashes
    }

    /// Only keys whose first date (this regex) starts right after the listing prefix are
    /// read (the reference's "same prefix" check of custom layouts).
    fn same_prefix_date(&self) -> Option<&'static Regex> {
        None
    }

    /// Server access keys join the date with `-`: the marker's `/` become this character.
    fn marker_separator(&self) -> Option<char> {
        None
    }

    /// Whether the start marker is raised to the `--only_logs_after` folder when below it.
    fn floor_marker_at_only_logs_after(&self) -> bool {
        true
    }

    /// A last chance to move the start marker (Config cuts it to the year folder).
    fn adjust_start_after(&self, marker: String) -> String {
        marker
    }

    /// Order and filter one listing page (Config sorts by the date in the key).
    fn arrange_page(
        &self,
        objects: Vec<Listed>,
        _only_logs_after: Option<NaiveDate>,
    ) -> Vec<Listed> {
        objects
    }

    /// Whether an empty prefix is one with no folders (the reference's check), or one with
    /// neither folders nor objects (server access, whose objects sit at the top).
    fn empty_when_no_folders(&self) -> bool {
        true
    }

    /// `created_date` of the state row, `YYYYMMDD`. `None` leaves the object unrecorded, as
    /// the reference does for a key it cannot read a date from.
    fn creation_date(&self, object: &Listed) -> Option<i64> {
        if self.is_aws_logs_type() {
            aws_logs_creation_date(&object.key)
        } else {
            custom_creation_date(object)
        }
    }

    /// A line printed before the run starts (deprecation notices).
    fn notice(&self) -> Option<String> {
        None
    }

    /// Read one decompressed object and emit its events in order, without holding the
    /// object whole where the format allows it.
    fn parse_stream(
        &self,
        key: &str,
        input: &mut dyn std::io::BufRead,
        ctx: ParseContext,
        emit: &mut Emit,
    ) -> Result<(), ParseError>;

    /// Every event of an object held in memory.
    fn parse(&self, key: &str, data: &[u8], ctx: ParseContext) -> Result<Vec<Event>, ParseError> {
        let mut events = Vec::new();
        let mut input = data;
        self.parse_stream(key, &mut input, ctx, &mut |e| {
            events.push(e);
            Ok(())
        })?;
        Ok(events)
    }

    /// Reshape one enveloped message into what is sent (usually one message).
    fn reshape(&self, msg: Value) -> Vec<Value> {
        let mut msg = msg;
        crate::message::reformat_generic(&mut msg);
        vec![msg]
    }
}

/// `ACCOUNT_SERVICE_REGION_20240315T1405Z_RANDOM.json.gz` -> 20240315.
pub fn aws_logs_creation_date(key: &str) -> Option<i64> {
    let name = key.rsplit('/').next().unwrap_or(key);
    let parts: Vec<&str> = name.split('_').collect();
    if parts.len() < 2 {
        return None;
    }
    let stamp = parts[parts.len() - 2];
    let date = stamp.split('T').next().unwrap_or(stamp);
    date.trim().parse::<i64>().ok()
}

/// The last `YYYY-MM-DD` or `YYYY/MM/DD` in the key, else the object's modification day.
pub fn custom_creation_date(object: &Listed) -> Option<i64> {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| Regex::new(r"\d{4}[/-]\d{2}[/-]\d{2}").expect("static regex"));
    match re.find_iter(&object.key).last() {
        Some(m) => m.as_str().replace(['/', '-'], "").parse().ok(),
        None => object
            .last_modified
            .map(|t| t.format("%Y%m%d").to_string())
            .and_then(|s| s.parse().ok()),
    }
}

/// The bucket type for a `--type` value (case-insensitive), or `None` for an unknown type.
/// GuardDuty is resolved later, once the bucket was looked at (native or Kinesis layout).
pub fn for_type(name: &str, prefix: &str) -> Option<std::sync::Arc<dyn Bucket>> {
    Some(match name.to_lowercase().as_str() {
        "cloudtrail" => std::sync::Arc::new(cloudtrail::CloudTrail),
        "config" => std::sync::Arc::new(config::Config),
        "vpcflow" => std::sync::Arc::new(vpcflow::VpcFlow),
        "custom" => std::sync::Arc::new(custom::Custom),
        "guardduty" => std::sync::Arc::new(guardduty::GuardDuty { native: true }),
        "cisco_umbrella" => std::sync::Arc::new(umbrella::Umbrella::new(prefix)),
        "waf" => std::sync::Arc::new(waf::Waf),
        "alb" => std::sync::Arc::new(load_balancers::LoadBalancer::alb()),
        "clb" => std::sync::Arc::new(load_balancers::LoadBalancer::clb()),
        "nlb" => std::sync::Arc::new(load_balancers::LoadBalancer::nlb()),
        "server_access" => std::sync::Arc::new(server_access::ServerAccess),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creation_date_from_key() {
        assert_eq!(
            aws_logs_creation_date(
                "AWSLogs/1/CloudTrail/us-east-1/2024/03/15/1_CloudTrail_us-east-1_20240315T1405Z_Fb.json.gz"
            ),
            Some(20240315)
        );
        assert_eq!(aws_logs_creation_date("AWSLogs/x/readme.txt"), None);
        let listed = |key: &str| Listed {
            key: key.into(),
            last_modified: Some("2024-05-06T10:00:00Z".parse().unwrap()),
        };
        assert_eq!(
            custom_creation_date(&listed(
                "events/2024/07/07/07/sec-events-1-2024-07-08-07-10-00-x.gz"
            )),
            Some(20240708)
        );
        assert_eq!(
            custom_creation_date(&listed("access/2024-02-06-00-05-12-DA93")),
            Some(20240206)
        );
        assert_eq!(
            custom_creation_date(&listed("no-date-here")),
            Some(20240506)
        );
    }

    #[test]
    fn date_styles() {
        let d = NaiveDate::from_ymd_opt(2025, 1, 5).unwrap();
        assert_eq!(DateStyle::Slashes.format(d), "2025/01/05");
        assert_eq!(DateStyle::Dashes.format(d), "2025-01-05");
        assert_eq!(DateStyle::Unpadded.format(d), "2025/1/5");
    }

    #[test]
    fn types_resolve() {
        for t in [
            "cloudtrail",
            "vpcflow",
            "config",
            "custom",
            "guardduty",
            "cisco_umbrella",
            "waf",
            "alb",
            "clb",
            "nlb",
            "server_access",
        ] {
            assert!(for_type(t, "").is_some(), "{t}");
        }
        assert!(for_type("CloudTrail", "").is_some());
        assert!(for_type("firewall", "").is_none());
    }
}

/// No input makes a parser or a reshaping panic: malformed objects are errors.
#[cfg(test)]
mod robustness {
    use super::*;

    const SAMPLES: &[&[u8]] = &[
        b"",
        b"\n\n",
        b" ",
        b"-",
        b"{",
        b"{\"Records\": [{\"a\": null, \"requestParameters\": [\"x\"], \"tags\": [1]}]}",
        b"{\"configurationItems\": [{\"configuration\": {\"securityGroups\": 5, \"state\": [1, 2], \"createdTime\": {}, \"x\": {\"Content\": [1]}}}]}",
        b"version account-id srcaddr start end\n2 1 10.0.0.1 notanumber 99999999999999999999\n",
        b"2 123 eni 1.1.1.1 2.2.2.2 1 2 6 1 1 1735722300 1735722360 ACCEPT OK extra more\n2 1\n",
        b"{\"source\":\"aws.macie\",\"detail\":{\"summary\":{\"Events\":{\"x\":{\"count\":{\"a\":[1,{\"b\":2}]}}},\"IP\":[1]},\"lat\":040.1,\"lon\":-00.5}}  \n",
        b"{\"source\":5,\"detail\":{}}",
        b"{\"id\":1,\"service\":{\"serviceName\":\"guardduty\",\"action\":{\"portProbeAction\":{\"portProbeDetails\":[1,2,3]}}}}\n",
        b"{\"httpRequest\":{\"headers\":[{\"name\":5}]}}{\"httpRequest\":7}\n[1]\n",
        b"h2 2024 app 1:2:3 - - - - 200 - 0 0 \"unterminated",
        b"owner [unclosed \"quote 'x' [a] \"\" '\n\n  \n",
        b"\"a,b\",\"c\"\"d\",e,,\n\"multi\nline\"",
        b"\xff\xfe\x00binary\x80",
        "\u{feff}héllo wörld ✓ \"ünï cödé\"\n".as_bytes(),
    ];

    /// A small deterministic generator: the tests must not depend on a random seed.
    fn mutations(sample: &[u8]) -> Vec<Vec<u8>> {
        let mut out = vec![sample.to_vec()];
        let mut state: u32 = 0x9e37_79b9 ^ sample.len() as u32;
        for _ in 0..24 {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let mut m = sample.to_vec();
            if !m.is_empty() {
                let at = state as usize % m.len();
                match state % 3 {
                    0 => m.truncate(at),
                    1 => m[at] = (state >> 8) as u8,
                    _ => m.insert(at, b"\"{[\n ,:-"[(state >> 4) as usize % 8]),
                }
            }
            out.push(m);
        }
        out
    }

    #[test]
    fn parsers_and_reshaping_never_panic() {
        let types: Vec<Box<dyn Bucket>> = vec![
            Box::new(cloudtrail::CloudTrail),
            Box::new(config::Config),
            Box::new(vpcflow::VpcFlow),
            Box::new(custom::Custom),
            Box::new(guardduty::GuardDuty { native: true }),
            Box::new(guardduty::GuardDuty { native: false }),
            Box::new(umbrella::Umbrella::new("x/dnslogs/")),
            Box::new(waf::Waf),
            Box::new(load_balancers::LoadBalancer::alb()),
            Box::new(load_balancers::LoadBalancer::clb()),
            Box::new(load_balancers::LoadBalancer::nlb()),
            Box::new(server_access::ServerAccess),
        ];
        let origin = crate::message::Origin {
            bucket: "b",
            account_alias: "",
            log_key: "k",
            account_id: Some("111122223333"),
        };
        for sample in SAMPLES {
            for data in mutations(sample) {
                for t in &types {
                    for key in ["a/b.jsonl.gz", "a/b.log"] {
                        for skip_on_error in [false, true] {
                            let ctx = ParseContext { skip_on_error };
                            if let Ok(events) = t.parse(key, &data, ctx) {
                                for e in events {
                                    let msg = crate::message::envelope(&origin, e);
                                    for out in t.reshape(msg) {
                                        assert!(serde_json::to_string(&out).is_ok());
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The edge cases every line or JSON format meets in real buckets.
#[cfg(test)]
mod edge_cases {
    use super::*;

    const CTX: ParseContext = ParseContext {
        skip_on_error: false,
    };

    fn count(t: &dyn Bucket, key: &str, data: &[u8]) -> usize {
        t.parse(key, data, CTX)
            .map(|e| e.len())
            .unwrap_or(usize::MAX)
    }

    #[test]
    fn empty_objects_have_no_events() {
        let line_types: Vec<Box<dyn Bucket>> = vec![
            Box::new(vpcflow::VpcFlow),
            Box::new(waf::Waf),
            Box::new(load_balancers::LoadBalancer::alb()),
            Box::new(load_balancers::LoadBalancer::nlb()),
            Box::new(load_balancers::LoadBalancer::clb()),
            Box::new(umbrella::Umbrella::new("dnslogs")),
            Box::new(server_access::ServerAccess),
            Box::new(custom::Custom),
            Box::new(guardduty::GuardDuty { native: true }),
        ];
        for t in &line_types {
            assert_eq!(count(t.as_ref(), "k.jsonl.gz", b""), 0, "{}", t.type_name());
        }
        // A JSON document type needs a document (json.load of nothing fails).
        assert!(cloudtrail::CloudTrail.parse("k", b"", CTX).is_err());
        assert!(config::Config.parse("k", b"", CTX).is_err());
    }

    #[test]
    fn header_only_vpc_file_and_truncated_last_lines() {
        assert_eq!(
            count(&vpcflow::VpcFlow, "k", b"version account-id start end\n"),
            0
        );
        let no_final_newline = b"2 1 eni 1.1.1.1 2.2.2.2 1 2 6 1 1 1735722300 1735722360 ACCEPT OK";
        assert_eq!(count(&vpcflow::VpcFlow, "k", no_final_newline), 1);
        let lb = load_balancers::LoadBalancer::clb();
        let e = lb
            .parse("k", b"2024-06-01T00:05:00Z my-clb 1.2.3.4:5", CTX)
            .unwrap();
        assert_eq!(
            e[0].len(),
            4,
            "three columns and source; the rest is missing, not null"
        );
        let sa = server_access::ServerAccess;
        assert_eq!(
            sa.parse("k", b"owner bucket [06/Feb/2024:00:00:38", CTX)
                .unwrap()[0]["time"],
            "[06/Feb/2024:00:00:38"
        );
    }

    #[test]
    fn non_ascii_and_dash_fields_are_kept_as_text() {
        let u = umbrella::Umbrella::new("iplogs");
        let e = u
            .parse(
                "k",
                "\"2024-08-20\",\"Büro-Köln ✓\",10.0.0.1,-,-\n".as_bytes(),
                CTX,
            )
            .unwrap();
        assert_eq!(e[0]["identity"], "Büro-Köln ✓");
        assert_eq!(e[0]["source_port"], "-");
        let nlb = load_balancers::LoadBalancer::nlb();
        let e = nlb
            .parse(
                "k",
                b"tls 2.0 t net/x l 1.2.3.4:5 6.7.8.9:443 - - - - - - - - - - - - - - - x y\n",
                CTX,
            )
            .unwrap();
        assert_eq!(e[0]["extra_fields"], serde_json::json!(["x", "y"]));
        assert_eq!(e[0]["incoming_tls_alert"], "-");
    }
}
