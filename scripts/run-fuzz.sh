#!/usr/bin/env bash
# Runs each libFuzzer target in BUILD_DIR for SECONDS seconds, seeded from tests/data/fuzz/<name>/.
# Exits non-zero as soon as one target finds a crash, a leak or a timeout.
set -euo pipefail
dir=${1:-build/fuzz}
secs=${2:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
n=0
for bin in "$dir"/fuzz_*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin")
  corpus=$(mktemp -d)
  seeds="$root/tests/data/fuzz/${name#fuzz_}"
  if [ -d "$seeds" ]; then cp -r "$seeds"/. "$corpus"/; fi
  echo "fuzz: $name for ${secs}s"
  "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$dir/$name-" "$corpus" 2>"$dir/$name.log" \
    || { tail -40 "$dir/$name.log"; echo "fuzz: $name FAILED"; exit 1; }
  grep -E 'stat::number_of_executed_units' "$dir/$name.log" || true
  rm -rf "$corpus"
  n=$((n + 1))
done
echo "fuzz: $n targets passed"
