//! `--service cloudwatchlogs`: the streams of each `--aws_log_groups` group, read from their
//! stored positions (`position.rs`). Streams are fetched several at once and delivered in
//! listing order; each stream's row is committed as soon as its events were accepted by the
//! Wazuh queue, so a kill re-sends at most the streams in flight.

use super::db::ServicesDb;
use super::position::{self, Position, Read, Seen};
use super::ServiceOptions;
use crate::aws::{classify, AwsError, AwsErrorKind};
use crate::debug;
use crate::exit::{code, fail};
use crate::json::Value;
use crate::queue::Datagrams;
use crate::sink::Sink;
use anyhow::Result;
use aws_sdk_cloudwatchlogs::Client;
use std::collections::{HashSet, VecDeque};
use tokio::sync::mpsc;

/// Streams fetched at once.
const STREAMS_AHEAD: usize = 8;
/// Messages of one batch sent to the queue add up to about this many bytes.
const BATCH_BYTES: usize = 256 * 1024;
/// Empty pages with a new token in a row before a read is taken as ended (AWS documents
/// that the end is the page whose token is the one sent; this bounds a misbehaving endpoint).
const MAX_EMPTY_PAGES: usize = 100;

/// A stream being fetched: its stored row, what its planned reads have seen so far, and the
/// pages on their way.
struct Fetching {
    stream: String,
    stored: Option<Position>,
    seen: (Option<Seen>, Seen),
    rx: mpsc::Receiver<Result<Page>>,
}

/// What a stream's reader hands to the delivery, in order.
enum Page {
    /// Events of the read (`true`: the read before the stored span).
    Events(bool, Vec<(i64, String)>),
    /// A read ended with this forward token.
    Done(bool, Option<String>),
}

pub struct CloudWatchRegion<'a> {
    pub logs: Client,
    pub region: &'a str,
    pub opts: &'a ServiceOptions,
    pub db: &'a ServicesDb,
    pub sink: &'a mut Sink,
}

impl CloudWatchRegion<'_> {
    pub async fn run(&mut self) -> Result<()> {
        self.db.ensure_cloudwatch()?;
        for group in self.opts.log_groups.clone() {
            let Some(streams) = self.listed_streams(&group).await? else {
                continue;
            };
            self.read_streams(&group, streams).await?;
            self.purge(&group).await?;
        }
        Ok(())
    }

    /// The group's streams (every page); `None` when the endpoint cannot be reached, as the
    /// reference goes on with the next group, here without touching the group's rows.
    async fn listed_streams(&self, group: &str) -> Result<Option<Vec<String>>> {
        debug!(1, "Getting log streams for \"{group}\" log group");
        match list_streams(&self.logs, group).await {
            Ok(streams) => Ok(Some(streams)),
            Err(e) if matches!(e.kind, AwsErrorKind::Unreachable | AwsErrorKind::Other) => {
                crate::log::error(&e.text);
                Ok(None)
            }
            Err(e) => Err(request_failed("get_log_streams", e)),
        }
    }

    async fn read_streams(&mut self, group: &str, streams: Vec<String>) -> Result<()> {
        let mut pending = streams.into_iter();
        let mut ahead: VecDeque<Fetching> = VecDeque::new();
        loop {
            while ahead.len() < STREAMS_AHEAD {
                let Some(stream) = pending.next() else { break };
                let stored = self.db.position(self.region, group, &stream)?;
                let plan = position::plan(
                    stored.as_ref(),
                    self.opts.first_ms,
                    self.opts.only_logs_after_ms,
                    self.opts.reparse,
                );
                let seen = (plan.before.as_ref().map(Seen::new), Seen::new(&plan.main));
                let rx = fetch(
                    self.logs.clone(),
                    group.to_string(),
                    stream.clone(),
                    plan,
                    self.opts.window_end_ms,
                );
                ahead.push_back(Fetching {
                    stream,
                    stored,
                    seen,
                    rx,
                });
            }
            let Some(fetching) = ahead.pop_front() else {
                return Ok(());
            };
            self.deliver(group, fetching).await?;
        }
    }

    /// Send a stream's events in order, then store its position and, with
    /// `--remove-log-streams`, delete it.
    async fn deliver(&mut self, group: &str, fetching: Fetching) -> Result<()> {
        let Fetching {
            stream,
            stored,
            mut seen,
            mut rx,
        } = fetching;
        let stream = stream.as_str();
        let mut batch = Datagrams::default();
        while let Some(page) = rx.recv().await {
            self.take(page?, &mut seen, &mut batch).await?;
        }
        let (before, main) = seen;
        self.sink.send(batch).await?;
        // The position moves only past events Wazuh kept.
        self.sink.confirm_all().await?;
        let mut row = position::merge(stored.as_ref(), before.as_ref(), &main);
        if self.opts.window_end_ms.is_some() {
            // A token of a read cut at the window's end is not one to continue without it:
            // the next run goes on from the stored end time instead.
            row.token = None;
        }
        debug!(
            2,
            "Saving data for log group \"{group}\" and log stream \"{stream}\": {row:?}"
        );
        if !self.opts.dry_run {
            self.db.save_position(self.region, group, stream, &row)?;
        }
        self.sink.summary.objects_processed += 1;
        if self.opts.remove_streams && !self.opts.dry_run {
            debug!(
                1,
                "Removing log stream \"{stream}\" from log group \"{group}\""
            );
            self.logs
                .delete_log_stream()
                .log_group_name(group)
                .log_stream_name(stream)
                .send()
                .await
                .map_err(|e| {
                    request_failed("remove_aws_log_stream", classify("DeleteLogStream", &e))
                })?;
        }
        Ok(())
    }

    /// A page of a stream: its events go to the batch (sent as it fills), their times to
    /// what the read saw.
    async fn take(
        &mut self,
        page: Page,
        seen: &mut (Option<Seen>, Seen),
        batch: &mut Datagrams,
    ) -> Result<()> {
        let (before, main) = seen;
        match page {
            Page::Events(is_before, events) => {
                let seen = match is_before {
                    true => before.as_mut().expect("a read before was planned"),
                    false => main,
                };
                for (timestamp, message) in events {
                    if self.discarded(&message) {
                        continue;
                    }
                    debug!(2, "The message is \"{message}\"");
                    if let Some(cut) = batch.push_message(&message) {
                        crate::shrink::report("a CloudWatch Logs event", &cut);
                    }
                    seen.event(timestamp);
                    if batch.bytes() >= BATCH_BYTES {
                        self.sink.send(std::mem::take(batch)).await?;
                    }
                }
            }
            Page::Done(true, token) => before.as_mut().expect("planned").token = token,
            Page::Done(false, token) => main.token = token,
        }
        Ok(())
    }

    /// S1: only with `--discard-regex`; JSON messages by `--discard-field`, others by the
    /// regex on the text.
    fn discarded(&mut self, message: &str) -> bool {
        let Some(filter) = &self.opts.discard else {
            return false;
        };
        let skip = match serde_json::from_str::<Value>(message) {
            Ok(Value::Object(event)) => filter.field_matches(&event),
            Ok(_) => false,
            Err(_) => filter.text_matches(message),
        };
        if skip {
            debug!(
                2,
                "+++ The \"{}\" regex found a match. The event will be skipped.",
                filter.pattern()
            );
            self.sink.summary.events_discarded += 1;
        }
        skip
    }

    /// Rows of streams that no longer exist are deleted.
    async fn purge(&self, group: &str) -> Result<()> {
        let Some(listed) = self.listed_streams(group).await? else {
            return Ok(());
        };
        let listed: HashSet<String> = listed.into_iter().collect();
        for stream in self.db.streams(self.region, group)? {
            if !listed.contains(&stream) && !self.opts.dry_run {
                debug!(2, "Data for log stream \"{stream}\" will be removed");
                self.db.forget_stream(self.region, group, &stream)?;
            }
        }
        Ok(())
    }
}

