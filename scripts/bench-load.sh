#!/usr/bin/env bash
# reqlab load beside wrk, in one run: the same lab endpoint, the same connection count, one
# client after the other, for ROUNDS rounds; prints each round's requests per second and the
# ratio of the medians (reqlab load / wrk). Both clients use one thread; the lab runs with
# tracing on, as a learner's lab does. Needs wrk (Debian: apt-get install wrk).
# Settings: DURATION (default 5s), CONNECTIONS (32), ROUNDS (5), ENDPOINT (/tasks/1).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-5s}
CONNECTIONS=${CONNECTIONS:-32}
ROUNDS=${ROUNDS:-5}
ENDPOINT=${ENDPOINT:-/tasks/1}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 2; }

cargo build --release --locked --quiet
BIN=target/release/reqlab
DATA=$(mktemp -d)
LAB_OUT="$DATA/lab.out"
cleanup() {
  [ -n "${LAB:-}" ] && kill "$LAB" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$DATA"
}
trap cleanup EXIT

REQLAB_DATA_DIR="$DATA" "$BIN" serve --port 0 --memory >"$LAB_OUT" 2>/dev/null &
LAB=$!
for _ in $(seq 1 200); do
  grep -q "listening on" "$LAB_OUT" 2>/dev/null && break
  sleep 0.05
done
BASE=$(sed -n 's/^listening on //p' "$LAB_OUT" | head -1)
[ -n "$BASE" ] || { echo "the lab did not start" >&2; exit 1; }
URL="$BASE$ENDPOINT"
echo "GET $URL · $CONNECTIONS connections · $DURATION per client per round · $ROUNDS rounds"

# Warm the lab up once, so neither client pays for the first requests.
wrk -t1 -c"$CONNECTIONS" -d1s "$URL" >/dev/null

wrk_rates=()
load_rates=()
for round in $(seq 1 "$ROUNDS"); do
  w=$(wrk -t1 -c"$CONNECTIONS" -d"$DURATION" "$URL" | awk '/^Requests\/sec:/ {print $2}')
  l=$(REQLAB_DATA_DIR="$DATA" "$BIN" load "$URL" -t 1 -c "$CONNECTIONS" -d "$DURATION" --format json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["requests_per_second"])')
  wrk_rates+=("$w")
  load_rates+=("$l")
  printf 'round %d  wrk %10.0f req/s   reqlab load %10.0f req/s\n' "$round" "$w" "$l"
done

python3 - "${wrk_rates[*]}" "${load_rates[*]}" <<'PY'
import statistics, sys
wrk = [float(x) for x in sys.argv[1].split()]
load = [float(x) for x in sys.argv[2].split()]
w, l = statistics.median(wrk), statistics.median(load)
print(f"median  wrk {w:10.0f} req/s   reqlab load {l:10.0f} req/s   ratio {l / w:.2f}")
PY
