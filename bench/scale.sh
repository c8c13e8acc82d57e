#!/bin/sh
# scale.sh: the results path at a 1,000,000-task sweep.  A fresh coordinator
# (journal in a temp dir) and 2 `hptune-worker --dry-run --dataset mnist-10k` x 8
# slots run a random-search sweep of 200,000 trials x 5 CV folds = 1,000,000
# tasks.  Measured:
#   - `hptune status` latency while the sweep runs: one call every 0.5 s, each
#     timed (bench/time_status.py) from the fork of the CLI until it has exited
#     (process start, connect,
#     the coordinator's 20 ms admission delay for a new connection
#     (docs/security.md, "Identity"), request, reply, print); max and p99
#     over the run;
#   - the status request's own round trip on a connection kept open
#     (tests/load's status-probe, every 50 ms from launch to done):
#     p50, p99 and max;
#   - the wall time of `hptune results SWEEP --format csv` for every trial once
#     the sweep is done (CLI start included; it reads every page), with the
#     row count checked;
#   - the coordinator's peak RSS (VmHWM in /proc/PID/status) after that read;
#   - end-to-end tasks/s, for context;
#   - a restart with the finished sweep in the journal (SIGTERM, then a new
#     coordinator on the same journal): the time from its start until
#     `hptune status` answers, its VmHWM and VmRSS then, and that `hptune
#     status SWEEP` and the results CSV read the same as before the restart
#     (the results' wall time is the first read, from the journal).  The
#     same on a copy of the journal without its sweep summaries (as an
#     older build leaves it: the sweep is rebuilt at start), for comparison.
# The report goes to bench/results/scale-<date>.txt; raw samples and logs to
# bench/out/scale/.
#
# Usage: bench/scale.sh [--trials N] [--folds K] [--workers N] [--slots N]
#                       [--io-threads N] [--keep] [--no-build]
#   --trials N          trials [200000]; tasks = N x folds
#   --folds K           CV folds per trial [5]
#   --workers N, --slots N   dry-run workers and slots each [2, 8]
#   --io-threads N      the coordinator's --io-threads [its default, 2]
#   --keep              keep the temp dir (journal, logs)
#   --no-build          do not run ninja on the three binaries first
# Environment: BUILD_DIR (default build), DATA_DIR (default data), TMPDIR
# (where the journal goes).  Exit status: 0 ran, 1 something failed to run,
# 2 bad option.
set -eu

cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
DATA_DIR=${DATA_DIR:-data}
TRIALS=200000
FOLDS=5
WORKERS=2
SLOTS=8
KEEP=0
BUILD=1
IO_THREADS=

need_arg() {
    if [ $# -lt 2 ]; then echo "scale.sh: $1 needs a value" >&2; exit 2; fi
    case "$2" in
        ''|*[!0-9]*|0) echo "scale.sh: $1: '$2' is not a positive integer" >&2; exit 2 ;;
    esac
}
while [ $# -gt 0 ]; do
    case "$1" in
        --trials) need_arg "$@"; TRIALS=$2; shift ;;
        --folds) need_arg "$@"; FOLDS=$2; shift ;;
        --workers) need_arg "$@"; WORKERS=$2; shift ;;
        --slots) need_arg "$@"; SLOTS=$2; shift ;;
        --io-threads) need_arg "$@"; IO_THREADS=$2; shift ;;
        --keep) KEEP=1 ;;
        --no-build) BUILD=0 ;;
        -h|--help) sed -n '2,40p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "scale.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
    esac
    shift
done
if [ "$FOLDS" -lt 2 ]; then echo "scale.sh: --folds must be at least 2" >&2; exit 2; fi

