//! What there is to list: the bucket check, the account and region folders of `AWSLogs/`
//! layouts, VPC flow-log ids, and the GuardDuty layout probe.

use super::geometry::{Geometry, Listing};
use super::marker::MarkerOptions;
use super::paginator::{folder_names, PageRequest, Pages, S3Lister};
use crate::aws::{s3_unexpected, AwsError, AwsErrorKind, Clients};
use crate::bucket::TypeInfo;
use crate::debug;
use crate::exit::{code, fail};
use crate::state::TableKind;
use anyhow::Result;
use std::collections::HashMap;

/// A failed listing request as the reference reports it from `operation`; `s3_error` says
/// whether a failure that is not the service's answer is the exit-7 S3 error.
pub fn listing_failure(operation: &str, err: AwsError, s3_error: bool) -> anyhow::Error {
    err.into_failure(operation, |err| {
        if s3_error && !matches!(err.kind, AwsErrorKind::Service(_)) {
            return s3_unexpected(err.text);
        }
        fail(
            code::UNKNOWN,
            format!("The \"{operation}\" request failed: {}", err.text),
        )
    })
}

/// Fail early, as the reference does, on a bucket with nothing under the prefix, bad
/// credentials or an unreachable endpoint.
pub async fn check_bucket(lister: &S3Lister, geometry: &Geometry) -> Result<()> {
    let mut pages = Pages::new(lister.clone(), PageRequest::folders_of(&geometry.prefix));
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            e.into_failure("check_bucket", |err| match err.kind {
                AwsErrorKind::Unreachable => fail(code::INVALID_ENDPOINT, err.text),
                _ => fail(code::UNKNOWN, format!("Unexpected error: '{}'.", err.text)),
            })
        })?;
        if !page.folders.is_empty()
            || (!geometry.info.empty_when_no_folders && !page.objects.is_empty())
        {
            return Ok(());
        }
    }
    Err(fail(
        code::EMPTY_BUCKET,
        format!(
            "No files were found in '{}'. No logs will be processed.",
            geometry.bucket_path()
        ),
    ))
}

/// Whether `PREFIX/AWSLogs` has folders (GuardDuty's native layout).
pub async fn aws_logs_has_folders(lister: &S3Lister, prefix: &str) -> Result<bool> {
    let request = PageRequest {
        max_keys: Some(1),
        ..PageRequest::folders_of(&format!("{prefix}AWSLogs"))
    };
    match Pages::new(lister.clone(), request).next().await {
        Some(Ok(page)) => Ok(!page.folders.is_empty()),
        Some(Err(e)) => Err(s3_unexpected(e.text)),
        None => Ok(false),
    }
}

/// The accounts of an `AWSLogs/` layout: given (`--aws_account_id`) or being listed.
pub enum Accounts {
    Given(Vec<String>),
    Listing(tokio::task::JoinHandle<Result<Vec<String>>>),
}

impl Accounts {
    /// The given accounts, or their folders listed from now on: the listing goes out while
    /// the bucket is checked (one round trip less before the first object) and its result is
    /// read, errors included, only once the check passed.
    pub fn given_or_list(
        given: Option<Vec<String>>,
        lister: &S3Lister,
        geometry: &Geometry,
    ) -> Self {
        match given {
            Some(a) if !a.is_empty() => Accounts::Given(a),
            _ => {
                let (lister, geometry) = (lister.clone(), geometry.clone());
                Accounts::Listing(tokio::spawn(async move {
                    account_ids(&lister, &geometry).await
                }))
            }
        }
    }

    async fn resolve(self) -> Result<Vec<String>> {
        match self {
            Accounts::Given(a) => Ok(a),
            Accounts::Listing(task) => task
                .await
                .map_err(|e| fail(code::UNKNOWN, format!("account discovery failed: {e}")))?,
        }
    }
}

/// Where flow-log ids come from for the accounts that are not the caller's (D15): the ids
/// recorded in the state, and those in the names of the keys the run would read.
pub struct OtherAccountFlows<'a> {
    /// The caller's account (STS): its ids come from DescribeFlowLogs, as in the reference.
    pub caller: Option<String>,
    pub markers: MarkerOptions,
    pub state: &'a crate::state::State,
}

