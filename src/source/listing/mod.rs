//! The listing source: a bucket run. It checks the bucket, finds the listings (accounts,
//! regions, flow logs), chooses each one's start marker ([`marker`]), pages through it
//! ([`paginator`]), hands new objects to the pipeline and records them in listing order.
//!
//! Progress is durable: an object's row is committed once the sink confirmed its events (at
//! once where nothing can be observed; on a manager after the next checkpoint), and never
//! before, so a failure or a kill re-sends at most the objects in flight or unconfirmed and
//! never skips one; rows are committed in listing order, so the marker (the greatest recorded
//! key) never passes an object still in flight.

pub mod discovery;
pub mod geometry;
pub mod marker;
pub mod paginator;
mod plan;
pub mod until;

pub use plan::{discover_accounts, plan};

use crate::aws::{classify, AwsError, Clients};
use crate::bucket::{Bucket, Layout, Listed};
use crate::debug;
use crate::pipeline::delivery::Delivered;
use crate::pipeline::{self, Job, ObjectRef, RunContext};
use crate::sink::{Sink, Ticket};
use crate::state::{Retention, State, TableKind};
use crate::summary::{Progress, Summary};
use anyhow::Result;
use discovery::listing_failure;
use geometry::{Geometry, Listing};
use marker::MarkerOptions;
use paginator::{PageRequest, Pages, S3Lister};
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::sync::mpsc;

const MAX_KEYS: i32 = 1000;

/// What the command line says about one bucket run.
pub struct ListingOptions {
    pub geometry: Geometry,
    pub markers: MarkerOptions,
    pub accounts: Option<Vec<String>>,
    pub regions: Option<Vec<String>>,
    pub remove: bool,
    /// The caller's account (STS), under which custom layouts are recorded; for VPC flow
    /// logs, the account whose flow logs DescribeFlowLogs lists (D15).
    pub caller_account: Option<String>,
    /// Objects fetched and parsed at once.
    pub workers: usize,
}

pub struct ListingSource<'a> {
    pub opts: ListingOptions,
    pub bucket: Arc<dyn Bucket>,
    pub run: Arc<RunContext>,
    pub clients: &'a Clients,
    pub state: State,
    pub sink: Sink,
    pub progress: Progress,
    /// Objects delivered, waiting for the sink to confirm them, in listing order.
    pub unconfirmed: VecDeque<(Ticket, Arc<Listing>, Listed)>,
}

type PageResult = std::result::Result<paginator::Page, AwsError>;
/// Objects started and not yet delivered, oldest first, with their listing.
type InFlight = VecDeque<(Arc<Listing>, Listed, Job)>;

