#!/usr/bin/env bash
# The guide's responsiveness (`reqlab` alone on a terminal), on the release build:
#   1. launch to first frame: from spawning target/release/reqlab in a 120×40 tmux pane to
#      the map's header ("the life of a request") being on screen, median of RUNS launches;
#      then, in the same launch, from pressing s in lesson 2 to the lab's answer and its
#      trace being on screen. Both poll `tmux capture-pane`, so the tmux client round trips
#      and the polling interval are included: they are upper bounds. The same launch
#      measured with a shell that prints the header at once gives the tmux + polling floor.
#   2. idle CPU: with the guide open and left alone for IDLE seconds (on the map, then on a
#      lesson with a response and its trace shown), the CPU time the process used (utime +
#      stime from /proc/PID/stat) as a percentage of one core, and its context switches.
#   3. frame and update times with 10,000 requests in the session: benches/tui.rs drives the
#      real App, update and draw on a 160×45 test backend (cargo bench --bench tui).
# Every launch gets a fresh REQLAB_DATA_DIR under a temporary directory, and the guide's
# lab listens on 127.0.0.1 only; nothing is left running (the tmux server on its own
# socket, -L reqlab-bench, is killed on exit). Needs tmux and bash 5.
# Settings: RUNS (default 10), IDLE (5 seconds), ROUNDS (200 samples per frame figure).
# Run: scripts/bench-tui.sh
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-10}
IDLE=${IDLE:-5}
export ROUNDS=${ROUNDS:-200}
NEEDLE="the life of a request"
command -v tmux >/dev/null || { echo "tmux is missing: apt-get install tmux" >&2; exit 2; }

# One cargo at a time: builds sharing target/ wait for each other instead of thrashing.
cargo_locked() { flock "${CARGO_LOCK:-/tmp/reqlab-cargo.lock}" cargo "$@"; }

cargo_locked build --release --locked --quiet
cargo_locked bench --locked --quiet --bench tui --no-run
BIN=$PWD/target/release/reqlab

