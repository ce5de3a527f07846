// A local SQS for the benchmark: one queue, its messages loaded from a file (one body per
// line), served over the AWS JSON 1.0 protocol that both the Rust SDK and botocore speak:
// GetQueueUrl, GetQueueAttributes, ReceiveMessage (long polling), DeleteMessage(Batch),
// ChangeMessageVisibility(Batch). moto scans its whole queue on every receive (about 0.4 s
// per receive with 1,000 messages), which hides what the collectors themselves do.
// Built by bench/run with plain rustc; std only.
//
//   sqs-stub PORT QUEUE_NAME VISIBILITY_SECONDS BODIES_FILE   (prints "ready")
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Message {
    body: String,
    visible_at: Instant,
    deleted: bool,
}

struct Queue {
    name: String,
    url: String,
    visibility: Duration,
    messages: Vec<Message>,
    /// Receipt handle -> message index.
    receipts: HashMap<String, usize>,
    next_receipt: u64,
    /// Messages before this index are all deleted (receives start here).
    first_open: usize,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (port, name, visibility, file) = (&args[1], &args[2], &args[3], &args[4]);
    let bodies = std::fs::read_to_string(file).expect("bodies file");
    let now = Instant::now();
    let queue = Arc::new(Mutex::new(Queue {
        name: name.clone(),
        url: format!("http://127.0.0.1:{port}/123456789012/{name}"),
        visibility: Duration::from_secs(visibility.parse().unwrap()),
        messages: bodies
            .lines()
            .map(|b| Message {
                body: b.to_string(),
                visible_at: now,
                deleted: false,
            })
            .collect(),
        receipts: HashMap::new(),
        next_receipt: 0,
        first_open: 0,
    }));
    let listener = TcpListener::bind(format!("127.0.0.1:{port}")).expect("bind");
    println!("ready");
    for conn in listener.incoming().flatten() {
        let queue = queue.clone();
        std::thread::spawn(move || serve(conn, &queue));
    }
}

fn serve(conn: TcpStream, queue: &Mutex<Queue>) {
    let _ = conn.set_nodelay(true);
    let mut writer = conn.try_clone().unwrap();
    let mut reader = BufReader::new(conn);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let (mut length, mut target) = (0usize, String::new());
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            if h == "\r\n" {
                break;
            }
            let lower = h.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
            if lower.starts_with("x-amz-target:") {
                target = h["x-amz-target:".len()..].trim().to_string();
            }
        }
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let request = String::from_utf8_lossy(&body).into_owned();
        let (status, answer) = handle(queue, &target, &request);
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/x-amz-json-1.0\r\nx-amzn-RequestId: stub\r\nContent-Length: {}\r\n\r\n",
            answer.len()
        );
        if writer.write_all(head.as_bytes()).is_err() || writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

fn handle(queue: &Mutex<Queue>, target: &str, req: &str) -> (&'static str, String) {
    let op = target.rsplit('.').next().unwrap_or("");
    match op {
        "GetQueueUrl" => {
            let q = queue.lock().unwrap();
            if string_field(req, "QueueName").as_deref() != Some(q.name.as_str()) {
                return ("400 Bad Request", "{\"__type\":\"com.amazonaws.sqs#QueueDoesNotExist\",\"message\":\"no such queue\"}".into());
            }
            ("200 OK", format!("{{\"QueueUrl\":{}}}", quote(&q.url)))
        }
        "GetQueueAttributes" => {
            let q = queue.lock().unwrap();
            ("200 OK", format!("{{\"Attributes\":{{\"VisibilityTimeout\":\"{}\"}}}}", q.visibility.as_secs()))
        }
        "ReceiveMessage" => receive(queue, req),
        "DeleteMessage" => {
            let handle = string_field(req, "ReceiptHandle").unwrap_or_default();
            delete(&mut queue.lock().unwrap(), &handle);
            ("200 OK", "{}".into())
        }
        "DeleteMessageBatch" => {
            let mut q = queue.lock().unwrap();
            let handles = all_string_fields(req, "ReceiptHandle");
            let ids = all_string_fields(req, "Id");
            for h in &handles {
                delete(&mut q, h);
            }
            let ok: Vec<String> = ids.iter().map(|i| format!("{{\"Id\":{}}}", quote(i))).collect();
            ("200 OK", format!("{{\"Successful\":[{}],\"Failed\":[]}}", ok.join(",")))
        }
        "ChangeMessageVisibility" | "ChangeMessageVisibilityBatch" => {
            let mut q = queue.lock().unwrap();
            let extend = Duration::from_secs(number_field(req, "VisibilityTimeout").unwrap_or(30));
            let ids = all_string_fields(req, "Id");
            for h in all_string_fields(req, "ReceiptHandle") {
                if let Some(&i) = q.receipts.get(&h) {
                    q.messages[i].visible_at = Instant::now() + extend;
                }
            }
            let ok: Vec<String> = ids.iter().map(|i| format!("{{\"Id\":{}}}", quote(i))).collect();
            ("200 OK", format!("{{\"Successful\":[{}],\"Failed\":[]}}", ok.join(",")))
        }
        _ => ("400 Bad Request", format!("{{\"__type\":\"InvalidAction\",\"message\":\"{op}\"}}")),
    }
}

