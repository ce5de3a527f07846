//! Nothing lost past the socket: runs into stand-ins of analysisd (manager) and agentd (agent)
//! that drop what they have no room for, as Wazuh does (see tests/common/analysisd.rs and
//! agentd.rs for the source each follows). Every test counts what the stand-in kept.

mod common;

use common::agentd::{self, Agentd};
use common::analysisd::{self, Analysisd};
use common::*;
use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

const ACCOUNT: &str = "111122223333";

/// `objects` CloudTrail objects of `per_object` events; names `{bucket}{i}-{n}`.
async fn seed(bucket: &str, objects: usize, per_object: usize) {
    let s3 = create_bucket(bucket).await;
    let body = |i: usize| trail_object(&format!("o{i}"), per_object);
    for i in 0..objects {
        let key = trail_key(
            ACCOUNT,
            "us-east-1",
            "2024/03/14",
            "0810",
            &format!("{i:04}"),
        );
        put(&s3, bucket, &key, body(i)).await;
    }
}

/// How many times each CloudTrail event arrived (other senders' messages aside).
fn counts(datagrams: &[Vec<u8>]) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for d in datagrams {
        let text = std::str::from_utf8(d).unwrap();
        if !text.starts_with(HEADER) {
            continue;
        }
        let json: serde_json::Value =
            serde_json::from_str(text.strip_prefix(HEADER).expect("header")).unwrap();
        let name = json["aws"]["eventName"].as_str().unwrap().to_string();
        *counts.entry(name).or_insert(0) += 1;
    }
    counts
}

fn duplicates(counts: &HashMap<String, usize>) -> usize {
    counts.values().map(|n| n - 1).sum()
}

fn decoded(wazuh: &Wazuh, analysisd: &Analysisd) -> HashMap<String, usize> {
    analysisd.wait_idle(Duration::from_secs(60));
    counts(&wazuh.take_raw())
}

/// 100,000 CloudTrail events (200 objects x 500) into an analysisd with 16,384 slots that
/// decodes `rate` a second: every event kept, each object recorded, few sent twice.
async fn into_analysisd(rate: u64) {
    let bucket = format!("it-pace-{rate}");
    seed(&bucket, 200, 500).await;
    let (wazuh, analysisd) = Wazuh::with_analysisd(analysisd::Config {
        queue_size: 16384,
        decode_rate: rate,
    });
    let args = ["-b", bucket.as_str(), "-s", "2024-MAR-14", "-d", "1"];
    let started = Instant::now();
    let run = wazuh.run(&args);
    let took = started.elapsed();
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.stdout.contains("Pacing: analysisd"), "{}", run.stdout);
    assert!(!run.stdout.contains("WARNING"), "{}", run.stdout);
    let counts = decoded(&wazuh, &analysisd);
    assert_eq!(counts.len(), 100_000, "every event kept at {rate}/s");
    assert!(
        duplicates(&counts) <= 2 * 4096,
        "at {rate}/s: {} sent twice",
        duplicates(&counts)
    );
    assert_eq!(wazuh.rows("cloudtrail").len(), 200);
    // Half the queue may still be waiting to be decoded when the run ends.
    let floor = (100_000.0 - 8192.0) / rate as f64;
    eprintln!(
        "at {rate}/s: {:.2} s (floor {floor:.2} s), {} AWS drops, {} sent twice",
        took.as_secs_f64(),
        analysisd.aws_dropped(),
        duplicates(&counts)
    );
    let again = wazuh.run(&args);
    assert_eq!(again.code, 0, "{}", again.stdout);
    assert!(decoded(&wazuh, &analysisd).is_empty(), "nothing new");
}

#[tokio::test]
async fn a_manager_decoding_5000_a_second_loses_nothing() {
    into_analysisd(5_000).await;
}

#[tokio::test]
async fn a_manager_decoding_20000_a_second_loses_nothing() {
    into_analysisd(20_000).await;
}

#[tokio::test]
async fn a_manager_decoding_100000_a_second_loses_nothing() {
    into_analysisd(100_000).await;
}