COORD=$BUILD_DIR/coordinator/hptune-coordinator
WORKER=$BUILD_DIR/worker/hptune-worker
CLI=$BUILD_DIR/coordinator/cli/hptune
PROBE=$BUILD_DIR/tests/load/status-probe
OUT=bench/out/scale
mkdir -p "$OUT" bench/results
rm -f "$OUT"/*.txt "$OUT"/*.log "$OUT"/*.csv

if [ "$BUILD" = 1 ] && [ -f "$BUILD_DIR/build.ninja" ] && command -v ninja >/dev/null 2>&1; then
    if ! ninja -C "$BUILD_DIR" coordinator/hptune-coordinator worker/hptune-worker \
            coordinator/cli/hptune tests/load/status-probe > "$OUT/build.log" 2>&1; then
        echo "scale.sh: building in $BUILD_DIR failed (see $OUT/build.log)" >&2
        exit 1
    fi
fi
for b in "$COORD" "$WORKER" "$CLI" "$PROBE"; do
    if [ ! -x "$b" ]; then
        echo "scale.sh: $b not found; build first (meson setup $BUILD_DIR && ninja -C $BUILD_DIR)" >&2
        exit 1
    fi
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/hptune-scale.XXXXXX")
PIDS=""
cleanup() {
    for p in $PIDS; do kill -TERM "$p" 2>/dev/null || true; done
    for p in $PIDS; do wait "$p" 2>/dev/null || true; done
    PIDS=""
    if [ "$KEEP" = 1 ]; then echo "(kept $TMP)" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() {
    echo "scale.sh: $*" >&2
    for f in "$TMP"/*.log; do
        [ -f "$f" ] || continue
        echo "--- last lines of $f" >&2
        tail -n 5 "$f" >&2
    done
    exit 1
}
now_ns() { date +%s%N; }

TASKS=$((TRIALS * FOLDS))
STAMP=$(date -u +%Y-%m-%d)
REPORT=bench/results/scale-$STAMP.txt

cat > "$TMP/spec.yaml" <<SPEC
# bench/scale.sh: random search, $TRIALS trials x $FOLDS folds, no refit.
name: scale-bench
dataset: mnist-10k
test_objective: hash   # --dry-run workers serve only such sweeps
metric: {name: accuracy, goal: maximize}
method: random
seed: 1
cv: {folds: $FOLDS, stratified: true, shuffle: true, seed: 42}
refit: false
budget: {max_trials: $TRIALS}
parameters:
  learning_rate: {distribution: log_uniform_values, min: 1.0e-4, max: 1.0e-1}
  units:         {distribution: int_uniform, min: 8, max: 256}
  optimizer:     {values: [adam, sgd, rmsprop]}
  epochs:        {value: 1}
SPEC

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
HPTUNE_COORDINATOR="tcp://127.0.0.1:$port"
export HPTUNE_COORDINATOR
"$COORD" --bind "$HPTUNE_COORDINATOR" --db "$TMP/journal.db" --data-dir "$DATA_DIR" \
    ${IO_THREADS:+--io-threads "$IO_THREADS"} \
    --log-file "$TMP/coordinator.log" 2> "$TMP/coordinator.stderr" &
CPID=$!
PIDS="$PIDS $CPID"
i=1
while [ "$i" -le "$WORKERS" ]; do
    "$WORKER" --coordinator "$HPTUNE_COORDINATOR" --slots "$SLOTS" --dry-run \
        --dataset mnist-10k --name "dry$i" --log-file "$TMP/worker$i.log" 2> "$TMP/worker$i.stderr" &
    PIDS="$PIDS $!"
    i=$((i + 1))
done
n=0
while :; do
    got=$("$CLI" status --timeout 1 2>/dev/null |
          sed -n 's/^workers: \([0-9]*\) connected.*/\1/p' || true)
    [ "${got:-0}" -ge "$WORKERS" ] && break
    n=$((n + 1))
    [ "$n" -le 100 ] || fail "the coordinator or the workers did not come up within 20 s"
    kill -0 "$CPID" 2>/dev/null || fail "the coordinator exited"
    sleep 0.2
done

echo "hptune scale benchmark: $WORKERS dry-run workers x $SLOTS slots," \
     "$TRIALS trials x $FOLDS folds = $TASKS tasks"
