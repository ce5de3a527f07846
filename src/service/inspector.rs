//! `--service inspector`: Inspector v2 findings updated since the last scan (kept 34). Each
//! finding is sent as the reference's boto3 dict: the JSON of the ListFindings answer, with
//! the timestamp members rendered as Python does (`createdAt`/`updatedAt` as
//! `%Y-%m-%dT%H:%M:%SZ`, the others as `str(datetime)`).

use super::db::ServicesDb;
use super::ServiceOptions;
use crate::aws::classify;
use crate::debug;
use crate::exit::{code, fail};
use crate::json::{Map, Value};
use crate::message;
use crate::queue::Datagrams;
use crate::sink::Sink;
use anyhow::Result;
use aws_sdk_inspector2::types::{DateFilter, FilterCriteria};
use aws_smithy_runtime_api::client::interceptors::context::AfterDeserializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use chrono::{DateTime, NaiveDateTime, Utc};
use std::sync::{Arc, Mutex};

const SERVICE: &str = "inspector";
const PAGE_SIZE: i32 = 100;
const SCAN_FORMAT: &str = "%Y-%m-%d %H:%M:%S%.f";

/// The regions of the bucket list that Inspector v2 does not serve (the reference's
/// `INSPECTOR_V2_REGIONS` is the bucket list without them).
const NOT_SERVED: [&str; 2] = ["ap-east-2", "me-south-1"];

/// Whether Inspector v2 serves `region`.
pub fn serves(region: &str) -> bool {
    crate::regions::is_known(region) && !NOT_SERVED.contains(&region)
}

/// Members of the finding shapes that botocore parses as timestamps.
const TIMESTAMPS: &[&str] = &[
    "firstObservedAt",
    "lastObservedAt",
    "vendorCreatedAt",
    "vendorUpdatedAt",
    "launchedAt",
    "pushedAt",
    "lastInUseAt",
    "lastModifiedAt",
    "lastKnownExploitAt",
    "imagePulledAt",
    "firstSeen",
    "lastSeen",
    "dateAdded",
    "dateDue",
];

pub struct InspectorRegion<'a> {
    pub client: aws_sdk_inspector2::Client,
    pub region: &'a str,
    pub account: &'a str,
    pub opts: &'a ServiceOptions,
    pub db: &'a ServicesDb,
    pub sink: &'a mut Sink,
}

impl InspectorRegion<'_> {
    pub async fn run(&mut self) -> Result<()> {
        self.db.ensure_services()?;
        let first = format!("{} 00:00:00.0", self.opts.first_day.format("%Y-%m-%d"));
        let last = match self.opts.reparse {
            true => None,
            false => self.db.last_scan(SERVICE, self.account, self.region)?,
        };
        let last = match last {
            Some(date) => date,
            None if self.opts.reparse => first,
            None => {
                self.db
                    .add_scan(SERVICE, self.account, self.region, &first)?;
                first
            }
        };
        let mut from = NaiveDateTime::parse_from_str(&last, SCAN_FORMAT).map_err(|e| {
            fail(
                code::SQLITE_ACCESS,
                format!("Unreadable scan_date '{last}': {e}"),
            )
        })?;
        if let Some(after) = self.opts.only_logs_after {
            from = from.max(after.and_hms_opt(0, 0, 0).expect("midnight"));
        }
        // `--only_logs_before` ends the window at the last second of its day.
        let now = match self.opts.window_end_ms {
            Some(end) => DateTime::from_timestamp_millis(end - 1000)
                .map_or(Utc::now(), |last| last.min(Utc::now()))
                .naive_utc(),
            None => Utc::now().naive_utc(),
        };
        if from >= now {
            // Everything up to the window's end was read before: nothing to ask, and the
            // stored scan date stays where it is.
            debug!(
                1,
                "+++ [InspectorV2] nothing before --only_logs_before in {}", self.region
            );
            return Ok(());
        }
        debug!(
            2,
            "+++ Attempting to fetch Inspector V2 findings from {from}"
        );
        let sent = self.send_findings(from, now).await?;
        debug!(
            1,
            "+++ [InspectorV2] {sent} events collected and processed in {}", self.region
        );
        // The scan date moves only past findings Wazuh kept.
        self.sink.confirm_all().await?;
        if !self.opts.dry_run {
            let scan = now.format("%Y-%m-%d %H:%M:%S%.6f").to_string();
            self.db
                .add_scan(SERVICE, self.account, self.region, &scan)?;
            self.db.trim_scans(SERVICE, self.account, self.region)?;
        }
        Ok(())
    }

    /// Every page of findings updated in [from, to]; returns how many were sent.
    async fn send_findings(&mut self, from: NaiveDateTime, to: NaiveDateTime) -> Result<u64> {
        let window = DateFilter::builder()
            .start_inclusive(aws_smithy_types::DateTime::from_secs(
                from.and_utc().timestamp(),
            ))
            .end_inclusive(aws_smithy_types::DateTime::from_secs(
                to.and_utc().timestamp(),
            ))
            .build();
        let criteria = FilterCriteria::builder().updated_at(window).build();
        let mut token: Option<String> = None;
        let mut sent = 0;
        loop {
            let raw = RawBody::default();
            let out = self
                .client
                .list_findings()
                .max_results(PAGE_SIZE)
                .filter_criteria(criteria.clone())
                .set_next_token(token.clone())
                .customize()
                .interceptor(raw.clone())
                .send()
                .await
                .map_err(|e| {
                    classify("ListFindings", &e).into_failure("list_findings", |e| {
                        fail(
                            code::UNKNOWN,
                            format!("The \"list_findings\" request failed: {}", e.text),
                        )
                    })
                })?;
            sent += self.send_page(&raw.take()).await?;
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => return Ok(sent),
            }
        }
    }

    async fn send_page(&mut self, body: &[u8]) -> Result<u64> {
        let page: Value = serde_json::from_slice(body).map_err(|e| {
            fail(
                code::UNKNOWN,
                format!("Unreadable ListFindings answer: {e}"),
            )
        })?;
        let mut batch = Datagrams::default();
        let findings = match page {
            Value::Object(mut m) => m.remove("findings"),
            _ => None,
        };
        let Some(Value::Array(findings)) = findings else {
            return Ok(0);
        };
        let mut sent = 0;
        for finding in findings {
            let Value::Object(mut finding) = finding else {
                continue;
            };
            message::remove_nulls(&mut finding);
            if let Some(filter) = &self.opts.discard {
                if filter.field_matches(&finding) {
                    debug!(2, "+++ [InspectorV2] The \"{}\" regex found a match in the \"{}\" field. The event will be skipped.", filter.pattern(), filter.field());
                    self.sink.summary.events_discarded += 1;
                    continue;
                }
            }
            if let Some(cut) = batch.push_value(&to_message(finding)) {
                crate::shrink::report("an Inspector finding", &cut);
            }
            sent += 1;
        }
        self.sink.send(batch).await?;
        Ok(sent)
    }
}

