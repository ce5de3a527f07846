//! Why an object yielded no (or not all its) events, and what that means for the run: the
//! `error_msg` sent for it under `--skip_on_error`, or the exit code and `ERROR:` text that
//! end the run otherwise. The one place where an object's failure is classified.

use crate::bucket::ParseError;
use crate::decode::DecodeError;
use crate::exit::{code, fail};

pub enum ObjectFailure {
    Decode(DecodeError),
    Parse(ParseError),
    /// The service refused the object (e.g. AccessDenied, NoSuchKey): retrying won't help.
    Fetch(String),
    /// The run must stop whatever the flags say (throttling, network, a cut body).
    Fatal(anyhow::Error),
}

/// What the source does with a failed object.
pub enum Disposition {
    /// With `--skip_on_error`, `error_msg` is sent in its place and the run goes on; without,
    /// `fatal` ends the run.
    Skippable {
        error_msg: String,
        fatal: anyhow::Error,
    },
    /// Ends the run whatever the flags say.
    Fatal(anyhow::Error),
}

impl ObjectFailure {
    pub fn classify(self, key: &str) -> Disposition {
        let skippable = |error_msg: String, exit: i32, fatal: String| Disposition::Skippable {
            error_msg,
            fatal: fail(exit, fatal),
        };
        let same = |text: String, exit: i32| skippable(text.clone(), exit, text);
        match self {
            ObjectFailure::Decode(DecodeError::InvalidGzip(d)) => skippable(
                format!("Failed to decompress file {key}: {d}"),
                code::DECOMPRESS,
                format!("Invalid gzip file received. Failed to decompress file {key}: {d}"),
            ),
            ObjectFailure::Decode(DecodeError::InvalidZip(d)) => skippable(
                format!("Failed to decompress file {key}: {d}"),
                code::DECOMPRESS,
                format!("Invalid zip file received. Failed to decompress file {key}: {d}"),
            ),
            ObjectFailure::Decode(DecodeError::SnappyUnsupported) => skippable(
                format!("Failed to decompress file {key}: snappy compression is not supported"),
                code::DECOMPRESS,
                format!("Couldn't decompress the {key} file, snappy compression is not supported."),
            ),
            ObjectFailure::Decode(e @ DecodeError::TruncatedGzip) => same(
                format!("Unknown error reading/parsing file {key}: {e}"),
                code::UNKNOWN,
            ),
            ObjectFailure::Fetch(e) => same(
                format!("Unknown error reading/parsing file {key}: {e}"),
                code::UNKNOWN,
            ),
            ObjectFailure::Parse(ParseError::Rejected(m)) => {
                Disposition::Fatal(fail(code::PARSE, m))
            }
            ObjectFailure::Parse(ParseError::Unsupported(m)) => {
                Disposition::Fatal(fail(code::INVALID_TYPE, m))
            }
            ObjectFailure::Parse(e @ (ParseError::Invalid(_) | ParseError::Read(_))) => {
                same(format!("Failed to parse file {key}: {e}"), code::PARSE)
            }
            ObjectFailure::Fatal(e) => Disposition::Fatal(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skippable(f: ObjectFailure) -> (String, i32, String) {
        match f.classify("k.gz") {
            Disposition::Skippable { error_msg, fatal } => {
                let failure = fatal.downcast::<crate::exit::Failure>().unwrap();
                (error_msg, failure.code, failure.message.unwrap())
            }
            Disposition::Fatal(e) => panic!("not skippable: {e}"),
        }
    }

    #[test]
    fn texts_and_codes_follow_the_reference() {
        let (msg, c, text) = skippable(ObjectFailure::Decode(DecodeError::InvalidGzip("x".into())));
        assert_eq!((msg.as_str(), c), ("Failed to decompress file k.gz: x", 8));
        assert!(text.starts_with("Invalid gzip file received."));
        let (msg, c, _) = skippable(ObjectFailure::Parse(ParseError::invalid("bad")));
        assert_eq!((msg.as_str(), c), ("Failed to parse file k.gz: bad", 9));
        let (msg, c, _) = skippable(ObjectFailure::Decode(DecodeError::TruncatedGzip));
        assert!(msg.starts_with("Unknown error reading/parsing file k.gz: "));
        assert_eq!(c, 1);
    }

    #[test]
    fn rejected_and_unsupported_objects_stop_the_run() {
        for (e, want) in [
            (ParseError::Rejected("r".into()), code::PARSE),
            (ParseError::Unsupported("u".into()), code::INVALID_TYPE),
        ] {
            match ObjectFailure::Parse(e).classify("k") {
                Disposition::Fatal(e) => assert_eq!(crate::exit::report(&e), want),
                Disposition::Skippable { .. } => panic!("must stop the run"),
            }
        }
    }
}
