//! One object from S3 to the messages it yields, run for several objects at once. It knows
//! nothing of where the key came from: a source hands it (bucket, key, how to parse) and gets
//! the object's batches back on a channel; [`delivery`] sends them and tells the source how the
//! object ended.
//!
//! A job downloads its object, decompresses and parses it as the bytes arrive (on a blocking
//! thread: it is CPU work), and filters, envelopes, reshapes and serializes each event there
//! too. The messages travel in batches over a small bounded channel, so a job that runs ahead
//! of the sink waits instead of buffering: memory stays flat however large the object, and
//! each object's messages are still sent in order.

mod body;
pub mod delivery;
pub mod failure;
pub mod format;
mod niceness;
pub mod window;

use crate::aws::{classify, s3_unexpected, AwsErrorKind};
use crate::decode::{self, Compression};
use crate::exit::{code, fail};
use crate::message::{DiscardFilter, Origin};
use crate::queue::Datagrams;
use body::BodyReader;
use failure::ObjectFailure;
use format::{Format, ParseContext, ParseError};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Messages of one batch add up to about this many bytes.
const BATCH_BYTES: usize = 256 * 1024;
/// Batches a job may have waiting for the sink.
const QUEUED_BATCHES: usize = 4;

/// What every object of a run shares.
pub struct RunContext {
    pub s3: aws_sdk_s3::Client,
    pub format: Arc<dyn Format>,
    pub ctx: ParseContext,
    pub discard: Option<Arc<DiscardFilter>>,
    /// `aws.log_info.aws_account_alias` (bucket runs; subscribers have none).
    pub account_alias: Option<String>,
    /// Bytes downloaded by every job of the run.
    pub bytes_read: Arc<AtomicU64>,
    /// Which of the jobs started may parse now.
    pub window: Arc<window::ParseWindow>,
}

/// One object and how its messages are labelled.
#[derive(Debug, Clone)]
pub struct ObjectRef {
    pub bucket: String,
    pub key: String,
    /// `aws.aws_account_id` of the messages, for `AWSLogs/` types.
    pub account_id: Option<String>,
    /// The account that must own the bucket (`ExpectedBucketOwner`), where it is known.
    pub expected_owner: Option<String>,
}

impl ObjectRef {
    pub fn origin<'a>(&'a self, account_alias: Option<&'a str>) -> Origin<'a> {
        Origin {
            bucket: &self.bucket,
            account_alias,
            log_key: &self.key,
            account_id: self.account_id.as_deref(),
        }
    }
}

pub enum Chunk {
    /// Whole datagrams (`1:Wazuh-AWS:` and the JSON), in order.
    Messages {
        datagrams: Datagrams,
        discarded: u64,
    },
    Done(Result<(), ObjectFailure>),
}

/// A started job: its batches and result arrive on `rx`. Jobs must be delivered in the
/// order they were started; dropping one (delivered or given up) lets the next parse.
pub struct Job {
    pub rx: mpsc::Receiver<Chunk>,
    _ticket: window::Ticket,
}

/// Start a job: its request goes out now, its parsing waits for its turn in the window.
pub fn start(run: Arc<RunContext>, object: ObjectRef) -> Job {
    let (tx, rx) = mpsc::channel(QUEUED_BATCHES);
    let ticket = run.window.ticket();
    let number = ticket.number();
    tokio::spawn(async move {
        let result = fetch_and_parse(run, object, number, tx.clone()).await;
        let _ = tx.send(Chunk::Done(result)).await;
    });
    Job {
        rx,
        _ticket: ticket,
    }
}

