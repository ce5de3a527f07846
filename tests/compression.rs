//! Snappy (the framing format and Hadoop's block format) and zstd objects, as Kinesis Data
//! Firehose and other pipelines write them, for bucket types with different parsers: chosen
//! by magic bytes first and extension second; a broken body fails as a broken gzip does.

mod common;

use common::*;
use std::io::Write;

const ACCOUNT: &str = "111122223333";

#[derive(Clone, Copy, Debug)]
enum Codec {
    Framed,
    Hadoop,
    Zstd,
}

const CODECS: [(Codec, &str); 3] = [
    (Codec::Framed, ".snappy"),
    (Codec::Hadoop, ".snappy"),
    (Codec::Zstd, ".zst"),
];

fn compress(codec: Codec, data: &[u8]) -> Vec<u8> {
    match codec {
        Codec::Framed => {
            let mut w = snap::write::FrameEncoder::new(Vec::new());
            w.write_all(data).unwrap();
            w.into_inner().unwrap()
        }
        // Blocks of [uncompressed length][chunks of [compressed length][raw snappy]].
        Codec::Hadoop => {
            let mut out = Vec::new();
            for block in data.chunks(1000) {
                out.extend((block.len() as u32).to_be_bytes());
                let raw = snap::raw::Encoder::new().compress_vec(block).unwrap();
                out.extend((raw.len() as u32).to_be_bytes());
                out.extend(raw);
            }
            out
        }
        Codec::Zstd => zstd::stream::encode_all(data, 3).unwrap(),
    }
}

fn trail_json(tag: &str, n: usize) -> Vec<u8> {
    let records: Vec<serde_json::Value> = (0..n)
        .map(|i| serde_json::json!({"eventName": format!("{tag}-{i}"), "eventSource": "s3.amazonaws.com"}))
        .collect();
    serde_json::json!({ "Records": records })
        .to_string()
        .into_bytes()
}

fn ct_key(id: &str, ext: &str) -> String {
    trail_key(ACCOUNT, "us-east-1", "2024/03/14", "0810", id)
        .replace(".json.gz", &format!(".json{ext}"))
}

#[tokio::test]
async fn cloudtrail_waf_and_custom_objects_in_each_format() {
    let (ct, waf, custom) = ("it-codec-ct", "it-codec-waf", "it-codec-custom");
    let s3 = create_bucket(ct).await;
    create_bucket(waf).await;
    create_bucket(custom).await;
    for (i, (codec, ext)) in CODECS.iter().enumerate() {
        let tag = format!("{codec:?}");
        put(
            &s3,
            ct,
            &ct_key(&tag, ext),
            compress(*codec, &trail_json(&tag, 3)),
        )
        .await;
        let waf_event = |n: usize| {
            serde_json::json!({"timestamp": n, "action": "ALLOW", "tag": tag,
                "httpRequest": {"clientIp": "1.2.3.4", "headers": [{"name": "Host", "value": "example.com"}]}})
            .to_string()
        };
        let lines = format!("{}\n{}\n", waf_event(i * 10 + 1), waf_event(i * 10 + 2));
        let key = format!("waf/2024/03/14/10/aws-waf-logs-1-2024-03-14-10-00-00-{tag}{ext}");
        put(&s3, waf, &key, compress(*codec, lines.as_bytes())).await;
        let event = format!("{{\"source\":\"aws.events\",\"detail\":{{\"tag\":\"{tag}\"}}}}\n");
        let key = format!("events/2024/07/07/07/sec-1-2024-07-07-07-10-00-{tag}{ext}");
        put(&s3, custom, &key, compress(*codec, event.as_bytes())).await;
    }
    let wazuh = Wazuh::new();
    let (_, messages) = wazuh.two_runs(&["-b", ct, "-s", "2024-MAR-14"]);
    let names = event_names(&messages);
    assert_eq!(names.len(), 9, "{names:?}");
    for (codec, _) in CODECS {
        assert!(
            names.contains(&format!("{codec:?}-2")),
            "{codec:?}: {names:?}"
        );
    }
    let (_, messages) = wazuh.two_runs(&["-b", waf, "-t", "waf", "-l", "waf", "-s", "2024-MAR-14"]);
    assert_eq!(messages.len(), 6);
    let (_, messages) = wazuh.two_runs(&[
        "-b",
        custom,
        "-t",
        "custom",
        "-l",
        "events",
        "-s",
        "2024-JUL-07",
    ]);
    let mut tags: Vec<_> = messages
        .iter()
        .map(|m| m["aws"]["tag"].as_str().unwrap().to_string())
        .collect();
    tags.sort();
    assert_eq!(tags, ["Framed", "Hadoop", "Zstd"]);
}

#[tokio::test]
async fn a_snappy_object_without_its_extension_is_read() {
    let bucket = "it-codec-noext";
    let s3 = create_bucket(bucket).await;
    let body = compress(Codec::Framed, &trail_json("noext", 2));
    put(&s3, bucket, &ct_key("noext", ""), body).await;
    let wazuh = Wazuh::new();
    let (_, messages) = wazuh.two_runs(&["-b", bucket, "-s", "2024-MAR-14"]);
    assert_eq!(event_names(&messages), ["noext-0", "noext-1"]);
}

#[tokio::test]
async fn cut_and_corrupt_bodies_fail_as_a_bad_gzip_does() {
    let bucket = "it-codec-broken";
    let s3 = create_bucket(bucket).await;
    let whole = compress(Codec::Zstd, &trail_json("cut", 2000));
    put(
        &s3,
        bucket,
        &ct_key("a-cut", ".zst"),
        whole[..whole.len() / 2].to_vec(),
    )
    .await;
    let wazuh = Wazuh::new();
    let args = ["-b", bucket, "-s", "2024-MAR-14"];
    let run = wazuh.run(&args);
    assert_eq!(run.code, 8, "{}", run.stdout);
    assert!(
        run.stdout.contains("ERROR: Invalid zstd file received."),
        "{}",
        run.stdout
    );
    assert!(
        wazuh.take_messages().is_empty(),
        "nothing of the cut object"
    );
    assert!(wazuh.rows("cloudtrail").is_empty());

    let mut corrupt = compress(Codec::Framed, &trail_json("bad", 2000));
    let n = corrupt.len();
    for b in &mut corrupt[30..n / 2] {
        *b ^= 0x5a;
    }
    put(&s3, bucket, &ct_key("b-bad", ".snappy"), corrupt).await;
    let run = wazuh.run(&[&args[..], &["--skip_on_error"]].concat());
    assert_eq!(run.code, 0, "{}", run.stdout);
    let messages = wazuh.take_messages();
    assert_eq!(messages.len(), 2, "one error_msg per broken object");
    for m in &messages {
        let text = m["error_msg"].as_str().unwrap();
        assert!(text.starts_with("Failed to decompress file "), "{text}");
    }
    assert_eq!(wazuh.rows("cloudtrail").len(), 2, "both recorded");
}
