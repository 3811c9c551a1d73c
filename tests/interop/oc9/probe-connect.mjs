#!/usr/bin/env node
// Throwaway gateway client for interop probes (our own code, the `ws` package from the
// OpenClaw install). Connects once, answers the challenge with a `connect` request built from
// the arguments, prints every frame it receives as one JSON line, optionally calls RPCs and
// listens for events, then closes.
//
//   node probe-connect.mjs --url ws://127.0.0.1:P [--min 4 --max 4]
//        [--token T | --bootstrap-token T | --device-token T | --password P | --no-auth]
//        [--role operator|node] [--scopes a,b] [--client-id cli] [--client-mode cli]
//        [--client-version 2026.9.6] [--platform linux] [--device-family F] [--display-name N]
//        [--device-key FILE]     sign with the Ed25519 key in FILE (created if missing)
//        [--caps a,b] [--commands a,b]
//        [--call METHOD [--params JSON]]...   after hello-ok, one request each, in order
//        [--listen SECONDS]      then keep the connection open and print events
//        [--tls-fingerprint SHA256] | [--insecure]   for wss://
//        [--brief]               abbreviate hello-ok (features.methods/events -> counts)
//        [--origin O] [--header 'K: V']...
//
// Output lines: {"dir":"in","frame":…} for each frame, {"kind":"sent","frame":…} for the
// connect request (tokens masked), {"kind":"close","code":…,"reason":…}, {"kind":"error",…}.
// Exit 0 when the connect answer was ok, 3 when it was an error, 1 on transport failure.
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";

const pkg =
  process.env.OPENCLAW_PKG ?? path.join(os.homedir(), ".cache/clawpair/openclaw/openclaw-2026.9.6/node_modules/openclaw");
const req = createRequire(
  fs.existsSync(path.join(pkg, "package.json"))
    ? path.join(pkg, "package.json")
    : "/root/.cache/clawpair/openclaw/openclaw-2026.9.6/node_modules/openclaw/package.json",
);
const WebSocket = req("ws");

const args = process.argv.slice(2);
const opt = {
  url: null, min: 4, max: 4, role: "operator", scopes: null, clientId: "cli", clientMode: "cli",
  clientVersion: "2026.9.6", platform: process.platform, deviceFamily: undefined, displayName: undefined,
  auth: {}, noAuth: false, deviceKey: null, caps: undefined, commands: undefined, calls: [], listen: 0,
  tlsFingerprint: null, insecure: false, brief: false, origin: undefined, headers: {},
};
const list = (v) => v.split(",").map((s) => s.trim()).filter(Boolean);
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  const v = () => {
    if (i + 1 >= args.length) throw new Error(`${a} needs a value`);
    return args[++i];
  };
  switch (a) {
    case "--url": opt.url = v(); break;
    case "--min": opt.min = Number(v()); break;
    case "--max": opt.max = Number(v()); break;
    case "--token": opt.auth.token = v(); break;
    case "--bootstrap-token": opt.auth.bootstrapToken = v(); break;
    case "--device-token": opt.auth.deviceToken = v(); break;
    case "--password": opt.auth.password = v(); break;
    case "--no-auth": opt.noAuth = true; break;
    case "--role": opt.role = v(); break;
    case "--scopes": opt.scopes = list(v()); break;
    case "--client-id": opt.clientId = v(); break;
    case "--client-mode": opt.clientMode = v(); break;
    case "--client-version": opt.clientVersion = v(); break;
    case "--platform": opt.platform = v(); break;
    case "--device-family": opt.deviceFamily = v(); break;
    case "--display-name": opt.displayName = v(); break;
    case "--device-key": opt.deviceKey = v(); break;
    case "--caps": opt.caps = list(v()); break;
    case "--commands": opt.commands = list(v()); break;
    case "--call": opt.calls.push({ method: v(), params: {} }); break;
    case "--params":
      if (!opt.calls.length) throw new Error("--params must follow --call");
      opt.calls[opt.calls.length - 1].params = JSON.parse(v());
      break;
    case "--listen": opt.listen = Number(v()); break;
    case "--tls-fingerprint": opt.tlsFingerprint = v(); break;
    case "--insecure": opt.insecure = true; break;
    case "--brief": opt.brief = true; break;
    case "--origin": opt.origin = v(); break;
    case "--header": {
      const h = v();
      const at = h.indexOf(":");
      opt.headers[h.slice(0, at).trim()] = h.slice(at + 1).trim();
      break;
    }
    default: throw new Error(`unknown argument ${a}`);
  }
}
if (!opt.url) throw new Error("--url is required");
if (opt.scopes === null) opt.scopes = opt.role === "operator" ? ["operator.pairing"] : [];

const out = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);
const mask = (s) => (typeof s === "string" && s.length > 8 ? `${s.slice(0, 4)}…(${s.length})` : s);

