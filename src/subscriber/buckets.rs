//! `--subscriber buckets`: any object an S3 notification names, read as the reference's
//! `AWSSubscriberBucket` does (kept 20-24): `.jsonl.gz` lines, else concatenated JSON events,
//! else CSV when the first line has no digit, else one event per line.

use super::csv_dialect;
use super::{read_text, SUBSCRIBER_FAILURES};
use crate::bucket::text::concatenated_json;
use crate::json::{Map, Value};
use crate::limits::TreeBudget;
use crate::message::DiscardFilter;
use crate::pipeline::format::{Emit, Event, FailureRules, Format, ParseContext, ParseError};
use regex::Regex;
use std::sync::LazyLock;

pub struct Buckets;

impl Format for Buckets {
    fn parse_stream(
        &self,
        key: &str,
        input: &mut dyn std::io::BufRead,
        _ctx: ParseContext,
        emit: &mut Emit,
    ) -> Result<(), ParseError> {
        let text = read_text(input)?;
        // Every event of the object is held at once: their tree has one budget.
        let _budget = crate::limits::TreeBudget::object();
        let events = match key.ends_with(".jsonl.gz") {
            true => json_lines(&text),
            false => json_events(&text),
        };
        for event in events.unwrap_or_else(|| text_events(&text)) {
            emit(event?)?;
        }
        Ok(())
    }

    /// S1: plain-text events by the regex alone, JSON events by `--discard-field`.
    fn discards(&self, filter: &DiscardFilter, event: &Event) -> bool {
        match event.get("full_log") {
            Some(Value::String(line)) => filter.text_matches(line),
            _ => filter.field_matches(event),
        }
    }

    fn reshape(&self, msg: Value) -> Vec<Value> {
        vec![msg]
    }

    fn failure_rules(&self) -> FailureRules {
        FailureRules::Subscriber(SUBSCRIBER_FAILURES)
    }
}

/// One JSON object per line, sent as it is; `None` when a line is not one (a blank line too).
fn json_lines(text: &str) -> Option<Vec<Result<Event, ParseError>>> {
    let body = text.strip_suffix('\n').unwrap_or(text);
    if body.is_empty() {
        return Some(Vec::new());
    }
    body.split('\n')
        .map(|line| match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(event)) => Some(Ok(event)),
            _ => None,
        })
        .collect()
}

/// Concatenated JSON objects, each its `detail` (when it has one) with `source: custom`;
/// `None` when anything in the text is not a JSON object.
fn json_events(text: &str) -> Option<Vec<Result<Event, ParseError>>> {
    concatenated_json(text)
        .into_iter()
        .map(|value| {
            let Ok(Value::Object(mut event)) = value else {
                return None;
            };
            if let Some(detail) = event.remove("detail") {
                event = match detail {
                    Value::Object(detail) => detail,
                    _ => return None,
                };
            }
            event.insert("source".into(), "custom".into());
            Some(Ok(event))
        })
        .collect()
}

/// CSV rows when the first line has no digit, else one `full_log` event per line.
fn text_events(text: &str) -> Vec<Result<Event, ParseError>> {
    let first = text.split('\n').next().unwrap_or_default().trim();
    if digit().is_match(first) {
        return python_splitlines(text)
            .map(|line| {
                TreeBudget::charge_event(EVENT_BYTES + line.len()).map_err(ParseError::invalid)?;
                let mut e = Map::new();
                e.insert("full_log".into(), line.into());
                e.insert("source".into(), "custom".into());
                Ok(e)
            })
            .collect();
    }
    // Python sniffs the whole first line; a longer one than this is not a header.
    let first = match first.char_indices().nth(SNIFFED_CHARS) {
        Some((end, _)) => &first[..end],
        None => first,
    };
    let Some(dialect) = csv_dialect::sniff(first) else {
        return vec![Err(ParseError::invalid(
            "Error('Could not determine delimiter')",
        ))];
    };
    let rows = match csv_dialect::records(text, dialect) {
        Ok(rows) => rows,
        Err(e) => return vec![Err(e)],
    };
    let mut rows = rows.into_iter();
    let names = rows.next().unwrap_or_default();
    rows.filter(|row| !row.is_empty())
        .map(|row| Ok(csv_event(&names, row)))
        .collect()
}

/// A header line is sniffed up to this many characters.
const SNIFFED_CHARS: usize = 1024 * 1024;
/// What an event of a few fields costs beyond its text.
const EVENT_BYTES: usize = 160;

