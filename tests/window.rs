//! `--only_logs_before`: a closed window of days, for day folders (CloudTrail), Config's
//! un-padded folders and CloudWatch Logs; with `--reparse` it replays the window and touches
//! nothing newer, and without it the next run goes on where the window ended.

mod common;

use common::*;
use serde_json::json;

const ACCOUNT: &str = "111122223333";

fn rows(wazuh: &Wazuh, table: &str) -> Vec<String> {
    let mut keys: Vec<String> = wazuh
        .table(table)
        .into_iter()
        .map(|r| r[3].clone())
        .collect();
    keys.sort();
    keys
}

fn sent(wazuh: &Wazuh) -> Vec<String> {
    event_names(&wazuh.take_messages())
}

#[tokio::test]
async fn a_window_of_day_folders_is_read_replayed_and_then_continued() {
    let bucket = "it-window-trail";
    let s3 = create_bucket(bucket).await;
    let days = [
        ("2024/03/13", "a"),
        ("2024/03/14", "b"),
        ("2024/03/15", "c"),
        ("2024/03/16", "d"),
    ];
    for (day, id) in days {
        put(
            &s3,
            bucket,
            &trail_key(ACCOUNT, "us-east-1", day, "0810", id),
            trail_object(id, 1),
        )
        .await;
    }
    let wazuh = Wazuh::new();
    let key = |day: &str, id: &str| trail_key(ACCOUNT, "us-east-1", day, "0810", id);

    let run = wazuh.run(&[
        "-b",
        bucket,
        "-s",
        "2024-MAR-14",
        "--only_logs_before",
        "2024-MAR-15",
    ]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(sent(&wazuh), ["b-0", "c-0"]);
    assert_eq!(
        rows(&wazuh, "cloudtrail"),
        [key("2024/03/14", "b"), key("2024/03/15", "c")]
    );

    // Replay one day of it: sent again, nothing newer, the state untouched.
    let before = std::fs::read(wazuh.db_path()).unwrap();
    let replay = [
        "-b",
        bucket,
        "-s",
        "2024-MAR-14",
        "--only_logs_before",
        "2024-MAR-14",
        "--reparse",
    ];
    let run = wazuh.run(&replay);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(sent(&wazuh), ["b-0"]);
    assert_eq!(std::fs::read(wazuh.db_path()).unwrap(), before);

    // Without the flag the next run reads what the window left, once.
    let run = wazuh.run(&["-b", bucket, "-s", "2024-MAR-14"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(sent(&wazuh), ["d-0"]);
}

#[tokio::test]
async fn config_windows_are_judged_by_date_not_by_folder_text() {
    let bucket = "it-window-config";
    let s3 = create_bucket(bucket).await;
    // "2024/10/1" sorts before "2024/9/30" as text.
    for day in [
        "2024/9/29",
        "2024/9/30",
        "2024/10/1",
        "2024/10/2",
        "2024/10/10",
    ] {
        let compact = chrono::NaiveDate::parse_from_str(day, "%Y/%m/%d")
            .unwrap()
            .format("%Y%m%d");
        let key = format!(
            "AWSLogs/{ACCOUNT}/Config/us-east-1/{day}/ConfigHistory/{ACCOUNT}_Config_us-east-1_ConfigHistory_AWS::EC2::Instance_{compact}T060000Z_{compact}T120000Z_1.json.gz"
        );
        let items = json!({"configurationItems": [
            {"resourceType": "AWS::EC2::Instance", "resourceId": day, "configuration": null}
        ]});
        put(&s3, bucket, &key, gzip(items.to_string().as_bytes())).await;
    }
    let ids = |wazuh: &Wazuh| {
        let mut ids: Vec<String> = wazuh
            .take_messages()
            .iter()
            .map(|m| m["aws"]["resourceId"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };
    let wazuh = Wazuh::new();
    let window = [
        "-b",
        bucket,
        "-t",
        "config",
        "-s",
        "2024-SEP-30",
        "--only_logs_before",
        "2024-OCT-2",
    ];
    let run = wazuh.run(&window);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(ids(&wazuh), ["2024/10/1", "2024/10/2", "2024/9/30"]);
    assert_eq!(wazuh.table("config").len(), 3);

    let mut replay = window.to_vec();
    replay.extend(["--reparse"]);
    replay[5] = "2024-OCT-1";
    let run = wazuh.run(&replay);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(ids(&wazuh), ["2024/10/1", "2024/10/2"]);
    assert_eq!(wazuh.table("config").len(), 3, "a replay records nothing");
}

/// Midnight UTC `days_ago` days ago, in epoch ms, and as --only_logs_after writes it.
fn day(days_ago: i64) -> (i64, String) {
    let d = chrono::Utc::now().date_naive() - chrono::Duration::days(days_ago);
    let ms = d.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp_millis();
    (ms, d.format("%Y-%b-%d").to_string().to_uppercase())
}

#[tokio::test]
async fn cloudwatch_events_after_the_window_wait_for_the_next_run() {
    let group = "/it/window";
    let logs = logs().await;
    logs.create_log_group()
        .log_group_name(group)
        .send()
        .await
        .unwrap();
    logs.create_log_stream()
        .log_group_name(group)
        .log_stream_name("s")
        .send()
        .await
        .unwrap();
    // One event an hour into each of three days.
    let events: Vec<_> = (0..3)
        .map(|i| {
            aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                .timestamp(day(3 - i).0 + 3_600_000)
                .message(format!("{{\"id\":\"d{i}\"}}"))
                .build()
                .unwrap()
        })
        .collect();
    logs.put_log_events()
        .log_group_name(group)
        .log_stream_name("s")
        .set_log_events(Some(events))
        .send()
        .await
        .unwrap();
    let ids = |wazuh: &Wazuh| {
        let mut ids: Vec<String> = wazuh
            .take_messages()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };
    let (first, second) = (day(3).1, day(2).1);
    let base = [
        "-sr",
        "cloudwatchlogs",
        "-g",
        group,
        "-r",
        "us-east-1",
        "-s",
    ];
    let wazuh = Wazuh::new();
    let with = |extra: &[&str], after: &str| {
        let mut a = base.to_vec();
        a.push(after);
        a.extend(extra);
        a.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let run_with = |args: Vec<String>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        wazuh.run(&args)
    };

    let run = run_with(with(&["--only_logs_before", &second], &first));
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(ids(&wazuh), ["d0", "d1"]);

    let run = run_with(with(&["--only_logs_before", &second, "--reparse"], &second));
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(ids(&wazuh), ["d1"], "a replay of one day");

    let run = run_with(with(&[], &first));
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(
        ids(&wazuh),
        ["d2"],
        "the next run goes on after the window, once"
    );
    let run = run_with(with(&[], &first));
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(ids(&wazuh).is_empty());
}
