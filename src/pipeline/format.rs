//! How an object's bytes become messages: the format a source's objects are in. Bucket types
//! are formats (and more, see `bucket::Bucket`); so are the subscribers' object formats.

use crate::json::{Map, Value};

use crate::message::{self, DiscardFilter, Origin};
use std::fmt;

/// Why an object's content could not be turned into events. Parsers say what went wrong;
/// `pipeline::failure` decides what that means for the run (exit code, `error_msg`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// The object is malformed: an `error_msg` event with `--skip_on_error`, else exit 9.
    Invalid(String),
    /// Malformed, in words the reference prints itself; stops the run (exit 9). Parsers return
    /// it only without `--skip_on_error` (WAF).
    Rejected(String),
    /// The run's settings do not fit the bucket: stops the run whatever the flags (exit 12).
    Unsupported(String),
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
            ParseError::Invalid(m)
            | ParseError::Rejected(m)
            | ParseError::Unsupported(m)
            | ParseError::Read(m) => f.write_str(m),
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

/// How an object's failure ends, in the words of the reference's module that reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureRules {
    /// Bucket runs: each failure has its exit code; `--skip_on_error` sends an `error_msg`.
    Bucket,
    /// SQS subscribers: what the reference's subscriber classes exit with (S4, kept 25).
    Subscriber(SubscriberFailures),
}

/// The exit codes a subscriber gives when an object cannot be fetched or parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscriberFailures {
    /// GetObject failing for another reason than a missing object.
    pub fetch_exit: i32,
    /// The content cannot be parsed.
    pub parse_exit: i32,
    /// The `ERROR:` text for content that cannot be parsed, when the reference has one.
    pub parse_text: Option<&'static str>,
}

pub trait Format: Send + Sync {
    /// Read one decompressed object and emit its events in order, without holding the
    /// object whole where the format allows it.
    fn parse_stream(
        &self,
        key: &str,
        input: &mut dyn std::io::BufRead,
        ctx: ParseContext,
        emit: &mut Emit,
    ) -> Result<(), ParseError>;

    /// Whether `--discard-field/--discard-regex` drop the event.
    fn discards(&self, filter: &DiscardFilter, event: &Event) -> bool {
        filter.field_matches(event)
    }

    /// The message around one event: `{"integration": "aws", "aws": {log_info, ...}}`.
    fn envelope(&self, origin: &Origin, event: Event) -> Value {
        message::envelope(origin, event)
    }

    /// Reshape one enveloped message into what is sent (usually one message).
    fn reshape(&self, msg: Value) -> Vec<Value> {
        let mut msg = msg;
        message::reformat_generic(&mut msg);
        vec![msg]
    }

    fn failure_rules(&self) -> FailureRules {
        FailureRules::Bucket
    }
}
