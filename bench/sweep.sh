#!/bin/sh
# sweep.sh: a grid search with real training as an hptune sweep, against
# scikit-learn's GridSearchCV(MLPClassifier, n_jobs=2) doing exactly the same
# work on the same data and the same folds, in the same run.  See
# bench/README.md ("Sweep against GridSearchCV").
#
#   --case full   the published blog grid, bench/specs/blog-grid.yaml:
#                 batch_size {32,64,512} x epochs {10,20,30} x units
#                 {8,16,32}, adam lr 0.001, 5-fold stratified shuffled CV,
#                 refit; MNIST's 60,000 training and 10,000 test digits
#   --case short  bench/specs/short-grid.yaml: batch_size {64,512} x epochs
#                 {1,2} x units {16,32} on the same data and folds
#
# hptune: a fresh coordinator and workers per round, up and registered
# before the clock; timed from `hptune launch` until `hptune results` has
# the finished sweep.  The peer (bench/peers/sklearn_gridsearch.py): float32,
# alpha=0, warm loky workers, the splits of hptune's own hpt_cv_split (via
# build/bench/folds), timed GridSearchCV.fit + the refit's test scoring.
# Both at one BLAS thread per process on 2 cores.  The single-thread sgemm
# peak is measured in the same run, for the FLOP limit of each side's work.
#
# Usage: bench/sweep.sh [--case full|short|both] [--spec FILE] [--repeat N]
#                       [--layouts 2x1[,1x2]] [--quick] [--no-sklearn]
#                       [--keep] [--no-build] [--fuse-max N]
#   --case C       full, short or both [both; short with --quick]
#   --spec FILE    the spec of the (single) case instead of bench/specs/'s
#   --repeat N     rounds of (hptune in each layout, scikit-learn); the
#                  summary compares medians [1]
#   --layouts L    hptune layouts, WORKERSxSLOTS, comma-separated [2x1]
#   --quick        SMOKE RUN: each epochs value replaced by its rank (10, 20,
#                  30 -> 1, 2, 3), the short case unless --case says
#                  otherwise; writes to bench/out/sweep/, never to
#                  bench/results/
#   --no-sklearn   skip the peer (no ratio)
#   --keep         keep the temp dir (journals, logs)
#   --no-build     do not run ninja on the binaries first
#   --fuse-max N   run the coordinator with --fuse-max N (bundles of up to N
#                  tasks per worker slot; 1: none) and record to
#                  sweep-<case>-fuse<N>-<date>.json, for an A/B of bundles
# Environment: BUILD_DIR (default build), PYTHON (default /usr/bin/python3,
# with Debian's python3-sklearn and python3-yaml), DATA_DIR (default data;
# must hold the spec's dataset), TMPDIR.  Writes
# bench/results/sweep-<case>-<YYYY-MM-DD>.json (sweep-<case>-<spec>-<date>
# with --spec; bench/out/sweep/ with --quick); raw outputs go to
# bench/out/sweep/<case>/.  Exit status: 0 everything ran (targets met or
# not, machine quiet or not: see the JSON's "valid"), 1 something failed to
# run, 2 bad option or spec.
set -eu

cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
PYTHON=${PYTHON:-/usr/bin/python3}
DATA_DIR=${DATA_DIR:-data}
# The exact command, with the environment it depends on, for the record.
CMDLINE="BUILD_DIR=$BUILD_DIR DATA_DIR=$DATA_DIR PYTHON=$PYTHON bench/sweep.sh $*"
CASES=""
SPEC_OVERRIDE=""
REPEAT=1
LAYOUTS=2x1
QUICK=0
SKLEARN=1
KEEP=0
BUILD=1
FUSE_MAX=""