/// Every (account, region[, flow log]) of an `AWSLogs/` layout to read, each account's
/// regions discovered on its own (D9), all accounts at once.
pub async fn aws_logs_listings(
    lister: &S3Lister,
    clients: &Clients,
    geometry: &Geometry,
    accounts: Accounts,
    regions: Option<Vec<String>>,
    flows: &OtherAccountFlows<'_>,
) -> Result<Vec<Listing>> {
    let accounts = accounts.resolve().await?;
    let regions_of = match regions {
        Some(r) if !r.is_empty() => vec![r; accounts.len()],
        _ => discover_regions(lister, geometry, &accounts).await?,
    };
    let mut flow_logs: HashMap<String, Vec<String>> = HashMap::new();
    let mut listings = Vec::new();
    for (account, regions) in accounts.iter().zip(regions_of) {
        for region in &regions {
            if geometry.info.table_kind != TableKind::FlowLog {
                listings.push(geometry.listing(account, Some(region), None));
                continue;
            }
            if flows.caller.as_ref().is_some_and(|c| c != account) {
                for id in other_account_flow_ids(lister, geometry, account, region, flows).await? {
                    listings.push(geometry.listing(account, Some(region), Some(&id)));
                }
                continue;
            }
            if !flow_logs.contains_key(region) {
                flow_logs.insert(region.clone(), clients.flow_log_ids(region).await?);
            }
            for id in &flow_logs[region] {
                listings.push(geometry.listing(account, Some(region), Some(id)));
            }
        }
    }
    Ok(listings)
}

/// D15: another account's flow logs cannot be described with the caller's credentials, so
/// (as in a central logging bucket) their ids come from the keys: every id named by a key
/// the run would read for a new flow log (from the `--only_logs_after` or today marker), and
/// every id already recorded (read on from its own marker).
async fn other_account_flow_ids(
    lister: &S3Lister,
    geometry: &Geometry,
    account: &str,
    region: &str,
    flows: &OtherAccountFlows<'_>,
) -> Result<Vec<String>> {
    let any = geometry.listing(account, Some(region), None);
    let mut ids: std::collections::BTreeSet<String> = flows
        .state
        .flow_log_ids(&any.state.bucket_path, account, region)?
        .into_iter()
        .collect();
    let start_after = super::marker::start_after(geometry.info, &any.prefix, None, flows.markers);
    let request = PageRequest {
        prefix: any.prefix.clone(),
        start_after: Some(start_after),
        ..Default::default()
    };
    let mut pages = Pages::new(lister.clone(), request);
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| listing_failure("find_flow_log_ids", e, true))?;
        ids.extend(page.objects.iter().filter_map(|o| flow_id_of(&o.key)));
    }
    debug!(
        2,
        "+++ Flow log ids of account {account} in {region}, from its keys: {:?}", ids
    );
    Ok(ids.into_iter().collect())
}

/// `fl-...` of `ACCOUNT_vpcflowlogs_REGION_FLOWID_DATETIME_HASH.log.gz`.
fn flow_id_of(key: &str) -> Option<String> {
    let name = key.rsplit('/').next()?;
    let mut parts = name.split('_');
    let (_account, service, _region, id) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    (service == "vpcflowlogs" && id.starts_with("fl-") && id.len() > 3).then(|| id.to_string())
}

async fn account_ids(lister: &S3Lister, geometry: &Geometry) -> Result<Vec<String>> {
    let base = geometry.accounts_prefix();
    let folders = folder_names(lister.clone(), &base)
        .await
        .map_err(|e| listing_failure("find_account_ids", e, false))?;
    if folders.is_empty() {
        return Err(no_logs_under(&base, geometry.info));
    }
    Ok(folders
        .into_iter()
        .filter(|f| f.len() == 12 && f.chars().all(|c| c.is_ascii_digit()))
        .collect())
}

fn no_logs_under(base: &str, info: &TypeInfo) -> anyhow::Error {
    fail(
        code::INVALID_PREFIX,
        format!(
            "No logs found in '{base}'. Check the provided prefix and the location of the logs \
             for the bucket type '{}'",
            info.name
        ),
    )
}

async fn discover_regions(
    lister: &S3Lister,
    geometry: &Geometry,
    accounts: &[String],
) -> Result<Vec<Vec<String>>> {
    let tasks: Vec<_> = accounts
        .iter()
        .map(|a| {
            let (lister, prefix) = (lister.clone(), geometry.regions_prefix(a));
            tokio::spawn(async move { folder_names(lister, &prefix).await })
        })
        .collect();
    let mut all = Vec::new();
    for (account, task) in accounts.iter().zip(tasks) {
        let regions = task
            .await
            .map_err(|e| fail(code::UNKNOWN, format!("region discovery failed: {e}")))?
            .map_err(|e| listing_failure("find_regions", e, false))?;
        if regions.is_empty() {
            debug!(1, "+++ No regions found for AWS Account {account}");
        }
        all.push(regions);
    }
    Ok(all)
}
