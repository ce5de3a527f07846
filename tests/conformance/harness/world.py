"""The world a case runs in: moto (S3, EC2 flow logs, SQS, CloudWatch Logs, Inspector v2) and
a fake Wazuh tree with a bound queue socket. Builds what a case.json step asks for."""

import datetime as dt
import json
import os
import re
import shutil
import socket
import stat
import tarfile
import threading
import urllib.parse
import urllib.request

import boto3

ACCOUNT = "123456789012"
MOTO_REGION = "us-east-1"


class Moto:
    """A moto server in this process, on a free loopback port."""

    def __init__(self):
        import logging

        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self.server.start()
        self.url = f"http://127.0.0.1:{port}"

    def reset(self):
        urllib.request.urlopen(urllib.request.Request(f"{self.url}/moto-api/reset", method="POST"))

    def client(self, service, region=MOTO_REGION):
        return boto3.client(
            service,
            region_name=region,
            endpoint_url=self.url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def stop(self):
        self.server.stop()


class QueueSocket:
    """The analysisd queue: a bound datagram socket read by a thread while the run lasts
    (the kernel keeps few datagrams queued, so an unread socket would stall the sender)."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        for opt in (getattr(socket, "SO_RCVBUFFORCE", None), socket.SO_RCVBUF):
            if opt is None:
                continue
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, opt, 32 * 1024 * 1024)
                break
            except OSError:
                continue
        self.sock.bind(path)
        self.sock.settimeout(0.05)
        self.received = []
        self.running = True
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        while self.running:
            try:
                self.received.append(self.sock.recv(1 << 20))
            except socket.timeout:
                continue

    def take(self):
        """Every datagram received so far, the socket drained."""
        self.running = False
        self.thread.join()
        self.sock.setblocking(False)
        while True:
            try:
                self.received.append(self.sock.recv(1 << 20))
            except BlockingIOError:
                break
        out, self.received = self.received, []
        self.running = True
        self.sock.settimeout(0.05)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        return out

    def close(self):
        self.running = False
        self.thread.join()
        self.sock.close()


class Tree:
    """HOME with ~/.aws, and ROOT with bin/wazuh-control, the queue socket and the binary."""

    def __init__(self, base, case, binary):
        self.home = os.path.join(base, "home")
        self.root = os.path.join(base, "root")
        aws = os.path.join(self.home, ".aws")
        os.makedirs(aws)
        with open(os.path.join(aws, "credentials"), "w") as f:
            f.write("[default]\naws_access_key_id = testing\naws_secret_access_key = testing\n")
            f.write(case.get("aws_credentials", ""))
        with open(os.path.join(aws, "config"), "w") as f:
            f.write("[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n")
            f.write(case.get("aws_config", ""))
        for sub in ("bin", "queue/sockets", "wodles/aws"):
            os.makedirs(os.path.join(self.root, sub))
        control = os.path.join(self.root, "bin", "wazuh-control")
        with open(control, "w") as f:
            f.write('#!/bin/sh\n[ "$1" = info ] && echo \'WAZUH_VERSION="v4.14.7"\'\n')
        os.chmod(control, 0o755)
        self.program = os.path.join(self.root, "wodles", "aws", "aws-s3")
        shutil.copy(binary, self.program)
        os.chmod(self.program, os.stat(self.program).st_mode | stat.S_IXUSR)
        self.queue = QueueSocket(os.path.join(self.root, "queue", "sockets", "queue"))

    def env(self, moto_url):
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": self.home,
            "TZ": "UTC",
            "LC_ALL": "C.UTF-8",
            "AWS_ENDPOINT_URL": moto_url,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def state_files(self):
        folder = os.path.join(self.root, "wodles", "aws")
        return {n: os.path.join(folder, n) for n in sorted(os.listdir(folder)) if n.endswith(".db")}


class Clock:
    """A case written for day `clock` runs today: moto refuses log events older than 14 days,
    so event times and `YYYY-MMM-DD` arguments move forward by the days in between, and the
    stored times move back before comparing."""

    DAY_MS = 86_400_000

    def __init__(self, case):
        self.days = 0
        if "clock" in case:
            written = dt.date.fromisoformat(case["clock"])
            self.days = (dt.datetime.now(dt.timezone.utc).date() - written).days

    def arg(self, a):
        if self.days and re.fullmatch(r"\d{4}-[A-Za-z]{3}-\d{2}", a):
            day = dt.datetime.strptime(a, "%Y-%b-%d") + dt.timedelta(days=self.days)
            return day.strftime("%Y-%b-%d").upper()
        return a

    def event_ms(self, t):
        if isinstance(t, str):
            t = dt.datetime.fromisoformat(t.replace("Z", "+00:00"))
            t = int(t.timestamp() * 1000)
        return t + self.days * self.DAY_MS

    def stored(self, value):
        """A stored epoch-ms value back on the case's own clock."""
        now_ms = dt.datetime.now(dt.timezone.utc).timestamp() * 1000
        if isinstance(value, int) and abs(value - now_ms) < 60 * self.DAY_MS:
            return value - self.days * self.DAY_MS
        return value


class World:
    """One case's state in moto, step by step."""

    def __init__(self, moto, case, case_dir):
        self.moto, self.case, self.dir = moto, case, case_dir
        self.bucket = case.get("bucket")
        self.flow_log_ids = []
        self.queue_urls = {}
        self.log_groups = set()
        self.s3 = moto.client("s3")
        moto.reset()
        if self.bucket:
            self.s3.create_bucket(Bucket=self.bucket)
        for fl in case.get("flow_logs", []):
            self.flow_log_ids.append(self._flow_log(fl))

    def _flow_log(self, spec):
        ec2 = self.moto.client("ec2", spec["region"])
        vpc = ec2.create_vpc(CidrBlock=spec.get("cidr", "10.0.0.0/16"))["Vpc"]["VpcId"]
        out = ec2.create_flow_logs(
            ResourceIds=[vpc],
            ResourceType="VPC",
            TrafficType="ALL",
            LogDestinationType="s3",
            LogDestination=f"arn:aws:s3:::{self.bucket}",
        )
        return out["FlowLogIds"][0]

    def fill(self, text):
        """`{flow_log_id_N}` -> the N-th id moto chose."""
        for n, fid in enumerate(self.flow_log_ids):
            text = text.replace(f"{{flow_log_id_{n}}}", fid)
        return text

    def unfill(self, text):
        for n, fid in enumerate(self.flow_log_ids):
            text = text.replace(fid, f"{{flow_log_id_{n}}}")
        return text

    def prepare(self, number, step, clock):
        """Everything due before step `number` (1-based) runs."""
        if "upload" in step:
            top = os.path.join(self.dir, step["upload"])
            for folder, _, files in os.walk(top):
                for name in files:
                    path = os.path.join(folder, name)
                    key = os.path.relpath(path, top).replace(os.sep, "/")
                    with open(path, "rb") as f:
                        self.s3.put_object(Bucket=self.bucket, Key=self.fill(key), Body=f.read())
        if "upload_tar" in step:
            with tarfile.open(os.path.join(self.dir, step["upload_tar"])) as tar:
                for member in tar:
                    if member.isfile():
                        body = tar.extractfile(member).read()
                        self.s3.put_object(Bucket=self.bucket, Key=self.fill(member.name), Body=body)
        for key in step.get("delete_keys", []):
            self.s3.delete_object(Bucket=self.bucket, Key=self.fill(key))
        for q in self.case.get("queues", []):
            if q.get("from_step", 1) == number:
                self._create_queue(q)
        for entry in step.get("send", []):
            self._send(entry)
        for group in step.get("log_groups", []):
            self._log_group(group, clock)
        for seed in step.get("inspector_findings", []):
            self._findings(seed)

    def _create_queue(self, q):
        sqs = self.moto.client("sqs", q.get("region", MOTO_REGION))
        attributes = {k: str(v) for k, v in q.get("attributes", {}).items()}
        url = sqs.create_queue(QueueName=q["name"], Attributes=attributes)["QueueUrl"]
        self.queue_urls[q["name"]] = (q.get("region", MOTO_REGION), url)

    def _send(self, entry):
        name = entry.get("queue") or next(iter(self.queue_urls))
        region, url = self.queue_urls[name]
        if "body" in entry:
            body = entry["body"]
            bodies = [body if isinstance(body, str) else json.dumps(body)]
        else:
            from notifications import notifications

            bodies = notifications(entry, self.bucket, self.s3, self.fill)
        for body in bodies:
            self.moto.client("sqs", region).send_message(QueueUrl=url, MessageBody=body)

    def _log_group(self, group, clock):
        region = group.get("region", MOTO_REGION)
        logs = self.moto.client("logs", region)
        name = group["name"]
        if (region, name) not in self.log_groups:
            logs.create_log_group(logGroupName=name)
            self.log_groups.add((region, name))
        existing = {
            s["logStreamName"] for s in logs.describe_log_streams(logGroupName=name)["logStreams"]
        }
        for stream in group.get("streams", []):
            if stream["name"] not in existing:
                logs.create_log_stream(logGroupName=name, logStreamName=stream["name"])
            events = [
                {"timestamp": clock.event_ms(t), "message": m if isinstance(m, str) else json.dumps(m)}
                for t, m in stream.get("events", [])
            ]
            if events:
                events.sort(key=lambda e: e["timestamp"])
                logs.put_log_events(logGroupName=name, logStreamName=stream["name"], logEvents=events)
        for stream in group.get("delete_streams", []):
            logs.delete_log_stream(logGroupName=name, logStreamName=stream)

    def _findings(self, seed):
        pages = seed.get("pages") or [seed.get("findings", [])]
        body = {
            "results": pages,
            "account_id": seed.get("account", ACCOUNT),
            "region": seed.get("region", MOTO_REGION),
        }
        request = urllib.request.Request(
            f"{self.moto.url}/moto-api/static/inspector2/findings-results",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        urllib.request.urlopen(request)

    # What is left after a step.

    def remaining_keys(self):
        keys = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            keys += [self.unfill(o["Key"]) for o in page.get("Contents", [])]
        return sorted(keys)

    def remaining_messages(self):
        left = {}
        for name, (region, url) in self.queue_urls.items():
            attrs = self.moto.client("sqs", region).get_queue_attributes(
                QueueUrl=url,
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            left[name] = int(attrs["ApproximateNumberOfMessages"]) + int(
                attrs["ApproximateNumberOfMessagesNotVisible"]
            )
        return left

    def remaining_log_streams(self):
        left = {}
        for region, name in sorted(self.log_groups):
            logs = self.moto.client("logs", region)
            streams = []
            for page in logs.get_paginator("describe_log_streams").paginate(logGroupName=name):
                streams += [s["logStreamName"] for s in page["logStreams"]]
            left[f"{region}:{name}"] = sorted(streams)
        return left


def quote_key(key):
    """A key as S3 writes it in event notifications (`quote_plus`, `/` kept)."""
    return urllib.parse.quote_plus(key, safe="/")
