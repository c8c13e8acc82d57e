#!/bin/sh
# churn.sh: status latency under worker churn.  Runs the load harness
# (tests/load/test_load.py: a real coordinator, load-workers simulating N
# workers in one process with the real protocol, fake 0-5 ms results, 5 % of
# them killed without Goodbye every 3 s and respawned; status-probe timing a
# StatusRequest round trip every 50 ms) with 2,000 workers and a 200,000-task
# sweep, and records its figures: status p50/p90/p99/max, tasks/s, RSS, and
# that every task was accepted exactly once (the harness checks it).
# Each run's report is appended to bench/results/churn-<date>.txt (so a day's
# runs stay side by side; the latency moves with the machine's load).
#
# Usage: bench/churn.sh [--workers N] [--trials N]   (defaults 2000, 40000 x 5 folds)
# Environment: BUILD_DIR (default build).  Exit status: 0 ran and the harness's
# checks held, 1 otherwise, 2 bad option.
set -eu
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
WORKERS=2000
TRIALS=40000
while [ $# -gt 0 ]; do
    case "$1" in
    --workers) WORKERS=$2; shift 2 ;;
    --trials) TRIALS=$2; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "churn.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
ninja -C "$BUILD_DIR" coordinator/hptune-coordinator coordinator/cli/hptune \
    tests/load/load-workers tests/load/status-probe >/dev/null
mkdir -p bench/results bench/out/churn
out=bench/results/churn-$(date -u +%Y-%m-%d).txt
log=bench/out/churn/run.log
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
status=0
HPT_BUILD=$PWD/$BUILD_DIR HPT_SRC=$PWD HPT_DATA=$PWD/data \
HPT_LOAD_WORKERS=$PWD/$BUILD_DIR/tests/load/load-workers \
HPT_STATUS_PROBE=$PWD/$BUILD_DIR/tests/load/status-probe \
HPT_LOAD_WORKERS_N=$WORKERS HPT_LOAD_TRIALS=$TRIALS \
    /usr/bin/python3 tests/load/test_load.py >"$log" 2>&1 || status=$?
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
figures=$(grep '^LOAD-FIGURES' "$log" || true)
{
    echo "# bench/churn.sh $(date -u +%Y-%m-%dT%H:%M:%SZ) commit $(git rev-parse --short HEAD)"
    echo "# $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
    echo "# load average at start $load_start, at end $load_end"
    echo "# workers=$WORKERS trials=$TRIALS folds=5; 5 % of workers killed every 3 s"
    echo "# harness exit status $status (0: every task accepted exactly once, p99 < 100 ms)"
    echo "${figures:-no figures: see $log}"
} >"$out.run"
cat "$out.run" >>"$out"
cat "$out.run"
rm -f "$out.run"
exit $status
