//! VPC flow logs of other accounts in one bucket (a central logging bucket, D15): their ids
//! come from the keys; the caller's account keeps the reference's rule (described ids only).

mod common;

use common::*;

/// moto's account for the caller (STS GetCallerIdentity).
const CALLER: &str = "123456789012";
const OTHERS: [&str; 2] = ["111122223333", "444455556666"];

fn key(account: &str, region: &str, id: &str, t: &str) -> String {
    format!(
        "AWSLogs/{account}/vpcflowlogs/{region}/2025/01/01/{account}_vpcflowlogs_{region}_{id}_20250101T{t}Z_ab.log.gz"
    )
}

fn body(account: &str, port: u32) -> Vec<u8> {
    gzip(
        format!(
            "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n\
             2 {account} eni-1 10.0.0.1 10.0.0.2 443 {port} 6 10 840 1735722300 1735722360 ACCEPT OK\n"
        )
        .as_bytes(),
    )
}

#[tokio::test]
async fn other_accounts_flow_logs_are_read_from_their_keys() {
    let bucket = "it-central-flows";
    let s3 = create_bucket(bucket).await;
    let mut expected = Vec::new();
    let mut port = 5000;
    for region in ["us-east-1", "eu-west-1"] {
        let described = described_flow_log(bucket, region, "10.9.0.0/16").await;
        // The caller's account: its described id is read, an undescribed one is not.
        put(
            &s3,
            bucket,
            &key(CALLER, region, &described, "0905"),
            body(CALLER, port),
        )
        .await;
        expected.push(port);
        port += 1;
        put(
            &s3,
            bucket,
            &key(CALLER, region, "fl-0undescribed00", "0910"),
            body(CALLER, 1),
        )
        .await;
        // Other accounts: two flow logs each, none of them described in the caller's account.
        for account in OTHERS {
            for (id, t) in [
                ("fl-0aaaaaaaaaaaaaaa", "0905"),
                ("fl-0bbbbbbbbbbbbbbb", "0915"),
            ] {
                put(
                    &s3,
                    bucket,
                    &key(account, region, id, t),
                    body(account, port),
                )
                .await;
                expected.push(port);
                port += 1;
            }
        }
    }
    let wazuh = Wazuh::new();
    let (_, messages) = wazuh.two_runs(&["-b", bucket, "-t", "vpcflow", "-s", "2025-JAN-01"]);
    let mut ports: Vec<u32> = messages
        .iter()
        .map(|m| m["aws"]["dstport"].as_str().unwrap_or("0").parse().unwrap())
        .collect();
    ports.sort();
    assert_eq!(
        ports, expected,
        "every object once; the caller's undescribed id ignored"
    );
    let rows = wazuh.table("vpcflow");
    assert_eq!(rows.len(), expected.len());
    for account in OTHERS {
        for region in ["us-east-1", "eu-west-1"] {
            for id in ["fl-0aaaaaaaaaaaaaaa", "fl-0bbbbbbbbbbbbbbb"] {
                let row = rows
                    .iter()
                    .find(|r| r[1] == account && r[2] == region && r[3] == id)
                    .unwrap_or_else(|| panic!("no row for {account} {region} {id}: {rows:?}"));
                assert_eq!(row[0], format!("{bucket}/"));
            }
        }
    }
    assert!(!rows.iter().any(|r| r[3] == "fl-0undescribed00"));
}
