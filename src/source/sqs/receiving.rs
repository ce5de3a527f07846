//! Receiving ahead of the reader: batches arrive on a channel, one batch ahead, until a
//! receive that waited the full 20 s comes back empty (the queue is drained) or one fails.
//! While the reader has objects in flight the receives wait 1 s only, so that an early end
//! finds no long receive in flight: SQS hides what such a receive takes for the visibility
//! timeout even when nobody reads its answer.

use super::queue::{Received, SqsQueue, WAIT_SECONDS};
use anyhow::Result;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How long a receive waits while the reader is busy.
const BUSY_WAIT_SECONDS: i32 = 1;
/// How long an early end waits for a receive in flight.
const STOP_WAIT: Duration = Duration::from_secs(3);
/// The lease of a message when the queue's visibility timeout could not be read (only
/// used to give messages back; nothing is extended without the timeout).
pub const UNKNOWN_VISIBILITY: Duration = Duration::from_secs(30);

pub struct Receiving {
    pub rx: mpsc::Receiver<Result<Vec<Received>>>,
    /// Gives back the batch it received but could not hand over.
    task: JoinHandle<Vec<Received>>,
    busy: Arc<AtomicBool>,
}

impl Receiving {
    pub fn start(queue: SqsQueue) -> Self {
        let (tx, rx) = mpsc::channel(1);
        let busy = Arc::new(AtomicBool::new(false));
        let flag = busy.clone();
        let task = tokio::spawn(async move {
            loop {
                // The reader stopped (an early end): no new receive.
                if tx.is_closed() {
                    return Vec::new();
                }
                let wait = match flag.load(Ordering::SeqCst) {
                    true => BUSY_WAIT_SECONDS,
                    false => WAIT_SECONDS,
                };
                match queue.receive(wait).await {
                    Ok(batch) if batch.is_empty() && wait == WAIT_SECONDS => return Vec::new(),
                    Ok(batch) if batch.is_empty() => continue,
                    Ok(batch) => {
                        // The reader has work now: the next receive waits briefly, until the
                        // reader says it is idle.
                        flag.store(true, Ordering::SeqCst);
                        if let Err(mpsc::error::SendError(unsent)) = tx.send(Ok(batch)).await {
                            return unsent.unwrap_or_default();
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return Vec::new();
                    }
                }
            }
        });
        Receiving { rx, task, busy }
    }

    pub fn set_busy(&self, busy: bool) {
        self.busy.store(busy, Ordering::SeqCst);
    }

    /// Stop receiving: what was received and not taken, including what a receive in flight
    /// brings within [`STOP_WAIT`].
    pub async fn stop(mut self) -> Vec<Received> {
        self.rx.close();
        let deadline = tokio::time::Instant::now() + STOP_WAIT;
        let mut left = Vec::new();
        while let Ok(Some(batch)) = tokio::time::timeout_at(deadline, self.rx.recv()).await {
            left.extend(batch.unwrap_or_default());
        }
        match tokio::time::timeout_at(deadline, &mut self.task).await {
            Ok(Ok(unsent)) => left.extend(unsent),
            _ => {
                self.task.abort();
                crate::debug!(
                    2,
                    "+++ A receive was still in flight; what it takes comes back after the \
                     visibility timeout"
                );
            }
        }
        left
    }
}