while [ $# -gt 0 ]; do
    case "$1" in
        --case)
            case "${2:-}" in
                full|short) CASES=$2 ;;
                both) CASES="full short" ;;
                *) echo "sweep.sh: --case takes full, short or both" >&2; exit 2 ;;
            esac
            shift ;;
        --spec) [ $# -ge 2 ] || { echo "sweep.sh: --spec needs a file" >&2; exit 2; }
            SPEC_OVERRIDE=$2; shift ;;
        --repeat)
            case "${2:-}" in ''|*[!0-9]*|0) echo "sweep.sh: --repeat needs a positive integer" >&2; exit 2 ;; esac
            REPEAT=$2; shift ;;
        --layouts)
            case "${2:-}" in ''|*[!0-9x,]*) echo "sweep.sh: --layouts takes e.g. 2x1,1x2" >&2; exit 2 ;; esac
            LAYOUTS=$2; shift ;;
        --quick) QUICK=1 ;;
        --no-sklearn) SKLEARN=0 ;;
        --keep) KEEP=1 ;;
        --no-build) BUILD=0 ;;
        --fuse-max)
            case "${2:-}" in [1-9]|1[0-6]) ;; *) echo "sweep.sh: --fuse-max takes 1..16" >&2; exit 2 ;; esac
            FUSE_MAX=$2; shift ;;
        -h|--help) sed -n '2,47p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "sweep.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
    esac
    shift
done
# A smoke run checks the script: the short case alone unless asked.
if [ -z "$CASES" ]; then
    if [ "$QUICK" = 1 ]; then CASES=short; else CASES="full short"; fi
fi
if [ -n "$SPEC_OVERRIDE" ]; then
    [ "$CASES" != "full short" ] || { echo "sweep.sh: --spec needs --case full or --case short" >&2; exit 2; }
    [ -f "$SPEC_OVERRIDE" ] || { echo "sweep.sh: $SPEC_OVERRIDE: no such file" >&2; exit 2; }
fi

COORD=$BUILD_DIR/coordinator/hptune-coordinator
WORKER=$BUILD_DIR/worker/hptune-worker
CLI=$BUILD_DIR/coordinator/cli/hptune
FOLDS_BIN=$BUILD_DIR/bench/folds
TRAIN_BENCH=$BUILD_DIR/bench/train_bench
OUT=bench/out/sweep
mkdir -p "$OUT"

if [ "$BUILD" = 1 ] && [ -f "$BUILD_DIR/build.ninja" ] && command -v ninja >/dev/null 2>&1; then
    if ! ninja -C "$BUILD_DIR" -j2 coordinator/hptune-coordinator worker/hptune-worker \
            coordinator/cli/hptune bench/folds bench/train_bench > "$OUT/build.log" 2>&1; then
        echo "sweep.sh: building in $BUILD_DIR failed (see $OUT/build.log)" >&2
        exit 1
    fi
fi
for b in "$COORD" "$WORKER" "$CLI" "$FOLDS_BIN" "$TRAIN_BENCH"; do
    if [ ! -x "$b" ]; then
        echo "sweep.sh: $b not found; build first (meson setup $BUILD_DIR && ninja -C $BUILD_DIR)" >&2
        exit 1
    fi
done
"$PYTHON" -c 'import yaml' 2>/dev/null ||
    { echo "sweep.sh: $PYTHON has no PyYAML (apt-get install python3-yaml)" >&2; exit 1; }
if [ "$SKLEARN" = 1 ]; then
    "$PYTHON" -c 'import sklearn' 2>/dev/null ||
        { echo "sweep.sh: $PYTHON has no scikit-learn (apt-get install python3-sklearn), or use --no-sklearn" >&2; exit 1; }
fi

# One BLAS thread per process everywhere: hptune's tasks train with one
# thread anyway; numpy in scikit-learn's two joblib workers would otherwise
# each start one thread per core.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1

