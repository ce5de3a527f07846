//! A stand-in for wazuh-analysisd's side of the queue, written from wazuh v4.14.7's source
//! (std only, so that `bench/` can build it with plain rustc):
//! - `src/analysisd/analysisd.c` `ad_input_main`: one input thread receives each datagram of
//!   `queue/sockets/queue` with `OS_RecvUnix` (`src/os_net/os_net.c`: `recvfrom` of at most
//!   `OS_MAXSTR - 1` = 65,535 bytes, so longer datagrams arrive cut), skips messages shorter
//!   than 4 bytes, and pushes a copy onto the event decode queue, or, when the queue is full,
//!   drops it and counts it by module (`Wazuh-AWS` and `aws-s3` count as `aws`);
//! - `src/shared/queue_op.c`: a `w_queue_t` of `size` slots holds `size - 1` messages;
//! - decoder threads take messages out at whatever rate the manager's cores give: here a set
//!   rate (0: as fast as they come);
//! - `asyscom.c`: `queue/sockets/analysis`, a stream socket, one request per connection, each
//!   way a 4-byte little-endian length then the text; `getstats` answers
//!   `data.metrics.queues.others.{size,usage}` (usage = messages / (size - 1)) and
//!   `data.metrics.events.received_breakdown.dropped_breakdown.modules_breakdown.aws`.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::os::unix::net::{UnixDatagram, UnixListener};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// `OS_MAXSTR`: analysisd's receive buffer; `recvfrom` reads one byte less.
pub const OS_MAXSTR: usize = 65536;

#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// `analysisd.decode_event_queue_size` (default 16384).
    pub queue_size: usize,
    /// Messages decoded per second; 0: no limit.
    pub decode_rate: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            queue_size: 16384,
            decode_rate: 0,
        }
    }
}

/// Where decoded messages go.
pub type Decoded = Arc<Mutex<Vec<Vec<u8>>>>;

#[derive(Default)]
struct Shared {
    queue: Mutex<VecDeque<Vec<u8>>>,
    decoded: Decoded,
    received: AtomicU64,
    aws_dropped: AtomicU64,
    other_dropped: AtomicU64,
    stats_requests: AtomicU64,
    /// Answer getstats (false: the socket is gone, as when analysisd stops).
    answering: AtomicBool,
    stop: AtomicBool,
}

pub struct Analysisd {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
    stats_path: PathBuf,
    queue_path: PathBuf,
    config: Config,
}

/// The module a message's location names, as `extract_module_from_message` and
/// `w_inc_dropped_by_component_events` count it.
fn is_aws(message: &[u8]) -> bool {
    let text = String::from_utf8_lossy(message);
    let mut parts = text.splitn(3, ':');
    let (Some(queue), Some(location)) = (parts.next(), parts.next()) else {
        return false;
    };
    queue == "1" && matches!(location, "Wazuh-AWS" | "aws-s3")
}

impl Analysisd {
    /// Bind `<sockets>/queue` and `<sockets>/analysis` and start the threads.
    pub fn start(sockets: &Path, config: Config) -> Analysisd {
        Self::start_into(sockets, config, Decoded::default())
    }

    /// The same, decoded messages appended to `decoded`.
    pub fn start_into(sockets: &Path, config: Config, decoded: Decoded) -> Analysisd {
        let shared = Arc::new(Shared {
            answering: AtomicBool::new(true),
            decoded,
            ..Default::default()
        });
        let queue_path = sockets.join("queue");
        let stats_path = sockets.join("analysis");
        let socket = UnixDatagram::bind(&queue_path).expect("bind the queue socket");
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let listener = UnixListener::bind(&stats_path).expect("bind the stats socket");
        listener.set_nonblocking(true).unwrap();
        let mut threads = Vec::new();
        let s = shared.clone();
        threads.push(std::thread::spawn(move || input(socket, s, config)));
        let s = shared.clone();
        threads.push(std::thread::spawn(move || decode(s, config)));
        let s = shared.clone();
        threads.push(std::thread::spawn(move || stats(listener, s, config)));
        Analysisd {
            shared,
            threads,
            stats_path,
            queue_path,
            config,
        }
    }

    /// Messages decoded so far (each a whole datagram), in order; then cleared.
    pub fn take_decoded(&self) -> Vec<Vec<u8>> {
        std::mem::take(&mut *self.shared.decoded.lock().unwrap())
    }

    pub fn decoded_count(&self) -> usize {
        self.shared.decoded.lock().unwrap().len()
    }

    pub fn received(&self) -> u64 {
        self.shared.received.load(Ordering::SeqCst)
    }

    pub fn aws_dropped(&self) -> u64 {
        self.shared.aws_dropped.load(Ordering::SeqCst)
    }

    pub fn other_dropped(&self) -> u64 {
        self.shared.other_dropped.load(Ordering::SeqCst)
    }

    pub fn stats_requests(&self) -> u64 {
        self.shared.stats_requests.load(Ordering::SeqCst)
    }

    pub fn queued(&self) -> usize {
        self.shared.queue.lock().unwrap().len()
    }

