//! AWS clients as the reference builds them: credentials (default chain, `--aws_profile`,
//! deprecated keys, `--iam_role_arn` through STS), region and retry settings from the profile,
//! custom endpoints, and path-style addressing when the profile asks for it.

mod config_file;
mod errors;
pub mod identity;

pub use config_file::{config_region, parse_config, ProfileSettings};
pub use errors::*;

use crate::exit::{code, fail};
use anyhow::Result;
use aws_config::sts::AssumeRoleProvider;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::config::{Credentials, ProvideCredentials, SharedCredentialsProvider};
use config_file::{profile_settings, retry_config};
use std::time::Duration;

const ROLE_SESSION_NAME: &str = "WazuhLogParsing";
const CREDENTIALS_URL: &str =
    "https://documentation.wazuh.com/current/amazon/services/prerequisites/credentials.html";

/// The reference's notice for a deprecated way of giving credentials.
fn deprecated_message(name: &str) -> String {
    format!(
        "The {name} authentication parameter was deprecated in 4.4. Please use another \
         authentication method instead. Check {CREDENTIALS_URL} for more information."
    )
}

/// An `http://` URL whose host is not this machine (127.0.0.0/8, localhost, ::1).
fn plain_http_elsewhere(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority.rsplit('@').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    !loopback
}

/// Service settings from the environment and profile, none: see the STS endpoint above.
#[derive(Debug)]
struct NoServiceConfig;

impl aws_types::service_config::LoadServiceConfig for NoServiceConfig {
    fn load_config(&self, _key: aws_types::service_config::ServiceConfigKey<'_>) -> Option<String> {
        None
    }
}

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
        crate::log::plain(&deprecated_message("access_key and secret_key"));
        loader = loader.credentials_provider(Credentials::new(ak, sk, None, None, "command-line"));
    }
    let mut sdk_config = loader.load().await;
    let base_config = sdk_config.clone();

    if let Some(role) = &opts.iam_role_arn {
        let mut sts_config = sdk_config.clone();
        if let Some(sts) = &opts.sts_endpoint {
            check_endpoint(sts)?;
            if plain_http_elsewhere(sts) {
                crate::log::warning(&format!(
                    "--sts_endpoint {sts} is plain HTTP to another host: the role's temporary \
                     credentials cross the network unencrypted. Use https://."
                ));
            }
            // The STS client reads AWS_ENDPOINT_URL(_STS) over the configuration's endpoint:
            // without this, the environment would win over the flag.
            sts_config = sts_config
                .into_builder()
                .endpoint_url(sts)
                .service_config(NoServiceConfig)
                .build();
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

#[cfg(test)]
mod tests {
    use super::plain_http_elsewhere;

    #[test]
    fn plain_http_to_another_host_is_told_apart() {
        assert!(plain_http_elsewhere("http://sts.example.com"));
        assert!(plain_http_elsewhere("http://10.0.0.5:8080/path"));
        assert!(!plain_http_elsewhere("https://sts.us-east-1.amazonaws.com"));
        assert!(!plain_http_elsewhere("http://127.0.0.1:5000"));
        assert!(!plain_http_elsewhere("http://localhost:5000/"));
        assert!(!plain_http_elsewhere("http://[::1]:5000"));
        assert!(plain_http_elsewhere("http://user@evil.example"));
    }
}
