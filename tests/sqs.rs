//! `--subscriber` runs against moto's SQS and S3: several collectors on one queue, kills,
//! a message kept invisible while its object is slow, messages that cannot be read, and S3
//! faults. Every test counts what reached the Wazuh socket and what was left in the queue.

mod common;

use aws_sdk_sqs::types::QueueAttributeName;
use common::analysisd;
use common::fault_proxy::{self, Fault};
use common::*;
use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

const EVENTS: usize = 5;

/// A queue with this visibility timeout; its URL.
async fn queue(name: &str, visibility_secs: u32) -> String {
    sqs_queue_with(name, visibility_secs, None).await
}

/// `objects` objects of EVENTS JSON events each, one S3 notification per object.
async fn seed(bucket: &str, url: &str, objects: usize) {
    let s3 = create_bucket(bucket).await;
    let sqs = sqs().await;
    for i in 0..objects {
        let key = format!("app/2024/06/10/part {i:04}.json");
        let body: String = (0..EVENTS)
            .map(|e| format!("{{\"id\":\"o{i}-{e}\",\"n\":{e}}}\n"))
            .collect();
        put(&s3, bucket, &key, body.into_bytes()).await;
        notify(&sqs, url, bucket, &key).await;
    }
}

async fn notify(sqs: &aws_sdk_sqs::Client, url: &str, bucket: &str, key: &str) {
    let record = serde_json::json!({"Records": [{
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": bucket}, "object": {"key": key.replace(' ', "+")}}
    }]});
    send(sqs, url, &record.to_string()).await;
}

async fn send(sqs: &aws_sdk_sqs::Client, url: &str, body: &str) {
    sqs.send_message()
        .queue_url(url)
        .message_body(body)
        .send()
        .await
        .unwrap();
}

/// Messages not deleted: visible or still invisible.
async fn left(url: &str) -> usize {
    let attrs = sqs()
        .await
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .unwrap();
    let attrs = attrs.attributes().unwrap();
    [
        QueueAttributeName::ApproximateNumberOfMessages,
        QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
    ]
    .iter()
    .map(|a| attrs[a].parse::<usize>().unwrap())
    .sum()
}

/// How many times each event id arrived.
fn counts(wazuh: &Wazuh) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for m in wazuh.take_messages() {
        let id = m["aws"]["id"].as_str().unwrap_or("?").to_string();
        *counts.entry(id).or_insert(0) += 1;
    }
    counts
}

