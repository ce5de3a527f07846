//! The shared run over a bucket: check it, discover accounts and regions, compute the start
//! marker from the state file, list page by page, and for each new object fetch, decode,
//! parse, reshape, filter, send, delete (with `--remove`) and record it.
//!
//! Progress is durable: an object's row is committed right after its last event was accepted
//! by the queue, and never before, so a failure or a kill re-sends at most the object in
//! flight and never skips one.

use super::pipeline::{self, Chunk, ObjectFailure, ObjectJob};
use super::{Bucket, Layout, Listed, ParseContext};
use crate::aws::{classify, AwsError, AwsErrorKind, Clients};
use crate::debug;
use crate::decode::DecodeError;
use crate::exit::{code, fail};
use crate::message::{self, DiscardFilter, Origin};
use crate::queue::{Datagrams, Output, HEADER};
use crate::state::{Retention, Scope, State, TableKind};
use anyhow::Result;
use chrono::{Duration, NaiveDate};
use regex::Regex;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::sync::OnceLock;
use tokio::sync::mpsc;

const PATH_DATE_FORMAT: &str = "%Y/%m/%d";
const MAX_KEYS: i32 = 1000;

/// What the command line says about one bucket run.
pub struct RunOptions {
    pub bucket: String,
    pub prefix: String,
    pub suffix: String,
    pub organization_id: Option<String>,
    pub account_alias: String,
    pub only_logs_after: Option<NaiveDate>,
    /// The start date when neither the state nor `--only_logs_after` gives one.
    pub today: NaiveDate,
    pub accounts: Option<Vec<String>>,
    pub regions: Option<Vec<String>>,
    pub reparse: bool,
    pub skip_on_error: bool,
    pub remove: bool,
    pub discard: Option<Arc<DiscardFilter>>,
    /// The caller's account (STS), under which custom layouts are recorded.
    pub caller_account: Option<String>,
}

/// Totals of a run.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub objects_listed: u64,
    pub objects_skipped: u64,
    pub objects_processed: u64,
    pub objects_failed: u64,
    pub events_sent: u64,
    pub events_discarded: u64,
    pub bytes_read: Arc<AtomicU64>,
}

impl Summary {
    /// The `INFO:` line printed at the end of every run.
    pub fn line(&self, seconds: f64) -> String {
        format!(
            "Run summary: {} objects listed, {} skipped as processed, {} processed, {} failed, \
             {} events sent, {} events discarded, {:.1} MB read, {seconds:.2} s",
            self.objects_listed,
            self.objects_skipped,
            self.objects_processed,
            self.objects_failed,
            self.events_sent,
            self.events_discarded,
            self.bytes_read.load(Ordering::Relaxed) as f64 / 1e6,
        )
    }
}

pub struct Driver<'a> {
    pub opts: RunOptions,
    pub bucket: Arc<dyn Bucket>,
    pub clients: &'a Clients,
    /// Objects fetched and parsed at once.
    pub workers: usize,
    pub state: State,
    pub queue: Output,
    pub summary: Summary,
    pub progress: Progress,
}

/// One listing: an account and region of an `AWSLogs/` layout (and flow log), or a custom
/// prefix.
#[derive(Clone)]
struct Listing {
    /// The state rows' scope; its account and flow log ID are the listing's too.
    state: Scope,
    /// The key's region (the state scope has none for load balancers).
    region: Option<String>,
    prefix: String,
}

fn date_in_key() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"(\d{4}/\d{2}/\d{2})").expect("static regex"))
}

impl<'a> Driver<'a> {
    fn s3(&self) -> &aws_sdk_s3::Client {
        &self.clients.s3
    }

    pub fn bucket_path(&self) -> String {
        if self.bucket.is_aws_logs_type() {
            format!(
                "{}/{}{}",
                self.opts.bucket, self.opts.prefix, self.opts.suffix
            )
        } else {
            format!("{}/{}", self.opts.bucket, self.opts.prefix)
        }
    }

