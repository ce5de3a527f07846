//! The real binary against moto and a real datagram socket: CloudTrail end to end.

mod common;

use common::*;
use serde_json::json;

const ACCOUNT: &str = "111122223333";

async fn seed(bucket: &str) -> aws_sdk_s3::Client {
    let s3 = create_bucket(bucket).await;
    for (day, time, id, tag, n) in [
        ("2024/03/13", "2355", "old", "old", 1),
        ("2024/03/14", "0810", "aaa", "d14a", 2),
        ("2024/03/15", "1405", "bbb", "d15a", 3),
    ] {
        put(
            &s3,
            bucket,
            &trail_key(ACCOUNT, "us-east-1", day, time, id),
            trail_object(tag, n),
        )
        .await;
    }
    s3
}

#[tokio::test]
async fn first_run_sends_new_events_and_second_run_sends_nothing() {
    let bucket = "it-ct-basic";
    seed(bucket).await;
    let wazuh = Wazuh::new();
    let args = [
        "--bucket",
        bucket,
        "--only_logs_after",
        "2024-MAR-14",
        "-n",
        "alias-x",
    ];

    let run = wazuh.run(&args);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let messages = wazuh.take_messages();
    assert_eq!(
        event_names(&messages),
        ["d14a-0", "d14a-1", "d15a-0", "d15a-1", "d15a-2"]
    );
    let m = &messages[0]["aws"];
    assert_eq!(messages[0]["integration"], "aws");
    assert_eq!(m["log_info"]["aws_account_alias"], "alias-x");
    assert_eq!(m["log_info"]["s3bucket"], bucket);
    assert_eq!(m["aws_account_id"], ACCOUNT);
    assert_eq!(m["source"], "cloudtrail");
    assert_eq!(m["source_ip_address"], "198.51.100.7");
    assert!(m.get("errorCode").is_none(), "nulls are removed");
    assert_eq!(
        m["resources"],
        json!({"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::b/k"})
    );

    let rows = wazuh.rows("cloudtrail");
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].0, format!("{bucket}/"));
    assert_eq!(rows[0].2, "us-east-1");
    assert_eq!(rows[0].4, 20240314);
    assert_eq!(rows[1].4, 20240315);

    let run = wazuh.run(&args);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(wazuh.take_messages().is_empty());
    assert_eq!(wazuh.rows("cloudtrail").len(), 2);
}

