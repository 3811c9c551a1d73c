#!/usr/bin/env python3
"""DM pairing approve / dismiss on an OpenClaw 2026.9.6 state DB in plain SQL (python sqlite3),
leaving the DM tables byte-for-byte as `openclaw pairing approve` (resp. OpenClaw's
dismissChannelPairingRequest) leaves them, given the same clock. The twin-test counterpart
of the real CLI; see docs/interop/openclaw-2026.9.6.md (twin dumps).

    sql-dm.py approve STATE_DIR CHANNEL CODE [--account A] [--now-ms MS]
    sql-dm.py dismiss STATE_DIR CHANNEL --code CODE [--account A] [--now-ms MS]

--now-ms defaults to $OPENCLAW_TEST_NOW_MS, else the real clock. Prints JSON
{"id": senderId, "accountId": …, "allowAdded": bool} or null (no live request with that code;
expired requests of the channel are still pruned then, as OpenClaw does). CHANNEL must be a
plain channel id (lower-case, no characters that OpenClaw's key sanitiser rewrites).

What one transaction does (BEGIN IMMEDIATE ... COMMIT), channel = CHANNEL, all accounts:
  1. delete every request row of the channel whose created_at is unparseable or older than
     now - 3 600 000 ms (strictly greater age), i.e. OpenClaw's expiry pruning;
  2. find the live request: code compared upper-case, optionally restricted to an account,
     first in (created_at, account_id, request_id) order; delete it;
  3. approve only: the allow entry is the sender id (telegram: a leading "tg:"/"telegram:"
     removed), added to --account (lower-cased) or else the request's account, appended with
     sort_order = number of entries of that account, unless already present;
  4. EVERY allow row of the channel (all accounts) gets updated_at = now, and sort_order is
     renumbered densely 0..n-1 per account in the current order - this is what OpenClaw's
     delete-all/re-insert-all write does. Other channels are untouched.
"""
import json
import os
import re
import sqlite3
import sys
import time
from datetime import datetime

TTL_MS = 3_600_000


def parse_iso_ms(s):
    # OpenClaw writes Date.toISOString() (…T…:…:….mmmZ); accept that and plain offsets.
    try:
        dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None
    if dt.tzinfo is None:
        return None
    return int(round(dt.timestamp() * 1000))


def normalize_allow(channel, entry):
    e = entry.strip()
    if channel == "telegram":
        e = re.sub(r"^(telegram|tg):", "", e, flags=re.I).strip()
    return "" if e in ("", "*") else e


def run(mode, state, channel, code, account, now_ms):
    path = os.path.join(state, "state", "openclaw.sqlite")
    if not os.path.isfile(path):
        raise SystemExit(f"sql-dm.py: {path}: no such database")
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA busy_timeout = 5000")
    con.execute("BEGIN IMMEDIATE")
    try:
        rows = con.execute(
            "SELECT account_id, request_id, code, created_at FROM channel_pairing_requests"
            " WHERE channel_key = ? ORDER BY created_at, account_id, request_id",
            (channel,),
        ).fetchall()
        live = []
        for acct, rid, c, created in rows:
            ms = parse_iso_ms(created)
            if ms is None or now_ms - ms > TTL_MS:
                con.execute(
                    "DELETE FROM channel_pairing_requests WHERE channel_key = ? AND account_id = ? AND request_id = ?",
                    (channel, acct, rid),
                )
            else:
                live.append((acct, rid, c))
        acct_filter = account.strip().lower() if account else None
        match = next(
            (
                r
                for r in live
                if r[2].upper() == code.strip().upper() and (acct_filter is None or r[0] == acct_filter)
            ),
            None,
        )
        result = None
        if match is not None:
            acct, rid, _ = match
            con.execute(
                "DELETE FROM channel_pairing_requests WHERE channel_key = ? AND account_id = ? AND request_id = ?",
                (channel, acct, rid),
            )
            added = False
            if mode == "approve":
                target = acct_filter or acct
                entry = normalize_allow(channel, rid)
                exists = con.execute(
                    "SELECT 1 FROM channel_pairing_allow_entries WHERE channel_key = ? AND account_id = ? AND entry = ?",
                    (channel, target, entry),
                ).fetchone()
                if entry and not exists:
                    n = con.execute(
                        "SELECT COUNT(*) FROM channel_pairing_allow_entries WHERE channel_key = ? AND account_id = ?",
                        (channel, target),
                    ).fetchone()[0]
                    con.execute(
                        "INSERT INTO channel_pairing_allow_entries (channel_key, account_id, entry, sort_order, updated_at)"
                        " VALUES (?, ?, ?, ?, ?)",
                        (channel, target, entry, n, now_ms),
                    )
                    added = True
            result = {"id": rid, "accountId": acct, "allowAdded": added}
        if match is not None or len(live) != len(rows):
            # OpenClaw rewrites the whole channel whenever it writes: one new updated_at for
            # every allow row, dense sort_order per account.
            allow = con.execute(
                "SELECT account_id, entry FROM channel_pairing_allow_entries WHERE channel_key = ?"
                " ORDER BY account_id, sort_order, entry",
                (channel,),
            ).fetchall()
            order = {}
            for acct, entry in allow:
                i = order.get(acct, 0)
                order[acct] = i + 1
                con.execute(
                    "UPDATE channel_pairing_allow_entries SET sort_order = ?, updated_at = ?"
                    " WHERE channel_key = ? AND account_id = ? AND entry = ?",
                    (i, now_ms, channel, acct, entry),
                )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.close()
    return result


def main(argv):
    if len(argv) < 3 or argv[0] not in ("approve", "dismiss"):
        sys.stderr.write(__doc__)
        return 2
    mode, state, channel = argv[0], argv[1], argv[2]
    rest = argv[3:]
    code = account = None
    now_ms = None
    i = 0
    while i < len(rest):
        a = rest[i]
        if a in ("--account", "--now-ms", "--code"):
            if i + 1 >= len(rest):
                sys.stderr.write(f"sql-dm.py: {a} needs a value\n")
                return 2
            v = rest[i + 1]
            i += 2
            if a == "--account":
                account = v
            elif a == "--code":
                code = v
            else:
                now_ms = int(v)
            continue
        if code is None:
            code = a
        else:
            sys.stderr.write(f"sql-dm.py: unexpected argument {a}\n")
            return 2
        i += 1
    if code is None:
        sys.stderr.write("sql-dm.py: missing CODE\n")
        return 2
    if now_ms is None:
        env = os.environ.get("OPENCLAW_TEST_NOW_MS", "").strip()
        now_ms = int(env) if env else int(time.time() * 1000)
    print(json.dumps(run(mode, state, channel, code, account, now_ms)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
