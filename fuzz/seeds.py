#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/seeds/<target>/ from tests/fixtures (real
OpenClaw files and frames, copied from the shared fixture set) plus a few
hand-made edge cases.
Run from anywhere: python3 fuzz/seeds.py"""
import base64, glob, hashlib, json, os, shutil

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.normpath(os.path.join(HERE, "..", "tests", "fixtures"))
if not os.path.isdir(FIX):
    raise SystemExit(f"seeds.py: {FIX} is missing (restore it: git checkout -- tests/fixtures)")
OUT = os.path.join(HERE, "seeds")
seeds = {}

def add(target, data):
    if isinstance(data, str):
        data = data.encode()
    seeds.setdefault(target, set()).add(data)

def files(pattern):
    return sorted(glob.glob(os.path.join(FIX, pattern), recursive=True))

for p in files("dm/**/*-pairing.json"):
    add("pairing_file", open(p, "rb").read())
for p in files("dm/**/*allowFrom.json"):
    add("allow_file", open(p, "rb").read())
for p in files("devices/gateway-state/pending*.json"):
    add("pending_file", open(p, "rb").read())
for p in files("devices/gateway-state/paired*.json"):
    add("paired_file", open(p, "rb").read())
for empty in [b"", b"null", b"[]", b"{}", b"\xef\xbb\xbf{}", b"  \n"]:
    for t in ["pairing_file", "allow_file", "pending_file", "paired_file"]:
        add(t, empty)

# Frames a client sent in the captured OpenClaw session.
for line in open(os.path.join(FIX, "devices", "handshake-transcript.jsonl")):
    rec = json.loads(line)
    if rec.get("dir") == "client->server" and isinstance(rec.get("frame"), (dict, str)):
        frame = rec["frame"]
        add("frame", frame if isinstance(frame, str) else json.dumps(frame))

# Frames a gateway sent (both generations): what the operator client parses.
for t in [os.path.join(FIX, "devices", "handshake-transcript.jsonl"),
          os.path.join(FIX, "openclaw-2026.9", "transcript-v4.jsonl")]:
    for line in open(t):
        rec = json.loads(line)
        if rec.get("dir") == "server->client" and isinstance(rec.get("frame"), (dict, str)):
            frame = rec["frame"]
            data = frame if isinstance(frame, str) else json.dumps(frame)
            if len(data) <= 64 * 1024:
                add("operator_frame", data)
for p in files("openclaw-2026.9/rpc/*.json"):
    doc = json.load(open(p))
    for r in doc.get("responses", []) if isinstance(doc, dict) else []:
        add("operator_frame", json.dumps({"type": "res", "id": "1", "ok": r.get("ok", True),
                                          "payload": r.get("payload"), "error": r.get("error")}))

# Signature inputs: the signed fields, the key and the signature, one per line.
for v in json.load(open(os.path.join(FIX, "devices", "signature-vectors.json")))["vectors"]:
    parts = v["payloadV3"].split("|")[1:]
    _id, client, mode, role, scopes, signed_at, token, nonce, platform, family = parts
    add("signature", "\n".join([_id, client, mode, role, scopes, signed_at, token, nonce,
                                platform, family, v["publicKey"], v["signature"]]))

for p in files("devices/setup-codes/*.json"):
    code = json.load(open(p)).get("setupCode")
    if code:
        add("setup_code", code)
add("setup_code", base64.urlsafe_b64encode(b'{"url":"wss://gw.example:443","token":"t"}').decode().rstrip("="))
add("setup_code", base64.b64encode(b'{"url":"http://10.0.0.2:18789","password":"p"}').decode())
add("setup_code", "ws://127.0.0.1:18789")

probe = json.load(open(os.path.join(FIX, "dm", "lock-probe-report.json")))
add("lock_file", probe["openclaw_lock_file"]["raw"])
add("lock_file", '{"pid": 0, "createdAt": "1970-01-01T00:00:00.000Z"}')
add("lock_file", '{"pid": 1e300, "createdAt": "2026-13-45T99:99:99.999Z"}')
add("lock_file", "garbage")

add("config_file", '{"channels": {"telegram": {"enabled": true, "dmPolicy": "pairing"}}}')
add("config_file", """// openclaw.json
{
  channels: { whatsapp: { enabled: true, }, discord: { enabled: false } },
  plugins: { entries: { telegram: { enabled: true } } },
  gateway: { port: 18789, auth: { mode: 'token', token: 'abc' }, },
}
""")
add("config_file", "{a: 0x10, b: +Infinity, c: NaN, d: 'x\\\ny', e: .5,}")

shutil.rmtree(OUT, ignore_errors=True)
for target, items in sorted(seeds.items()):
    os.makedirs(os.path.join(OUT, target))
    for data in sorted(items):
        name = hashlib.sha1(data).hexdigest()
        with open(os.path.join(OUT, target, name), "wb") as f:
            f.write(data)
    print(f"{target}: {len(items)} seeds")