/// `csv.DictReader`'s row: missing columns are left out, extra values go under `null`.
fn csv_event(names: &[String], row: Vec<String>) -> Event {
    let mut event = Map::new();
    let mut values = row.into_iter();
    for name in names {
        match values.next() {
            Some(v) => event.insert(name.into(), Value::from(v)),
            None => break,
        };
    }
    let rest: Vec<Value> = values.map(Value::from).collect();
    if !rest.is_empty() {
        event.insert("null".into(), Value::Array(rest));
    }
    event.insert("source".into(), "custom".into());
    event
}

/// Python's `\d` (Unicode decimal digits).
fn digit() -> &'static Regex {
    static RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\d").expect("static regex"));
    &RE
}

/// Python's `str.splitlines()`: every line boundary Python knows, no trailing empty line.
fn python_splitlines(text: &str) -> impl Iterator<Item = &str> {
    let is_break = |c: char| {
        matches!(
            c,
            '\n' | '\r'
                | '\x0b'
                | '\x0c'
                | '\x1c'
                | '\x1d'
                | '\x1e'
                | '\u{85}'
                | '\u{2028}'
                | '\u{2029}'
        )
    };
    let body = match text.char_indices().last() {
        Some((i, c)) if is_break(c) => &text[..i],
        _ => text,
    };
    let mut parts = (!text.is_empty()).then(|| body.split(is_break));
    std::iter::from_fn(move || parts.as_mut()?.next())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bucket::ParseAll;

    const CTX: ParseContext = ParseContext {
        skip_on_error: false,
    };

    fn parse(key: &str, text: &str) -> Vec<Event> {
        Buckets.parse(key, text.as_bytes(), CTX).unwrap()
    }

    #[test]
    fn json_lines_are_sent_as_they_are() {
        let e = parse(
            "a.jsonl.gz",
            "{\"a\":1,\"detail\":{\"x\":1}}\n{\"b\":null}\n",
        );
        assert_eq!(e.len(), 2);
        assert!(e[0].get("source").is_none() && e[0].get("detail").is_some());
        let blank_line = parse("a.jsonl.gz", "{\"a\":1}\n\n{\"b\":2}\n");
        assert_eq!(
            blank_line.len(),
            3,
            "the whole object falls back to plain lines"
        );
        assert_eq!(blank_line[1]["full_log"], "");
    }

    #[test]
    fn concatenated_events_take_their_detail_and_source_custom() {
        let e = parse(
            "k",
            "{\"source\":\"aws.guardduty\",\"detail\":{\"id\":1}}\n {\"source\":\"app\",\"n\":2}",
        );
        assert_eq!(e[0]["id"], 1);
        assert_eq!(e[0]["source"], "custom");
        assert_eq!(e[1]["source"], "custom");
        assert_eq!(
            e[1].keys().next().unwrap(),
            "source",
            "an existing key keeps its place"
        );
        let mixed = parse("k", "{\"a\":1} [2]");
        assert_eq!(mixed.len(), 1, "not all objects: plain text");
        assert_eq!(mixed[0]["full_log"], "{\"a\":1} [2]");
    }

    #[test]
    fn csv_when_the_first_line_has_no_digit() {
        let e = parse(
            "k.csv",
            "when,who,why\n2024,alice,\"a, b\"\n2025\n2026,x,y,z\n",
        );
        assert_eq!(e[0]["why"], "a, b");
        assert_eq!(e[1].len(), 2, "a short row lacks the missing keys");
        assert_eq!(e[2]["null"], crate::json!(["z"]));
    }

    #[test]
    fn plain_lines_otherwise() {
        let e = parse("k.log", "2024 one\r\ntwo\x0cthree\n\nfour");
        let lines: Vec<&str> = e.iter().map(|e| e["full_log"].as_str().unwrap()).collect();
        assert_eq!(lines, ["2024 one", "two", "three", "", "four"]);
        assert!(parse("k.log", "").is_empty());
    }

    #[test]
    fn the_discard_regex_reads_plain_lines_and_the_field_json_events() {
        let filter = DiscardFilter::new(Some("level"), "None|DEBUG").unwrap();
        let line = parse("k.log", "None of 3\n")[0].clone();
        assert!(Buckets.discards(&filter, &line));
        let json = parse("k", "{\"level\":\"DEBUG\"}")[0].clone();
        assert!(Buckets.discards(&filter, &json));
        let no_field = DiscardFilter::new(None, "DEBUG").unwrap();
        assert!(!Buckets.discards(&no_field, &json));
    }
}
