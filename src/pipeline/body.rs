//! An object's body as the blocking reader the parsing thread decodes from, reading on from
//! where a cut connection stopped.
//!
//! A job's response may wait unread while the objects before it are delivered (the parse
//! window), and a large object is read only as fast as analysisd takes its events. S3 closes
//! connections it could not write to for a while ("Idle connections will be closed") and now
//! and then resets long downloads; either ended the run with exit 7. Instead, the rest of the
//! object is asked for from the byte where the body stopped (`Range`), only if it is still
//! the object that was being read (`If-Match` on the first answer's ETag), and the decoder
//! above never sees the seam. An object is read on as long as each new request brings bytes
//! (a large one read behind a slow analysisd may be cut many times); when three requests in
//! a row bring none, the run ends with exit 7 and the object is not recorded.

use crate::aws::classify;
use crate::debug;
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncRead, AsyncReadExt};

/// Requests for the rest of an object that may bring no byte, one after another, before the
/// run gives up on it.
const FRUITLESS_RESUMES: u32 = 3;

pub type Body = Box<dyn AsyncRead + Unpin + Send>;

/// Where the rest of a body comes from.
pub struct Source {
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
    pub key: String,
    /// The first answer's ETag; `None` when S3 sent none (then the rest is asked for as is).
    pub etag: Option<String>,
}

pub struct BodyReader {
    body: Body,
    source: Source,
    handle: tokio::runtime::Handle,
    /// Bytes of the object read so far: where the request for the rest starts.
    offset: u64,
    /// Requests for the rest since the last byte arrived.
    fruitless: u32,
    /// Why the body could not be read to its end, once the reader gave up.
    failed: Arc<Mutex<Option<String>>>,
    bytes_read: Arc<AtomicU64>,
}

impl BodyReader {
    pub fn new(
        body: Body,
        source: Source,
        handle: tokio::runtime::Handle,
        bytes_read: Arc<AtomicU64>,
    ) -> BodyReader {
        BodyReader {
            body,
            source,
            handle,
            offset: 0,
            fruitless: 0,
            failed: Arc::default(),
            bytes_read,
        }
    }

    /// Set once the body was given up: the connection's failure, which ends the run.
    pub fn failure(&self) -> Arc<Mutex<Option<String>>> {
        self.failed.clone()
    }

    async fn rest(&self) -> Result<Body, String> {
        let s = &self.source;
        let request =
            s.s3.get_object()
                .bucket(&s.bucket)
                .key(&s.key)
                .range(format!("bytes={}-", self.offset))
                .set_if_match(s.etag.clone());
        let resp = request
            .send()
            .await
            .map_err(|e| classify("GetObject", &e).text)?;
        Ok(Box::new(resp.body.into_async_read()))
    }

    fn give_up(&self, why: String) {
        if let Ok(mut f) = self.failed.lock() {
            f.get_or_insert(why);
        }
    }
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let cut = match self.handle.block_on(self.body.read(buf)) {
                Ok(n) => {
                    if n > 0 {
                        self.fruitless = 0;
                    }
                    self.offset += n as u64;
                    self.bytes_read.fetch_add(n as u64, Ordering::Relaxed);
                    return Ok(n);
                }
                Err(cut) => cut,
            };
            if self.fruitless == FRUITLESS_RESUMES {
                self.give_up(cut.to_string());
                return Err(cut);
            }
            self.fruitless += 1;
            debug!(
                1,
                "+++ The connection for {} stopped at byte {} ({cut}); asking S3 for the rest",
                self.source.key,
                self.offset
            );
            match self.handle.block_on(self.rest()) {
                Ok(body) => self.body = body,
                Err(why) => {
                    self.give_up(format!("{cut}; asking for the rest: {why}"));
                    return Err(cut);
                }
            }
        }
    }
}
