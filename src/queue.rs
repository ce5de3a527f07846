//! The Wazuh analysis queue: a UNIX datagram socket owned by wazuh-analysisd.
//!
//! One socket is connected on the first message and kept for the run (the reference opens one
//! per message). Every event is one datagram, `1:Wazuh-AWS:` followed by its JSON. A full
//! receive queue makes us wait, never drop: losing an event silently is the one thing an
//! operator cannot see afterwards.

use crate::debug;
use crate::exit::{code, fail};
use crate::json::Value;
use anyhow::Result;
use std::io::{ErrorKind, Write};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const HEADER: &str = "1:Wazuh-AWS:";
/// analysisd's limit (its `recvfrom` reads at most this much of a datagram); events built
/// here are shrunk to fit it (D14).
pub const MAX_EVENT_SIZE: usize = 65535;

const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// An error from the socket that is not one of the known states below: exit 13.
fn send_error(e: std::io::Error) -> anyhow::Error {
    fail(
        code::WAZUH_SEND,
        format!("Error sending message to wazuh: {e}"),
    )
}

pub struct Queue {
    path: PathBuf,
    socket: Option<UnixDatagram>,
}

impl Queue {
    pub fn new(path: &Path) -> Self {
        Queue {
            path: path.to_path_buf(),
            socket: None,
        }
    }

    fn connect(&self) -> Result<UnixDatagram> {
        let socket = UnixDatagram::unbound().map_err(send_error)?;
        match socket.connect(&self.path) {
            Ok(()) => Ok(socket),
            Err(e) if matches!(e.kind(), ErrorKind::ConnectionRefused | ErrorKind::NotFound) => {
                debug!(1, "+++ Cannot connect to {}: {e}", self.path.display());
                Err(fail(code::WAZUH_CONNECT, "Wazuh must be running."))
            }
            Err(e) => Err(send_error(e)),
        }
    }

    /// Send one event. Returns whether it was sent (false: too large for the socket, skipped).
    #[cfg(test)]
    pub fn send(&mut self, json: &str) -> Result<bool> {
        let mut one = Datagrams::default();
        one.push_text(json);
        let all: Vec<&[u8]> = one.iter().collect();
        Ok(self.send_all(&all)? == 1)
    }

    /// Bytes we sent that the reader has not taken yet (Linux `SIOCOUTQ`: a datagram stays
    /// charged to its sender until it is received).
    pub fn unread_bytes(&self) -> std::io::Result<usize> {
        let Some(socket) = &self.socket else {
            return Ok(0);
        };
        unread_bytes(socket)
    }

    /// Send the datagrams, in order. Returns how many were sent (the others were too large
    /// for the socket and skipped).
    pub fn send_all(&mut self, all: &[&[u8]]) -> Result<u64> {
        for _ in all.iter().filter(|d| d.len() > MAX_EVENT_SIZE) {
            debug!(
                1,
                "Event size exceeds the maximum allowed limit of {MAX_EVENT_SIZE} bytes."
            );
        }
        let mut next = 0;
        let mut sent = 0;
        let mut retry = Retry::default();
        while next < all.len() {
            if self.socket.is_none() {
                self.socket = Some(self.connect()?);
            }
            let socket = self.socket.as_ref().expect("connected above");
            let window = &all[next..all.len().min(next + SEND_WINDOW)];
            match send_many(socket, window) {
                Ok(n) => {
                    next += n;
                    sent += n as u64;
                    retry.backoff = FIRST_BACKOFF;
                }
                // The error is about `all[next]`, the first datagram the kernel did not take.
                Err(e) => {
                    if self.recover(e, &mut retry)? == Recovery::SkipOne {
                        next += 1;
                    }
                }
            }
        }
        Ok(sent)
    }

    /// What a refused send means: skip that datagram, wait and try again, reconnect once, or
    /// end the run.
    fn recover(&mut self, e: std::io::Error, retry: &mut Retry) -> Result<Recovery> {
        let refused = matches!(
            e.kind(),
            ErrorKind::ConnectionRefused | ErrorKind::NotConnected
        );
        match e {
            e if e.raw_os_error() == Some(libc::EMSGSIZE) => {
                crate::log::error("Message too long to send to Wazuh.  Skipping message...");
                debug!(
                    1,
                    "+++ ERROR: Message longer than buffer socket for Wazuh. Consider increasing rmem_max. Skipping message..."
                );
                Ok(Recovery::SkipOne)
            }
            e if e.raw_os_error() == Some(libc::ENOBUFS)
                || matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) =>
            {
                // analysisd is behind: wait for room rather than drop the event.
                std::thread::sleep(retry.backoff);
                retry.backoff = (retry.backoff * 2).min(MAX_BACKOFF);
                Ok(Recovery::Retry)
            }
            _ if refused && !retry.reconnected => {
                // analysisd restarted and bound a new socket: connect to it once more.
                self.socket = None;
                retry.reconnected = true;
                Ok(Recovery::Retry)
            }
            e if refused => {
                debug!(1, "+++ Send failed: {e}");
                Err(fail(code::WAZUH_CONNECT, "Wazuh must be running."))
            }
            e => Err(send_error(e)),
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Recovery {
    SkipOne,
    Retry,
}

struct Retry {
    backoff: Duration,
    reconnected: bool,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            backoff: FIRST_BACKOFF,
            reconnected: false,
        }
    }
}

