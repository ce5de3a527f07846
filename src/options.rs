//! What each part of a run is given, built from the validated command line in one place
//! (ripgrep's high-level arguments): the AWS options, the listing options with the type as
//! the bucket shows it, the services' options, the discard filters. Sources, services and
//! the operator tools take these and never read `Args` themselves.

use crate::aws::{AwsOptions, Clients};
use crate::bucket::{Bucket, Layout};
use crate::cli::Args;
use crate::exit::{code, fail};
use crate::message::DiscardFilter;
use crate::service::ServiceOptions;
use crate::source::listing::discovery::aws_logs_has_folders;
use crate::source::listing::geometry::Geometry;
use crate::source::listing::marker::MarkerOptions;
use crate::source::listing::paginator::S3Lister;
use crate::source::listing::ListingOptions;
use crate::source::sqs::{AllowedBuckets, NotificationOptions};
use crate::state::TableKind;
use crate::subscriber::Subscriber;
use anyhow::Result;
use chrono::NaiveDate;
use std::sync::Arc;

pub fn aws_options(args: &Args) -> AwsOptions {
    AwsOptions {
        profile: args.aws_profile.clone(),
        access_key: args.access_key.clone(),
        secret_key: args.secret_key.clone(),
        iam_role_arn: args.iam_role_arn.clone(),
        iam_role_duration: args.iam_role_duration,
        external_id: args.external_id.clone(),
        sts_endpoint: args.sts_endpoint.clone(),
        service_endpoint: args.service_endpoint.clone(),
    }
}

/// The type as the bucket shows it (its layout probe, for GuardDuty), and the listing options with
/// the caller's account where the layout needs it.
pub async fn resolve_bucket(
    args: &Args,
    bucket_name: String,
    mut bucket_type: Arc<dyn Bucket>,
    clients: &Clients,
) -> Result<(Arc<dyn Bucket>, ListingOptions)> {
    if let Some(settle) = bucket_type.settle_layout() {
        let lister = S3Lister {
            s3: clients.s3.clone(),
            bucket: bucket_name.clone(),
        };
        bucket_type = settle(aws_logs_has_folders(&lister, &args.trail_prefix).await?);
    }
    let caller_account = match bucket_type.info().layout {
        Layout::Prefix => Some(clients.caller_account().await?),
        // D15: other accounts' flow-log ids come from their keys; without the caller's
        // account every account is read as the reference does (described ids only).
        _ if bucket_type.info().table_kind == TableKind::FlowLog => {
            clients.caller_account().await.ok()
        }
        Layout::AwsLogs { .. } | Layout::ServiceFolders { .. } => None,
    };
    let opts = listing_options(args, bucket_name, bucket_type.as_ref(), caller_account);
    Ok((bucket_type, opts))
}

pub fn listing_options(
    args: &Args,
    bucket: String,
    bucket_type: &dyn Bucket,
    caller_account: Option<String>,
) -> ListingOptions {
    ListingOptions {
        geometry: Geometry {
            bucket,
            prefix: args.trail_prefix.clone(),
            suffix: args.trail_suffix.clone(),
            organization_id: args.aws_organization_id.clone(),
            info: bucket_type.info(),
        },
        markers: MarkerOptions {
            only_logs_after: args.only_logs_after,
            only_logs_before: args.only_logs_before,
            today: chrono::Utc::now().date_naive(),
            reparse: args.reparse,
        },
        accounts: args.aws_account_id.clone().map(|l| l.0),
        regions: args.regions.clone().map(|l| l.0),
        remove: args.remove,
        caller_account,
        workers: args.workers(),
    }
}

/// S1 (subscribers, services): a filter only with `--discard-regex`; `--discard-field`
/// alone discards nothing.
pub fn regex_discard_filter(args: &Args) -> Result<Option<DiscardFilter>> {
    args.discard_regex
        .as_deref()
        .map(|pattern| discard_filter(args.discard_field.as_deref(), pattern))
        .transpose()
}

/// Bucket runs: a filter whenever `--discard-field` is given; the reference compiles the
/// literal "None" when no regex is given.
pub fn bucket_discard_filter(args: &Args) -> Result<Option<DiscardFilter>> {
    args.discard_field
        .as_deref()
        .map(|field| discard_filter(Some(field), args.discard_regex.as_deref().unwrap_or("None")))
        .transpose()
}

fn discard_filter(field: Option<&str>, pattern: &str) -> Result<DiscardFilter> {
    DiscardFilter::new(field, pattern).map_err(|e| {
        fail(
            code::INVALID_TYPE,
            format!("Invalid --discard-regex '{pattern}': {e}"),
        )
    })
}

/// What a subscriber run reads: the body shapes its queue holds, and which buckets.
pub fn notification_options(args: &Args, subscriber: Subscriber) -> NotificationOptions {
    NotificationOptions {
        shapes: subscriber.shapes(),
        workers: args.workers(),
        dry_run: args.dry_run(),
        allowed: AllowedBuckets::parse(args.allowed_buckets.as_deref()),
    }
}

/// What a service run reads and how (`--aws_log_groups`, the window, `--reparse`, ...).
pub fn service_options(args: &Args, discard: Option<DiscardFilter>) -> ServiceOptions {
    let midnight_ms = |d: NaiveDate| {
        d.and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc()
            .timestamp_millis()
    };
    let first_day = args
        .only_logs_after
        .unwrap_or_else(|| chrono::Utc::now().date_naive());
    ServiceOptions {
        log_groups: args
            .aws_log_groups
            .split(',')
            .filter(|g| !g.is_empty())
            .map(str::to_string)
            .collect(),
        remove_streams: args.remove_log_streams,
        reparse: args.reparse,
        only_logs_after: args.only_logs_after,
        first_day,
        first_ms: midnight_ms(first_day),
        only_logs_after_ms: args.only_logs_after.map(midnight_ms),
        window_end_ms: args
            .only_logs_before
            .and_then(|d| d.succ_opt())
            .map(midnight_ms),
        discard,
        dry_run: args.dry_run(),
    }
}
