//! GuardDuty findings: exported natively (`AWSLogs/ACCOUNT/GuardDuty/REGION/YYYY/MM/DD/`
//! `.jsonl.gz`, one finding per line), or the deprecated Kinesis Firehose layout of
//! CloudWatch events under a prefix. Which one a bucket holds is decided once, from whether
//! `PREFIX/AWSLogs` exists.

use super::text::Lines;
use super::{Bucket, Emit, Layout, ParseContext, ParseError};
use crate::json::Value;
use crate::state::TableKind;
use regex::Regex;
use std::sync::OnceLock;

const GUARDDUTY_URL: &str =
    "https://documentation.wazuh.com/current/amazon/services/supported-services/guardduty.html";

pub struct GuardDuty {
    pub native: bool,
}

impl Bucket for GuardDuty {
    fn type_name(&self) -> &'static str {
        "guardduty"
    }

    fn table(&self) -> (&'static str, TableKind) {
        ("guardduty", TableKind::Global)
    }

    fn layout(&self) -> Layout {
        if self.native {
            Layout::AwsLogs {
                service: "GuardDuty",
            }
        } else {
            Layout::Custom
        }
    }

    fn same_prefix_date(&self) -> Option<&'static Regex> {
        (!self.native).then(super::custom::slash_date)
    }

    /// Native exports are read again from the marker's day folder.
    fn adjust_start_after(&self, marker: String) -> String {
        static RE: OnceLock<Regex> = OnceLock::new();
        if !self.native {
            return marker;
        }
        let re = RE.get_or_init(|| {
            Regex::new(r"^(.*?/GuardDuty/[^/]+/\d{4}/\d{2}/\d{2}/)").expect("static regex")
        });
        match re.captures(&marker) {
            Some(c) => {
                crate::debug!(2, "+++ GuardDuty: Rewound marker to day folder: {}", &c[1]);
                c[1].to_string()
            }
            None => marker,
        }
    }

    fn notice(&self) -> Option<String> {
        (!self.native).then(|| {
            format!(
                "The functionality to process GuardDuty logs stored in S3 via Kinesis was deprecated \
                 in 4.5. Consider configuring GuardDuty to store its findings directly in an S3 \
                 bucket instead. Check {GUARDDUTY_URL} for more information."
            )
        })
    }

    fn parse_stream(
        &self,
        key: &str,
        input: &mut dyn std::io::BufRead,
        _ctx: ParseContext,
        emit: &mut Emit,
    ) -> Result<(), ParseError> {
        if !key.ends_with(".jsonl.gz") {
            let text = super::custom::read_all(input)?;
            for event in super::custom::events_or_rows(&text)? {
                emit(event)?;
            }
            return Ok(());
        }
        let mut lines = Lines::new(input);
        while let Some(line) = lines.next_line()? {
            let v: Value = serde_json::from_str(&line)?;
            let Value::Object(mut finding) = v else {
                return Err(ParseError::invalid("a finding is not a JSON object"));
            };
            let source = finding
                .get("service")
                .and_then(|s| s.get("serviceName"))
                .cloned()
                .ok_or_else(|| ParseError::invalid("KeyError('serviceName')"))?;
            finding.insert("source".into(), source);
            emit(finding)?;
        }
        Ok(())
    }

    /// A port-probe finding with several details is sent once per detail, without the
    /// generic reshaping (kept quirk 8).
    fn reshape(&self, msg: Value) -> Vec<Value> {
        let details = msg
            .get("aws")
            .filter(|a| a.get("source").and_then(Value::as_str) == Some("guardduty"))
            .and_then(|a| a.pointer("/service/action/portProbeAction/portProbeDetails"))
            .and_then(Value::as_array)
            .filter(|d| d.len() > 1)
            .cloned();
        match details {
            Some(details) => details
                .into_iter()
                .map(|detail| {
                    let mut one = msg.clone();
                    if let Some(slot) =
                        one.pointer_mut("/aws/service/action/portProbeAction/portProbeDetails")
                    {
                        *slot = detail;
                    }
                    one
                })
                .collect(),
            None => {
                let mut msg = msg;
                crate::message::reformat_generic(&mut msg);
                vec![msg]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    const CTX: ParseContext = ParseContext {
        skip_on_error: false,
    };

    #[test]
    fn jsonl_findings_take_their_service_name() {
        let g = GuardDuty { native: true };
        let data = b"{\"id\":\"1\",\"service\":{\"serviceName\":\"guardduty\"}}\n{\"id\":\"2\",\"service\":{\"serviceName\":\"guardduty\"}}\n";
        let events = g.parse("a/b.jsonl.gz", data, CTX).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[1]["source"], "guardduty");
        assert!(g.parse("a/b.jsonl.gz", b"{\"id\":1}\n", CTX).is_err());
        assert!(g.parse("a/b.jsonl.gz", b"{}\n\n", CTX).is_err());
    }

    #[test]
    fn port_probe_split() {
        let g = GuardDuty { native: true };
        let msg = json!({"aws": {"source": "guardduty", "productCodes": ["x"], "service": {"action": {"portProbeAction": {"portProbeDetails": [{"p": 1}, {"p": 2}]}}}}});
        let out = g.reshape(msg);
        assert_eq!(out.len(), 2);
        assert_eq!(
            out[1]["aws"]["service"]["action"]["portProbeAction"]["portProbeDetails"],
            json!({"p": 2})
        );
        assert_eq!(out[0]["aws"]["productCodes"], json!(["x"]));
        let msg = json!({"aws": {"source": "guardduty", "productCodes": ["x"], "service": {"action": {"portProbeAction": {"portProbeDetails": [{"p": 1}]}}}}});
        let out = g.reshape(msg);
        assert_eq!(out[0]["aws"]["productCodes"], "x");
        assert_eq!(
            out[0]["aws"]["service"]["action"]["portProbeAction"]["portProbeDetails"],
            json!({"p": 1})
        );
    }

    #[test]
    fn native_marker_goes_back_to_the_day_folder() {
        let g = GuardDuty { native: true };
        assert_eq!(
            g.adjust_start_after("AWSLogs/1/GuardDuty/eu-west-1/2024/03/14/abc.jsonl.gz".into()),
            "AWSLogs/1/GuardDuty/eu-west-1/2024/03/14/"
        );
    }
}
