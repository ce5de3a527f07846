"""See kill-trials. Each trial: a fresh Wazuh tree, a run killed after a random delay, then a
run to completion. Lost events must be 0; duplicates may only come from objects that were
not recorded when the run was killed (they were in flight)."""
import gzip
import json
import logging
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

import boto3
from moto.server import ThreadedMotoServer

logging.getLogger("werkzeug").setLevel(logging.ERROR)
ACCOUNT = "111122223333"
OBJECTS, EVENTS = 80, 50


def main():
    binary, trials = os.path.abspath(sys.argv[1]), int(sys.argv[2])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                      aws_access_key_id="t", aws_secret_access_key="t")
    s3.create_bucket(Bucket="stress-trail")
    expected = set()
    for o in range(OBJECTS):
        key = (f"AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2024/03/15/"
               f"{ACCOUNT}_CloudTrail_us-east-1_20240315T{o:04d}Z_k{o:03d}.json.gz")
        records = [{"eventName": f"o{o}-{e}", "eventSource": "s3.amazonaws.com"} for e in range(EVENTS)]
        s3.put_object(Bucket="stress-trail", Key=key, Body=gzip.compress(json.dumps({"Records": records}).encode()))
        expected.update((key, f"o{o}-{e}") for e in range(EVENTS))
    rnd = random.Random(int(os.environ.get("SEED", "7")))
    totals = {"kills": 0, "lost": 0, "duplicates": 0, "bad_duplicates": 0}
    started = time.time()
    try:
        for trial in range(trials):
            tmp = tempfile.mkdtemp(prefix="kill-trial-")
            root, home = os.path.join(tmp, "ossec"), os.path.join(tmp, "home")
            for d in ("bin", "queue/sockets", "wodles/aws", os.path.join("..", "home", ".aws")):
                os.makedirs(os.path.join(root, d), exist_ok=True)
            with open(os.path.join(root, "bin/wazuh-control"), "w") as f:
                f.write('#!/bin/sh\necho \'WAZUH_VERSION="v4.14.7"\'\n')
            os.chmod(os.path.join(root, "bin/wazuh-control"), 0o755)
            with open(os.path.join(home, ".aws/credentials"), "w") as f:
                f.write("[default]\naws_access_key_id = t\naws_secret_access_key = t\n")
            with open(os.path.join(home, ".aws/config"), "w") as f:
                f.write("[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n")
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
            sock.bind(os.path.join(root, "queue/sockets/queue"))
            sock.settimeout(0.3)
            got = []
            stop = threading.Event()

            def drain():
                while True:
                    try:
                        got.append(json.loads(sock.recv(1 << 20)[len(b"1:Wazuh-AWS:"):]))
                    except socket.timeout:
                        if stop.is_set():
                            return
            reader = threading.Thread(target=drain)
            reader.start()
            env = {"PATH": os.environ["PATH"], "HOME": home, "AWS_ENDPOINT_URL": url,
                   "AWS_EC2_METADATA_DISABLED": "true", "WAZUH_ROOT": root}
            args = [binary, "--bucket", "stress-trail", "--only_logs_after", "2024-MAR-15"]
            proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rnd.uniform(0.02, 0.45))
            killed = proc.poll() is None
            if killed:
                proc.send_signal(signal.SIGKILL)
                totals["kills"] += 1
            proc.wait()
            time.sleep(0.4)
            first = list(got)
            db = os.path.join(root, "wodles/aws/s3_cloudtrail.db")
            recorded = set()
            if os.path.exists(db):
                try:
                    recorded = {r[0] for r in sqlite3.connect(db).execute("SELECT log_key FROM cloudtrail")}
                except sqlite3.OperationalError:
                    pass
            subprocess.run(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
            stop.set()
            reader.join()
            seen = [(m["aws"]["log_info"]["log_file"], m["aws"]["eventName"]) for m in got]
            lost = len(expected - set(seen))
            duplicates = len(seen) - len(set(seen))
            first_keys = {m["aws"]["log_info"]["log_file"] for m in first}
            second = [m["aws"]["log_info"]["log_file"] for m in got[len(first):]]
            bad = sum(1 for k in second if k in recorded)
            totals["lost"] += lost
            totals["duplicates"] += duplicates
            totals["bad_duplicates"] += bad
            print(f"trial {trial + 1:3}: {'killed' if killed else 'finished'}, {len(first)} events before, "
                  f"{len(recorded)} objects recorded, lost {lost}, duplicates {duplicates}, "
                  f"re-sent recorded {bad} ({len(first_keys - recorded)} objects in flight)", flush=True)
            sock.close()
            shutil.rmtree(tmp, ignore_errors=True)
    finally:
        server.stop()
    print(f"{trials} trials, {totals['kills']} kills, {OBJECTS * EVENTS} events per trial: "
          f"lost {totals['lost']}, duplicates {totals['duplicates']} (all from objects in flight: "
          f"{'yes' if totals['bad_duplicates'] == 0 else 'NO'}), {time.time() - started:.0f} s")
    sys.exit(1 if totals["lost"] or totals["bad_duplicates"] else 0)


if __name__ == "__main__":
    main()