SCRATCH=$(mktemp -d)
pids=()
T() { tmux -L reqlab-bench -f /dev/null "$@"; }
# True while the process runs (an exited one waiting to be reaped does not count).
alive() { [ -e "/proc/$1" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
cleanup() {
  T kill-server 2>/dev/null || true
  # The guides quit on the hangup; make sure they did.
  for p in "${pids[@]}"; do
    for _ in $(seq 1 50); do alive "$p" || break; sleep 0.05; done
    if alive "$p"; then kill -9 "$p" 2>/dev/null || true; fi
  done
  rm -rf "$SCRATCH"
}
trap cleanup EXIT

T kill-server 2>/dev/null || true
# A session that keeps the server up between launches, so a launch does not also start tmux.
T new-session -d -s keep cat

now_us() { echo "${EPOCHREALTIME/./}"; }

# Waits until every needle is on the pane's screen; prints the microseconds since $2 and
# the number of captures taken.
POLLS=0
wait_screen() { # session start-us needle...
  local session=$1 start=$2 deadline screen found
  shift 2
  deadline=$(($(now_us) + 10000000))
  POLLS=0
  while :; do
    screen=$(T capture-pane -p -t "$session" 2>/dev/null || true)
    POLLS=$((POLLS + 1))
    found=1
    for needle in "$@"; do [[ $screen == *"$needle"* ]] || { found=0; break; }; done
    if [ $found = 1 ]; then
      echo $(($(now_us) - start))
      return 0
    fi
    if [ "$(now_us)" -gt "$deadline" ]; then
      echo "never on screen in $session: $*" >&2
      echo "$screen" >&2
      exit 1
    fi
  done
}

# Starts the guide in a new session with a fresh data dir; sets LAUNCHED_AT and PANE_PID.
launch() { # session command...
  local session=$1 dir
  shift
  dir=$(mktemp -d "$SCRATCH/data.XXXX")
  LAUNCHED_AT=$(now_us)
  T new-session -d -s "$session" -x 120 -y 40 -e "REQLAB_DATA_DIR=$dir" "$@"
  PANE_PID=$(T display-message -p -t "$session" '#{pane_pid}')
  pids+=("$PANE_PID")
}

# Quits the guide with q (twice from a lesson) and waits for the process to end.
quit() { # session pid
  T send-keys -t "$1" q q 2>/dev/null || true
  for _ in $(seq 1 100); do alive "$2" || return 0; sleep 0.02; done
  echo "the guide in $1 did not quit on q" >&2
  T kill-session -t "$1" 2>/dev/null || true
}

# median min max of the numbers on stdin (microseconds in, milliseconds out).
summary() {
  sort -n | awk '{v[NR] = $1 / 1000} END {
    m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "median %6.1f ms  min %6.1f ms  max %6.1f ms  (%d runs)", m, v[1], v[NR], NR
  }'
}

echo "reqlab guide at $(git describe --always --dirty 2>/dev/null || echo '?'), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
SECONDS=0

# 1. Launch to first frame, and s to answer and trace, in the real binary.
FLOOR=$SCRATCH/floor FIRST=$SCRATCH/first SEND=$SCRATCH/send POLLED=$SCRATCH/polled
for i in $(seq 1 "$RUNS"); do
  launch "floor$i" sh -c "echo '$NEEDLE'; exec cat"
  wait_screen "floor$i" "$LAUNCHED_AT" "$NEEDLE" >>"$FLOOR"
  T kill-session -t "floor$i"

  launch "run$i" "$BIN"
  pid=$PANE_PID
  wait_screen "run$i" "$LAUNCHED_AT" "$NEEDLE" >>"$FIRST"
  # Lesson 2; its first preset is GET /tasks/7.
  T send-keys -t "run$i" j Enter
  wait_screen "run$i" "$(now_us)" "REST: resources" >/dev/null
  sent=$(now_us)
  T send-keys -t "run$i" s
  wait_screen "run$i" "$sent" "as the lesson expects" "route /tasks/{id}" >>"$SEND"
  echo "$POLLS $(($(now_us) - sent))" >>"$POLLED"
  quit "run$i" "$pid"
done
interval=$(awk '{n += $1; t += $2} END {printf "%.1f", t / n / 1000}' "$POLLED")
echo
echo "1. launch to first frame (120×40 tmux pane, fresh data dir; upper bounds: polling every ~$interval ms included)"
printf '   %-44s %s\n' "reqlab, spawn to \"$NEEDLE\" on screen:" "$(summary <"$FIRST")"
printf '   %-44s %s\n' "tmux + polling floor (sh printing it):" "$(summary <"$FLOOR")"
printf '   %-44s %s\n' "key s to the answer and its trace on screen:" "$(summary <"$SEND")"

# 2. Idle CPU.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
switches() { cat /proc/"$1"/task/*/status | awk '/ctxt_switches/ {n += $2} END {print n}'; }
HZ=$(getconf CLK_TCK)
idle() { # label pid
  local t0 c0 w0 t1 c1 w1
  sleep 1 # let start-up work finish
  t0=$(ticks "$2") c0=$(switches "$2") w0=$(now_us)
  sleep "$IDLE"
  t1=$(ticks "$2") c1=$(switches "$2") w1=$(now_us)
  awk -v t=$((t1 - t0)) -v hz="$HZ" -v us=$((w1 - w0)) -v c=$((c1 - c0)) -v label="$1" \
    -v threads="$(ls "/proc/$2/task" | wc -l)" 'BEGIN {
      s = us / 1e6
      printf "   %-44s %5.2f%% of one core (%d ticks of 1/%d s in %.1f s; resolution %.2f%%), %d context switches (%.1f/s) over %d threads\n",
        label, 100 * t / hz / s, t, hz, s, 100 / hz / s, c, c / s, threads
    }'
}
echo
echo "2. idle CPU, left alone for ${IDLE} s"
launch idle "$BIN"
pid=$PANE_PID
[ "$(cat "/proc/$pid/comm")" = reqlab ] || { echo "pane $pid is not reqlab" >&2; exit 1; }
wait_screen idle "$LAUNCHED_AT" "$NEEDLE" >/dev/null
idle "on the map, just opened:" "$pid"
T send-keys -t idle j Enter
wait_screen idle "$(now_us)" "REST: resources" >/dev/null
T send-keys -t idle s
wait_screen idle "$(now_us)" "as the lesson expects" "route /tasks/{id}" >/dev/null
idle "on lesson 2 after a request and its trace:" "$pid"
quit idle "$pid"

# 3. Frame and update times in a long session.
echo
echo "3. frame and update times (benches/tui.rs, ROUNDS=$ROUNDS)"
cargo_locked bench --locked --quiet --bench tui 2>&1 | grep -v '^$' | sed 's/^/   /'
echo "measured in ${SECONDS} s (builds not counted)"
