//! Real parts for the integration tests: a moto server (S3, STS) on 127.0.0.1, a fake Wazuh
//! installation with a bound UNIX datagram socket standing in for analysisd's queue, and the
//! real `aws-s3` binary.
#![allow(dead_code)]

pub mod agentd;
pub mod analysisd;
pub mod fault_proxy;

use aws_sdk_s3::primitives::ByteStream;
use flate2::write::GzEncoder;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

pub const HEADER: &str = "1:Wazuh-AWS:";

struct Moto {
    url: String,
    // Held open for the life of the test process; the server exits when it closes.
    _stdin: ChildStdin,
    _child: Child,
}

pub fn python() -> String {
    if let Ok(p) = std::env::var("MOTO_PYTHON") {
        return p;
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python3");
    if venv.exists() {
        return venv.to_string_lossy().into_owned();
    }
    "python3".to_string()
}

/// The URL of this test process's moto server, started on first use.
pub fn moto_url() -> &'static str {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    &MOTO
        .get_or_init(|| {
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/common/moto_server.py");
            let mut child = Command::new(python())
                .arg(script)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("start moto (run .ci/run once, or set MOTO_PYTHON)");
            let stdout = child.stdout.take().unwrap();
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line).unwrap();
            let port: u16 = line.trim().parse().expect("moto printed its port");
            Moto {
                url: format!("http://127.0.0.1:{port}"),
                _stdin: child.stdin.take().unwrap(),
                _child: child,
            }
        })
        .url
}

pub async fn s3() -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .endpoint_url(moto_url())
        .force_path_style(true)
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

pub async fn ec2(region: &str) -> aws_sdk_ec2::Client {
    let conf = aws_sdk_ec2::Config::builder()
        .behavior_version(aws_sdk_ec2::config::BehaviorVersion::latest())
        .region(aws_sdk_ec2::config::Region::new(region.to_string()))
        .endpoint_url(moto_url())
        .credentials_provider(aws_sdk_ec2::config::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .build();
    aws_sdk_ec2::Client::from_conf(conf)
}

pub async fn sqs() -> aws_sdk_sqs::Client {
    let conf = aws_sdk_sqs::Config::builder()
        .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
        .region(aws_sdk_sqs::config::Region::new("us-east-1"))
        .endpoint_url(moto_url())
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .build();
    aws_sdk_sqs::Client::from_conf(conf)
}

pub async fn logs() -> aws_sdk_cloudwatchlogs::Client {
    let conf = aws_sdk_cloudwatchlogs::Config::builder()
        .behavior_version(aws_sdk_cloudwatchlogs::config::BehaviorVersion::latest())
        .region(aws_sdk_cloudwatchlogs::config::Region::new("us-east-1"))
        .endpoint_url(moto_url())
        .credentials_provider(aws_sdk_cloudwatchlogs::config::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .build();
    aws_sdk_cloudwatchlogs::Client::from_conf(conf)
}

/// A queue with this visibility timeout (seconds), holding `body` once when given; its URL.
pub async fn sqs_queue_with(name: &str, visibility_secs: u32, body: Option<&str>) -> String {
    let sqs = sqs().await;
    let url = sqs
        .create_queue()
        .queue_name(name)
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout,
            visibility_secs.to_string(),
        )
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_string();
    if let Some(body) = body {
        sqs.send_message()
            .queue_url(&url)
            .message_body(body)
            .send()
            .await
            .unwrap();
    }
    url
}

/// A VPC flow log described by moto's EC2 in `region`, delivering to `bucket`; its id.
pub async fn described_flow_log(bucket: &str, region: &str, cidr: &str) -> String {
    let ec2 = ec2(region).await;
    let vpc = ec2.create_vpc().cidr_block(cidr).send().await.unwrap();
    let flow = ec2
        .create_flow_logs()
        .resource_ids(vpc.vpc().unwrap().vpc_id().unwrap())
        .resource_type(aws_sdk_ec2::types::FlowLogsResourceType::Vpc)
        .traffic_type(aws_sdk_ec2::types::TrafficType::All)
        .log_destination_type(aws_sdk_ec2::types::LogDestinationType::S3)
        .log_destination(format!("arn:aws:s3:::{bucket}"))
        .send()
        .await
        .unwrap();
    flow.flow_log_ids()[0].clone()
}

pub async fn create_bucket(name: &str) -> aws_sdk_s3::Client {
    let client = s3().await;
    client.create_bucket().bucket(name).send().await.unwrap();
    client
}

pub async fn put(client: &aws_sdk_s3::Client, bucket: &str, key: &str, body: Vec<u8>) {
    client
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body))
        .send()
        .await
        .unwrap();
}

