#!/usr/bin/env node
// Logging WebSocket proxy for interop probes (our own code, `ws` from the OpenClaw install).
//
//   node method-proxy.mjs --listen 38110 --upstream ws://127.0.0.1:38102
//        [--unknown m1,m2 | --unknown-all-after-connect] [--log FILE]
//
// Forwards every frame both ways and logs one JSON line per frame ({t, conn, dir, frame}) to
// --log (default stdout). Requests whose method is listed in --unknown (or, with
// --unknown-all-after-connect, every request after `connect`) are not forwarded: the proxy
// answers them itself the way a gateway without that method does:
//   {"type":"res","id":…,"ok":false,"error":{"code":"INVALID_REQUEST","message":"unknown method: <m>"}}
// Tokens in logged connect frames are masked.
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
const { WebSocket, WebSocketServer } = req("ws");

const args = process.argv.slice(2);
let port = 0;
let upstream = null;
let unknown = new Set();
let unknownAll = false;
let logFile = null;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === "--listen") port = Number(args[++i]);
  else if (a === "--upstream") upstream = args[++i];
  else if (a === "--unknown") unknown = new Set(args[++i].split(",").filter(Boolean));
  else if (a === "--unknown-all-after-connect") unknownAll = true;
  else if (a === "--log") logFile = args[++i];
  else throw new Error(`unknown argument ${a}`);
}
if (!port || !upstream) throw new Error("--listen PORT and --upstream URL are required");
const sink = logFile ? fs.createWriteStream(logFile, { flags: "a" }) : process.stdout;
const log = (o) => sink.write(`${JSON.stringify({ t: Date.now(), ...o })}\n`);
const maskAuth = (frame) => {
  if (frame?.method !== "connect" || !frame.params?.auth) return frame;
  const f = structuredClone(frame);
  for (const k of Object.keys(f.params.auth)) f.params.auth[k] = `<${k}:${String(f.params.auth[k]).length}>`;
  if (f.params.pathEnv) f.params.pathEnv = "<pathEnv>";
  return f;
};

let n = 0;
const wss = new WebSocketServer({ host: "127.0.0.1", port, maxPayload: 25 * 1024 * 1024 });
wss.on("listening", () => log({ kind: "listening", port, upstream }));
wss.on("connection", (client, request) => {
  const conn = `c${++n}`;
  log({ conn, kind: "open", headers: { "user-agent": request.headers["user-agent"] } });
  const up = new WebSocket(upstream, { maxPayload: 25 * 1024 * 1024 });
  const queue = [];
  let connected = false;
  up.on("open", () => {
    for (const m of queue) up.send(m);
    queue.length = 0;
  });
  up.on("message", (data) => {
    const text = String(data);
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {}
    log({ conn, dir: "server->client", frame: frame ?? text });
    if (client.readyState === WebSocket.OPEN) client.send(text);
  });
  client.on("message", (data) => {
    const text = String(data);
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {}
    log({ conn, dir: "client->server", frame: maskAuth(frame) ?? text });
    if (frame?.type === "req") {
      if (frame.method === "connect") connected = true;
      else if (unknown.has(frame.method) || (unknownAll && connected)) {
        const res = {
          type: "res",
          id: frame.id,
          ok: false,
          error: { code: "INVALID_REQUEST", message: `unknown method: ${frame.method}` },
        };
        log({ conn, dir: "proxy->client", frame: res });
        client.send(JSON.stringify(res));
        return;
      }
    }
    if (up.readyState === WebSocket.OPEN) up.send(text);
    else queue.push(text);
  });
  const closeBoth = (who, code, reason) => {
    log({ conn, kind: `${who}-close`, code, reason: String(reason) });
    const c = code >= 1000 && code < 5000 && code !== 1005 && code !== 1006 ? code : 1000;
    if (client.readyState === WebSocket.OPEN) client.close(c, String(reason));
    if (up.readyState === WebSocket.OPEN) up.close(c, String(reason));
  };
  up.on("close", (code, reason) => closeBoth("upstream", code, reason));
  client.on("close", (code, reason) => closeBoth("client", code, reason));
  up.on("error", (err) => log({ conn, kind: "upstream-error", message: String(err.message) }));
  client.on("error", (err) => log({ conn, kind: "client-error", message: String(err.message) }));
});
process.on("SIGTERM", () => process.exit(0));