    fn base_prefix(&self) -> String {
        let mut base = format!("{}AWSLogs/{}", self.opts.prefix, self.opts.suffix);
        if let (Some(org), true) = (
            &self.opts.organization_id,
            self.bucket.uses_organization_id(),
        ) {
            base.push_str(org);
            base.push('/');
        }
        base
    }

    fn service_prefix(&self, account: &str) -> String {
        match self.bucket.layout() {
            Layout::AwsLogs { service } => format!("{}{account}/{service}/", self.base_prefix()),
            Layout::Custom => self.opts.prefix.clone(),
        }
    }

    fn full_prefix(&self, account: &str, region: Option<&str>) -> String {
        match (self.bucket.layout(), region) {
            (Layout::AwsLogs { .. }, Some(region)) => {
                format!("{}{region}/", self.service_prefix(account))
            }
            _ => self.opts.prefix.clone(),
        }
    }

    fn marker_for_date(&self, listing: &Listing, date: NaiveDate) -> String {
        format!(
            "{}{}",
            listing.prefix,
            self.bucket.date_style().format(date)
        )
    }

    /// The key the listing starts after.
    fn start_after(&self, listing: &Listing) -> Result<String> {
        let first_day = self.opts.only_logs_after.unwrap_or(self.opts.today);
        let late = self.bucket.late_arrival();
        let mut marker = if self.opts.reparse {
            self.marker_for_date(listing, first_day)
        } else {
            let like = if late {
                format!("{}%", listing.prefix)
            } else {
                format!("{}%", self.opts.prefix)
            };
            match self.state.last_key(&listing.state, &like)? {
                Some(last) if late => self.rewind_one_day(listing, &last),
                Some(last) => last,
                None => self.marker_for_date(listing, first_day),
            }
        };
        if let (Some(date), true) = (
            self.opts.only_logs_after,
            self.bucket.floor_marker_at_only_logs_after(),
        ) {
            marker = marker.max(self.marker_for_date(listing, date));
        }
        if let Some(sep) = self.bucket.marker_separator() {
            let n = listing.prefix.len();
            if let (Some(head), Some(tail)) = (marker.get(..n), marker.get(n..)) {
                marker = format!("{head}{}", tail.replace('/', &sep.to_string()));
            }
        }
        Ok(self.bucket.adjust_start_after(marker))
    }

    /// The folder of the day before the key's `YYYY/MM/DD`, so that late objects of the
    /// previous and the current day are listed again (D11).
    fn rewind_one_day(&self, listing: &Listing, key: &str) -> String {
        let Some(m) = date_in_key().find(key) else {
            return key.to_string();
        };
        match NaiveDate::parse_from_str(m.as_str(), PATH_DATE_FORMAT) {
            Ok(day) => self.marker_for_date(listing, day - Duration::days(1)),
            Err(_) => key.to_string(),
        }
    }

    /// Fail early, as the reference does, on a bucket with nothing under the prefix, bad
    /// credentials or an unreachable endpoint.
    pub async fn check_bucket(&self) -> Result<()> {
        let mut token: Option<String> = None;
        loop {
            let resp = self
                .s3()
                .list_objects_v2()
                .bucket(&self.opts.bucket)
                .prefix(&self.opts.prefix)
                .delimiter("/")
                .set_continuation_token(token.clone())
                .send()
                .await
                .map_err(|e| {
                    classify("ListObjectsV2", &e).into_failure("check_bucket", |err| {
                        match err.kind {
                            AwsErrorKind::Unreachable => fail(code::INVALID_ENDPOINT, err.text),
                            _ => fail(code::UNKNOWN, format!("Unexpected error: '{}'.", err.text)),
                        }
                    })
                })?;
            if !resp.common_prefixes().is_empty() {
                return Ok(());
            }
            if !self.bucket.empty_when_no_folders() && !resp.contents().is_empty() {
                return Ok(());
            }
            match resp.next_continuation_token() {
                Some(t) if resp.is_truncated() == Some(true) => token = Some(t.to_string()),
                _ => break,
            }
        }
        Err(fail(
            code::EMPTY_BUCKET,
            format!(
                "No files were found in '{}'. No logs will be processed.",
                self.bucket_path()
            ),
        ))
    }

