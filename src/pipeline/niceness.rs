//! Parsing yields to sending.
//!
//! The sink is the one serial step of a run: it hands every event to analysisd's queue
//! socket, which holds only a few datagrams (`net.unix.max_dgram_qlen`, 10 by default), so
//! each send waits for analysisd to read. Parsing, on the other hand, runs ahead of the sink
//! (see `window`). When the parsing threads took the CPU from the sink or from analysisd,
//! the queue stood empty or full and the whole run waited. Measured on two cores (bench
//! scenario 1, medians of 25 alternating runs): parsing threads 5 nice levels below the rest
//! made the run 4-6% shorter for the same CPU time. On a busy manager it also leaves
//! analysisd and wazuh-db the CPU first.

/// Nice levels a parsing thread is lowered by.
const LOWER_BY: i32 = 5;

thread_local! {
    static LOWERED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Lower the calling thread's priority, once per thread (the blocking pool reuses them).
pub fn lower_this_thread() {
    if LOWERED.replace(true) {
        return;
    }
    lower();
}

#[cfg(target_os = "linux")]
fn lower() {
    // Linux keeps the nice value per thread, and nice(2) changes the caller's only. Lowering
    // needs no privilege; if it fails anyway the run goes on at the same priority.
    // SAFETY: nice(2) takes an int and touches nothing of ours.
    unsafe {
        libc::nice(LOWER_BY);
    }
}

#[cfg(not(target_os = "linux"))]
fn lower() {}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn nice_of_this_thread() -> i32 {
        // SAFETY: getpriority reads the caller's nice value (who 0: the calling thread).
        unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) }
    }

    #[test]
    fn only_the_calling_thread_is_lowered_and_only_once() {
        let before = nice_of_this_thread();
        let lowered = std::thread::spawn(|| {
            let start = nice_of_this_thread();
            lower_this_thread();
            lower_this_thread();
            (start, nice_of_this_thread())
        })
        .join()
        .unwrap();
        assert_eq!(lowered.1, (lowered.0 + LOWER_BY).min(19));
        assert_eq!(nice_of_this_thread(), before);
    }
}
