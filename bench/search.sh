#!/bin/sh
# search.sh: search quality against trials and epochs.  On mnist-10k, 3-fold
# stratified CV, six hyperparameters (optimizer, learning_rate, batch_size,
# units, dropout, activation; bench/search_space.py), each method runs as a
# real hptune sweep (a coordinator and 2 workers x 1 slot on this machine,
# started and stopped here): grid (the full 144-configuration grid, the
# reference), random, bayes (TPE) and coordinate with a budget of 30 % of the
# grid's trials, asha (epochs are its budget); and Optuna 3.1's TPESampler
# through `hptune train --fold K/3` on the same folds.  Median over seeds of
# the best mean CV accuracy reached against trials and against epochs
# trained; then the TPE suggestion cost (bench/search_cost.sh).
# See bench/README.md.
#
# Usage: bench/search.sh [--quick] [--seeds N] [--epochs N] [--budget N]
#                        [--asha-configs N] [--methods LIST] [--no-optuna]
#                        [--no-cost] [--out DIR] [--keep] [--no-build]
#                        [--dataset NAME]
#   --quick           smoke check, about 1-2 minutes: 1 seed, 2 epochs, a
#                     12-trial budget, asha 12 configurations (eta 2), the
#                     cost benchmark at 2,000 trials only (options given
#                     explicitly still apply)
#   --seeds N         seeds 1..N: the spec's seed (hptune), TPESampler(seed)
#                     (Optuna) [5]
#   --epochs N        epochs of every trial but asha's; asha's max_epochs [6]
#   --budget N        trials of random, bayes, coordinate, Optuna
#                     [30 % of the grid: 43]
#   --asha-configs N  asha's budget.max_trials (new configurations) [72]
#   --methods LIST    hptune methods [grid,random,bayes,coordinate,asha];
#                     also bayes-seq: bayes with budget.max_parallel 1
#   --no-optuna       skip the Optuna peer
#   --no-cost         skip bench/search_cost.sh at the end
#   --out DIR         outputs [bench/out/search]
#   --keep            keep the temp dir (journal, daemon logs, specs)
#   --no-build        do not run ninja on the binaries first
#   --dataset NAME    the data set [mnist-10k]; bench/search_tpe.sh measures
#                     its table on the full mnist with --methods grid
# Environment: BUILD_DIR (default build), PYTHON (default /usr/bin/python3,
# with Debian's python3-optuna), DATA_DIR (default data; must hold the data set),
# TMPDIR.  Exit status: 0 everything ran (targets met or not; asha skipped
# when this build refuses it), 1 something failed to run, 2 bad option.
set -eu

cd "$(dirname "$0")/.."
. bench/record.sh
case " $* " in
    *" --quick "*|*" -h "*|*" --help "*) ;;
    *) record_report search bench/search.sh "$@" ;;
esac
BUILD_DIR=${BUILD_DIR:-build}
PYTHON=${PYTHON:-/usr/bin/python3}
DATA_DIR=${DATA_DIR:-data}
QUICK=0 SEEDS="" EPOCHS="" BUDGET="" ASHA_CONFIGS="" ASHA_ETA=3
METHODS=grid,random,bayes,coordinate,asha
OPTUNA=1 COST=1 KEEP=0 BUILD=1 OUT=bench/out/search DATASET=mnist-10k

posint() {
    case "${2:-}" in ''|*[!0-9]*|0) echo "search.sh: $1 needs a positive integer" >&2; exit 2 ;; esac
}
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=1 ;;
        --seeds) posint "$1" "${2:-}"; SEEDS=$2; shift ;;
        --epochs) posint "$1" "${2:-}"; EPOCHS=$2; shift ;;
        --budget) posint "$1" "${2:-}"; BUDGET=$2; shift ;;
        --asha-configs) posint "$1" "${2:-}"; ASHA_CONFIGS=$2; shift ;;
        --methods) [ $# -ge 2 ] || { echo "search.sh: --methods needs a list" >&2; exit 2; }
                   METHODS=$2; shift ;;
        --no-optuna) OPTUNA=0 ;;
        --no-cost) COST=0 ;;
        --out) [ $# -ge 2 ] || { echo "search.sh: --out needs a directory" >&2; exit 2; }
               OUT=$2; shift ;;
        --keep) KEEP=1 ;;
        --no-build) BUILD=0 ;;
        --dataset) case "${2:-}" in mnist|mnist-10k|fashion-mnist) ;;
                       *) echo "search.sh: --dataset must be mnist, mnist-10k or fashion-mnist" >&2; exit 2 ;;
                   esac
                   DATASET=$2; shift ;;
        -h|--help) sed -n '2,40p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "search.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
    esac
    shift
done
for m in $(echo "$METHODS" | tr ',' ' '); do
    case "$m" in grid|random|bayes|bayes-seq|coordinate|asha) ;;
        *) echo "search.sh: --methods: unknown method '$m' (allowed: grid, random, bayes, bayes-seq, coordinate, asha)" >&2; exit 2 ;;
    esac