    /// Folder names one level under `prefix` (every page).
    async fn folders(&self, prefix: &str, operation: &str) -> Result<Vec<String>> {
        list_folders(
            self.clients.s3.clone(),
            self.opts.bucket.clone(),
            prefix.to_string(),
        )
        .await
        .map_err(|e| self.listing_failure(operation, e, false))
    }

    fn listing_failure(
        &self,
        operation: &str,
        err: AwsError,
        s3_unexpected: bool,
    ) -> anyhow::Error {
        err.into_failure(operation, |err| match err.kind {
            AwsErrorKind::Service(_) => fail(
                code::UNKNOWN,
                format!("The \"{operation}\" request failed: {}", err.text),
            ),
            _ if s3_unexpected => crate::aws::s3_unexpected(err.text),
            _ => fail(
                code::UNKNOWN,
                format!("The \"{operation}\" request failed: {}", err.text),
            ),
        })
    }

    async fn find_account_ids(&self) -> Result<Vec<String>> {
        let base = self.base_prefix();
        let folders = self.folders(&base, "find_account_ids").await?;
        if folders.is_empty() {
            return Err(fail(
                code::INVALID_PREFIX,
                format!(
                    "No logs found in '{base}'. Check the provided prefix and the location of the \
                     logs for the bucket type '{}'",
                    self.bucket.type_name()
                ),
            ));
        }
        Ok(folders
            .into_iter()
            .filter(|f| f.len() == 12 && f.chars().all(|c| c.is_ascii_digit()))
            .collect())
    }

    fn listing(&self, account: &str, region: Option<&str>, flow_log_id: Option<&str>) -> Listing {
        let (table_kind_region, table_kind_flow) = match self.bucket.table().1 {
            TableKind::Regional => (region, None),
            TableKind::FlowLog => (region, flow_log_id),
            TableKind::Global => (None, None),
        };
        Listing {
            state: Scope {
                bucket_path: self.bucket_path(),
                account_id: account.to_string(),
                region: table_kind_region.map(str::to_string),
                flow_log_id: table_kind_flow.map(str::to_string),
            },
            region: region.map(str::to_string),
            prefix: self.full_prefix(account, region),
        }
    }

    /// Read the bucket. The summary so far comes back on failure too.
    pub async fn run(mut self) -> (Summary, Result<()>) {
        let result = self.read_all().await;
        self.progress.finish();
        let flushed = self.queue.flush();
        let summary = self.summary.clone();
        self.state.close();
        (summary, result.and(flushed))
    }

    async fn read_all(&mut self) -> Result<()> {
        self.check_bucket().await?;
        self.state.ensure_table()?;
        let listings = match self.bucket.layout() {
            Layout::AwsLogs { .. } => self.aws_logs_listings().await?,
            Layout::Custom => {
                if let Some(notice) = self.bucket.notice() {
                    crate::log::plain(&notice);
                }
                let account = self.opts.caller_account.clone().unwrap_or_default();
                vec![self.listing(&account, None, None)]
            }
        };
        // Markers come from the state before anything is read: reading one listing never
        // changes another's marker, so the listings can be fetched ahead.
        let mut planned = Vec::with_capacity(listings.len());
        for listing in listings {
            let marker = self.start_after(&listing)?;
            planned.push((listing, marker));
        }
        let mut ahead: VecDeque<(Listing, String, mpsc::Receiver<PageResult>)> = VecDeque::new();
        let mut planned = planned.into_iter();
        loop {
            while ahead.len() < self.workers.max(1) {
                let Some((listing, marker)) = planned.next() else {
                    break;
                };
                let pages = self.list_pages(&listing, &marker);
                ahead.push_back((listing, marker, pages));
            }
            let Some((listing, marker, pages)) = ahead.pop_front() else {
                break;
            };
            self.read_listing(&listing, &marker, pages).await?;
            self.trim(&listing);
        }
        Ok(())
    }

