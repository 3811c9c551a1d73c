#!/usr/bin/env node
// Test driver (our own code): runs OpenClaw 2026.2.26's *own* DM pairing store functions
// (the ones its channel plugins and `openclaw pairing` call) against $OPENCLAW_STATE_DIR.
//
//   node dm-store.mjs upsert <channel> <senderId> [--account A] [--meta JSON]   -> {"code","created"}
//   node dm-store.mjs list <channel> [--account A]                               -> [requests…]
//   node dm-store.mjs approve <channel> <code> [--account A]                     -> {"id","entry"} | null
//   node dm-store.mjs allow-read <channel> [--account A]                         -> ["id", …]
//   node dm-store.mjs allow-add <channel> <entry> [--account A]                  -> {"changed","allowFrom"}
//   node dm-store.mjs allow-remove <channel> <entry> [--account A]               -> {"changed","allowFrom"}
//   node dm-store.mjs hold-lock <channel> <ms> [--allow [--account A]] [--no-ensure]
//   node dm-store.mjs where                                                      -> module paths used
//
// Common options:
//   --plugins     load OpenClaw's plugin registry from the state dir's openclaw.json first (as the
//                 `openclaw pairing` CLI does), so the channel's allow-list normaliser applies;
//                 without it no channel plugin is loaded (like the CLI with an empty config).
//   --announce    write `calling` (own line) to stderr right before the store function is called,
//                 so a test can tell that the module is loaded and the call (and its lock) is next.
//   --oc-dir DIR  the installed `node_modules/openclaw` package (else $OPENCLAW_PKG_DIR, else
//                 <cache>/openclaw-2026.2.26/node_modules/openclaw where <cache> is
//                 $CLAWPAIR_OPENCLAW_CACHE, else derived from this node binary's location
//                 (<cache>/node-*/package/bin/node), else ~/.cache/clawpair/openclaw).
//
// Output: one JSON document (2-space) on stdout. Errors: message on stderr, exit 1;
// usage errors exit 2. Every call is one fresh process, like one OpenClaw CLI run.
//
// `list` without --account returns requests of all accounts; `allow-read` without --account
// reads the effective list of account `default` (scoped default file + unscoped file).
// `allow-add/remove` without --account use the unscoped `<channel>-allowFrom.json`.
//
// hold-lock takes the lock through OpenClaw's own lock helper (the very `withFileLock` function
// that its pairing store imports, found by parsing the store module's import list), with the
// store's lock options (10 retries, 100 ms..10 s, stale 30 s). Like every store operation it
// first creates the data file if missing (OpenClaw's "ensure exists"), unless --no-ensure.
// It prints `locked` (own line) once it holds the lock, holds it for <ms>, releases it and
// prints `released`. SIGTERM/SIGINT while holding release the lock first.
//
// The bundle file names carry hashes, so the modules are found at run time by scanning dist/
// for the source region markers rolldown leaves in them; exported names are minified, so the
// `export { local as alias, … }` statement is parsed to map them back.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";

const USAGE = `usage: dm-store.mjs <upsert|list|approve|allow-read|allow-add|allow-remove|hold-lock|where> …
  upsert <channel> <senderId> [--account A] [--meta JSON]
  list <channel> [--account A]
  approve <channel> <code> [--account A]
  allow-read <channel> [--account A]
  allow-add <channel> <entry> [--account A]
  allow-remove <channel> <entry> [--account A]
  hold-lock <channel> <ms> [--allow] [--account A] [--no-ensure]
  where
options: --plugins, --announce, --oc-dir DIR`;

// The store's own lock options in 2026.2.26 (PAIRING_STORE_LOCK_OPTIONS; not exported).
const STORE_LOCK_OPTIONS = {
  retries: { retries: 10, factor: 2, minTimeout: 100, maxTimeout: 10_000, randomize: true },
  stale: 30_000,
};

function die(msg, code = 1) {
  process.stderr.write(`dm-store: ${msg}\n`);
  process.exit(code);
}