const FIRST_BACKOFF: Duration = Duration::from_millis(5);

/// Datagrams handed to the kernel by one `sendmmsg` call.
const SEND_WINDOW: usize = 64;

/// Send the datagrams in order; returns how many the kernel took (at least one), or the
/// error of the first one. One system call for many events: the sender is not switched out
/// for the reader after every event.
#[cfg(target_os = "linux")]
fn send_many(socket: &UnixDatagram, datagrams: &[&[u8]]) -> std::io::Result<usize> {
    use std::os::fd::AsRawFd;
    let mut iovecs: Vec<libc::iovec> = datagrams
        .iter()
        .map(|d| libc::iovec {
            iov_base: d.as_ptr() as *mut libc::c_void,
            iov_len: d.len(),
        })
        .collect();
    let mut headers: Vec<libc::mmsghdr> = iovecs
        .iter_mut()
        .map(|iov| {
            // SAFETY: mmsghdr is plain data; all-zero is a valid empty header.
            let mut h: libc::mmsghdr = unsafe { std::mem::zeroed() };
            h.msg_hdr.msg_iov = iov;
            h.msg_hdr.msg_iovlen = 1;
            h
        })
        .collect();
    // SAFETY: every header points at one iovec that lives in `iovecs`, and every iovec at a
    // slice borrowed for this call; the kernel only reads them.
    let n = unsafe {
        libc::sendmmsg(
            socket.as_raw_fd(),
            headers.as_mut_ptr(),
            headers.len() as libc::c_uint,
            0,
        )
    };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(n as usize)
}

#[cfg(target_os = "linux")]
fn unread_bytes(socket: &UnixDatagram) -> std::io::Result<usize> {
    use std::os::fd::AsRawFd;
    let mut n: libc::c_int = 0;
    // SAFETY: SIOCOUTQ writes one int through the pointer, which points at `n`.
    let r = unsafe { libc::ioctl(socket.as_raw_fd(), libc::TIOCOUTQ, &mut n) };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(n.max(0) as usize)
}

#[cfg(not(target_os = "linux"))]
fn unread_bytes(_socket: &UnixDatagram) -> std::io::Result<usize> {
    Err(std::io::Error::other("SIOCOUTQ is Linux only"))
}

#[cfg(not(target_os = "linux"))]
fn send_many(socket: &UnixDatagram, datagrams: &[&[u8]]) -> std::io::Result<usize> {
    socket.send(datagrams[0]).map(|_| 1)
}

/// Whole datagrams (`1:Wazuh-AWS:` and an event's JSON) back to back in one buffer: a batch of
/// events costs two allocations instead of one per event.
#[derive(Default)]
pub struct Datagrams {
    buf: Vec<u8>,
    ends: Vec<usize>,
}

impl Datagrams {
    /// One event: the header and the value's compact JSON, written straight into the batch.
    /// An event whose datagram would pass [`MAX_EVENT_SIZE`] is shrunk to fit
    /// ([`crate::shrink`]); the paths cut are returned, for the caller's debug line.
    pub fn push_value(&mut self, value: &Value) -> Option<Vec<String>> {
        let start = self.buf.len();
        self.buf.extend_from_slice(HEADER.as_bytes());
        crate::json::write_value(&mut self.buf, value);
        if self.buf.len() - start <= MAX_EVENT_SIZE {
            self.ends.push(self.buf.len());
            return None;
        }
        self.buf.truncate(start);
        let (shrunk, cut) = crate::shrink::to_fit(value, MAX_EVENT_SIZE - HEADER.len());
        self.buf.extend_from_slice(HEADER.as_bytes());
        crate::json::write_value(&mut self.buf, &shrunk);
        self.ends.push(self.buf.len());
        Some(cut)
    }

