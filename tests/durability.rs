//! Durable progress: a run killed at any moment has recorded only objects whose events were
//! all delivered, and the next run delivers everything else. Also the run's concurrency keeps
//! each object's events in order.

mod common;

use common::*;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

const ACCOUNT: &str = "111122223333";
const OBJECTS: usize = 60;
const EVENTS: usize = 40;

async fn seed(bucket: &str) -> HashMap<String, Vec<String>> {
    let s3 = create_bucket(bucket).await;
    let mut expected = HashMap::new();
    for i in 0..OBJECTS {
        let key = trail_key(
            ACCOUNT,
            "us-east-1",
            "2024/03/15",
            &format!("{:04}", i),
            &format!("o{i:03}"),
        );
        let tag = format!("o{i:03}");
        put(&s3, bucket, &key, trail_object(&tag, EVENTS)).await;
        expected.insert(key, (0..EVENTS).map(|e| format!("{tag}-{e}")).collect());
    }
    expected
}

/// Start a run and SIGKILL it once `threshold` more datagrams arrived (or it ended, or 20 s).
fn kill_after(wazuh: &Wazuh, args: &[&str], threshold: usize) {
    let mut child = wazuh
        .command(Path::new(env!("CARGO_BIN_EXE_aws-s3")), args)
        .env("WAZUH_ROOT", wazuh.root())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let base = wazuh.received_count();
    while wazuh.received_count() < base + threshold
        && started.elapsed() < Duration::from_secs(20)
        && child.try_wait().unwrap().is_none()
    {
        std::thread::sleep(Duration::from_millis(1));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn by_object(messages: &[serde_json::Value]) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for m in messages {
        let key = m["aws"]["log_info"]["log_file"]
            .as_str()
            .unwrap()
            .to_string();
        out.entry(key)
            .or_default()
            .push(m["aws"]["eventName"].as_str().unwrap().to_string());
    }
    out
}

#[tokio::test]
async fn killed_runs_lose_nothing_and_resend_only_unrecorded_objects() {
    let bucket = "it-durability";
    let expected = seed(bucket).await;
    let args = ["-b", bucket, "-s", "2024-MAR-15", "--workers", "8"];
    let mut delivered: Vec<serde_json::Value> = Vec::new();
    let wazuh = Wazuh::new();
    // Kill after a growing number of datagrams, a few times, then let a run finish.
    for threshold in [1usize, 300, 900] {
        kill_after(&wazuh, &args, threshold);
        let got = wazuh.take_messages();
        // Every object recorded so far had all its events delivered (in this or an earlier run).
        let recorded: HashSet<String> = wazuh
            .table("cloudtrail")
            .into_iter()
            .map(|r| r[3].clone())
            .collect();
        delivered.extend(got);
        let seen = by_object(&delivered);
        for key in &recorded {
            let mut names: Vec<String> = seen.get(key).cloned().unwrap_or_default();
            names.sort();
            names.dedup();
            assert_eq!(
                names.len(),
                EVENTS,
                "{key} is recorded but not all its events arrived"
            );
        }
    }
    let run = wazuh.run(&args);
    assert_eq!(run.code, 0, "{}", run.stdout);
    delivered.extend(wazuh.take_messages());
    let seen = by_object(&delivered);
    assert_eq!(seen.len(), OBJECTS);
    for (key, names) in &expected {
        let got: HashSet<&String> = seen[key].iter().collect();
        assert_eq!(got.len(), names.len(), "{key}: every event was delivered");
        // An object is delivered at most once per run that read it; duplicates come only from
        // objects that were in flight when a run was killed.
        assert!(
            seen[key].len() <= 4 * EVENTS,
            "{key}: delivered by more runs than there were"
        );
    }
    assert_eq!(wazuh.table("cloudtrail").len(), OBJECTS);
    let again = wazuh.run(&args);
    assert_eq!(again.code, 0);
    assert!(wazuh.take_messages().is_empty());
}

#[tokio::test]
async fn concurrent_reading_keeps_each_objects_events_in_order() {
    let bucket = "it-ordering";
    seed(bucket).await;
    let wazuh = Wazuh::new();
    let run = wazuh.run(&["-b", bucket, "-s", "2024-MAR-15", "--workers", "16"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let messages = wazuh.take_messages();
    assert_eq!(messages.len(), OBJECTS * EVENTS);
    // Objects are sent in listing order and each object's events in file order.
    let names: Vec<&str> = messages
        .iter()
        .map(|m| m["aws"]["eventName"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = (0..OBJECTS)
        .flat_map(|i| (0..EVENTS).map(move |e| format!("o{i:03}-{e}")))
        .collect();
    assert_eq!(names, expected);
}

#[tokio::test]
async fn overlapping_runs_on_one_bucket_send_each_object_once() {
    let bucket = "it-overlap";
    seed(bucket).await;
    let wazuh = Wazuh::new();
    let args = ["-b", bucket, "-s", "2024-MAR-15", "--debug", "1"];
    let spawn = || {
        let mut cmd = wazuh.command(Path::new(env!("CARGO_BIN_EXE_aws-s3")), &args);
        cmd.env("WAZUH_ROOT", wazuh.root());
        cmd.stdout(std::process::Stdio::piped()).spawn().unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success() && b.status.success());
    let messages = wazuh.take_messages();
    assert_eq!(
        messages.len(),
        OBJECTS * EVENTS,
        "no object was sent by both runs"
    );
    let waited = [a, b]
        .iter()
        .any(|o| String::from_utf8_lossy(&o.stdout).contains("waiting for it to end"));
    assert!(waited, "the second run waited for the first");
}

/// Interrupt a run after its first events; it must end with `code` and the `ERROR:` line,
/// every recorded object having been sent whole.
async fn interrupted(bucket: &str, signal: &str, code: i32, line: &str) {
    seed(bucket).await;
    let wazuh = Wazuh::new();
    let mut cmd = wazuh.command(
        Path::new(env!("CARGO_BIN_EXE_aws-s3")),
        &["-b", bucket, "-s", "2024-MAR-15", "--workers", "2"],
    );
    cmd.env("WAZUH_ROOT", wazuh.root());
    let child = cmd.stdout(std::process::Stdio::piped()).spawn().unwrap();
    let started = Instant::now();
    while wazuh.received_count() < 100 && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(1));
    }
    let status = std::process::Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    if out.status.code() == Some(0) {
        return; // The run finished before the signal arrived: nothing to check.
    }
    assert_eq!(out.status.code(), Some(code), "{stdout}");
    assert!(stdout.contains(line), "{stdout}");
    let seen = by_object(&wazuh.take_messages());
    for row in wazuh.table("cloudtrail") {
        assert_eq!(
            seen.get(&row[3]).map(Vec::len),
            Some(EVENTS),
            "{} recorded, not sent",
            row[3]
        );
    }
}

#[tokio::test]
async fn sigint_ends_the_run_with_exit_2_keeping_finished_objects() {
    interrupted("it-sigint", "-INT", 2, "ERROR: SIGINT received.").await;
}

#[tokio::test]
async fn sigterm_ends_the_run_cleanly_too() {
    interrupted("it-sigterm", "-TERM", 143, "ERROR: SIGTERM received.").await;
}

/// An organization trail (many accounts and regions, a few objects each): the objects of
/// different prefixes are in flight together (#26). Kills still lose nothing, each recorded
/// object had all its events delivered, duplicates are bounded by the objects in flight, and
/// a last run sends nothing new.
#[tokio::test]
async fn killed_runs_over_an_organization_bucket_lose_nothing() {
    let bucket = "it-durability-org";
    let s3 = create_bucket(bucket).await;
    let (accounts, regions, per_scope, events) = (12, 4, 3, 10);
    let region_names = ["us-east-1", "us-west-2", "eu-west-1", "ap-south-1"];
    let mut expected = HashSet::new();
    for a in 0..accounts {
        let account = format!("{:012}", 100_000_000_000u64 + a);
        for region in &region_names[..regions] {
            for o in 0..per_scope {
                let day = "2024/03/15";
                let key = format!(
                    "AWSLogs/o-abc123/{account}/CloudTrail/{region}/{day}/{account}_CloudTrail_{region}_20240315T10{o:02}Z_x{o}.json.gz"
                );
                let tag = format!("{account}-{region}-{o}");
                put(&s3, bucket, &key, trail_object(&tag, events)).await;
                expected.insert(key);
            }
        }
    }
    let args = [
        "-b",
        bucket,
        "-s",
        "2024-MAR-15",
        "-O",
        "o-abc123",
        "--workers",
        "16",
    ];
    let wazuh = Wazuh::new();
    let mut delivered: Vec<serde_json::Value> = Vec::new();
    for threshold in [50usize, 400, 900] {
        kill_after(&wazuh, &args, threshold);
        delivered.extend(wazuh.take_messages());
        let seen = by_object(&delivered);
        for key in wazuh.table("cloudtrail").into_iter().map(|r| r[3].clone()) {
            let mut names = seen.get(&key).cloned().unwrap_or_default();
            names.sort();
            names.dedup();
            assert_eq!(names.len(), events, "{key} recorded without all its events");
        }
    }
    let run = wazuh.run(&args);
    assert_eq!(run.code, 0, "{}", run.stdout);
    delivered.extend(wazuh.take_messages());
    let seen = by_object(&delivered);
    assert_eq!(seen.len(), expected.len(), "every object delivered");
    let total: usize = seen.values().map(Vec::len).sum();
    let duplicates = total - expected.len() * events;
    // At most the objects in flight at each of the three kills were sent twice.
    assert!(
        duplicates <= 3 * 16 * events,
        "{duplicates} events sent twice"
    );
    assert_eq!(wazuh.table("cloudtrail").len(), expected.len());
    let again = wazuh.run(&args);
    assert_eq!(again.code, 0);
    assert!(wazuh.take_messages().is_empty());
}