/// A 4.x agent: paced to its client buffer; the agent keeps no drop counter, the stand-in
/// does.
async fn into_agent(bucket: &str, config: agentd::Config, objects: usize) -> String {
    seed(bucket, objects, 500).await;
    let wazuh = Wazuh::without_queue();
    wazuh.set_kind("agent", "v4.14.7");
    let agent = Agentd::start(&wazuh.root(), config);
    let run = wazuh.run(&["-b", bucket, "-s", "2024-MAR-14", "-d", "1"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        agent.dropped(),
        0,
        "{config:?}: the buffer never overflowed"
    );
    let kept = counts(&agent.all_kept());
    assert_eq!(kept.len(), objects * 500);
    assert_eq!(duplicates(&kept), 0, "an agent run sends each event once");
    assert_eq!(wazuh.rows("cloudtrail").len(), objects);
    run.stdout
}

#[tokio::test]
async fn an_agent_with_default_buffer_loses_nothing() {
    // 6,000 events into a buffer of 5,000 drained at 500/s: sent at once, 1,000 are lost.
    let out = into_agent("it-agent-default", agentd::Config::default(), 12).await;
    assert!(
        out.contains("agent client buffer of 5000 messages at 500 events/s"),
        "{out}"
    );
}

#[tokio::test]
async fn an_agent_with_a_large_fast_buffer_loses_nothing() {
    let config = agentd::Config {
        queue_size: 100_000,
        events_per_second: 1000,
    };
    into_agent("it-agent-large", config, 12).await;
}

#[tokio::test]
async fn an_agent_with_a_small_buffer_loses_nothing() {
    let config = agentd::Config {
        queue_size: 1000,
        events_per_second: 1000,
    };
    into_agent("it-agent-small", config, 6).await;
}

/// Where nothing can be observed, --max_eps still caps the run.
#[tokio::test]
async fn max_eps_caps_a_run_where_nothing_is_observed() {
    let bucket = "it-max-eps";
    seed(bucket, 4, 250).await;
    let wazuh = Wazuh::new();
    let started = Instant::now();
    let run = wazuh.run(&[
        "-b",
        bucket,
        "-s",
        "2024-MAR-14",
        "--max_eps",
        "500",
        "-d",
        "1",
    ]);
    let took = started.elapsed();
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stdout.contains("Pacing: none from Wazuh") && run.stdout.contains("500 events/s"),
        "{}",
        run.stdout
    );
    assert_eq!(wazuh.take_messages().len(), 1000);
    // 1,000 events at 500/s, 50 at once: at least 1.9 s.
    assert!(took >= Duration::from_millis(1900), "{took:?}");
}

/// A run of `bucket` started in the background.
fn spawn(wazuh: &Wazuh, bucket: &str, stdout: Stdio) -> std::process::Child {
    wazuh
        .command(
            Path::new(env!("CARGO_BIN_EXE_aws-s3")),
            &["-b", bucket, "-s", "2024-MAR-14", "-d", "1"],
        )
        .env("WAZUH_ROOT", wazuh.root())
        .stdout(stdout)
        .spawn()
        .unwrap()
}

/// analysisd's statistics go away in the middle of a run: the run goes on, what was sent
/// since the last checkpoint is sent again, nothing is lost.
#[tokio::test]
async fn the_stats_socket_vanishing_mid_run_loses_nothing() {
    let bucket = "it-stats-vanish";
    seed(bucket, 40, 500).await;
    let (wazuh, analysisd) = Wazuh::with_analysisd(analysisd::Config {
        queue_size: 4096,
        decode_rate: 10_000,
    });
    let child = spawn(&wazuh, bucket, Stdio::piped());
    while analysisd.received() < 5_000 {
        std::thread::sleep(Duration::from_millis(5));
    }
    analysisd.stop_answering();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("statistics stopped answering"), "{stdout}");
    let counts = decoded(&wazuh, &analysisd);
    assert_eq!(counts.len(), 20_000, "every event kept");
    assert_eq!(wazuh.rows("cloudtrail").len(), 40);
}

/// Another sender fills analysisd's queue in the middle of our run: our events dropped
/// then are seen in the AWS drop counter and sent again.
#[tokio::test]
async fn another_sender_filling_the_queue_makes_us_send_again_not_lose() {
    let bucket = "it-other-sender";
    seed(bucket, 40, 500).await;
    let (wazuh, analysisd) = Wazuh::with_analysisd(analysisd::Config {
        queue_size: 2048,
        decode_rate: 10_000,
    });
    let child = spawn(&wazuh, bucket, Stdio::piped());
    while analysisd.received() < 3_000 {
        std::thread::sleep(Duration::from_millis(2));
    }
    // An agent storm: as fast as the socket takes it, for 1.5 s.
    let other = std::os::unix::net::UnixDatagram::unbound().unwrap();
    other.connect(analysisd.queue_path()).unwrap();
    let storm = Instant::now();
    while storm.elapsed() < Duration::from_millis(1500) {
        let _ = other.send(b"1:/var/log/syslog:Dec  5 10:00:00 host sshd[1]: noise");
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let dropped = analysisd.aws_dropped();
    let counts = decoded(&wazuh, &analysisd);
    let names: Vec<_> = counts.keys().filter(|k| k.starts_with('o')).collect();
    assert_eq!(
        names.len(),
        20_000,
        "every event kept ({dropped} AWS drops)"
    );
    assert!(analysisd.other_dropped() > 0, "the storm filled the queue");
    if dropped > 0 {
        assert!(stdout.contains("sending the last"), "{stdout}");
    }
    assert_eq!(wazuh.rows("cloudtrail").len(), 40);
}

/// Kills in the middle of runs into a slow analysisd: whatever was recorded was kept.
#[tokio::test]
async fn killed_runs_into_a_slow_manager_lose_nothing() {
    let bucket = "it-pace-kills";
    seed(bucket, 40, 500).await;
    let (wazuh, analysisd) = Wazuh::with_analysisd(analysisd::Config {
        queue_size: 2048,
        decode_rate: 8_000,
    });
    for ms in [400, 900] {
        let mut child = spawn(&wazuh, bucket, Stdio::null());
        std::thread::sleep(Duration::from_millis(ms));
        child.kill().unwrap();
        child.wait().unwrap();
    }
    let run = wazuh.run(&["-b", bucket, "-s", "2024-MAR-14"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let counts = decoded(&wazuh, &analysisd);
    assert_eq!(counts.len(), 20_000, "every event kept");
    assert_eq!(wazuh.rows("cloudtrail").len(), 40);
}
