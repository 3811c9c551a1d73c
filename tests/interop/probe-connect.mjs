#!/usr/bin/env node
// Throwaway gateway probe (our own code): opens one WebSocket to an OpenClaw gateway, answers
// the challenge with one `connect`, prints what comes back, optionally keeps listening (and
// sends one RPC), then closes. Uses the `ws` package found inside the installed OpenClaw.
//
//   node probe-connect.mjs <minProtocol> <maxProtocol> [options]
//     --url ws://127.0.0.1:P     (default ws://127.0.0.1:18789)
//     --token T                  auth.token (shared gateway token); --device-token T: auth.deviceToken
//     --client-id cli --mode cli --role operator --version probe --platform linux
//     --display-name NAME
//     --scopes a,b,c             (default: operator.admin,operator.pairing for role operator, none for node;
//                                 --scopes "" sends [])
//     --device FILE              sign with an Ed25519 identity kept in FILE (created if missing;
//                                 {deviceId, publicKeyPem, privateKeyPem}); without it: no device block
//     --listen MS                after the answer keep the socket open MS ms, printing every frame
//     --rpc METHOD [--params JSON]  after hello-ok send one request and print its answer
//     --raw                      print full frames (default: hello-ok's features/snapshot are shortened)
//
// Output, one JSON object per line on stdout:
//   {"t":"challenge", frame}  {"t":"sent", frame}  {"t":"answer", frame}  {"t":"frame", frame}
//   {"t":"close", code, reason}  {"t":"error", message}
// Exit 0 when the connect was answered with ok:true, 3 when answered with ok:false, 1 otherwise.

import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";

function findWs() {
  const dirs = [];
  if (process.env.OPENCLAW_PKG_DIR) dirs.push(path.join(process.env.OPENCLAW_PKG_DIR, "..", ".."));
  const caches = [];
  if (process.env.CLAWPAIR_OPENCLAW_CACHE) caches.push(process.env.CLAWPAIR_OPENCLAW_CACHE);
  caches.push(path.resolve(path.dirname(process.execPath), "..", "..", ".."));
  caches.push(path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"), "clawpair", "openclaw"));
  for (const c of caches) dirs.push(path.join(c, "openclaw-2026.2.26"), path.join(c, "openclaw-2026.9.6"));
  for (const d of dirs) {
    try {
      return createRequire(path.join(d, "package.json"))("ws");
    } catch {}
  }
  throw new Error("ws package not found; set OPENCLAW_PKG_DIR to node_modules/openclaw");
}

const args = process.argv.slice(2);
const pos = [];
const o = {
  url: "ws://127.0.0.1:18789",
  clientId: "cli",
  mode: "cli",
  role: "operator",
  version: "probe",
  platform: "linux",
  listen: 0,
};
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  const v = () => args[++i];
  switch (a) {
    case "--url": o.url = v(); break;
    case "--token": o.token = v(); break;
    case "--device-token": o.deviceToken = v(); break;
    case "--password": o.password = v(); break;
    case "--client-id": o.clientId = v(); break;
    case "--mode": o.mode = v(); break;
    case "--role": o.role = v(); break;
    case "--version": o.version = v(); break;
    case "--platform": o.platform = v(); break;
    case "--display-name": o.displayName = v(); break;
    case "--scopes": o.scopes = v(); break;
    case "--device": o.device = v(); break;
    case "--listen": o.listen = Number(v()); break;
    case "--rpc": o.rpc = v(); break;
    case "--params": o.params = JSON.parse(v()); break;
    case "--raw": o.raw = true; break;
    default: pos.push(a);
  }
}
if (pos.length < 2) {
  process.stderr.write("usage: probe-connect.mjs <minProtocol> <maxProtocol> [--url U] [--token T] [options]\n");
  process.exit(2);
}
const minProtocol = Number(pos[0]);
const maxProtocol = Number(pos[1]);
const scopes =
  o.scopes === undefined ? (o.role === "operator" ? ["operator.admin", "operator.pairing"] : []) : o.scopes.split(",").filter(Boolean);

const out = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);
const b64url = (buf) => Buffer.from(buf).toString("base64").replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