#[tokio::test]
async fn state_file_from_the_python_wodle_is_continued() {
    let bucket = "it-ct-python-state";
    seed(bucket).await;
    let wazuh = Wazuh::new();
    // The reference's schema and rows, as the Python wodle leaves them.
    {
        let conn = rusqlite::Connection::open(wazuh.db_path()).unwrap();
        conn.execute_batch(&format!(
            "CREATE TABLE metadata (key 'text' NOT NULL, value 'text' NOT NULL, PRIMARY KEY (key, value));
             INSERT INTO metadata (key, value) VALUES ('version', 'v4.8.0');
             CREATE TABLE cloudtrail (
                bucket_path 'text' NOT NULL, aws_account_id 'text' NOT NULL,
                aws_region 'text' NOT NULL, log_key 'text' NOT NULL,
                processed_date 'text' NOT NULL, created_date 'integer' NOT NULL,
                PRIMARY KEY (bucket_path, aws_account_id, aws_region, log_key));
             INSERT INTO cloudtrail VALUES ('{bucket}/', '{ACCOUNT}', 'us-east-1', '{}', '2024-03-14 09:00:00', 20240313);
             INSERT INTO cloudtrail VALUES ('{bucket}/', '{ACCOUNT}', 'us-east-1', '{}', '2024-03-14 09:00:00', 20240314);",
            trail_key(ACCOUNT, "us-east-1", "2024/03/13", "2355", "old"),
            trail_key(ACCOUNT, "us-east-1", "2024/03/14", "0810", "aaa")
        ))
        .unwrap();
    }
    let run = wazuh.run(&["--bucket", bucket, "--only_logs_after", "2024-MAR-01"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    // What the Python wodle recorded is neither sent again nor skipped over.
    assert_eq!(
        event_names(&wazuh.take_messages()),
        ["d15a-0", "d15a-1", "d15a-2"]
    );
    let rows = wazuh.rows("cloudtrail");
    assert_eq!(rows.len(), 3);
    let conn = rusqlite::Connection::open(wazuh.db_path()).unwrap();
    let version: String = conn
        .query_row("SELECT value FROM metadata WHERE key='version'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(version, "v4.14.7");
}

#[tokio::test]
async fn new_objects_of_a_later_run_are_sent_once() {
    let bucket = "it-ct-incremental";
    let s3 = seed(bucket).await;
    let wazuh = Wazuh::new();
    let args = ["-b", bucket, "-s", "2024-MAR-14"];
    assert_eq!(wazuh.run(&args).code, 0);
    assert_eq!(wazuh.take_messages().len(), 5);
    put(
        &s3,
        bucket,
        &trail_key(ACCOUNT, "us-east-1", "2024/03/15", "1700", "ccc"),
        trail_object("d15b", 1),
    )
    .await;
    put(
        &s3,
        bucket,
        &trail_key(ACCOUNT, "us-east-1", "2024/03/16", "0100", "ddd"),
        trail_object("d16", 1),
    )
    .await;
    assert_eq!(wazuh.run(&args).code, 0);
    assert_eq!(event_names(&wazuh.take_messages()), ["d15b-0", "d16-0"]);
    // --reparse sends everything again and records nothing new.
    assert_eq!(
        wazuh
            .run(&["-b", bucket, "-s", "2024-MAR-14", "--reparse"])
            .code,
        0
    );
    assert_eq!(wazuh.take_messages().len(), 7);
    assert_eq!(wazuh.rows("cloudtrail").len(), 4);
}

#[tokio::test]
async fn discard_filter_skips_matching_events() {
    let bucket = "it-ct-discard";
    seed(bucket).await;
    let wazuh = Wazuh::new();
    let run = wazuh.run(&[
        "-b",
        bucket,
        "-s",
        "2024-MAR-14",
        "-df",
        "eventName",
        "-dr",
        "d15a-[01]",
    ]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(
        event_names(&wazuh.take_messages()),
        ["d14a-0", "d14a-1", "d15a-2"]
    );
}

#[tokio::test]
async fn corrupt_object_stops_the_run_and_keeps_finished_objects() {
    let bucket = "it-ct-corrupt";
    let s3 = create_bucket(bucket).await;
    put(
        &s3,
        bucket,
        &trail_key(ACCOUNT, "eu-north-1", "2024/09/09", "0900", "ok1"),
        trail_object("ok", 2),
    )
    .await;
    put(
        &s3,
        bucket,
        &trail_key(ACCOUNT, "eu-north-1", "2024/09/09", "1000", "bad"),
        b"not gzip at all".to_vec(),
    )
    .await;
    put(
        &s3,
        bucket,
        &trail_key(ACCOUNT, "eu-north-1", "2024/09/09", "1100", "ok2"),
        trail_object("late", 1),
    )
    .await;
    let wazuh = Wazuh::new();
    let run = wazuh.run(&["-b", bucket, "-s", "2024-SEP-01"]);
    assert_eq!(run.code, 8, "{}", run.stdout);
    assert!(
        run.stdout.contains("ERROR: Invalid gzip file received."),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("_bad.json.gz"),
        "the key is named: {}",
        run.stdout
    );
    assert_eq!(event_names(&wazuh.take_messages()), ["ok-0", "ok-1"]);
    assert_eq!(wazuh.rows("cloudtrail").len(), 1);

    // With --skip_on_error the bad object becomes one error_msg event and the run goes on.
    let run = wazuh.run(&["-b", bucket, "-s", "2024-SEP-01", "--skip_on_error"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let messages = wazuh.take_messages();
    assert_eq!(messages.len(), 2);
    let error = messages
        .iter()
        .find(|m| m.get("error_msg").is_some())
        .unwrap();
    assert!(error["error_msg"].as_str().unwrap().starts_with(&format!(
        "Failed to decompress file {}",
        trail_key(ACCOUNT, "eu-north-1", "2024/09/09", "1000", "bad")
    )));
    assert_eq!(error["aws"]["aws_account_id"], ACCOUNT);
    assert_eq!(wazuh.rows("cloudtrail").len(), 3);
}

#[tokio::test]
async fn remove_deletes_processed_objects_only() {
    let bucket = "it-ct-remove";
    let s3 = seed(bucket).await;
    let wazuh = Wazuh::new();
    let run = wazuh.run(&["-b", bucket, "-s", "2024-MAR-14", "--remove"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(
        keys(&s3, bucket).await,
        [trail_key(ACCOUNT, "us-east-1", "2024/03/13", "2355", "old")]
    );
}

#[tokio::test]
async fn queue_not_running_is_exit_11_and_nothing_recorded() {
    let bucket = "it-ct-noqueue";
    seed(bucket).await;
    let wazuh = Wazuh::without_queue();
    let run = wazuh.run(&["-b", bucket, "-s", "2024-MAR-14"]);
    assert_eq!(run.code, 11, "{}", run.stdout);
    assert!(run.stdout.contains("ERROR: Wazuh must be running."));
    assert!(wazuh.rows("cloudtrail").is_empty());
}

#[tokio::test]
async fn bucket_errors_have_their_exit_codes() {
    let bucket = "it-ct-errors";
    let s3 = create_bucket(bucket).await;
    put(&s3, bucket, "other/readme.txt", b"hi".to_vec()).await;
    let wazuh = Wazuh::new();
    // A folder, but no AWSLogs/ in it.
    let run = wazuh.run(&["-b", bucket, "-s", "2024-JAN-01"]);
    assert_eq!(run.code, 18, "{}", run.stdout);
    // A prefix with nothing under it.
    let run = wazuh.run(&["-b", bucket, "-l", "nothing", "-s", "2024-JAN-01"]);
    assert_eq!(run.code, 14, "{}", run.stdout);
    assert!(run.stdout.contains(&format!(
        "ERROR: No files were found in '{bucket}/nothing/'."
    )));
    let run = wazuh.run(&["-b", "it-no-such-bucket", "-s", "2024-JAN-01"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stdout.contains("NoSuchBucket"), "{}", run.stdout);
    let run = wazuh.run(&["-b", bucket, "-t", "firewall"]);
    assert_eq!(
        (run.code, run.stdout.trim()),
        (12, "ERROR: Invalid type of bucket")
    );
    let run = wazuh.run(&["-b", bucket, "-r", "us-nowhere-1"]);
    assert_eq!((run.code, run.stdout.as_str()), (22, ""));
    let run = wazuh.run(&["-b", bucket, "-s", "2024-13-01"]);
    assert_eq!(run.code, 2);
    let run = wazuh.run(&["-b", bucket, "-rd", "900"]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("no --iam_role_arn provided"));
    let run = wazuh.run(&["-b", bucket, "-p", "missing-profile"]);
    assert_eq!(run.code, 23, "{}", run.stdout);
    let run = wazuh.run(&["-b", bucket, "-se", "not-a-url"]);
    assert_eq!(run.code, 15, "{}", run.stdout);
}

#[tokio::test]
async fn iam_role_is_assumed_through_sts() {
    let bucket = "it-ct-role";
    seed(bucket).await;
    let wazuh = Wazuh::new();
    let run = wazuh.run(&[
        "-b",
        bucket,
        "-s",
        "2024-MAR-15",
        "-i",
        "arn:aws:iam::123456789012:role/wazuh-reader",
        "-rd",
        "900",
        "-st",
        moto_url(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(wazuh.take_messages().len(), 3);
}

#[tokio::test]
async fn secrets_are_never_printed() {
    let bucket = "it-ct-secret";
    seed(bucket).await;
    let wazuh = Wazuh::new();
    let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY";
    let run = wazuh.run(&[
        "-b",
        bucket,
        "-s",
        "2024-MAR-15",
        "-d",
        "3",
        "--access_key",
        "AKIAIOSFODNN7EXAMPLE",
        "--secret_key",
        secret,
    ]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.stdout.contains("DEBUG: Args:"), "{}", run.stdout);
    assert!(run.stdout.contains("deprecated"), "{}", run.stdout);
    assert!(!run.stdout.contains(secret), "{}", run.stdout);
    assert!(!run.stdout.contains("K7MDENG"), "{}", run.stdout);
}

#[tokio::test]
async fn root_is_found_from_the_program_path() {
    let bucket = "it-ct-root";
    seed(bucket).await;
    let wazuh = Wazuh::new();
    let installed = wazuh.root().join("wodles/aws/aws-s3");
    std::fs::copy(env!("CARGO_BIN_EXE_aws-s3"), &installed).unwrap();
    let run = Wazuh::finish(wazuh.command(&installed, &["-b", bucket, "-s", "2024-MAR-15"]));
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(wazuh.take_messages().len(), 3);
    assert_eq!(wazuh.rows("cloudtrail").len(), 1);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(wazuh.db_path())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o640);
}
