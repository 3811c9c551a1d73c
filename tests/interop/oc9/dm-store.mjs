#!/usr/bin/env node
// Drive OpenClaw 2026.9.6's own SQLite DM pairing store (the module its channel plugins
// use) from the command line, for interop tests. Our own code: it only locates and calls
// the store functions shipped in the installed package's dist/.
//
//   OPENCLAW_STATE_DIR=<state> node [--import …/freeze-clock.mjs] dm-store.mjs <command> …
//
//   upsert <channel> <senderId> [--account A] [--meta JSON]   -> {"code":…,"created":…}
//   allow-read <channel> [--account A]                         -> ["entry", …]
//   allow-add <channel> <entry> [--account A]                  -> {"changed":…,"allowFrom":[…]}
//   allow-remove <channel> <entry> [--account A]               -> {"changed":…,"allowFrom":[…]}
//   list <channel> [--account A]                               -> [request, …] (a write: prunes)
//   read <channel>                                             -> {requests, allowFrom} (no write)
//   approve <channel> <code> [--account A]                     -> {"id","entry"} | null
//   approve-id <channel> <requestId> [--account A]             -> {"id","entry"} | null
//   dismiss <channel> <requestId> [--account A]                -> {"id","entry"} | null
//   dismiss <channel> --code CODE [--account A]                -> same, request looked up by code
//   request-ids <channel>                                      -> [{requestId, senderId, accountId, code}]
//   where                                                      -> the dist modules used
//
// The package is found through $OPENCLAW_PKG (the directory holding openclaw.mjs and dist/),
// else the default install dir of scripts/install-openclaw.sh. Output is one JSON document on
// stdout. Exit 0 also for "not found" (null); 2 for usage errors; 1 for failures.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";

function usage(msg) {
  process.stderr.write(`dm-store: ${msg}\n`);
  process.exit(2);
}

function packageDir() {
  const candidates = [
    process.env.OPENCLAW_PKG,
    path.join(os.homedir(), ".cache/clawpair/openclaw/openclaw-2026.9.6/node_modules/openclaw"),
    "/root/.cache/clawpair/openclaw/openclaw-2026.9.6/node_modules/openclaw",
  ].filter(Boolean);
  for (const dir of candidates) {
    if (fs.existsSync(path.join(dir, "dist"))) return dir;
  }
  usage(`OpenClaw package not found (set OPENCLAW_PKG); tried ${candidates.join(", ")}`);
}

// Parse the bundle's trailing `export { local as alias, … }` clause: local name -> alias.
function exportMap(source) {
  const clauses = [...source.matchAll(/export\s*\{([^}]*)\}/g)];
  const map = new Map();
  for (const clause of clauses) {
    for (const part of clause[1].split(",")) {
      const m = part.trim().match(/^([A-Za-z_$][\w$]*)(?:\s+as\s+([A-Za-z_$][\w$]*))?$/);
      if (m) map.set(m[1], m[2] ?? m[1]);
    }
  }
  return map;
}

// Find the dist module that defines and exports every wanted function; the file names are
// content-hashed, so scan the top level of dist/ rather than trusting a name.
async function locate(dist, wanted, hint) {
  const files = fs
    .readdirSync(dist)
    .filter((f) => f.endsWith(".mjs"))
    .sort((a, b) => (b.startsWith(hint) ? 1 : 0) - (a.startsWith(hint) ? 1 : 0) || a.localeCompare(b));
  for (const file of files) {
    const full = path.join(dist, file);
    const source = fs.readFileSync(full, "utf8");
    if (!wanted.every((name) => source.includes(`function ${name}(`))) continue;
    const exported = exportMap(source);
    if (!wanted.every((name) => exported.has(name))) continue;
    const mod = await import(pathToFileURL(full).href);
    const fns = {};
    for (const name of wanted) {
      fns[name] = mod[exported.get(name)];
      if (typeof fns[name] !== "function") throw new Error(`${file}: export ${exported.get(name)} is not ${name}`);
    }
    return { file: full, fns };
  }
  throw new Error(`no module in ${dist} defines and exports ${wanted.join(", ")}`);
}

function parseArgs(argv) {
  const positional = [];
  const opts = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--account" || arg === "--meta" || arg === "--code") {
      if (i + 1 >= argv.length) usage(`${arg} needs a value`);
      opts[arg.slice(2)] = argv[++i];
    } else if (arg.startsWith("--")) {
      usage(`unknown option ${arg}`);
    } else {
      positional.push(arg);
    }
  }
  return { positional, opts };
}