done
# --quick changes the defaults; options given explicitly still win.
if [ "$QUICK" = 1 ]; then
    [ -n "$SEEDS" ] || SEEDS=1
    [ -n "$EPOCHS" ] || EPOCHS=2
    [ -n "$BUDGET" ] || BUDGET=12
    [ -n "$ASHA_CONFIGS" ] || ASHA_CONFIGS=12
    ASHA_ETA=2
fi
[ -n "$SEEDS" ] || SEEDS=5
[ -n "$EPOCHS" ] || EPOCHS=6
# bench/search_space.py (and so every spec and Optuna's objective) reads it.
export HPT_SEARCH_DATASET=$DATASET
GRID=$(cd bench && "$PYTHON" -c 'import search_space; print(search_space.grid_size())')
[ -n "$BUDGET" ] || BUDGET=$((GRID * 3 / 10))
[ -n "$ASHA_CONFIGS" ] || ASHA_CONFIGS=$((GRID / 2))
ASHA_MIN=$((EPOCHS / ASHA_ETA)); [ "$ASHA_MIN" -ge 1 ] || ASHA_MIN=1
SEED_LIST=$(seq -s, 1 "$SEEDS")

COORD=$BUILD_DIR/coordinator/hptune-coordinator
WORKER=$BUILD_DIR/worker/hptune-worker
CLI=$BUILD_DIR/coordinator/cli/hptune
mkdir -p "$OUT"
rm -rf "$OUT/runs" "$OUT"/*.log "$OUT"/records.jsonl "$OUT"/results.json "$OUT"/*.csv \
    "$OUT"/*.svg

if [ "$BUILD" = 1 ] && [ -f "$BUILD_DIR/build.ninja" ] && command -v ninja >/dev/null 2>&1; then
    targets="coordinator/hptune-coordinator worker/hptune-worker coordinator/cli/hptune"
    [ "$COST" = 0 ] || ! grep -q '^build bench/search_cost:' "$BUILD_DIR/build.ninja" ||
        targets="$targets bench/search_cost"
    # shellcheck disable=SC2086
    if ! ninja -C "$BUILD_DIR" $targets > "$OUT/build.log" 2>&1; then
        echo "search.sh: building in $BUILD_DIR failed (see $OUT/build.log)" >&2
        exit 1
    fi
fi
for b in "$COORD" "$WORKER" "$CLI"; do
    if [ ! -x "$b" ]; then
        echo "search.sh: $b not found; build first (meson setup $BUILD_DIR -Dbench=true && ninja -C $BUILD_DIR)" >&2
        exit 1
    fi
done
if [ ! -d "$DATA_DIR/$DATASET" ]; then
    echo "search.sh: $DATA_DIR/$DATASET not found; run deploy/fetch-data.sh" >&2
    exit 1
fi
if [ "$OPTUNA" = 1 ] && ! "$PYTHON" -c 'import optuna' 2>/dev/null; then
    echo "search.sh: $PYTHON cannot import optuna (apt-get install python3-optuna, or --no-optuna)" >&2
    exit 1
fi

# One BLAS thread per training run: two tasks at a time on the two cores.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1

TMP=$(mktemp -d "${TMPDIR:-/tmp}/hptune-search.XXXXXX")
PIDS=""
stop_daemons() {
    for p in $PIDS; do kill -TERM "$p" 2>/dev/null || true; done
    for p in $PIDS; do wait "$p" 2>/dev/null || true; done
    PIDS=""
}
cleanup() {
    stop_daemons
    if [ "$KEEP" = 1 ]; then echo "(kept $TMP)" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
DAEMON_LIST=""    # name:pid ...
fail() {
    echo "search.sh: $*" >&2
    # How each daemon that is gone ended (wait reaps it and gives its status).
    for d in $DAEMON_LIST; do
        p=${d#*:}
        kill -0 "$p" 2>/dev/null && continue
        st=0
        wait "$p" 2>/dev/null || st=$?
        if [ "$st" -gt 128 ]; then
            echo "search.sh: ${d%%:*} (pid $p) was killed by signal $((st - 128))" >&2
        else
            echo "search.sh: ${d%%:*} (pid $p) exited with status $st" >&2
        fi
    done
    for f in "$TMP"/*.log; do
        [ -s "$f" ] || continue
        echo "--- last lines of $f" >&2
        tail -n 6 "$f" >&2
    done
    # stderr repeats the log lines; show only what is not one (a crash, a
    # sanitizer report, a message from before the log file was opened).
    for f in "$TMP"/*.stderr; do
        [ -s "$f" ] || continue
        if grep -qv '^ts=' "$f"; then
            echo "--- $f (other than log lines)" >&2
            grep -v '^ts=' "$f" | tail -n 20 >&2
        fi
    done
    exit 1
}

T_START=$(date +%s)
echo "hptune search benchmark: grid / random / bayes / coordinate / asha sweeps and Optuna TPE"
echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1), $(getconf _NPROCESSORS_ONLN) cores;" \
     "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "space: bench/search_space.py ($GRID-configuration grid), $EPOCHS epochs, budget $BUDGET trials," \
     "asha $ASHA_CONFIGS configurations (min_epochs $ASHA_MIN, max_epochs $EPOCHS, eta $ASHA_ETA)," \
     "seeds $SEED_LIST$([ "$QUICK" = 0 ] || echo ' (--quick)')"
echo

# --- the cluster: a coordinator and 2 workers x 1 slot, on a free port
PORT=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
HPTUNE_COORDINATOR="tcp://127.0.0.1:$PORT"
export HPTUNE_COORDINATOR
"$COORD" --bind "$HPTUNE_COORDINATOR" --db "$TMP/journal.db" --data-dir "$DATA_DIR" \
    --log-file "$TMP/coordinator.log" 2> "$TMP/coordinator.stderr" &
CPID=$!
PIDS="$CPID"
DAEMON_LIST="coordinator:$CPID"
for i in 1 2; do
    "$WORKER" --coordinator "$HPTUNE_COORDINATOR" --slots 1 --data-dir "$DATA_DIR" \
        --dataset "$DATASET" --name "w$i" --log-file "$TMP/worker$i.log" 2> "$TMP/worker$i.stderr" &
    PIDS="$PIDS $!"
    DAEMON_LIST="$DAEMON_LIST worker$i:$!"
done
DAEMONS=""
for d in $DAEMON_LIST; do DAEMONS="$DAEMONS --daemon $d"; done
n=0
while :; do
    got=$("$CLI" status --timeout 1 2>/dev/null |
          sed -n 's/^workers: \([0-9]*\) connected, [0-9]*\/\([0-9]*\) slots.*/\1 \2/p' || true)
    [ "$got" = "2 2" ] && break
    n=$((n + 1))
    [ "$n" -le 150 ] || fail "the coordinator or the workers did not come up within 30 s"
    for p in $PIDS; do kill -0 "$p" 2>/dev/null || fail "a daemon exited at start-up"; done
    sleep 0.2
