#!/usr/bin/env node
// Logging WebSocket proxy (our own code) for watching what real OpenClaw clients send.
//
//   node ws-log-proxy.mjs --listen 28120 --target ws://127.0.0.1:28110 [--log FILE] [--bind 127.0.0.1]
//
// Every client connection gets its own upstream connection to --target (same path); text
// frames are relayed unchanged both ways and logged, one JSON object per line (to --log, else
// stdout):
//   {"ts":<ms>,"conn":<n>,"dir":"open","headers":{…}}        client connected (request headers)
//   {"ts":…,"conn":n,"dir":"c2s"|"s2c","frame":<parsed JSON or {"text":…}>}
//   {"ts":…,"conn":n,"dir":"close-c"|"close-s","code":…,"reason":"…"}   who closed first, and how
// Upstream connections come from this process (loopback), without X-Forwarded-For, so the
// gateway sees an ordinary loopback client. Prints "proxy listening on <port>" when ready.
// Stops on SIGTERM/SIGINT.
//
// --patch-hello JSON   merge JSON into the payload of every hello-ok sent to clients (e.g.
//                      '{"protocol":4}') to see what a client tolerates; logged frames show the
//                      gateway's original, plus {"dir":"patched"} lines.

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
const o = { listen: 0, target: "", bind: "127.0.0.1", log: "" };
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === "--listen") o.listen = Number(args[++i]);
  else if (a === "--target") o.target = args[++i];
  else if (a === "--bind") o.bind = args[++i];
  else if (a === "--log") o.log = args[++i];
  else if (a === "--patch-hello") o.patchHello = JSON.parse(args[++i]);
  else {
    process.stderr.write(`unknown argument ${a}\n`);
    process.exit(2);
  }
}
if (!o.listen || !o.target) {
  process.stderr.write("usage: ws-log-proxy.mjs --listen PORT --target ws://host:port [--log FILE]\n");
  process.exit(2);
}

const WebSocket = findWs();
const logFd = o.log ? fs.openSync(o.log, "a") : 1;
const log = (obj) => fs.writeSync(logFd, `${JSON.stringify({ ts: Date.now(), ...obj })}\n`);
const parse = (data) => {
  const text = String(data);
  try {
    return JSON.parse(text);
  } catch {
    return { text };
  }
};

let next = 0;
const server = new WebSocket.WebSocketServer({ host: o.bind, port: o.listen, maxPayload: 25 * 1024 * 1024 });
server.on("listening", () => process.stderr.write(`proxy listening on ${o.listen}\n`));
server.on("connection", (client, req) => {
  const conn = ++next;
  log({ conn, dir: "open", url: req.url, headers: req.headers });
  const upstream = new WebSocket(o.target.replace(/\/$/, "") + (req.url || "/"), { maxPayload: 25 * 1024 * 1024 });
  const pending = [];
  let closed = false;
  upstream.on("open", () => {
    for (const m of pending) upstream.send(m);
    pending.length = 0;
  });
  client.on("message", (data) => {
    const text = String(data);
    log({ conn, dir: "c2s", frame: parse(text) });
    if (upstream.readyState === WebSocket.OPEN) upstream.send(text);
    else pending.push(text);
  });
  upstream.on("message", (data) => {
    const text = String(data);
    const frame = parse(text);
    log({ conn, dir: "s2c", frame });
    let outText = text;
    if (o.patchHello && frame?.type === "res" && frame.ok && frame.payload?.type === "hello-ok") {
      frame.payload = { ...frame.payload, ...o.patchHello };
      outText = JSON.stringify(frame);
      log({ conn, dir: "patched", patch: o.patchHello });
    }
    if (client.readyState === WebSocket.OPEN) client.send(outText);
  });
  const closeCode = (c) => (c === 1005 || c === 1006 || !c ? 1000 : c);
  client.on("close", (code, reason) => {
    if (!closed) log({ conn, dir: "close-c", code, reason: String(reason) });
    closed = true;
    try {
      upstream.close(closeCode(code), String(reason));
    } catch {
      upstream.terminate();
    }
  });
  upstream.on("close", (code, reason) => {
    if (!closed) log({ conn, dir: "close-s", code, reason: String(reason) });
    closed = true;
    try {
      client.close(closeCode(code), String(reason));
    } catch {
      client.terminate();
    }
  });
  upstream.on("error", (err) => log({ conn, dir: "error-s", message: err.message }));
  client.on("error", (err) => log({ conn, dir: "error-c", message: err.message }));
});
const stop = () => {
  server.close();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