pub async fn keys(client: &aws_sdk_s3::Client, bucket: &str) -> Vec<String> {
    let resp = client
        .list_objects_v2()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    resp.contents()
        .iter()
        .filter_map(|o| o.key().map(String::from))
        .collect()
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A CloudTrail object with `n` records named `{tag}-{i}`.
pub fn trail_object(tag: &str, n: usize) -> Vec<u8> {
    let records: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            serde_json::json!({
                "eventVersion": "1.09",
                "eventName": format!("{tag}-{i}"),
                "eventSource": "s3.amazonaws.com",
                "sourceIPAddress": "198.51.100.7",
                "userIdentity": {"type": "IAMUser", "userName": "alice"},
                "errorCode": null,
                "resources": [{"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::b/k"}],
            })
        })
        .collect();
    gzip(
        serde_json::json!({ "Records": records })
            .to_string()
            .as_bytes(),
    )
}

/// A bucket with two CloudTrail objects of 2024-03-15 in us-east-1 of `account`: `a` (2
/// events) and `b` (3 events).
pub async fn two_trail_objects(bucket: &str, account: &str) {
    let s3 = create_bucket(bucket).await;
    for (time, id, n) in [("0810", "a", 2), ("0910", "b", 3)] {
        put(
            &s3,
            bucket,
            &trail_key(account, "us-east-1", "2024/03/15", time, id),
            trail_object(id, n),
        )
        .await;
    }
}

pub fn trail_key(account: &str, region: &str, day: &str, time: &str, id: &str) -> String {
    // day: YYYY/MM/DD, time: HHMM
    let compact = day.replace('/', "");
    format!(
        "AWSLogs/{account}/CloudTrail/{region}/{day}/{account}_CloudTrail_{region}_{compact}T{time}Z_{id}.json.gz"
    )
}

/// A fake Wazuh installation with a listening queue socket.
pub struct Wazuh {
    pub dir: tempfile::TempDir,
    pub home: PathBuf,
    received: Arc<Mutex<Vec<Vec<u8>>>>,
    socket: Option<Arc<UnixDatagram>>,
}

pub struct RunResult {
    pub code: i32,
    pub stdout: String,
}

impl Wazuh {
    pub fn new() -> Wazuh {
        Self::build(true)
    }

    /// An installation whose analysisd is not running (no queue socket).
    pub fn without_queue() -> Wazuh {
        Self::build(false)
    }

    /// A 4.x manager whose queue is read by the analysisd stand-in; what it decodes is what
    /// [`Wazuh::take_messages`] returns.
    pub fn with_analysisd(config: analysisd::Config) -> (Wazuh, analysisd::Analysisd) {
        let wazuh = Self::build(false);
        wazuh.set_kind("server", "v4.14.7");
        let analysisd = analysisd::Analysisd::start_into(
            &wazuh.root().join("queue/sockets"),
            config,
            wazuh.received.clone(),
        );
        (wazuh, analysisd)
    }

    fn build(with_queue: bool) -> Wazuh {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        for d in ["bin", "queue/sockets", "wodles/aws", "logs"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        let control = root.join("bin/wazuh-control");
        std::fs::write(
            &control,
            "#!/bin/sh\necho 'WAZUH_VERSION=\"v4.14.7\"'\necho 'WAZUH_REVISION=\"rc1\"'\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&control, std::fs::Permissions::from_mode(0o755)).unwrap();
        let home = dir.path().join("home");
        std::fs::create_dir_all(home.join(".aws")).unwrap();
        std::fs::write(
            home.join(".aws/credentials"),
            "[default]\naws_access_key_id = testing\naws_secret_access_key = testing\n",
        )
        .unwrap();
        std::fs::write(
            home.join(".aws/config"),
            "[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n",
        )
        .unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let socket = with_queue.then(|| {
            let s = Arc::new(UnixDatagram::bind(root.join("queue/sockets/queue")).unwrap());
            s.set_read_timeout(Some(Duration::from_millis(100)))
                .unwrap();
            let (reader, sink) = (s.clone(), received.clone());
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 1 << 20];
                loop {
                    match reader.recv(&mut buf) {
                        Ok(n) => sink.lock().unwrap().push(buf[..n].to_vec()),
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                        Err(_) => return,
                    }
                }
            });
            s
        });
        Wazuh {
            dir,
            home,
            received,
            socket,
        }
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// `wazuh-control info` says this installation is of `kind` ("server", "agent") and
    /// `version`.
    pub fn set_kind(&self, kind: &str, version: &str) {
        std::fs::write(
            self.root().join("bin/wazuh-control"),
            format!(
                "#!/bin/sh\necho 'WAZUH_VERSION=\"{version}\"'\necho 'WAZUH_REVISION=\"rc1\"'\n\
                 echo 'WAZUH_TYPE=\"{kind}\"'\n"
            ),
        )
        .unwrap();
    }