function parseArgs(argv) {
  const pos = [];
  const opt = { account: undefined, meta: undefined, plugins: false, ocDir: undefined, allow: false, ensure: true, announce: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) die(`${a} needs a value\n${USAGE}`, 2);
      return argv[++i];
    };
    if (a === "--account") opt.account = val();
    else if (a.startsWith("--account=")) opt.account = a.slice(10);
    else if (a === "--meta") opt.meta = val();
    else if (a.startsWith("--meta=")) opt.meta = a.slice(7);
    else if (a === "--oc-dir") opt.ocDir = val();
    else if (a === "--plugins") opt.plugins = true;
    else if (a === "--announce") opt.announce = true;
    else if (a === "--allow") opt.allow = true;
    else if (a === "--no-ensure") opt.ensure = false;
    else if (a === "--") pos.push(...argv.slice(i + 1)), (i = argv.length);
    else if (a.startsWith("--")) die(`unknown option ${a}\n${USAGE}`, 2);
    else pos.push(a);
  }
  return { pos, opt };
}

function findPackageDir(flag) {
  const candidates = [];
  if (flag) candidates.push(flag);
  if (process.env.OPENCLAW_PKG_DIR) candidates.push(process.env.OPENCLAW_PKG_DIR);
  const caches = [];
  if (process.env.CLAWPAIR_OPENCLAW_CACHE) caches.push(process.env.CLAWPAIR_OPENCLAW_CACHE);
  // <cache>/node-<v>/package/bin/node
  const nodeCache = path.resolve(path.dirname(process.execPath), "..", "..", "..");
  caches.push(nodeCache);
  caches.push(path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"), "clawpair", "openclaw"));
  for (const c of caches) candidates.push(path.join(c, "openclaw-2026.2.26", "node_modules", "openclaw"));
  for (const c of candidates) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(c, "package.json"), "utf8"));
      if (pkg.name === "openclaw") {
        if (pkg.version !== "2026.2.26") process.stderr.write(`dm-store: warning: ${c} is openclaw ${pkg.version}, not 2026.2.26\n`);
        return c;
      }
    } catch {}
  }
  die(`OpenClaw 2026.2.26 package not found (tried: ${candidates.join(", ")}); set OPENCLAW_PKG_DIR`);
}

// `export { a as b, c as d };` -> Map(local -> exported)
function parseExports(src) {
  const m = [...src.matchAll(/^export\s*\{([^}]*)\}\s*;?\s*$/gm)].pop();
  const map = new Map();
  if (!m) return map;
  for (const part of m[1].split(",")) {
    const t = part.trim();
    if (!t) continue;
    const mm = t.match(/^(\S+)(?:\s+as\s+(\S+))?$/);
    if (mm) map.set(mm[1], mm[2] ?? mm[1]);
  }
  return map;
}

// `import { x as y, z } from "./m.js";` -> Map(local -> {spec, imported})
function parseImports(src) {
  const map = new Map();
  for (const m of src.matchAll(/^import\s*\{([^}]*)\}\s*from\s*"([^"]+)"\s*;?\s*$/gm)) {
    for (const part of m[1].split(",")) {
      const t = part.trim();
      if (!t) continue;
      const mm = t.match(/^(\S+)(?:\s+as\s+(\S+))?$/);
      if (mm) map.set(mm[2] ?? mm[1], { spec: m[2], imported: mm[1] });
    }
  }
  return map;
}

// Find a dist module that contains the given source region and exports all `needed` names.
// Prefers modules that do not import the CLI entry (./entry.js), then the smallest.
function findModule(distDir, region, needed) {
  const found = [];
  for (const name of fs.readdirSync(distDir)) {
    if (!name.endsWith(".js")) continue;
    const file = path.join(distDir, name);
    let src;
    try {
      src = fs.readFileSync(file, "utf8");
    } catch {
      continue;
    }
    if (!src.includes(`//#region ${region}`)) continue;
    const exp = parseExports(src);
    if (!needed.every((n) => exp.has(n))) continue;
    found.push({ file, src, exp, importsEntry: /from\s*"\.\/entry\.js"/.test(src), size: src.length });
  }
  if (found.length === 0) die(`no module in ${distDir} has region ${region} exporting ${needed.join(", ")}`);
  found.sort((a, b) => Number(a.importsEntry) - Number(b.importsEntry) || a.size - b.size || (a.file < b.file ? -1 : 1));
  return found[0];
}

