// A TCP proxy in front of the bench's local S3 that sets its answer time: each response's
// first bytes are held LATENCY_MS after the request (S3's first-byte latency), and nothing
// else waits. s3s-fs alone answers a GET in two writes without TCP_NODELAY, so its body
// waits ~40 ms for our delayed ACK; the proxy acknowledges at once (TCP_QUICKACK after every
// read), which makes 0 ms mean "as fast as the machine".
// Built by bench/run with plain rustc; std only (setsockopt declared by hand).
//
//   s3-latency-proxy LISTEN_PORT UPSTREAM_PORT LATENCY_MS   (prints "ready")
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::io::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

extern "C" {
    fn setsockopt(fd: i32, level: i32, name: i32, value: *const std::ffi::c_void, len: u32) -> i32;
}

const IPPROTO_TCP: i32 = 6;
const TCP_QUICKACK: i32 = 12;

fn quickack(s: &TcpStream) {
    let on: i32 = 1;
    unsafe {
        setsockopt(
            s.as_raw_fd(),
            IPPROTO_TCP,
            TCP_QUICKACK,
            &on as *const i32 as *const std::ffi::c_void,
            4,
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (listen, upstream, latency) = (&args[1], args[2].clone(), &args[3]);
    let latency = Duration::from_millis(latency.parse().unwrap());
    let listener = TcpListener::bind(format!("127.0.0.1:{listen}")).expect("bind");
    println!("ready");
    for client in listener.incoming().flatten() {
        let upstream = upstream.clone();
        std::thread::spawn(move || {
            let Ok(server) = TcpStream::connect(format!("127.0.0.1:{upstream}")) else {
                return;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let asked = Arc::new(AtomicBool::new(false));
            let (c2, s2, asked2) = (client.try_clone().unwrap(), server.try_clone().unwrap(), asked.clone());
            // Requests: client -> server, each marks a response as due.
            std::thread::spawn(move || pump(c2, s2, |_| asked2.store(true, Ordering::SeqCst)));
            // Responses: server -> client, the first bytes after a request held `latency`.
            pump(server, client, |from| {
                quickack(from);
                if asked.swap(false, Ordering::SeqCst) && !latency.is_zero() {
                    std::thread::sleep(latency);
                }
            });
        });
    }
}

/// Copy `from` to `to`, calling `on_read` after each read (before writing it on).
fn pump(mut from: TcpStream, mut to: TcpStream, on_read: impl Fn(&TcpStream)) {
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        on_read(&from);
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}
