//! One two-run sequence per bucket type against moto: the first run sends the events and
//! records the objects, the second sends nothing.

mod common;

use common::*;
use serde_json::json;

const ACCOUNT: &str = "111122223333";
/// moto's account for the caller (STS GetCallerIdentity).
const CALLER: &str = "123456789012";

fn lines(rows: &[&str]) -> Vec<u8> {
    gzip(format!("{}\n", rows.join("\n")).as_bytes())
}

#[tokio::test]
async fn config_history() {
    let bucket = "it-config";
    let s3 = create_bucket(bucket).await;
    let items = json!({"configurationItems": [
        {"configurationItemCaptureTime": "2024-09-30T06:00:00.000Z", "resourceType": "AWS::EC2::Instance",
         "configuration": {"state": "running", "securityGroups": ["sg-1", "sg-2"],
                           "createdTime": "2024-01-15T10:20:30.123Z"}, "tags": {"a": "b"}},
        {"resourceType": "AWS::S3::Bucket", "configuration": null}
    ]});
    for day in ["2024/9/29", "2024/9/30", "2024/10/1"] {
        let compact = chrono::NaiveDate::parse_from_str(day, "%Y/%m/%d")
            .unwrap()
            .format("%Y%m%d");
        let key = format!(
            "AWSLogs/{ACCOUNT}/Config/us-east-1/{day}/ConfigHistory/{ACCOUNT}_Config_us-east-1_ConfigHistory_AWS::EC2::Instance_{compact}T060000Z_{compact}T120000Z_1.json.gz"
        );
        put(&s3, bucket, &key, gzip(items.to_string().as_bytes())).await;
    }
    let wazuh = Wazuh::new();
    let (_, messages) = wazuh.two_runs(&["-b", bucket, "-t", "config", "-s", "2024-SEP-30"]);
    assert_eq!(messages.len(), 4);
    let ec2 = messages
        .iter()
        .find(|m| m["aws"]["resourceType"] == "AWS::EC2::Instance")
        .unwrap();
    assert_eq!(
        ec2["aws"]["configuration"]["state"],
        json!({"name": "running"})
    );
    assert_eq!(
        ec2["aws"]["configuration"]["securityGroups"],
        json!({"groupId": ["sg-1", "sg-2"]})
    );
    assert_eq!(
        ec2["aws"]["configuration"]["createdTime"],
        json!(1705314030.0)
    );
    assert_eq!(ec2["aws"]["aws_account_id"], ACCOUNT);
    let rows = wazuh.table("config");
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[0][..3],
        [format!("{bucket}/"), ACCOUNT.into(), "us-east-1".into()]
    );
    let mut days: Vec<&str> = rows.iter().map(|r| r[4].as_str()).collect();
    days.sort();
    assert_eq!(
        days,
        ["20240930", "20241001"],
        "the day before --only_logs_after is not read"
    );
}

#[tokio::test]
async fn vpc_flow_logs_per_flow_log_id() {
    let bucket = "it-vpcflow";
    let s3 = create_bucket(bucket).await;
    let id = described_flow_log(bucket, "us-east-1", "10.7.0.0/16").await;
    // The caller's own account: only described flow logs are read (other accounts' ids come
    // from their keys, D15: tests/flow_logs.rs).
    let key = |id: &str, t: &str| {
        format!("AWSLogs/{CALLER}/vpcflowlogs/us-east-1/2025/01/01/{CALLER}_vpcflowlogs_us-east-1_{id}_20250101T{t}Z_ab.log.gz")
    };
    let body = lines(&[
        "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status",
        "2 111122223333 eni-1 10.0.0.1 10.0.0.2 443 5000 6 10 840 1735722300 1735722360 ACCEPT OK",
        "2 111122223333 eni-1 - - - - - - - 1735722300 1735722360 - NODATA",
    ]);
    put(&s3, bucket, &key(&id, "0905"), body.clone()).await;
    put(&s3, bucket, &key("fl-0000000000other", "0910"), body).await;
    let wazuh = Wazuh::new();
    let (_, messages) = wazuh.two_runs(&["-b", bucket, "-t", "vpcflow", "-s", "2025-JAN-01"]);
    assert_eq!(
        messages.len(),
        2,
        "the header row is no event; the other flow log is not read"
    );
    assert_eq!(messages[0]["aws"]["start"], "2025-01-01T09:05:00Z");
    assert_eq!(messages[0]["aws"]["source"], "vpc");
    let rows = wazuh.table("vpcflow");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][3], id);
}

