//! A fault-injecting HTTP proxy in front of moto, on 127.0.0.1: it answers some requests
//! itself (S3 error codes, resets, cut bodies, delays) and forwards the rest. Every response
//! closes its connection, so each request is looked at on its own.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What to do to a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    Pass,
    /// An S3 error document with this status and code (503 SlowDown, 500 InternalError).
    Error(u16, &'static str),
    /// A JSON-protocol error (CloudWatch Logs, SQS) with this status and `__type`.
    JsonError(u16, &'static str),
    /// This XML document with this status, as AWS words a refusal (an S3 `<Error>` with its
    /// message, an STS `<ErrorResponse>`).
    Document(u16, &'static str),
    /// Close the connection without an answer.
    Reset,
    /// Forward, but cut the body in half and close.
    Truncate,
    /// Forward after a pause.
    Delay(Duration),
}

/// Decides the fault for a request from its method and path (with the query) and how many
/// requests with that method and path were seen before.
pub type Rule = dyn Fn(&str, &str, usize) -> Fault + Send + Sync;

pub struct FaultProxy {
    pub url: String,
    pub log: Arc<Mutex<Vec<(String, String, Fault)>>>,
}

impl FaultProxy {
    /// How many requests were answered with a fault so far.
    pub fn injected(&self) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, _, f)| *f != Fault::Pass)
            .count()
    }
}

pub fn start(upstream: &str, rule: Box<Rule>) -> FaultProxy {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let upstream = upstream.trim_start_matches("http://").to_string();
    let log: Arc<Mutex<Vec<(String, String, Fault)>>> = Arc::default();
    let rule: Arc<Rule> = Arc::from(rule);
    let seen: Arc<Mutex<std::collections::HashMap<String, usize>>> = Arc::default();
    let shared_log = log.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let (upstream, rule, seen, log) = (
                upstream.clone(),
                rule.clone(),
                seen.clone(),
                shared_log.clone(),
            );
            std::thread::spawn(move || {
                let _ = serve(conn, &upstream, &*rule, &seen, &log);
            });
        }
    });
    FaultProxy { url, log }
}

fn serve(
    mut client: TcpStream,
    upstream: &str,
    rule: &Rule,
    seen: &Mutex<std::collections::HashMap<String, usize>>,
    log: &Mutex<Vec<(String, String, Fault)>>,
) -> std::io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(client.try_clone()?);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line)? == 0 {
        return Ok(());
    }
    let mut headers = Vec::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        if line == "\r\n" || line.is_empty() {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if lower.starts_with("connection:") {
            continue;
        }
        headers.push(line);
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    let mut parts = request_line.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or("").to_string(),
        parts.next().unwrap_or("").to_string(),
    );
    let n = {
        let mut seen = seen.lock().unwrap();
        let count = seen.entry(format!("{method} {path}")).or_insert(0);
        *count += 1;
        *count - 1
    };
    let fault = rule(&method, &path, n);
    log.lock()
        .unwrap()
        .push((method.clone(), path.clone(), fault));
    match fault {
        Fault::Reset => return Ok(()),
        Fault::Error(status, code) => {
            let doc = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>injected</Message></Error>"
            );
            write!(
                client,
                "HTTP/1.1 {status} Injected\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{doc}",
                doc.len()
            )?;
            return Ok(());
        }
        Fault::Document(status, doc) => {
            write!(
                client,
                "HTTP/1.1 {status} Injected\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{doc}",
                doc.len()
            )?;
            return Ok(());
        }
        Fault::JsonError(status, kind) => {
            let doc = format!("{{\"__type\":\"{kind}\",\"message\":\"injected\"}}");
            write!(
                client,
                "HTTP/1.1 {status} Injected\r\nContent-Type: application/x-amz-json-1.1\r\nx-amzn-ErrorType: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{doc}",
                doc.len()
            )?;
            return Ok(());
        }
        Fault::Delay(d) => std::thread::sleep(d),
        Fault::Pass | Fault::Truncate => {}
    }
    let mut up = TcpStream::connect(upstream)?;
    up.write_all(request_line.as_bytes())?;
    for h in &headers {
        up.write_all(h.as_bytes())?;
    }
    up.write_all(b"Connection: close\r\n\r\n")?;
    up.write_all(&body)?;
    let mut response = Vec::new();
    up.read_to_end(&mut response)?;
    if fault == Fault::Truncate {
        // Keep the headers (and their Content-Length), send half of the body.
        let split = response
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(0, |p| p + 4);
        let cut = split + (response.len() - split) / 2;
        client.write_all(&response[..cut])?;
        return Ok(());
    }
    client.write_all(&response)
}