const STORE_FNS = [
  "upsertChannelPairingRequest",
  "readChannelAllowFromStore",
  "addChannelAllowFromStoreEntry",
  "removeChannelAllowFromStoreEntry",
  "listChannelPairingRequests",
  "approveChannelPairingCode",
  "approveChannelPairingRequest",
  "dismissChannelPairingRequest",
  "resolveChannelPairingRequestId",
];
const SQLITE_FNS = ["readChannelPairingState", "resolvePairingRequestAccountId"];

async function main() {
  const [command, ...rest] = process.argv.slice(2);
  if (!command) usage("missing command (upsert, allow-read, allow-add, allow-remove, list, read, approve, approve-id, dismiss, request-ids, where)");
  const { positional, opts } = parseArgs(rest);
  if (!process.env.OPENCLAW_STATE_DIR) usage("OPENCLAW_STATE_DIR must be set (refusing to touch ~/.openclaw)");
  const env = process.env;
  const dist = path.join(packageDir(), "dist");
  const store = await locate(dist, STORE_FNS, "pairing-store-");
  const sqlite = await locate(dist, SQLITE_FNS, "pairing-store-sqlite-");
  const s = store.fns;
  const need = (n, what) => {
    if (positional.length !== n) usage(`${command}: expected ${what}`);
  };
  const account = opts.account;
  let out;
  switch (command) {
    case "where":
      out = { store: store.file, sqlite: sqlite.file };
      break;
    case "upsert": {
      need(2, "<channel> <senderId>");
      let meta;
      if (opts.meta !== undefined) {
        try {
          meta = JSON.parse(opts.meta);
        } catch (err) {
          usage(`--meta is not JSON: ${err.message}`);
        }
      }
      out = await s.upsertChannelPairingRequest({
        channel: positional[0],
        id: positional[1],
        accountId: account,
        ...(meta !== undefined ? { meta } : {}),
        env,
      });
      break;
    }
    case "allow-read":
      need(1, "<channel>");
      out = await s.readChannelAllowFromStore(positional[0], env, account);
      break;
    case "allow-add":
    case "allow-remove": {
      need(2, "<channel> <entry>");
      const fn = command === "allow-add" ? s.addChannelAllowFromStoreEntry : s.removeChannelAllowFromStoreEntry;
      out = await fn({ channel: positional[0], entry: positional[1], ...(account !== undefined ? { accountId: account } : {}), env });
      break;
    }
    case "list":
      need(1, "<channel>");
      out = await s.listChannelPairingRequests(positional[0], env, account);
      break;
    case "read":
      need(1, "<channel>");
      out = sqlite.fns.readChannelPairingState(positional[0], env);
      break;
    case "request-ids": {
      need(1, "<channel>");
      const state = sqlite.fns.readChannelPairingState(positional[0], env);
      out = state.requests.map((r) => ({
        requestId: s.resolveChannelPairingRequestId(positional[0], r),
        senderId: r.id,
        accountId: sqlite.fns.resolvePairingRequestAccountId(r),
        code: r.code,
      }));
      break;
    }
    case "approve":
      need(2, "<channel> <code>");
      out = await s.approveChannelPairingCode({
        channel: positional[0],
        code: positional[1],
        ...(account !== undefined ? { accountId: account } : {}),
        env,
      });
      break;
    case "approve-id":
    case "dismiss": {
      let requestId;
      if (command === "dismiss" && opts.code !== undefined) {
        need(1, "<channel> --code CODE");
        // Look the code up without a write transaction, then dismiss by the opaque id.
        const state = sqlite.fns.readChannelPairingState(positional[0], env);
        const match = state.requests.find(
          (r) =>
            r.code.toUpperCase() === opts.code.trim().toUpperCase() &&
            (account === undefined || sqlite.fns.resolvePairingRequestAccountId(r) === account.trim().toLowerCase()),
        );
        requestId = match ? s.resolveChannelPairingRequestId(positional[0], match) : undefined;
        if (!requestId) {
          out = null;
          break;
        }
      } else {
        need(2, "<channel> <requestId>");
        requestId = positional[1];
      }
      const fn = command === "dismiss" ? s.dismissChannelPairingRequest : s.approveChannelPairingRequest;
      out = await fn({ channel: positional[0], requestId, ...(account !== undefined ? { accountId: account } : {}), env });
      break;
    }
    default:
      usage(`unknown command ${command}`);
  }
  process.stdout.write(`${JSON.stringify(out ?? null)}\n`);
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`dm-store: ${err?.stack ?? err}\n`);
    process.exit(1);
  },
);
