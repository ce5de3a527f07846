//! A stop asked for by a signal, for the runs that can end cleanly. A subscriber run holds SQS
//! messages invisible to every other collector; ended at once, it would leave them hidden
//! for the queue's visibility timeout. So on SIGTERM or SIGINT such a run is told to stop,
//! gives its messages back, and ends with the signal's exit code; other runs end at once
//! (their progress is committed per object already).

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::OnceLock;
use tokio::sync::Notify;

static GRACEFUL: AtomicBool = AtomicBool::new(false);
static REQUESTED: AtomicI32 = AtomicI32::new(0);

fn notify() -> &'static Notify {
    static NOTIFY: OnceLock<Notify> = OnceLock::new();
    NOTIFY.get_or_init(Notify::new)
}

/// While alive, a signal asks the run to stop instead of ending the process.
pub struct Graceful;

impl Graceful {
    pub fn register() -> Graceful {
        GRACEFUL.store(true, Ordering::SeqCst);
        Graceful
    }
}

impl Drop for Graceful {
    fn drop(&mut self) {
        GRACEFUL.store(false, Ordering::SeqCst);
    }
}

/// Ask the run to stop with `code`; false when no run can stop cleanly (end the process).
pub fn request(code: i32) -> bool {
    REQUESTED.store(code, Ordering::SeqCst);
    notify().notify_waiters();
    notify().notify_one();
    GRACEFUL.load(Ordering::SeqCst)
}

/// Resolves with the exit code once a stop was asked for.
pub async fn requested() -> i32 {
    loop {
        let code = REQUESTED.load(Ordering::SeqCst);
        if code != 0 {
            return code;
        }
        notify().notified().await;
    }
}