T0=$(now_ns)
SWEEP=$("$CLI" launch "$TMP/spec.yaml" | head -n1)
case "$SWEEP" in ''|*[!0-9]*) fail "launch did not print a sweep id: $SWEEP" ;; esac

# The status request's own latency on an open connection, until the sweep ends.
"$PROBE" --coordinator "$HPTUNE_COORDINATOR" --interval-ms 50 --timeout-ms 5000 \
    > "$OUT/probe.txt" 2>&1 &
PROBE_PID=$!
PIDS="$PIDS $PROBE_PID"
# Sample the status command's latency until the sweep ends (each sample's
# output tells whether it has); bench/time_status.py times each run from
# the CLI's fork to its exit, nothing else inside the window.
rc=0
python3 bench/time_status.py "$CLI" "$SWEEP" "$OUT/status_us.txt" 0.5 \
    2>"$OUT/status.err" >"$OUT/status.out" || rc=$?
kill -0 "$CPID" 2>/dev/null || fail "the coordinator exited during the sweep"
case $rc in
    0) STATE="done" ;;
    3) STATE=ended ;;
    *) fail "hptune status failed: $(cat "$OUT/status.err")" ;;
esac
line=$(cat "$OUT/status.out")
T1=$(now_ns)
kill -TERM "$PROBE_PID" 2>/dev/null || true
wait "$PROBE_PID" 2>/dev/null || true
PROBE_STATS=$(sed -n 's/^status-probe: //p' "$OUT/probe.txt")
[ -n "$PROBE_STATS" ] || fail "status-probe printed no figures: $(cat "$OUT/probe.txt")"
[ "$STATE" = "done" ] || fail "the sweep ended but is not done: $line"

a=$(now_ns)
"$CLI" results "$SWEEP" --format csv --timeout 120 > "$OUT/results.csv" 2> "$OUT/results.err" ||
    fail "hptune results failed: $(cat "$OUT/results.err")"
b=$(now_ns)
RESULTS_MS=$(( (b - a) / 1000000 ))
ROWS=$(($(wc -l < "$OUT/results.csv") - 1))
[ "$ROWS" -eq "$TRIALS" ] || fail "results has $ROWS rows, want $TRIALS"
DISTINCT=$(tail -n +2 "$OUT/results.csv" | cut -d, -f1 | sort -u | wc -l)
[ "$DISTINCT" -eq "$TRIALS" ] || fail "results has $DISTINCT distinct trials, want $TRIALS"
HWM=$(sed -n 's/^VmHWM:[[:space:]]*//p' "/proc/$CPID/status")
"$CLI" status "$SWEEP" --timeout 60 2>/dev/null | sed -n '2p' > "$OUT/status_before.txt"

