//! `--subscriber security_hub`: objects of concatenated EventBridge events from Security Hub
//! (through Firehose). One message per finding (fix S3), with the event's action and insight
//! fields (kept 27).

use super::read_text;
use crate::bucket::text::concatenated_json;
use crate::exit::code;
use crate::json::{Map, Value};
use crate::pipeline::format::{
    Emit, Event, FailureRules, Format, ParseContext, ParseError, SubscriberFailures,
};

pub struct SecurityHub;

/// Fields of `detail` copied into every message of the event.
const COPIED: [&str; 6] = [
    "actionName",
    "actionDescription",
    "insightName",
    "insightArn",
    "resultType",
    "insightResults",
];

impl Format for SecurityHub {
    fn parse_stream(
        &self,
        _key: &str,
        input: &mut dyn std::io::BufRead,
        _ctx: ParseContext,
        emit: &mut Emit,
    ) -> Result<(), ParseError> {
        let text = read_text(input)?;
        // Every event of the object is held at once: their tree has one budget.
        let _budget = crate::limits::TreeBudget::object();
        for value in concatenated_json(&text) {
            let Ok(Value::Object(event)) = value else {
                return Err(ParseError::invalid("the object does not hold JSON events"));
            };
            for message in messages(event)? {
                emit(message)?;
            }
        }
        Ok(())
    }

    fn reshape(&self, msg: Value) -> Vec<Value> {
        vec![msg]
    }

    fn failure_rules(&self) -> FailureRules {
        FailureRules::Subscriber(SubscriberFailures {
            fetch_exit: code::INVALID_TYPE,
            parse_exit: code::PARSE,
            parse_text: Some("Data in the file does not contain JSON objects."),
        })
    }
}

/// The messages of one event: one per finding, or one for an event without findings.
fn messages(mut event: Map) -> Result<Vec<Event>, ParseError> {
    let (Some(detail_type), Some(Value::Object(mut detail))) =
        (event.remove("detail-type"), event.remove("detail"))
    else {
        return Err(ParseError::Rejected(
            "an event has no detail-type or detail".into(),
        ));
    };
    let mut base = Map::new();
    base.insert("source".into(), "securityhub".into());
    base.insert("detail_type".into(), detail_type);
    for field in COPIED {
        if let Some(v) = detail.remove(field) {
            base.insert(field.into(), v);
        }
    }
    Ok(match detail.remove("findings") {
        None => vec![base],
        Some(Value::Array(findings)) => findings
            .into_iter()
            .map(|finding| {
                let mut message = base.clone();
                message.insert("finding".into(), finding);
                message
            })
            .collect(),
        Some(other) => {
            let mut message = base;
            message.insert("finding".into(), other);
            vec![message]
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bucket::ParseAll;

    fn parse(text: &str) -> Result<Vec<Event>, ParseError> {
        SecurityHub.parse(
            "k",
            text.as_bytes(),
            ParseContext {
                skip_on_error: false,
            },
        )
    }

    #[test]
    fn one_message_per_finding_with_the_copied_fields() {
        let e = parse(
            r#"{"detail-type":"Security Hub Findings - Custom Action","detail":{"actionName":"Send","other":1,"findings":[{"Id":"a"},{"Id":"b"}]}}
               {"detail-type":"Security Hub Findings - Imported","detail":{"findings":[]}}
               {"detail-type":"Security Hub Insight Results","detail":{"insightName":"n"}}"#,
        )
        .unwrap();
        assert_eq!(e.len(), 3);
        assert_eq!(e[0]["finding"]["Id"], "a");
        assert_eq!(e[1]["actionName"], "Send");
        assert!(e[0].get("other").is_none());
        assert_eq!(e[2]["insightName"], "n");
        assert!(e[2].get("finding").is_none());
    }

    #[test]
    fn bad_content_and_incomplete_events() {
        assert!(matches!(parse("not json"), Err(ParseError::Invalid(_))));
        assert!(matches!(
            parse(r#"{"detail":{}}"#),
            Err(ParseError::Rejected(_))
        ));
    }
}
