//! Objects and messages from writers we do not trust, against the real binary: every bomb
//! fails its object with the limit named, within bounded memory (the child's peak RSS, from
//! wait4), never a signal death; nothing in the data starts a line of its own on stdout; state,
//! lock and --output files are never written through a symlink.

mod common;

use common::*;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};

/// Peak memory allowed for a run fed one bomb.
const MAX_RSS_KIB: i64 = 256 * 1024;

struct Measured {
    code: i32,
    signal: Option<i32>,
    stdout: String,
    peak_kib: i64,
}

/// Run the binary and take its peak RSS from wait4 (the test process's other children do not
/// count).
#[allow(clippy::zombie_processes)] // reaped by wait4, which std's Child does not see
fn measured(wazuh: &Wazuh, args: &[&str]) -> Measured {
    let mut cmd = wazuh.command(Path::new(env!("CARGO_BIN_EXE_aws-s3")), args);
    cmd.env("WAZUH_ROOT", wazuh.root())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let mut status = 0;
    // SAFETY: rusage is plain data written by wait4; the pid is our own child, not yet reaped.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid);
    let (code, signal) = match libc::WIFSIGNALED(status) {
        true => (-1, Some(libc::WTERMSIG(status))),
        false => (libc::WEXITSTATUS(status), None),
    };
    Measured {
        code,
        signal,
        stdout,
        peak_kib: usage.ru_maxrss,
    }
}

fn assert_bounded(run: &Measured, what: &str) {
    assert_eq!(
        run.signal, None,
        "{what}: killed by a signal\n{}",
        run.stdout
    );
    assert!(
        run.peak_kib < MAX_RSS_KIB,
        "{what}: peak RSS {} MiB",
        run.peak_kib / 1024
    );
    eprintln!(
        "{what}: exit {}, peak RSS {} MiB",
        run.code,
        run.peak_kib / 1024
    );
}

/// gzip of what `python_expr` (bytes) evaluates to, made by Python's zlib: building a bomb
/// in a debug test binary would take longer than the run.
/// The run sent one message: the object's `error_msg`, naming the limit it passed.
fn assert_one_error_msg(wazuh: &Wazuh, limit: &str) {
    let messages = wazuh.take_messages();
    assert_eq!(messages.len(), 1, "{messages:?}");
    let text = messages[0]["error_msg"].as_str().unwrap_or_default();
    assert!(text.contains(limit), "{:?}", messages[0]);
}

fn python_gzip(python_expr: &str) -> Vec<u8> {
    let out = Command::new(python())
        .arg("-c")
        .arg(format!(
            "import gzip,sys; sys.stdout.buffer.write(gzip.compress({python_expr}, 6))"
        ))
        .output()
        .unwrap();
    assert!(out.status.success());
    out.stdout
}

#[tokio::test]
async fn a_gzip_bomb_in_a_custom_bucket_fails_its_object_in_bounded_memory() {
    let bucket = "it-bomb-custom";
    let s3 = create_bucket(bucket).await;
    // 1 GiB of spaces: about 1 MB of gzip.
    let bomb = python_gzip("b' ' * (1 << 30)");
    put(
        &s3,
        bucket,
        "events/2024/07/07/07/bomb-1-2024-07-07-07-10-00-a.gz",
        bomb,
    )
    .await;
    let wazuh = Wazuh::new();
    let args = [
        "-b",
        bucket,
        "-t",
        "custom",
        "-l",
        "events",
        "-s",
        "2024-JUL-07",
    ];
    let run = measured(&wazuh, &args);
    assert_bounded(&run, "custom gzip bomb");
    assert_eq!(run.code, 9, "{}", run.stdout);
    assert!(run.stdout.contains("64 MiB"), "{}", run.stdout);
    let skip = measured(&wazuh, &[&args[..], &["--skip_on_error"]].concat());
    assert_bounded(&skip, "custom gzip bomb, --skip_on_error");
    assert_eq!(skip.code, 0, "{}", skip.stdout);
    assert_one_error_msg(&wazuh, "64 MiB");
}

#[tokio::test]
async fn a_zip_bomb_fails_its_object_in_bounded_memory() {
    let bucket = "it-bomb-zip";
    let s3 = create_bucket(bucket).await;
    let out = Command::new(python())
        .arg("-c")
        .arg(
            "import io,zipfile,sys\n\
             b=io.BytesIO()\n\
             with zipfile.ZipFile(b,'w',zipfile.ZIP_DEFLATED) as z:\n z.writestr('a.json', b' ' * (1 << 30))\n\
             sys.stdout.buffer.write(b.getvalue())",
        )
        .output()
        .unwrap();
    assert!(out.status.success());
    put(
        &s3,
        bucket,
        "events/2024/07/07/07/bomb-1-2024-07-07-07-10-00-a.json.zip",
        out.stdout,
    )
    .await;
    let wazuh = Wazuh::new();
    let run = measured(
        &wazuh,
        &[
            "-b",
            bucket,
            "-t",
            "custom",
            "-l",
            "events",
            "-s",
            "2024-JUL-07",
        ],
    );
    assert_bounded(&run, "zip bomb");
    assert_eq!(run.code, 8, "{}", run.stdout);
    assert!(run.stdout.contains("64 MiB"), "{}", run.stdout);
}