    /// A message sent as it is (CloudWatch Logs) unless it would pass [`MAX_EVENT_SIZE`]:
    /// then a JSON object is shrunk as [`Datagrams::push_value`] does, other text cut to fit
    /// with a marker. The paths cut are returned (`""` for cut text).
    pub fn push_message(&mut self, text: &str) -> Option<Vec<String>> {
        if HEADER.len() + text.len() <= MAX_EVENT_SIZE {
            self.push_text(text);
            return None;
        }
        if let Ok(value @ Value::Object(_)) = serde_json::from_str::<Value>(text) {
            return self.push_value(&value);
        }
        let marker = format!("...[cut by aws-s3: {} bytes]", text.len());
        let mut end = MAX_EVENT_SIZE - HEADER.len() - marker.len();
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        self.push_text(&format!("{}{marker}", &text[..end]));
        Some(vec![String::new()])
    }

    /// Append `1:Wazuh-AWS:` and `text` as it is (CloudWatch messages are sent verbatim).
    pub fn push_text(&mut self, text: &str) {
        self.buf.extend_from_slice(HEADER.as_bytes());
        self.buf.extend_from_slice(text.as_bytes());
        self.ends.push(self.buf.len());
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Bytes of all datagrams together.
    pub fn bytes(&self) -> usize {
        self.buf.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts.zip(self.ends.iter()).map(|(s, &e)| &self.buf[s..e])
    }

    /// The datagrams as text (serde_json writes UTF-8 only).
    pub fn iter_str(&self) -> impl Iterator<Item = &str> + '_ {
        self.iter()
            .map(|d| std::str::from_utf8(d).unwrap_or("<not UTF-8>"))
    }
}

fn output_error(e: std::io::Error) -> anyhow::Error {
    fail(
        code::WAZUH_SEND,
        format!("Error writing the --output file: {e}"),
    )
}

/// Where messages go: the Wazuh queue socket, or lines in a file or on stdout (`--output`).
pub enum Output {
    Socket(Queue),
    Lines(Box<dyn std::io::Write + Send>),
}

/// What `--output` names, for lines: stdout for `-`, else the file, appended to.
pub fn open_output(path: &Path) -> Result<Box<dyn Write + Send>> {
    if path == Path::new("-") {
        return Ok(Box::new(std::io::stdout()));
    }
    use std::os::unix::fs::OpenOptionsExt;
    // The messages are the logs themselves: for the owner only, and never written through a
    // link planted where the file should be.
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| {
            fail(
                code::WAZUH_SEND,
                format!("Cannot open --output file {}: {e}", path.display()),
            )
        })?;
    Ok(Box::new(std::io::BufWriter::new(file)))
}

impl Output {
    /// The file (or stdout for `-`) that `--output` names.
    pub fn to_path(path: &Path) -> Result<Output> {
        Ok(Output::Lines(open_output(path)?))
    }

    /// Send the datagrams in order. Returns how many were sent (the others were too large
    /// for the socket and skipped).
    pub fn send_all(&mut self, datagrams: &[&[u8]]) -> Result<u64> {
        match self {
            Output::Socket(q) => q.send_all(datagrams),
            Output::Lines(w) => {
                for d in datagrams {
                    w.write_all(d)
                        .and_then(|()| w.write_all(b"\n"))
                        .map_err(output_error)?;
                }
                Ok(datagrams.len() as u64)
            }
        }
    }

