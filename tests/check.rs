//! `--check` against moto and the Wazuh stand-ins: a good setup passes every check; each
//! broken one fails the right line with its fix while the other checks still run; nothing is
//! ever sent, and no state file is created or changed.

mod common;

use common::fault_proxy::{self, Fault};
use common::*;
use std::os::unix::fs::PermissionsExt;

const ACCOUNT: &str = "111122223333";

/// `(result, check, rest of the line)` of every check line.
fn lines(stdout: &str) -> Vec<(String, String, String)> {
    stdout
        .lines()
        .filter_map(|l| {
            let (result, rest) = l.split_once(' ')?;
            if !matches!(result, "ok" | "FAILED" | "skipped") {
                return None;
            }
            let (check, found) = rest.trim_start().split_once(": ")?;
            Some((result.to_string(), check.to_string(), found.to_string()))
        })
        .collect()
}

fn result_of<'a>(
    lines: &'a [(String, String, String)],
    check: &str,
) -> &'a (String, String, String) {
    lines
        .iter()
        .find(|(_, c, _)| c == check)
        .unwrap_or_else(|| panic!("no {check} line in {lines:?}"))
}

async fn trail_bucket(bucket: &str) {
    two_trail_objects(bucket, ACCOUNT).await;
}

fn file_bytes(path: &std::path::Path) -> Option<Vec<u8>> {
    std::fs::read(path).ok()
}

