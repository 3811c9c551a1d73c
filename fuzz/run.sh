#!/usr/bin/env bash
# Runs fuzz targets for RUNS inputs each (default 10 million), starting from
# the seed corpora in fuzz/seeds (written by fuzz/seeds.py from tests/fixtures).
# Needs the nightly toolchain and `cargo install cargo-fuzz`.
#   fuzz/run.sh [RUNS] [TARGET...]          (no targets: all of them)
# SANITIZER=none skips AddressSanitizer (3-10x faster; Rust code here is safe
# code, ASan mostly adds the malloc-size limit). Logs: fuzz/logs/<target>.log.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10000000}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(frame signature setup_code pairing_file allow_file pending_file paired_file lock_file config_file operator_frame)
fi
san=${SANITIZER:-address}
mkdir -p fuzz/logs
for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$t"
  log="fuzz/logs/$t.log"
  start=$(date +%s)
  # -rss_limit_mb / -malloc_limit_mb: unbounded allocation is a failure;
  # -timeout: an input taking over 10 s is a hang.
  if cargo +nightly fuzz run -O -s "$san" --target-dir "fuzz/target-$san" "$t" \
      "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
      -runs="$runs" -rss_limit_mb=2048 -malloc_limit_mb=512 -timeout=10 \
      -print_final_stats=1 >"$log" 2>&1; then
    status=ok
  else
    status=FAILED
  fi
  execs=$(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
  echo "$t: $status, $execs inputs in $(( $(date +%s) - start )) s (sanitizer $san, log $log)"
done
