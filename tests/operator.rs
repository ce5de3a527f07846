//! What operators use around a run: dry runs (--output), another socket, the run summary,
//! and that no mode needs the Python wodle.

mod common;

use common::*;

const ACCOUNT: &str = "111122223333";

async fn seed(bucket: &str) {
    two_trail_objects(bucket, ACCOUNT).await;
}

fn lines_of(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .filter_map(|l| l.strip_prefix(HEADER))
        .map(|j| serde_json::from_str(j).unwrap())
        .collect()
}

#[tokio::test]
async fn dry_run_writes_messages_and_leaves_the_state_alone() {
    let bucket = "it-op-dry-run";
    seed(bucket).await;
    let wazuh = Wazuh::new();
    let out = wazuh.dir.path().join("messages.txt");
    let out_arg = out.to_str().unwrap();
    let run = wazuh.run(&["-b", bucket, "-s", "2024-MAR-15", "--output", out_arg]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let dry = lines_of(&std::fs::read_to_string(&out).unwrap());
    assert_eq!(dry.len(), 5);
    assert!(
        wazuh.take_messages().is_empty(),
        "nothing reaches the queue"
    );
    assert!(!wazuh.db_path().exists(), "no state file is created");

    // The real run sends exactly what the dry run wrote.
    let run = wazuh.run(&["-b", bucket, "-s", "2024-MAR-15"]);
    assert_eq!(run.code, 0);
    let mut real = wazuh.take_messages();
    let mut dry = dry;
    let key = |v: &serde_json::Value| v.to_string();
    real.sort_by_key(key);
    dry.sort_by_key(key);
    assert_eq!(real, dry);

    // A dry run over an existing state skips what was processed and changes nothing.
    let before = std::fs::read(wazuh.db_path()).unwrap();
    let run = wazuh.run(&["-b", bucket, "-s", "2024-MAR-15", "--output", "-"]);
    assert_eq!(run.code, 0);
    assert!(lines_of(&run.stdout).is_empty(), "{}", run.stdout);
    assert_eq!(std::fs::read(wazuh.db_path()).unwrap(), before);
}

#[tokio::test]
async fn dry_run_to_stdout_and_update_state() {
    let bucket = "it-op-update-state";
    seed(bucket).await;
    let wazuh = Wazuh::new();
    let run = wazuh.run(&[
        "-b",
        bucket,
        "-s",
        "2024-MAR-15",
        "--output",
        "-",
        "--update_state",
    ]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(lines_of(&run.stdout).len(), 5);
    assert_eq!(wazuh.rows("cloudtrail").len(), 2);
}

#[tokio::test]
async fn another_socket_path() {
    let bucket = "it-op-socket";
    seed(bucket).await;
    let wazuh = Wazuh::without_queue();
    let path = wazuh.dir.path().join("other.sock");
    let reader = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
    let run = wazuh.run(&[
        "-b",
        bucket,
        "-s",
        "2024-MAR-15",
        "--queue_socket",
        path.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    reader.set_nonblocking(true).unwrap();
    let mut buf = vec![0u8; 1 << 16];
    let mut n = 0;
    while reader.recv(&mut buf).is_ok() {
        n += 1;
    }
    assert_eq!(n, 5);
}

/// wazuh-modulesd turns every printed line into an event: a successful run without
/// `--debug` prints nothing, and the totals are a debug line.
#[tokio::test]
async fn a_plain_run_prints_nothing_and_debug_1_shows_the_totals() {
    let bucket = "it-op-summary";
    seed(bucket).await;
    let wazuh = Wazuh::new();
    let args = [
        "-b",
        bucket,
        "-s",
        "2024-MAR-15",
        "-df",
        "eventName",
        "-dr",
        "a-0",
    ];
    let run = wazuh.run(&args);
    assert_eq!(run.code, 0);
    assert_eq!(
        run.stdout, "",
        "stdout and stderr of a plain successful run"
    );
    assert_eq!(wazuh.take_messages().len(), 4);

    let run = wazuh.run(&[&args[..], &["--reparse", "--debug", "1"]].concat());
    assert_eq!(run.code, 0);
    let line = run
        .stdout
        .lines()
        .find(|l| l.starts_with("DEBUG: Run summary:"))
        .unwrap_or_else(|| panic!("no summary line in {}", run.stdout));
    assert!(
        line.contains("2 objects listed, 0 skipped as processed, 2 processed, 0 failed, 4 events sent, 1 events discarded"),
        "{line}"
    );
    let run = wazuh.run(&["-b", bucket, "-s", "2024-MAR-15", "-d", "1"]);
    assert!(
        run.stdout
            .contains("2 objects listed, 2 skipped as processed, 0 processed"),
        "{}",
        run.stdout
    );
}

/// Every mode runs in this binary: an installation without the Python wodle, its bundled
/// Python or boto3 runs --service and --subscriber runs all the same.
#[test]
fn no_mode_needs_the_python_wodle() {
    let wazuh = Wazuh::new();
    assert!(!wazuh.root().join("framework").exists());
    let run = wazuh.run(&["-sr", "inspector", "-r", "ap-east-2", "-s", "2024-JUN-01"]);
    assert_eq!(
        run.code, 22,
        "an unsupported region, answered natively: {}",
        run.stdout
    );
    assert_eq!(run.stdout, "");
    let run = wazuh.run(&["-sb", "security_lake", "-q", "my-queue"]);
    assert_eq!(run.code, 21, "{}", run.stdout);
    assert_eq!(
        run.stdout,
        "ERROR: Used a subscriber but no --iam_role_arn provided.\n"
    );
}

#[tokio::test]
async fn odd_keys_are_opaque_strings() {
    let bucket = "it-op-odd-keys";
    let s3 = create_bucket(bucket).await;
    let keys = [
        "events/2024/07/07/07/with space-2024-07-07-07-10-00-a.gz",
        "events/2024/07/07/07/ünïcødé-2024-07-07-07-10-00-b.gz",
        "events/2024/07/07/07/../dots-2024-07-07-07-10-00-c.gz",
        "events/2024/07/07/07/per%20cent-2024-07-07-07-10-00-d.gz",
    ];
    for (i, key) in keys.iter().enumerate() {
        let body = format!("{{\"source\":\"aws.x\",\"detail\":{{\"n\":{i}}}}}");
        put(&s3, bucket, key, gzip(body.as_bytes())).await;
    }
    let wazuh = Wazuh::new();
    let (_, messages) = wazuh.two_runs(&[
        "-b",
        bucket,
        "-t",
        "custom",
        "-l",
        "events",
        "-s",
        "2024-JUL-07",
    ]);
    let mut files: Vec<String> = messages
        .iter()
        .map(|m| {
            m["aws"]["log_info"]["log_file"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    files.sort();
    let mut expected: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    expected.sort();
    assert_eq!(files, expected);
    let mut recorded: Vec<String> = wazuh
        .table("custom")
        .into_iter()
        .map(|r| r[2].clone())
        .collect();
    recorded.sort();
    assert_eq!(recorded, expected);
}

#[tokio::test]
async fn a_slow_queue_reader_slows_the_run_down_and_loses_nothing() {
    let bucket = "it-op-slow-reader";
    let s3 = create_bucket(bucket).await;
    for i in 0..20 {
        put(
            &s3,
            bucket,
            &trail_key(
                ACCOUNT,
                "us-east-1",
                "2024/03/15",
                &format!("{:04}", i),
                &format!("s{i}"),
            ),
            trail_object(&format!("s{i:02}"), 200),
        )
        .await;
    }
    let wazuh = Wazuh::without_queue();
    let path = wazuh.root().join("queue/sockets/queue");
    let reader = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
    // A small receive buffer and a reader that stops for a while: the sender must wait.
    reader
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let mut cmd = wazuh.command(
        std::path::Path::new(env!("CARGO_BIN_EXE_aws-s3")),
        &["-b", bucket, "-s", "2024-MAR-15"],
    );
    cmd.env("WAZUH_ROOT", wazuh.root());
    let child = cmd.stdout(std::process::Stdio::piped()).spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let mut buf = vec![0u8; 1 << 16];
    let mut count = 0;
    while let Ok(n) = reader.recv(&mut buf) {
        assert!(buf[..n].starts_with(HEADER.as_bytes()));
        count += 1;
        if count == 4000 {
            break;
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(
        count, 4000,
        "every event arrived although the reader paused"
    );
}