    /// Every (account, region[, flow log]) to read, accounts' regions discovered at once.
    async fn aws_logs_listings(&mut self) -> Result<Vec<Listing>> {
        let accounts = match self.opts.accounts.clone() {
            Some(a) if !a.is_empty() => a,
            _ => self.find_account_ids().await?,
        };
        let regions_of: Vec<Vec<String>> = match self.opts.regions.clone() {
            Some(r) if !r.is_empty() => vec![r; accounts.len()],
            // Regions are discovered for each account on its own (D9).
            _ => {
                let tasks: Vec<_> = accounts
                    .iter()
                    .map(|a| {
                        tokio::spawn(list_folders(
                            self.clients.s3.clone(),
                            self.opts.bucket.clone(),
                            self.service_prefix(a),
                        ))
                    })
                    .collect();
                let mut all = Vec::new();
                for (account, task) in accounts.iter().zip(tasks) {
                    let regions = task
                        .await
                        .map_err(|e| fail(code::UNKNOWN, format!("region discovery failed: {e}")))?
                        .map_err(|e| self.listing_failure("find_regions", e, false))?;
                    if regions.is_empty() {
                        debug!(1, "+++ No regions found for AWS Account {account}");
                    }
                    all.push(regions);
                }
                all
            }
        };
        let mut flow_logs: HashMap<String, Vec<String>> = HashMap::new();
        let mut listings = Vec::new();
        for (account, regions) in accounts.iter().zip(regions_of) {
            for region in &regions {
                if self.bucket.table().1 != TableKind::FlowLog {
                    listings.push(self.listing(account, Some(region), None));
                    continue;
                }
                if !flow_logs.contains_key(region) {
                    let ids = self.clients.flow_log_ids(region).await?;
                    flow_logs.insert(region.clone(), ids);
                }
                for id in &flow_logs[region] {
                    listings.push(self.listing(account, Some(region), Some(id)));
                }
            }
        }
        Ok(listings)
    }

    fn trim(&self, listing: &Listing) {
        // Load-balancer rows have no region column: their region is the key's (D11).
        let key_prefix = (self.bucket.late_arrival() && self.bucket.table().1 == TableKind::Global)
            .then_some(listing.prefix.as_str());
        let retention = if self.bucket.late_arrival() {
            Retention::NewestRowsAndLastDays
        } else {
            Retention::NewestRows
        };
        if let Err(e) = self.state.trim(&listing.state, key_prefix, retention) {
            crate::log::error(&format!(
                "Failed to execute DB cleanup - AWS Account ID: {}  Region: {}: {e:#}",
                listing.state.account_id,
                listing.region.as_deref().unwrap_or("-")
            ));
        }
    }

    fn no_logs(&self, listing: &Listing) {
        match (&listing.region, &listing.state.flow_log_id) {
            (Some(region), Some(flow)) => debug!(
                1,
                "+++ No logs to process for {flow} flow log ID in bucket: {}/{region}",
                listing.state.account_id
            ),
            (Some(region), None) => {
                debug!(
                    1,
                    "+++ No logs to process in bucket: {}/{region}", listing.state.account_id
                )
            }
            _ => debug!(1, "+++ No logs to process in bucket: {}", self.opts.bucket),
        }
    }