async fn fetch_and_parse(
    run: Arc<RunContext>,
    object: ObjectRef,
    ticket: u64,
    tx: mpsc::Sender<Chunk>,
) -> Result<(), ObjectFailure> {
    let resp = run
        .s3
        .get_object()
        .bucket(&object.bucket)
        .key(&object.key)
        .set_expected_bucket_owner(object.expected_owner.clone())
        .send()
        .await;
    let resp = match resp {
        Ok(r) => r,
        Err(e) => {
            let err = classify("GetObject", &e);
            return Err(match &err.kind {
                AwsErrorKind::Service(code) if code == "NoSuchKey" || code == "NoSuchBucket" => {
                    ObjectFailure::Gone(err.text)
                }
                AwsErrorKind::Service(_) => ObjectFailure::Fetch(err.text),
                _ => ObjectFailure::Fatal(
                    err.into_failure("get_object", |err| s3_unexpected(err.text)),
                ),
            });
        }
    };
    run.window.wait_turn(ticket).await;
    let source = body::Source {
        s3: run.s3.clone(),
        bucket: object.bucket.clone(),
        key: object.key.clone(),
        etag: resp.e_tag.clone(),
    };
    let reader = BodyReader::new(
        Box::new(resp.body.into_async_read()),
        source,
        tokio::runtime::Handle::current(),
        run.bytes_read.clone(),
    );
    tokio::task::spawn_blocking(move || parse_body(&run, &object, reader, tx))
        .await
        .unwrap_or_else(|e| {
            Err(ObjectFailure::Fatal(fail(
                code::UNKNOWN,
                format!("a worker thread failed: {e}"),
            )))
        })
}

fn parse_body(
    run: &RunContext,
    object: &ObjectRef,
    reader: BodyReader,
    tx: mpsc::Sender<Chunk>,
) -> Result<(), ObjectFailure> {
    niceness::lower_this_thread();
    let failed = reader.failure();
    // A body cut more often than resuming mends ends the run (exit 7) instead of passing
    // for a bad object.
    let body_failure = || {
        let cut = failed.lock().ok().and_then(|f| f.clone())?;
        Some(ObjectFailure::Fatal(s3_unexpected(format_args!(
            "reading {}: {cut}",
            object.key
        ))))
    };
    let mut opened = match decode::open(Compression::of_key(&object.key), reader) {
        Ok(o) => o,
        Err(e) => return Err(body_failure().unwrap_or(ObjectFailure::Decode(e))),
    };
    let mut batcher = Batcher {
        run,
        origin: object.origin(run.account_alias.as_deref()),
        tx,
        batch: Datagrams::default(),
        discarded: 0,
        stopped: false,
    };
    let parsed = run
        .format
        .parse_stream(&object.key, &mut *opened.reader, run.ctx, &mut |event| {
            batcher.push(event)
        })
        .and_then(|()| batcher.flush());
    let Err(e) = parsed else {
        return Ok(());
    };
    if batcher.stopped {
        return Err(ObjectFailure::Fatal(fail(code::UNKNOWN, "the run stopped")));
    }
    if let Some(f) = body_failure() {
        return Err(f);
    }
    match opened.decode_failure() {
        Some(d) => Err(ObjectFailure::Decode(d)),
        None => Err(ObjectFailure::Parse(e)),
    }
}

/// Parsed events to batches of datagrams: the discard filter, the envelope, the type's
/// reshaping, serialization.
struct Batcher<'a> {
    run: &'a RunContext,
    origin: Origin<'a>,
    tx: mpsc::Sender<Chunk>,
    batch: Datagrams,
    discarded: u64,
    /// The sink went away: the run is ending.
    stopped: bool,
}

impl Batcher<'_> {
    fn push(&mut self, event: format::Event) -> Result<(), ParseError> {
        if let Some(filter) = &self.run.discard {
            if self.run.format.discards(filter, &event) {
                crate::debug!(
                    2,
                    "+++ The \"{}\" regex found a match in the \"{}\" field. The event will be skipped.",
                    filter.pattern(),
                    filter.field()
                );
                self.discarded += 1;
                return Ok(());
            }
            crate::debug!(
                3,
                "+++ The \"{}\" regex did not find a match in the \"{}\" field. The event will be processed.",
                filter.pattern(),
                filter.field()
            );
        }
        let msg = self.run.format.envelope(&self.origin, event);
        for out in self.run.format.reshape(msg) {
            if let Some(cut) = self.batch.push_value(&out) {
                crate::shrink::report(self.origin.log_key, &cut);
            }
        }
        if self.batch.bytes() >= BATCH_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), ParseError> {
        if self.batch.is_empty() && self.discarded == 0 {
            return Ok(());
        }
        let chunk = Chunk::Messages {
            datagrams: std::mem::take(&mut self.batch),
            discarded: std::mem::take(&mut self.discarded),
        };
        self.tx.blocking_send(chunk).map_err(|_| {
            self.stopped = true;
            ParseError::Read("the run stopped".into())
        })
    }
}
