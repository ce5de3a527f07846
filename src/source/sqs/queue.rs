//! The SQS calls of a subscriber run, with the reference's exit codes: the queue's URL (20),
//! receiving and deleting (21); and the leases that keep messages in progress invisible to
//! other collectors (ChangeMessageVisibility), best effort.

use crate::aws::classify;
use crate::debug;
use crate::exit::{code, fail};
use anyhow::Result;
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry, QueueAttributeName,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Messages asked for at once, and how long a receive waits for one (the reference's).
const MAX_MESSAGES: i32 = 10;
pub const WAIT_SECONDS: i32 = 20;

#[derive(Clone)]
pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    pub name: String,
    url: String,
}

/// One received message.
#[derive(Debug, Clone)]
pub struct Received {
    pub body: String,
    pub handle: String,
}

impl SqsQueue {
    pub async fn open(client: aws_sdk_sqs::Client, name: &str) -> Result<Self> {
        let out = client
            .get_queue_url()
            .queue_name(name)
            .send()
            .await
            .map_err(|e| {
                debug!(1, "+++ {}", classify("GetQueueUrl", &e).text);
                fail(
                    code::QUEUE_NOT_FOUND,
                    "Queue does not exist, verify the given name",
                )
            })?;
        let url = out.queue_url().unwrap_or_default().to_string();
        debug!(2, "The SQS queue is: {url}");
        Ok(SqsQueue {
            client,
            name: name.to_string(),
            url,
        })
    }

    /// The queue's visibility timeout, for the leases; `None` when it cannot be read.
    pub async fn visibility_timeout(&self) -> Option<Duration> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::VisibilityTimeout)
            .send()
            .await
            .ok()?;
        let seconds = out
            .attributes()?
            .get(&QueueAttributeName::VisibilityTimeout)?
            .parse()
            .ok()?;
        Some(Duration::from_secs(seconds))
    }

    /// Up to ten messages, waiting up to `wait_seconds` (the reference's 20 s, or less while
    /// objects are in flight) for the first.
    pub async fn receive(&self, wait_seconds: i32) -> Result<Vec<Received>> {
        debug!(2, "Retrieving messages from: {}", self.name);
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(MAX_MESSAGES)
            .wait_time_seconds(wait_seconds)
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|e| {
                sqs_failure(
                    "receiving messages from",
                    &classify("ReceiveMessage", &e).text,
                )
            })?;
        Ok(out
            .messages()
            .iter()
            .map(|m| Received {
                body: m.body().unwrap_or_default().to_string(),
                handle: m.receipt_handle().unwrap_or_default().to_string(),
            })
            .collect())
    }

    /// Delete finished messages, ten per request; any message not deleted ends the run.
    pub async fn delete(&self, handles: &[String]) -> Result<()> {
        for chunk in handles.chunks(MAX_MESSAGES as usize) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, h)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(h)
                        .build()
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| sqs_failure("deleting messages from", &e.to_string()))?;
            let out = self
                .client
                .delete_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| {
                    sqs_failure(
                        "deleting messages from",
                        &classify("DeleteMessageBatch", &e).text,
                    )
                })?;
            if let Some(failed) = out.failed().first() {
                let why = failed.message().unwrap_or(failed.code());
                return Err(sqs_failure("deleting messages from", why));
            }
            debug!(2, "{} messages deleted from: {}", chunk.len(), self.name);
        }
        Ok(())
    }

    /// Make messages visible at once (an early end gives them back); how many were.
    pub async fn make_visible(&self, handles: &[String]) -> usize {
        self.extend(handles, 0).await
    }

    /// Make messages invisible for `seconds` more; a failure is only a debug line (the
    /// message may then be read by another collector too: at least once, never lost).
    /// Returns how many messages were changed.
    async fn extend(&self, handles: &[String], seconds: i32) -> usize {
        let mut changed = 0;
        for chunk in handles.chunks(MAX_MESSAGES as usize) {
            let entries: Vec<_> = chunk
                .iter()
                .enumerate()
                .filter_map(|(i, h)| {
                    ChangeMessageVisibilityBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(h)
                        .visibility_timeout(seconds)
                        .build()
                        .ok()
                })
                .collect();
            let sent = self
                .client
                .change_message_visibility_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await;
            match sent {
                Ok(out) => changed += out.successful().len(),
                Err(e) => debug!(
                    1,
                    "+++ Could not change the visibility of messages: {}",
                    classify("ChangeMessageVisibilityBatch", &e).text
                ),
            }
        }
        changed
    }
}

fn sqs_failure(doing: &str, detail: &str) -> anyhow::Error {
    debug!(1, "+++ ERROR: Error {doing} SQS: {detail}");
    fail(code::SQS_ERROR, format!("Error {doing} SQS: {detail}"))
}

/// Messages received and not yet deleted or given up, with when each becomes visible again.
#[derive(Clone, Default)]
pub struct Leases {
    due: Arc<Mutex<HashMap<String, Instant>>>,
}

impl Leases {
    pub fn hold(&self, handle: &str, visibility: Duration) {
        if let Ok(mut due) = self.due.lock() {
            due.insert(handle.to_string(), Instant::now() + visibility);
        }
    }

    /// Every message held.
    pub fn held(&self) -> Vec<String> {
        self.due
            .lock()
            .map(|due| due.keys().cloned().collect())
            .unwrap_or_default()
    }

    pub fn release(&self, handle: &str) {
        if let Ok(mut due) = self.due.lock() {
            due.remove(handle);
        }
    }

    /// Renew, until the task is dropped, every lease that would end within half the
    /// visibility timeout.
    pub fn keep_alive(&self, queue: SqsQueue, visibility: Duration) -> tokio::task::JoinHandle<()> {
        let leases = self.clone();
        // At least two checks inside the half of a lease that is left when it is due: a lease
        // is extended at least a quarter of the timeout before it expires.
        let every = (visibility / 4).max(Duration::from_millis(250));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let soon = Instant::now() + visibility / 2;
                let expiring: Vec<String> = match leases.due.lock() {
                    Ok(due) => due
                        .iter()
                        .filter(|(_, &t)| t < soon)
                        .map(|(h, _)| h.clone())
                        .collect(),
                    Err(_) => return,
                };
                if expiring.is_empty() {
                    continue;
                }
                debug!(
                    2,
                    "+++ Keeping {} messages in progress invisible",
                    expiring.len()
                );
                queue.extend(&expiring, visibility.as_secs() as i32).await;
                if let Ok(mut due) = leases.due.lock() {
                    for h in &expiring {
                        // Released meanwhile (deleted or given up): not held again.
                        if let Some(t) = due.get_mut(h) {
                            *t = Instant::now() + visibility;
                        }
                    }
                }
            }
        })
    }
}