impl ListingSource<'_> {
    fn bucket(&self) -> &dyn Bucket {
        self.bucket.as_ref()
    }

    fn lister(&self) -> S3Lister {
        S3Lister {
            s3: self.clients.s3.clone(),
            bucket: self.opts.geometry.bucket.clone(),
        }
    }

    /// Read the bucket. The totals come back on failure too.
    pub async fn run(mut self) -> (Summary, Result<()>) {
        let result = self.read_all().await;
        // Objects delivered before a failure are finished all the same, once confirmed.
        let finished = self.finish_confirmed(true).await;
        let flushed = self.sink.finish().await;
        self.progress.finish();
        self.state.close();
        (self.sink.summary, result.and(finished).and(flushed))
    }

    async fn read_all(&mut self) -> Result<()> {
        let lister = self.lister();
        let accounts = discover_accounts(&lister, &self.opts, self.bucket());
        discovery::check_bucket(&lister, &self.opts.geometry).await?;
        self.state.ensure_table()?;
        if let (Layout::Prefix, Some(notice)) =
            (self.bucket().info().layout, self.bucket().info().notice)
        {
            crate::log::plain(notice);
        }
        let planned = plan(
            &lister,
            self.clients,
            &self.opts,
            self.bucket(),
            &self.state,
            accounts,
        )
        .await?;
        let mut ahead: VecDeque<(Arc<Listing>, String, mpsc::Receiver<PageResult>)> =
            VecDeque::new();
        let mut planned = planned.into_iter();
        // Objects of every listing share one window of `--workers`, delivered in the order
        // they were started: an organization's many small account/region prefixes overlap
        // instead of costing a round trip each (#26); each scope still records in order.
        let mut in_flight = InFlight::new();
        let mut read = Vec::new();
        loop {
            while ahead.len() < self.opts.workers.max(1) {
                let Some((listing, marker)) = planned.next() else {
                    break;
                };
                let pages = self.list_ahead(&listing, &marker);
                ahead.push_back((Arc::new(listing), marker, pages));
            }
            let Some((listing, marker, pages)) = ahead.pop_front() else {
                break;
            };
            self.read_listing(&listing, &marker, pages, &mut in_flight)
                .await?;
            read.push(listing);
        }
        while let Some((listing, done, job)) = in_flight.pop_front() {
            self.finish_object(&listing, done, job).await?;
        }
        for listing in &read {
            self.trim(listing);
        }
        Ok(())
    }

    /// List a prefix page by page in the background, one page ahead of the reader.
    fn list_ahead(&self, listing: &Listing, start_after: &str) -> mpsc::Receiver<PageResult> {
        let (tx, rx) = mpsc::channel(1);
        let request = PageRequest {
            prefix: listing.prefix.clone(),
            start_after: Some(start_after.to_string()),
            max_keys: Some(MAX_KEYS),
            ..Default::default()
        };
        let mut pages = Pages::new(self.lister(), request);
        let flow_log_id = listing.state.flow_log_id.clone();
        tokio::spawn(async move {
            while let Some(mut page) = pages.next().await {
                if let (Ok(page), Some(flow)) = (&mut page, &flow_log_id) {
                    page.objects.retain(|o| o.key.contains(flow.as_str()));
                }
                if tx.send(page).await.is_err() {
                    return;
                }
            }
        });
        rx
    }

    /// Whether a listed object is new to this run: of the listing's own prefix, and not
    /// recorded (or `--reparse`).
    fn is_new(&mut self, listing: &Listing, key: &str) -> Result<bool> {
        if let Some(same_prefix_date) = self.bucket().info().same_prefix_date {
            if same_prefix_date().find(key).map(|m| m.start()) != Some(listing.prefix.len()) {
                debug!(3, "++ Skipping file with another prefix: {key}");
                return Ok(false);
            }
        }
        if !self.state.is_processed(&listing.state, key)? {
            return Ok(true);
        }
        if self.opts.markers.reparse {
            debug!(
                1,
                "++ File previously processed, but reparse flag set: {key}"
            );
            return Ok(true);
        }
        debug!(1, "++ Skipping previously processed file: {key}");
        self.sink.summary.objects_skipped += 1;
        Ok(false)
    }

    /// Start the new objects of one listing, delivering the oldest objects in flight (of any
    /// listing) whenever the window is full or the next page is not there yet.
    async fn read_listing(
        &mut self,
        listing: &Arc<Listing>,
        start_after: &str,
        mut pages: mpsc::Receiver<PageResult>,
        in_flight: &mut InFlight,
    ) -> Result<()> {
        if let Some(region) = &listing.region {
            debug!(1, "+++ Working on {} - {region}", listing.state.account_id);
        }
        debug!(2, "+++ Marker: {start_after}");
        if self.opts.markers.reparse {
            debug!(2, "++ Reparse mode enabled");
        }
        loop {
            let page = match pages.try_recv() {
                Ok(page) => page,
                Err(mpsc::error::TryRecvError::Empty) if !in_flight.is_empty() => {
                    let (done_listing, done, job) = in_flight.pop_front().expect("non-empty");
                    self.finish_object(&done_listing, done, job).await?;
                    continue;
                }
                Err(mpsc::error::TryRecvError::Empty) => match pages.recv().await {
                    Some(page) => page,
                    None => break,
                },
                Err(mpsc::error::TryRecvError::Disconnected) => break,
            };
            let page = page.map_err(|e| listing_failure("iter_files_in_bucket", e, true))?;
            if !page.listed_any {
                self.no_logs(listing);
                break;
            }
            let mut started = 0;
            let mut window_closed = false;
            let only_logs_after = self.opts.markers.only_logs_after;
            for object in self.bucket().arrange_page(page.objects, only_logs_after) {
                self.sink.summary.objects_listed += 1;
                match until::judge(
                    self.bucket().info(),
                    &object,
                    self.opts.markers.only_logs_before,
                ) {
                    until::Verdict::Read => {}
                    until::Verdict::Skip => {
                        debug!(
                            3,
                            "++ Skipping file after --only_logs_before: {}", object.key
                        );
                        continue;
                    }
                    until::Verdict::Stop => {
                        debug!(2, "+++ Reached --only_logs_before at {}", object.key);
                        window_closed = true;
                        break;
                    }
                }
                if !self.is_new(listing, &object.key)? {
                    continue;
                }
                debug!(2, "++ Found new log: {}", object.key);
                // Objects are recorded in listing order: the window waits for the oldest.
                while in_flight.len() >= self.opts.workers.max(1) {
                    let (done_listing, done, job) = in_flight.pop_front().expect("non-empty");
                    self.finish_object(&done_listing, done, job).await?;
                }
                let job = pipeline::start(self.run.clone(), self.object_ref(listing, &object.key));
                in_flight.push_back((listing.clone(), object, job));
                started += 1;
            }
            if started == 0 {
                self.no_logs(listing);
            }
            if window_closed {
                break;
            }
        }
        Ok(())
    }

    fn object_ref(&self, listing: &Listing, key: &str) -> ObjectRef {
        ObjectRef {
            bucket: self.opts.geometry.bucket.clone(),
            key: key.to_string(),
            account_id: self
                .bucket()
                .info()
                .layout
                .is_aws_logs()
                .then(|| listing.state.account_id.clone()),
            expected_owner: None,
        }
    }

    /// Send an object's messages; it is deleted (`--remove`) and recorded once confirmed.
    async fn finish_object(
        &mut self,
        listing: &Arc<Listing>,
        object: Listed,
        job: Job,
    ) -> Result<()> {
        let target = self.object_ref(listing, &object.key);
        let delivered = self.sink.deliver(&target, &self.run, job).await?;
        let Delivered::Finished(ticket) = delivered else {
            return Ok(()); // not recorded: read again next run
        };
        self.unconfirmed
            .push_back((ticket, listing.clone(), object));
        self.finish_confirmed(false).await
    }

    /// Delete and record, in listing order, the objects the sink confirmed (`all`: after
    /// confirming everything sent).
    async fn finish_confirmed(&mut self, all: bool) -> Result<()> {
        if self.unconfirmed.is_empty() {
            return Ok(());
        }
        let confirmed = match all {
            true => self.sink.confirm_all().await?,
            false => self.sink.confirmed().await?,
        };
        while self
            .unconfirmed
            .front()
            .is_some_and(|(ticket, ..)| *ticket <= confirmed)
        {
            let (_, listing, object) = self.unconfirmed.pop_front().expect("checked above");
            self.finish(&listing, &object).await?;
        }
        Ok(())
    }

    async fn finish(&mut self, listing: &Listing, object: &Listed) -> Result<()> {
        let key = object.key.as_str();
        if self.opts.remove {
            debug!(2, "+++ Remove file from S3 Bucket:{key}");
            self.clients
                .s3
                .delete_object()
                .bucket(&self.opts.geometry.bucket)
                .key(key)
                .send()
                .await
                .map_err(|e| {
                    listing_failure("iter_files_in_bucket", classify("DeleteObject", &e), true)
                })?;
        }
        self.record(listing, object)?;
        self.sink.summary.objects_processed += 1;
        self.progress.tick(&self.sink.summary);
        Ok(())
    }

    /// Commit the object's state row (not with `--reparse`, as the reference).
    fn record(&self, listing: &Listing, object: &Listed) -> Result<()> {
        if self.opts.markers.reparse {
            return Ok(());
        }
        match self.bucket().info().creation_date(object) {
            Some(date) => self.state.mark_complete(&listing.state, &object.key, date),
            None => {
                debug!(
                    2,
                    "+++ Error marking log {} as completed: no creation date in the key name",
                    object.key
                );
                Ok(())
            }
        }
    }

    fn trim(&self, listing: &Listing) {
        let info = self.bucket().info();
        // Load-balancer rows have no region column: their region is the key's (D11).
        let key_prefix = (info.late_arrival() && info.table_kind == TableKind::Global)
            .then_some(listing.prefix.as_str());
        let retention = if info.late_arrival() {
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
        let account = &listing.state.account_id;
        match (&listing.region, &listing.state.flow_log_id) {
            (Some(region), Some(flow)) => debug!(
                1,
                "+++ No logs to process for {flow} flow log ID in bucket: {account}/{region}"
            ),
            (Some(region), None) => {
                debug!(1, "+++ No logs to process in bucket: {account}/{region}")
            }
            _ => debug!(
                1,
                "+++ No logs to process in bucket: {}", self.opts.geometry.bucket
            ),
        }
    }
}
