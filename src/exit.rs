//! The one place where failures become exit codes and `ERROR:` lines.
//!
//! Every fatal error in the program is an `anyhow::Error`; the ones that must end with a
//! specific exit code carry a [`Failure`] somewhere in their chain. wazuh-modulesd logs the text
//! after the first `ERROR: ` of a failed run, so that text must say what went wrong and, where
//! we know it, what to do.

use std::fmt;

/// Exit codes of the reference wodle (`aws_s3.py` header); the values are part of the contract.
pub mod code {
    pub const UNKNOWN: i32 = 1;
    pub const SIGINT_OR_BAD_ARGS: i32 = 2;
    pub const INVALID_CREDENTIALS: i32 = 3;
    pub const SQLITE_ACCESS: i32 = 5;
    pub const SQLITE_CREATE: i32 = 6;
    pub const S3_UNEXPECTED: i32 = 7;
    pub const DECOMPRESS: i32 = 8;
    pub const PARSE: i32 = 9;
    pub const WAZUH_CONNECT: i32 = 11;
    pub const INVALID_TYPE: i32 = 12;
    pub const WAZUH_SEND: i32 = 13;
    pub const EMPTY_BUCKET: i32 = 14;
    pub const INVALID_ENDPOINT: i32 = 15;
    pub const THROTTLING: i32 = 16;
    pub const INVALID_KEY_FORMAT: i32 = 17;
    pub const INVALID_PREFIX: i32 = 18;
    pub const CLOCK_SKEW: i32 = 19;
    /// `--queue` names no queue (GetQueueUrl failed).
    pub const QUEUE_NOT_FOUND: i32 = 20;
    /// SQS receive or delete failed; Security Lake arguments missing or its object unreadable.
    pub const SQS_ERROR: i32 = 21;
    pub const INVALID_REGION: i32 = 22;
    pub const PROFILE_NOT_FOUND: i32 = 23;
}

/// A fatal condition with the exit code the contract gives it.
///
/// `message: None` ends the run without an `ERROR:` line (the reference is silent for some
/// codes, e.g. an unknown region, whose text is a debug line).
#[derive(Debug)]
pub struct Failure {
    pub code: i32,
    pub message: Option<String>,
}

impl Failure {
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: Some(message.into()),
        }
    }

    pub fn silent(code: i32) -> Self {
        Failure {
            code,
            message: None,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.message {
            Some(m) => f.write_str(m),
            None => write!(f, "exit code {}", self.code),
        }
    }
}

impl std::error::Error for Failure {}

/// Shorthand to build an `anyhow::Error` that ends the run with `code`.
pub fn fail(code: i32, message: impl Into<String>) -> anyhow::Error {
    Failure::new(code, message).into()
}

/// Print the `ERROR:` line for `err` and return the process exit code.
pub fn report(err: &anyhow::Error) -> i32 {
    if let Some(failure) = err.chain().find_map(|e| e.downcast_ref::<Failure>()) {
        if let Some(msg) = &failure.message {
            crate::log::error(msg);
        }
        return failure.code;
    }
    crate::log::error(&format!("Unknown error: {err:#}"));
    code::UNKNOWN
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn failure_code_survives_added_context() {
        let err = Err::<(), _>(fail(code::PARSE, "bad"))
            .context("while reading")
            .unwrap_err();
        assert_eq!(report(&err), code::PARSE);
    }

    #[test]
    fn plain_errors_are_unknown() {
        let err = anyhow::anyhow!("boom");
        assert_eq!(report(&err), code::UNKNOWN);
    }
}
