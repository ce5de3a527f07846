//! One object from S3 to the messages it yields, run for several objects at once.
//!
//! A job downloads its object, decompresses and parses it as the bytes arrive (on a blocking
//! thread: it is CPU work), and filters, envelopes, reshapes and serializes each event there
//! too. The messages travel to the driver in batches over a small bounded channel, so a job
//! that runs ahead of the driver waits instead of buffering: memory stays flat however large
//! the object, and the driver still sends each object's messages in order.

use super::{Bucket, ParseContext, ParseError};
use crate::aws::{classify, s3_unexpected, AwsErrorKind};
use crate::decode::{self, Compression, DecodeError};
use crate::exit::{code, fail};
use crate::message::{self, DiscardFilter, Origin};
use crate::queue::Datagrams;
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;

/// Messages of one batch add up to about this many bytes.
const BATCH_BYTES: usize = 256 * 1024;
/// Batches a job may have waiting for the driver.
const QUEUED_BATCHES: usize = 4;

/// What a job needs; everything is owned so that it can run on its own thread.
pub struct ObjectJob {
    pub s3: aws_sdk_s3::Client,
    pub bucket_name: String,
    pub key: String,
    pub bucket: Arc<dyn Bucket>,
    pub ctx: ParseContext,
    pub discard: Option<Arc<DiscardFilter>>,
    pub account_alias: String,
    /// `aws.aws_account_id` of the messages, for `AWSLogs/` types.
    pub account_id: Option<String>,
    /// Bytes downloaded by every job of the run.
    pub bytes_read: Arc<AtomicU64>,
}

pub enum Chunk {
    /// Whole datagrams (`1:Wazuh-AWS:` and the JSON), in order.
    Messages {
        datagrams: Datagrams,
        discarded: u64,
    },
    Done(Result<(), ObjectFailure>),
}

/// Why an object yielded no (or not all its) events.
pub enum ObjectFailure {
    Decode(DecodeError),
    Parse(String),
    /// The service refused the object (e.g. AccessDenied, NoSuchKey): retrying won't help.
    Fetch(String),
    /// The run must stop (throttling, network, a fatal format error).
    Fatal(anyhow::Error),
}

/// Start a job; its batches and result arrive on the returned channel.
pub fn start(job: ObjectJob) -> mpsc::Receiver<Chunk> {
    let (tx, rx) = mpsc::channel(QUEUED_BATCHES);
    tokio::spawn(async move {
        let result = run(job, tx.clone()).await;
        let _ = tx.send(Chunk::Done(result)).await;
    });
    rx
}

async fn run(job: ObjectJob, tx: mpsc::Sender<Chunk>) -> Result<(), ObjectFailure> {
    let resp = job
        .s3
        .get_object()
        .bucket(&job.bucket_name)
        .key(&job.key)
        .send()
        .await;
    let resp = match resp {
        Ok(r) => r,
        Err(e) => {
            let err = classify("GetObject", &e);
            return Err(match err.kind {
                AwsErrorKind::Service(_) => ObjectFailure::Fetch(err.text),
                _ => ObjectFailure::Fatal(
                    err.into_failure("get_object", |err| s3_unexpected(err.text)),
                ),
            });
        }
    };
    let body = resp.body.into_async_read();
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || parse_body(job, body, handle, tx))
        .await
        .unwrap_or_else(|e| {
            Err(ObjectFailure::Fatal(fail(
                code::UNKNOWN,
                format!("a worker thread failed: {e}"),
            )))
        })
}

/// The S3 body as a blocking reader; a failure of the connection is remembered, so that it
/// ends the run (exit 7) instead of passing for a bad object.
struct BodyReader<R> {
    body: R,
    handle: tokio::runtime::Handle,
    failed: Arc<Mutex<Option<String>>>,
    bytes_read: Arc<AtomicU64>,
}

impl<R: AsyncRead + Unpin> Read for BodyReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.handle.block_on(self.body.read(buf)).inspect_err(|e| {
            if let Ok(mut f) = self.failed.lock() {
                f.get_or_insert_with(|| e.to_string());
            }
        })?;
        self.bytes_read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

fn parse_body<R: AsyncRead + Unpin + Send + 'static>(
    job: ObjectJob,
    body: R,
    handle: tokio::runtime::Handle,
    tx: mpsc::Sender<Chunk>,
) -> Result<(), ObjectFailure> {
    let failed = Arc::new(Mutex::new(None));
    let reader = BodyReader {
        body,
        handle,
        failed: failed.clone(),
        bytes_read: job.bytes_read.clone(),
    };
    let body_failure =
        || {
            failed.lock().ok().and_then(|f| f.clone()).map(|e| {
                ObjectFailure::Fatal(s3_unexpected(format_args!("reading {}: {e}", job.key)))
            })
        };
    let mut opened = match decode::open(Compression::of_key(&job.key), reader) {
        Ok(o) => o,
        Err(e) => return Err(body_failure().unwrap_or(ObjectFailure::Decode(e))),
    };
    let origin = Origin {
        bucket: &job.bucket_name,
        account_alias: &job.account_alias,
        log_key: &job.key,
        account_id: job.account_id.as_deref(),
    };
    let stopped = || ParseError::Fatal(code::UNKNOWN, "the run stopped".into());
    let mut batch = Datagrams::default();
    let mut discarded = 0;
    let result = job.bucket.parse_stream(&job.key, &mut *opened.reader, job.ctx, &mut |event| {
        if let Some(filter) = &job.discard {
            if filter.should_skip_map(&event) {
                crate::debug!(
                    2,
                    "+++ The \"{}\" regex found a match in the \"{}\" field. The event will be skipped.",
                    filter.pattern(),
                    filter.field()
                );
                discarded += 1;
                return Ok(());
            }
            crate::debug!(
                3,
                "+++ The \"{}\" regex did not find a match in the \"{}\" field. The event will be processed.",
                filter.pattern(),
                filter.field()
            );
        }
        for out in job.bucket.reshape(message::envelope(&origin, event)) {
            batch
                .push_json(&out)
                .map_err(|e| ParseError::invalid(format!("cannot serialize an event: {e}")))?;
        }
        if batch.bytes() >= BATCH_BYTES {
            let datagrams = std::mem::take(&mut batch);
            let d = std::mem::take(&mut discarded);
            tx.blocking_send(Chunk::Messages {
                datagrams,
                discarded: d,
            })
            .map_err(|_| stopped())?;
        }
        Ok(())
    });
    if let Err(e) = result {
        if let Some(f) = body_failure() {
            return Err(f);
        }
        if let Some(d) = opened.decode_failure() {
            return Err(body_failure().unwrap_or(ObjectFailure::Decode(d)));
        }
        return Err(match e {
            ParseError::Invalid(m) | ParseError::Read(m) => ObjectFailure::Parse(m),
            ParseError::Fatal(c, m) => ObjectFailure::Fatal(fail(c, m)),
        });
    }
    if !batch.is_empty() || discarded > 0 {
        tx.blocking_send(Chunk::Messages {
            datagrams: batch,
            discarded,
        })
        .map_err(|_| ObjectFailure::Fatal(fail(code::UNKNOWN, "the run stopped")))?;
    }
    Ok(())
}