fn request_failed(operation: &str, e: AwsError) -> anyhow::Error {
    e.into_failure(operation, |e| {
        fail(
            code::THROTTLING,
            format!("The \"{operation}\" request failed: {}", e.text),
        )
    })
}

async fn list_streams(logs: &Client, group: &str) -> std::result::Result<Vec<String>, AwsError> {
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = logs
            .describe_log_streams()
            .log_group_name(group)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| classify("DescribeLogStreams", &e))?;
        names.extend(
            out.log_streams()
                .iter()
                .filter_map(|s| s.log_stream_name().map(str::to_string)),
        );
        match out.next_token() {
            Some(t) if !t.is_empty() && token.as_deref() != Some(t) => token = Some(t.to_string()),
            _ => return Ok(names),
        }
    }
}

/// Fetch a stream's planned reads in the background, a few pages ahead of the delivery.
fn fetch(
    logs: Client,
    group: String,
    stream: String,
    plan: position::Plan,
    window_end: Option<i64>,
) -> mpsc::Receiver<Result<Page>> {
    let (tx, rx) = mpsc::channel(2);
    tokio::spawn(async move {
        let reads = plan
            .before
            .map(|r| (true, r))
            .into_iter()
            .chain([(false, plan.main)]);
        for (is_before, read) in reads {
            let result = match position::clamp(&read, window_end) {
                Some(read) => read_events(&logs, &group, &stream, &read, is_before, &tx).await,
                None => Ok(read.token.clone()),
            };
            match result {
                Ok(token) => {
                    if tx.send(Ok(Page::Done(is_before, token))).await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            }
        }
    });
    rx
}

/// GetLogEvents from the read's start (and token) forward, until the end of the stream: a
/// page without events whose token is the one sent. Returns the last forward token.
async fn read_events(
    logs: &Client,
    group: &str,
    stream: &str,
    read: &Read,
    is_before: bool,
    tx: &mpsc::Sender<Result<Page>>,
) -> Result<Option<String>> {
    let mut token = read.token.clone();
    let mut empty_pages = 0;
    loop {
        debug!(
            1,
            "Getting CloudWatch logs from log stream \"{stream}\" in log group \"{group}\" using token \"{token:?}\", start_time \"{}\" and end_time \"{:?}\"",
            read.start,
            read.end
        );
        let out = logs
            .get_log_events()
            .log_group_name(group)
            .log_stream_name(stream)
            .start_from_head(true)
            .start_time(read.start)
            .set_end_time(read.end)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| request_failed("get_log_events", classify("GetLogEvents", &e)))?;
        let next = out.next_forward_token().map(str::to_string);
        let events: Vec<(i64, String)> = out
            .events()
            .iter()
            .map(|e| {
                (
                    e.timestamp().unwrap_or_default(),
                    e.message().unwrap_or_default().to_string(),
                )
            })
            .collect();
        let ended = events.is_empty() && (next.is_none() || next == token);
        if events.is_empty() {
            empty_pages += 1;
        } else {
            empty_pages = 0;
            if tx.send(Ok(Page::Events(is_before, events))).await.is_err() {
                return Ok(next);
            }
        }
        if next.is_some() {
            token = next;
        }
        if ended || empty_pages >= MAX_EMPTY_PAGES {
            return Ok(token);
        }
    }
}
