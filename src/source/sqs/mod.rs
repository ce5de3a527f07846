//! The notification source: a subscriber run. Messages are received (one batch ahead) until a
//! receive comes back empty; the objects each one names go through the object pipeline, up to
//! `--workers` at once across messages, and are delivered in the order received. A message is
//! deleted once every object it names was finished (its events, or its `error_msg`, sent and
//! confirmed by the sink); a message that names nothing readable, or whose object must be
//! read again later, stays in the queue for its redrive policy. Several collectors can share
//! one queue: SQS hands each message to one of them, and the leases keep a message in
//! progress from reappearing for another.

pub mod bodies;
pub mod queue;
mod receiving;

use crate::debug;
use crate::exit::{code, fail, Failure};
use crate::pipeline::delivery::Delivered;
use crate::pipeline::{self, Job, ObjectRef, RunContext};
use crate::sink::{Sink, Ticket};
use crate::summary::Summary;
use anyhow::Result;
use bodies::{BodyError, Shapes};
use queue::{Leases, Received, SqsQueue};
use receiving::Receiving;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

pub struct NotificationOptions {
    pub shapes: Shapes,
    /// Objects fetched and parsed at once, across messages.
    pub workers: usize,
    /// `--output` without `--update_state`: read, but delete nothing.
    pub dry_run: bool,
    /// `--allowed_buckets`: which buckets a message may name.
    pub allowed: AllowedBuckets,
}

/// `--allowed_buckets NAME[:ACCOUNT][,...]`: without it every bucket a message names is read
/// (as the reference does); with it, only those, each from its owner account when given.
#[derive(Debug, Clone, Default)]
pub struct AllowedBuckets(Option<Vec<(String, Option<String>)>>);

impl AllowedBuckets {
    pub fn parse(list: Option<&str>) -> Self {
        AllowedBuckets(list.map(|l| {
            l.split(',')
                .filter(|e| !e.is_empty())
                .map(|e| match e.split_once(':') {
                    Some((bucket, owner)) => (bucket.to_string(), Some(owner.to_string())),
                    None => (e.to_string(), None),
                })
                .collect()
        }))
    }

    pub fn allows(&self, bucket: &str) -> bool {
        self.0
            .as_ref()
            .is_none_or(|l| l.iter().any(|(b, _)| b == bucket))
    }

    pub fn owner(&self, bucket: &str) -> Option<String> {
        self.0
            .as_ref()?
            .iter()
            .find(|(b, _)| b == bucket)
            .and_then(|(_, owner)| owner.clone())
    }
}

pub struct NotificationSource {
    pub opts: NotificationOptions,
    pub queue: SqsQueue,
    pub run: Arc<RunContext>,
    pub sink: Sink,
}

/// A received message whose objects are not all finished.
struct Open {
    handle: String,
    unfinished: usize,
    left: bool,
    /// Some of its objects were sent: an early end leaves it to its visibility timeout.
    partly_sent: bool,
    /// The sink's ticket of its last object delivered.
    ticket: Ticket,
}

/// The run's moving parts: objects in flight in the order received, open messages, and
/// finished messages waiting to be deleted.
#[derive(Default)]
struct Progress {
    in_flight: VecDeque<(u64, ObjectRef, Job)>,
    open: HashMap<u64, Open>,
    /// Finished messages waiting for the sink to confirm their objects.
    unconfirmed: VecDeque<(Ticket, String)>,
    to_delete: Vec<String>,
    leases: Leases,
    visibility: Option<Duration>,
    next_id: u64,
    /// The receives ahead of the reader.
    receiving: Option<Receiving>,
    /// Received messages not started yet.
    waiting: VecDeque<Received>,
}

impl NotificationSource {
    /// Drain the queue. The totals come back on failure too.
    pub async fn run(mut self) -> (Summary, Result<()>) {
        let mut progress = Progress {
            visibility: self.queue.visibility_timeout().await,
            ..Default::default()
        };
        let keep_alive = progress
            .visibility
            .map(|v| progress.leases.keep_alive(self.queue.clone(), v));
        let graceful = crate::stop::Graceful::register();
        let mut result = tokio::select! {
            read = self.read_all(&mut progress) => read,
            code = crate::stop::requested() => Err(Failure::silent(code).into()),
        };
        // Messages finished before a failure are deleted all the same, once confirmed.
        let deleted = self.flush_deletes(&mut progress).await;
        if result.is_err() {
            self.give_back(&mut progress).await;
        }
        drop(graceful);
        if let Some(task) = keep_alive {
            task.abort();
        }
        result = result.and(deleted).and(self.sink.finish().await);
        (self.sink.summary, result)
    }

