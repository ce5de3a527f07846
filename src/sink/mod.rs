//! Where messages go, as fast as the consumer takes them, and when a delivery counts.
//!
//! Nothing behind the queue socket pushes back: analysisd (manager) and agentd (agent) read it
//! as fast as they can and drop what they have no room for. So the sink paces itself
//! ([`pace`]) to what the [`consumer`] tells, and on a manager it confirms: a unit of work
//! (an object, a log stream, a scan) is [`Sink::seal`]ed once its messages were sent, and
//! counts as delivered ([`Sink::confirmed`]) only after a checkpoint, when analysisd had read
//! everything we sent (our socket's unsent bytes at 0) and its AWS drop counter had not
//! moved. When it moved, what we sent since the last good checkpoint is sent again, slower:
//! a few messages twice instead of a loss. Sources finish (record, delete, commit) only what
//! is confirmed.

pub mod consumer;
pub mod pace;

use crate::debug;
use crate::queue::{Datagrams, Output, HEADER};
use crate::summary::Summary;
use crate::wazuh::analysisd::StatsClient;
use anyhow::Result;
use consumer::{Consumer, AGENT_BUFFER_SHARE, AGENT_EPS_SHARE};
use pace::{QueueRoom, TokenBucket};
use std::time::{Duration, Instant};

/// A unit of work whose messages were all sent: it is delivered once [`Sink::confirmed`]
/// reaches it.
pub type Ticket = u64;

/// A checkpoint is due after this many messages, bytes or this much time since the last
/// one: re-sending is bounded by it, and so is the memory of what might be re-sent.
const CHECKPOINT_EVENTS: usize = 4096;
const CHECKPOINT_BYTES: usize = 4 * 1024 * 1024;
const CHECKPOINT_EVERY: Duration = Duration::from_millis(50);
/// Rounds of re-sending at one checkpoint before the rest counts as lost.
const MAX_RESENDS: u32 = 8;
/// When analysisd stops answering, the rest of the run keeps to this share of the rate it
/// was last seen decoding (or of [`BLIND_RATE`] if none was seen).
const BLIND_SHARE: f64 = 0.8;
const BLIND_RATE: f64 = 1000.0;

/// Messages sent since the last good checkpoint, kept to be sent again.
#[derive(Default)]
struct Unconfirmed {
    batches: Vec<Datagrams>,
    events: usize,
    bytes: usize,
}

/// What a manager's analysisd lets us watch.
struct Watch {
    stats: StatsClient,
    room: QueueRoom,
    last_drops: u64,
    unconfirmed: Unconfirmed,
    last_checkpoint: Instant,
}

pub struct Sink {
    output: Output,
    pub summary: Summary,
    /// Rate caps: an agent's share of its `events_per_second`, `--max_eps`.
    caps: Vec<TokenBucket>,
    watch: Option<Watch>,
    sealed: Ticket,
    confirmed: Ticket,
}

impl Sink {
    /// A sink that sends as fast as the output takes (`--output`, tests).
    pub fn new(output: Output) -> Self {
        Self::paced(output, Consumer::Unobserved("--output".into()), None)
    }

    /// A sink paced to `consumer`, and never above `max_eps`.
    pub fn paced(output: Output, consumer: Consumer, max_eps: Option<u32>) -> Self {
        let mut caps = Vec::new();
        if let Some(n) = max_eps {
            let n = f64::from(n.max(1));
            caps.push(TokenBucket::new(
                n,
                (n / 10.0).max(1.0),
                (n / 10.0).max(1.0),
            ));
        }
        let mut watch = None;
        match consumer {
            Consumer::Analysisd { stats, first } => {
                let mut room = QueueRoom::default();
                room.observe(first);
                watch = Some(Watch {
                    stats,
                    room,
                    last_drops: first.aws_dropped,
                    unconfirmed: Unconfirmed::default(),
                    last_checkpoint: Instant::now(),
                });
            }
            Consumer::AgentBuffer { buffer, buffered } => {
                let ahead = buffer.queue_size as f64 * AGENT_BUFFER_SHARE;
                let free = (ahead - buffered.unwrap_or(0) as f64).max(1.0);
                let rate = buffer.events_per_second as f64 * AGENT_EPS_SHARE;
                caps.push(TokenBucket::new(rate, ahead, free));
            }
            Consumer::Unobserved(_) => {}
        }
        Sink {
            output,
            summary: Summary::default(),
            caps,
            watch,
            sealed: 0,
            confirmed: 0,
        }
    }

