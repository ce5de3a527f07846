"""Benchmark scenarios for aws-s3 (run through bench/run).

A fast local S3 (s3s-fs, serving a folder) holds generated logs; moto answers EC2
(DescribeFlowLogs) for the VPC scenario. The implementation runs from a fake Wazuh tree whose
queue socket is read by a separate process that counts datagrams and bytes. Each scenario
prints objects, events, wall seconds, events/s, MB/s of decompressed input and peak RSS.
"""
import argparse
import gzip
import json
import os
import random
import re
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import boto3

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
ACCOUNT = "111122223333"
HEADER = b"1:Wazuh-AWS:"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError("server exited early")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


class Reader:
    """The queue socket's reader, a separate native process (bench/queue_reader.rs)."""

    def __init__(self, path):
        exe = os.path.join(HERE, ".tools", "bin", "queue-reader")
        self.proc = subprocess.Popen([exe, path], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError("queue reader did not start")

    def finish(self):
        out, _ = self.proc.communicate("stop\n", timeout=120)
        count, size, bad, first, last = out.split()
        self.first, self.last = float(first), float(last)
        return int(count), int(size), int(bad)


# ----------------------------------------------------------------------------- data

def trail_record(i, rnd):
    return {
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDA%08d" % rnd.randrange(10**8),
                         "arn": f"arn:aws:iam::{ACCOUNT}:user/u{i % 50}", "accountId": ACCOUNT,
                         "accessKeyId": "AKIA%016d" % i, "userName": f"u{i % 50}"},
        "eventTime": "2024-03-15T10:%02d:%02dZ" % (i // 60 % 60, i % 60),
        "eventSource": "s3.amazonaws.com", "eventName": ["GetObject", "PutObject", "ListBuckets"][i % 3],
        "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.%d" % (i % 250),
        "userAgent": "aws-cli/2.15.30 Python/3.11.8 Linux/6.1.0",
        "requestParameters": {"bucketName": "data-%d" % (i % 7), "key": "path/to/object-%d.csv" % i},
        "responseElements": None, "requestID": "%032x" % rnd.getrandbits(128),
        "eventID": "%032x" % rnd.getrandbits(128), "readOnly": i % 3 == 2,
        "resources": [{"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::data/{i}"}],
        "eventType": "AwsApiCall", "managementEvent": False, "recipientAccountId": ACCOUNT,
        "eventCategory": "Data", "tlsDetails": {"tlsVersion": "TLSv1.3",
                                                "cipherSuite": "TLS_AES_128_GCM_SHA256"},
    }


def trail_key(account, region, day, hhmm, rid):
    return (f"AWSLogs/{account}/CloudTrail/{region}/{day}/"
            f"{account}_CloudTrail_{region}_{day.replace('/', '')}T{hhmm}Z_{rid}.json.gz")


def put_file(root, bucket, key, data):
    path = os.path.join(root, bucket, key)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def gen_cloudtrail(root, bucket, objects, records):
    rnd = random.Random(1)
    raw = 0
    for o in range(objects):
        body = json.dumps({"Records": [trail_record(o * records + i, rnd) for i in range(records)]}).encode()
        raw += len(body)
        put_file(root, bucket, trail_key(ACCOUNT, "us-east-1", "2024/03/15", "%04d" % o, "b%05d" % o),
                 gzip.compress(body, 6))
    return objects, objects * records, raw


VPC_HEADER = b"version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n"


def gen_vpc(root, bucket, flow_id, mib):
    """One object of `mib` MiB of flow records, written through a streaming gzip."""
    key = (f"AWSLogs/{ACCOUNT}/vpcflowlogs/us-east-1/2024/03/15/"
           f"{ACCOUNT}_vpcflowlogs_us-east-1_{flow_id}_20240315T1000Z_{mib:05d}.log.gz")
    path = os.path.join(root, bucket, key)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    target = mib * 1024 * 1024
    lines = []
    for i in range(4096):
        lines.append(("2 %s eni-%08x 10.%d.%d.%d 172.16.%d.%d %d %d 6 %d %d %d %d %s OK\n" % (
            ACCOUNT, i, i % 200, i % 7, i % 250, i % 9, i % 250, 1024 + i, 443, 10 + i % 90, 4000 + i,
            1710496800 + i, 1710496860 + i, "ACCEPT" if i % 5 else "REJECT")).encode())
    block = b"".join(lines)
    written = len(VPC_HEADER)
    events = 0
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(VPC_HEADER)
        while written < target:
            f.write(block)
            written += len(block)
            events += len(lines)
    return 1, events, written


def gen_alb(root, bucket, objects, lines_per):
    raw = 0
    line = ('https 2024-03-15T10:00:%02d.000000Z app/my-lb/50dc6c495c0c9188 192.168.131.%d:2817 10.0.0.%d:80 '
            '0.086 0.048 0.037 200 200 0 57 "GET https://www.example.com:443/p/%d HTTP/1.1" "curl/7.46.0" '
            'ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:us-east-1:%s:targetgroup/tg/73e2 '
            '"Root=1-58337281-1d84f3d73c47ec4e58577259" "www.example.com" "arn:aws:acm:us-east-1:%s:certificate/1" '
            '1 2024-03-15T10:00:00.000000Z "forward" "-" "-" "10.0.0.%d:80" "200" "-" "-" TID_%d\n')
    for o in range(objects):
        body = "".join(line % (i % 60, i % 250, i % 250, i, ACCOUNT, ACCOUNT, i % 250, o * lines_per + i)
                       for i in range(lines_per)).encode()
        raw += len(body)
        key = (f"AWSLogs/{ACCOUNT}/elasticloadbalancing/us-east-1/2024/03/15/"
               f"{ACCOUNT}_elasticloadbalancing_us-east-1_app.my-lb.50dc_20240315T10%02dZ_10.0.0.5_{o:06d}.log.gz") % (o % 60)
        put_file(root, bucket, key, gzip.compress(body, 6))
    return objects, objects * lines_per, raw


ORG_REGIONS = ["us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "sa-east-1",
               "eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-north-1", "ap-south-1",
               "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-southeast-1", "ap-southeast-2"]


def gen_organization(root, bucket, accounts, regions, per_scope, records):
    """An organization trail: AWSLogs/o-ORGID/ACCOUNT/CloudTrail/REGION/..., `per_scope` small
    objects in each account and region."""
    rnd = random.Random(4)
    n = raw = 0
    for a in range(accounts):
        account = "%012d" % (200000000000 + a)
        for region in ORG_REGIONS[:regions]:
            for o in range(per_scope):
                body = json.dumps({"Records": [trail_record(n * records + i, rnd) for i in range(records)]}).encode()
                raw += len(body)
                key = (f"AWSLogs/o-bench12345/{account}/CloudTrail/{region}/2024/03/15/"
                       f"{account}_CloudTrail_{region}_20240315T10{o:02d}Z_{n:06d}.json.gz")
                put_file(root, bucket, key, gzip.compress(body, 6))
                n += 1
    return n, n * records, raw


def gen_many_accounts(root, bucket, accounts, regions):
    names = ["us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1", "eu-central-1"][:regions]
    rnd = random.Random(2)
    n = 0
    for a in range(accounts):
        account = "%012d" % (100000000000 + a)
        for region in names:
            body = json.dumps({"Records": [trail_record(i, rnd) for i in range(5)]}).encode()
            put_file(root, bucket, trail_key(account, region, "2024/03/15", "1000", "m%03d" % n), gzip.compress(body))
            n += 1
    return n, 0, 0


# ----------------------------------------------------------------------------- running

class Env:
    def __init__(self, impl, workers, impl_tree=None, s3_latency_ms=None):
        self.impl_tree = impl_tree
        self.tmp = tempfile.mkdtemp(prefix="aws-s3-bench-", dir=os.path.join(HERE, ".work")
                                    if os.path.isdir(os.path.join(HERE, ".work")) else None)
        self.data = os.path.join(self.tmp, "s3")
        os.makedirs(self.data)
        self.s3_port = free_port()
        s3s = os.path.join(HERE, ".tools", "bin", "s3s-fs")
        self.s3s = subprocess.Popen([s3s, "--host", "127.0.0.1", "--port", str(self.s3_port),
                                     "--access-key", "bench", "--secret-key", "benchsecret", self.data],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.s3_port, self.s3s)
        self.s3_proxy = None
        self.s3_url = f"http://127.0.0.1:{self.s3_port}"
        if s3_latency_ms is not None:
            # Each GET answered after s3_latency_ms, nothing else waiting (bench/s3_latency_proxy.rs).
            port = free_port()
            self.s3_proxy = subprocess.Popen(
                [os.path.join(HERE, ".tools", "bin", "s3-latency-proxy"), str(port), str(self.s3_port),
                 str(s3_latency_ms)], stdout=subprocess.PIPE, text=True)
            self.s3_proxy.stdout.readline()
            self.s3_url = f"http://127.0.0.1:{port}"
        self.moto = None
        self.moto_port = None
        self.impl = impl
        self.workers = workers
        self.sqs_queue = None
        self.sqs_url = None
        self.stub = None
        self.extra = []

    def serve_from_stub(self, latency_ms):
        """S3 from bench/s3_stub.rs (a sorted in-memory index of the data folder, made now),
        behind the latency proxy when a latency is set."""
        port = free_port()
        stub = subprocess.Popen([os.path.join(HERE, ".tools", "bin", "s3-stub"), str(port), self.data],
                                stdout=subprocess.PIPE, text=True)
        stub.stdout.readline()
        self.extra.append(stub)
        self.s3_url = f"http://127.0.0.1:{port}"
        if latency_ms is not None:
            front = free_port()
            proxy = subprocess.Popen([os.path.join(HERE, ".tools", "bin", "s3-latency-proxy"), str(front), str(port),
                                      str(latency_ms)], stdout=subprocess.PIPE, text=True)
            proxy.stdout.readline()
            self.extra.append(proxy)
            self.s3_url = f"http://127.0.0.1:{front}"

    def start_moto(self):
        if self.moto is None:
            self.moto_port = free_port()
            moto = os.path.join(os.path.dirname(sys.executable), "moto_server")
            self.moto = subprocess.Popen([moto, "-H", "127.0.0.1", "-p", str(self.moto_port)],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_port(self.moto_port, self.moto)
        return f"http://127.0.0.1:{self.moto_port}"

    def bucket(self, name):
        os.makedirs(os.path.join(self.data, name), exist_ok=True)
        return name

    def tree(self):
        root = os.path.join(tempfile.mkdtemp(dir=self.tmp), "ossec")
        for d in ("bin", "queue/sockets", "wodles/aws"):
            os.makedirs(os.path.join(root, d))
        with open(os.path.join(root, "bin/wazuh-control"), "w") as f:
            f.write('#!/bin/sh\necho \'WAZUH_VERSION="v4.14.7"\'\n')
        os.chmod(os.path.join(root, "bin/wazuh-control"), 0o755)
        home = os.path.join(root, "..", "home")
        os.makedirs(os.path.join(home, ".aws"))
        with open(os.path.join(home, ".aws/credentials"), "w") as f:
            f.write("[default]\naws_access_key_id = bench\naws_secret_access_key = benchsecret\n")
        with open(os.path.join(home, ".aws/config"), "w") as f:
            f.write("[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n")
        if self.impl_tree:
            shutil.copytree(self.impl_tree, os.path.join(root, "wodles"), dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__", "tests"))
        words = shlex.split(self.impl)
        if len(words) == 1 and os.path.isfile(words[0]):
            dest = os.path.join(root, "wodles/aws/aws-s3")
            shutil.copy2(words[0], dest)
            argv = [dest]
        else:
            argv = shlex.split(self.impl.replace("{wazuh_root}", root))
        return root, os.path.abspath(home), argv

    def run(self, tree, args, label, objects, events, raw):
        root, home, argv = tree
        env = {"PATH": os.environ.get("PATH", ""), "HOME": home, "TZ": "UTC", "LC_ALL": "C.UTF-8",
               "AWS_ENDPOINT_URL_S3": self.s3_url,
               "AWS_EC2_METADATA_DISABLED": "true", "PYTHONDONTWRITEBYTECODE": "1"}
        if self.moto_port:
            env["AWS_ENDPOINT_URL_EC2"] = f"http://127.0.0.1:{self.moto_port}"
            env["AWS_ENDPOINT_URL_STS"] = f"http://127.0.0.1:{self.moto_port}"
            env["AWS_ENDPOINT_URL_SQS"] = self.sqs_url or f"http://127.0.0.1:{self.moto_port}"
        extra = ["--workers", str(self.workers)] if self.workers and "aws-s3" in argv[-1] else []
        extra += shlex.split(os.environ.get("BENCH_EXTRA_ARGS", ""))
        sock = os.path.join(root, "queue/sockets/queue")
        if os.path.exists(sock):
            os.unlink(sock)
        rd = Reader(sock)
        timer = ["/usr/bin/time", "-v"] if os.access("/usr/bin/time", os.X_OK) else []
        started = time.perf_counter()
        proc = subprocess.run(timer + argv + args + extra, env=env, cwd=root, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
        wall = time.perf_counter() - started
        count, size, bad = rd.finish()
        rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
        rss_mib = int(rss.group(1)) / 1024 if rss else float("nan")
        cpu = sum(float(m) for m in re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", proc.stderr))
        if proc.returncode != 0:
            print(f"  {label}: exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
        if events and count != events:
            print(f"  {label}: WARNING: {count} messages received, {events} expected")
        print(f"{label:<44} objects {objects:>6}  events {count:>9}  wall {wall:8.2f} s  "
              f"{count / wall:>10.0f} events/s  {raw / wall / 1e6:8.1f} MB/s  peak RSS {rss_mib:7.1f} MiB  "
              f"CPU {cpu:6.2f} s{cpu / count * 1e6 if count else 0:6.1f} us/event  "
              f"first event {rd.first:5.2f} s",
              flush=True)
        if self.sqs_queue:
            # A subscriber run ends with a receive that waits 20 s on the empty queue.
            print(f"{'':<44} last event after {rd.last:8.2f} s  "
                  f"{count / max(rd.last, 1e-9):>10.0f} events/s without the final empty receive",
                  flush=True)
        return wall

    def close(self):
        for p in (self.s3s, self.moto, self.stub, self.s3_proxy, *self.extra):
            if p is not None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)


def flow_log_id(env, bucket):
    url = env.start_moto()
    ec2 = boto3.client("ec2", endpoint_url=url, region_name="us-east-1",
                       aws_access_key_id="bench", aws_secret_access_key="benchsecret")
    # moto checks that the flow log's destination bucket exists in its own S3.
    boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="bench",
                 aws_secret_access_key="benchsecret").create_bucket(Bucket=bucket)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    return ec2.create_flow_logs(ResourceIds=[vpc], ResourceType="VPC", TrafficType="ALL",
                                LogDestinationType="s3",
                                LogDestination=f"arn:aws:s3:::{bucket}")["FlowLogIds"][0]


def gen_notified_trails(env, bucket, queue, objects, records, sqs_server):
    """CloudTrail-like JSON events (concatenated, gzip) in s3s-fs, one S3 notification per
    object in a queue of the bench's SQS stand-in (bench/sqs_stub.rs), or of moto's SQS."""
    url = env.start_moto()  # STS for the Python wodle
    env.sqs_queue = queue
    rnd = random.Random(3)
    raw = 0
    bodies = []
    for o in range(objects):
        body = "".join(json.dumps(trail_record(o * records + i, rnd)) for i in range(records)).encode()
        raw += len(body)
        key = f"exports/2024/03/15/trail-{o:05d}.json.gz"
        put_file(env.data, bucket, key, gzip.compress(body, 6))
        bodies.append(json.dumps({"Records": [{
            "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": bucket}, "object": {"key": key}}}]}))
    if sqs_server == "moto":
        sqs = boto3.client("sqs", endpoint_url=url, region_name="us-east-1",
                           aws_access_key_id="bench", aws_secret_access_key="benchsecret")
        q = sqs.create_queue(QueueName=queue, Attributes={"VisibilityTimeout": "600"})["QueueUrl"]
        for i in range(0, len(bodies), 10):
            sqs.send_message_batch(QueueUrl=q, Entries=[
                {"Id": str(n), "MessageBody": b} for n, b in enumerate(bodies[i:i + 10])])
        return objects, objects * records, raw
    path = os.path.join(env.tmp, "sqs-bodies.txt")
    with open(path, "w") as f:
        f.write("\n".join(bodies) + "\n")
    port = free_port()
    env.stub = subprocess.Popen([os.path.join(HERE, ".tools", "bin", "sqs-stub"), str(port), queue, "600", path],
                                stdout=subprocess.PIPE, text=True)
    env.stub.stdout.readline()
    env.sqs_url = f"http://127.0.0.1:{port}"
    return objects, objects * records, raw


def gen_log_group(env, group, streams, events):
    """A CloudWatch Logs group in moto: `streams` streams of `events` JSON messages, yesterday
    (moto refuses events older than 14 days)."""
    import datetime as dt
    url = env.start_moto()
    logs = boto3.client("logs", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="bench", aws_secret_access_key="benchsecret")
    logs.create_log_group(logGroupName=group)
    day = dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)
    start = int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc).timestamp() * 1000)
    raw = 0
    for s in range(streams):
        name = f"2024/06/10/[$LATEST]{s:032x}"
        logs.create_log_stream(logGroupName=group, logStreamName=name)
        batch = []
        for e in range(events):
            msg = json.dumps({"level": "INFO", "requestId": f"{s:08x}-{e:08x}", "msg": "order created",
                              "amount": e % 1000, "stream": s})
            raw += len(msg)
            batch.append({"timestamp": start + 3_600_000 + e * 10, "message": msg})
        for i in range(0, len(batch), 5000):
            logs.put_log_events(logGroupName=group, logStreamName=name, logEvents=batch[i:i + 5000])
    return streams, streams * events, raw, day.strftime("%Y-%b-%d").upper(), url


