//! AWS clients as the reference builds them: credentials (default chain, `--aws_profile`,
//! deprecated keys, `--iam_role_arn` through STS), region and retry settings from the profile,
//! custom endpoints, and path-style addressing when the profile asks for it.

use crate::debug;
use crate::exit::{code, fail};
use anyhow::Result;
use aws_config::retry::RetryConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::config::{Credentials, ProvideCredentials, SharedCredentialsProvider};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

const ROLE_SESSION_NAME: &str = "WazuhLogParsing";
const DEFAULT_MAX_ATTEMPTS: u32 = 10;
/// S3 is global; the reference leaves its region to the profile and boto's us-east-1 default.
const FALLBACK_REGION: &str = "us-east-1";

/// What the command line says about reaching AWS.
#[derive(Debug, Clone, Default)]
pub struct AwsOptions {
    pub profile: Option<String>,
    pub access_key: Option<String>,
    pub secret_key: Option<String>,
    pub iam_role_arn: Option<String>,
    pub iam_role_duration: Option<u32>,
    pub external_id: Option<String>,
    pub sts_endpoint: Option<String>,
    pub service_endpoint: Option<String>,
}

/// Settings of one profile of `~/.aws/config`; nested sections as `s3.addressing_style`.
#[derive(Debug, Default, Clone)]
pub struct ProfileSettings {
    values: HashMap<String, String>,
}

impl ProfileSettings {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }
}

fn config_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("AWS_CONFIG_FILE") {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".aws").join("config"))
}

/// A small reader for the AWS config file format (INI with indented sub-sections).
pub fn parse_config(text: &str) -> HashMap<String, ProfileSettings> {
    let mut sections: HashMap<String, ProfileSettings> = HashMap::new();
    let mut current: Option<String> = None;
    let mut parent: Option<String> = None;
    for raw in text.lines() {
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if trimmed.starts_with('[') && trimmed.ends_with(']') {
            let name = trimmed[1..trimmed.len() - 1].trim().to_string();
            sections.entry(name.clone()).or_default();
            current = Some(name);
            parent = None;
            continue;
        }
        let Some(section) = current.as_ref() else {
            continue;
        };
        let Some((key, value)) = trimmed.split_once('=') else {
            continue;
        };
        let (key, value) = (key.trim().to_string(), value.trim().to_string());
        let indented = raw.starts_with(' ') || raw.starts_with('\t');
        let settings = sections.entry(section.clone()).or_default();
        match (&parent, indented) {
            (Some(p), true) => {
                settings.values.insert(format!("{p}.{key}"), value);
            }
            _ => {
                parent = value.is_empty().then(|| key.clone());
                settings.values.insert(key, value);
            }
        }
    }
    sections
}

/// The profile's settings as the reference resolves them: only when the config file exists;
/// a named profile is `[NAME]` or `[profile NAME]`; no profile means `[default]`; a missing
/// section ends the run with exit 23.
/// The `region` of a profile in `~/.aws/config` for the services: `[NAME]`, then
/// `[profile NAME]` (fix S6); `[default]` without a profile.
pub fn config_region(profile: Option<&str>) -> Option<String> {
    let text = std::fs::read_to_string(config_path()?).ok()?;
    let sections = parse_config(&text);
    let name = profile.unwrap_or("default");
    [name.to_string(), format!("profile {name}")]
        .iter()
        .find_map(|section| sections.get(section)?.get("region").map(str::to_string))
}

fn profile_settings(profile: Option<&str>) -> Result<Option<ProfileSettings>> {
    let Some(path) = config_path() else {
        return Ok(None);
    };
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    let sections = parse_config(&text);
    let name = match profile {
        Some(p) if sections.contains_key(p) => p.to_string(),
        Some(p) => format!("profile {p}"),
        None => "default".to_string(),
    };
    match sections.get(&name) {
        Some(s) => {
            match s.get("region") {
                Some(r) => debug!(2, "+++ Region '{r}' added to the configuration"),
                None => debug!(2, "+++ No 'region' found in profile '{name}'"),
            }
            Ok(Some(s.clone()))
        }
        None => {
            debug!(
                2,
                "The region for '{name}' must be specified in '~/.aws/config' under the '[{name}]' section."
            );
            Err(fail(
                code::PROFILE_NOT_FOUND,
                format!("No profile named: '{name}' was found in the user config file"),
            ))
        }
    }
}

