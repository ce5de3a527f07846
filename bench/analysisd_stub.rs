// The benchmark's analysisd: the tests' stand-in (tests/common/analysisd.rs, written from
// wazuh v4.14.7's source: one input thread, a decode queue of SIZE slots that drops when full,
// decoders at RATE messages a second, the getstats socket). Usage:
//   analysisd-stub SOCKETS_DIR SIZE RATE
// prints "ready"; after a line on stdin (the run ended) waits until the queue is decoded and
// prints "DECODED DISTINCT AWS_DROPPED SECONDS" (DISTINCT: different AWS datagrams decoded;
// SECONDS: from "ready" to the last datagram received). Built by bench/run with plain rustc.
#[path = "../tests/common/analysisd.rs"]
mod analysisd;

use std::collections::HashSet;
use std::io::BufRead;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, dir, size, rate] = &args[..] else {
        panic!("usage: analysisd-stub SOCKETS_DIR SIZE RATE");
    };
    let config = analysisd::Config {
        queue_size: size.parse().expect("SIZE"),
        decode_rate: rate.parse().expect("RATE"),
    };
    let stub = analysisd::Analysisd::start(std::path::Path::new(dir), config);
    println!("ready");
    let started = Instant::now();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    let ended = started.elapsed();
    stub.wait_idle(Duration::from_secs(600));
    let decoded = stub.take_decoded();
    let aws: Vec<&Vec<u8>> = decoded.iter().filter(|d| d.starts_with(b"1:Wazuh-AWS:")).collect();
    let distinct: HashSet<&Vec<u8>> = aws.iter().copied().collect();
    println!(
        "{} {} {} {:.3}",
        aws.len(),
        distinct.len(),
        stub.aws_dropped(),
        ended.as_secs_f64()
    );
}