    /// Send a batch, paced. On a manager it is kept until a checkpoint confirms it.
    pub async fn send(&mut self, batch: Datagrams) -> Result<()> {
        if crate::log::enabled(3) {
            for d in batch.iter_str() {
                debug!(3, "{}", d.strip_prefix(HEADER).unwrap_or(d));
            }
        }
        self.summary.events_sent += self.send_paced(&batch).await?;
        if let Some(watch) = &mut self.watch {
            let kept = &mut watch.unconfirmed;
            kept.events += batch.len();
            kept.bytes += batch.bytes();
            kept.batches.push(batch);
            if kept.events >= CHECKPOINT_EVENTS || kept.bytes >= CHECKPOINT_BYTES {
                self.checkpoint().await?;
            }
        }
        Ok(())
    }

    /// Send every datagram of `batch`, waiting whenever a cap or analysisd's queue says so.
    /// Returns how many were sent (the others were too large for the socket).
    async fn send_paced(&mut self, batch: &Datagrams) -> Result<u64> {
        let all: Vec<&[u8]> = batch.iter().collect();
        let mut next = 0;
        let mut sent = 0;
        while next < all.len() {
            let n = self.allowed_by_caps((all.len() - next) as u64).await;
            let n = self.allowed_by_room(n).await? as usize;
            sent += self.output.send_all(&all[next..next + n])?;
            next += n;
        }
        Ok(sent)
    }

    /// Send `batch` paced by the rate caps only (analysisd can no longer be asked).
    async fn send_capped(&mut self, batch: &Datagrams) -> Result<u64> {
        let all: Vec<&[u8]> = batch.iter().collect();
        let mut next = 0;
        let mut sent = 0;
        while next < all.len() {
            let n = self.allowed_by_caps((all.len() - next) as u64).await as usize;
            sent += self.output.send_all(&all[next..next + n])?;
            next += n;
        }
        Ok(sent)
    }

    /// How many of `want` (at least one) the rate caps let go now, waiting until one may.
    async fn allowed_by_caps(&mut self, want: u64) -> u64 {
        if self.caps.is_empty() {
            return want;
        }
        loop {
            let available = self.caps.iter_mut().map(|c| c.available()).min();
            match available {
                Some(0) => {
                    let wait = self.caps.iter().map(|c| c.until_one()).max();
                    self.wait_on_wazuh(wait.unwrap_or_default()).await;
                }
                Some(n) => {
                    let n = n.min(want);
                    self.caps.iter_mut().for_each(|c| c.consume(n));
                    return n;
                }
                None => return want,
            }
        }
    }

    /// How many of `want` fit under analysisd's queue target now (on a manager), waiting
    /// until one does.
    async fn allowed_by_room(&mut self, want: u64) -> Result<u64> {
        loop {
            let Some(watch) = self.watch.as_mut() else {
                return Ok(want);
            };
            let room = watch.room.take(want);
            if room > 0 {
                return Ok(room);
            }
            match watch.stats.get() {
                Ok(stats) => {
                    watch.room.observe(stats);
                    let room = watch.room.take(want);
                    if room > 0 {
                        return Ok(room);
                    }
                    let wait = watch.room.wait();
                    self.wait_on_wazuh(wait).await;
                }
                Err(e) => {
                    self.lose_sight(&e).await?;
                    return Ok(want);
                }
            }
        }
    }

    async fn wait_on_wazuh(&mut self, wait: Duration) {
        tokio::time::sleep(wait).await;
        self.summary.waited_on_wazuh += wait;
    }

    /// A unit of work whose messages were all sent. Without a checkpoint to wait for, it is
    /// delivered at once.
    pub fn seal(&mut self) -> Ticket {
        self.sealed += 1;
        if self.watch.is_none() {
            self.confirmed = self.sealed;
        }
        self.sealed
    }

    /// Units delivered so far (every ticket up to this one); a checkpoint runs first when one
    /// is due.
    pub async fn confirmed(&mut self) -> Result<Ticket> {
        let due = self.watch.as_ref().is_some_and(|w| {
            self.confirmed < self.sealed && w.last_checkpoint.elapsed() >= CHECKPOINT_EVERY
        });
        if due {
            self.checkpoint().await?;
        }
        Ok(self.confirmed)
    }