    async fn read_all(&mut self, progress: &mut Progress) -> Result<()> {
        let queue = self.queue.clone();
        loop {
            let batches = progress
                .receiving
                .get_or_insert_with(|| Receiving::start(queue.clone()));
            // While objects are in flight, receives ahead wait briefly: one still in flight
            // when the run ends early would hide what it takes (see `give_back`).
            batches.set_busy(!progress.in_flight.is_empty());
            // Objects in flight are delivered while the next batch is not there yet: a
            // receive may wait 20 s on a drained queue.
            let batch = match batches.rx.try_recv() {
                Ok(batch) => batch,
                Err(mpsc::error::TryRecvError::Empty) if !progress.in_flight.is_empty() => {
                    self.finish_oldest(progress).await?;
                    continue;
                }
                Err(mpsc::error::TryRecvError::Empty) => {
                    self.flush_deletes(progress).await?;
                    let batches = progress.receiving.as_mut().expect("started above");
                    match batches.rx.recv().await {
                        Some(batch) => batch,
                        None => break,
                    }
                }
                Err(mpsc::error::TryRecvError::Disconnected) => break,
            };
            progress.waiting.extend(batch?);
            while let Some(message) = progress.waiting.pop_front() {
                self.sink.summary.messages_received += 1;
                let lease = progress.visibility.unwrap_or(receiving::UNKNOWN_VISIBILITY);
                progress.leases.hold(&message.handle, lease);
                self.start(progress, message).await?;
            }
        }
        while !progress.in_flight.is_empty() {
            self.finish_oldest(progress).await?;
        }
        Ok(())
    }

    /// Hand a message's objects to the pipeline, finishing older ones while the window is full.
    async fn start(&mut self, progress: &mut Progress, message: Received) -> Result<()> {
        let named = match bodies::objects(self.opts.shapes, &message.body) {
            Ok(named) => named,
            Err(BodyError::NotJson(e)) if self.opts.shapes == Shapes::SecurityLake => {
                return Err(fail(
                    code::INVALID_TYPE,
                    format!("A message of the queue is not JSON: {e}"),
                ));
            }
            Err(e) => {
                debug!(
                    2,
                    "+++ Message left in the queue, it names no object: {e:?}: {}", message.body
                );
                self.give_up(progress, &message.handle);
                return Ok(());
            }
        };
        if let Some(other) = named.iter().find(|n| !self.opts.allowed.allows(&n.bucket)) {
            debug!(
                1,
                "+++ Message left in the queue: it names bucket {}, which --allowed_buckets \
                 does not list",
                other.bucket
            );
            self.give_up(progress, &message.handle);
            return Ok(());
        }
        if named.is_empty() {
            debug!(2, "+++ The message names no new object; deleting it");
            let ticket = self.sink.seal();
            return self.finished(progress, message.handle, ticket).await;
        }
        let id = progress.next_id;
        progress.next_id += 1;
        progress.open.insert(
            id,
            Open {
                handle: message.handle,
                unfinished: named.len(),
                left: false,
                partly_sent: false,
                ticket: 0,
            },
        );
        for n in named {
            while progress.in_flight.len() >= self.opts.workers.max(1) {
                self.finish_oldest(progress).await?;
            }
            let object = ObjectRef {
                expected_owner: self.opts.allowed.owner(&n.bucket),
                bucket: n.bucket,
                key: n.key,
                account_id: None,
            };
            debug!(2, "++ Processing file {} in {}", object.key, object.bucket);
            let rx = pipeline::start(self.run.clone(), object.clone());
            progress.in_flight.push_back((id, object, rx));
        }
        Ok(())
    }

