//! Faults from S3, through a fault-injecting proxy in front of moto: the run retries what
//! can be retried and finishes with the right messages; when it cannot, it stops with the
//! documented exit code having recorded only objects it fully sent.

mod common;

use common::fault_proxy::{self, Fault};
use common::*;
use std::time::Duration;

const ACCOUNT: &str = "111122223333";

async fn seed(bucket: &str, objects: usize) {
    let s3 = create_bucket(bucket).await;
    for i in 0..objects {
        put(
            &s3,
            bucket,
            &trail_key(
                ACCOUNT,
                "us-east-1",
                "2024/03/15",
                &format!("{:04}", i),
                &format!("f{i}"),
            ),
            trail_object(&format!("f{i}"), 30),
        )
        .await;
    }
}

fn is_get_object(method: &str, path: &str) -> bool {
    method == "GET" && path.contains("/AWSLogs/") && path.contains(".json.gz")
}

fn run_through(wazuh: &Wazuh, proxy: &str, bucket: &str) -> RunResult {
    wazuh.run(&[
        "-b",
        bucket,
        "-s",
        "2024-MAR-15",
        "-se",
        proxy,
        "--workers",
        "4",
    ])
}

#[tokio::test]
async fn transient_errors_are_retried_and_the_run_completes() {
    let bucket = "it-faults-transient";
    seed(bucket, 6).await;
    // Each object's first GET fails in its own way; listings are slowed down once.
    let proxy = fault_proxy::start(
        moto_url(),
        Box::new(|method, path, n| match (is_get_object(method, path), n) {
            (true, 0) => match path.len() % 4 {
                0 => Fault::Error(503, "SlowDown"),
                1 => Fault::Error(500, "InternalError"),
                2 => Fault::Reset,
                _ => Fault::Error(503, "ServiceUnavailable"),
            },
            (false, 0) if path.contains("list-type=2") => Fault::Delay(Duration::from_millis(300)),
            _ => Fault::Pass,
        }),
    );
    let wazuh = Wazuh::new();
    let run = run_through(&wazuh, &proxy.url, bucket);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(wazuh.take_messages().len(), 6 * 30);
    assert_eq!(wazuh.rows("cloudtrail").len(), 6);
    let injected = proxy
        .log
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, _, f)| *f != Fault::Pass)
        .count();
    assert!(injected >= 6, "faults were injected: {injected}");
}

#[tokio::test]
async fn a_cut_body_stops_the_run_and_is_never_recorded() {
    let bucket = "it-faults-truncated";
    seed(bucket, 4).await;
    let proxy = fault_proxy::start(
        moto_url(),
        Box::new(|method, path, _| {
            if is_get_object(method, path) && path.contains("_f2.json.gz") {
                Fault::Truncate
            } else {
                Fault::Pass
            }
        }),
    );
    let wazuh = Wazuh::new();
    let run = run_through(&wazuh, &proxy.url, bucket);
    assert_eq!(run.code, 7, "{}", run.stdout);
    assert!(run.stdout.contains("_f2.json.gz"), "{}", run.stdout);
    let rows: Vec<String> = wazuh.rows("cloudtrail").into_iter().map(|r| r.3).collect();
    assert_eq!(rows.len(), 2, "the objects before the cut one: {rows:?}");
    assert!(rows.iter().all(|k| !k.contains("_f2.")));
    let first = wazuh.take_messages();
    assert!(first.iter().all(|m| !m["aws"]["log_info"]["log_file"]
        .as_str()
        .unwrap()
        .contains("_f2.")));
    // Once S3 behaves, the next run reads the rest.
    let run = wazuh.run(&["-b", bucket, "-s", "2024-MAR-15"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(wazuh.rows("cloudtrail").len(), 4);
}

#[tokio::test]
async fn exhausted_retries_end_the_run_with_the_documented_code() {
    let bucket = "it-faults-throttled";
    seed(bucket, 3).await;
    let proxy = fault_proxy::start(
        moto_url(),
        Box::new(|method, path, _| {
            if is_get_object(method, path) && path.contains("_f1.json.gz") {
                Fault::Error(503, "SlowDown")
            } else {
                Fault::Pass
            }
        }),
    );
    let wazuh = Wazuh::new();
    std::fs::write(
        wazuh.home.join(".aws/config"),
        "[default]\nregion = us-east-1\nmax_attempts = 2\ns3 =\n    addressing_style = path\n",
    )
    .unwrap();
    let run = run_through(&wazuh, &proxy.url, bucket);
    assert_eq!(run.code, 16, "{}", run.stdout);
    assert!(run.stdout.contains("throttling"), "{}", run.stdout);
    let rows: Vec<String> = wazuh.rows("cloudtrail").into_iter().map(|r| r.3).collect();
    assert_eq!(rows.len(), 1, "only the object before: {rows:?}");
}

#[tokio::test]
async fn an_unreachable_endpoint_is_exit_15() {
    let bucket = "it-faults-unreachable";
    seed(bucket, 1).await;
    let wazuh = Wazuh::new();
    std::fs::write(
        wazuh.home.join(".aws/config"),
        "[default]\nregion = us-east-1\nmax_attempts = 1\ns3 =\n    addressing_style = path\n",
    )
    .unwrap();
    let run = wazuh.run(&["-b", bucket, "-se", "http://127.0.0.1:9"]);
    assert_eq!(run.code, 15, "{}", run.stdout);
}