fn spawn(wazuh: &Wazuh, args: &[&str]) -> Child {
    let mut cmd = wazuh.command(Path::new(env!("CARGO_BIN_EXE_aws-s3")), args);
    cmd.env("WAZUH_ROOT", wazuh.root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.spawn().unwrap()
}

#[tokio::test]
async fn three_collectors_on_one_queue_send_every_event_once() {
    let url = queue("it-sqs-scale", 600).await;
    seed("it-sqs-scale", &url, 300).await;
    let wazuh = Wazuh::new();
    let args = ["-sb", "buckets", "-q", "it-sqs-scale", "--workers", "8"];
    let runs: Vec<Child> = (0..3).map(|_| spawn(&wazuh, &args)).collect();
    for run in runs {
        let out = run.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    let counts = counts(&wazuh);
    assert_eq!(counts.len(), 300 * EVENTS, "every event arrived");
    let twice = counts.values().filter(|&&n| n > 1).count();
    assert_eq!(
        twice, 0,
        "a visibility timeout longer than the run: nothing redelivered"
    );
    assert_eq!(left(&url).await, 0);
}

#[tokio::test]
async fn killed_runs_lose_no_event() {
    let url = queue("it-sqs-kills", 2).await;
    seed("it-sqs-kills", &url, 60).await;
    let wazuh = Wazuh::new();
    let args = ["-sb", "buckets", "-q", "it-sqs-kills", "--workers", "4"];
    for ms in [300, 700, 1100] {
        let mut run = spawn(&wazuh, &args);
        std::thread::sleep(Duration::from_millis(ms));
        run.kill().unwrap();
        run.wait().unwrap();
    }
    let last = wazuh.run(&args);
    assert_eq!(last.code, 0, "{}", last.stdout);
    let counts = counts(&wazuh);
    assert_eq!(counts.len(), 60 * EVENTS, "no event lost");
    assert_eq!(left(&url).await, 0);
}

#[tokio::test]
async fn a_slow_object_stays_invisible_and_is_sent_once() {
    let bucket = "it-sqs-slow";
    let url = queue(bucket, 2).await;
    seed(bucket, &url, 3).await;
    // The second object takes longer than the visibility timeout to download.
    let proxy = fault_proxy::start(
        moto_url(),
        Box::new(
            |method, path, _| match method == "GET" && path.contains("0001.json") {
                true => Fault::Delay(Duration::from_secs(5)),
                false => Fault::Pass,
            },
        ),
    );
    let wazuh = Wazuh::new();
    let run = wazuh.run(&["-sb", "buckets", "-q", bucket, "-se", &proxy.url]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let counts = counts(&wazuh);
    assert_eq!(counts.len(), 3 * EVENTS);
    assert!(counts.values().all(|&n| n == 1), "sent once: {counts:?}");
    assert_eq!(left(&url).await, 0);
}

#[tokio::test]
async fn unreadable_messages_are_left_and_the_run_ends_normally() {
    let bucket = "it-sqs-poison";
    let url = queue(bucket, 600).await;
    let sqs = sqs().await;
    send(&sqs, &url, "not a notification").await;
    send(&sqs, &url, r#"{"AlarmName": "x"}"#).await;
    seed(bucket, &url, 1).await;
    let wazuh = Wazuh::new();
    let run = wazuh.run(&["-sb", "buckets", "-q", bucket]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(run.stdout, "", "nothing printed without --debug");
    assert_eq!(counts(&wazuh).len(), EVENTS);
    assert_eq!(
        left(&url).await,
        2,
        "the two bodies wait for the redrive policy"
    );
}

#[tokio::test]
async fn s3_faults_leave_their_messages_in_the_queue() {
    let bucket = "it-sqs-faults";
    let url = queue(bucket, 600).await;
    seed(bucket, &url, 3).await;
    let proxy = fault_proxy::start(
        moto_url(),
        Box::new(
            |method, path, _| match method == "GET" && path.contains("0001.json") {
                true => Fault::Error(500, "InternalError"),
                false => Fault::Pass,
            },
        ),
    );
    let wazuh = Wazuh::new();
    std::fs::write(
        wazuh.home.join(".aws/config"),
        "[default]\nregion = us-east-1\nmax_attempts = 2\ns3 =\n    addressing_style = path\n",
    )
    .unwrap();
    let args = [
        "-sb",
        "buckets",
        "-q",
        bucket,
        "-se",
        &proxy.url,
        "--skip_on_error",
    ];
    let run = wazuh.run(&args);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.stdout.contains("stays in the queue"), "{}", run.stdout);
    assert_eq!(counts(&wazuh).len(), 2 * EVENTS, "the two other objects");
    assert_eq!(left(&url).await, 1, "the object S3 failed to serve");
}

/// Into a manager whose analysisd decodes slowly and has little room: every event kept, and
/// every message deleted only once its events were confirmed (none left at the end).
#[tokio::test]
async fn into_a_slow_manager_nothing_is_lost_and_every_message_goes() {
    let url = queue("it-sqs-slow-manager", 600).await;
    seed("it-sqs-slow-manager", &url, 200).await;
    let (wazuh, analysisd) = Wazuh::with_analysisd(analysisd::Config {
        queue_size: 256,
        decode_rate: 500,
    });
    let run = wazuh.run(&["-sb", "buckets", "-q", "it-sqs-slow-manager", "-d", "1"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.stdout.contains("Pacing: analysisd"), "{}", run.stdout);
    analysisd.wait_idle(Duration::from_secs(30));
    let counts = counts(&wazuh);
    assert_eq!(counts.len(), 200 * EVENTS, "every event kept");
    assert_eq!(analysisd.aws_dropped(), 0, "paced: nothing dropped");
    assert_eq!(left(&url).await, 0, "every message deleted");
}

/// `--allowed_buckets`: a message naming another bucket is left in the queue unread; the
/// listed bucket is read as before.
#[tokio::test]
async fn only_allowed_buckets_are_read() {
    let url = queue("it-sqs-allowed", 600).await;
    seed("it-sqs-allowed", &url, 2).await;
    seed("it-sqs-foreign", &url, 1).await;
    let wazuh = Wazuh::new();
    let run = wazuh.run(&[
        "-sb",
        "buckets",
        "-q",
        "it-sqs-allowed",
        "--allowed_buckets",
        "it-sqs-allowed,other-bucket:123456789012",
        "-d",
        "1",
    ]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stdout.contains("names bucket it-sqs-foreign"),
        "{}",
        run.stdout
    );
    let counts = counts(&wazuh);
    assert_eq!(counts.len(), 2 * EVENTS, "the allowed bucket's events");
    assert_eq!(left(&url).await, 1, "the foreign message is left");
    let bad = wazuh.run(&["-sb", "buckets", "-q", "x", "--allowed_buckets", "ok:12"]);
    assert_eq!(bad.code, 2, "{}", bad.stdout);
}

/// Issue 25: a run that ends early (exit 12 on a missing object) gives back what it held and
/// leaves no receive in flight: a message sent a second later is read by the next run at
/// once, and so is the one that failed.
#[tokio::test]
async fn an_early_end_leaves_no_message_hidden() {
    let bucket = "it-sqs-early-end";
    let url = queue(bucket, 600).await;
    create_bucket(bucket).await;
    let sqs = sqs().await;
    notify(&sqs, &url, bucket, "app/2024/06/10/missing.json").await;
    let wazuh = Wazuh::new();
    let first = wazuh.run(&["-sb", "buckets", "-q", bucket, "-d", "2"]);
    assert_eq!(first.code, 12, "{}", first.stdout);
    assert!(
        !first.stdout.contains("still in flight"),
        "no long receive in flight: {}",
        first.stdout
    );
    assert!(
        first.stdout.contains("given back to the queue"),
        "{}",
        first.stdout
    );
    std::thread::sleep(Duration::from_secs(1));
    let s3 = s3().await;
    put(
        &s3,
        bucket,
        "app/2024/06/10/late.json",
        b"{\"id\":\"late\"}\n".to_vec(),
    )
    .await;
    notify(&sqs, &url, bucket, "app/2024/06/10/late.json").await;
    let started = std::time::Instant::now();
    let second = wazuh.run(&["-sb", "buckets", "-q", bucket, "--skip_on_error"]);
    assert_eq!(second.code, 0, "{}", second.stdout);
    let messages = wazuh.take_messages();
    assert!(
        messages.iter().any(|m| m["aws"]["id"] == "late"),
        "the late message is read: {messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.get("error_msg").is_some()),
        "the failed message came back at once: {messages:?}"
    );
    assert_eq!(left(&url).await, 0);
    assert!(started.elapsed() < Duration::from_secs(60));
}

/// Issue 25: SIGTERM in the middle of a 300-message queue (a slow manager keeps the run busy):
/// exit 143, and the next run processes every message without waiting for a visibility
/// timeout (600 s here).
#[tokio::test]
async fn sigterm_gives_held_messages_back() {
    let url = queue("it-sqs-sigterm", 600).await;
    seed("it-sqs-sigterm", &url, 300).await;
    let (wazuh, _analysisd) = Wazuh::with_analysisd(analysisd::Config {
        queue_size: 256,
        decode_rate: 400,
    });
    let args = [
        "-sb",
        "buckets",
        "-q",
        "it-sqs-sigterm",
        "--workers",
        "8",
        "-d",
        "2",
    ];
    let run = spawn(&wazuh, &args);
    std::thread::sleep(Duration::from_secs(2));
    unsafe { libc::kill(run.id() as i32, libc::SIGTERM) };
    let out = run.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(143), "{stdout}");
    assert!(stdout.contains("given back to the queue"), "{stdout}");
    let started = std::time::Instant::now();
    let second = wazuh.run(&args);
    assert_eq!(second.code, 0, "{}", second.stdout);
    let counts = counts(&wazuh);
    assert_eq!(counts.len(), 300 * EVENTS, "every message processed");
    assert_eq!(left(&url).await, 0);
    eprintln!(
        "second run after SIGTERM: {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
