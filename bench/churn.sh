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
# Layouts: "split" pins the coordinator to the first CPU and the simulated
# workers and the probe to the others, as on a cluster, where the workers and
# the client are other machines; "shared" lets all of them share every CPU,
# so the 2,000 simulated workers (one busy process) take CPU time from the
# coordinator.  The default runs both, split first.
#
# --io-threads LIST runs each layout once per value in LIST (comma-separated:
# "1,2" measures one ZeroMQ I/O thread against two in the same session); the
# default runs the coordinator's default (2).
#
# Usage: bench/churn.sh [--workers N] [--trials N] [--layout split|shared|both]
#                       [--runs N] [--io-threads LIST]
#                       (defaults 2000, 40000 x 5 folds, both, 1, the default)
# Environment: BUILD_DIR (default build).  Exit status: 0 ran and the harness's
# checks held, 1 otherwise, 2 bad option.
set -eu
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
WORKERS=2000
TRIALS=40000
LAYOUTS="split shared"
RUNS=1
IO_LIST=default
while [ $# -gt 0 ]; do
    case "$1" in
    --workers) WORKERS=$2; shift 2 ;;
    --trials) TRIALS=$2; shift 2 ;;
    --layout)
        case "$2" in
        split|shared) LAYOUTS=$2 ;;
        both) LAYOUTS="split shared" ;;
        *) echo "churn.sh: --layout takes split, shared or both, not '$2'" >&2; exit 2 ;;
        esac
        shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --io-threads)
        case "$2" in
        ''|*[!0-9,]*) echo "churn.sh: --io-threads takes numbers separated by commas, not '$2'" >&2; exit 2 ;;
        esac
        IO_LIST=$(echo "$2" | tr ',' ' ')
        shift 2 ;;
    -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
    *) echo "churn.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
ninja -C "$BUILD_DIR" coordinator/hptune-coordinator coordinator/cli/hptune \
    tests/load/load-workers tests/load/status-probe >/dev/null
mkdir -p bench/results bench/out/churn
out=bench/results/churn-$(date -u +%Y-%m-%d).txt
log=bench/out/churn/run.log
case "$RUNS" in ''|*[!0-9]*|0) echo "churn.sh: --runs takes a positive number" >&2; exit 2 ;; esac
if [ "$LAYOUTS" != shared ] && [ "$(nproc)" -lt 2 ]; then
    echo "churn.sh: the split layout needs 2 CPUs; use --layout shared" >&2
    exit 2
fi
status=0
i=0
while [ "$i" -lt "$RUNS" ]; do
    i=$((i + 1))
    for layout in $LAYOUTS; do
    for io in $IO_LIST; do
        io_env=
        [ "$io" = default ] || io_env=$io
        load_start=$(cut -d' ' -f1-3 /proc/loadavg)
        rc=0
        HPT_BUILD=$PWD/$BUILD_DIR HPT_SRC=$PWD HPT_DATA=$PWD/data \
        HPT_LOAD_WORKERS=$PWD/$BUILD_DIR/tests/load/load-workers \
        HPT_STATUS_PROBE=$PWD/$BUILD_DIR/tests/load/status-probe \
        HPT_LOAD_WORKERS_N=$WORKERS HPT_LOAD_TRIALS=$TRIALS HPT_LOAD_LAYOUT=$layout \
        HPT_LOAD_IO_THREADS=$io_env \
            /usr/bin/python3 tests/load/test_load.py >"$log" 2>&1 || rc=$?
        [ "$rc" -eq 0 ] || status=1
        load_end=$(cut -d' ' -f1-3 /proc/loadavg)
        figures=$(grep '^LOAD-FIGURES' "$log" || true)
        {
            echo "# bench/churn.sh $(date -u +%Y-%m-%dT%H:%M:%SZ) commit $(git rev-parse --short HEAD) layout $layout io_threads $io"
            echo "# $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
            echo "# load average at start $load_start, at end $load_end; this run's nice $(nice), sched_autogroup $(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null || echo ?)"
            echo "# workers=$WORKERS trials=$TRIALS folds=5; 5 % of workers killed every 3 s"
            echo "# harness exit status $rc (0: every task accepted exactly once, p99 < 100 ms)"
            echo "${figures:-no figures: see $log}"
        } >"$out.run"
        cat "$out.run" >>"$out"
        cat "$out.run"
        [ "$rc" -eq 0 ] || cp "$log" "bench/out/churn/failed-$layout-io$io-$i.log"
    done
    done
done
rm -f "$out.run"
exit $status