#[tokio::test]
async fn guardduty_native_findings() {
    let bucket = "it-guardduty";
    let s3 = create_bucket(bucket).await;
    let finding = |id: &str, details: serde_json::Value| {
        json!({"id": id, "type": "Recon:EC2/PortProbeUnprotectedPort", "productCodes": ["x"],
               "service": {"serviceName": "guardduty",
                           "action": {"portProbeAction": {"portProbeDetails": details}}}})
        .to_string()
    };
    let body = lines(&[
        &finding(
            "a",
            json!([{"localPortDetails": {"port": 22}}, {"localPortDetails": {"port": 80}}]),
        ),
        &finding("b", json!([{"localPortDetails": {"port": 443}}])),
    ]);
    put(
        &s3,
        bucket,
        &format!("AWSLogs/{ACCOUNT}/GuardDuty/eu-west-1/2024/03/14/f1.jsonl.gz"),
        body.clone(),
    )
    .await;
    put(
        &s3,
        bucket,
        &format!("AWSLogs/{ACCOUNT}/GuardDuty/eu-west-1/2024/03/12/old.jsonl.gz"),
        body,
    )
    .await;
    let wazuh = Wazuh::new();
    let (_, messages) = wazuh.two_runs(&["-b", bucket, "-t", "guardduty", "-s", "2024-MAR-13"]);
    assert_eq!(messages.len(), 3, "two details give two messages");
    let single = messages.iter().find(|m| m["aws"]["id"] == "b").unwrap();
    assert_eq!(single["aws"]["productCodes"], "x");
    assert!(single["aws"].get("aws_account_id").is_none());
    let rows = wazuh.table("guardduty");
    assert_eq!(
        rows,
        [vec![
            format!("{bucket}/"),
            ACCOUNT.into(),
            format!("AWSLogs/{ACCOUNT}/GuardDuty/eu-west-1/2024/03/14/f1.jsonl.gz"),
            "20240314".into()
        ]]
    );
}

