//! Which jobs may parse now.
//!
//! Many objects are requested at once so that S3's latency is hidden, but an object that has
//! been parsed waits, with its messages, until every object started before it was delivered.
//! Parsing far ahead of the sink therefore buys nothing and holds memory: a document and up to
//! a few batches per object. So a job whose response has arrived parses only when fewer than
//! `width` unfinished jobs were started before it. The others wait with their bodies unread,
//! in the kernel's socket buffers and not in ours. The oldest job is always inside the window,
//! so waiting never blocks delivery.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

pub struct ParseWindow {
    width: u64,
    tickets: Mutex<Tickets>,
    /// The oldest unfinished ticket (or the next to be issued when none is unfinished).
    front: watch::Sender<u64>,
}

#[derive(Default)]
struct Tickets {
    next: u64,
    open: BTreeSet<u64>,
}

/// A job's place in start order; the window moves on when it is dropped, which the sink does
/// once the job was delivered (or the run gave it up).
pub struct Ticket {
    window: Arc<ParseWindow>,
    number: u64,
}

impl ParseWindow {
    pub fn new(width: usize) -> Arc<ParseWindow> {
        Arc::new(ParseWindow {
            width: width.max(1) as u64,
            tickets: Mutex::new(Tickets::default()),
            front: watch::Sender::new(0),
        })
    }

    /// Enough parsing ahead to keep every core busy while the sink sends.
    pub fn for_this_machine() -> Arc<ParseWindow> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        // Measured (bench scenario 1, 2 cores): 4 per core is as fast as no window at all;
        // 2 per core is 15% slower; each further object parsed ahead holds ~1.5 MiB.
        ParseWindow::new(cores * 4)
    }

    /// The next place; jobs must be delivered in the order their tickets were issued.
    pub fn ticket(self: &Arc<Self>) -> Ticket {
        let mut tickets = self.tickets.lock().unwrap_or_else(|e| e.into_inner());
        let number = tickets.next;
        tickets.next += 1;
        tickets.open.insert(number);
        Ticket {
            window: self.clone(),
            number,
        }
    }

    /// Wait until the job of `number` may parse.
    pub async fn wait_turn(&self, number: u64) {
        let mut front = self.front.subscribe();
        // The sender lives as long as `self`: the wait cannot fail.
        let _ = front.wait_for(|front| number < front + self.width).await;
    }
}

impl Ticket {
    pub fn number(&self) -> u64 {
        self.number
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut tickets = self
            .window
            .tickets
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        tickets.open.remove(&self.number);
        let front = tickets.open.first().copied().unwrap_or(tickets.next);
        self.window.front.send_if_modified(|f| {
            let moved = *f != front;
            *f = front;
            moved
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    async fn admitted(window: &Arc<ParseWindow>, number: u64) -> bool {
        tokio::time::timeout(Duration::from_millis(20), window.wait_turn(number))
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn only_the_oldest_width_jobs_parse_and_the_window_follows_delivery() {
        let window = ParseWindow::new(2);
        let mut tickets: Vec<Ticket> = (0..5).map(|_| window.ticket()).collect();
        assert!(admitted(&window, 0).await);
        assert!(admitted(&window, 1).await);
        assert!(!admitted(&window, 2).await);
        // A later job given up first does not move the window...
        drop(tickets.remove(3));
        assert!(!admitted(&window, 2).await);
        // ...the oldest being delivered does, past the one given up.
        drop(tickets.remove(0));
        assert!(admitted(&window, 2).await);
        drop(tickets.remove(0));
        drop(tickets.remove(0));
        assert!(admitted(&window, 4).await);
        assert!(admitted(&window, 5).await);
        assert!(!admitted(&window, 6).await);
    }

    #[tokio::test]
    async fn a_waiting_job_starts_when_the_front_is_delivered() {
        let window = ParseWindow::new(1);
        let first = window.ticket();
        let second = window.ticket();
        let waiting = tokio::spawn({
            let window = window.clone();
            let number = second.number();
            async move { window.wait_turn(number).await }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(!waiting.is_finished());
        drop(first);
        tokio::time::timeout(Duration::from_secs(1), waiting)
            .await
            .expect("admitted once the front was delivered")
            .unwrap();
    }
}
