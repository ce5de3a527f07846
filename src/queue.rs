//! The Wazuh analysis queue: a UNIX datagram socket owned by wazuh-analysisd.
//!
//! One socket is connected on the first message and kept for the run (the reference opens one
//! per message). Every event is one datagram, `1:Wazuh-AWS:` followed by its JSON. A full
//! receive queue makes us wait, never drop: losing an event silently is the one thing an
//! operator cannot see afterwards.

use crate::debug;
use crate::exit::{code, fail};
use anyhow::Result;
use std::io::{ErrorKind, Write};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const HEADER: &str = "1:Wazuh-AWS:";
/// analysisd's limit; larger events are still sent, with a warning (the reference does too).
pub const MAX_EVENT_SIZE: usize = 65535;

// Linux errno values that std has no ErrorKind for.
const EMSGSIZE: i32 = 90;
const ENOBUFS: i32 = 105;

const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// `1:Wazuh-AWS:` followed by the event's JSON.
pub fn datagram(json: &str) -> String {
    let mut d = String::with_capacity(HEADER.len() + json.len());
    d.push_str(HEADER);
    d.push_str(json);
    d
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
        let socket = UnixDatagram::unbound().map_err(|e| {
            fail(
                code::WAZUH_SEND,
                format!("Error sending message to wazuh: {e}"),
            )
        })?;
        match socket.connect(&self.path) {
            Ok(()) => Ok(socket),
            Err(e) if matches!(e.kind(), ErrorKind::ConnectionRefused | ErrorKind::NotFound) => {
                debug!(1, "+++ Cannot connect to {}: {e}", self.path.display());
                Err(fail(code::WAZUH_CONNECT, "Wazuh must be running."))
            }
            Err(e) => Err(fail(
                code::WAZUH_SEND,
                format!("Error sending message to wazuh: {e}"),
            )),
        }
    }

    /// Send one event. Returns whether it was sent (false: too large for the socket, skipped).
    #[cfg(test)]
    pub fn send(&mut self, json: &str) -> Result<bool> {
        self.send_datagram(&datagram(json))
    }

    /// Send one whole datagram, header included (see [`datagram`]).
    pub fn send_datagram(&mut self, datagram: &str) -> Result<bool> {
        let datagram = datagram.as_bytes();
        if datagram.len() > MAX_EVENT_SIZE {
            debug!(
                1,
                "Event size exceeds the maximum allowed limit of {MAX_EVENT_SIZE} bytes."
            );
        }
        let mut backoff = Duration::from_millis(5);
        let mut reconnected = false;
        loop {
            if self.socket.is_none() {
                self.socket = Some(self.connect()?);
            }
            let socket = self.socket.as_ref().expect("connected above");
            match socket.send(datagram) {
                Ok(_) => return Ok(true),
                Err(e) if e.raw_os_error() == Some(EMSGSIZE) => {
                    crate::log::error("Message too long to send to Wazuh.  Skipping message...");
                    debug!(
                        1,
                        "+++ ERROR: Message longer than buffer socket for Wazuh. Consider increasing rmem_max. Skipping message..."
                    );
                    return Ok(false);
                }
                Err(e)
                    if e.raw_os_error() == Some(ENOBUFS)
                        || matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) =>
                {
                    // analysisd is behind: wait for room rather than drop the event.
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
                Err(e)
                    if !reconnected
                        && matches!(
                            e.kind(),
                            ErrorKind::ConnectionRefused | ErrorKind::NotConnected
                        ) =>
                {
                    // analysisd restarted and bound a new socket: connect to it once more.
                    self.socket = None;
                    reconnected = true;
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::ConnectionRefused | ErrorKind::NotConnected
                    ) =>
                {
                    debug!(1, "+++ Send failed: {e}");
                    return Err(fail(code::WAZUH_CONNECT, "Wazuh must be running."));
                }
                Err(e) => {
                    return Err(fail(
                        code::WAZUH_SEND,
                        format!("Error sending message to wazuh: {e}"),
                    ))
                }
            }
        }
    }
}

/// Where messages go: the Wazuh queue socket, or lines in a file or on stdout (`--output`).
pub enum Output {
    Socket(Queue),
    Lines(Box<dyn std::io::Write + Send>),
}

impl Output {
    /// The file (or stdout for `-`) that `--output` names.
    pub fn to_path(path: &Path) -> Result<Output> {
        if path == Path::new("-") {
            return Ok(Output::Lines(Box::new(std::io::stdout())));
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| {
                fail(
                    code::WAZUH_SEND,
                    format!("Cannot open --output file {}: {e}", path.display()),
                )
            })?;
        Ok(Output::Lines(Box::new(std::io::BufWriter::new(file))))
    }

    /// Send one whole datagram (see [`datagram`]). Returns whether it was sent (false: too
    /// large for the socket, skipped).
    pub fn send(&mut self, datagram: &str) -> Result<bool> {
        match self {
            Output::Socket(q) => q.send_datagram(datagram),
            Output::Lines(w) => {
                writeln!(w, "{datagram}").map_err(|e| {
                    fail(
                        code::WAZUH_SEND,
                        format!("Error writing the --output file: {e}"),
                    )
                })?;
                Ok(true)
            }
        }
    }

    pub fn flush(&mut self) -> Result<()> {
        if let Output::Lines(w) = self {
            w.flush().map_err(|e| {
                fail(
                    code::WAZUH_SEND,
                    format!("Error writing the --output file: {e}"),
                )
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_header_and_json() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("queue");
        let reader = UnixDatagram::bind(&path).unwrap();
        let mut q = Queue::new(&path);
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
        assert!(out.send(&datagram(r#"{"a":1}"#)).unwrap());
        assert!(out.send(&datagram(r#"{"b":2}"#)).unwrap());
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
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("queue");
        let reader = UnixDatagram::bind(&path).unwrap();
        let mut q = Queue::new(&path);
        let huge = format!("\"{}\"", "x".repeat(8 * 1024 * 1024));
        assert!(!q.send(&huge).unwrap());
        assert!(q.send("{}").unwrap());
        let mut buf = vec![0u8; 1024];
        let n = reader.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"1:Wazuh-AWS:{}");
    }
}
