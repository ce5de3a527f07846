//! `--status`: what the state files say, as text and as JSON lines, from a file of ours and
//! from files the Python wodle wrote (rebuilt from the conformance corpus's recorded tables).

mod common;

use common::*;
use serde_json::Value;
use std::path::Path;

const ACCOUNT: &str = "111122223333";

fn json_lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn of_kind<'a>(records: &'a [Value], kind: &str) -> Vec<&'a Value> {
    records.iter().filter(|r| r["kind"] == kind).collect()
}

fn lag_days(date: &str) -> i64 {
    let day = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
    (chrono::Utc::now().date_naive() - day).num_days()
}

#[tokio::test]
async fn our_state_file_is_reported_per_scope_and_narrowed_by_the_flags() {
    let bucket = "it-status-ours";
    let s3 = create_bucket(bucket).await;
    for (day, time, id) in [("2024/03/14", "0810", "a"), ("2024/03/15", "0910", "b")] {
        put(
            &s3,
            bucket,
            &trail_key(ACCOUNT, "us-east-1", day, time, id),
            trail_object(id, 2),
        )
        .await;
    }
    put(
        &s3,
        bucket,
        &trail_key(ACCOUNT, "eu-west-1", "2024/03/15", "1000", "c"),
        trail_object("c", 1),
    )
    .await;
    let wazuh = Wazuh::new();
    assert_eq!(wazuh.run(&["-b", bucket, "-s", "2024-MAR-14"]).code, 0);
    wazuh.take_messages();
    let before = std::fs::read(wazuh.db_path()).unwrap();

    let run = wazuh.run(&["--status", "--json"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let records = json_lines(&run.stdout);
    let file = of_kind(&records, "state_file");
    assert_eq!(file[0]["exists"], true);
    assert_eq!(file[0]["wazuh_version"], "v4.14.7");
    let scopes = of_kind(&records, "bucket");
    assert_eq!(scopes.len(), 2, "{}", run.stdout);
    let east = scopes
        .iter()
        .find(|r| r["aws_region"] == "us-east-1")
        .unwrap();
    assert_eq!(east["type"], "cloudtrail");
    assert_eq!(east["bucket"], bucket);
    assert_eq!(east["aws_account_id"], ACCOUNT);
    assert_eq!(east["objects"], 2);
    assert_eq!(
        east["newest_key"],
        trail_key(ACCOUNT, "us-east-1", "2024/03/15", "0910", "b")
    );
    assert_eq!(east["newest_date"], "2024-03-15");
    assert_eq!(east["lag_days"], lag_days("2024-03-15"));
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert!(
        east["last_recorded"].as_str().unwrap().starts_with(&today),
        "{east}"
    );

    // --output gives the same JSON lines, to stdout or into a file.
    let run = wazuh.run(&["--status", "--output", "-"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(json_lines(&run.stdout), records);
    let file = wazuh.dir.path().join("status.jsonl");
    let run = wazuh.run(&["--status", "--output", file.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert_eq!(
        json_lines(&std::fs::read_to_string(&file).unwrap()),
        records
    );

    // Narrowed: by region, by type, by bucket.
    let run = wazuh.run(&["--status", "--json", "--regions", "eu-west-1"]);
    let scopes = json_lines(&run.stdout);
    let scopes = of_kind(&scopes, "bucket");
    assert_eq!(scopes.len(), 1);
    assert_eq!(scopes[0]["objects"], 1);
    for narrowed in [
        vec!["--status", "--json", "--type", "vpcflow"],
        vec!["--status", "--json", "-b", "another-bucket"],
        vec!["--status", "--json", "--aws_account_id", "999988887777"],
    ] {
        let run = wazuh.run(&narrowed);
        assert_eq!(run.code, 0);
        assert!(
            of_kind(&json_lines(&run.stdout), "bucket").is_empty(),
            "{narrowed:?}"
        );
    }

    // The text form: a table with the same facts.
    let run = wazuh.run(&["--status", "-b", bucket]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let row = run
        .stdout
        .lines()
        .find(|l| l.contains("us-east-1") && l.contains("cloudtrail"))
        .unwrap_or_else(|| panic!("{}", run.stdout));
    for part in [
        bucket,
        ACCOUNT,
        "2024-03-15",
        &format!("{}d", lag_days("2024-03-15")),
        "_b.json.gz",
    ] {
        assert!(row.contains(part), "{part} in {row}");
    }
    assert!(run.stdout.lines().any(|l| l.contains("NEWEST KEY")));
    assert_eq!(
        std::fs::read(wazuh.db_path()).unwrap(),
        before,
        "read, never written"
    );
}

/// A state file as the Python wodle leaves it: the recorded tables of conformance cases
/// (the reference's schema and rows), `processed_date` as its `DATETIME('now')` writes it.
fn python_state_file(path: &Path, cases: &[&str], replace: &[(&str, &str)]) {
    let db = rusqlite::Connection::open(path).unwrap();
    db.execute_batch(
        "CREATE TABLE metadata (key 'text' NOT NULL, value 'text' NOT NULL, PRIMARY KEY (key, value));
         INSERT INTO metadata VALUES ('version', '4.14.7');",
    )
    .unwrap();
    let name = path.file_name().unwrap().to_str().unwrap();
    for case in cases {
        let expected = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/conformance/cases")
            .join(case)
            .join("expected/step-1.json");
        let expected: Value = serde_json::from_slice(&std::fs::read(expected).unwrap()).unwrap();
        let db_json = match name {
            "s3_cloudtrail.db" => &expected["db"],
            _ => &expected["dbs"][name],
        };
        for (table, t) in db_json["tables"].as_object().unwrap() {
            let schema = t["schema"].as_array().unwrap();
            let mut columns: Vec<String> = schema
                .iter()
                .map(|c| {
                    let not_null = if c[2] == 1 { " NOT NULL" } else { "" };
                    format!(
                        "{} '{}'{not_null}",
                        c[0].as_str().unwrap(),
                        c[1].as_str().unwrap().to_lowercase()
                    )
                })
                .collect();
            let mut keys: Vec<(i64, &str)> = schema
                .iter()
                .filter(|c| c[3].as_i64().unwrap() > 0)
                .map(|c| (c[3].as_i64().unwrap(), c[0].as_str().unwrap()))
                .collect();
            keys.sort();
            let keys: Vec<&str> = keys.into_iter().map(|(_, k)| k).collect();
            columns.push(format!("PRIMARY KEY ({})", keys.join(", ")));
            db.execute_batch(&format!("CREATE TABLE {table} ({});", columns.join(", ")))
                .unwrap();
            let mut names: Vec<String> = t["columns"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap().to_string())
                .collect();
            let has_processed = schema.iter().any(|c| c[0] == "processed_date");
            if has_processed {
                names.push("processed_date".into());
            }
            for row in t["rows"].as_array().unwrap() {
                let mut values: Vec<rusqlite::types::Value> = row
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| match v {
                        Value::Number(n) => rusqlite::types::Value::Integer(n.as_i64().unwrap()),
                        Value::Null => rusqlite::types::Value::Null,
                        other => {
                            let mut s = other.as_str().unwrap().to_string();
                            for (from, to) in replace {
                                s = s.replace(from, to);
                            }
                            rusqlite::types::Value::Text(s)
                        }
                    })
                    .collect();
                if has_processed {
                    values.push(rusqlite::types::Value::Text("2024-12-02 06:00:00".into()));
                }
                let marks: Vec<String> = (1..=values.len()).map(|i| format!("?{i}")).collect();
                db.execute(
                    &format!(
                        "INSERT OR IGNORE INTO {table} ({}) VALUES ({})",
                        names.join(", "),
                        marks.join(", ")
                    ),
                    rusqlite::params_from_iter(values),
                )
                .unwrap();
            }
        }
    }
}

#[test]
fn state_files_written_by_the_python_wodle_are_read() {
    let wazuh = Wazuh::new();
    let aws = wazuh.root().join("wodles/aws");
    python_state_file(
        &aws.join("s3_cloudtrail.db"),
        &["cloudtrail-basic", "config-basic", "vpcflow-basic"],
        &[("{flow_log_id_0}", "fl-0123456789abcdef0")],
    );
    python_state_file(
        &aws.join("aws_services.db"),
        &["cloudwatchlogs-basic", "inspector-findings"],
        &[
            ("9999-99-99 99:99:99.999999", "2024-06-11 08:30:00.123456"),
            ("9999-99-99 99:99:99.9", "2024-06-10 00:00:00.0"),
        ],
    );
    let run = wazuh.run(&["--status", "--json"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let records = json_lines(&run.stdout);
    let buckets = of_kind(&records, "bucket");
    let find = |t: &str| {
        *buckets
            .iter()
            .find(|r| r["type"] == t)
            .unwrap_or_else(|| panic!("{t}: {}", run.stdout))
    };

    let trail = find("cloudtrail");
    assert_eq!(trail["bucket"], "acme-cloudtrail-logs");
    assert_eq!(trail["objects"], 3);
    assert_eq!(trail["newest_date"], "2024-03-15");
    assert!(trail["newest_key"]
        .as_str()
        .unwrap()
        .contains("20240315T1600Z"));
    assert_eq!(trail["last_recorded"], "2024-12-02 06:00:00");

    // Config's folders do not sort as text: the newest is by the date in the key.
    let config = find("config");
    assert_eq!(config["newest_date"], "2024-10-02");
    assert!(
        config["newest_key"]
            .as_str()
            .unwrap()
            .contains("/2024/10/2/"),
        "{config}"
    );
    assert_eq!(config["objects"], 4);

    let flow = find("vpcflow");
    assert_eq!(flow["flow_log_id"], "fl-0123456789abcdef0");
    assert_eq!(flow["newest_date"], "2024-12-01");

    let streams = of_kind(&records, "cloudwatch_logs");
    assert_eq!(streams.len(), 2);
    assert_eq!(streams[0]["log_group"], "/aws/lambda/orders-api");
    assert_eq!(streams[0]["up_to"], "2024-06-10T08:02:13.460Z");
    assert_eq!(streams[0]["has_token"], true);
    assert!(streams[0]["age_seconds"].as_i64().unwrap() > 0);

    let scans = of_kind(&records, "inspector");
    assert_eq!(scans.len(), 1);
    assert_eq!(scans[0]["last_scan"], "2024-06-11 08:30:00.123456");

    // Narrowed to a service, the bucket file is not read; the text form has its tables.
    let run = wazuh.run(&["--status", "--service", "cloudwatchlogs"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(!run.stdout.contains("s3_cloudtrail.db"), "{}", run.stdout);
    assert!(
        run.stdout.contains("LOG STREAM") && run.stdout.contains("orders-api"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("LAST SCAN"), "{}", run.stdout);
}

#[test]
fn without_state_files_status_says_nothing_was_recorded() {
    let wazuh = Wazuh::new();
    let run = wazuh.run(&["--status"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stdout.contains("no state file (nothing recorded yet)"),
        "{}",
        run.stdout
    );
    assert!(!wazuh.db_path().exists());
    assert!(!wazuh.root().join("wodles/aws/aws_services.db").exists());
}