fn retry_config(settings: Option<&ProfileSettings>) -> Result<RetryConfig> {
    let attempts = settings.and_then(|s| s.get("max_attempts"));
    let mode = settings.and_then(|s| s.get("retry_mode"));
    if attempts.is_some() || mode.is_some() {
        debug!(
            2,
            "Retries parameters found in user profile. Using profile retries configuration"
        );
    } else {
        debug!(
            2,
            "No retries configuration found in profile config. Generating default configuration for retries: mode: standard - max_attempts: {DEFAULT_MAX_ATTEMPTS}"
        );
    }
    let max_attempts = match attempts {
        Some(a) => a.parse::<u32>().map_err(|_| {
            fail(
                code::INVALID_KEY_FORMAT,
                "Invalid key or value found in config: max_attempts",
            )
        })?,
        None => DEFAULT_MAX_ATTEMPTS,
    };
    let base = match mode {
        Some("adaptive") => RetryConfig::adaptive(),
        _ => RetryConfig::standard(),
    };
    Ok(base
        .with_max_attempts(max_attempts.max(1))
        .with_max_backoff(Duration::from_secs(20)))
}

fn check_endpoint(url: &str) -> Result<()> {
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(())
    } else {
        Err(fail(
            code::INVALID_ENDPOINT,
            format!("Invalid endpoint: {url} (expected an http:// or https:// URL)"),
        ))
    }
}

/// Everything a bucket run needs from AWS.
pub struct Clients {
    pub s3: aws_sdk_s3::Client,
    /// Credentials, region and retries for other services (EC2 uses the role too).
    sdk_config: SdkConfig,
    /// The configuration before the role was assumed: the reference asks STS who the caller
    /// is with the base credentials.
    base_config: SdkConfig,
    service_endpoint: Option<String>,
}

impl Clients {
    /// The account of the base credentials (STS GetCallerIdentity), for custom layouts.
    pub async fn caller_account(&self) -> Result<String> {
        let sts = aws_sdk_sts::Client::new(&self.base_config);
        let out = sts.get_caller_identity().send().await.map_err(|e| {
            classify("GetCallerIdentity", &e).into_failure("get_caller_identity", |err| {
                fail(
                    code::INVALID_CREDENTIALS,
                    format!("Error getting STS client: {}", err.text),
                )
            })
        })?;
        out.account().map(str::to_string).ok_or_else(|| {
            fail(
                code::INVALID_CREDENTIALS,
                "STS returned no account for the caller",
            )
        })
    }

    /// CloudWatch Logs in `region` (fix S7), at the service endpoint.
    pub fn logs(&self, region: &str) -> aws_sdk_cloudwatchlogs::Client {
        let mut conf = aws_sdk_cloudwatchlogs::config::Builder::from(&self.sdk_config).region(
            aws_sdk_cloudwatchlogs::config::Region::new(region.to_string()),
        );
        if let Some(endpoint) = &self.service_endpoint {
            conf = conf.endpoint_url(endpoint);
        }
        aws_sdk_cloudwatchlogs::Client::from_conf(conf.build())
    }

    /// Inspector v2 in `region` (fix S7), at the service endpoint.
    pub fn inspector(&self, region: &str) -> aws_sdk_inspector2::Client {
        let mut conf = aws_sdk_inspector2::config::Builder::from(&self.sdk_config)
            .region(aws_sdk_inspector2::config::Region::new(region.to_string()));
        if let Some(endpoint) = &self.service_endpoint {
            conf = conf.endpoint_url(endpoint);
        }
        aws_sdk_inspector2::Client::from_conf(conf.build())
    }

    /// SQS in the profile's region, at the service endpoint (as the reference's client).
    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        let mut conf = aws_sdk_sqs::config::Builder::from(&self.sdk_config);
        if let Some(endpoint) = &self.service_endpoint {
            conf = conf.endpoint_url(endpoint);
        }
        aws_sdk_sqs::Client::from_conf(conf.build())
    }

    /// The ids of the VPC flow logs of `region`, asked in that region (D10) at the service
    /// endpoint, as the reference builds its EC2 client.
    pub async fn flow_log_ids(&self, region: &str) -> Result<Vec<String>> {
        let mut conf = aws_sdk_ec2::config::Builder::from(&self.sdk_config)
            .region(aws_sdk_ec2::config::Region::new(region.to_string()));
        if let Some(endpoint) = &self.service_endpoint {
            conf = conf.endpoint_url(endpoint);
        }
        let ec2 = aws_sdk_ec2::Client::from_conf(conf.build());
        let mut ids = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = ec2
                .describe_flow_logs()
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|e| {
                    classify("DescribeFlowLogs", &e).into_failure("describe_flow_logs", |err| {
                        fail(
                            code::UNKNOWN,
                            format!("Unable to list the VPC flow logs of {region}: {}", err.text),
                        )
                    })
                })?;
            ids.extend(
                out.flow_logs()
                    .iter()
                    .filter_map(|f| f.flow_log_id().map(str::to_string)),
            );
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => return Ok(ids),
            }
        }
    }
}

