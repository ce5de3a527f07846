"""Replay recorded conformance cases against an aws-s3 binary.

    replay.py --impl target/debug/aws-s3 [--skip-list FILE] CASES_DIR_OR_CASE...

Each case (a folder with case.json and expected/) runs its steps in a fresh moto and a fresh
fake Wazuh tree; every step is compared with what the reference did (see compare.py). Cases
whose folder name matches a line of the skip list are skipped with that line's reason. The
last line is `N passed, M failed` (and skipped ones); the exit status is 0 only when nothing
failed."""

import argparse
import fnmatch
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import compare  # noqa: E402
from world import Clock, Moto, Tree, World  # noqa: E402


def find_cases(paths):
    cases = []
    for p in paths:
        if os.path.isfile(os.path.join(p, "case.json")):
            cases.append(p)
        else:
            cases += sorted(
                os.path.join(p, n) for n in os.listdir(p) if os.path.isfile(os.path.join(p, n, "case.json"))
            )
    return cases


def read_skip_list(path):
    """`GLOB  reason` per line; `#` starts a comment."""
    skips = []
    if path:
        with open(path) as f:
            for line in f:
                line = line.split("#", 1)[0].strip()
                if line:
                    glob, _, reason = line.partition(" ")
                    skips.append((glob, reason.strip()))
    return skips


def run_step(tree, world, clock, case, number, step, moto_url, timeout):
    args = [clock.arg(world.fill(a)) for a in step["args"]]
    if step.get("service_endpoint", case.get("service_endpoint", True)):
        args += ["--service_endpoint", moto_url]
    started = time.monotonic()
    proc = subprocess.run(
        [tree.program] + args,
        cwd=tree.root,
        env=tree.env(moto_url),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=timeout,
    )
    seconds = time.monotonic() - started
    printed = (proc.stdout + proc.stderr).decode("utf-8", "replace")
    return proc.returncode, printed, tree.queue.take(), seconds


def check_step(case_dir, number, case, world, tree, clock, code, printed, datagrams):
    base = os.path.join(case_dir, "expected", f"step-{number}")
    with open(base + ".json") as f:
        want = json.load(f)
    diffs = compare.compare_value("exit code", code, want["exit_code"])
    expected = compare.expected_messages(base + ".messages.jsonl")
    diffs += compare.compare_messages(datagrams, expected, world.unfill)
    ignore = set(case.get("ignore_columns", []))
    files = tree.state_files()
    if want.get("db") is not None and case.get("steps")[number - 1].get("compare_db", True):
        path = files.get("s3_cloudtrail.db")
        diffs += compare.compare_state("s3_cloudtrail.db", path, want["db"], world.unfill, clock, ignore)
    others = {n: p for n, p in files.items() if n != "s3_cloudtrail.db"}
    want_others = want.get("dbs", {})
    for name in sorted(set(others) | set(want_others)):
        diffs += compare.compare_state(
            name, others.get(name), want_others.get(name, {"exists": False}), world.unfill, clock, ignore
        )
    if "remaining_keys" in want:
        diffs += compare.compare_value("keys left", world.remaining_keys(), want["remaining_keys"])
    if "remaining_messages" in want:
        diffs += compare.compare_value("SQS messages left", world.remaining_messages(), want["remaining_messages"])
    if "remaining_log_streams" in want:
        diffs += compare.compare_value("log streams left", world.remaining_log_streams(), want["remaining_log_streams"])
    # wazuh-modulesd turns every printed line into an event: where the reference printed
    # nothing, so must we.
    stdout_file = base + ".stdout.txt"
    if os.path.exists(stdout_file) and os.path.getsize(stdout_file) == 0 and printed:
        diffs.append(f"printed {len(printed.splitlines())} lines where the reference printed nothing")
    if diffs and printed:
        tail = printed.splitlines()[-8:]
        diffs += ["  last lines printed:"] + [f"    {line}" for line in tail]
    return diffs


def run_case(case_dir, binary, moto, timeout):
    with open(os.path.join(case_dir, "case.json")) as f:
        case = json.load(f)
    clock = Clock(case)
    world = World(moto, case, case_dir)
    messages = 0
    with tempfile.TemporaryDirectory(prefix="replay-") as base:
        tree = Tree(base, case, binary)
        try:
            for number, step in enumerate(case["steps"], start=1):
                world.prepare(number, step, clock)
                code, printed, datagrams, _ = run_step(tree, world, clock, case, number, step, moto.url, timeout)
                diffs = check_step(case_dir, number, case, world, tree, clock, code, printed, datagrams)
                if diffs:
                    return False, [f"step {number} ({step.get('description', '')}):"] + diffs
                messages += len(datagrams)
        finally:
            tree.queue.close()
    return True, [f"steps {len(case['steps'])}, messages {messages}"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--impl", required=True, help="the aws-s3 binary")
    parser.add_argument("--skip-list", help="GLOB reason lines: cases not to run yet")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per step")
    parser.add_argument("paths", nargs="+", help="case folders, or folders of cases")
    opts = parser.parse_args()
    binary = os.path.abspath(opts.impl)
    skips = read_skip_list(opts.skip_list)
    passed = failed = skipped = 0
    moto = Moto()
    try:
        for case_dir in find_cases(opts.paths):
            name = os.path.basename(os.path.normpath(case_dir))
            reason = next((r for g, r in skips if fnmatch.fnmatch(name, g)), None)
            if reason is not None:
                print(f"SKIP {name}: {reason}", flush=True)
                skipped += 1
                continue
            try:
                ok, lines = run_case(case_dir, binary, moto, opts.timeout)
            except Exception as e:  # a broken case or harness must fail loudly, not pass
                ok, lines = False, [f"harness error: {type(e).__name__}: {e}"]
            print(f"{'PASS' if ok else 'FAIL'} {name} ({lines[0]})" if ok else f"FAIL {name}", flush=True)
            if not ok:
                for line in lines:
                    print(f"    {line}")
            passed, failed = passed + ok, failed + (not ok)
    finally:
        moto.stop()
    print(f"conformance: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