async function importNamed(mod, names) {
  const ns = await import(pathToFileURL(mod.file).href);
  const out = {};
  for (const n of names) {
    out[n] = ns[mod.exp.get(n)];
    if (typeof out[n] !== "function") die(`${path.basename(mod.file)}: ${n} is not a function`);
  }
  return out;
}

async function importViaImportList(mod, localName) {
  const imp = parseImports(mod.src).get(localName);
  if (!imp) throw new Error(`${path.basename(mod.file)} does not import ${localName}`);
  const file = path.resolve(path.dirname(mod.file), imp.spec);
  const ns = await import(pathToFileURL(file).href);
  const fn = ns[imp.imported];
  if (typeof fn !== "function") throw new Error(`${imp.spec}: ${imp.imported} (${localName}) is not a function`);
  return { fn, file };
}

const STORE_FNS = [
  "upsertChannelPairingRequest",
  "listChannelPairingRequests",
  "approveChannelPairingCode",
  "readChannelAllowFromStore",
  "addChannelAllowFromStoreEntry",
  "removeChannelAllowFromStoreEntry",
  "writeJsonFileAtomically",
];

function print(value) {
  process.stdout.write(`${JSON.stringify(value ?? null, null, 2)}\n`);
}

function need(pos, n, what) {
  if (pos.length < n) die(`missing ${what}\n${USAGE}`, 2);
}

// The credentials dir exactly as the store computes it, with the path helpers the store
// module imports (resolveOAuthDir(env, resolveStateDir(env, () => resolveRequiredHomeDir(env, os.homedir)))).
async function credentialsDirViaOpenClaw(storeMod) {
  try {
    const { fn: resolveStateDir } = await importViaImportList(storeMod, "resolveStateDir");
    const { fn: resolveOAuthDir } = await importViaImportList(storeMod, "resolveOAuthDir");
    const { fn: resolveRequiredHomeDir } = await importViaImportList(storeMod, "resolveRequiredHomeDir");
    const env = process.env;
    return resolveOAuthDir(env, resolveStateDir(env, () => resolveRequiredHomeDir(env, os.homedir)));
  } catch {
    return credentialsDir();
  }
}

function credentialsDir() {
  // Fallback: the same rule as OpenClaw (dm-pairing spec §1.3) for the env this driver accepts.
  const env = process.env;
  const oauth = env.OPENCLAW_OAUTH_DIR?.trim();
  if (oauth) return path.resolve(oauth);
  const st = env.OPENCLAW_STATE_DIR?.trim();
  if (!st) die("OPENCLAW_STATE_DIR must be set");
  return path.join(path.resolve(st), "credentials");
}