TMP=$(mktemp -d "${TMPDIR:-/tmp}/hptune-sweep.XXXXXX")
PIDS=""
LPID=""      # the `hptune logs -f` follower while a sweep runs
# shellcheck disable=SC2317  # called from the traps
stop_daemons() {
    for p in $PIDS; do kill -TERM "$p" 2>/dev/null || true; done
    for p in $PIDS; do wait "$p" 2>/dev/null || true; done
    PIDS=""
}
# shellcheck disable=SC2317  # called from the traps
cleanup() {
    if [ -n "$LPID" ]; then kill "$LPID" 2>/dev/null || true; wait "$LPID" 2>/dev/null || true; fi
    stop_daemons
    if [ "$KEEP" = 1 ]; then echo "(kept $TMP)" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() {
    echo "sweep.sh: $*" >&2
    for f in "$TMP"/*/*.log; do
        [ -f "$f" ] || continue
        echo "--- last lines of $f" >&2
        tail -n 5 "$f" >&2
    done
    exit 1
}

CPU_MODEL=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
GIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD 2>/dev/null || GIT="$GIT+dirty"
[ "$QUICK" = 1 ] && echo "*** SMOKE RUN (--quick): epochs cut to their ranks; not a benchmark ***"
echo "hptune sweep benchmark: case(s) $CASES, layouts $LAYOUTS, $REPEAT round(s); tree $GIT"
echo "cpu: $CPU_MODEL, $(getconf _NPROCESSORS_ONLN) cores; load average at start: $LOAD_START"
# CPU busy (all cores, %) over one second before we start anything.
BUSY_START=$( { head -n1 /proc/stat; sleep 1; head -n1 /proc/stat; } |
    awk '{ idle = $5 + $6; tot = 0; for (i = 2; i <= NF; i++) tot += $i;
           if (NR == 1) { i0 = idle; t0 = tot } else printf "%d", 100 * (1 - (idle - i0) / (tot - t0)) }')
echo "cpu busy before the start: $BUSY_START% (over 1 s, all cores)"

# The physical limit: the single-thread sgemm peak of this machine, now.
echo "measuring the single-thread sgemm peak ..." >&2
"$TRAIN_BENCH" --data-dir "$DATA_DIR" --dataset mnist --no-throughput --no-accuracy \
    --batches 512 > "$OUT/sgemm.txt" 2>&1 || fail "train_bench (sgemm peak) failed: $(tail -n 3 "$OUT/sgemm.txt")"
PEAK=$(sed -n 's/^RESULT impl=hptune kind=sgemm_peak gflops=\([0-9.]*\).*/\1/p' "$OUT/sgemm.txt")
OPENBLAS=$(sed -n 's/^hptune train_bench: OpenBLAS \(.*\), [0-9]* thread$/\1/p' "$OUT/sgemm.txt")
[ -n "$PEAK" ] || fail "no sgemm peak in $OUT/sgemm.txt"
echo "single-thread sgemm peak: $PEAK GFLOP/s ($OPENBLAS)"
echo

# Whether anything else ran during a timed section: the machine's busy CPU
# time (/proc/stat: user nice system, in clock ticks; interrupt time is left
# out, as no process is charged for it) minus our daemons' own
# (/proc/PID/stat utime + stime, all threads).
machine_ticks() {
    head -n1 /proc/stat | awk '{ print $2 + $3 + $4 }'
}
own_ticks() {
    for p in "$@"; do cat "/proc/$p/stat" 2>/dev/null || true; done |
        awk '{ t += $14 + $15 } END { print t + 0 }'
}

# run_hptune ROUND LAYOUT: a fresh coordinator and W x S workers (LAYOUT is
# WxS); once all are registered (data loaded), time launch -> results.
# Writes $COUT/hptune-LAYOUT-ROUND.json (`hptune results --format json`) and
# appends a RESULT line to $COUT/results.txt.
run_hptune() {
    round=$1 label=$2
    nw=${label%x*} ns=${label#*x}
    dir=$TMP/$CASE-$label-$round
    mkdir -p "$dir"
    port=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    HPTUNE_COORDINATOR="tcp://127.0.0.1:$port"
    export HPTUNE_COORDINATOR
    echo "$CASE, round $round: hptune, $nw worker(s) x $ns slot(s) ..." >&2
    # shellcheck disable=SC2086  # FUSE_MAX: none, or the option and its value
    "$COORD" --bind "$HPTUNE_COORDINATOR" --db "$dir/journal.db" --data-dir "$DATA_DIR" \
        --log-file "$dir/coordinator.log" ${FUSE_MAX:+--fuse-max $FUSE_MAX} \
        2> "$dir/coordinator.stderr" &
    cpid=$!
    PIDS="$PIDS $cpid"
    i=1
    while [ "$i" -le "$nw" ]; do
        "$WORKER" --coordinator "$HPTUNE_COORDINATOR" --slots "$ns" --data-dir "$DATA_DIR" \
            --dataset "$DATASET" --name "w$i" --log-file "$dir/worker$i.log" 2> "$dir/worker$i.stderr" &
        PIDS="$PIDS $!"
        i=$((i + 1))
    done
    n=0
    while :; do
        got=$("$CLI" status --timeout 1 2>/dev/null |
              sed -n 's/^workers: \([0-9]*\) connected, [0-9]*\/\([0-9]*\) slots.*/\1 \2/p' || true)
        [ "$got" = "$nw $((nw * ns))" ] && break
        n=$((n + 1))
        [ "$n" -le 300 ] || fail "$label: the coordinator or the workers did not come up within 60 s"
        kill -0 "$cpid" 2>/dev/null || fail "$label: the coordinator exited"
        sleep 0.2
    done
    sleep 1     # let the machine settle after the daemons' start-up

    # Launch, follow the sweep's events (`hptune logs -f`: pushed by the
    # coordinator, no polling) until "sweep finished", then fetch the results.
    rm -f "$dir/events"
    mkfifo "$dir/events"
    # shellcheck disable=SC2086  # PIDS is a list
    m0=$(machine_ticks) o0=$(own_ticks $PIDS)
    t0=$(date +%s.%N)
    id=$("$CLI" launch "$SPEC" 2> "$dir/launch.err") ||
        fail "$label: hptune launch failed: $(cat "$dir/launch.err")"
    # timeout(1) is the watchdog: should the sweep never end, the follower
    # is stopped after 3 hours and the read below sees the end of the FIFO.
    timeout 10800 "$CLI" logs -f --sweep "$id" > "$dir/events" 2> "$dir/logs.err" &
    LPID=$!
    state=""
    while IFS= read -r line; do
        case "$line" in
            *'msg="sweep finished"'*)
                state=$(echo "$line" | sed -n 's/.* state=\([a-z]*\).*/\1/p')
                break ;;
        esac
    done < "$dir/events"
    kill "$LPID" 2>/dev/null || true
    wait "$LPID" 2>/dev/null || true
    LPID=""
    [ -n "$state" ] || fail "$label: no 'sweep finished' event (or \`hptune logs -f\` failed: $(cat "$dir/logs.err"))"
    [ "$state" = "done" ] || fail "$label: sweep $id ended $state"
    json=$COUT/hptune-$label-$round.json
    "$CLI" results "$id" --format json > "$json" 2> "$dir/results.err" ||
        fail "$label: hptune results failed: $(cat "$dir/results.err")"
    t1=$(date +%s.%N)
    # shellcheck disable=SC2086  # PIDS is a list
    m1=$(machine_ticks) o1=$(own_ticks $PIDS)
    "$CLI" results "$id" > "$COUT/hptune-$label-$round.txt" 2>&1 || true
    stop_daemons
    for f in "$dir"/*.log; do cp "$f" "$COUT/$label-$round-$(basename "$f")"; done
    echo "RESULT impl=hptune round=$round label=$label workers=$nw slots=$ns t0=$t0 t1=$t1 other_ticks=$(( (m1 - m0) - (o1 - o0) )) json=$json" \
        >> "$COUT/results.txt"
    [ "$KEEP" = 1 ] || rm -rf "$dir"
}

STATUS=0
DAY=$(date -u +%Y-%m-%d)
for CASE in $CASES; do
    case "$CASE" in
        full) SPEC0=bench/specs/blog-grid.yaml ;;
        short) SPEC0=bench/specs/short-grid.yaml ;;
    esac
    [ -z "$SPEC_OVERRIDE" ] || SPEC0=$SPEC_OVERRIDE
    COUT=$OUT/$CASE
    rm -rf "$COUT"
    mkdir -p "$COUT"
    WARN=""
    # The full case's spec is published twice; the two must be one sweep.
    AGREE=""
    if [ "$CASE" = full ] && [ -z "$SPEC_OVERRIDE" ] && [ -f deploy/examples/blog-grid.yaml ]; then
        if AGREE=$("$PYTHON" bench/sweep_report.py agree "$SPEC0" deploy/examples/blog-grid.yaml); then
            AGREE=yes
        else
            echo "WARNING: $AGREE" >&2
            WARN="$AGREE"
        fi
    fi
    if [ "$QUICK" = 1 ]; then
        SPEC=$COUT/spec-quick.yaml
        VARS=$("$PYTHON" bench/sweep_report.py spec "$SPEC0" --quick "$SPEC") || exit 2
        JSON=$OUT/sweep-$CASE-$DAY-quick.json
    else
        SPEC=$SPEC0
        VARS=$("$PYTHON" bench/sweep_report.py spec "$SPEC") || exit 2
        mkdir -p bench/results
        JSON=bench/results/sweep-$CASE-$DAY.json
        # Another spec's record must not replace the case's own.
        [ -z "$SPEC_OVERRIDE" ] ||
            JSON=bench/results/sweep-$CASE-$(basename "$SPEC_OVERRIDE" .yaml)-$DAY.json
        [ -z "$FUSE_MAX" ] || JSON=bench/results/sweep-$CASE-fuse$FUSE_MAX-$DAY.json
    fi
    eval "$VARS"
    [ -d "$DATA_DIR/$DATASET" ] || fail "$DATA_DIR/$DATASET not found; run deploy/fetch-data.sh"

    echo "== case $CASE: $SPEC ($N_CONFIGS configurations x $FOLDS folds + refit, dataset $DATASET)"
    {
        echo "RESULT impl=meta sgemm_gflops=$PEAK cores_used=2 busy_before_pct=$BUSY_START git=$GIT" \
             "cpu=$(echo "$CPU_MODEL" | tr ' ' '~') loadavg_start=$(echo "$LOAD_START" | tr ' ' '~')" \
             "openblas=$(echo "$OPENBLAS" | tr ' ' '~')"
        "$FOLDS_BIN" --dataset "$DATASET" --data-dir "$DATA_DIR" --folds "$FOLDS" --seed "$CV_SEED" \
            --stratified "$STRATIFIED" --shuffle "$SHUFFLE" --units "$UNITS" --no-folds
    } > "$COUT/results.txt" || fail "bench/folds failed"

    round=1
    while [ "$round" -le "$REPEAT" ]; do
        for layout in $(echo "$LAYOUTS" | tr ',' ' '); do
            case "$layout" in
                [1-9]x[1-9]|[1-9]x[1-9][0-9]|[1-9][0-9]x[1-9]) ;;
                *) echo "sweep.sh: bad layout '$layout' (WORKERSxSLOTS)" >&2; exit 2 ;;
            esac
            run_hptune "$round" "$layout"
        done
        if [ "$SKLEARN" = 1 ]; then
            echo "$CASE, round $round: scikit-learn GridSearchCV (n_jobs=2) ..." >&2
            if "$PYTHON" bench/peers/sklearn_gridsearch.py --spec "$SPEC" --data-dir "$DATA_DIR" \
                    --folds-bin "$FOLDS_BIN" > "$COUT/sklearn-$round.txt" 2> "$COUT/sklearn-$round.err"; then
                sed -n -e "s/^RESULT /RESULT round=$round /p" -e "s/^TRIAL /TRIAL round=$round /p" \
                    "$COUT/sklearn-$round.txt" >> "$COUT/results.txt"
                grep '^INFO ' "$COUT/sklearn-$round.txt" | grep -i 'worker' >&2 || true
            else
                rc=$?
                STATUS=1
                echo "sweep.sh: the scikit-learn peer failed (exit $rc): $(tail -n 3 "$COUT/sklearn-$round.err")" >&2
            fi
        fi
        round=$((round + 1))
    done

    set -- --case "$CASE" --spec "$SPEC" --command "$CMDLINE" \
        --loadavg-end "$(cut -d' ' -f1-3 /proc/loadavg)" --spec-agreement "${AGREE:-n/a}"
    [ "$QUICK" = 1 ] && set -- "$@" --quick
    [ -z "$WARN" ] || set -- "$@" --warning "$WARN"
    "$PYTHON" bench/sweep_report.py report "$COUT/results.txt" "$JSON" "$@" ||
        fail "the report failed"
    echo
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg) (includes this benchmark's own processes)"
exit "$STATUS"
