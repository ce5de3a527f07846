"""What a step left, against what the reference left: exit code, messages (a multiset of JSON
values), state files, keys, SQS messages and log streams. Each check returns a list of
differences, empty when they agree."""

import json
import re
import sqlite3

HEADER = b"1:Wazuh-AWS:"
# The JSON text behind each compared message key, to show field differences.
_VALUES = {}


def canonical(value):
    """A JSON value as a comparable string: key order does not matter; `1` and `1.0`, and
    `true` and `1`, differ (Python compares them equal)."""
    if isinstance(value, bool):
        return "T" if value else "F"
    if isinstance(value, int):
        return f"i{value}"
    if isinstance(value, float):
        return f"f{value!r}"
    if isinstance(value, str):
        return "s" + json.dumps(value)
    if value is None:
        return "n"
    if isinstance(value, list):
        return "[" + ",".join(canonical(v) for v in value) + "]"
    return "{" + ",".join(json.dumps(k) + ":" + canonical(value[k]) for k in sorted(value)) + "}"


def message_key(payload):
    """A payload as compared: one line of JSON by value, anything else byte for byte. In an
    `error_msg` only the text up to the object key counts (the rest is a Python repr)."""
    if "\n" not in payload:
        try:
            value = json.loads(payload)
        except ValueError:
            value = None
        else:
            if isinstance(value, dict) and isinstance(value.get("error_msg"), str):
                key = value.get("aws", {}).get("log_info", {}).get("log_file", "")
                at = value["error_msg"].find(key) if key else -1
                if at >= 0:
                    value = dict(value, error_msg=value["error_msg"][: at + len(key)])
            key = "json:" + canonical(value)
            _VALUES[key] = json.dumps(value)
            return key
    return "raw:" + payload


def expected_messages(path):
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f.read().split("\n"):
            if not line:
                continue
            if line.startswith("#raw "):
                out.append(message_key(json.loads(line[5:])))
            else:
                out.append(message_key(line))
    return out


def compare_messages(datagrams, expected, unfill):
    diffs, actual = [], []
    for d in datagrams:
        if not d.startswith(HEADER):
            diffs.append(f"a datagram without the {HEADER!r} header: {d[:120]!r}")
            continue
        actual.append(message_key(unfill(d[len(HEADER):].decode("utf-8", "replace"))))
    missing, unexpected = list(expected), []
    for key in actual:
        if key in missing:
            missing.remove(key)
        else:
            unexpected.append(key)
    if missing or unexpected:
        diffs.append(
            f"messages: {len(actual)} sent, {len(expected)} expected; "
            f"{len(missing)} missing, {len(unexpected)} unexpected"
        )
        for m in missing[:5]:
            diffs.append(f"  missing: {m[:300]}")
            closest = max(unexpected, key=lambda u: len(flat(m).items() & flat(u).items()), default=None)
            if closest is not None:
                diffs += [f"    {line}" for line in field_diff(m, closest)]
        diffs += [f"  unexpected: {u[:300]}" for u in unexpected[len(missing):][:5]]
    return diffs


def flat(key):
    """A compared message as {path: canonical leaf}, for showing where two differ."""
    if not key.startswith("json:"):
        return {"": key}
    out = {}

    def walk(v, path):
        if isinstance(v, dict) and v:
            for k, item in v.items():
                walk(item, f"{path}.{k}" if path else k)
        else:
            out[path] = canonical(v)

    walk(json.loads(_VALUES[key]), "")
    return out


def field_diff(want, got):
    a, b = flat(want), flat(got)
    lines = [f"closest sent message differs in {p}: expected {a.get(p)}, sent {b.get(p)}"
             for p in sorted(set(a) | set(b)) if a.get(p) != b.get(p)]
    return lines[:10]


def read_state(path, unfill, clock, ignore_columns):
    """Every table but `metadata`: schema, columns without `processed_date`, rows."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        tables = {}
        # SQLite's own tables (sqlite_stat1 after ANALYZE ...) are not the state.
        for table in sorted(n for n in names if n != "metadata" and not n.startswith("sqlite_")):
            info = db.execute(f'PRAGMA table_info("{table}")').fetchall()
            schema = [[c[1], c[2].upper(), c[3], c[5]] for c in info]
            columns = [c[1] for c in info if c[1] != "processed_date"]
            quoted = ", ".join(f'"{c}"' for c in columns)
            rows = []
            for row in db.execute(f'SELECT {quoted} FROM "{table}"'):
                rows.append([
                    shape(unfill_value(v, unfill, clock), f"{table}.{c}" in ignore_columns)
                    for c, v in zip(columns, row)
                ])
            tables[table] = {"schema": schema, "columns": columns, "rows": rows}
        return tables
    finally:
        db.close()


def unfill_value(v, unfill, clock):
    if isinstance(v, str):
        return unfill(v)
    return clock.stored(v)


def shape(v, by_shape):
    """A wall-clock value compared by shape only: every digit becomes 9."""
    return re.sub(r"\d", "9", str(v)) if by_shape and v is not None else v


def compare_state(label, path, expected, unfill, clock, ignore_columns):
    if path is None:
        return [] if not expected.get("exists") else [f"{label}: no state file, one expected"]
    if not expected.get("exists"):
        return [f"{label}: a state file exists, none expected"]
    actual = read_state(path, unfill, clock, ignore_columns)
    diffs = []
    want_tables = expected.get("tables", {})
    for table in sorted(set(actual) | set(want_tables)):
        got, want = actual.get(table), want_tables.get(table)
        if got is None or want is None:
            diffs.append(f"{label}: table {table} {'missing' if got is None else 'not expected'}")
            continue
        for part in ("schema", "columns"):
            if got[part] != want[part]:
                diffs.append(f"{label}.{table} {part}: {got[part]} != expected {want[part]}")
        got_rows = sorted(canonical(r) for r in got["rows"])
        want_rows = sorted(canonical(shape_row(r, table, want["columns"], ignore_columns)) for r in want["rows"])
        if got_rows != want_rows:
            extra = [r for r in got_rows if r not in want_rows]
            lost = [r for r in want_rows if r not in got_rows]
            diffs.append(f"{label}.{table}: {len(got_rows)} rows, {len(want_rows)} expected")
            diffs += [f"  missing row:    {r[:300]}" for r in lost[:5]]
            diffs += [f"  unexpected row: {r[:300]}" for r in extra[:5]]
    return diffs


def shape_row(row, table, columns, ignore_columns):
    return [shape(v, f"{table}.{c}" in ignore_columns) for c, v in zip(columns, row)]


def compare_value(label, actual, expected):
    return [] if actual == expected else [f"{label}: {actual} != expected {expected}"]