#[tokio::test]
async fn a_record_that_builds_a_huge_tree_fails_its_object_in_bounded_memory() {
    let bucket = "it-bomb-tree";
    let s3 = create_bucket(bucket).await;
    // One CloudTrail record holding 100 million zeros: 200 MB of text, 3.2 GB of tree.
    let bomb = python_gzip(
        "b'{\"Records\":[{\"eventName\":\"x\",\"a\":[' + b'0,' * 100_000_000 + b'0]}]}'",
    );
    put(
        &s3,
        bucket,
        &trail_key("111122223333", "us-east-1", "2024/03/14", "0810", "bomb"),
        bomb,
    )
    .await;
    let wazuh = Wazuh::new();
    let run = measured(&wazuh, &["-b", bucket, "-s", "2024-MAR-14"]);
    assert_bounded(&run, "tree bomb");
    assert_eq!(run.code, 9, "{}", run.stdout);
    assert!(run.stdout.contains("MiB of events"), "{}", run.stdout);
    assert!(wazuh.take_messages().is_empty());
    assert!(wazuh.rows("cloudtrail").is_empty(), "not recorded");
}

/// A Parquet footer (no row groups) whose schema nests `depth` groups.
fn nested_parquet(depth: usize) -> Vec<u8> {
    let varint = |out: &mut Vec<u8>, mut v: u64| {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    };
    let mut meta = vec![0x15, 0x02, 0x19, 0xfc]; // version 1; schema: a list of structs
    varint(&mut meta, depth as u64 + 1);
    for level in 0..=depth {
        meta.extend([0x48, 0x01, b'g']); // name "g"
        if level < depth {
            meta.push(0x15); // num_children 1
            varint(&mut meta, 2);
        }
        meta.push(0);
    }
    meta.extend([0x16, 0x00, 0x19, 0x0c, 0x00]); // num_rows 0, no row groups
    let mut data = b"PAR1".to_vec();
    data.extend(&meta);
    data.extend((meta.len() as u32).to_le_bytes());
    data.extend(b"PAR1");
    data
}

#[tokio::test]
async fn a_parquet_schema_nested_20000_deep_is_refused_not_a_crash() {
    let bucket = "it-bomb-parquet";
    let s3 = create_bucket(bucket).await;
    let key = "aws/CLOUD_TRAIL_MGMT/2.0/region=us-east-1/accountId=123456789012/eventDay=20240610/deep.gz.parquet";
    put(&s3, bucket, key, nested_parquet(20_000)).await;
    let body = serde_json::json!({"detail": {"bucket": {"name": bucket}, "object": {"key": key}}});
    // A queue per run: a run that ends early leaves a receive in flight that may take the
    // next message for the visibility timeout (issue 25).
    for name in ["it-bomb-parquet", "it-bomb-parquet-skip"] {
        sqs_queue_with(name, 600, Some(&body.to_string())).await;
    }
    let wazuh = Wazuh::new();
    let args = |queue: &'static str| {
        [
            "-sb",
            "security_lake",
            "-q",
            queue,
            "-i",
            "arn:aws:iam::123456789012:role/sl",
            "-x",
            "wazuh-sl-7f3a9c",
        ]
    };
    let run = measured(&wazuh, &args("it-bomb-parquet"));
    assert_bounded(&run, "deep Parquet schema");
    assert_eq!(run.code, 12, "{}", run.stdout);
    assert!(run.stdout.contains("levels deep"), "{}", run.stdout);
    // With --skip_on_error the object is an error_msg and its message goes.
    let skip = measured(
        &wazuh,
        &[&args("it-bomb-parquet-skip")[..], &["--skip_on_error"]].concat(),
    );
    assert_eq!(skip.code, 0, "{}", skip.stdout);
    assert_one_error_msg(&wazuh, "levels deep");
}

