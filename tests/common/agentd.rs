//! A stand-in for wazuh-agentd 4.x's side of the queue, written from wazuh v4.14.7's source:
//! - `src/client-agent/event-forward.c`: the queue socket is read as fast as messages come,
//!   each one handed to `buffer_append`;
//! - `src/client-agent/buffer.c`: a ring of `queue_size + 1` slots that holds `queue_size`
//!   messages; `buffer_append` drops a message when the ring is full (no counter, a debug
//!   line); `dispatch_buffer` sends one message to the manager every 1/`events_per_second`
//!   seconds;
//! - `src/client-agent/state.c`: `var/run/wazuh-agentd.state` rewritten every 5 s with
//!   `msg_buffer`, the messages in the ring.
//!
//! The drop count here is the test's own: agentd keeps none.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
pub struct Config {
    pub queue_size: usize,
    pub events_per_second: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            queue_size: 5000,
            events_per_second: 500,
        }
    }
}

#[derive(Default)]
struct Shared {
    ring: Mutex<VecDeque<Vec<u8>>>,
    forwarded: Mutex<Vec<Vec<u8>>>,
    dropped: AtomicU64,
    stop: AtomicBool,
}

pub struct Agentd {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
    queue_path: PathBuf,
}

impl Agentd {
    /// Write the `<client_buffer>` of `<root>/etc/ossec.conf`, bind the queue socket and
    /// start reading, forwarding and writing the state file.
    pub fn start(root: &Path, config: Config) -> Agentd {
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::create_dir_all(root.join("var/run")).unwrap();
        std::fs::write(
            root.join("etc/ossec.conf"),
            format!(
                "<ossec_config>\n  <client_buffer>\n    <disabled>no</disabled>\n    \
                 <queue_size>{}</queue_size>\n    <events_per_second>{}</events_per_second>\n  \
                 </client_buffer>\n</ossec_config>\n",
                config.queue_size, config.events_per_second
            ),
        )
        .unwrap();
        let queue_path = root.join("queue/sockets/queue");
        let socket = UnixDatagram::bind(&queue_path).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let shared = Arc::new(Shared::default());
        let mut threads = Vec::new();
        let s = shared.clone();
        threads.push(std::thread::spawn(move || read(socket, s, config)));
        let s = shared.clone();
        threads.push(std::thread::spawn(move || dispatch(s, config)));
        let s = shared.clone();
        let state = root.join("var/run/wazuh-agentd.state");
        threads.push(std::thread::spawn(move || write_state(s, state)));
        Agentd {
            shared,
            threads,
            queue_path,
        }
    }

    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::SeqCst)
    }

    pub fn buffered(&self) -> usize {
        self.shared.ring.lock().unwrap().len()
    }

    /// Messages sent on to the manager so far, and those still in the ring.
    pub fn all_kept(&self) -> Vec<Vec<u8>> {
        let ring = self.shared.ring.lock().unwrap();
        let mut kept = self.shared.forwarded.lock().unwrap().clone();
        kept.extend(ring.iter().cloned());
        kept
    }
}

impl Drop for Agentd {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.queue_path);
    }
}

fn read(socket: UnixDatagram, shared: Arc<Shared>, config: Config) {
    let mut buffer = vec![0u8; 65536];
    while !shared.stop.load(Ordering::SeqCst) {
        let Ok(n) = socket.recv(&mut buffer) else {
            continue;
        };
        let mut ring = shared.ring.lock().unwrap();
        if ring.len() >= config.queue_size {
            shared.dropped.fetch_add(1, Ordering::SeqCst);
            continue;
        }
        ring.push_back(buffer[..n].to_vec());
    }
}

fn dispatch(shared: Arc<Shared>, config: Config) {
    let interval = Duration::from_secs_f64(1.0 / config.events_per_second as f64);
    let mut next = Instant::now();
    while !shared.stop.load(Ordering::SeqCst) {
        let sent = {
            let mut ring = shared.ring.lock().unwrap();
            match ring.pop_front() {
                Some(m) => {
                    shared.forwarded.lock().unwrap().push(m);
                    true
                }
                None => false,
            }
        };
        match sent {
            true => {
                next += interval;
                if let Some(wait) = next.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
            }
            false => {
                std::thread::sleep(Duration::from_millis(1));
                next = Instant::now();
            }
        }
    }
}

fn write_state(shared: Arc<Shared>, path: PathBuf) {
    let mut last = Instant::now() - Duration::from_secs(10);
    while !shared.stop.load(Ordering::SeqCst) {
        if last.elapsed() >= Duration::from_secs(5) {
            let buffered = shared.ring.lock().unwrap().len();
            let text = format!(
                "# State file for wazuh-agentd\nstatus='connected'\nmsg_count='0'\nmsg_sent='0'\n\
                 # Number of events currently buffered\nmsg_buffer='{buffered}'\n"
            );
            let tmp = path.with_extension("tmp");
            if std::fs::write(&tmp, text).is_ok() {
                let _ = std::fs::rename(&tmp, &path);
            }
            last = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
