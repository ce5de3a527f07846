//! The end of an object's way: its batches are sent to the sink, held until the object was
//! read whole (the reference's all-or-nothing) unless they grow past [`HOLD_BYTES`], and a
//! failed object is turned into its `error_msg` (with `--skip_on_error`) or into the error
//! that ends the run. A finished object gets the sink's ticket; what "finished" means once the
//! sink confirmed it (a state row, an SQS delete) is the source's business.

use super::failure::Action;
use super::{Chunk, Job, ObjectRef, RunContext};
use crate::debug;
use crate::exit::{code, fail};
use crate::message;
use crate::queue::Datagrams;
use crate::sink::{Sink, Ticket};
use anyhow::Result;
use tokio::sync::mpsc;

/// Messages of one object held back until it was read whole, at most.
const HOLD_BYTES: usize = 8 * 1024 * 1024;

/// How an object's delivery ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivered {
    /// Its events, or its `error_msg`, were sent: the source may finish it once the sink
    /// confirmed the ticket.
    Finished(Ticket),
    /// It could not be read this time and is left for later (subscribers only).
    Left,
}

impl Sink {
    /// Send what an object yields. `Ok` says whether the object is finished (its events, or
    /// its `error_msg`, were accepted) or left for later; an error ends the run.
    pub async fn deliver(
        &mut self,
        object: &ObjectRef,
        run: &RunContext,
        job: Job,
    ) -> Result<Delivered> {
        let (outcome, streamed) = self.receive(&object.key, job.rx).await?;
        let Err(failure) = outcome else {
            return Ok(Delivered::Finished(self.seal()));
        };
        let action = failure.action(
            &object.key,
            run.format.failure_rules(),
            run.ctx.skip_on_error,
        );
        if streamed {
            crate::log::warning(&format!(
                "{} failed after some of its events were sent; they will be sent again when \
                 it is read again",
                object.key
            ));
        }
        self.summary.objects_failed += 1;
        match action {
            Action::Stop(e) => Err(e),
            Action::Leave { line, error } => {
                match error {
                    true => crate::log::error(&line),
                    false => debug!(1, "+++ {line}"),
                }
                Ok(Delivered::Left)
            }
            Action::ErrorMsg(error_msg) => {
                debug!(1, "++ {error_msg}; skipping...");
                let origin = object.origin(run.account_alias.as_deref());
                let msg = message::error_envelope(&origin, &error_msg);
                let mut one = Datagrams::default();
                one.push_value(&msg);
                self.send(one).await?;
                Ok(Delivered::Finished(self.seal()))
            }
        }
    }

    /// Receive an object's batches until its result, sending them as [`deliver`] says.
    /// Returns the result and whether messages were sent before it came.
    async fn receive(
        &mut self,
        key: &str,
        mut rx: mpsc::Receiver<Chunk>,
    ) -> Result<(Result<(), super::failure::ObjectFailure>, bool)> {
        let mut held: Vec<Datagrams> = Vec::new();
        let mut held_bytes = 0;
        let mut streaming = false;
        loop {
            match rx.recv().await {
                Some(Chunk::Messages {
                    datagrams,
                    discarded,
                }) => {
                    self.summary.events_discarded += discarded;
                    if streaming {
                        self.send(datagrams).await?;
                        continue;
                    }
                    held_bytes += datagrams.bytes();
                    held.push(datagrams);
                    if held_bytes > HOLD_BYTES {
                        streaming = true;
                        for batch in std::mem::take(&mut held) {
                            self.send(batch).await?;
                        }
                    }
                }
                Some(Chunk::Done(result)) => {
                    if result.is_ok() {
                        for batch in held {
                            self.send(batch).await?;
                        }
                    }
                    return Ok((result, streaming));
                }
                None => {
                    return Err(fail(
                        code::UNKNOWN,
                        format!("reading {key} stopped without a result"),
                    ))
                }
            }
        }
    }
}