function fileKey(s, what) {
  const raw = String(s).trim().toLowerCase();
  const safe = raw.replace(/[\\/:*?"<>|]/g, "_").replace(/\.\./g, "_");
  if (!safe || safe === "_") die(`invalid pairing ${what}`);
  return safe;
}

async function main() {
  const [cmd, ...rest] = process.argv.slice(2);
  if (!cmd || cmd === "-h" || cmd === "--help") die(USAGE, cmd ? 0 : 2);
  const { pos, opt } = parseArgs(rest);
  if (!process.env.OPENCLAW_STATE_DIR?.trim()) die("OPENCLAW_STATE_DIR must be set (refusing to touch ~/.openclaw)");

  const pkgDir = findPackageDir(opt.ocDir);
  const distDir = path.join(pkgDir, "dist");
  const storeMod = findModule(distDir, "src/pairing/pairing-store.ts", STORE_FNS);
  const store = await importNamed(storeMod, STORE_FNS);

  if (opt.plugins) {
    const regMod = findModule(distDir, "src/cli/plugin-registry.ts", ["ensurePluginRegistryLoaded"]);
    const { ensurePluginRegistryLoaded } = await importNamed(regMod, ["ensurePluginRegistryLoaded"]);
    ensurePluginRegistryLoaded();
  }

  const env = process.env;
  const account = opt.account;
  const announce = () => {
    if (opt.announce) fs.writeSync(2, "calling\n");
  };

  switch (cmd) {
    case "where": {
      const lock = await importViaImportList(storeMod, "withFileLock$1");
      print({ package: pkgDir, store: storeMod.file, lockHelper: lock.file, credentialsDir: await credentialsDirViaOpenClaw(storeMod) });
      return;
    }
    case "upsert": {
      need(pos, 2, "<channel> <senderId>");
      let meta;
      if (opt.meta !== undefined) {
        try {
          meta = JSON.parse(opt.meta);
        } catch (e) {
          die(`--meta is not JSON: ${e.message}`, 2);
        }
      }
      // Channels always pass an account id; "" means default inside the store.
      announce();
      print(await store.upsertChannelPairingRequest({ channel: pos[0], id: pos[1], accountId: account ?? "", meta, env }));
      return;
    }
    case "list": {
      need(pos, 1, "<channel>");
      announce();
      print(await store.listChannelPairingRequests(pos[0], env, account));
      return;
    }
    case "approve": {
      need(pos, 2, "<channel> <code>");
      announce();
      print(await store.approveChannelPairingCode({ channel: pos[0], code: pos[1], accountId: account, env }));
      return;
    }
    case "allow-read": {
      need(pos, 1, "<channel>");
      announce();
      print(await store.readChannelAllowFromStore(pos[0], env, account ?? ""));
      return;
    }
    case "allow-add":
    case "allow-remove": {
      need(pos, 2, "<channel> <entry>");
      const fn = cmd === "allow-add" ? store.addChannelAllowFromStoreEntry : store.removeChannelAllowFromStoreEntry;
      announce();
      print(await fn({ channel: pos[0], entry: pos[1], accountId: account, env }));
      return;
    }
    case "hold-lock": {
      need(pos, 2, "<channel> <ms>");
      const ms = Number(pos[1]);
      if (!Number.isFinite(ms) || ms < 0) die(`bad <ms>: ${pos[1]}`, 2);
      const dir = await credentialsDirViaOpenClaw(storeMod);
      const ch = fileKey(pos[0], "channel");
      let file;
      let empty;
      if (opt.allow) {
        const acc = typeof account === "string" ? account.trim() : "";
        file = path.join(dir, acc ? `${ch}-${fileKey(acc, "account id")}-allowFrom.json` : `${ch}-allowFrom.json`);
        empty = { version: 1, allowFrom: [] };
      } else {
        file = path.join(dir, `${ch}-pairing.json`);
        empty = { version: 1, requests: [] };
      }
      if (opt.ensure && !fs.existsSync(file)) await store.writeJsonFileAtomically(file, empty);
      const { fn: withFileLock } = await importViaImportList(storeMod, "withFileLock$1");
      let wake;
      let signalled = false;
      const onSig = () => {
        signalled = true;
        wake?.();
      };
      process.on("SIGTERM", onSig);
      process.on("SIGINT", onSig);
      await withFileLock(file, STORE_LOCK_OPTIONS, async () => {
        process.stdout.write("locked\n");
        await new Promise((resolve) => {
          wake = resolve;
          const t = setTimeout(resolve, ms);
          if (signalled) resolve();
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
      });
      process.stdout.write("released\n");
      return;
    }
    default:
      die(`unknown command ${cmd}\n${USAGE}`, 2);
  }
}

main().then(
  () => process.exit(0),
  (err) => die(err?.stack || String(err)),
);