    /// List a prefix page by page in the background, one page ahead of the reader.
    fn list_pages(&self, listing: &Listing, start_after: &str) -> mpsc::Receiver<PageResult> {
        let (tx, rx) = mpsc::channel(1);
        let s3 = self.clients.s3.clone();
        let (bucket, prefix, start_after) = (
            self.opts.bucket.clone(),
            listing.prefix.clone(),
            start_after.to_string(),
        );
        let flow_log_id = listing.state.flow_log_id.clone();
        tokio::spawn(async move {
            let mut token: Option<String> = None;
            loop {
                let mut request = s3
                    .list_objects_v2()
                    .bucket(&bucket)
                    .prefix(&prefix)
                    .max_keys(MAX_KEYS);
                request = match &token {
                    Some(t) => request.continuation_token(t),
                    None => request.start_after(&start_after),
                };
                let page = match request.send().await {
                    Ok(p) => p,
                    Err(e) => {
                        let _ = tx.send(Err(classify("ListObjectsV2", &e))).await;
                        return;
                    }
                };
                let objects: Vec<Listed> = page
                    .contents()
                    .iter()
                    .filter_map(|o| {
                        let key = o.key()?;
                        if key.is_empty() || key.ends_with('/') {
                            return None;
                        }
                        if let Some(flow) = &flow_log_id {
                            if !key.contains(flow.as_str()) {
                                return None;
                            }
                        }
                        Some(Listed {
                            key: key.to_string(),
                            last_modified: o
                                .last_modified()
                                .and_then(|t| chrono::DateTime::from_timestamp(t.secs(), 0)),
                        })
                    })
                    .collect();
                let listed_any = !page.contents().is_empty();
                let next = page
                    .next_continuation_token()
                    .filter(|_| page.is_truncated() == Some(true))
                    .map(str::to_string);
                if tx
                    .send(Ok(Page {
                        objects,
                        listed_any,
                    }))
                    .await
                    .is_err()
                {
                    return;
                }
                match next {
                    Some(t) => token = Some(t),
                    None => return,
                }
            }
        });
        rx
    }

    async fn read_listing(
        &mut self,
        listing: &Listing,
        start_after: &str,
        mut pages: mpsc::Receiver<PageResult>,
    ) -> Result<()> {
        if let Some(region) = &listing.region {
            debug!(1, "+++ Working on {} - {region}", listing.state.account_id);
        }
        debug!(2, "+++ Marker: {start_after}");
        if self.opts.reparse {
            debug!(2, "++ Reparse mode enabled");
        }
        let mut in_flight: VecDeque<(Listed, mpsc::Receiver<Chunk>)> = VecDeque::new();
        while let Some(page) = pages.recv().await {
            let page = page.map_err(|e| self.listing_failure("iter_files_in_bucket", e, true))?;
            if !page.listed_any {
                self.no_logs(listing);
                break;
            }
            let mut started = 0;
            for object in self
                .bucket
                .arrange_page(page.objects, self.opts.only_logs_after)
            {
                self.summary.objects_listed += 1;
                let key = object.key.as_str();
                if let Some(re) = self.bucket.same_prefix_date() {
                    if re.find(key).map(|m| m.start()) != Some(listing.prefix.len()) {
                        debug!(3, "++ Skipping file with another prefix: {key}");
                        continue;
                    }
                }
                if self.state.is_processed(&listing.state, key)? {
                    if self.opts.reparse {
                        debug!(
                            1,
                            "++ File previously processed, but reparse flag set: {key}"
                        );
                    } else {
                        debug!(1, "++ Skipping previously processed file: {key}");
                        self.summary.objects_skipped += 1;
                        continue;
                    }
                }
                debug!(2, "++ Found new log: {key}");
                // Objects are recorded in listing order, so the marker (the greatest
                // recorded key) never passes an object still in flight.
                while in_flight.len() >= self.workers.max(1) {
                    let (done, rx) = in_flight.pop_front().expect("non-empty");
                    self.finish_object(listing, &done, rx).await?;
                }
                let rx = pipeline::start(self.job(listing, key));
                in_flight.push_back((object, rx));
                started += 1;
            }
            if started == 0 {
                self.no_logs(listing);
            }
        }
        while let Some((done, rx)) = in_flight.pop_front() {
            self.finish_object(listing, &done, rx).await?;
        }
        Ok(())
    }

