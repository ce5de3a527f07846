//! `--service cloudwatchlogs` against moto's CloudWatch Logs: a state file left by the
//! Python wodle is continued, kills lose nothing, throttling is retried.

mod common;

use common::analysisd;
use common::fault_proxy::{self, Fault};
use common::*;
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

/// Yesterday (moto keeps 14 days of events), as --only_logs_after and in epoch ms.
fn yesterday() -> (String, i64) {
    let day = chrono::Utc::now().date_naive() - chrono::Duration::days(1);
    let ms = day
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp_millis();
    (day.format("%Y-%b-%d").to_string().to_uppercase(), ms)
}

/// A group of `streams` streams of `events` JSON events each; returns each stream's last
/// timestamp.
async fn seed(group: &str, streams: usize, events: usize) -> Vec<i64> {
    let logs = logs().await;
    logs.create_log_group()
        .log_group_name(group)
        .send()
        .await
        .unwrap();
    let (_, day) = yesterday();
    let mut last = Vec::new();
    for s in 0..streams {
        let stream = format!("stream-{s:03}");
        logs.create_log_stream()
            .log_group_name(group)
            .log_stream_name(&stream)
            .send()
            .await
            .unwrap();
        let batch: Vec<_> = (0..events)
            .map(|e| {
                aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                    .timestamp(day + 3_600_000 + (e as i64) * 1000)
                    .message(format!("{{\"id\":\"s{s}-e{e}\"}}"))
                    .build()
                    .unwrap()
            })
            .collect();
        last.push(day + 3_600_000 + (events as i64 - 1) * 1000);
        logs.put_log_events()
            .log_group_name(group)
            .log_stream_name(&stream)
            .set_log_events(Some(batch))
            .send()
            .await
            .unwrap();
    }
    last
}

fn args(group: &str) -> Vec<String> {
    let (after, _) = yesterday();
    [
        "-sr",
        "cloudwatchlogs",
        "-g",
        group,
        "-r",
        "us-east-1",
        "-s",
        &after,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn counts(wazuh: &Wazuh) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for m in wazuh.take_messages() {
        *counts
            .entry(m["id"].as_str().unwrap().to_string())
            .or_insert(0) += 1;
    }
    counts
}

fn rows(wazuh: &Wazuh) -> Vec<(String, Option<String>, i64, i64)> {
    let db = rusqlite::Connection::open(wazuh.root().join("wodles/aws/aws_services.db")).unwrap();
    let mut st = db
        .prepare("SELECT aws_log_stream, next_token, start_time, end_time FROM cloudwatch_logs ORDER BY 1")
        .unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
}

#[tokio::test]
async fn a_state_file_left_by_the_python_wodle_is_continued() {
    let group = "/it/python-state";
    let last = seed(group, 2, 3).await;
    let (_, day) = yesterday();
    let wazuh = Wazuh::new();
    // What the Python wodle leaves after reading stream-000 (moto's token after 3 events).
    let db = rusqlite::Connection::open(wazuh.root().join("wodles/aws/aws_services.db")).unwrap();
    db.execute_batch(
        "CREATE TABLE metadata (key 'text' NOT NULL, value 'text' NOT NULL, PRIMARY KEY (key, value));
         INSERT INTO metadata VALUES ('version', 'v4.14.7');
         CREATE TABLE cloudwatch_logs (aws_region 'text' NOT NULL, aws_log_group 'text' NOT NULL,
            aws_log_stream 'text' NOT NULL, next_token 'text', start_time 'integer',
            end_time 'integer', PRIMARY KEY (aws_region, aws_log_group, aws_log_stream));",
    )
    .unwrap();
    let token = format!("f/{:056}", 2);
    db.execute(
        "INSERT INTO cloudwatch_logs VALUES ('us-east-1', ?1, 'stream-000', ?2, ?3, ?4)",
        rusqlite::params![group, token, day, last[0]],
    )
    .unwrap();
    drop(db);
    let args = args(group);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = wazuh.run(&args);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let mut sent: Vec<String> = counts(&wazuh).into_keys().collect();
    sent.sort();
    assert_eq!(
        sent,
        ["s1-e0", "s1-e1", "s1-e2"],
        "only the stream it had not read"
    );
    let rows = rows(&wazuh);
    assert_eq!(rows[0].2, day);
    assert_eq!(
        rows[0].3,
        last[0] + 1,
        "nothing new: the window start becomes the end"
    );
    assert_eq!((rows[1].2, rows[1].3), (day, last[1]));
    // And a second run sends nothing.
    assert_eq!(wazuh.run(&args).code, 0);
    assert!(counts(&wazuh).is_empty());
}

#[tokio::test]
async fn killed_runs_lose_no_event_and_resend_only_streams_in_flight() {
    let group = "/it/kills";
    seed(group, 40, 100).await;
    let wazuh = Wazuh::new();
    let args = args(group);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut all: HashMap<String, usize> = HashMap::new();
    for ms in [150, 400, 700] {
        let mut cmd = wazuh.command(Path::new(env!("CARGO_BIN_EXE_aws-s3")), &args);
        cmd.env("WAZUH_ROOT", wazuh.root());
        let mut child = cmd.spawn().unwrap();
        std::thread::sleep(Duration::from_millis(ms));
        child.kill().unwrap();
        child.wait().unwrap();
        for (id, n) in counts(&wazuh) {
            *all.entry(id).or_default() += n;
        }
    }
    let run = wazuh.run(&args);
    assert_eq!(run.code, 0, "{}", run.stdout);
    for (id, n) in counts(&wazuh) {
        *all.entry(id).or_default() += n;
    }
    assert_eq!(all.len(), 40 * 100, "no event lost");
    let twice: usize = all.values().map(|n| n - 1).sum();
    // A kill re-sends at most the streams fetched ahead (8) beyond the one being delivered.
    assert!(twice <= 3 * 9 * 100, "{twice} events sent again");
}

#[tokio::test]
async fn throttling_is_retried_and_the_run_completes() {
    let group = "/it/throttled";
    seed(group, 4, 20).await;
    let proxy = fault_proxy::start(
        moto_url(),
        Box::new(|method, _path, n| match method == "POST" && n % 3 == 1 {
            true => Fault::JsonError(400, "ThrottlingException"),
            false => Fault::Pass,
        }),
    );
    let wazuh = Wazuh::new();
    let mut args = args(group);
    args.extend(["-se".to_string(), proxy.url.clone()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = wazuh.run(&args);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(counts(&wazuh).len(), 4 * 20);
    let throttled = proxy.injected();
    assert!(throttled >= 3, "throttled {throttled} times");
}

/// Into a manager whose analysisd decodes slowly: every event kept, each stream's position
/// stored once its events were confirmed.
#[tokio::test]
async fn into_a_slow_manager_no_event_is_lost() {
    let group = "it-cw-slow-manager";
    let last = seed(group, 4, 500).await;
    let (wazuh, analysisd) = Wazuh::with_analysisd(analysisd::Config {
        queue_size: 512,
        decode_rate: 1000,
    });
    let args = args(group);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = wazuh.run(&args);
    assert_eq!(run.code, 0, "{}", run.stdout);
    analysisd.wait_idle(Duration::from_secs(30));
    let counts = counts(&wazuh);
    assert_eq!(counts.len(), 4 * 500, "every event kept");
    assert_eq!(analysisd.aws_dropped(), 0, "paced: nothing dropped");
    let stored: Vec<i64> = rows(&wazuh).iter().map(|r| r.3).collect();
    assert_eq!(stored, last);
}
