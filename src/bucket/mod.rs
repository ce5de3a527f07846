//! Bucket types. Each type declares its facts once, as a [`TypeInfo`] (name, state table,
//! layout, date style, marker rule), and implements the small [`Bucket`] trait for what it does
//! differently: parse an object's stream, reshape an event, arrange a listing page. Listing,
//! markers and recording live in `source::listing`; fetching, decoding and sending in
//! `pipeline`.

pub mod cloudtrail;
pub mod cloudwatch_events;
pub mod config;
pub mod custom;
pub mod guardduty;
pub mod load_balancers;
pub mod records;
pub mod reshape_custom;
pub mod server_access;
pub mod text;
pub mod umbrella;
pub mod vpcflow;
pub mod waf;

pub use crate::pipeline::format::{Emit, Event, Format, ParseContext, ParseError};
use crate::state::TableKind;
use chrono::{DateTime, NaiveDate, Utc};
use regex::Regex;
use std::sync::{Arc, LazyLock};

/// Where a type's objects live in the bucket, and what that implies for its messages and rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// CloudTrail, Config, VPC: `PREFIX/AWSLogs/SUFFIX/[ORG_ID/]ACCOUNT/SERVICE/REGION/...`.
    /// Accounts and regions are discovered unless given; messages carry `aws.aws_account_id`,
    /// the state's `bucket_path` has the suffix and the row's date comes from the file name.
    AwsLogs { service: &'static str },
    /// GuardDuty's native exports and load balancers: the same folders, but messages and rows
    /// as the custom types have them, the reference deriving these types from its custom
    /// bucket (no account id, no suffix in `bucket_path`, the date from the key's folders).
    /// Load balancers ignore `--aws_organization_id`.
    ServiceFolders {
        service: &'static str,
        organization_id: bool,
    },
    /// Everything under `PREFIX`, read as one listing for the caller's account (STS).
    Prefix,
}

impl Layout {
    /// The service folder under `ACCOUNT/`, for the layouts that have accounts and regions.
    pub fn service(self) -> Option<&'static str> {
        match self {
            Layout::AwsLogs { service } | Layout::ServiceFolders { service, .. } => Some(service),
            Layout::Prefix => None,
        }
    }

    /// Messages carry `aws.aws_account_id`, and `bucket_path` ends with the suffix.
    pub fn is_aws_logs(self) -> bool {
        matches!(self, Layout::AwsLogs { .. })
    }

    /// `--aws_organization_id` is a folder of the path.
    pub fn has_organization_folder(self) -> bool {
        match self {
            Layout::AwsLogs { .. } => true,
            Layout::ServiceFolders {
                organization_id, ..
            } => organization_id,
            Layout::Prefix => false,
        }
    }
}

/// How a date is written in the keys, for start markers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateStyle {
    /// `2024/03/05`
    Slashes,
    /// `2024-03-05`
    Dashes,
    /// `2024/3/5` (AWS Config folders)
    Unpadded,
}

impl DateStyle {
    pub fn format(self, d: NaiveDate) -> String {
        match self {
            DateStyle::Slashes => d.format("%Y/%m/%d").to_string(),
            DateStyle::Dashes => d.format("%Y-%m-%d").to_string(),
            DateStyle::Unpadded => d.format("%Y/%-m/%-d").to_string(),
        }
    }
}

/// How a type moves its start marker once the common rules chose it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkerRule {
    /// The last recorded key, floored at `--only_logs_after`.
    LastKey,
    /// CloudTrail and load balancers: the previous day's folder of the last recorded key, so
    /// that late objects are read (D11); the state keeps that window's rows.
    RewindOneDay,
    /// Config: un-padded folders do not sort by date (`2024/10/1` < `2024/9/30`), so the
    /// listing starts at the marker's year folder and pages are filtered by date instead.
    YearFolder,
    /// Native GuardDuty exports are read again from the marker's day folder.
    DayFolder,
}

/// Everything about a type that is data rather than behaviour.
#[derive(Debug)]
pub struct TypeInfo {
    /// The `--type` value.
    pub name: &'static str,
    /// The state table and which columns scope its rows.
    pub table: &'static str,
    pub table_kind: TableKind,
    pub layout: Layout,
    pub date_style: DateStyle,
    pub marker: MarkerRule,
    /// Server access keys join the date with `-`: the marker's `/` become this character.
    pub marker_separator: Option<char>,
    /// Only keys whose first date (this regex) starts right after the listing prefix are
    /// read (the reference's "same prefix" check of custom layouts).
    pub same_prefix_date: Option<fn() -> &'static Regex>,
    /// Whether an empty prefix is one with no folders (the reference's check), or one with
    /// neither folders nor objects (server access, whose objects sit at the top).
    pub empty_when_no_folders: bool,
    /// A line printed before the run starts (deprecation notices).
    pub notice: Option<&'static str>,
}

impl TypeInfo {
    /// A type whose objects can arrive late keeps every state row of the rewind window.
    pub fn late_arrival(&self) -> bool {
        self.marker == MarkerRule::RewindOneDay
    }

    /// `created_date` of the state row, `YYYYMMDD`. `None` leaves the object unrecorded, as
    /// the reference does for a key it cannot read a date from.
    pub fn creation_date(&self, object: &Listed) -> Option<i64> {
        if self.layout.is_aws_logs() {
            aws_logs_creation_date(&object.key)
        } else {
            custom_creation_date(object)
        }
    }
}

