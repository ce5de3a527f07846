//! GuardDuty findings: exported natively (`AWSLogs/ACCOUNT/GuardDuty/REGION/YYYY/MM/DD/`
//! `.jsonl.gz`, one finding per line), or the deprecated Kinesis Firehose layout of
//! CloudWatch events under a prefix. Which one a bucket holds is decided once, from whether
//! `PREFIX/AWSLogs` exists.

use super::text::Lines;
use super::{
    Bucket, Emit, Format, Layout, MarkerRule, ParseContext, ParseError, TypeInfo, BASE_INFO,
};
use crate::json::Value;
use crate::state::TableKind;
use std::sync::Arc;

pub struct GuardDuty {
    pub native: bool,
}

/// Findings exported by GuardDuty itself; read again from the marker's day folder.
pub const NATIVE: TypeInfo = TypeInfo {
    name: "guardduty",
    table: "guardduty",
    table_kind: TableKind::Global,
    layout: Layout::ServiceFolders {
        service: "GuardDuty",
        organization_id: true,
    },
    marker: MarkerRule::DayFolder,
    ..BASE_INFO
};

/// The deprecated Kinesis Firehose layout: CloudWatch events under a prefix.
pub const KINESIS: TypeInfo = TypeInfo {
    name: "guardduty",
    table: "guardduty",
    table_kind: TableKind::Global,
    same_prefix_date: Some(super::slash_date),
    notice: Some(KINESIS_NOTICE),
    ..BASE_INFO
};

const KINESIS_NOTICE: &str = "The functionality to process GuardDuty logs stored in S3 via \
Kinesis was deprecated in 4.5. Consider configuring GuardDuty to store its findings directly in \
an S3 bucket instead. Check \
https://documentation.wazuh.com/current/amazon/services/supported-services/guardduty.html for \
more information.";

impl Bucket for GuardDuty {
    fn info(&self) -> &'static TypeInfo {
        if self.native {
            &NATIVE
        } else {
            &KINESIS
        }
    }

    /// Native exports live under `PREFIX/AWSLogs/`; anything else is the Kinesis layout.
    fn settle_layout(&self) -> Option<fn(bool) -> Arc<dyn Bucket>> {
        Some(|aws_logs_has_folders| {
            Arc::new(GuardDuty {
                native: aws_logs_has_folders,
            })
        })
    }
}

impl Format for GuardDuty {
    fn parse_stream(
        &self,
        key: &str,
        input: &mut dyn std::io::BufRead,
        _ctx: ParseContext,
        emit: &mut Emit,
    ) -> Result<(), ParseError> {
        if !key.ends_with(".jsonl.gz") {
            let text = super::cloudwatch_events::read_all(input)?;
            // Every event of the object is held at once: their tree has one budget.
            let _budget = crate::limits::TreeBudget::object();
            for event in super::cloudwatch_events::events_or_rows(&text)? {
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
    use crate::bucket::ParseAll;
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
}