# ----------------------------------------------------------------------------- side by side

def into_analysisd(opts):
    """Scenario 7: scenario 1's 100,000 CloudTrail events into an analysisd stand-in
    (bench/analysisd_stub.rs: 16,384 slots, decoders at N events/s, drops when full) for each
    N of --rates, for --impl and, with --against, the other implementation. Prints events
    lost, events decoded twice, and the time against the floor (events / N)."""
    for rate in [int(r) for r in opts.rates.split(",")]:
        impls = [(opts.impl, opts.impl_tree, "aws-s3")]
        if opts.against:
            impls.append((opts.against, opts.against_tree, "other"))
        for impl, tree, name in impls:
            env = Env(impl, opts.workers, tree, opts.s3_latency_ms)
            try:
                b = env.bucket("bench-trail")
                o, e, raw = gen_cloudtrail(env.data, b, 200, 500)
                root, home, argv = env.tree()
                sockets = os.path.join(root, "queue/sockets")
                stub = subprocess.Popen([os.path.join(HERE, ".tools", "bin", "analysisd-stub"), sockets,
                                         "16384", str(rate)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True)
                if stub.stdout.readline().strip() != "ready":
                    raise RuntimeError("analysisd stub did not start")
                env_vars = {"PATH": os.environ.get("PATH", ""), "HOME": home, "TZ": "UTC",
                            "LC_ALL": "C.UTF-8", "AWS_ENDPOINT_URL_S3": env.s3_url,
                            "AWS_EC2_METADATA_DISABLED": "true", "PYTHONDONTWRITEBYTECODE": "1"}
                started = time.perf_counter()
                proc = subprocess.run(argv + ["--bucket", b, "--only_logs_after", "2024-MAR-15"],
                                      env=env_vars, cwd=root, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True)
                wall = time.perf_counter() - started
                out, _ = stub.communicate("stop\n", timeout=900)
                decoded, distinct, dropped, _ = out.split()
                decoded, distinct, dropped = int(decoded), int(distinct), int(dropped)
                floor = e / rate if rate else 0.0
                against = f"floor {floor:6.2f} s  ({wall / floor:5.2f}x the floor)" if rate else "no floor"
                print(f"7 into analysisd at {rate or 'any':>6}/s, {name:<7} exit {proc.returncode}  "
                      f"lost {e - distinct:>6} ({(e - distinct) / e:6.1%})  twice {decoded - distinct:>5}  "
                      f"AWS drops {dropped:>6}  wall {wall:7.2f} s  {against}", flush=True)
            finally:
                env.close()


def side_by_side(opts):
    """Scenario 1 for --impl and --against at two S3 latencies, latency-bound (--s3-latency-ms,
    40 by default: real S3's first byte) and CPU-bound (0 ms). Each run of the other
    implementation sits between two of ours, so a drift of the machine shows in both; prints
    each run and then the ratio of the medians, with the range of the per-round ratios."""
    bound = 40 if opts.s3_latency_ms is None else opts.s3_latency_ms
    for latency, what in ((bound, "latency-bound"), (0, "CPU-bound")):
        env = Env(opts.impl, opts.workers, None, latency)
        print(f"# scenario 1 side by side, {latency} ms on every S3 request ({what}); "
              f"{os.cpu_count()} CPU(s)", flush=True)
        try:
            b = env.bucket("bench-trail")
            o, e, raw = gen_cloudtrail(env.data, b, 200, 500)
            args = ["--bucket", b, "--only_logs_after", "2024-MAR-15"]

            def one(impl, tree, name):
                env.impl, env.impl_tree = impl, tree
                return env.run(env.tree(), args, f"1 cloudtrail 200 x 500, {name}", o, e, raw)

            ours = [one(opts.impl, opts.impl_tree, "aws-s3")]
            other = []
            for _ in range(opts.rounds):
                other.append(one(opts.against, opts.against_tree, "other"))
                ours.append(one(opts.impl, opts.impl_tree, "aws-s3"))
        finally:
            env.close()
        rounds = [t / ((a + b) / 2) for t, a, b in zip(other, ours, ours[1:])]
        print(f"ratio {what} ({latency} ms): {statistics.median(other) / statistics.median(ours):.1f}x "
              f"(medians: other {statistics.median(other):.2f} s, aws-s3 {statistics.median(ours):.2f} s; "
              f"per round {min(rounds):.1f}x to {max(rounds):.1f}x)", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--impl", default=os.path.join(REPO, "target/release/aws-s3"),
                    help="executable, or a command line where {wazuh_root} is replaced")
    ap.add_argument("--scenarios", default="1,2,3,4,5,6")
    ap.add_argument("--vpc-mib", default="100,1024", help="sizes of the VPC objects of scenario 2")
    ap.add_argument("--impl-tree", help="folder copied into ROOT/wodles first (to run the Python wodle)")
    ap.add_argument("--workers", type=int, default=0, help="--workers for aws-s3 (default: its own)")
    ap.add_argument("--sqs", choices=["stub", "moto"], default="stub",
                    help="scenario 5's SQS: the bench's stand-in (fast) or moto (slow, scans the queue)")
    ap.add_argument("--s3-latency-ms", type=int, default=None,
                    help="answer each S3 request after this many ms through bench/s3_latency_proxy.rs "
                         "(0: as fast as the machine); default: s3s-fs directly, whose GETs wait "
                         "about 40 ms (two writes without TCP_NODELAY against a delayed ACK)")
    ap.add_argument("--against", metavar="COMMAND",
                    help="scenario 1 only, side by side with this implementation (executable or "
                         "command line with {wazuh_root}), latency-bound and CPU-bound: prints both ratios")
    ap.add_argument("--against-tree", help="folder copied into ROOT/wodles for --against (the Python wodle)")
    ap.add_argument("--rates", default="5000,20000",
                    help="scenario 7: analysisd decode rates (events/s); with --against, side by side")
    ap.add_argument("--rounds", type=int, default=2,
                    help="runs of --against per latency with --against, each between two of ours")
    opts = ap.parse_args()
    if opts.scenarios == "7":
        into_analysisd(opts)
        return
    if opts.against:
        side_by_side(opts)
        return
    chosen = set(opts.scenarios.split(","))
    env = Env(opts.impl, opts.workers, opts.impl_tree, opts.s3_latency_ms)
    latency = "s3s-fs direct (~40 ms GETs)" if opts.s3_latency_ms is None else f"{opts.s3_latency_ms} ms GETs"
    print(f"# {opts.impl} on {os.cpu_count()} CPU(s); local S3: s3s-fs, {latency}", flush=True)
    try:
        if "1" in chosen:
            b = env.bucket("bench-trail")
            o, e, raw = gen_cloudtrail(env.data, b, 200, 500)
            env.run(env.tree(), ["--bucket", b, "--only_logs_after", "2024-MAR-15"],
                    "1 cloudtrail 200 x 500 (gz)", o, e, raw)
        if "2" in chosen:
            b = env.bucket("bench-vpc")
            fid = flow_log_id(env, b)
            for mib in [int(x) for x in opts.vpc_mib.split(",")]:
                shutil.rmtree(os.path.join(env.data, b, "AWSLogs"), ignore_errors=True)
                o, e, raw = gen_vpc(env.data, b, fid, mib)
                env.run(env.tree(), ["--bucket", b, "--type", "vpcflow", "--only_logs_after", "2024-MAR-15"],
                        f"2 vpcflow 1 object of {mib} MiB", o, e, raw)
        if "3" in chosen:
            b = env.bucket("bench-alb")
            o, e, raw = gen_alb(env.data, b, 2000, 20)
            env.run(env.tree(), ["--bucket", b, "--type", "alb", "--only_logs_after", "2024-MAR-15"],
                    "3 alb 2000 small objects", o, e, raw)
        if "4" in chosen:
            b = env.bucket("bench-idle")
            o, _, _ = gen_many_accounts(env.data, b, 10, 5)
            tree = env.tree()
            args = ["--bucket", b, "--only_logs_after", "2024-MAR-15"]
            env.run(tree, args, "4 prime (first run, not the figure)", o, o * 5, 0)
            env.run(tree, args, "4 nothing new, 10 accounts x 5 regions", o, 0, 0)
        if "5" in chosen:
            b = env.bucket("bench-notified")
            o, e, raw = gen_notified_trails(env, b, "bench-notifications", 1000, 50, opts.sqs)
            env.run(env.tree(), ["--subscriber", "buckets", "--queue", "bench-notifications"],
                    f"5 sqs buckets 1000 notifications x 50 ({opts.sqs})", o, e, raw)
            env.sqs_queue = None
        if "8" in chosen:
            b = env.bucket("bench-org")
            o, e, raw = gen_organization(env.data, b, 100, 17, 3, 10)
            # s3s-fs walks the whole bucket for every listing: this scenario is 1,700 of them.
            env.serve_from_stub(opts.s3_latency_ms)
            tree = env.tree()
            args = ["--bucket", b, "--only_logs_after", "2024-MAR-15", "--aws_organization_id", "o-bench12345"]
            env.run(tree, args, "8 organization 100 x 17 x 3, first run", o, e, raw)
            env.run(tree, args, "8 organization, second run (nothing new)", o, 0, 0)
        if "6" in chosen:
            o, e, raw, after, url = gen_log_group(env, "/bench/orders-api", 50, 2000)
            env.run(env.tree(), ["--service", "cloudwatchlogs", "--aws_log_groups", "/bench/orders-api",
                                 "--regions", "us-east-1", "--only_logs_after", after,
                                 "--service_endpoint", url],
                    "6 cloudwatchlogs 50 streams x 2000", o, e, raw)
    finally:
        env.close()


if __name__ == "__main__":
    main()