fn receive(queue: &Mutex<Queue>, req: &str) -> (&'static str, String) {
    let max = number_field(req, "MaxNumberOfMessages").unwrap_or(1).clamp(1, 10) as usize;
    let wait = Duration::from_secs(number_field(req, "WaitTimeSeconds").unwrap_or(0));
    let deadline = Instant::now() + wait;
    loop {
        {
            let mut q = queue.lock().unwrap();
            let now = Instant::now();
            let visibility = q.visibility;
            let mut taken = Vec::new();
            let mut i = q.first_open;
            while i < q.messages.len() && taken.len() < max {
                if !q.messages[i].deleted && q.messages[i].visible_at <= now {
                    q.messages[i].visible_at = now + visibility;
                    taken.push(i);
                }
                i += 1;
            }
            if !taken.is_empty() {
                let mut out = Vec::new();
                for i in taken {
                    q.next_receipt += 1;
                    let handle = format!("rh-{i}-{}", q.next_receipt);
                    q.receipts.insert(handle.clone(), i);
                    out.push(format!(
                        "{{\"MessageId\":\"m-{i}\",\"ReceiptHandle\":{},\"MD5OfBody\":\"0\",\"Body\":{},\"Attributes\":{{}}}}",
                        quote(&handle),
                        quote(&q.messages[i].body)
                    ));
                }
                return ("200 OK", format!("{{\"Messages\":[{}]}}", out.join(",")));
            }
        }
        if Instant::now() >= deadline {
            return ("200 OK", "{}".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn delete(q: &mut Queue, handle: &str) {
    if let Some(i) = q.receipts.remove(handle) {
        q.messages[i].deleted = true;
    }
    while q.first_open < q.messages.len() && q.messages[q.first_open].deleted {
        q.first_open += 1;
    }
}

/// The string values of every `"key": "..."` in a JSON text (the requests are flat enough).
fn all_string_fields(json: &str, key: &str) -> Vec<String> {
    let pattern = format!("\"{key}\"");
    let mut out = Vec::new();
    let mut rest = json;
    while let Some(at) = rest.find(&pattern) {
        rest = &rest[at + pattern.len()..];
        let after = rest.trim_start().trim_start_matches(':').trim_start();
        if let Some(s) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = s.chars();
            while let Some(c) = chars.next() {
                match c {
                    '"' => break,
                    '\\' => {
                        if let Some(e) = chars.next() {
                            value.push(match e {
                                'n' => '\n',
                                't' => '\t',
                                other => other,
                            });
                        }
                    }
                    c => value.push(c),
                }
            }
            out.push(value);
        }
    }
    out
}

fn string_field(json: &str, key: &str) -> Option<String> {
    all_string_fields(json, key).into_iter().next()
}

fn number_field(json: &str, key: &str) -> Option<u64> {
    let pattern = format!("\"{key}\"");
    let at = json.find(&pattern)? + pattern.len();
    let after = json[at..].trim_start().trim_start_matches(':').trim_start();
    let digits: String = after.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
