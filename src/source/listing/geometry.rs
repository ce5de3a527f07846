//! Where a type's objects are in the bucket: the prefixes of its listings and the state scope
//! each listing records under.

use crate::bucket::TypeInfo;
use crate::state::{Scope, TableKind};

/// The bucket and the path flags of a run.
#[derive(Debug, Clone)]
pub struct Geometry {
    pub bucket: String,
    pub prefix: String,
    pub suffix: String,
    pub organization_id: Option<String>,
    pub info: &'static TypeInfo,
}

/// One listing: an account and region of an `AWSLogs/` layout (and flow log), or a custom
/// prefix.
#[derive(Debug, Clone)]
pub struct Listing {
    /// The state rows' scope; its account and flow log ID are the listing's too.
    pub state: Scope,
    /// The key's region (the state scope has none for load balancers).
    pub region: Option<String>,
    pub prefix: String,
}

impl Geometry {
    /// `bucket_path` of the state rows.
    pub fn bucket_path(&self) -> String {
        if self.info.layout.is_aws_logs() {
            format!("{}/{}{}", self.bucket, self.prefix, self.suffix)
        } else {
            format!("{}/{}", self.bucket, self.prefix)
        }
    }

    /// `PREFIX/AWSLogs/SUFFIX/[ORG_ID/]`, where the account folders are.
    pub fn accounts_prefix(&self) -> String {
        let mut base = format!("{}AWSLogs/{}", self.prefix, self.suffix);
        if let (Some(org), true) = (
            &self.organization_id,
            self.info.layout.has_organization_folder(),
        ) {
            base.push_str(org);
            base.push('/');
        }
        base
    }

    /// Where an account's region folders are; the run's prefix for custom layouts.
    pub fn regions_prefix(&self, account: &str) -> String {
        match self.info.layout.service() {
            Some(service) => format!("{}{account}/{service}/", self.accounts_prefix()),
            None => self.prefix.clone(),
        }
    }

    pub fn listing(
        &self,
        account: &str,
        region: Option<&str>,
        flow_log_id: Option<&str>,
    ) -> Listing {
        let (state_region, state_flow) = match self.info.table_kind {
            TableKind::Regional => (region, None),
            TableKind::FlowLog => (region, flow_log_id),
            TableKind::Global => (None, None),
        };
        let prefix = match (self.info.layout.service(), region) {
            (Some(_), Some(region)) => format!("{}{region}/", self.regions_prefix(account)),
            _ => self.prefix.clone(),
        };
        Listing {
            state: Scope {
                bucket_path: self.bucket_path(),
                account_id: account.to_string(),
                region: state_region.map(str::to_string),
                flow_log_id: state_flow.map(str::to_string),
            },
            region: region.map(str::to_string),
            prefix,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bucket::{cloudtrail, guardduty, load_balancers, vpcflow, waf};

    fn geometry(info: &'static TypeInfo) -> Geometry {
        Geometry {
            bucket: "b".into(),
            prefix: "p/".into(),
            suffix: "s/".into(),
            organization_id: Some("o-abc".into()),
            info,
        }
    }

    #[test]
    fn aws_logs_prefixes_and_scopes() {
        let g = geometry(&cloudtrail::INFO);
        let l = g.listing("111122223333", Some("us-east-1"), None);
        assert_eq!(
            l.prefix,
            "p/AWSLogs/s/o-abc/111122223333/CloudTrail/us-east-1/"
        );
        assert_eq!(l.state.bucket_path, "b/p/s/");
        assert_eq!(l.state.region.as_deref(), Some("us-east-1"));
        let v = geometry(&vpcflow::INFO).listing("1", Some("eu-west-1"), Some("fl-1"));
        assert_eq!(v.state.flow_log_id.as_deref(), Some("fl-1"));
    }

    #[test]
    fn load_balancers_skip_the_organization_and_have_no_region_column() {
        let g = geometry(&load_balancers::ALB);
        let l = g.listing("1", Some("eu-west-1"), None);
        assert_eq!(l.prefix, "p/AWSLogs/s/1/elasticloadbalancing/eu-west-1/");
        assert_eq!(l.state.bucket_path, "b/p/");
        assert_eq!(l.state.region, None);
        assert_eq!(l.region.as_deref(), Some("eu-west-1"));
    }

    #[test]
    fn native_guardduty_has_the_organization_folder_but_custom_rows() {
        let l = geometry(&guardduty::NATIVE).listing("1", Some("eu-west-1"), None);
        assert_eq!(l.prefix, "p/AWSLogs/s/o-abc/1/GuardDuty/eu-west-1/");
        assert_eq!(
            (l.state.bucket_path.as_str(), l.state.region.as_deref()),
            ("b/p/", None)
        );
    }

    #[test]
    fn custom_layouts_list_the_prefix() {
        let l = geometry(&waf::INFO).listing("1", None, None);
        assert_eq!(
            (l.prefix.as_str(), l.state.bucket_path.as_str()),
            ("p/", "b/p/")
        );
    }
}
