//! Events over the 65,535 bytes analysisd reads of a datagram are shrunk to fit (D14), the
//! fields the rules read kept, what was cut named in `aws_s3_cut`; smaller events are sent as
//! they are.

mod common;

use common::*;
use serde_json::json;

const ACCOUNT: &str = "111122223333";
const LIMIT: usize = 65_535;

/// Every datagram as text, checked against the limit.
fn datagrams(wazuh: &Wazuh) -> Vec<serde_json::Value> {
    wazuh
        .take_raw()
        .into_iter()
        .map(|d| {
            assert!(d.len() <= LIMIT, "a datagram of {} bytes", d.len());
            let text = String::from_utf8(d).unwrap();
            serde_json::from_str(text.strip_prefix(HEADER).unwrap()).unwrap()
        })
        .collect()
}

#[tokio::test]
async fn a_200_kb_cloudtrail_event_is_cut_to_fit_and_keeps_what_the_rules_read() {
    let bucket = "it-oversized-ct";
    let s3 = create_bucket(bucket).await;
    let records = json!({"Records": [
        {"eventName": "PutBucketPolicy", "eventSource": "s3.amazonaws.com", "awsRegion": "us-east-1",
         "sourceIPAddress": "198.51.100.7", "userIdentity": {"type": "IAMUser", "userName": "alice"},
         "requestParameters": {"bucketName": "b", "policy": "p".repeat(200_000)}},
        {"eventName": "GetObject", "eventSource": "s3.amazonaws.com", "requestParameters": {"key": "k"}}
    ]});
    let key = trail_key(ACCOUNT, "us-east-1", "2024/03/14", "0810", "big");
    put(&s3, bucket, &key, gzip(records.to_string().as_bytes())).await;
    let wazuh = Wazuh::new();
    let run = wazuh.run(&["-b", bucket, "-s", "2024-MAR-14", "-d", "1"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stdout.contains(&format!(
            "An event of {key} was larger than the 65535 bytes"
        )) && run
            .stdout
            .contains("cut to fit: aws.requestParameters.policy"),
        "{}",
        run.stdout
    );
    let messages = datagrams(&wazuh);
    assert_eq!(messages.len(), 2);
    let big = messages
        .iter()
        .find(|m| m["aws"]["eventName"] == "PutBucketPolicy")
        .unwrap();
    assert_eq!(big["aws_s3_cut"], json!(["aws.requestParameters.policy"]));
    assert_eq!(big["aws"]["userIdentity"]["userName"], "alice");
    assert_eq!(big["aws"]["sourceIPAddress"], "198.51.100.7");
    assert_eq!(big["aws"]["requestParameters"]["bucketName"], "b");
    assert!(big["aws"]["requestParameters"]["policy"]
        .as_str()
        .unwrap()
        .ends_with("[cut by aws-s3: 200000 bytes]"));
    let small = messages
        .iter()
        .find(|m| m["aws"]["eventName"] == "GetObject")
        .unwrap();
    assert!(
        small.get("aws_s3_cut").is_none(),
        "a small event is sent as it is"
    );
    assert_eq!(wazuh.rows("cloudtrail").len(), 1, "recorded");
}

#[tokio::test]
async fn a_1_mb_config_item_is_cut_to_fit() {
    let bucket = "it-oversized-config";
    let s3 = create_bucket(bucket).await;
    let permissions: Vec<_> = (0..15_000)
        .map(|i| json!({"fromPort": i, "toPort": i, "ipProtocol": "tcp", "ipRanges": ["10.0.0.0/8"]}))
        .collect();
    let items = json!({"configurationItems": [
        {"configurationItemStatus": "OK", "resourceType": "AWS::EC2::SecurityGroup",
         "resourceId": "sg-1", "configuration": {"groupId": "sg-1", "ipPermissions": permissions}}
    ]});
    let text = items.to_string();
    assert!(text.len() > 1_000_000);
    let key = format!(
        "AWSLogs/{ACCOUNT}/Config/us-east-1/2024/9/30/ConfigHistory/{ACCOUNT}_Config_us-east-1_ConfigHistory_AWS::EC2::SecurityGroup_20240930T060000Z_20240930T120000Z_1.json.gz"
    );
    put(&s3, bucket, &key, gzip(text.as_bytes())).await;
    let wazuh = Wazuh::new();
    let run = wazuh.run(&["-b", bucket, "-t", "config", "-s", "2024-SEP-30"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(run.stdout, "", "nothing printed without --debug");
    let messages = datagrams(&wazuh);
    assert_eq!(messages.len(), 1);
    let aws = &messages[0]["aws"];
    assert_eq!(aws["resourceType"], "AWS::EC2::SecurityGroup");
    assert_eq!(aws["configurationItemStatus"], "OK");
    assert_eq!(aws["resourceId"], "sg-1");
    assert_eq!(
        messages[0]["aws_s3_cut"],
        json!(["aws.configuration.ipPermissions"])
    );
}