#[tokio::test]
async fn guardduty_kinesis_layout_is_read_with_a_notice() {
    let bucket = "it-guardduty-kinesis";
    let s3 = create_bucket(bucket).await;
    let body = gzip(br#"{"source":"aws.guardduty","detail":{"id":"k1","service":{"serviceName":"guardduty"}}}{"source":"aws.guardduty","detail":{"id":"k2"}}"#);
    put(
        &s3,
        bucket,
        "firehose/2024/03/14/10/gd-1-2024-03-14-10-00-00-x.gz",
        body,
    )
    .await;
    let wazuh = Wazuh::new();
    let (run, messages) = wazuh.two_runs(&[
        "-b",
        bucket,
        "-t",
        "guardduty",
        "-l",
        "firehose",
        "-s",
        "2024-MAR-14",
    ]);
    assert!(
        run.stdout.contains("via Kinesis was deprecated"),
        "{}",
        run.stdout
    );
    assert_eq!(messages.len(), 2);
    assert_eq!(wazuh.table("guardduty")[0][1], CALLER);
}

#[tokio::test]
async fn waf_headers_filtered() {
    let bucket = "it-waf";
    let s3 = create_bucket(bucket).await;
    let event = |id: u32| {
        json!({"timestamp": id, "action": "ALLOW", "httpRequest": {"clientIp": "1.2.3.4", "headers": [
            {"name": "Host", "value": "example.com"}, {"name": "X-Secret", "value": "s"}]}})
        .to_string()
    };
    let body = lines(&[&event(1), &format!("{}{}", event(2), event(3))]);
    put(
        &s3,
        bucket,
        "waf/2024/03/14/10/aws-waf-logs-1-2024-03-14-10-00-00-a.gz",
        body.clone(),
    )
    .await;
    put(
        &s3,
        bucket,
        "waf/2024/03/13/23/aws-waf-logs-1-2024-03-13-23-00-00-b.gz",
        body,
    )
    .await;
    let wazuh = Wazuh::new();
    let (_, messages) =
        wazuh.two_runs(&["-b", bucket, "-t", "waf", "-l", "waf", "-s", "2024-MAR-14"]);
    assert_eq!(messages.len(), 3);
    assert_eq!(
        messages[0]["aws"]["httpRequest"]["headers"],
        json!({"Host": "example.com"})
    );
    assert_eq!(
        wazuh.table("waf"),
        [vec![
            format!("{bucket}/waf/"),
            CALLER.into(),
            "waf/2024/03/14/10/aws-waf-logs-1-2024-03-14-10-00-00-a.gz".into(),
            "20240314".into()
        ]]
    );
}

async fn load_balancer(kind: &str, line: &str) -> (Wazuh, Vec<serde_json::Value>) {
    let bucket = format!("it-{kind}");
    let s3 = create_bucket(&bucket).await;
    let key = format!(
        "AWSLogs/{ACCOUNT}/elasticloadbalancing/us-east-2/2024/05/10/{ACCOUNT}_elasticloadbalancing_us-east-2_lb_20240510T2340Z_10.0.0.5_x.log.gz"
    );
    put(&s3, &bucket, &key, lines(&[line, line])).await;
    let wazuh = Wazuh::new();
    let (_, messages) = wazuh.two_runs(&["-b", &bucket, "-t", kind, "-s", "2024-MAY-10"]);
    assert_eq!(messages.len(), 2);
    assert_eq!(
        wazuh.table(kind),
        [vec![
            format!("{bucket}/"),
            ACCOUNT.into(),
            key,
            "20240510".into()
        ]]
    );
    (wazuh, messages)
}

#[tokio::test]
async fn alb_access_logs() {
    let (_, m) = load_balancer("alb", "https 2024-05-10T23:39:43.945958Z app/my-lb/50dc 192.168.131.39:2817 10.0.0.1:80 0.086 0.048 0.037 200 200 0 57 \"GET https://www.example.com:443/ HTTP/1.1\" \"curl/7.46.0\" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/tg/73e2 \"Root=1-58337281\" \"www.example.com\" \"arn:aws:acm:us-east-2:123456789012:certificate/12345678\" 1 2024-05-10T23:39:43.800000Z \"authenticate,forward\" \"-\" \"-\" \"10.0.0.1:80\" \"200\" \"-\" \"-\" TID_abc").await;
    assert_eq!(m[0]["aws"]["client_ip"], "192.168.131.39");
    assert_eq!(m[0]["aws"]["conn_trace_id"], "TID_abc");
    assert_eq!(m[0]["aws"]["source"], "alb");
}

#[tokio::test]
async fn clb_access_logs() {
    let (_, m) = load_balancer("clb", "2024-06-01T00:05:00.000000Z my-clb 192.168.131.39:2817 10.0.0.1:80 0.000073 0.001048 0.000057 200 200 0 29 \"GET http://www.example.com:80/ HTTP/1.1\" \"curl/7.38.0\" - -").await;
    assert_eq!(m[0]["aws"]["backend_port"], "10.0.0.1:80");
    assert!(m[0]["aws"].get("ssl_cipher").is_some());
}

#[tokio::test]
async fn nlb_access_logs() {
    let (_, m) = load_balancer("nlb", "tls 2.0 2024-06-01T00:10:00 net/my-nlb/c6e7 g3d4b5e8bb8464cd 72.21.218.154:51341 172.100.100.185:443 5 2 98 246 - arn:aws:acm:us-east-2:671290407336:certificate/2a108f19 - ECDHE-RSA-AES128-SHA tlsv12 - my-network-loadbalancer-c6e77e28c25b2234.elb.us-east-2.amazonaws.com h2 h2 \"h2\",\"http/1.1\" 2024-06-01T00:09:58").await;
    assert_eq!(m[0]["aws"]["client_ip"], "72.21.218.154");
    assert_eq!(m[0]["aws"]["destination_port"], "443");
    assert_eq!(
        m[0]["aws"]["tls_connection_creation_time"],
        "2024-06-01T00:09:58"
    );
}

#[tokio::test]
async fn server_access_logs() {
    let bucket = "it-server-access";
    let s3 = create_bucket(bucket).await;
    let line = "79a5 awsexamplebucket1 [06/Feb/2024:00:00:38 +0000] 192.0.2.3 79a5 3E57427F3EXAMPLE REST.GET.VERSIONING - \"GET /awsexamplebucket1?versioning HTTP/1.1\" 200 - 113 - 7 - \"-\" \"S3Console/0.4\" - s9lz= SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader awsexamplebucket1.s3.us-west-1.amazonaws.com TLSV1.2 - -";
    let body = format!("{line}\n{line}\n").into_bytes();
    put(
        &s3,
        bucket,
        "access/2024-02-06-00-05-12-DA93EFC0E0D45A07",
        body.clone(),
    )
    .await;
    put(
        &s3,
        bucket,
        "access/2024-02-05-23-59-59-D8991365A2DEE0CF",
        body,
    )
    .await;
    let wazuh = Wazuh::new();
    let (_, messages) = wazuh.two_runs(&[
        "-b",
        bucket,
        "-t",
        "server_access",
        "-l",
        "access",
        "-s",
        "2024-FEB-06",
    ]);
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0]["aws"]["time"], "06/Feb/2024:00:00:38 +0000");
    assert_eq!(
        messages[0]["aws"]["request_uri"],
        "GET /awsexamplebucket1?versioning HTTP/1.1"
    );
    let rows = wazuh.table("s3_server_access");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][3], "20240206");
}

