"""SQS message bodies in the shapes AWS sends them: S3 event notifications, SNS envelopes,
EventBridge events and test events. Ids and times are fixed so that bodies are the same on
every run; size and ETag come from the uploaded object."""

import json

from world import ACCOUNT, MOTO_REGION, quote_key

TIME = "2024-06-10T09:00:00.000Z"
TOPIC = f"arn:aws:sns:{MOTO_REGION}:{ACCOUNT}:s3-notifications"


def notifications(entry, default_bucket, s3, fill):
    """The bodies of one `send` entry with `notify`: one message, or one per key for
    EventBridge. A key is a string or {"key", "event", "raw_key", "detail_type"}; the
    recordings were made with `detail_type` read per key (an entry-level one is not used)."""
    kind = entry["notify"]
    bucket = entry.get("bucket", default_bucket)
    if kind in ("s3-test", "sns-test"):
        body = test_event(bucket)
        return [sns(body) if kind == "sns-test" else body]
    keys = entry.get("keys") or [entry["key"]]
    keys = [dict(k, key=fill(k["key"])) if isinstance(k, dict) else {"key": fill(k)} for k in keys]
    if kind == "eventbridge":
        return [eventbridge(bucket, k, s3, k.get("detail_type", "Object Created")) for k in keys]
    records = [s3_record(bucket, k, s3, k.get("raw_key", entry.get("raw_key", False))) for k in keys]
    body = json.dumps({"Records": records})
    if kind == "sns":
        return [sns(body)]
    if kind == "s3":
        return [body]
    raise ValueError(f"unknown notify kind {kind!r}")


def _head(s3, bucket, key):
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
        return head["ContentLength"], head["ETag"].strip('"')
    except Exception:  # a removed object is notified too
        return 0, "d41d8cd98f00b204e9800998ecf8427e"


def s3_record(bucket, spec, s3, raw_key):
    key = spec["key"]
    size, etag = _head(s3, bucket, key)
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": MOTO_REGION,
        "eventTime": TIME,
        "eventName": spec.get("event", "ObjectCreated:Put"),
        "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
        "requestParameters": {"sourceIPAddress": "198.51.100.7"},
        "responseElements": {
            "x-amz-request-id": "C3D13FE58DE4C810",
            "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD",
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "wazuh-notifications",
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                "arn": f"arn:aws:s3:::{bucket}",
            },
            "object": {
                "key": key if raw_key else quote_key(key),
                "size": size,
                "eTag": etag,
                "sequencer": "0055AED6DCD90281E5",
            },
        },
    }


def eventbridge(bucket, spec, s3, detail_type):
    size, etag = _head(s3, bucket, spec["key"])
    return json.dumps(
        {
            "version": "0",
            "id": "17793124-05d4-b198-2fde-7ededc63b103",
            "detail-type": detail_type,
            "source": "aws.s3",
            "account": ACCOUNT,
            "time": "2024-06-10T09:00:00Z",
            "region": MOTO_REGION,
            "resources": [f"arn:aws:s3:::{bucket}"],
            "detail": {
                "version": "0",
                "bucket": {"name": bucket},
                "object": {
                    "key": spec["key"],
                    "size": size,
                    "etag": etag,
                    "sequencer": "00617F08299329D189",
                },
                "request-id": "N4N7GDK58NMKJ12R",
                "requester": ACCOUNT,
                "source-ip-address": "198.51.100.7",
                "reason": "PutObject",
            },
        }
    )


def test_event(bucket):
    return json.dumps(
        {
            "Service": "Amazon S3",
            "Event": "s3:TestEvent",
            "Time": TIME,
            "Bucket": bucket,
            "RequestId": "5582815E1AEA5ADF",
            "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE",
        }
    )


def sns(message):
    return json.dumps(
        {
            "Type": "Notification",
            "MessageId": "a1b2c3d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
            "TopicArn": TOPIC,
            "Subject": "Amazon S3 Notification",
            "Message": message,
            "Timestamp": TIME,
            "SignatureVersion": "1",
            "Signature": "EXAMPLE",
            "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService.pem",
            "UnsubscribeURL": f"https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={TOPIC}:1",
        }
    )