/// A message body that tries to start an `ERROR:` line of its own is printed escaped at
/// every debug level.
#[tokio::test]
async fn nothing_from_the_data_starts_a_line_of_its_own() {
    let wazuh = Wazuh::new();
    let mut runs = Vec::new();
    for level in ["0", "1", "2", "3"] {
        // A queue per level: the message is left in it, invisible for the next run.
        let name = format!("it-forged-{level}");
        let forged = "not json\nERROR: forged by the writer\r\nWARNING: also forged";
        sqs_queue_with(&name, 600, Some(forged)).await;
        // Each run ends with a 20 s receive on its empty queue: the four run at once.
        let child = wazuh
            .command(
                Path::new(env!("CARGO_BIN_EXE_aws-s3")),
                &["-sb", "buckets", "-q", &name, "-d", level],
            )
            .env("WAZUH_ROOT", wazuh.root())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        runs.push((level, child));
    }
    for (level, child) in runs {
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}");
        for line in stdout.lines() {
            assert!(
                !line.starts_with("ERROR: forged") && !line.starts_with("WARNING: also"),
                "debug {level}: {line:?}"
            );
        }
        if level >= "2" {
            assert!(
                stdout.contains("not json\\nERROR: forged"),
                "debug {level}: {stdout}"
            );
        }
    }
}

#[tokio::test]
async fn state_lock_and_output_are_never_written_through_a_symlink() {
    let bucket = "it-symlinks";
    let s3 = create_bucket(bucket).await;
    put(
        &s3,
        bucket,
        &trail_key("111122223333", "us-east-1", "2024/03/14", "0810", "a"),
        trail_object("a", 2),
    )
    .await;
    let args = ["-b", bucket, "-s", "2024-MAR-14"];
    let victim = tempfile::tempdir().unwrap();
    let target = victim.path().join("passwd");
    std::fs::write(&target, "root:x:0:0\n").unwrap();

    // The state file.
    let wazuh = Wazuh::new();
    std::os::unix::fs::symlink(&target, wazuh.db_path()).unwrap();
    let run = wazuh.run(&args);
    assert_eq!(run.code, 6, "{}", run.stdout);
    assert!(run.stdout.contains("symbolic link"), "{}", run.stdout);
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "root:x:0:0\n");
    assert!(wazuh.take_messages().is_empty());

    // The run lock.
    let wazuh = Wazuh::new();
    let lock = wazuh
        .root()
        .join("wodles/aws/.aws-s3.cloudtrail.it-symlinks.lock");
    std::os::unix::fs::symlink(&target, &lock).unwrap();
    let run = wazuh.run(&args);
    assert_eq!(run.code, 6, "{}", run.stdout);
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "root:x:0:0\n");

    // --output.
    let wazuh = Wazuh::new();
    let out = wazuh.root().join("out.txt");
    std::os::unix::fs::symlink(&target, &out).unwrap();
    let run = wazuh.run(&[&args[..], &["--output", out.to_str().unwrap()]].concat());
    assert_eq!(run.code, 13, "{}", run.stdout);
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "root:x:0:0\n");

    // The files made: state 0640, lock 0640, --output 0600.
    use std::os::unix::fs::PermissionsExt;
    let wazuh = Wazuh::new();
    let out = wazuh.root().join("fresh.txt");
    let run = wazuh.run(
        &[
            &args[..],
            &["--output", out.to_str().unwrap(), "--update_state"],
        ]
        .concat(),
    );
    assert_eq!(run.code, 0, "{}", run.stdout);
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&out), 0o600);
    assert_eq!(mode(&wazuh.db_path()), 0o640);
    let lock = wazuh
        .root()
        .join("wodles/aws/.aws-s3.cloudtrail.it-symlinks.lock");
    assert_eq!(mode(&lock), 0o640);
}

/// The same gzip bomb named by an SQS notification (`--subscriber buckets`, which reads an
/// object whole): its error_msg, its message deleted, within bounded memory.
#[tokio::test]
async fn a_gzip_bomb_through_the_buckets_subscriber_is_bounded() {
    let bucket = "it-bomb-subscriber";
    let s3 = create_bucket(bucket).await;
    let key = "app/2024/06/10/bomb.json.gz";
    put(&s3, bucket, key, python_gzip("b' ' * (1 << 30)")).await;
    let body = serde_json::json!({"Records": [{"eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": bucket}, "object": {"key": key}}}]});
    let url = sqs_queue_with("it-bomb-subscriber", 600, Some(&body.to_string())).await;
    let wazuh = Wazuh::new();
    let run = measured(
        &wazuh,
        &[
            "-sb",
            "buckets",
            "-q",
            "it-bomb-subscriber",
            "--skip_on_error",
        ],
    );
    assert_bounded(&run, "gzip bomb through the buckets subscriber");
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_one_error_msg(&wazuh, "64 MiB");
    let hidden = aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible;
    let attrs = sqs()
        .await
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(hidden.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(
        attrs.attributes().unwrap()[&hidden],
        "0",
        "the message was deleted"
    );
}