#[tokio::test]
async fn cisco_umbrella_dns_logs() {
    let bucket = "it-umbrella";
    let s3 = create_bucket(bucket).await;
    let body = lines(&[
        "\"2024-08-20 10:20:01\",\"Office\",\"Office,Laptop\",\"10.0.0.1\",\"1.2.3.4\",\"Allowed\",\"1 (A)\",\"NOERROR\",\"example.com.\",\"Search Engines\",\"Networks\",\"Networks,Roaming Computers\",\"\"",
        "\"2024-08-20 10:20:02\",\"Office\",\"Office\",\"10.0.0.1\",\"1.2.3.4\",\"Blocked\"",
    ]);
    put(
        &s3,
        bucket,
        "1234567_abc/dnslogs/2024-08-20/2024-08-20-10-20-eb7d.csv.gz",
        body.clone(),
    )
    .await;
    put(
        &s3,
        bucket,
        "1234567_abc/dnslogs/2024-08-19/2024-08-19-23-50-7098.csv.gz",
        body,
    )
    .await;
    let wazuh = Wazuh::new();
    let (_, messages) = wazuh.two_runs(&[
        "-b",
        bucket,
        "-t",
        "cisco_umbrella",
        "-l",
        "1234567_abc/dnslogs",
        "-s",
        "2024-AUG-20",
    ]);
    assert_eq!(messages.len(), 2);
    let full = messages
        .iter()
        .find(|m| m["aws"]["action"] == "Allowed")
        .unwrap();
    assert_eq!(full["aws"]["identities"], "Office,Laptop");
    let short = messages
        .iter()
        .find(|m| m["aws"]["action"] == "Blocked")
        .unwrap();
    assert!(short["aws"].get("domain").is_none());
    assert_eq!(
        wazuh.table("cisco_umbrella")[0][..2],
        [format!("{bucket}/1234567_abc/dnslogs/"), CALLER.into()]
    );
}

#[tokio::test]
async fn custom_cloudwatch_events() {
    let bucket = "it-custom";
    let s3 = create_bucket(bucket).await;
    let body = gzip(b"{\"source\":\"aws.macie\",\"detail\":{\"summary\":{\"IP\":{\"34.1.2.3\":3}},\"trigger\":{}}}\n{\"source\":\"aws.events\"}\n");
    put(
        &s3,
        bucket,
        "events/2024/07/07/07/sec-1-2024-07-07-07-10-00-a.gz",
        body.clone(),
    )
    .await;
    put(
        &s3,
        bucket,
        "events/nested/2024/07/07/07/other-1-2024-07-07-07-10-00-b.gz",
        body,
    )
    .await;
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
    assert_eq!(
        messages.len(),
        1,
        "the event without detail and the other prefix are skipped"
    );
    assert_eq!(messages[0]["aws"]["source"], "macie");
    assert_eq!(messages[0]["aws"]["summary"]["IP"], json!(["34.1.2.3"]));
    assert!(messages[0]["aws"].get("trigger").is_none());
    assert_eq!(
        wazuh.table("custom"),
        [vec![
            format!("{bucket}/events/"),
            CALLER.into(),
            "events/2024/07/07/07/sec-1-2024-07-07-07-10-00-a.gz".into(),
            "20240707".into()
        ]]
    );
}
