//! One run, from parsed arguments to the driver, in the reference's order of checks (which
//! decides what exists on disk when a run fails early).

use crate::aws::{self, AwsOptions};
use crate::bucket::{self, driver::Driver, driver::RunOptions, Layout};
use crate::cli::Args;
use crate::debug;
use crate::exit::{code, fail, Failure};
use crate::message::DiscardFilter;
use crate::queue::Queue;
use crate::state::State;
use crate::wazuh::Installation;
use anyhow::Result;

pub async fn run(args: Args) -> Result<()> {
    args.post_validate()?;
    if let Some(service) = &args.service {
        return Err(fail(
            code::UNKNOWN,
            format!(
                "--service {service} is not implemented by this aws-s3 binary yet; \
                 keep the Python wodle for AWS service modules."
            ),
        ));
    }
    if let Some(subscriber) = &args.subscriber {
        return Err(fail(
            code::UNKNOWN,
            format!(
                "--subscriber {subscriber} is not implemented by this aws-s3 binary yet; \
                 keep the Python wodle for SQS subscribers."
            ),
        ));
    }
    let bucket_name = args.bucket.clone().expect("clap requires a source");
    let Some(mut bucket) = bucket::for_type(&args.bucket_type, &args.trail_prefix) else {
        return Err(fail(code::INVALID_TYPE, "Invalid type of bucket"));
    };
    for region in args.regions.iter().flat_map(|l| l.0.iter()) {
        if !crate::regions::is_known(region) {
            debug!(1, "+++ ERROR: Invalid region '{region}'");
            return Err(Failure::silent(code::INVALID_REGION).into());
        }
    }

    let install = Installation::locate(args.wazuh_root.clone());
    let version = install.version()?;
    let clients = aws::build_clients(&AwsOptions {
        profile: args.aws_profile.clone(),
        access_key: args.access_key.clone(),
        secret_key: args.secret_key.clone(),
        iam_role_arn: args.iam_role_arn.clone(),
        iam_role_duration: args.iam_role_duration,
        external_id: args.external_id.clone(),
        sts_endpoint: args.sts_endpoint.clone(),
        service_endpoint: args.service_endpoint.clone(),
    })
    .await?;
    let discard = match &args.discard_field {
        Some(field) => {
            // The reference compiles the literal "None" when no regex is given.
            let pattern = args.discard_regex.as_deref().unwrap_or("None");
            Some(std::sync::Arc::new(
                DiscardFilter::new(field, pattern).map_err(|e| {
                    fail(
                        code::INVALID_TYPE,
                        format!("Invalid --discard-regex '{pattern}': {e}"),
                    )
                })?,
            ))
        }
        None => None,
    };
    let (table, kind) = bucket.table();
    let state = State::open(&install.state_db(), &version, table, kind)?;
    if bucket.type_name() == "guardduty" {
        let native = guardduty_is_native(&clients.s3, &bucket_name, &args.trail_prefix).await?;
        bucket = std::sync::Arc::new(bucket::guardduty::GuardDuty { native });
    }
    let caller_account = match bucket.layout() {
        Layout::Custom => Some(clients.caller_account().await?),
        Layout::AwsLogs { .. } => None,
    };
    let driver = Driver {
        opts: RunOptions {
            bucket: bucket_name,
            prefix: args.trail_prefix.clone(),
            suffix: args.trail_suffix.clone(),
            organization_id: args.aws_organization_id.clone(),
            account_alias: args.aws_account_alias.clone(),
            only_logs_after: args.only_logs_after,
            today: chrono::Utc::now().date_naive(),
            accounts: args.aws_account_id.clone().map(|l| l.0),
            regions: args.regions.clone().map(|l| l.0),
            reparse: args.reparse,
            skip_on_error: args.skip_on_error,
            remove: args.remove,
            discard,
            caller_account,
        },
        bucket: bucket.clone(),
        clients: &clients,
        workers: args.workers(),
        state,
        queue: Queue::new(&install.queue_socket()),
        summary: Default::default(),
    };
    let summary = driver.run().await?;
    debug!(
        1,
        "+++ Run summary: {} objects processed, {} skipped as processed, {} events sent, {} discarded",
        summary.objects_processed,
        summary.objects_skipped,
        summary.events_sent,
        summary.events_discarded
    );
    Ok(())
}

/// Native GuardDuty exports live under `PREFIX/AWSLogs/`; anything else is the deprecated
/// Kinesis Firehose layout.
async fn guardduty_is_native(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Result<bool> {
    let resp = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(format!("{prefix}AWSLogs"))
        .delimiter("/")
        .max_keys(1)
        .send()
        .await
        .map_err(|e| {
            let err = aws::classify("ListObjectsV2", &e);
            fail(
                code::S3_UNEXPECTED,
                format!(
                    "Unexpected error querying/working with objects in S3: {}",
                    err.text
                ),
            )
        })?;
    Ok(!resp.common_prefixes().is_empty())
}
