"""Run aws-s3 against a local moto S3 holding sample CloudTrail logs; see scripts/demo."""
import gzip
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading

import boto3
from moto.server import ThreadedMotoServer

logging.getLogger("werkzeug").setLevel(logging.ERROR)

BUCKET = "demo-cloudtrail-logs"
ALB_BUCKET = "demo-alb-logs"
WAF_BUCKET = "demo-waf-logs"
ACCOUNT = "111122223333"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def trail(day, time, rid, records):
    key = (f"AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/{day}/"
           f"{ACCOUNT}_CloudTrail_us-east-1_{day.replace('/', '')}T{time}Z_{rid}.json.gz")
    return key, gzip.compress(json.dumps({"Records": records}).encode())


def record(name, source, ip, user, **extra):
    return {"eventVersion": "1.09", "eventTime": "2024-03-14T08:01:12Z", "eventSource": source,
            "eventName": name, "awsRegion": "us-east-1", "sourceIPAddress": ip,
            "userIdentity": {"type": "IAMUser", "userName": user, "accountId": ACCOUNT},
            "errorCode": None, **extra}


def main():
    binary = os.path.abspath(sys.argv[1])
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    tmp = tempfile.mkdtemp(prefix="aws-s3-demo-")
    try:
        s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                          aws_access_key_id="demo", aws_secret_access_key="demo")
        s3.create_bucket(Bucket=BUCKET)
        objects = [
            trail("2024/03/14", "0810", "a1", [
                record("ConsoleLogin", "signin.amazonaws.com", "203.0.113.24", "alice",
                       responseElements={"ConsoleLogin": "Success"}),
                record("RunInstances", "ec2.amazonaws.com", "ec2.amazonaws.com", "alice",
                       requestParameters={"disableApiTermination": True, "instanceType": "t3.micro"}),
            ]),
            trail("2024/03/15", "1405", "b2", [
                record("DeleteBucket", "s3.amazonaws.com", "198.51.100.7", "bob",
                       requestParameters={"bucketName": "old-reports"}, resources=[{"type": "AWS::S3::Bucket"}]),
            ]),
        ]
        for key, body in objects:
            s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        # An application load balancer and a WAF (Firehose) in buckets of their own.
        s3.create_bucket(Bucket=ALB_BUCKET)
        alb_key = (f"AWSLogs/{ACCOUNT}/elasticloadbalancing/us-east-1/2024/03/15/"
                   f"{ACCOUNT}_elasticloadbalancing_us-east-1_app.web.50dc6c495c0c9188_20240315T1005Z_10.0.0.5_x1.log.gz")
        alb_line = ('https 2024-03-15T10:04:58.123456Z app/web/50dc6c495c0c9188 203.0.113.24:51234 10.0.1.7:8080 '
                    '0.001 0.012 0.000 200 200 412 1532 "GET https://shop.example.com:443/cart HTTP/1.1" '
                    '"Mozilla/5.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 '
                    f'arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:targetgroup/web/73e2d6bc24d8a067 '
                    '"Root=1-65f41d3a-6a1c2b3d4e5f60718293a4b5" "shop.example.com" '
                    f'"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/1b2c3d4e" 1 2024-03-15T10:04:58.110000Z '
                    '"forward" "-" "-" "10.0.1.7:8080" "200" "-" "-" TID_1a2b3c4d\n')
        s3.put_object(Bucket=ALB_BUCKET, Key=alb_key, Body=gzip.compress(alb_line.encode()))
        s3.create_bucket(Bucket=WAF_BUCKET)
        waf_event = {"timestamp": 1710496800000, "formatVersion": 1, "webaclId": "arn:aws:wafv2:us-east-1:"
                     f"{ACCOUNT}:regional/webacl/shop/1", "terminatingRuleId": "AWS-AWSManagedRulesSQLiRuleSet",
                     "action": "BLOCK", "httpSourceName": "ALB",
                     "httpRequest": {"clientIp": "198.51.100.77", "country": "NL", "uri": "/search",
                                     "args": "q=1%27%20OR%201=1", "httpMethod": "GET",
                                     "headers": [{"name": "Host", "value": "shop.example.com"},
                                                 {"name": "User-Agent", "value": "sqlmap/1.7"},
                                                 {"name": "X-Internal-Token", "value": "dropped"}]}}
        s3.put_object(Bucket=WAF_BUCKET,
                      Key="waf/2024/03/15/10/aws-waf-logs-shop-1-2024-03-15-10-00-00-3f1c2b7a.gz",
                      Body=gzip.compress((json.dumps(waf_event) + "\n").encode()))

        root = os.path.join(tmp, "ossec")
        for d in ("bin", "queue/sockets", "wodles/aws"):
            os.makedirs(os.path.join(root, d))
        with open(os.path.join(root, "bin/wazuh-control"), "w") as f:
            f.write('#!/bin/sh\necho \'WAZUH_VERSION="v4.14.7"\'\n')
        os.chmod(os.path.join(root, "bin/wazuh-control"), 0o755)
        installed = os.path.join(root, "wodles/aws/aws-s3")
        shutil.copy2(binary, installed)
        home = os.path.join(tmp, "home")
        os.makedirs(os.path.join(home, ".aws"))
        with open(os.path.join(home, ".aws/credentials"), "w") as f:
            f.write("[default]\naws_access_key_id = demo\naws_secret_access_key = demo\n")
        with open(os.path.join(home, ".aws/config"), "w") as f:
            f.write("[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n")

        queue = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        queue.bind(os.path.join(root, "queue/sockets/queue"))
        queue.settimeout(0.3)
        received = []

        def drain():
            while True:
                try:
                    received.append(queue.recv(1 << 20))
                except socket.timeout:
                    return

        env = {"PATH": os.environ.get("PATH", ""), "HOME": home, "AWS_ENDPOINT_URL": url,
               "AWS_EC2_METADATA_DISABLED": "true"}
        runs = [
            [installed, "--bucket", BUCKET, "--type", "cloudtrail", "--only_logs_after", "2024-MAR-14",
             "--aws_account_alias", "demo", "--debug", "1"],
            [installed, "--bucket", ALB_BUCKET, "--type", "alb", "--only_logs_after", "2024-MAR-15"],
            [installed, "--bucket", WAF_BUCKET, "--type", "waf", "--trail_prefix", "waf",
             "--only_logs_after", "2024-MAR-15"],
            [installed, "--bucket", BUCKET, "--type", "cloudtrail", "--only_logs_after", "2024-MAR-14",
             "--aws_account_alias", "demo", "--debug", "1"],
        ]
        check = [installed, "--bucket", BUCKET, "--only_logs_after", "2024-MAR-14", "--check"]
        print(f"\n=== before the first run: {' '.join(['aws-s3'] + check[1:])}")
        proc = subprocess.run(check, env=env, cwd=root, capture_output=True, text=True)
        print(proc.stdout + proc.stderr, end="")
        drain()
        print(f"--- exit code {proc.returncode}; {len(received)} message(s) sent by the check")
        for run, args in enumerate(runs, 1):
            note = "  (again: nothing new)" if run == len(runs) else ""
            print(f"\n=== run {run}: {' '.join(['aws-s3'] + args[1:])}{note}")
            proc = subprocess.run(args, env=env, cwd=root, capture_output=True, text=True)
            print(proc.stdout + proc.stderr, end="")
            drain()
            print(f"--- exit code {proc.returncode}; {len(received)} message(s) received on the queue:")
            for d in received:
                text = d.decode()
                head, body = text[:len("1:Wazuh-AWS:")], text[len("1:Wazuh-AWS:"):]
                print(head + json.dumps(json.loads(body), ensure_ascii=False))
            received.clear()
        db = os.path.join(root, "wodles/aws/s3_cloudtrail.db")
        import sqlite3
        conn = sqlite3.connect(db)
        print(f"\n=== state file {os.path.relpath(db, tmp)}")
        for table in ("cloudtrail", "alb", "waf"):
            rows = conn.execute(f"SELECT log_key, created_date FROM {table}").fetchall()
            print(f"  table {table}: {len(rows)} object(s) recorded")
            for key, created in rows:
                print(f"    {created}  {key}")
        print("\n=== aws-s3 --status (how far each bucket, account and region got)")
        proc = subprocess.run([installed, "--status"], env=env, cwd=root, capture_output=True, text=True)
        print(proc.stdout + proc.stderr, end="")
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