/// The reference's `format_message`: `source` from `service` (or `inspector2`), the
/// timestamps as Python prints them, under `aws`.
pub fn to_message(mut finding: Map) -> Value {
    if let Some(service) = finding.remove("service") {
        let source = service.as_str().map(str::to_lowercase).unwrap_or_default();
        finding.insert("source".into(), source.into());
    } else if finding.contains_key("findingArn") {
        finding.insert("source".into(), "inspector2".into());
    }
    for field in ["createdAt", "updatedAt"] {
        if let Some(t) = finding.get_mut(field) {
            if let Some(at) = timestamp(t) {
                *t = Value::from(at.format("%Y-%m-%dT%H:%M:%SZ").to_string());
            }
        }
    }
    let mut aws = Value::Object(finding);
    python_timestamps(&mut aws);
    let mut msg = Map::new();
    msg.insert("integration".into(), "aws".into());
    msg.insert("aws".into(), aws);
    Value::Object(msg)
}

/// Timestamp members anywhere below, as `str(datetime)`: `2024-06-09 22:10:05+00:00`.
fn python_timestamps(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, item) in m.iter_mut() {
                if TIMESTAMPS.contains(&k) {
                    if let Some(at) = timestamp(item) {
                        *item = Value::from(python_datetime(at));
                        continue;
                    }
                }
                python_timestamps(item);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(python_timestamps),
        _ => {}
    }
}

/// A wire timestamp: epoch seconds (fractions to the microsecond) or an ISO 8601 text.
fn timestamp(v: &Value) -> Option<DateTime<Utc>> {
    match v {
        Value::Number(n) => {
            let micros = (n.as_f64()? * 1e6).round() as i64;
            DateTime::from_timestamp_micros(micros)
        }
        Value::String(s) => DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.with_timezone(&Utc)),
        _ => None,
    }
}

fn python_datetime(t: DateTime<Utc>) -> String {
    let base = t.format("%Y-%m-%d %H:%M:%S").to_string();
    match t.timestamp_subsec_micros() {
        0 => format!("{base}+00:00"),
        us => format!("{base}.{us:06}+00:00"),
    }
}

/// The raw body of the ListFindings answer, taken once the SDK read it: the findings are
/// sent as the service wrote them, not as the SDK's types know them.
#[derive(Debug, Clone, Default)]
struct RawBody(Arc<Mutex<Vec<u8>>>);

impl RawBody {
    fn take(&self) -> Vec<u8> {
        self.0
            .lock()
            .map(|mut b| std::mem::take(&mut *b))
            .unwrap_or_default()
    }
}

impl Intercept for RawBody {
    fn name(&self) -> &'static str {
        "RawBody"
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        if let (Some(bytes), Ok(mut body)) = (context.response().body().bytes(), self.0.lock()) {
            *body = bytes.to_vec();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_become_the_reference_message() {
        let finding: Value = serde_json::from_str(
            r#"{"findingArn":"arn:x","updatedAt":1718057405.25,"firstObservedAt":1717971005.0,
                "resources":[{"details":{"awsEc2Instance":{"launchedAt":1717062087.0}}}],
                "packageVulnerabilityDetails":{"vendorUpdatedAt":1720005133.456},
                "inspectorScore":8.1}"#,
        )
        .unwrap();
        let Value::Object(finding) = finding else {
            unreachable!()
        };
        let msg = to_message(finding);
        let aws = &msg["aws"];
        assert_eq!(aws["source"], "inspector2");
        assert_eq!(aws["updatedAt"], "2024-06-10T22:10:05Z");
        assert_eq!(aws["firstObservedAt"], "2024-06-09 22:10:05+00:00");
        assert_eq!(
            aws["resources"][0]["details"]["awsEc2Instance"]["launchedAt"],
            "2024-05-30 09:41:27+00:00"
        );
        assert_eq!(
            aws["packageVulnerabilityDetails"]["vendorUpdatedAt"],
            "2024-07-03 11:12:13.456000+00:00"
        );
        assert_eq!(aws["inspectorScore"].as_f64(), Some(8.1));
    }
}
