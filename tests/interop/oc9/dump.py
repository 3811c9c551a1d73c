#!/usr/bin/env python3
"""Canonical JSON dump of an OpenClaw 2026.9.6 state database, for twin comparisons.

    dump.py STATE_DIR|DB_FILE [--all] [--tables T1,T2] [--exclude T1,T2] [--immutable] [-o OUT]
    dump.py diff [--brief] BEFORE.json AFTER.json

STATE_DIR is an OpenClaw state dir (the DB is STATE_DIR/state/openclaw.sqlite); a path to a
file is used as the DB itself. The DB is opened read-only (URI mode=ro; a WAL database needs
its directory writable for -shm, as SQLite requires), so dumping never writes to it. Note that
SQLite itself creates empty `-wal`/`-shm` files next to a WAL database that has none (after a
clean close) and leaves them; the database file is untouched. --immutable opens with
`immutable=1` instead (no side files at all; only for quiescent copies such as fixtures).

The document has the shape of the fixtures' `*.pairing.json`: journal_mode, user_version,
page_size, table_count (tables not named sqlite_*), and `tables`: table -> rows, each row an
object with the cells exactly as stored, keys in column order. Unlike the fixtures (which are
in storage order), rows are sorted by the primary key, or by all columns for a table without
one, so two databases holding the same rows dump to the same bytes whatever the order the
rows were written in. BLOB cells become {"$blob": "<hex>"}. Output is 2-space JSON with a
trailing newline.

By default the 11 pairing tables of the fixtures are dumped; --all dumps every table (sqlite_*
included except sqlite_stat*). `diff` compares two dumps table by table and prints, for each
table that differs, the rows only in BEFORE and the rows only in AFTER (exit 1 if any differ);
--brief shortens every string cell to 100 characters.
"""
import json
import os
import sqlite3
import sys
from urllib.parse import quote

PAIRING_TABLES = [
    "channel_pairing_requests",
    "channel_pairing_allow_entries",
    "device_pairing_pending",
    "device_pairing_paired",
    "device_bootstrap_tokens",
    "device_pair_setup_completions",
    "device_pairing_join_codes",
    "device_identities",
    "device_auth_tokens",
    "gateway_origin_device_tokens",
    "schema_meta",
]


def die(msg, code=2):
    sys.stderr.write(f"dump.py: {msg}\n")
    sys.exit(code)


def db_path(arg):
    if os.path.isdir(arg):
        p = os.path.join(arg, "state", "openclaw.sqlite")
    else:
        p = arg
    if not os.path.isfile(p):
        die(f"{p}: no such database")
    return os.path.abspath(p)


def cell(v):
    if isinstance(v, bytes):
        return {"$blob": v.hex()}
    return v


def sort_key(row):
    out = []
    for v in row:
        if v is None:
            out.append((0, ""))
        elif isinstance(v, (int, float)):
            out.append((1, v))
        elif isinstance(v, str):
            out.append((2, v))
        else:
            out.append((3, bytes(v)))
    return out


def dump(path, tables=None, all_tables=False, exclude=(), immutable=False):
    uri = "file:" + quote(path) + ("?immutable=1" if immutable else "?mode=ro")
    con = sqlite3.connect(uri, uri=True)
    try:
        con.execute("PRAGMA busy_timeout = 5000")
        con.execute("BEGIN")  # one read snapshot for every table
        names = [
            r[0]
            for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        ]
        journal_mode = con.execute("PRAGMA journal_mode").fetchone()[0]
        if immutable:
            # immutable=1 reports "delete"; the header's read/write versions (bytes 18, 19)
            # are 2 for a WAL database.
            with open(path, "rb") as f:
                header = f.read(20)
            if len(header) == 20 and header[18] == 2 and header[19] == 2:
                journal_mode = "wal"
        doc = {
            "journal_mode": journal_mode,
            "user_version": con.execute("PRAGMA user_version").fetchone()[0],
            "page_size": con.execute("PRAGMA page_size").fetchone()[0],
            "table_count": sum(1 for n in names if not n.startswith("sqlite_")),
            "tables": {},
        }
        if all_tables:
            wanted = [n for n in names if not n.startswith("sqlite_stat")]
        else:
            wanted = tables or PAIRING_TABLES
        for t in wanted:
            if t in exclude:
                continue
            if t not in names:
                doc["tables"][t] = None  # table absent in this DB
                continue
            qt = '"' + t.replace('"', '""') + '"'
            info = con.execute(f"PRAGMA table_info({qt})").fetchall()
            cols = [c[1] for c in info]
            pk = [c[1] for c in sorted((c for c in info if c[5]), key=lambda c: c[5])]
            rows = con.execute(f"SELECT * FROM {qt}").fetchall()
            idx = [cols.index(c) for c in pk] if pk else list(range(len(cols)))
            rows.sort(key=lambda r: (sort_key([r[i] for i in idx]), sort_key(r)))
            doc["tables"][t] = [{c: cell(v) for c, v in zip(cols, r)} for r in rows]
        con.execute("COMMIT")
        return doc
    finally:
        con.close()


def canon(doc):
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def shorten(row, brief):
    if not brief:
        return row
    return {k: (v[:100] + "…" if isinstance(v, str) and len(v) > 100 else v) for k, v in row.items()}


def diff(a_path, b_path, brief=False):
    a = json.load(open(a_path))
    b = json.load(open(b_path))
    out = {}
    for k in ("journal_mode", "user_version", "page_size", "table_count"):
        if a.get(k) != b.get(k):
            out[k] = {"before": a.get(k), "after": b.get(k)}
    ta, tb = a.get("tables", {}), b.get("tables", {})
    for t in sorted(set(ta) | set(tb)):
        ra = [json.dumps(r, sort_keys=True) for r in (ta.get(t) or [])]
        rb = [json.dumps(r, sort_keys=True) for r in (tb.get(t) or [])]
        sa, sb = set(ra), set(rb)
        if sa != sb or len(ra) != len(rb):
            out.setdefault("tables", {})[t] = {
                "only_before": [shorten(json.loads(r), brief) for r in ra if r not in sb],
                "only_after": [shorten(json.loads(r), brief) for r in rb if r not in sa],
            }
    sys.stdout.write(canon(out))
    return 1 if out else 0


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        sys.stdout.write(__doc__)
        return 0
    if argv[0] == "diff":
        rest = [a for a in argv[1:] if a != "--brief"]
        if len(rest) != 2:
            die("usage: dump.py diff [--brief] BEFORE.json AFTER.json")
        return diff(rest[0], rest[1], brief="--brief" in argv[1:])
    src, all_tables, tables, exclude, out, immutable = None, False, None, (), None, False
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--all":
            all_tables = True
        elif a == "--immutable":
            immutable = True
        elif a in ("--tables", "--exclude", "-o"):
            if i + 1 >= len(argv):
                die(f"{a} needs a value")
            i += 1
            if a == "--tables":
                tables = [t for t in argv[i].split(",") if t]
            elif a == "--exclude":
                exclude = tuple(t for t in argv[i].split(",") if t)
            else:
                out = argv[i]
        elif a.startswith("-"):
            die(f"unknown option {a}")
        elif src is None:
            src = a
        else:
            die("only one STATE_DIR|DB_FILE")
        i += 1
    if src is None:
        die("missing STATE_DIR|DB_FILE")
    text = canon(dump(db_path(src), tables, all_tables, exclude, immutable))
    if out:
        with open(out, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
