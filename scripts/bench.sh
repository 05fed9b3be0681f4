#!/usr/bin/env bash
# Lab start-up time, then throughput and latency measured with wrk on loopback:
#   GET /tasks/{id} and GET /tasks?limit=20
#   on the reqlab lab with tracing on and off, and on an equivalent FastAPI + uvicorn app
#   (fixtures/bench/fastapi_tasks.py) with 1 and 2 workers.
# Every server holds 1000 tasks. Needs wrk (Debian: apt-get install wrk); with valgrind
# installed, also counts instructions per request.
# The lab runs with tracing on and off alternately for ROUNDS rounds and the medians are
# compared, because two processes sharing two cores make single runs noisy; the server's CPU
# time per request is reported too, as it is steadier than requests per second.
# Settings: DURATION (default 8s), CONNECTIONS (32), WRK_THREADS (1), ROUNDS (5),
# ONLY=lab to skip FastAPI.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-8s}
ROUNDS=${ROUNDS:-5}
RESULTS=$(mktemp)
WRK_OUT=$(mktemp)
CONNECTIONS=${CONNECTIONS:-32}
WRK_THREADS=${WRK_THREADS:-1}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 2; }

PY="$(bash scripts/python-env.sh)"
cargo build --release --locked --quiet
BIN=target/release/reqlab

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -f "$RESULTS" "$WRK_OUT"
}
trap cleanup EXIT

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_for() { # url
  for _ in $(seq 1 200); do
    curl -fs -o /dev/null "$1" && return 0
    sleep 0.05
  done
  echo "server at $1 did not come up" >&2; exit 1
}

# CPU time (user + system, in clock ticks) a process has used so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TICK_US=$((1000000 / $(getconf CLK_TCK)))

# wrk's summary as: req/s p50 p99 non-2xx cpu-us-per-request (the server's CPU time divided
# by the requests it served: unlike req/s, it barely moves when the machine is busy elsewhere).
measure() { # url [pid]  (no pid: CPU is not measured)
  local before=0 after=0
  [ -n "${2:-}" ] && before=$(cpu_ticks "$2")
  wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$1" >"$WRK_OUT" 2>&1
  [ -n "${2:-}" ] && after=$(cpu_ticks "$2")
  awk -v ticks=$((after - before)) -v tick_us="$TICK_US" -v measured="${2:+yes}" '
    /^  Latency Distribution/ {dist=1}
    dist && $1=="50%" {p50=$2}
    dist && $1=="99%" {p99=$2}
    /requests in/ {reqs=$1}
    /^Requests\/sec:/ {rps=$2}
    /Non-2xx or 3xx responses:/ {bad=$NF}
    END {
      cpu = measured == "yes" ? sprintf("%.2f", ticks * tick_us / reqs) : "n/a"
      printf "%s %s %s %s %s\n", rps, p50, p99, (bad==""?0:bad), cpu
    }' "$WRK_OUT"
}

report() { # label endpoint result
  read -r rps p50 p99 bad cpu <<<"$3"
  printf '%-28s %-22s %12s %10s %10s %8s %10s\n' "$1" "$2" "$rps" "$p50" "$p99" "$bad" "$cpu"
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$rps" "$cpu" >>"$RESULTS"
}

run_lab() { # label extra-args...
  local label=$1; shift
  local port; port=$(free_port)
  "$BIN" serve --memory --port "$port" "$@" >/dev/null 2>&1 &
  pids+=($!)
  local url="http://127.0.0.1:$port"
  wait_for "$url/tasks/1"
  # Top up to 1000 tasks, like the FastAPI twin.
  "$PY" - "$port" <<'PY'
import http.client, json, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
for i in range(988):
    c.request("POST", "/tasks", json.dumps({"title": f"bench task {i}"}), {"Content-Type": "application/json"})
    r = c.getresponse(); r.read()
    assert r.status == 201, r.status
PY
  report "$label" "GET /tasks/500" "$(measure "$url/tasks/500" "${pids[-1]}")"
  report "$label" "GET /tasks?limit=20" "$(measure "$url/tasks?limit=20" "${pids[-1]}")"
  kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
}

run_fastapi() { # label workers
  local port; port=$(free_port)
  "$PY" -m uvicorn fastapi_tasks:app --app-dir fixtures/bench --host 127.0.0.1 --port "$port" \
    --workers "$2" --log-level warning --no-access-log &
  pids+=($!)
  local url="http://127.0.0.1:$port"
  wait_for "$url/tasks/1"
  # With several workers the CPU is spent in forked children, not in the process we started.
  local pid=""
  [ "$2" = 1 ] && pid="${pids[-1]}"
  report "$1" "GET /tasks/500" "$(measure "$url/tasks/500" "$pid")"
  report "$1" "GET /tasks?limit=20" "$(measure "$url/tasks?limit=20" "$pid")"
  kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
}