function loadIdentity(file) {
  let privateKey;
  if (fs.existsSync(file)) {
    privateKey = crypto.createPrivateKey(fs.readFileSync(file, "utf8"));
  } else {
    privateKey = crypto.generateKeyPairSync("ed25519").privateKey;
    fs.writeFileSync(file, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
  }
  const publicKey = crypto.createPublicKey(privateKey);
  const raw = publicKey.export({ type: "spki", format: "der" }).subarray(-32);
  return {
    privateKey,
    deviceId: crypto.createHash("sha256").update(raw).digest("hex"),
    publicKey: raw.toString("base64url"),
  };
}
const lowerAscii = (s) => (s ?? "").trim().replace(/[A-Z]/g, (c) => c.toLowerCase());

function briefHello(payload) {
  if (!opt.brief || payload?.type !== "hello-ok") return payload;
  const p = structuredClone(payload);
  if (p.features) {
    p.features = {
      methods: `${p.features.methods?.length ?? 0} names`,
      events: p.features.events,
      ...(p.features.capabilities ? { capabilities: p.features.capabilities } : {}),
    };
  }
  if (p.snapshot) p.snapshot = `keys: ${Object.keys(p.snapshot).join(",")}`;
  if (p.auth?.deviceToken) p.auth.deviceToken = mask(p.auth.deviceToken);
  return p;
}

const wsOptions = { headers: opt.headers, maxPayload: 25 * 1024 * 1024 };
if (opt.origin) wsOptions.origin = opt.origin;
if (opt.url.startsWith("wss:") && (opt.tlsFingerprint || opt.insecure)) wsOptions.rejectUnauthorized = false;
const ws = new WebSocket(opt.url, wsOptions);
let connectId = null;
let answered = false;
let okAnswer = false;
const pending = new Map();

ws.on("upgrade", (res) => {
  if (!opt.tlsFingerprint) return;
  const cert = res.socket.getPeerCertificate?.();
  const got = (cert?.fingerprint256 ?? "").replace(/:/g, "").toLowerCase();
  const want = opt.tlsFingerprint.replace(/^sha256:/i, "").replace(/:/g, "").toLowerCase();
  out({ kind: "tls", fingerprint256: cert?.fingerprint256, match: got === want });
  if (got !== want) {
    out({ kind: "error", message: "TLS fingerprint mismatch" });
    process.exit(1);
  }
});

function send(frame) {
  ws.send(JSON.stringify(frame));
}

function call(method, params) {
  const id = crypto.randomUUID();
  send({ type: "req", id, method, params });
  return new Promise((resolve) => pending.set(id, resolve));
}

ws.on("message", async (data) => {
  let frame;
  try {
    frame = JSON.parse(String(data));
  } catch {
    out({ dir: "in", text: String(data) });
    return;
  }
  if (frame.type === "res" && frame.id === connectId) {
    answered = true;
    okAnswer = frame.ok === true;
    out({ dir: "in", frame: { ...frame, payload: briefHello(frame.payload) } });
    if (!okAnswer) return; // the gateway closes; we print the close
    for (const c of opt.calls) {
      const res = await call(c.method, c.params);
      void res;
    }
    setTimeout(() => ws.close(1000), Math.max(0, opt.listen * 1000));
    return;
  }
  if (frame.type === "res" && pending.has(frame.id)) {
    out({ dir: "in", frame });
    const resolve = pending.get(frame.id);
    pending.delete(frame.id);
    resolve(frame);
    return;
  }
  out({ dir: "in", frame });
  if (frame.type === "event" && frame.event === "connect.challenge" && connectId === null) {
    const nonce = frame.payload?.nonce;
    const client = {
      id: opt.clientId,
      version: opt.clientVersion,
      platform: opt.platform,
      mode: opt.clientMode,
      ...(opt.displayName ? { displayName: opt.displayName } : {}),
      ...(opt.deviceFamily ? { deviceFamily: opt.deviceFamily } : {}),
    };
    const params = {
      minProtocol: opt.min,
      maxProtocol: opt.max,
      client,
      role: opt.role,
      scopes: opt.scopes,
      ...(opt.caps ? { caps: opt.caps } : {}),
      ...(opt.commands ? { commands: opt.commands } : {}),
      ...(!opt.noAuth && Object.keys(opt.auth).length ? { auth: opt.auth } : {}),
    };
    if (opt.deviceKey) {
      const id = loadIdentity(opt.deviceKey);
      const signedAt = Date.now();
      const token = opt.auth.token ?? opt.auth.deviceToken ?? opt.auth.bootstrapToken ?? "";
      const payload = [
        "v3", id.deviceId, opt.clientId, opt.clientMode, opt.role, opt.scopes.join(","), String(signedAt),
        token, nonce, lowerAscii(opt.platform), lowerAscii(opt.deviceFamily),
      ].join("|");
      const signature = crypto.sign(null, Buffer.from(payload, "utf8"), id.privateKey).toString("base64url");
      params.device = { id: id.deviceId, publicKey: id.publicKey, signature, signedAt, nonce };
    }
    connectId = crypto.randomUUID();
    const shown = structuredClone(params);
    if (shown.auth) for (const k of Object.keys(shown.auth)) shown.auth[k] = mask(shown.auth[k]);
    out({ kind: "sent", frame: { type: "req", id: connectId, method: "connect", params: shown } });
    send({ type: "req", id: connectId, method: "connect", params });
  }
});
ws.on("close", (code, reason) => {
  out({ kind: "close", code, reason: String(reason) });
  process.exit(!answered ? 1 : okAnswer ? 0 : 3);
});
ws.on("error", (err) => {
  out({ kind: "error", message: String(err?.message ?? err) });
  process.exit(1);
});
setTimeout(() => {
  out({ kind: "error", message: "overall timeout" });
  process.exit(1);
}, (opt.listen + 30) * 1000).unref();
