//! Why an object yielded no (or not all its) events, and what that means for the run: the
//! `error_msg` sent in its place under `--skip_on_error`, the exit code and `ERROR:` text that
//! end the run, or (subscribers) a message left in the queue. The one place where an object's
//! failure is classified; the rules differ by the reference module that reads the object.

use super::format::{FailureRules, ParseError, SubscriberFailures};
use crate::decode::DecodeError;
use crate::exit::{code, fail};

pub enum ObjectFailure {
    Decode(DecodeError),
    Parse(ParseError),
    /// The object or its bucket does not exist (NoSuchKey, NoSuchBucket).
    Gone(String),
    /// The service refused the object otherwise (e.g. AccessDenied): retrying won't help.
    Fetch(String),
    /// The run must stop whatever the flags say (throttling, network, a cut body).
    Fatal(anyhow::Error),
}

/// What the source does with a failed object.
pub enum Action {
    /// Send this `error_msg` in the object's place; the object is finished.
    ErrorMsg(String),
    /// End the run.
    Stop(anyhow::Error),
    /// Leave the object unfinished (its SQS message stays in the queue) and go on; the line is
    /// printed as an `ERROR:` line or, when `error` is false, a debug line.
    Leave { line: String, error: bool },
}

/// `--skip_on_error` sends `error_msg` in the object's place; without it the run ends.
fn skippable(skip_on_error: bool, error_msg: String, exit: i32, fatal: String) -> Action {
    match skip_on_error {
        true => Action::ErrorMsg(error_msg),
        false => Action::Stop(fail(exit, fatal)),
    }
}

impl ObjectFailure {
    /// The decompression failures that mean the data is not what its format says.
    fn invalid_data(&self) -> Option<(&'static str, String)> {
        match self {
            ObjectFailure::Decode(d) => d.invalid_data(),
            _ => None,
        }
    }

    pub fn action(self, key: &str, rules: FailureRules, skip_on_error: bool) -> Action {
        match rules {
            FailureRules::Bucket => self.bucket_action(key, skip_on_error),
            FailureRules::Subscriber(s) => self.subscriber_action(key, s, skip_on_error),
        }
    }

    fn bucket_action(self, key: &str, skip_on_error: bool) -> Action {
        let skippable = |error_msg, exit, fatal| skippable(skip_on_error, error_msg, exit, fatal);
        let same = |text: String, exit: i32| skippable(text.clone(), exit, text);
        if let Some((format, detail)) = self.invalid_data() {
            return skippable(
                format!("Failed to decompress file {key}: {detail}"),
                code::DECOMPRESS,
                format!(
                    "Invalid {format} file received. Failed to decompress file {key}: {detail}"
                ),
            );
        }
        match self {
            // A cut gzip stream: the other decode failures returned above.
            ObjectFailure::Decode(e) => same(
                format!("Unknown error reading/parsing file {key}: {e}"),
                code::UNKNOWN,
            ),
            ObjectFailure::Gone(e) | ObjectFailure::Fetch(e) => same(
                format!("Unknown error reading/parsing file {key}: {e}"),
                code::UNKNOWN,
            ),
            ObjectFailure::Parse(ParseError::Rejected(m)) => Action::Stop(fail(code::PARSE, m)),
            ObjectFailure::Parse(ParseError::Unsupported(m)) => {
                Action::Stop(fail(code::INVALID_TYPE, m))
            }
            ObjectFailure::Parse(e @ (ParseError::Invalid(_) | ParseError::Read(_))) => {
                same(format!("Failed to parse file {key}: {e}"), code::PARSE)
            }
            ObjectFailure::Fatal(e) => Action::Stop(e),
        }
    }