    fn job(&self, listing: &Listing, key: &str) -> ObjectJob {
        ObjectJob {
            s3: self.clients.s3.clone(),
            bucket_name: self.opts.bucket.clone(),
            key: key.to_string(),
            bucket: self.bucket.clone(),
            ctx: ParseContext {
                skip_on_error: self.opts.skip_on_error,
            },
            discard: self.opts.discard.clone(),
            account_alias: self.opts.account_alias.clone(),
            account_id: self
                .bucket
                .is_aws_logs_type()
                .then(|| listing.state.account_id.clone()),
            bytes_read: self.summary.bytes_read.clone(),
        }
    }

    fn origin<'k>(&'k self, account: &'k str, key: &'k str) -> Origin<'k> {
        Origin {
            bucket: &self.opts.bucket,
            account_alias: &self.opts.account_alias,
            log_key: key,
            account_id: self.bucket.is_aws_logs_type().then_some(account),
        }
    }

    /// The error_msg text (with --skip_on_error), the exit code and the fatal text otherwise.
    fn failure_texts(key: &str, failure: &ObjectFailure) -> Option<(String, i32, String)> {
        Some(match failure {
            ObjectFailure::Decode(DecodeError::InvalidGzip(d)) => (
                format!("Failed to decompress file {key}: {d}"),
                code::DECOMPRESS,
                format!("Invalid gzip file received. Failed to decompress file {key}: {d}"),
            ),
            ObjectFailure::Decode(DecodeError::TruncatedGzip) => {
                let text = format!(
                    "Unknown error reading/parsing file {key}: {}",
                    DecodeError::TruncatedGzip
                );
                (text.clone(), code::UNKNOWN, text)
            }
            ObjectFailure::Decode(DecodeError::InvalidZip(d)) => (
                format!("Failed to decompress file {key}: {d}"),
                code::DECOMPRESS,
                format!("Invalid zip file received. Failed to decompress file {key}: {d}"),
            ),
            ObjectFailure::Decode(DecodeError::SnappyUnsupported) => (
                format!("Failed to decompress file {key}: snappy compression is not supported"),
                code::DECOMPRESS,
                format!("Couldn't decompress the {key} file, snappy compression is not supported."),
            ),
            ObjectFailure::Parse(e) => {
                let text = format!("Failed to parse file {key}: {e}");
                (text.clone(), code::PARSE, text)
            }
            ObjectFailure::Fetch(e) => {
                let text = format!("Unknown error reading/parsing file {key}: {e}");
                (text.clone(), code::UNKNOWN, text)
            }
            ObjectFailure::Fatal(_) => return None,
        })
    }

    fn send(&mut self, datagrams: &Datagrams) -> Result<()> {
        if crate::log::enabled(3) {
            for d in datagrams.iter_str() {
                debug!(3, "{}", d.strip_prefix(HEADER).unwrap_or(d));
            }
        }
        self.summary.events_sent += self.queue.send_all(datagrams)?;
        Ok(())
    }

    /// Send an object's messages, then delete (`--remove`) and record it. Messages are held
    /// until the object was read whole, as the reference does, unless they grow past
    /// [`HOLD_BYTES`]: then they are sent as they come to keep memory flat.
    async fn finish_object(
        &mut self,
        listing: &Listing,
        object: &Listed,
        mut rx: mpsc::Receiver<Chunk>,
    ) -> Result<()> {
        let key = object.key.as_str();
        let mut held: Vec<Datagrams> = Vec::new();
        let mut held_bytes = 0;
        let mut streaming = false;
        let outcome = loop {
            match rx.recv().await {
                Some(Chunk::Messages {
                    datagrams,
                    discarded,
                }) => {
                    self.summary.events_discarded += discarded;
                    if streaming {
                        self.send(&datagrams)?;
                        continue;
                    }
                    held_bytes += datagrams.bytes();
                    held.push(datagrams);
                    if held_bytes > HOLD_BYTES {
                        streaming = true;
                        for batch in std::mem::take(&mut held) {
                            self.send(&batch)?;
                        }
                    }
                }
                Some(Chunk::Done(result)) => break result,
                None => {
                    break Err(ObjectFailure::Fatal(fail(
                        code::UNKNOWN,
                        format!("reading {key} stopped without a result"),
                    )))
                }
            }
        };
        match outcome {
            Ok(()) => {
                for batch in std::mem::take(&mut held) {
                    self.send(&batch)?;
                }
            }
            Err(ObjectFailure::Fatal(e)) => return Err(e),
            Err(failure) => {
                let (error_msg, exit_code, fatal) =
                    Self::failure_texts(key, &failure).expect("not fatal");
                if streaming {
                    crate::log::warning(&format!(
                        "{key} failed after some of its events were sent; they will be sent again when it is read again"
                    ));
                }
                self.summary.objects_failed += 1;
                if !self.opts.skip_on_error {
                    return Err(fail(exit_code, fatal));
                }
                debug!(1, "++ {error_msg}; skipping...");
                let msg = message::error_envelope(
                    &self.origin(&listing.state.account_id, key),
                    &error_msg,
                );
                let mut one = Datagrams::default();
                one.push_json(&msg)?;
                self.send(&one)?;
            }
        }
        if self.opts.remove {
            debug!(2, "+++ Remove file from S3 Bucket:{key}");
            self.s3()
                .delete_object()
                .bucket(&self.opts.bucket)
                .key(key)
                .send()
                .await
                .map_err(|e| {
                    self.listing_failure("iter_files_in_bucket", classify("DeleteObject", &e), true)
                })?;
        }
        if !self.opts.reparse {
            match self.bucket.creation_date(object) {
                Some(date) => self.state.mark_complete(&listing.state, key, date)?,
                None => debug!(
                    2,
                    "+++ Error marking log {key} as completed: no creation date in the key name"
                ),
            }
        }
        self.summary.objects_processed += 1;
        self.progress.tick(&self.summary);
        Ok(())
    }
}

