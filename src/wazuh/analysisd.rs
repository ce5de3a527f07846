//! wazuh-analysisd's statistics, as its `queue/sockets/analysis` socket gives them (wazuh
//! v4.14.7 `src/analysisd/asyscom.c`, `state.c` `asys_create_state_json`): a stream socket,
//! one request per connection, each way a 4-byte little-endian length then the text
//! (`src/os_net/os_net.c` `OS_SendSecureTCP`, `OS_RecvSecureTCP`).
//!
//! Two numbers matter to us: how full the event decode queue is (analysisd's input thread
//! drops a message when it is full, "Input queue is full.") and how many AWS messages it has
//! dropped so far (`dropped_breakdown.modules_breakdown.aws`, counted for the locations
//! `Wazuh-AWS` and `aws-s3`).

use serde::Deserialize;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

const REQUEST: &str = r#"{"version":1,"origin":{"module":"aws-s3"},"command":"getstats"}"#;
/// analysisd answers from memory; a second without an answer means it is not answering.
const TIMEOUT: Duration = Duration::from_secs(2);
/// The answer is a few kilobytes; anything much larger is not analysisd's.
const MAX_ANSWER: usize = 4 * 1024 * 1024;

/// One reading of analysisd's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Slots of the event decode queue (`analysisd.decode_event_queue_size`); it holds one
    /// less.
    pub queue_size: u64,
    /// Messages in it now.
    pub queued: u64,
    /// AWS messages dropped since analysisd started.
    pub aws_dropped: u64,
}

impl Stats {
    /// Messages the queue can hold.
    pub fn capacity(&self) -> u64 {
        self.queue_size.saturating_sub(1).max(1)
    }
}

/// Asks analysisd for its statistics.
#[derive(Debug, Clone)]
pub struct StatsClient {
    path: PathBuf,
}

impl StatsClient {
    pub fn new(path: &Path) -> Self {
        StatsClient {
            path: path.to_path_buf(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn get(&self) -> Result<Stats, String> {
        let answer = self
            .ask()
            .map_err(|e| format!("{}: {e}", self.path.display()))?;
        parse_answer(&answer)
    }

    fn ask(&self) -> std::io::Result<Vec<u8>> {
        let mut stream = UnixStream::connect(&self.path)?;
        stream.set_read_timeout(Some(TIMEOUT))?;
        stream.set_write_timeout(Some(TIMEOUT))?;
        let mut request = (REQUEST.len() as u32).to_le_bytes().to_vec();
        request.extend_from_slice(REQUEST.as_bytes());
        stream.write_all(&request)?;
        let mut len = [0u8; 4];
        stream.read_exact(&mut len)?;
        let len = u32::from_le_bytes(len) as usize;
        if len > MAX_ANSWER {
            return Err(std::io::Error::other(format!("an answer of {len} bytes")));
        }
        let mut answer = vec![0u8; len];
        stream.read_exact(&mut answer)?;
        Ok(answer)
    }
}

#[derive(Deserialize)]
struct Answer {
    error: i64,
    #[serde(default)]
    message: String,
    data: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Data {
    metrics: Metrics,
}

#[derive(Deserialize)]
struct Metrics {
    queues: Queues,
    events: Events,
}

#[derive(Deserialize)]
struct Queues {
    others: QueueState,
}

#[derive(Deserialize)]
struct QueueState {
    size: u64,
    usage: f64,
}

#[derive(Deserialize)]
struct Events {
    received_breakdown: Received,
}

#[derive(Deserialize)]
struct Received {
    dropped_breakdown: Dropped,
}

#[derive(Deserialize)]
struct Dropped {
    modules_breakdown: Modules,
}

#[derive(Deserialize)]
struct Modules {
    aws: u64,
}

/// The fields we use out of a `getstats` answer; anything else is an unknown answer.
pub fn parse_answer(answer: &[u8]) -> Result<Stats, String> {
    let answer: Answer = serde_json::from_slice(answer)
        .map_err(|e| format!("an answer analysisd does not give ({e})"))?;
    if answer.error != 0 {
        return Err(format!(
            "analysisd answered error {}: {}",
            answer.error,
            crate::log::escape(&answer.message)
        ));
    }
    let data: Data = serde_json::from_value(answer.data.ok_or("an answer without data")?)
        .map_err(|e| format!("an answer analysisd does not give ({e})"))?;
    let metrics = data.metrics;
    let queue = metrics.queues.others;
    let capacity = queue.size.saturating_sub(1) as f64;
    Ok(Stats {
        queue_size: queue.size,
        queued: (queue.usage.clamp(0.0, 1.0) * capacity).round() as u64,
        aws_dropped: metrics
            .events
            .received_breakdown
            .dropped_breakdown
            .modules_breakdown
            .aws,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_queue_and_the_aws_drops() {
        let answer =
            br#"{"error":0,"message":"ok","data":{"uptime":1,"metrics":{"bytes":{"received":1},
            "queues":{"alerts":{"size":16384,"usage":0},"others":{"size":16384,"usage":0.5}},
            "events":{"processed":3,"received":4,"received_breakdown":{"decoded_breakdown":{},
            "dropped_breakdown":{"agent":0,"modules_breakdown":{"aws":17,"azure":0}}}}}}}"#;
        let stats = parse_answer(answer).unwrap();
        assert_eq!(
            stats,
            Stats {
                queue_size: 16384,
                queued: 8192,
                aws_dropped: 17
            }
        );
        assert_eq!(stats.capacity(), 16383);
    }

    #[test]
    fn an_error_or_another_shape_is_not_stats() {
        assert!(
            parse_answer(br#"{"error":1,"message":"Invalid JSON input","data":{}}"#)
                .unwrap_err()
                .contains("error 1")
        );
        assert!(parse_answer(br#"{"error":0,"message":"ok","data":{"metrics":{}}}"#).is_err());
        assert!(parse_answer(b"err nope").is_err());
    }
}