done
echo "cluster up on $HPTUNE_COORDINATOR (2 workers x 1 slot); running the sweeps ..." >&2

RECORDS=$OUT/records.jsonl
: > "$RECORDS"
# Exit 1: some method failed (said on stderr; the others ran): report what
# there is and exit 1 at the end.  Anything else: the cluster broke.
RC=0
# shellcheck disable=SC2086
"$PYTHON" bench/search_hptune.py --cli "$CLI" --db "$TMP/journal.db" --tmp "$TMP" \
    --out "$OUT" --records "$RECORDS" $DAEMONS --methods "$METHODS" --seeds "$SEED_LIST" \
    --epochs "$EPOCHS" --budget "$BUDGET" --asha-configs "$ASHA_CONFIGS" \
    --asha-min "$ASHA_MIN" --asha-eta "$ASHA_ETA" || RC=$?
case "$RC" in
    0) ;;
    1) echo "search.sh: some hptune sweeps failed (above); the report covers the rest" >&2 ;;
    *) fail "the hptune sweeps stopped (exit $RC)" ;;
esac
stop_daemons
for f in "$TMP"/*.log; do cp "$f" "$OUT/"; done

if [ "$OPTUNA" = 1 ]; then
    echo "Optuna TPESampler via hptune train ..." >&2
    "$PYTHON" bench/search_optuna.py --cli "$CLI" --data-dir "$DATA_DIR" --records "$RECORDS" \
        --out "$OUT" --seeds "$SEED_LIST" --trials "$BUDGET" --epochs "$EPOCHS" ||
        fail "the Optuna peer failed"
fi

CONFIG=$(printf '{"dataset": "%s", "folds": 3, "grid_trials": %d, "budget": %d, "epochs": %d, "seeds": [%s], "asha": {"configs": %d, "min_epochs": %d, "max_epochs": %d, "eta": %d}, "quick": %s, "workers": "2 x 1 slot", "build_dir": "%s", "load_at_start": "%s"}' \
    "$DATASET" "$GRID" "$BUDGET" "$EPOCHS" "$SEED_LIST" "$ASHA_CONFIGS" "$ASHA_MIN" "$EPOCHS" "$ASHA_ETA" \
    "$([ "$QUICK" = 1 ] && echo true || echo false)" "$BUILD_DIR" "$(cut -d' ' -f1-3 /proc/loadavg)")
echo
"$PYTHON" bench/search_report.py --records "$RECORDS" --out "$OUT" --config "$CONFIG" ||
    fail "the report failed"
echo
echo "search quality part: $(( $(date +%s) - T_START )) s; load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

if [ "$COST" = 1 ]; then
    echo
    echo "=== TPE suggestion cost (bench/search_cost.sh) ==="
    if [ "$QUICK" = 1 ]; then
        set -- --no-build --sizes 2000 --suggest 20 --optuna-trials 3
    else
        set -- --no-build
    fi
    HPT_BENCH_RECORDING=1 BUILD_DIR=$BUILD_DIR PYTHON=$PYTHON bench/search_cost.sh "$@" ||
        fail "bench/search_cost.sh failed"
fi
if [ "$RC" != 0 ]; then
    echo "search.sh: some hptune sweeps failed (see above and $OUT/*.log)" >&2
    exit 1
fi
exit 0