    /// Wait until every queued message was decoded (at most `limit`).
    pub fn wait_idle(&self, limit: Duration) {
        let started = Instant::now();
        while self.queued() > 0 && started.elapsed() < limit {
            std::thread::sleep(Duration::from_millis(10));
        }
        // The input thread may still hold one datagram read from the socket.
        std::thread::sleep(Duration::from_millis(100));
        while self.queued() > 0 && started.elapsed() < limit {
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The statistics socket goes away (analysisd keeps reading the queue).
    pub fn stop_answering(&self) {
        self.shared.answering.store(false, Ordering::SeqCst);
        let _ = std::fs::remove_file(&self.stats_path);
    }

    pub fn queue_path(&self) -> &Path {
        &self.queue_path
    }

    pub fn config(&self) -> Config {
        self.config
    }
}

impl Drop for Analysisd {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.queue_path);
        let _ = std::fs::remove_file(&self.stats_path);
    }
}

fn input(socket: UnixDatagram, shared: Arc<Shared>, config: Config) {
    let mut buffer = vec![0u8; OS_MAXSTR + 1];
    while !shared.stop.load(Ordering::SeqCst) {
        let n = match socket.recv(&mut buffer[..OS_MAXSTR - 1]) {
            Ok(n) => n,
            Err(_) => continue,
        };
        let message = &buffer[..n];
        if message.len() < 4 {
            continue;
        }
        shared.received.fetch_add(1, Ordering::SeqCst);
        let mut queue = shared.queue.lock().unwrap();
        if queue.len() < config.queue_size - 1 {
            queue.push_back(message.to_vec());
            continue;
        }
        drop(queue);
        match is_aws(message) {
            true => shared.aws_dropped.fetch_add(1, Ordering::SeqCst),
            false => shared.other_dropped.fetch_add(1, Ordering::SeqCst),
        };
    }
}

fn decode(shared: Arc<Shared>, config: Config) {
    let started = Instant::now();
    let mut done: u64 = 0;
    while !shared.stop.load(Ordering::SeqCst) {
        let allowed = match config.decode_rate {
            0 => u64::MAX,
            rate => ((started.elapsed().as_secs_f64() * rate as f64) as u64).saturating_sub(done),
        };
        let mut taken = Vec::new();
        {
            let mut queue = shared.queue.lock().unwrap();
            while (taken.len() as u64) < allowed {
                match queue.pop_front() {
                    Some(m) => taken.push(m),
                    None => break,
                }
            }
        }
        if taken.is_empty() {
            // A decoder that had nothing to do does not bank the time.
            if config.decode_rate > 0 {
                done = (started.elapsed().as_secs_f64() * config.decode_rate as f64) as u64;
            }
            std::thread::sleep(Duration::from_micros(500));
            continue;
        }
        done += taken.len() as u64;
        shared.decoded.lock().unwrap().extend(taken);
        std::thread::sleep(Duration::from_micros(500));
    }
}

fn stats(listener: UnixListener, shared: Arc<Shared>, config: Config) {
    while !shared.stop.load(Ordering::SeqCst) {
        let mut peer = match listener.accept() {
            Ok((peer, _)) => peer,
            Err(_) => {
                std::thread::sleep(Duration::from_micros(200));
                continue;
            }
        };
        if !shared.answering.load(Ordering::SeqCst) {
            continue; // closed without an answer
        }
        let _ = peer.set_nonblocking(false);
        let _ = peer.set_read_timeout(Some(Duration::from_secs(1)));
        let mut len = [0u8; 4];
        if peer.read_exact(&mut len).is_err() {
            continue;
        }
        let mut request = vec![0u8; u32::from_le_bytes(len) as usize];
        if peer.read_exact(&mut request).is_err() {
            continue;
        }
        shared.stats_requests.fetch_add(1, Ordering::SeqCst);
        let answer = if String::from_utf8_lossy(&request).contains("\"getstats\"") {
            let queued = shared.queue.lock().unwrap().len();
            let usage = queued as f64 / (config.queue_size - 1) as f64;
            format!(
                concat!(
                    r#"{{"error":0,"message":"ok","data":{{"uptime":1,"metrics":{{"#,
                    r#""queues":{{"alerts":{{"size":16384,"usage":0}},"others":{{"size":{},"usage":{}}}}},"#,
                    r#""events":{{"processed":0,"received":{},"received_breakdown":{{"#,
                    r#""dropped_breakdown":{{"agent":0,"modules_breakdown":{{"aws":{},"azure":0}}}}}}}}}}}}}}"#
                ),
                config.queue_size,
                usage,
                shared.received.load(Ordering::SeqCst),
                shared.aws_dropped.load(Ordering::SeqCst)
            )
        } else {
            r#"{"error":2,"message":"Unrecognized command","data":{}}"#.to_string()
        };
        let mut framed = (answer.len() as u32).to_le_bytes().to_vec();
        framed.extend_from_slice(answer.as_bytes());
        let _ = peer.write_all(&framed);
    }
}