    /// S4: with `--skip_on_error` a missing, undecodable or unparsable object gives its
    /// `error_msg` (its message is then deleted); any other GetObject failure leaves its
    /// message in the queue. Without it, the reference's exits are kept (kept 25).
    fn subscriber_action(self, key: &str, s: SubscriberFailures, skip_on_error: bool) -> Action {
        let skippable = |error_msg, exit, fatal| skippable(skip_on_error, error_msg, exit, fatal);
        if let Some((format, detail)) = self.invalid_data() {
            return skippable(
                format!("Failed to decompress file {key}: {detail}"),
                code::DECOMPRESS,
                format!("Invalid {format} file received."),
            );
        }
        match self {
            // A cut gzip stream: the other decode failures returned above.
            ObjectFailure::Decode(e) => {
                let text = format!("Failed to decompress file {key}: {e}");
                skippable(text.clone(), code::INVALID_TYPE, text)
            }
            ObjectFailure::Gone(e) => {
                let text = format!("Unknown error reading/parsing file {key}: {e}");
                skippable(text.clone(), s.fetch_exit, text)
            }
            ObjectFailure::Fetch(e) if skip_on_error => Action::Leave {
                line: format!("Could not read {key}: {e}; the message stays in the queue"),
                error: true,
            },
            ObjectFailure::Fetch(e) => {
                Action::Stop(fail(s.fetch_exit, format!("Could not read {key}: {e}")))
            }
            ObjectFailure::Parse(ParseError::Rejected(m)) if !skip_on_error => Action::Leave {
                line: format!("{key}: {m}; the message stays in the queue"),
                error: false,
            },
            ObjectFailure::Parse(ParseError::Unsupported(m)) => {
                Action::Stop(fail(code::INVALID_TYPE, m))
            }
            ObjectFailure::Parse(e) => {
                let text = format!("Failed to parse file {key}: {e}");
                let fatal = s.parse_text.map_or_else(|| text.clone(), str::to_string);
                skippable(text, s.parse_exit, fatal)
            }
            ObjectFailure::Fatal(e) => Action::Stop(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HUB: FailureRules = FailureRules::Subscriber(SubscriberFailures {
        fetch_exit: code::INVALID_TYPE,
        parse_exit: code::PARSE,
        parse_text: Some("Data in the file does not contain JSON objects."),
    });

    fn error_msg(f: ObjectFailure, rules: FailureRules) -> String {
        match f.action("k.gz", rules, true) {
            Action::ErrorMsg(m) => m,
            _ => panic!("not skipped"),
        }
    }

    fn stop(f: ObjectFailure, rules: FailureRules) -> (i32, String) {
        match f.action("k.gz", rules, false) {
            Action::Stop(e) => {
                let failure = e.downcast::<crate::exit::Failure>().unwrap();
                (failure.code, failure.message.unwrap())
            }
            _ => panic!("the run goes on"),
        }
    }

    #[test]
    fn bucket_texts_and_codes_follow_the_reference() {
        let gz = || ObjectFailure::Decode(DecodeError::InvalidGzip("x".into()));
        assert_eq!(
            error_msg(gz(), FailureRules::Bucket),
            "Failed to decompress file k.gz: x"
        );
        let (c, text) = stop(gz(), FailureRules::Bucket);
        assert_eq!(c, 8);
        assert!(text.starts_with("Invalid gzip file received."));
        let parse = || ObjectFailure::Parse(ParseError::invalid("bad"));
        assert_eq!(
            error_msg(parse(), FailureRules::Bucket),
            "Failed to parse file k.gz: bad"
        );
        assert_eq!(stop(parse(), FailureRules::Bucket).0, 9);
        let truncated = ObjectFailure::Decode(DecodeError::TruncatedGzip);
        assert!(error_msg(truncated, FailureRules::Bucket)
            .starts_with("Unknown error reading/parsing file k.gz: "));
    }

    #[test]
    fn rejected_and_unsupported_objects_stop_a_bucket_run() {
        for (e, want) in [
            (ParseError::Rejected("r".into()), code::PARSE),
            (ParseError::Unsupported("u".into()), code::INVALID_TYPE),
        ] {
            assert_eq!(stop(ObjectFailure::Parse(e), FailureRules::Bucket).0, want);
        }
    }

    #[test]
    fn subscribers_skip_what_cannot_succeed_and_leave_the_rest() {
        let truncated = || ObjectFailure::Decode(DecodeError::TruncatedGzip);
        assert!(error_msg(truncated(), HUB).starts_with("Failed to decompress file k.gz: "));
        assert_eq!(stop(truncated(), HUB).0, 12);
        let gone = || ObjectFailure::Gone("NoSuchKey".into());
        assert!(error_msg(gone(), HUB).starts_with("Unknown error reading/parsing file k.gz"));
        assert_eq!(stop(gone(), HUB).0, 12);
        match ObjectFailure::Fetch("AccessDenied".into()).action("k", HUB, true) {
            Action::Leave { error: true, line } => assert!(line.contains("stays in the queue")),
            _ => panic!("an object that may be readable later is left"),
        }
        assert_eq!(
            stop(ObjectFailure::Parse(ParseError::invalid("x")), HUB),
            (9, "Data in the file does not contain JSON objects.".into())
        );
        let incomplete = || ObjectFailure::Parse(ParseError::Rejected("no detail".into()));
        assert!(matches!(
            incomplete().action("k", HUB, false),
            Action::Leave { error: false, .. }
        ));
        assert!(error_msg(incomplete(), HUB).starts_with("Failed to parse file k.gz"));
    }
}