    /// Wait until the reader has taken every datagram we sent; the time waited is added to
    /// `waited`. A file is drained once flushed.
    pub async fn drained(&mut self, waited: &mut Duration) -> std::result::Result<(), String> {
        let Output::Socket(q) = self else {
            return Ok(());
        };
        let started = std::time::Instant::now();
        let mut pause = Duration::from_micros(50);
        loop {
            match q.unread_bytes() {
                Ok(0) => break,
                Ok(_) => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(5));
                }
                Err(e) => return Err(format!("cannot read the queue socket's unread bytes: {e}")),
            }
        }
        // The reader counts a drop just after it took the datagram: leave it that moment.
        tokio::time::sleep(Duration::from_micros(200)).await;
        *waited += started.elapsed();
        Ok(())
    }

    pub fn flush(&mut self) -> Result<()> {
        if let Output::Lines(w) = self {
            w.flush().map_err(output_error)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bound socket standing in for analysisd's, and a queue to it.
    fn bound_queue() -> (tempfile::TempDir, UnixDatagram, Queue) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("queue");
        let reader = UnixDatagram::bind(&path).unwrap();
        let q = Queue::new(&path);
        (dir, reader, q)
    }

    #[test]
    fn the_limit_is_exact_and_includes_the_header() {
        // {"a":"xxx"}: 8 bytes of JSON around the string.
        let fits = |n: usize| crate::json!({ "a": "x".repeat(n) });
        let exact = MAX_EVENT_SIZE - HEADER.len() - 8;
        let mut batch = Datagrams::default();
        assert_eq!(batch.push_value(&fits(exact)), None);
        assert_eq!(batch.iter().next().unwrap().len(), MAX_EVENT_SIZE);
        let cut = batch
            .push_value(&fits(exact + 1))
            .expect("one byte over: shrunk");
        assert_eq!(cut, ["a"]);
        let second = batch.iter().nth(1).unwrap();
        assert!(second.len() <= MAX_EVENT_SIZE);
        assert!(std::str::from_utf8(second)
            .unwrap()
            .contains("\"aws_s3_cut\":[\"a\"]"));
        // A VPC flow row is far below the limit: sent as it is.
        let row = crate::json!({"integration": "aws", "aws": {"version": 2, "account_id": "111122223333",
            "interface_id": "eni-1", "srcaddr": "10.0.0.1", "dstaddr": "10.0.0.2", "action": "ACCEPT"}});
        assert_eq!(batch.push_value(&row), None);
        // CloudWatch text: JSON objects are shrunk, other text cut with a marker.
        let text = "t".repeat(100_000);
        assert_eq!(batch.push_message(&text), Some(vec![String::new()]));
        let last = batch.iter().last().unwrap();
        assert!(last.len() <= MAX_EVENT_SIZE && last.ends_with(b"[cut by aws-s3: 100000 bytes]"));
        assert_eq!(batch.push_message("plain"), None);
    }

    #[test]
    fn sends_header_and_json() {
        let (_dir, reader, mut q) = bound_queue();
        assert!(q.send(r#"{"a":1}"#).unwrap());
        let mut buf = vec![0u8; 1024];
        let n = reader.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], br#"1:Wazuh-AWS:{"a":1}"#);
    }

    #[test]
    fn output_file_gets_one_line_per_message() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        let mut out = Output::to_path(&path).unwrap();
        let mut batch = Datagrams::default();
        batch.push_value(&crate::json!({"a": 1}));
        batch.push_text(r#"{"b":2}"#);
        let all: Vec<&[u8]> = batch.iter().collect();
        assert_eq!(out.send_all(&all).unwrap(), 2);
        out.flush().unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "1:Wazuh-AWS:{\"a\":1}\n1:Wazuh-AWS:{\"b\":2}\n"
        );
    }

    #[test]
    fn missing_socket_is_exit_11() {
        let dir = tempfile::tempdir().unwrap();
        let mut q = Queue::new(&dir.path().join("none"));
        let err = q.send("{}").unwrap_err();
        assert_eq!(crate::exit::report(&err), code::WAZUH_CONNECT);
    }

    #[test]
    fn oversized_datagram_is_skipped_not_fatal() {
        let (_dir, reader, mut q) = bound_queue();
        let huge = format!("\"{}\"", "x".repeat(8 * 1024 * 1024));
        assert!(!q.send(&huge).unwrap());
        assert!(q.send("{}").unwrap());
        let mut buf = vec![0u8; 1024];
        let n = reader.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"1:Wazuh-AWS:{}");
    }

    #[test]
    fn a_batch_keeps_its_order_and_skips_only_the_oversized_one() {
        let (_dir, reader, mut q) = bound_queue();
        let mut batch = Datagrams::default();
        batch.push_value(&crate::json!({"n": 1}));
        batch.push_text(&format!("\"{}\"", "x".repeat(8 * 1024 * 1024)));
        batch.push_value(&crate::json!({"n": 2}));
        assert_eq!(batch.len(), 3);
        let all: Vec<&[u8]> = batch.iter().collect();
        assert_eq!(q.send_all(&all).unwrap(), 2);
        let mut buf = vec![0u8; 1024];
        let n = reader.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], br#"1:Wazuh-AWS:{"n":1}"#);
        let n = reader.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], br#"1:Wazuh-AWS:{"n":2}"#);
    }

    #[test]
    fn more_datagrams_than_one_system_call_takes_all_arrive_in_order() {
        let (_dir, reader, mut q) = bound_queue();
        let mut batch = Datagrams::default();
        let total = SEND_WINDOW * 3 + 5;
        for n in 0..total {
            batch.push_value(&crate::json!({ "n": n }));
        }
        // The reader's queue holds few datagrams: the sender must wait for it, not drop.
        let receiving = std::thread::spawn(move || {
            let mut buf = vec![0u8; 1024];
            (0..total)
                .map(|_| {
                    let n = reader.recv(&mut buf).unwrap();
                    String::from_utf8(buf[..n].to_vec()).unwrap()
                })
                .collect::<Vec<_>>()
        });
        let all: Vec<&[u8]> = batch.iter().collect();
        assert_eq!(q.send_all(&all).unwrap(), total as u64);
        let got = receiving.join().unwrap();
        let want: Vec<String> = (0..total)
            .map(|n| format!("1:Wazuh-AWS:{{\"n\":{n}}}"))
            .collect();
        assert_eq!(got, want);
    }
}
