//! The service runs (`--service cloudwatchlogs|inspector`): no S3 objects; each region is
//! read in turn and its progress kept in `<wazuh>/wodles/aws/aws_services.db`.

pub mod cloudwatch;
pub mod db;
pub mod inspector;
pub mod position;

use crate::aws::Clients;
use crate::debug;
use crate::exit::{code, Failure};
use crate::message::DiscardFilter;
use crate::sink::Sink;
use anyhow::Result;
use chrono::NaiveDate;
use db::ServicesDb;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    CloudWatchLogs,
    Inspector,
}

impl Service {
    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_lowercase().as_str() {
            "cloudwatchlogs" => Some(Service::CloudWatchLogs),
            "inspector" => Some(Service::Inspector),
            _ => None,
        }
    }

    /// Whether the service accepts `region`.
    fn serves(self, region: &str) -> bool {
        match self {
            Service::CloudWatchLogs => crate::regions::is_known(region),
            Service::Inspector => inspector::serves(region),
        }
    }

    /// The regions read when none is given or configured.
    fn all_regions(self) -> Vec<String> {
        crate::regions::ALL_REGIONS
            .iter()
            .filter(|r| self.serves(r))
            .map(|r| r.to_string())
            .collect()
    }
}

/// What the command line says about a service run.
pub struct ServiceOptions {
    pub log_groups: Vec<String>,
    pub remove_streams: bool,
    pub reparse: bool,
    /// `--only_logs_after`, when given.
    pub only_logs_after: Option<NaiveDate>,
    /// `--only_logs_after`, else today (UTC).
    pub first_day: NaiveDate,
    pub first_ms: i64,
    pub only_logs_after_ms: Option<i64>,
    /// `--only_logs_before`: the first instant after the window (00:00 UTC of the next day).
    pub window_end_ms: Option<i64>,
    /// S1: only with `--discard-regex`.
    pub discard: Option<DiscardFilter>,
    /// `--output` without `--update_state`: nothing is written to the state file.
    pub dry_run: bool,
}

/// `--regions` as given (sorted, deduplicated by the CLI); else the profile's region (S6);
/// else every region the service knows.
pub fn regions(
    service: Service,
    given: Option<&[String]>,
    profile_region: Option<String>,
) -> Vec<String> {
    match (given, profile_region) {
        (Some(given), _) if !given.is_empty() => given.to_vec(),
        (_, Some(region)) => vec![region],
        _ => {
            debug!(
                1,
                "+++ Warning: No regions were specified, trying to get events from all regions"
            );
            service.all_regions()
        }
    }
}

/// Read every region in turn; a region the service does not serve ends the run (exit 22,
/// after the regions before it were read).
/// The state file is opened at the first region read, as the reference does.
pub async fn run(
    service: Service,
    regions: &[String],
    clients: &Clients,
    opts: &ServiceOptions,
    open_db: impl Fn() -> Result<ServicesDb>,
    sink: &mut Sink,
) -> Result<()> {
    let mut opened: Option<ServicesDb> = None;
    for region in regions {
        if !service.serves(region) {
            debug!(1, "+++ ERROR: Invalid region '{region}'");
            return Err(Failure::silent(code::INVALID_REGION).into());
        }
        if opened.is_none() {
            opened = Some(open_db()?);
        }
        let db = opened.as_ref().expect("opened above");
        debug!(1, "+++ Getting alerts from \"{region}\" region.");
        match service {
            Service::CloudWatchLogs => {
                let mut run = cloudwatch::CloudWatchRegion {
                    logs: clients.logs(region),
                    region,
                    opts,
                    db,
                    sink: &mut *sink,
                };
                run.run().await?;
            }
            Service::Inspector => {
                let account = clients.caller_account().await?;
                let mut run = inspector::InspectorRegion {
                    client: clients.inspector(region),
                    region,
                    account: &account,
                    opts,
                    db,
                    sink: &mut *sink,
                };
                run.run().await?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_given_configured_or_all() {
        let given = vec!["eu-west-1".to_string(), "us-east-2".to_string()];
        assert_eq!(
            regions(Service::Inspector, Some(&given), Some("x".into())),
            given
        );
        assert_eq!(
            regions(Service::CloudWatchLogs, None, Some("eu-west-1".into())),
            ["eu-west-1"]
        );
        assert_eq!(regions(Service::CloudWatchLogs, None, None).len(), 33);
        assert_eq!(regions(Service::Inspector, None, None).len(), 31);
        assert!(!Service::Inspector.serves("ap-east-2"));
        assert!(Service::CloudWatchLogs.serves("ap-east-2"));
    }
}