# --- restart with the finished sweep in the journal ------------------------
stop_coord() {
    kill -TERM "$CPID" 2>/dev/null || true
    wait "$CPID" 2>/dev/null || true
}
# start_coord DB: start a coordinator on journal DB and wait until status
# answers; sets CPID and START_MS (process start to the first answer).
start_coord() {
    a=$(now_ns)
    "$COORD" --bind "$HPTUNE_COORDINATOR" --db "$1" --data-dir "$DATA_DIR" \
        ${IO_THREADS:+--io-threads "$IO_THREADS"} \
        --log-file "$TMP/coordinator-restart.log" 2>> "$TMP/coordinator.stderr" &
    CPID=$!
    PIDS="$PIDS $CPID"
    n=0
    until "$CLI" status --timeout 1 > /dev/null 2>&1; do
        n=$((n + 1))
        [ "$n" -le 3000 ] || fail "the restarted coordinator did not answer within 60 s"
        kill -0 "$CPID" 2>/dev/null || fail "the restarted coordinator exited"
        sleep 0.02
    done
    b=$(now_ns)
    START_MS=$(( (b - a) / 1000000 ))
}
# restart_case NAME DB TEXT: restart on DB; RESTART_LINE says how long it
# took, with status and results compared with the ones before the restart.
restart_case() {
    stop_coord
    start_coord "$2"
    R_HWM=$(sed -n 's/^VmHWM:[[:space:]]*//p' "/proc/$CPID/status")
    R_RSS=$(sed -n 's/^VmRSS:[[:space:]]*//p' "/proc/$CPID/status")
    "$CLI" status "$SWEEP" --timeout 60 2>/dev/null | sed -n '2p' > "$OUT/status_$1.txt"
    same_status=no
    cmp -s "$OUT/status_before.txt" "$OUT/status_$1.txt" && same_status=yes
    a=$(now_ns)
    "$CLI" results "$SWEEP" --format csv --timeout 120 > "$OUT/results_$1.csv" \
        2> "$OUT/results.err" || fail "hptune results after the restart failed"
    b=$(now_ns)
    same_results=no
    cmp -s "$OUT/results.csv" "$OUT/results_$1.csv" && same_results=yes
    RESTART_LINE="restart, $3: start to first status reply $START_MS ms; VmHWM $R_HWM,"
    RESTART_LINE="$RESTART_LINE VmRSS $R_RSS then; status identical: $same_status; first"
    RESTART_LINE="$RESTART_LINE results read $(( (b - a) / 1000000 )) ms, identical: $same_results"
}
stop_coord
cp "$TMP/journal.db" "$TMP/journal-old.db"
[ ! -f "$TMP/journal.db-wal" ] || cp "$TMP/journal.db-wal" "$TMP/journal-old.db-wal"
python3 -c 'import sqlite3, sys
db = sqlite3.connect(sys.argv[1]); db.execute("DELETE FROM sweep_summaries"); db.commit()' \
    "$TMP/journal-old.db" || fail "cannot strip the summaries from the journal copy"
start_coord "$TMP/journal.db"   # the restart_case below stops it first
restart_case old "$TMP/journal-old.db" "journal without summaries (rebuilt)"
RESTART_OLD=$RESTART_LINE
restart_case new "$TMP/journal.db" "journal with the sweep's summary (unloaded)"
RESTART_NEW=$RESTART_LINE

SAMPLES=$(wc -l < "$OUT/status_us.txt")
STATUS_STATS=$(sort -n "$OUT/status_us.txt" | awk '{ v[NR] = $1 } END {
    i = int(NR * 0.99 + 0.999); if (i < 1) i = 1; if (i > NR) i = NR;
    printf "max %.1f ms, p99 %.1f ms, median %.1f ms", v[NR] / 1000, v[i] / 1000,
           v[int((NR + 1) / 2)] / 1000 }')
SWEEP_S=$(awk -v a="$T0" -v b="$T1" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
RATE=$(awk -v n="$TASKS" -v a="$T0" -v b="$T1" 'BEGIN { printf "%.0f", n / ((b - a) / 1e9) }')

{
    echo "bench/scale.sh, $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "coordinator: --io-threads ${IO_THREADS:-default (2)}"
    echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1), $(getconf _NPROCESSORS_ONLN) cores (shared)"
    echo "sweep: random search, $TRIALS trials x $FOLDS folds = $TASKS tasks; $WORKERS dry-run workers x $SLOTS slots"
    echo "sweep wall time (launch to done, as seen by polling status): $SWEEP_S s ($RATE tasks/s)"
    echo "hptune status latency during the run ($SAMPLES samples, CLI start included): $STATUS_STATS"
    echo "status request round trip on an open connection (status-probe every 50 ms): $PROBE_STATS"
    echo "hptune results --format csv, all $ROWS trials (CLI start included): $RESULTS_MS ms"
    echo "coordinator peak RSS (VmHWM after the results read): $HWM"
    echo "$RESTART_OLD"
    echo "$RESTART_NEW"
} | tee "$REPORT"
echo "(report: $REPORT; samples: $OUT/status_us.txt)"