    async fn finish_oldest(&mut self, progress: &mut Progress) -> Result<()> {
        let Some((id, object, rx)) = progress.in_flight.pop_front() else {
            return Ok(());
        };
        let delivered = self.sink.deliver(&object, &self.run, rx).await?;
        self.sink.summary.objects_processed += 1;
        let Some(open) = progress.open.get_mut(&id) else {
            return Ok(());
        };
        open.unfinished -= 1;
        match delivered {
            Delivered::Finished(ticket) => {
                open.ticket = open.ticket.max(ticket);
                open.partly_sent = true;
            }
            Delivered::Left => open.left = true,
        }
        if open.unfinished > 0 {
            return Ok(());
        }
        let open = progress.open.remove(&id).expect("present above");
        match open.left {
            true => {
                self.give_up(progress, &open.handle);
                Ok(())
            }
            false => self.finished(progress, open.handle, open.ticket).await,
        }
    }

    /// A message stays in the queue: it reappears after its visibility timeout (or goes to
    /// the dead-letter queue), here or in another collector.
    fn give_up(&mut self, progress: &mut Progress, handle: &str) {
        progress.leases.release(handle);
        self.sink.summary.messages_left += 1;
    }

    /// A message to delete once the sink confirmed `ticket`; deleted ten at a time (or when
    /// nothing is in flight).
    async fn finished(
        &mut self,
        progress: &mut Progress,
        handle: String,
        ticket: Ticket,
    ) -> Result<()> {
        progress.unconfirmed.push_back((ticket, handle));
        let confirmed = self.sink.confirmed().await?;
        progress.take_confirmed(confirmed);
        if progress.to_delete.len() >= 10 {
            self.delete(progress).await?;
        }
        Ok(())
    }

    /// Confirm everything sent, then delete every finished message.
    async fn flush_deletes(&mut self, progress: &mut Progress) -> Result<()> {
        if !progress.unconfirmed.is_empty() {
            let confirmed = self.sink.confirm_all().await?;
            progress.take_confirmed(confirmed);
        }
        self.delete(progress).await
    }

    async fn delete(&mut self, progress: &mut Progress) -> Result<()> {
        let handles = std::mem::take(&mut progress.to_delete);
        if handles.is_empty() {
            return Ok(());
        }
        if !self.opts.dry_run {
            self.queue.delete(&handles).await?;
            self.sink.summary.messages_deleted += handles.len() as u64;
        }
        for h in &handles {
            progress.leases.release(h);
        }
        Ok(())
    }
}

impl NotificationSource {
    /// An early end (an error, SIGTERM, SIGINT): every message held and not finished goes
    /// back to the queue at once (visibility 0) instead of staying hidden for the visibility
    /// timeout: those started, those received and not started, and those a receive in flight
    /// brings (waited for, a few seconds at most). A message some of whose objects were sent
    /// keeps today's rule: it comes back after its visibility timeout.
    async fn give_back(&mut self, progress: &mut Progress) {
        let partly: HashSet<String> = progress
            .open
            .values()
            .filter(|o| o.partly_sent)
            .map(|o| o.handle.clone())
            .collect();
        let mut handles: Vec<String> = progress.leases.held();
        handles.extend(progress.waiting.drain(..).map(|m| m.handle));
        if let Some(receiving) = progress.receiving.take() {
            handles.extend(receiving.stop().await.into_iter().map(|m| m.handle));
        }
        handles.retain(|h| !partly.contains(h));
        handles.sort();
        handles.dedup();
        if handles.is_empty() {
            return;
        }
        let returned = self.queue.make_visible(&handles).await;
        for h in &handles {
            progress.leases.release(h);
        }
        debug!(
            2,
            "+++ The run ends early: {returned} of {} messages held given back to the queue \
             ({} partly sent left to their visibility timeout)",
            handles.len(),
            partly.len()
        );
    }
}

impl Progress {
    /// Messages whose objects the sink confirmed become deletable.
    fn take_confirmed(&mut self, confirmed: Ticket) {
        while self
            .unconfirmed
            .front()
            .is_some_and(|(ticket, _)| *ticket <= confirmed)
        {
            let (_, handle) = self.unconfirmed.pop_front().expect("checked above");
            self.to_delete.push(handle);
        }
    }
}
