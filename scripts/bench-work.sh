#!/usr/bin/env bash
# Waiting, blocking and computing, measured with reqlab load against a release lab: the
# throughput of /work/io, /work/blocking and /work/cpu (on the runtime thread and offloaded),
# and how /health answers while blocking or computing requests run beside it. With nginx
# installed, the blocking load again through `serve --replicas 3`.
# Settings: DURATION (default 5s), CONNECTIONS (16), MS (100), ROUNDS_CPU (200000).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-5s}
CONNECTIONS=${CONNECTIONS:-16}
MS=${MS:-100}
ROUNDS_CPU=${ROUNDS_CPU:-200000}

cargo build --release --locked --quiet
BIN=target/release/reqlab
DATA=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$DATA"
}
trap cleanup EXIT

# Starts `reqlab serve` with the given flags; sets ADDRESS to where it listens. (Not run in a
# subshell, so the cleanup knows every process it started.)
start() {
  local out="$DATA/serve-$RANDOM.out"
  REQLAB_DATA_DIR="$DATA/$RANDOM" "$BIN" serve --port 0 "$@" >"$out" 2>/dev/null &
  PIDS+=($!)
  for _ in $(seq 1 400); do
    grep -q "listening on" "$out" 2>/dev/null && break
    sleep 0.05
  done
  ADDRESS=$(sed -n 's/^listening on //p' "$out" | head -1)
}

# One load run; prints req/s, p50 and p99 on one line.
load() {
  "$BIN" load "$1" -c "$2" -d "$DURATION" --format json 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
l = d["latency_ms"]
print("%9.1f req/s   p50 %8.2f ms   p99 %8.2f ms" % (d["requests_per_second"], l["p50"], l["p99"]))'
}

start --memory
BASE=$ADDRESS
[ -n "$BASE" ] || { echo "the lab did not start" >&2; exit 1; }
echo "release lab on $(nproc) cores, $CONNECTIONS connections, $DURATION per run"
printf '%-44s %s\n' "/work/io?ms=$MS" "$(load "$BASE/work/io?ms=$MS" "$CONNECTIONS")"
printf '%-44s %s\n' "/work/blocking?ms=$MS" "$(load "$BASE/work/blocking?ms=$MS" "$CONNECTIONS")"
printf '%-44s %s\n' "/work/cpu?rounds=$ROUNDS_CPU" "$(load "$BASE/work/cpu?rounds=$ROUNDS_CPU" "$CONNECTIONS")"
printf '%-44s %s\n' "/work/cpu?rounds=$ROUNDS_CPU&offload=true" "$(load "$BASE/work/cpu?rounds=$ROUNDS_CPU&offload=true" "$CONNECTIONS")"

# /health, one connection, alone and beside each kind of load.
printf '%-44s %s\n' "/health alone" "$(load "$BASE/health" 1)"
for beside in "work/blocking?ms=$MS" "work/cpu?rounds=$ROUNDS_CPU" "work/cpu?rounds=$ROUNDS_CPU&offload=true"; do
  "$BIN" load "$BASE/$beside" -c "$CONNECTIONS" -d "$DURATION" >/dev/null 2>&1 &
  BG=$!
  sleep 0.5
  printf '%-44s %s\n' "/health beside /$beside" "$(load "$BASE/health" 1)"
  wait "$BG" || true
done

if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then
  start --replicas 3
  PROXY=$ADDRESS
  [ -n "$PROXY" ] || { echo "serve --replicas 3 did not start" >&2; exit 1; }
  printf '%-44s %s\n' "3 replicas: /work/blocking?ms=$MS" "$(load "$PROXY/work/blocking?ms=$MS" "$CONNECTIONS")"
  printf '%-44s %s\n' "3 replicas: /work/io?ms=$MS" "$(load "$PROXY/work/io?ms=$MS" "$CONNECTIONS")"
else
  echo "nginx is not installed: skipped the replicas"
fi