/// Defaults that most types share; each type's `INFO` overrides what differs.
pub const BASE_INFO: TypeInfo = TypeInfo {
    name: "",
    table: "",
    table_kind: TableKind::Global,
    layout: Layout::Prefix,
    date_style: DateStyle::Slashes,
    marker: MarkerRule::LastKey,
    marker_separator: None,
    same_prefix_date: None,
    empty_when_no_folders: true,
    notice: None,
};

/// One listed object.
#[derive(Debug, Clone)]
pub struct Listed {
    pub key: String,
    pub last_modified: Option<DateTime<Utc>>,
}

/// What a bucket type does differently from the others, beyond its format.
pub trait Bucket: Format {
    fn info(&self) -> &'static TypeInfo;

    /// For a type whose layout the bucket decides: the type to read it as, given whether
    /// `PREFIX/AWSLogs/` has folders (the run looks once, before listing).
    fn settle_layout(&self) -> Option<fn(bool) -> Arc<dyn Bucket>> {
        None
    }

    /// Order and filter one listing page (Config sorts by the date in the key).
    fn arrange_page(
        &self,
        objects: Vec<Listed>,
        _only_logs_after: Option<NaiveDate>,
    ) -> Vec<Listed> {
        objects
    }
}

/// How a type is built; only Cisco Umbrella looks at `--trail_prefix`.
type Build = fn(&str) -> Arc<dyn Bucket>;

/// Every `--type`, in the reference's order, and how to build it: the one list to extend
/// with a new type.
const REGISTRY: [(&str, Build); 11] = [
    ("cloudtrail", |_| Arc::new(cloudtrail::CloudTrail)),
    ("vpcflow", |_| Arc::new(vpcflow::VpcFlow)),
    ("config", |_| Arc::new(config::Config)),
    ("custom", |_| Arc::new(custom::Custom)),
    // Starts as native; the run looks at the bucket's layout once it can.
    ("guardduty", |_| {
        Arc::new(guardduty::GuardDuty { native: true })
    }),
    ("cisco_umbrella", |prefix| {
        Arc::new(umbrella::Umbrella::new(prefix))
    }),
    ("waf", |_| Arc::new(waf::Waf)),
    ("alb", |_| Arc::new(load_balancers::LoadBalancer::alb())),
    ("clb", |_| Arc::new(load_balancers::LoadBalancer::clb())),
    ("nlb", |_| Arc::new(load_balancers::LoadBalancer::nlb())),
    ("server_access", |_| Arc::new(server_access::ServerAccess)),
];

/// Every `--type` value, in the reference's order.
pub fn type_names() -> impl Iterator<Item = &'static str> {
    REGISTRY.iter().map(|(name, _)| *name)
}

/// The bucket type for a `--type` value (case-insensitive), or `None` for an unknown type.
pub fn for_type(name: &str, prefix: &str) -> Option<Arc<dyn Bucket>> {
    let name = name.to_lowercase();
    REGISTRY
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, build)| build(prefix))
}

/// Every type's name, state table and scope columns, each table once, in the reference's
/// order.
pub fn tables() -> Vec<(&'static str, &'static str, TableKind)> {
    let mut tables: Vec<(&'static str, &'static str, TableKind)> = Vec::new();
    for bucket in REGISTRY.iter().map(|(_, build)| build("")) {
        let info = bucket.info();
        if !tables.iter().any(|(_, table, _)| *table == info.table) {
            tables.push((info.name, info.table, info.table_kind));
        }
    }
    tables
}

/// `PREFIX/YYYY/MM/DD/...`: the date folder that must follow a custom prefix directly.
pub fn slash_date() -> &'static Regex {
    static RE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\d{4}/\d{2}/\d{2}").expect("static regex"));
    &RE
}

/// `ACCOUNT_SERVICE_REGION_20240315T1405Z_RANDOM.json.gz` -> 20240315.
pub fn aws_logs_creation_date(key: &str) -> Option<i64> {
    let name = key.rsplit('/').next().unwrap_or(key);
    let parts: Vec<&str> = name.split('_').collect();
    if parts.len() < 2 {
        return None;
    }
    let stamp = parts[parts.len() - 2];
    let date = stamp.split('T').next().unwrap_or(stamp);
    date.trim().parse::<i64>().ok()
}

/// The last `YYYY-MM-DD` or `YYYY/MM/DD` in the key, else the object's modification day.
pub fn custom_creation_date(object: &Listed) -> Option<i64> {
    static RE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\d{4}[/-]\d{2}[/-]\d{2}").expect("static regex"));
    let re = &*RE;
    match re.find_iter(&object.key).last() {
        Some(m) => m.as_str().replace(['/', '-'], "").parse().ok(),
        None => object
            .last_modified
            .map(|t| t.format("%Y%m%d").to_string())
            .and_then(|s| s.parse().ok()),
    }
}

#[cfg(test)]
mod tests;

/// Every event of an object held in memory, for tests.
#[cfg(test)]
pub trait ParseAll {
    fn parse(&self, key: &str, data: &[u8], ctx: ParseContext) -> Result<Vec<Event>, ParseError>;
}

#[cfg(test)]
impl<T: Format + ?Sized> ParseAll for T {
    fn parse(&self, key: &str, data: &[u8], ctx: ParseContext) -> Result<Vec<Event>, ParseError> {
        let mut events = Vec::new();
        let mut input = data;
        self.parse_stream(key, &mut input, ctx, &mut |e| {
            events.push(e);
            Ok(())
        })?;
        Ok(events)
    }
}