#[tokio::test]
async fn a_good_bucket_setup_passes_every_check_and_sends_nothing() {
    let bucket = "it-check-good";
    trail_bucket(bucket).await;
    let wazuh = Wazuh::new();
    // A state file from an earlier run of the first object only.
    let first = wazuh.run(&["-b", bucket, "-s", "2024-MAR-15"]);
    assert_eq!(first.code, 0, "{}", first.stdout);
    assert_eq!(wazuh.take_messages().len(), 5);
    put(
        &s3().await,
        bucket,
        &trail_key(ACCOUNT, "us-east-1", "2024/03/16", "0010", "c"),
        trail_object("c", 4),
    )
    .await;
    let before = file_bytes(&wazuh.db_path()).unwrap();

    let run = wazuh.run(&["-b", bucket, "-s", "2024-MAR-15", "--check"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let lines = lines(&run.stdout);
    for check in [
        "credentials",
        "bucket",
        "listings",
        "newest object",
        "clock",
        "wazuh",
        "queue socket",
        "event consumer",
        "state file",
    ] {
        assert_eq!(result_of(&lines, check).0, "ok", "{check}: {}", run.stdout);
    }
    assert!(result_of(&lines, "credentials").2.contains("123456789012"));
    let newest = &result_of(&lines, "newest object").2;
    assert!(
        newest.contains("_c.json.gz") && newest.contains("4 events"),
        "{newest}"
    );
    assert!(result_of(&lines, "listings")
        .2
        .contains(&format!("AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/")));
    assert!(result_of(&lines, "state file")
        .2
        .contains("cloudtrail (2 rows)"));
    assert!(
        run.stdout.lines().last().unwrap().contains("0 FAILED"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("ERROR"), "{}", run.stdout);

    assert!(wazuh.take_messages().is_empty(), "--check sends nothing");
    assert_eq!(
        file_bytes(&wazuh.db_path()).unwrap(),
        before,
        "the state file is unchanged"
    );

    // The JSON form says the same, one object per line.
    let run = wazuh.run(&["-b", bucket, "-s", "2024-MAR-15", "--check", "--json"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let records: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(records
        .iter()
        .any(|r| r["check"] == "newest object" && r["result"] == "ok"));
    assert_eq!(records.last().unwrap()["summary"]["failed"], 0);
}

#[tokio::test]
async fn without_credentials_the_aws_checks_are_skipped_and_the_wazuh_side_still_checked() {
    let wazuh = Wazuh::without_queue();
    std::fs::remove_file(wazuh.home.join(".aws/credentials")).unwrap();
    let run = wazuh.run(&["-b", "it-check-nocreds", "--check"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let lines = lines(&run.stdout);
    let (result, _, found) = result_of(&lines, "credentials");
    assert_eq!(result, "FAILED", "{}", run.stdout);
    assert!(
        found.contains("No AWS credentials") && found.contains("Fix:"),
        "{found}"
    );
    assert_eq!(result_of(&lines, "bucket").0, "skipped");
    // The checks that need no AWS still ran: the missing socket is told in the same run.
    assert_eq!(result_of(&lines, "wazuh").0, "ok");
    let (result, _, found) = result_of(&lines, "queue socket");
    assert_eq!(result, "FAILED");
    assert!(found.contains("start Wazuh"), "{found}");
    assert_eq!(result_of(&lines, "state file").0, "ok");
    assert!(!wazuh.db_path().exists(), "no state file is created");
    assert!(!run.stdout.contains("ERROR:"), "{}", run.stdout);
}

#[tokio::test]
async fn a_role_that_cannot_be_assumed_fails_the_role_line_with_the_trust_policy_fix() {
    // STS as AWS answers a role whose trust policy does not name the caller.
    const DENIED: &str = "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:iam::123456789012:user/moto is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::123456789012:role/wazuh-reader</Message></Error><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ErrorResponse>";
    let sts = fault_proxy::start(moto_url(), Box::new(|_, _, _| Fault::Document(403, DENIED)));
    let bucket = "it-check-role";
    trail_bucket(bucket).await;
    let wazuh = Wazuh::new();
    let run = wazuh.run(&[
        "-b",
        bucket,
        "--iam_role_arn",
        "arn:aws:iam::123456789012:role/wazuh-reader",
        "--sts_endpoint",
        &sts.url,
        "--external_id",
        "wazuh-external-id",
        "--check",
    ]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let lines = lines(&run.stdout);
    assert_eq!(result_of(&lines, "credentials").0, "ok", "{}", run.stdout);
    let (result, _, found) = result_of(&lines, "role");
    assert_eq!(result, "FAILED");
    assert!(found.contains("AccessDenied"), "{found}");
    assert!(
        found.contains("trust policy") && found.contains("sts:ExternalId"),
        "{found}"
    );
    assert_eq!(result_of(&lines, "bucket").0, "skipped");
    assert_eq!(result_of(&lines, "queue socket").0, "ok");
    assert!(sts.injected() >= 1);
    assert!(wazuh.take_messages().is_empty());
    assert!(!wazuh.db_path().exists());
}

#[tokio::test]
async fn a_missing_bucket_and_a_missing_socket_are_both_told_in_one_run() {
    let wazuh = Wazuh::without_queue();
    let run = wazuh.run(&["-b", "it-check-no-such-bucket", "--check"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let lines = lines(&run.stdout);
    let (result, _, found) = result_of(&lines, "bucket");
    assert_eq!(result, "FAILED");
    assert!(
        found.contains("NoSuchBucket") && found.contains("check --bucket"),
        "{found}"
    );
    assert_eq!(result_of(&lines, "listings").0, "skipped");
    assert_eq!(result_of(&lines, "credentials").0, "ok");
    assert_eq!(result_of(&lines, "queue socket").0, "FAILED");
    assert_eq!(result_of(&lines, "event consumer").0, "skipped");
    assert!(!wazuh.db_path().exists());
}

#[tokio::test]
async fn an_object_whose_kms_key_denies_is_named_with_its_key() {
    // S3's answer when the caller may read the object but not decrypt it.
    const KMS_DENIED: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessDenied</Code><Message>User: arn:aws:iam::123456789012:user/moto is not authorized to perform: kms:Decrypt on resource: arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab because no resource-based policy allows the kms:Decrypt action</Message></Error>";
    let bucket = "it-check-kms";
    trail_bucket(bucket).await;
    let s3_proxy = fault_proxy::start(
        moto_url(),
        Box::new(|method, path, _| {
            let object = path.contains("/AWSLogs/") && !path.contains("list-type");
            match (method, object) {
                ("GET", true) => Fault::Document(403, KMS_DENIED),
                _ => Fault::Pass,
            }
        }),
    );
    let wazuh = Wazuh::new();
    let run = wazuh.run(&[
        "-b",
        bucket,
        "-s",
        "2024-MAR-15",
        "--service_endpoint",
        &s3_proxy.url,
        "--check",
    ]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let lines = lines(&run.stdout);
    assert_eq!(result_of(&lines, "listings").0, "ok", "{}", run.stdout);
    let (result, _, found) = result_of(&lines, "newest object");
    assert_eq!(result, "FAILED");
    assert!(found.contains("KMS AccessDenied"), "{found}");
    assert!(
        found.contains(
            "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        ),
        "{found}"
    );
    assert!(
        found.contains("Fix: allow kms:Decrypt for arn:aws:")
            && found.contains(":user/moto in the key policy"),
        "{found}"
    );
    assert!(wazuh.take_messages().is_empty());
    assert!(!wazuh.db_path().exists(), "no state file is created");
}

async fn subscriber_check(queue: &str, redrive: bool) -> (RunResult, Wazuh) {
    let url = sqs_queue_with(queue, 30, Some("{\"not\":\"a notification\"}")).await;
    if redrive {
        let dlq = sqs_queue_with(&format!("{queue}-dlq"), 30, None).await;
        let sqs = sqs().await;
        let arn = sqs
            .get_queue_attributes()
            .queue_url(&dlq)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap()
            .attributes()
            .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
            .clone();
        sqs.set_queue_attributes()
            .queue_url(&url)
            .attributes(
                aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy,
                format!("{{\"deadLetterTargetArn\":\"{arn}\",\"maxReceiveCount\":\"5\"}}"),
            )
            .send()
            .await
            .unwrap();
    }
    let wazuh = Wazuh::new();
    let run = wazuh.run(&["--subscriber", "buckets", "--queue", queue, "--check"]);
    (run, wazuh)
}

/// The message is visible again at once: a receive without waiting gets it.
async fn still_visible(queue: &str) -> bool {
    let sqs = sqs().await;
    let url = sqs.get_queue_url().queue_name(queue).send().await.unwrap();
    let out = sqs
        .receive_message()
        .queue_url(url.queue_url().unwrap())
        .send()
        .await
        .unwrap();
    !out.messages().is_empty()
}

#[tokio::test]
async fn a_queue_with_a_dead_letter_queue_passes_and_its_message_stays() {
    let queue = "it-check-queue-good";
    let (run, wazuh) = subscriber_check(queue, true).await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    let lines = lines(&run.stdout);
    assert!(result_of(&lines, "queue settings")
        .2
        .contains("dead-letter queue"));
    assert!(result_of(&lines, "receive")
        .2
        .contains("made visible again"));
    assert_eq!(result_of(&lines, "state file").0, "skipped");
    assert!(still_visible(queue).await, "the message was given back");
    assert!(wazuh.take_messages().is_empty());
}

#[tokio::test]
async fn a_queue_without_a_redrive_policy_fails_its_settings_line() {
    let queue = "it-check-queue-no-dlq";
    let (run, _wazuh) = subscriber_check(queue, false).await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    let lines = lines(&run.stdout);
    let (result, _, found) = result_of(&lines, "queue settings");
    assert_eq!(result, "FAILED");
    assert!(
        found.contains("no redrive policy") && found.contains("dead-letter queue"),
        "{found}"
    );
    assert_eq!(
        result_of(&lines, "receive").0,
        "ok",
        "the other checks still run"
    );
    assert!(still_visible(queue).await);
}

#[tokio::test]
async fn a_read_only_state_file_fails_the_state_line() {
    let bucket = "it-check-read-only";
    trail_bucket(bucket).await;
    let wazuh = Wazuh::new();
    assert_eq!(wazuh.run(&["-b", bucket, "-s", "2024-MAR-15"]).code, 0);
    wazuh.take_messages();
    let db = wazuh.db_path();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o444)).unwrap();
    let before = file_bytes(&db).unwrap();
    // Installed as in a Wazuh tree: the build's own path may not be open to another user.
    let installed = wazuh.root().join("wodles/aws/aws-s3");
    std::fs::copy(env!("CARGO_BIN_EXE_aws-s3"), &installed).unwrap();
    std::fs::set_permissions(&installed, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut cmd = wazuh.command(&installed, &["-b", bucket, "-s", "2024-MAR-15", "--check"]);
    cmd.env("WAZUH_ROOT", wazuh.root());
    // Root may write whatever the mode says: the check runs as another user, as a person
    // trying it by hand would, with the tree readable to that user.
    if unsafe { libc::geteuid() } == 0 {
        use std::os::unix::process::CommandExt;
        let open = |p: &std::path::Path, mode| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap()
        };
        for dir in [
            wazuh.dir.path().to_path_buf(),
            wazuh.root(),
            wazuh.root().join("bin"),
            wazuh.root().join("wodles"),
            wazuh.root().join("wodles/aws"),
            wazuh.home.clone(),
            wazuh.home.join(".aws"),
        ] {
            open(&dir, 0o755);
        }
        for file in [
            wazuh.home.join(".aws/credentials"),
            wazuh.home.join(".aws/config"),
        ] {
            open(&file, 0o644);
        }
        cmd.uid(65534).gid(65534);
    }
    let run = Wazuh::finish(cmd);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let lines = lines(&run.stdout);
    let (result, _, found) = result_of(&lines, "state file");
    assert_eq!(result, "FAILED", "{}", run.stdout);
    assert!(
        found.contains("read-only") && found.contains("Fix:"),
        "{found}"
    );
    assert_eq!(result_of(&lines, "credentials").0, "ok", "{}", run.stdout);
    assert_eq!(file_bytes(&db).unwrap(), before);
    assert!(wazuh.take_messages().is_empty());
}

#[tokio::test]
async fn vpc_flow_logs_are_described_and_their_newest_object_read() {
    let bucket = "it-check-vpcflow";
    let s3 = create_bucket(bucket).await;
    let id = described_flow_log(bucket, "eu-west-2", "10.7.0.0/16").await;
    // moto's caller account, whose flow logs DescribeFlowLogs lists.
    let caller = "123456789012";
    let key = format!(
        "AWSLogs/{caller}/vpcflowlogs/eu-west-2/2025/01/01/{caller}_vpcflowlogs_eu-west-2_{id}_20250101T0905Z_ab.log.gz"
    );
    let body = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n\
                2 123456789012 eni-1 10.0.0.1 10.0.0.2 443 5000 6 10 840 1735722300 1735722360 ACCEPT OK\n";
    put(&s3, bucket, &key, gzip(body.as_bytes())).await;
    let wazuh = Wazuh::new();
    let run = wazuh.run(&[
        "-b",
        bucket,
        "-t",
        "vpcflow",
        "-s",
        "2025-JAN-01",
        "-r",
        "eu-west-2",
        "--check",
    ]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let lines = lines(&run.stdout);
    assert!(
        result_of(&lines, "flow logs").2.contains("1 in eu-west-2"),
        "{}",
        run.stdout
    );
    let newest = &result_of(&lines, "newest object").2;
    assert!(
        newest.contains(&id) && newest.contains("1 events"),
        "{newest}"
    );
    assert!(wazuh.take_messages().is_empty());
    assert!(!wazuh.db_path().exists());
}

#[tokio::test]
async fn a_missing_log_group_fails_its_line_and_the_present_one_passes() {
    let logs = logs().await;
    let present = "/it/check/present";
    logs.create_log_group()
        .log_group_name(present)
        .send()
        .await
        .unwrap();
    logs.create_log_stream()
        .log_group_name(present)
        .log_stream_name("s")
        .send()
        .await
        .unwrap();
    let wazuh = Wazuh::new();
    let groups = format!("{present},/it/check/missing");
    let run = wazuh.run(&[
        "-sr",
        "cloudwatchlogs",
        "-g",
        &groups,
        "-r",
        "us-east-1",
        "--check",
    ]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let lines = lines(&run.stdout);
    let ok = result_of(&lines, &format!("log group {present} in us-east-1"));
    assert_eq!((ok.0.as_str(), ok.2.as_str()), ("ok", "1 streams"));
    let (result, _, found) = result_of(&lines, "log group /it/check/missing in us-east-1");
    assert_eq!(result, "FAILED");
    assert!(
        found.contains("ResourceNotFoundException") && found.contains("no such log group"),
        "{found}"
    );
    let (result, _, found) = result_of(&lines, "state file");
    assert_eq!(result, "ok");
    assert!(
        found.contains("aws_services.db does not exist yet"),
        "{found}"
    );
    assert!(!wazuh.root().join("wodles/aws/aws_services.db").exists());
}
