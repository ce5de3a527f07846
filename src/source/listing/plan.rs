//! Which listings a bucket run reads (accounts, regions and flow logs found in the bucket, or
//! the one prefix of a custom layout) and the key each starts after. `--check` plans the same
//! way, so it shows what the run would read.

use super::discovery::{self, Accounts};
use super::geometry::Listing;
use super::marker;
use super::paginator::S3Lister;
use super::ListingOptions;
use crate::aws::Clients;
use crate::bucket::{Bucket, Layout};
use crate::state::State;
use anyhow::Result;

/// The run's listings (accounts, regions and flow logs found in the bucket, or the one
/// prefix of a custom layout) and the key each starts after. Markers come from the state
/// before anything is read: reading one listing never changes another's marker, so the
/// listings can be fetched ahead. `accounts` come from [`discover_accounts`].
pub async fn plan(
    lister: &S3Lister,
    clients: &Clients,
    opts: &ListingOptions,
    bucket: &dyn Bucket,
    state: &State,
    accounts: Option<Accounts>,
) -> Result<Vec<(Listing, String)>> {
    let info = bucket.info();
    let listings = match accounts {
        Some(accounts) => {
            let flows = discovery::OtherAccountFlows {
                caller: opts.caller_account.clone(),
                markers: opts.markers,
                state,
            };
            discovery::aws_logs_listings(
                lister,
                clients,
                &opts.geometry,
                accounts,
                opts.regions.clone(),
                &flows,
            )
            .await?
        }
        None => {
            let account = opts.caller_account.clone().unwrap_or_default();
            vec![opts.geometry.listing(&account, None, None)]
        }
    };
    let mut planned = Vec::with_capacity(listings.len());
    for listing in listings {
        let last = if opts.markers.reparse {
            None
        } else {
            let like = marker::recorded_keys_like(info, &listing.prefix, &opts.geometry.prefix);
            state.last_key(&listing.state, &like)?
        };
        let start = marker::start_after(info, &listing.prefix, last.as_deref(), opts.markers);
        planned.push((listing, start));
    }
    Ok(planned)
}

/// The accounts of a layout that has them: given, or listed from now on (the listing goes out
/// while the bucket is checked).
pub fn discover_accounts(
    lister: &S3Lister,
    opts: &ListingOptions,
    bucket: &dyn Bucket,
) -> Option<Accounts> {
    match bucket.info().layout {
        Layout::AwsLogs { .. } | Layout::ServiceFolders { .. } => Some(Accounts::given_or_list(
            opts.accounts.clone(),
            lister,
            &opts.geometry,
        )),
        Layout::Prefix => None,
    }
}
