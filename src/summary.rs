//! What a run did, for people: the totals line at the end and a progress line while it runs.
//!
//! wazuh-modulesd forwards every printed line to analysisd as an event, so neither is printed
//! under it: the totals are a `DEBUG:` line at level 1, and both go to stderr only when stderr
//! is a terminal (a person is watching; never under wazuh-modulesd or cron).

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Totals of a run.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub objects_listed: u64,
    pub objects_skipped: u64,
    pub objects_processed: u64,
    pub objects_failed: u64,
    pub events_sent: u64,
    pub events_discarded: u64,
    /// SQS messages of a subscriber run.
    pub messages_received: u64,
    pub messages_deleted: u64,
    pub messages_left: u64,
    /// Bytes downloaded by every job of the run.
    pub bytes_read: Arc<AtomicU64>,
    /// What Wazuh said about the events (a manager's analysisd; see `sink`).
    pub events_confirmed: u64,
    pub events_resent: u64,
    pub drops_seen: u64,
    pub events_lost: u64,
    pub checkpoints: u64,
    /// Time spent waiting for Wazuh to take events in (pacing, checkpoints).
    pub waited_on_wazuh: Duration,
}

impl Summary {
    fn megabytes(&self) -> f64 {
        self.bytes_read.load(Ordering::Relaxed) as f64 / 1e6
    }

    pub fn line(&self, seconds: f64) -> String {
        let messages = match self.messages_received {
            0 => String::new(),
            n => format!(
                "{n} messages received, {} deleted, {} left in the queue, ",
                self.messages_deleted, self.messages_left
            ),
        };
        let wazuh = match self.checkpoints {
            0 => String::new(),
            n => format!(
                ", {} confirmed by {n} checkpoints, {} sent again, {} AWS drops seen, {} lost",
                self.events_confirmed, self.events_resent, self.drops_seen, self.events_lost
            ),
        };
        messages
            + &format!(
            "Run summary: {} objects listed, {} skipped as processed, {} processed, {} failed, \
             {} events sent{wazuh}, {} events discarded, {:.1} MB read, {:.2} s waiting on \
             Wazuh, {seconds:.2} s",
            self.objects_listed,
            self.objects_skipped,
            self.objects_processed,
            self.objects_failed,
            self.events_sent,
            self.events_discarded,
            self.megabytes(),
            self.waited_on_wazuh.as_secs_f64(),
        )
    }

    /// The totals as a debug line, and on stderr when a person is watching.
    pub fn report(&self, seconds: f64) {
        let line = self.line(seconds);
        crate::debug!(1, "{line}");
        if std::io::stderr().is_terminal() {
            eprintln!("{line}");
        }
    }
}

/// A progress line on stderr for long runs by hand.
pub struct Progress {
    enabled: bool,
    last: Instant,
}

impl Default for Progress {
    fn default() -> Self {
        Progress {
            enabled: std::io::stderr().is_terminal(),
            last: Instant::now(),
        }
    }
}

impl Progress {
    pub fn tick(&mut self, s: &Summary) {
        if !self.enabled || self.last.elapsed() < Duration::from_secs(1) {
            return;
        }
        self.last = Instant::now();
        eprint!(
            "\r{} objects processed, {} skipped, {} events sent, {:.1} MB read ",
            s.objects_processed,
            s.objects_skipped,
            s.events_sent,
            s.megabytes()
        );
    }

    pub fn finish(&self) {
        if self.enabled {
            eprint!("\r\x1b[K");
        }
    }
}