function loadIdentity(file) {
  if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, "utf8"));
  const { publicKey, privateKey } = crypto.generateKeyPairSync("ed25519");
  const raw = publicKey.export({ type: "spki", format: "der" }).subarray(-32);
  const id = {
    deviceId: crypto.createHash("sha256").update(raw).digest("hex"),
    publicKeyPem: publicKey.export({ type: "spki", format: "pem" }),
    privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }),
  };
  fs.writeFileSync(file, `${JSON.stringify(id, null, 2)}\n`, { mode: 0o600 });
  return id;
}

function shorten(frame) {
  if (o.raw || !frame || frame.type !== "res" || !frame.payload || frame.payload.type !== "hello-ok") return frame;
  const p = { ...frame.payload };
  if (p.features) p.features = { methods: `${p.features.methods?.length} names`, events: p.features.events };
  if (p.snapshot) p.snapshot = { keys: Object.keys(p.snapshot), authMode: p.snapshot.authMode };
  return { ...frame, payload: p };
}

const WebSocket = findWs();
const ws = new WebSocket(o.url, { maxPayload: 25 * 1024 * 1024 });
const connectId = crypto.randomUUID();
const rpcId = crypto.randomUUID();
let exitCode = 1;
let answered = false;
let timer;

const finish = () => {
  try {
    ws.close(1000, "probe done");
  } catch {}
  setTimeout(() => process.exit(exitCode), 200).unref();
};

ws.on("message", (data) => {
  let frame;
  try {
    frame = JSON.parse(String(data));
  } catch {
    out({ t: "frame", text: String(data) });
    return;
  }
  if (frame.type === "event" && frame.event === "connect.challenge" && !answered) {
    out({ t: "challenge", frame });
    const nonce = frame.payload?.nonce;
    const auth = {};
    if (o.token) auth.token = o.token;
    if (o.deviceToken) auth.deviceToken = o.deviceToken;
    if (o.password) auth.password = o.password;
    const client = { id: o.clientId, version: o.version, platform: o.platform, mode: o.mode, instanceId: crypto.randomUUID() };
    if (o.displayName) client.displayName = o.displayName;
    const params = { minProtocol, maxProtocol, client, role: o.role, scopes, caps: [] };
    if (Object.keys(auth).length) params.auth = auth;
    if (o.device) {
      const id = loadIdentity(o.device);
      const signedAt = Date.now();
      const token = auth.token ?? auth.deviceToken ?? "";
      const payload = ["v3", id.deviceId, o.clientId, o.mode, o.role, scopes.join(","), String(signedAt), token, nonce, o.platform.trim().toLowerCase(), ""].join("|");
      const sig = crypto.sign(null, Buffer.from(payload, "utf8"), crypto.createPrivateKey(id.privateKeyPem));
      const raw = crypto.createPublicKey(id.publicKeyPem).export({ type: "spki", format: "der" }).subarray(-32);
      params.device = { id: id.deviceId, publicKey: b64url(raw), signature: b64url(sig), signedAt, nonce };
    }
    const req = { type: "req", id: connectId, method: "connect", params };
    out({ t: "sent", frame: req });
    ws.send(JSON.stringify(req));
    return;
  }
  if (frame.type === "res" && frame.id === connectId) {
    answered = true;
    out({ t: "answer", frame: shorten(frame) });
    exitCode = frame.ok ? 0 : 3;
    if (frame.ok && o.rpc) {
      const req = { type: "req", id: rpcId, method: o.rpc, params: o.params ?? {} };
      out({ t: "sent", frame: req });
      ws.send(JSON.stringify(req));
    }
    if (!frame.ok || (!o.listen && !o.rpc)) finish();
    else if (o.listen) timer = setTimeout(finish, o.listen);
    return;
  }
  out({ t: "frame", frame: shorten(frame) });
  if (frame.type === "res" && frame.id === rpcId && !o.listen) finish();
});
ws.on("close", (code, reason) => {
  out({ t: "close", code, reason: String(reason) });
  clearTimeout(timer);
  setTimeout(() => process.exit(exitCode), 50);
});
ws.on("error", (err) => {
  out({ t: "error", message: err.message });
});
setTimeout(() => {
  out({ t: "error", message: "probe timeout (15 s + listen)" });
  process.exit(1);
}, 15_000 + o.listen).unref();
