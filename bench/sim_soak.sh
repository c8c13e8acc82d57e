#!/bin/sh
# sim_soak.sh: the simulator's nightly-length run.  Runs hptune-sim on random
# seeds (every fault family in turn) for SECONDS of wall-clock time (default
# 3600, an hour) and appends its report to bench/results/sim-soak-<date>.txt:
# the first seed (which replays the run), the seeds run, the failures, the
# simulated events and events per second.  A failing seed's replay command
# and last steps are kept in bench/out/sim-soak/ and the script exits 1.
#
# Usage: bench/sim_soak.sh [SECONDS]
# Environment: BUILD_DIR (default build), SIM_CPU (pin to this CPU).
set -eu
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
SECONDS_=${1:-3600}
case "$SECONDS_" in ''|*[!0-9]*|0) echo "sim_soak.sh: SECONDS must be a positive number" >&2; exit 2 ;; esac
ninja -C "$BUILD_DIR" tests/sim/hptune-sim >/dev/null
mkdir -p bench/results bench/out/sim-soak
out=bench/results/sim-soak-$(date -u +%Y-%m-%d).txt
log=bench/out/sim-soak/run.log
pin=""
[ -z "${SIM_CPU:-}" ] || pin="taskset -c $SIM_CPU"
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
rc=0
$pin "$BUILD_DIR/tests/sim/hptune-sim" --random-for "$SECONDS_" >"$log" 2>&1 || rc=$?
{
    echo "# bench/sim_soak.sh $started to $(date -u +%Y-%m-%dT%H:%M:%SZ) commit $(git rev-parse --short HEAD)"
    echo "# $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); ${SECONDS_} s of random seeds, every family in turn${SIM_CPU:+, pinned to CPU $SIM_CPU}"
    echo "# hptune-sim exit status $rc (0: every invariant held for every seed)"
    grep '^hptune-sim:' "$log" || echo "no report: see $log"
} >>"$out"
tail -4 "$out"
exit $((rc != 0))
