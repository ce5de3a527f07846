// The benchmark's stand-in for wazuh-analysisd: binds the queue socket, counts datagrams,
// and after a line on stdin (the run ended) drains the socket and prints
// "COUNT BYTES BAD FIRST LAST" (BAD: datagrams without the 1:Wazuh-AWS: header; FIRST, LAST:
// seconds from "ready" to the first and the last datagram).
// Built by bench/run with plain rustc; a Python reader would take CPU from the run measured.
use std::io::BufRead;
use std::os::unix::net::UnixDatagram;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() {
    let path = std::env::args().nth(1).expect("usage: queue-reader SOCKET");
    let socket = UnixDatagram::bind(&path).expect("bind the queue socket");
    socket.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::stdin().lock().read_line(&mut line);
        flag.store(true, Ordering::SeqCst);
    });
    println!("ready");
    let started = Instant::now();
    let mut last = 0f64;
    let mut first = None;
    let mut buf = vec![0u8; 1 << 20];
    let (mut count, mut bytes, mut bad) = (0u64, 0u64, 0u64);
    loop {
        match socket.recv(&mut buf) {
            Ok(n) => {
                count += 1;
                bytes += n as u64;
                last = started.elapsed().as_secs_f64();
                first.get_or_insert(last);
                if !buf[..n].starts_with(b"1:Wazuh-AWS:") {
                    bad += 1;
                }
            }
            Err(_) if stop.load(Ordering::SeqCst) => break,
            Err(_) => {}
        }
    }
    println!("{count} {bytes} {bad} {:.3} {last:.3}", first.unwrap_or(0.0));
}
