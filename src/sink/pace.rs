//! How fast messages may leave: a rate cap (an agent's `events_per_second`, `--max_eps`) and,
//! on a manager, room in analysisd's decode queue. Each answers "how many of these may go
//! now", or how long to wait before asking again; neither sleeps itself.

use crate::wazuh::analysisd::Stats;
use std::time::{Duration, Instant};

/// At most `rate` messages a second, at most `burst` at once.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A bucket that starts with `initial` tokens (at most `burst`).
    pub fn new(rate: f64, burst: f64, initial: f64) -> Self {
        let burst = burst.max(1.0);
        TokenBucket {
            rate: rate.max(0.001),
            burst,
            tokens: initial.clamp(0.0, burst),
            last: Instant::now(),
        }
    }

    fn refill(&mut self) {
        let now = Instant::now();
        let elapsed = now.duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.last = now;
    }

    /// Whole messages that may go now.
    pub fn available(&mut self) -> u64 {
        self.refill();
        self.tokens.floor() as u64
    }

    pub fn consume(&mut self, n: u64) {
        self.tokens -= n as f64;
    }

    /// How long until one message may go.
    pub fn until_one(&self) -> Duration {
        Duration::from_secs_f64(((1.0 - self.tokens) / self.rate).max(0.0))
    }
}

/// The share of analysisd's decode queue we fill at most, at first.
pub const QUEUE_TARGET: f64 = 0.5;
/// After drops the target halves, down to this.
const MIN_TARGET: f64 = 1.0 / 512.0;
/// With no room, ask again after at least this...
const MIN_WAIT: Duration = Duration::from_millis(1);
/// ...and at most this.
const MAX_WAIT: Duration = Duration::from_millis(50);

/// Room we leave ourselves in analysisd's decode queue: messages may go while the queue holds
/// less than `target` of its capacity. Full speed while analysisd keeps up (one reading gives
/// room for thousands of messages); otherwise we wait about as long as analysisd needs to
/// decode what stands above the target.
#[derive(Debug)]
pub struct QueueRoom {
    target: f64,
    credit: u64,
    /// The last reading, when it was taken and what we sent since.
    last: Option<(Instant, Stats, u64)>,
    /// Messages analysisd takes out of the queue per second, as seen between two readings.
    decode_rate: Option<f64>,
}

impl Default for QueueRoom {
    fn default() -> Self {
        QueueRoom {
            target: QUEUE_TARGET,
            credit: 0,
            last: None,
            decode_rate: None,
        }
    }
}

impl QueueRoom {
    /// A new reading: the room left under the target, less what we may still have in the
    /// socket (a reading at a checkpoint sees none).
    pub fn observe(&mut self, stats: Stats) {
        let now = Instant::now();
        if let Some((when, before, sent)) = self.last {
            let seconds = now.duration_since(when).as_secs_f64();
            let taken = (before.queued + sent).saturating_sub(stats.queued) as f64;
            if seconds > 0.002 && taken > 0.0 {
                self.decode_rate = Some(taken / seconds);
            }
        }
        self.last = Some((now, stats, 0));
        let allowed = (stats.capacity() as f64 * self.target) as u64;
        self.credit = allowed.saturating_sub(stats.queued);
    }

    /// How many of `want` may go now (then counted as sent); 0: ask analysisd again.
    pub fn take(&mut self, want: u64) -> u64 {
        let n = self.credit.min(want);
        self.credit -= n;
        if let Some((_, _, sent)) = &mut self.last {
            *sent += n;
        }
        n
    }

    /// How long to wait before the next reading when there was no room: about the time
    /// analysisd needs to bring the queue an eighth of its size below the target.
    pub fn wait(&self) -> Duration {
        let Some((_, stats, _)) = self.last else {
            return MIN_WAIT;
        };
        let capacity = stats.capacity() as f64;
        let goal = capacity * self.target - capacity / 8.0;
        let excess = (stats.queued as f64 - goal.max(0.0)).max(1.0);
        match self.decode_rate {
            Some(rate) => Duration::from_secs_f64(excess / rate).clamp(MIN_WAIT, MAX_WAIT),
            None => MIN_WAIT * 5,
        }
    }

    /// analysisd dropped AWS messages: fill less of its queue from now on.
    pub fn slow_down(&mut self) {
        self.target = (self.target / 2.0).max(MIN_TARGET);
        self.credit = 0;
    }

    /// A checkpoint found nothing dropped: take back some of what a slow-down gave up.
    pub fn recover(&mut self) {
        self.target = (self.target * 1.25).min(QUEUE_TARGET);
    }

    pub fn target(&self) -> f64 {
        self.target
    }

    /// Messages analysisd took out of its queue per second between the last two readings
    /// (a lower bound when the queue stayed empty: then it is our own rate).
    pub fn decode_rate(&self) -> Option<f64> {
        self.decode_rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(queued: u64) -> Stats {
        Stats {
            queue_size: 16384,
            queued,
            aws_dropped: 0,
        }
    }

    #[test]
    fn a_bucket_gives_its_burst_then_its_rate() {
        let mut b = TokenBucket::new(1000.0, 100.0, 100.0);
        assert_eq!(b.available(), 100);
        b.consume(100);
        assert!(
            b.until_one() <= Duration::from_millis(2),
            "{:?}",
            b.until_one()
        );
        std::thread::sleep(Duration::from_millis(20));
        let n = b.available();
        assert!((15..=40).contains(&n), "{n}");
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(b.available(), 100, "never more than the burst");
        let mut empty = TokenBucket::new(10.0, 5.0, 0.0);
        assert_eq!(empty.available(), 0);
        assert!(empty.until_one() >= Duration::from_millis(90));
    }

    #[test]
    fn room_is_the_target_less_what_is_queued() {
        let mut room = QueueRoom::default();
        assert_eq!(room.take(10), 0, "nothing before a reading");
        room.observe(stats(0));
        assert_eq!(room.take(100_000), 8191);
        assert_eq!(room.take(1), 0);
        room.observe(stats(8000));
        assert_eq!(room.take(1000), 191);
        room.observe(stats(12000));
        assert_eq!(room.take(1), 0);
        room.slow_down();
        room.observe(stats(3000));
        assert_eq!(room.take(100_000), 4095 - 3000);
        room.recover();
        assert!(room.target() > 0.25 && room.target() <= QUEUE_TARGET);
    }

    #[test]
    fn the_wait_follows_the_decode_rate() {
        let mut room = QueueRoom::default();
        room.observe(stats(16000));
        assert_eq!(room.wait(), MIN_WAIT * 5, "no rate seen yet");
        std::thread::sleep(Duration::from_millis(100));
        // 1,000 taken out in ~0.1 s: ~10,000 a second.
        room.observe(stats(15000));
        let wait = room.wait();
        assert_eq!(
            wait, MAX_WAIT,
            "{wait:?}: 8,000 above the goal at 10,000/s is 0.8 s, capped"
        );
        room.observe(stats(6500));
        assert!(room.wait() <= MAX_WAIT);
    }
}
