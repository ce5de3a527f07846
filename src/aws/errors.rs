//! AWS failures in the classes the exit codes tell apart, worded as botocore words them.

use crate::exit::{code, fail};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

/// The error and every cause, one line.
pub fn error_text(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

/// What went wrong with an AWS request, in the classes the exit codes tell apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AwsErrorKind {
    Throttling,
    InvalidCredentials,
    ClockSkew,
    /// The endpoint could not be reached (connection refused, DNS, TLS, timeout).
    Unreachable,
    /// The service answered with an error code that retrying will not fix.
    Service(String),
    Other,
}

#[derive(Debug, Clone)]
pub struct AwsError {
    pub kind: AwsErrorKind,
    /// botocore's wording where there is a service answer:
    /// `An error occurred (CODE) when calling the OPERATION operation: MESSAGE`.
    pub text: String,
}

pub fn classify<E, R>(operation: &str, err: &SdkError<E, R>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    match err {
        SdkError::ServiceError(ctx) => {
            let e = ctx.err();
            let code = e.code().unwrap_or("Unknown").to_string();
            let text = format!(
                "An error occurred ({code}) when calling the {operation} operation: {}",
                e.message().unwrap_or("")
            );
            let kind = match code.as_str() {
                "ThrottlingException"
                | "Throttling"
                | "SlowDown"
                | "RequestLimitExceeded"
                | "TooManyRequestsException" => AwsErrorKind::Throttling,
                "SignatureDoesNotMatch"
                | "InvalidAccessKeyId"
                | "InvalidClientTokenId"
                | "ExpiredToken" => AwsErrorKind::InvalidCredentials,
                "RequestTimeTooSkewed" => AwsErrorKind::ClockSkew,
                _ => AwsErrorKind::Service(code),
            };
            AwsError { kind, text }
        }
        SdkError::DispatchFailure(d) if d.is_io() || d.is_timeout() => AwsError {
            kind: AwsErrorKind::Unreachable,
            text: format!("Could not connect to the endpoint URL: {}", error_text(err)),
        },
        SdkError::TimeoutError(_) => AwsError {
            kind: AwsErrorKind::Unreachable,
            text: format!("Could not connect to the endpoint URL: {}", error_text(err)),
        },
        _ => AwsError {
            kind: AwsErrorKind::Other,
            text: error_text(err),
        },
    }
}

const RETRY_CONFIGURATION_URL: &str = "https://documentation.wazuh.com/current/amazon/services/prerequisites/considerations.html#Connection-configuration-for-retries";

/// Exit 7 with the reference's text: S3 failed in a way retries and the request can't fix.
pub fn s3_unexpected(detail: impl std::fmt::Display) -> anyhow::Error {
    fail(
        code::S3_UNEXPECTED,
        format!("Unexpected error querying/working with objects in S3: {detail}"),
    )
}

impl AwsError {
    /// The failures that end a run the same way wherever they happen: throttling beyond the
    /// retries (16), refused credentials (3), a clock off from AWS's (19); `other` decides for
    /// the remaining kinds. `operation` names the request in the throttling message.
    pub fn into_failure(
        self,
        operation: &str,
        other: impl FnOnce(AwsError) -> anyhow::Error,
    ) -> anyhow::Error {
        match self.kind {
            AwsErrorKind::Throttling => fail(
                code::THROTTLING,
                format!(
                    "The '{operation}' request was denied due to request throttling. If the \
                     problem persists check the following link to learn how to use the Retry \
                     configuration to avoid it: '{RETRY_CONFIGURATION_URL}': {}",
                    self.text
                ),
            ),
            AwsErrorKind::InvalidCredentials => fail(
                code::INVALID_CREDENTIALS,
                format!("Invalid credentials to access S3 Bucket: {}", self.text),
            ),
            AwsErrorKind::ClockSkew => fail(
                code::CLOCK_SKEW,
                "The server datetime and datetime of the AWS environment differ",
            ),
            _ => other(self),
        }
    }
}
