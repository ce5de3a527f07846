//! Who the credentials are, where they came from and when they expire, for `--check`; and
//! the `Date` an AWS answer carries, to compare this machine's clock with.

use super::{classify, AwsError, Clients, FALLBACK_REGION};
use aws_sdk_s3::config::ProvideCredentials;
use aws_smithy_runtime_api::client::interceptors::context::BeforeDeserializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// The caller as STS sees it.
#[derive(Debug, Clone)]
pub struct Identity {
    pub arn: String,
    pub account: String,
    /// The provider of the chain that answered (`ProfileFile`, `Environment`, `IMDSv2`,
    /// `AssumeRoleProvider`, ...).
    pub source: String,
    pub expires: Option<SystemTime>,
}

/// Keeps the `Date` header of the answer it is attached to, error answers included.
#[derive(Clone, Default, Debug)]
pub struct ServerDate(Arc<Mutex<Option<String>>>);

impl ServerDate {
    pub fn get(&self) -> Option<String> {
        self.0.lock().ok().and_then(|d| d.clone())
    }
}

impl Intercept for ServerDate {
    fn name(&self) -> &'static str {
        "ServerDate"
    }

    fn read_before_deserialization(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        if let (Some(date), Ok(mut kept)) =
            (context.response().headers().get("date"), self.0.lock())
        {
            *kept = Some(date.to_string());
        }
        Ok(())
    }
}

/// The provider's name, which `Credentials` shows only in its `Debug` form.
fn provider_name(credentials: &aws_sdk_s3::config::Credentials) -> String {
    let debug = format!("{credentials:?}");
    debug
        .split_once("provider_name: \"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map_or_else(|| "unknown".to_string(), |(name, _)| name.to_string())
}

impl Clients {
    /// GetCallerIdentity with the base credentials, or (`assumed`) with the role's.
    pub async fn identity(&self, assumed: bool, date: &ServerDate) -> Result<Identity, AwsError> {
        let config = if assumed {
            &self.sdk_config
        } else {
            &self.base_config
        };
        let credentials = match config.credentials_provider() {
            Some(p) => p.provide_credentials().await.ok(),
            None => None,
        };
        let out = aws_sdk_sts::Client::new(config)
            .get_caller_identity()
            .customize()
            .interceptor(date.clone())
            .send()
            .await
            .map_err(|e| classify("GetCallerIdentity", &e))?;
        Ok(Identity {
            arn: out.arn().unwrap_or_default().to_string(),
            account: out.account().unwrap_or_default().to_string(),
            source: credentials
                .as_ref()
                .map_or_else(|| "unknown".to_string(), provider_name),
            expires: credentials.and_then(|c| c.expiry()),
        })
    }

    /// The region the clients were built for.
    pub fn region(&self) -> String {
        self.sdk_config
            .region()
            .map_or_else(|| FALLBACK_REGION.to_string(), |r| r.to_string())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_provider_name_is_read_from_debug() {
        let c = aws_sdk_s3::config::Credentials::new("AK", "SK", None, None, "ProfileFile");
        assert_eq!(super::provider_name(&c), "ProfileFile");
    }
}