    pub fn db_path(&self) -> PathBuf {
        self.root().join("wodles/aws/s3_cloudtrail.db")
    }

    pub fn command(&self, program: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            .env("AWS_ENDPOINT_URL", moto_url())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("TZ", "UTC")
            .current_dir(self.root());
        cmd
    }

    /// Run the binary with `WAZUH_ROOT` pointing at this installation.
    pub fn run(&self, args: &[&str]) -> RunResult {
        let mut cmd = self.command(Path::new(env!("CARGO_BIN_EXE_aws-s3")), args);
        cmd.env("WAZUH_ROOT", self.root());
        Self::finish(cmd)
    }

    pub fn finish(mut cmd: Command) -> RunResult {
        let out = cmd.output().unwrap();
        RunResult {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        }
    }

    /// Datagrams received so far (without waiting or clearing).
    pub fn received_count(&self) -> usize {
        self.received.lock().unwrap().len()
    }

    /// Every datagram received so far, as it came; then cleared.
    pub fn take_raw(&self) -> Vec<Vec<u8>> {
        std::thread::sleep(Duration::from_millis(300));
        std::mem::take(&mut *self.received.lock().unwrap())
    }

    /// Every datagram received so far, checked for the header, as JSON; then cleared.
    pub fn take_messages(&self) -> Vec<serde_json::Value> {
        // Datagrams already sent are queued in the socket; give the reader a moment.
        std::thread::sleep(Duration::from_millis(300));
        let got = std::mem::take(&mut *self.received.lock().unwrap());
        got.into_iter()
            .map(|d| {
                let text = String::from_utf8(d).unwrap();
                let json = text.strip_prefix(HEADER).expect("datagram header");
                serde_json::from_str(json).unwrap()
            })
            .collect()
    }

    pub fn rows(&self, table: &str) -> Vec<(String, String, String, String, i64)> {
        let conn = rusqlite::Connection::open(self.db_path()).unwrap();
        let mut st = conn
            .prepare(&format!(
                "SELECT bucket_path, aws_account_id, aws_region, log_key, created_date FROM {table} ORDER BY log_key"
            ))
            .unwrap();
        st.query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
    }
}

impl Wazuh {
    /// Every row of `table`, each column as text, sorted.
    pub fn table(&self, table: &str) -> Vec<Vec<String>> {
        let conn = rusqlite::Connection::open(self.db_path()).unwrap();
        let mut st = conn.prepare(&format!("SELECT * FROM {table}")).unwrap();
        let n = st.column_count();
        let names: Vec<String> = st.column_names().map(|s| s.to_string()).collect();
        let mut rows: Vec<Vec<String>> = st
            .query_map([], |r| {
                (0..n)
                    .map(|i| {
                        let v: rusqlite::types::Value = r.get(i)?;
                        Ok(match v {
                            rusqlite::types::Value::Text(t) => t,
                            rusqlite::types::Value::Integer(i) => i.to_string(),
                            other => format!("{other:?}"),
                        })
                    })
                    .collect()
            })
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        rows.sort();
        // Drop processed_date, which depends on the clock.
        let skip = names.iter().position(|c| c == "processed_date");
        rows.into_iter()
            .map(|r| {
                r.into_iter()
                    .enumerate()
                    .filter(|(i, _)| Some(*i) != skip)
                    .map(|(_, v)| v)
                    .collect()
            })
            .collect()
    }

    /// Run twice: the first run sends what it should, the second nothing.
    pub fn two_runs(&self, args: &[&str]) -> (RunResult, Vec<serde_json::Value>) {
        let first = self.run(args);
        assert_eq!(first.code, 0, "first run: {}", first.stdout);
        let messages = self.take_messages();
        let second = self.run(args);
        assert_eq!(second.code, 0, "second run: {}", second.stdout);
        assert!(
            self.take_messages().is_empty(),
            "the second run sends nothing"
        );
        (first, messages)
    }
}

pub fn event_names(messages: &[serde_json::Value]) -> Vec<String> {
    let mut names: Vec<String> = messages
        .iter()
        .filter_map(|m| m["aws"]["eventName"].as_str().map(String::from))
        .collect();
    names.sort();
    names
}