pub async fn build_clients(opts: &AwsOptions) -> Result<Clients> {
    let settings = profile_settings(opts.profile.as_deref())?;
    let region = settings
        .as_ref()
        .and_then(|s| s.get("region").map(str::to_string))
        .or_else(|| std::env::var("AWS_REGION").ok())
        .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
        .unwrap_or_else(|| FALLBACK_REGION.to_string());

    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region))
        .retry_config(retry_config(settings.as_ref())?);
    if let Some(profile) = &opts.profile {
        loader = loader.profile_name(profile);
    }
    if let (Some(ak), Some(sk)) = (&opts.access_key, &opts.secret_key) {
        crate::log::plain(&crate::cli::deprecated_message("access_key and secret_key"));
        loader = loader.credentials_provider(Credentials::new(ak, sk, None, None, "command-line"));
    }
    let mut sdk_config = loader.load().await;
    let base_config = sdk_config.clone();

    if let Some(role) = &opts.iam_role_arn {
        let mut sts_config = sdk_config.clone();
        if let Some(sts) = &opts.sts_endpoint {
            check_endpoint(sts)?;
            sts_config = sts_config.into_builder().endpoint_url(sts).build();
        }
        let mut builder = AssumeRoleProvider::builder(role).session_name(ROLE_SESSION_NAME);
        if let Some(secs) = opts.iam_role_duration {
            builder = builder.session_length(Duration::from_secs(secs.into()));
        }
        if let Some(id) = &opts.external_id {
            builder = builder.external_id(id);
        }
        let provider = builder.configure(&sts_config).build().await;
        // Assume the role now, so that a refused role is exit 3 before anything is read.
        provider.provide_credentials().await.map_err(|e| {
            fail(
                code::INVALID_CREDENTIALS,
                format!("Access error: {}", error_text(&e)),
            )
        })?;
        sdk_config = sdk_config
            .into_builder()
            .credentials_provider(SharedCredentialsProvider::new(provider))
            .build();
    } else {
        let provider = sdk_config.credentials_provider().ok_or_else(|| {
            fail(
                code::INVALID_CREDENTIALS,
                "No AWS credentials provider could be set up.",
            )
        })?;
        provider.provide_credentials().await.map_err(|e| {
            fail(
                code::INVALID_CREDENTIALS,
                format!(
                    "No AWS credentials were found ({}). Set --aws_profile, an IAM role, or the \
                     credentials of the default profile.",
                    error_text(&e)
                ),
            )
        })?;
    }

    let mut s3 = aws_sdk_s3::config::Builder::from(&sdk_config);
    if let Some(endpoint) = &opts.service_endpoint {
        check_endpoint(endpoint)?;
        s3 = s3.endpoint_url(endpoint);
    }
    // The Rust SDK does not read `s3 = addressing_style = path` itself.
    if settings.as_ref().and_then(|s| s.get("s3.addressing_style")) == Some("path") {
        s3 = s3.force_path_style(true);
    }
    Ok(Clients {
        s3: aws_sdk_s3::Client::from_conf(s3.build()),
        sdk_config,
        base_config,
        service_endpoint: opts.service_endpoint.clone(),
    })
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_file_with_nested_s3_section() {
        let text = "[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n\
                    max_attempts = 4\n[profile prod]\nregion=eu-west-1\n";
        let c = parse_config(text);
        let d = &c["default"];
        assert_eq!(d.get("region"), Some("us-east-1"));
        assert_eq!(d.get("s3.addressing_style"), Some("path"));
        assert_eq!(d.get("max_attempts"), Some("4"));
        assert_eq!(c["profile prod"].get("region"), Some("eu-west-1"));
    }

    #[test]
    fn retries_default_to_ten_standard() {
        let rc = retry_config(None).unwrap();
        assert_eq!(rc.max_attempts(), 10);
        let mut s = ProfileSettings::default();
        s.values.insert("max_attempts".into(), "3".into());
        assert_eq!(retry_config(Some(&s)).unwrap().max_attempts(), 3);
        s.values.insert("max_attempts".into(), "x".into());
        assert!(retry_config(Some(&s)).is_err());
    }
}