# Start-up: from launching `reqlab serve --port 0 --memory` to its "listening on" line.
"$PY" - "$BIN" <<'PY'
import statistics, subprocess, sys, time
times = []
for _ in range(10):
    start = time.perf_counter()
    p = subprocess.Popen([sys.argv[1], "serve", "--port", "0", "--memory"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = p.stdout.readline()
    times.append((time.perf_counter() - start) * 1000)
    p.terminate(); p.wait()
    assert line.startswith("listening on http://127.0.0.1:"), line
print(f"start-up to 'listening on': median {statistics.median(times):.1f} ms, max {max(times):.1f} ms (10 runs)")
PY

echo "wrk -t$WRK_THREADS -c$CONNECTIONS -d$DURATION on $(nproc) cores, $ROUNDS rounds; $(date -u +%Y-%m-%dT%H:%MZ)"
printf '%-28s %-22s %12s %10s %10s %8s %10s\n' server endpoint req/s p50 p99 non-2xx cpu-us/req
for round in $(seq 1 "$ROUNDS"); do
  run_lab "reqlab (tracing on)"
  run_lab "reqlab (tracing off)" --no-trace
done
if [ "${ONLY:-}" != lab ]; then
  run_fastapi "fastapi+uvicorn (1 worker)" 1
  run_fastapi "fastapi+uvicorn (2 workers)" 2
fi

# Instructions per request under callgrind: unlike time, instruction counts do not depend on
# what else the machine is doing, so they give the steadiest measure of what tracing adds.
instructions() { # endpoint requests extra-args...
  local path=$1 n=$2; shift 2
  local port log
  port=$(free_port)
  log=$(mktemp)
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$BIN" serve --memory --port "$port" "$@" \
    >/dev/null 2>"$log" &
  local vg=$!
  "$PY" - "$port" "$path" "$n" <<'PY'
import http.client, json, sys, time
port, path, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
for _ in range(600):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60); c.request("GET", "/health"); c.getresponse().read(); break
    except OSError:
        time.sleep(0.1)
for i in range(100):
    c.request("POST", "/tasks", json.dumps({"title": f"bench task {i}"}), {"Content-Type": "application/json"}); c.getresponse().read()
for _ in range(n):
    c.request("GET", path); r = c.getresponse(); r.read(); assert r.status == 200, r.status
PY
  kill -TERM "$vg"; wait "$vg" 2>/dev/null || true
  sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$log"
  rm -f "$log"
}

if command -v valgrind >/dev/null; then
  echo
  echo "instructions per request (callgrind, 2000 requests after a 100-task warm-up, start-up subtracted):"
  for path in "/tasks/50" "/tasks?limit=20"; do
    for mode in on off; do
      flag=(); [ "$mode" = off ] && flag=(--no-trace)
      base=$(instructions "$path" 0 "${flag[@]}")
      full=$(instructions "$path" 2000 "${flag[@]}")
      per=$(( (full - base) / 2000 ))
      printf '  %-22s tracing %-3s %10d instructions/request\n' "GET $path" "$mode" "$per"
      printf 'instr\t%s\t%s\t%s\n' "$path" "$mode" "$per" >>"$RESULTS"
    done
  done
fi

echo
echo "medians (req/s):"
"$PY" - "$RESULTS" <<'PY'
import statistics, sys, collections
runs = collections.defaultdict(list)
cpu = collections.defaultdict(list)
instr = {}
for line in open(sys.argv[1]):
    if line.startswith("instr\t"):
        _, path, mode, per = line.rstrip("\n").split("\t")
        instr[(path, mode)] = int(per)
        continue
    server, endpoint, rps, us = line.rstrip("\n").split("\t")
    runs[(server, endpoint)].append(float(rps))
    if us != "n/a":
        cpu[(server, endpoint)].append(float(us))
med = {k: statistics.median(v) for k, v in runs.items()}
med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
for (server, endpoint), m in med.items():
    c = med_cpu.get((server, endpoint))
    shown = f"{c:>7.2f} cpu-us/req" if c is not None else "    n/a cpu-us/req"
    print(f"  {server:<28} {endpoint:<22} {m:>10.0f} req/s  {shown}  (of {len(runs[(server, endpoint)])})")
for endpoint in ("GET /tasks/500", "GET /tasks?limit=20"):
    on, off = med.get(("reqlab (tracing on)", endpoint)), med.get(("reqlab (tracing off)", endpoint))
    if on and off:
        c_on, c_off = med_cpu[("reqlab (tracing on)", endpoint)], med_cpu[("reqlab (tracing off)", endpoint)]
        print(f"tracing cost on {endpoint}: {100 * (off - on) / off:.1f}% of throughput, "
              f"{100 * (c_on - c_off) / c_on:.1f}% of the server's CPU per request")
    fast = [m for (s, e), m in med.items() if s.startswith("fastapi") and e == endpoint]
    if on and fast:
        print(f"lab (tracing on) vs best FastAPI on {endpoint}: {on / max(fast):.1f}x")
for path in ("/tasks/50", "/tasks?limit=20"):
    on, off = instr.get((path, "on")), instr.get((path, "off"))
    if on and off:
        print(f"tracing cost on GET {path}: {100 * (on - off) / on:.1f}% of the instructions per request")
PY