    /// Confirm everything sent so far (the end of a run, a stream's commit).
    pub async fn confirm_all(&mut self) -> Result<Ticket> {
        self.output.flush()?;
        if self.confirmed < self.sealed
            || self
                .watch
                .as_ref()
                .is_some_and(|w| w.unconfirmed.events > 0)
        {
            self.checkpoint().await?;
        }
        Ok(self.confirmed)
    }

    /// Wait until analysisd has read everything we sent, then compare its AWS drop counter
    /// with the last good checkpoint's: unchanged, everything sealed so far is delivered;
    /// moved, what was sent since is sent again, slower, and checked again.
    async fn checkpoint(&mut self) -> Result<()> {
        let mut rounds = 0;
        loop {
            if self.watch.is_none() {
                self.confirmed = self.sealed;
                return Ok(());
            }
            let sealed = self.sealed;
            let drained = self.output.drained(&mut self.summary.waited_on_wazuh).await;
            let watch = self.watch.as_mut().expect("checked above");
            let stats = match drained.and_then(|()| watch.stats.get()) {
                Ok(stats) => stats,
                Err(e) => return self.lose_sight(&e).await,
            };
            watch.room.observe(stats);
            watch.last_checkpoint = Instant::now();
            self.summary.checkpoints += 1;
            if stats.aws_dropped == watch.last_drops {
                let kept = std::mem::take(&mut watch.unconfirmed);
                self.summary.events_confirmed += kept.events as u64;
                watch.room.recover();
                self.confirmed = sealed;
                return Ok(());
            }
            // Moved (or went back: analysisd restarted, and its queue with it).
            let seen = stats.aws_dropped.saturating_sub(watch.last_drops);
            watch.last_drops = stats.aws_dropped;
            self.summary.drops_seen += seen;
            watch.room.slow_down();
            rounds += 1;
            let events = watch.unconfirmed.events as u64;
            debug!(
                1,
                "+++ analysisd dropped {seen} AWS events since the last checkpoint; sending the \
                 last {events} again at most {:.1}% of its queue ahead (round {rounds})",
                watch.room.target() * 100.0
            );
            if rounds > MAX_RESENDS {
                let lost = std::mem::take(&mut watch.unconfirmed);
                self.summary.events_lost += (lost.events as u64).min(seen.max(1));
                self.confirmed = sealed;
                return Ok(());
            }
            let again = std::mem::take(&mut watch.unconfirmed.batches);
            for batch in &again {
                self.summary.events_resent += self.send_paced(batch).await?;
            }
            if let Some(watch) = self.watch.as_mut() {
                watch.unconfirmed.batches = again;
            }
        }
    }

    /// analysisd's statistics stopped answering: what was sent since the last good
    /// checkpoint is sent once more (it may have been dropped, we cannot know), the rest of
    /// the run keeps below the rate analysisd was last seen decoding, and a message counts as
    /// delivered once the socket took it.
    async fn lose_sight(&mut self, why: &str) -> Result<()> {
        let Some(watch) = self.watch.take() else {
            return Ok(());
        };
        let rate = watch.room.decode_rate().unwrap_or(BLIND_RATE) * BLIND_SHARE;
        self.caps
            .push(TokenBucket::new(rate, (rate / 10.0).max(1.0), 0.0));
        debug!(
            1,
            "+++ analysisd's statistics stopped answering ({}); sending the last {} events \
             again, and the rest without confirmation at most {rate:.0} events/s",
            crate::log::escape(why),
            watch.unconfirmed.events
        );
        for batch in &watch.unconfirmed.batches {
            self.summary.events_resent += self.send_capped(batch).await?;
        }
        self.confirmed = self.sealed;
        Ok(())
    }

    /// The run is over: flush, and say what Wazuh is known not to have kept.
    pub async fn finish(&mut self) -> Result<()> {
        let result = self.confirm_all().await.map(|_| ());
        if self.summary.events_lost > 0 {
            crate::log::warning(&format!(
                "{} AWS events were dropped by analysisd (its event queue was full) and could \
                 not be sent again; their objects were recorded. Raise \
                 analysisd.decode_event_queue_size or run with --max_eps.",
                self.summary.events_lost
            ));
        }
        result
    }
}