/// A progress line on stderr for long runs by hand; never when stderr is not a terminal
/// (wazuh-modulesd, cron).
pub struct Progress {
    enabled: bool,
    last: std::time::Instant,
}

impl Default for Progress {
    fn default() -> Self {
        use std::io::IsTerminal;
        Progress {
            enabled: std::io::stderr().is_terminal(),
            last: std::time::Instant::now(),
        }
    }
}

impl Progress {
    fn tick(&mut self, s: &Summary) {
        if !self.enabled || self.last.elapsed() < std::time::Duration::from_secs(1) {
            return;
        }
        self.last = std::time::Instant::now();
        eprint!(
            "\r{} objects processed, {} skipped, {} events sent, {:.1} MB read ",
            s.objects_processed,
            s.objects_skipped,
            s.events_sent,
            s.bytes_read.load(Ordering::Relaxed) as f64 / 1e6
        );
    }

    fn finish(&self) {
        if self.enabled {
            eprint!("\r\x1b[K");
        }
    }
}

/// Messages of one object held back until it was read whole, at most.
const HOLD_BYTES: usize = 8 * 1024 * 1024;

struct Page {
    objects: Vec<Listed>,
    /// The page listed keys at all (folders included): an empty page ends the listing.
    listed_any: bool,
}

type PageResult = std::result::Result<Page, AwsError>;

/// Folder names one level under `prefix`, every page.
async fn list_folders(
    s3: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
) -> std::result::Result<Vec<String>, AwsError> {
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let resp = s3
            .list_objects_v2()
            .bucket(&bucket)
            .prefix(&prefix)
            .delimiter("/")
            .set_continuation_token(token.clone())
            .send()
            .await
            .map_err(|e| classify("ListObjectsV2", &e))?;
        for p in resp.common_prefixes() {
            if let Some(name) = p
                .prefix()
                .and_then(|p| p.trim_end_matches('/').rsplit('/').next())
            {
                names.push(name.to_string());
            }
        }
        match resp.next_continuation_token() {
            Some(t) if resp.is_truncated() == Some(true) => token = Some(t.to_string()),
            _ => return Ok(names),
        }
    }
}
