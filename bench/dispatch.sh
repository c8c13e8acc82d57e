#!/bin/sh
# dispatch.sh: coordinator overhead with workers that do no training.  A fresh
# coordinator (journal in a temp dir; it is always durable: WAL,
# synchronous=FULL, one commit per loop turn) and 2 `hptune-worker --dry-run
# --dataset mnist-10k` x 8 slots run a random-search sweep of 4000 trials x 5 CV
# folds = 20,000 tasks.  Measured: end-to-end tasks/s from `hptune launch`
# until the sweep is done (nothing subtracted) and p50/p99 dispatch latency
# (see bench/README.md for the definition), then, in the same run, Optuna's
# trials/s with SQLite storage and an empty objective (and with 3 random
# parameters), side by side with the ratio.  See bench/README.md.
#
# Usage: bench/dispatch.sh [--trials N] [--folds K] [--workers N] [--slots N]
#                          [--repeat N] [--optuna-trials N] [--no-optuna]
#                          [--perf] [--keep] [--no-build]
#   --trials N         trials in the hptune sweep [4000]; tasks = N x folds
#   --folds K          CV folds per trial [5]
#   --workers N, --slots N   dry-run workers and slots each [2, 8]
#   --repeat N         hptune runs, each on a fresh coordinator and journal; all
#                      are listed and the median (by tasks/s) is detailed [3]
#   --optuna-trials N  n_trials for each Optuna variant [1000]
#   --no-optuna        skip the Optuna peer (no ratio)
#   --perf             after the measured runs, one more run with the coordinator
#                      profiled (perf record --call-graph dwarf; perf stat of its
#                      fdatasync calls); prints the top symbols; perf.data goes
#                      to bench/out/dispatch/
#   --keep             keep the temp dir (journals, logs)
#   --no-build         do not run ninja on the three binaries first
# Environment: BUILD_DIR (default build), PYTHON (default /usr/bin/python3,
# which has Debian's python3-optuna), DATA_DIR (default data: the coordinator
# fingerprints mnist-10k from it, as a real one does), TMPDIR (where the journals
# go; keep it on a real disk, not tmpfs, or fsync is free).  Raw outputs go to
# bench/out/dispatch/.  Exit status: 0 everything ran (targets met or not),
# 1 something failed to run, 2 bad option.
set -eu

cd "$(dirname "$0")/.."
. bench/record.sh
case " $* " in
    *" --quick "*|*" -h "*|*" --help "*) ;;
    *) record_report dispatch bench/dispatch.sh "$@" ;;
esac
BUILD_DIR=${BUILD_DIR:-build}
PYTHON=${PYTHON:-/usr/bin/python3}
DATA_DIR=${DATA_DIR:-data}
TRIALS=4000
FOLDS=5
WORKERS=2
SLOTS=8
REPEAT=3
OPTUNA_TRIALS=1000
OPTUNA=1
PERF=0
KEEP=0
BUILD=1

need_arg() {
    if [ $# -lt 2 ]; then echo "dispatch.sh: $1 needs a value" >&2; exit 2; fi
    case "$2" in
        ''|*[!0-9]*|0) echo "dispatch.sh: $1: '$2' is not a positive integer" >&2; exit 2 ;;
    esac
}
while [ $# -gt 0 ]; do
    case "$1" in
        --trials) need_arg "$@"; TRIALS=$2; shift ;;
        --folds) need_arg "$@"; FOLDS=$2; shift ;;
        --workers) need_arg "$@"; WORKERS=$2; shift ;;
        --slots) need_arg "$@"; SLOTS=$2; shift ;;
        --repeat) need_arg "$@"; REPEAT=$2; shift ;;
        --optuna-trials) need_arg "$@"; OPTUNA_TRIALS=$2; shift ;;
        --no-optuna) OPTUNA=0 ;;
        --perf) PERF=1 ;;
        --keep) KEEP=1 ;;
        --no-build) BUILD=0 ;;
        -h|--help) sed -n '2,33p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "dispatch.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
    esac
    shift
done
if [ "$FOLDS" -lt 2 ]; then echo "dispatch.sh: --folds must be at least 2" >&2; exit 2; fi

COORD=$BUILD_DIR/coordinator/hptune-coordinator
WORKER=$BUILD_DIR/worker/hptune-worker
CLI=$BUILD_DIR/coordinator/cli/hptune
OUT=bench/out/dispatch
mkdir -p "$OUT"
rm -f "$OUT"/*.txt "$OUT"/*.err "$OUT"/*.log "$OUT"/*.csv "$OUT"/perf.data

if [ "$BUILD" = 1 ] && [ -f "$BUILD_DIR/build.ninja" ] && command -v ninja >/dev/null 2>&1; then
    if ! ninja -C "$BUILD_DIR" coordinator/hptune-coordinator worker/hptune-worker \
            coordinator/cli/hptune > "$OUT/build.log" 2>&1; then
        echo "dispatch.sh: building in $BUILD_DIR failed (see $OUT/build.log)" >&2
        exit 1
    fi
fi
for b in "$COORD" "$WORKER" "$CLI"; do
    if [ ! -x "$b" ]; then
        echo "dispatch.sh: $b not found; build first (meson setup $BUILD_DIR && ninja -C $BUILD_DIR)" >&2
        exit 1
    fi
done
if [ "$PERF" = 1 ] && ! command -v perf >/dev/null 2>&1; then
    echo "dispatch.sh: --perf needs perf (apt-get install linux-perf)" >&2
    exit 1
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/hptune-dispatch.XXXXXX")
PIDS=""
PERF_PIDS=""
cleanup() {
    for p in $PERF_PIDS; do kill -INT "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    for p in $PIDS; do kill -TERM "$p" 2>/dev/null || true; done
    for p in $PIDS; do wait "$p" 2>/dev/null || true; done
    PIDS=""
    if [ "$KEEP" = 1 ]; then echo "(kept $TMP)" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() {
    echo "dispatch.sh: $*" >&2
    for f in "$TMP"/*/*.log; do
        [ -f "$f" ] || continue
        echo "--- last lines of $f" >&2
        tail -n 5 "$f" >&2
    done
    exit 1
}

TASKS=$((TRIALS * FOLDS))
echo "hptune dispatch benchmark: $WORKERS dry-run workers x $SLOTS slots," \
     "$TRIALS trials x $FOLDS folds = $TASKS tasks, $REPEAT run(s)"
echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1), $(getconf _NPROCESSORS_ONLN) cores;" \
     "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
# CPU busy (all cores, %) over one second before we start anything.
BUSY_START=$( { head -n1 /proc/stat; sleep 1; head -n1 /proc/stat; } |
    awk '{ idle = $5 + $6; tot = 0; for (i = 2; i <= NF; i++) tot += $i;
           if (NR == 1) { i0 = idle; t0 = tot } else printf "%d", 100 * (1 - (idle - i0) / (tot - t0)) }')
echo "cpu busy before the start: $BUSY_START% (over 1 s, all cores)"
echo "journal: a fresh one per run in $TMP (WAL, synchronous=FULL, group commit)"
echo

cat > "$TMP/spec.yaml" <<SPEC
# bench/dispatch.sh: random search, $TRIALS trials x $FOLDS folds, no refit.
name: dispatch-bench
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

# Whether anything else ran during a run: the machine's busy CPU time
# (/proc/stat: user nice system, in clock ticks; interrupt time is left out,
# as no process is charged for it) minus our daemons' own (/proc/PID/stat
# utime + stime, all threads).
machine_ticks() {
    head -n1 /proc/stat | awk '{ print $2 + $3 + $4 }'
}
own_ticks() {
    for p in "$@"; do cat "/proc/$p/stat" 2>/dev/null || true; done |
        awk '{ t += $14 + $15 } END { print t + 0 }'
}

# run_once R: a fresh coordinator (new journal) and the dry-run workers; once
# all workers are registered, launch and poll `hptune status` every 0.25 s
# until the sweep is done (the times come from the journal, so the poll only
# has to notice the end; a faster one would take CPU from the coordinator);
# stop the daemons (the journal is then complete) and
# read the journal into $OUT/hptune-R.txt.
PERF_CPID=""
run_once() {
    r=$1
    dir=$TMP/run$r
    mkdir -p "$dir"
    port=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    HPTUNE_COORDINATOR="tcp://127.0.0.1:$port"
    export HPTUNE_COORDINATOR
    "$COORD" --bind "$HPTUNE_COORDINATOR" --db "$dir/journal.db" --data-dir "$DATA_DIR" \
        --log-file "$dir/coordinator.log" 2> "$dir/coordinator.stderr" &
    cpid=$!
    PIDS="$PIDS $cpid"
    i=1
    while [ "$i" -le "$WORKERS" ]; do
        "$WORKER" --coordinator "$HPTUNE_COORDINATOR" --slots "$SLOTS" --dry-run \
            --dataset mnist-10k --name "dry$i" --log-file "$dir/worker$i.log" \
            2> "$dir/worker$i.stderr" &
        PIDS="$PIDS $!"
        i=$((i + 1))
    done
    n=0
    while :; do
        got=$("$CLI" status --timeout 1 2>/dev/null |
              sed -n 's/^workers: \([0-9]*\) connected.*/\1/p' || true)
        [ "${got:-0}" -ge "$WORKERS" ] && break
        n=$((n + 1))
        [ "$n" -le 100 ] || fail "run $r: the coordinator or the workers did not come up within 20 s"
        kill -0 "$cpid" 2>/dev/null || fail "run $r: the coordinator exited"
        sleep 0.2
    done
    sleep 0.5   # let the machine settle after the daemons' start-up

    if [ "$r" = perf ]; then
        # DWARF unwinding: libsqlite3 and libzmq have no frame pointers.
        perf record --call-graph dwarf,16384 -F 499 -p "$cpid" -o "$TMP/perf.data" \
            > "$OUT/perf-record.log" 2>&1 &
        PERF_PIDS="$PERF_PIDS $!"
        # The journal commits (one fdatasync each in WAL mode) and WAL writes.
        perf stat -x, -e syscalls:sys_enter_fdatasync,syscalls:sys_enter_pwrite64 \
            -p "$cpid" -o "$OUT/perf-stat.csv" > /dev/null 2>&1 &
        PERF_PIDS="$PERF_PIDS $!"
        PERF_CPID=$cpid
        sleep 0.5
    fi

    echo "run $r: hptune, $TASKS tasks ..." >&2
    m0=$(machine_ticks) o0=$(own_ticks $PIDS)
    t0=$(date +%s.%N)
    id=$("$CLI" launch "$TMP/spec.yaml" 2> "$dir/launch.err") ||
        fail "run $r: hptune launch failed: $(cat "$dir/launch.err")"
    state=""
    while :; do
        state=$("$CLI" status "$id" 2>/dev/null | awk 'NR == 2 { print $3; exit }' || true)
        case "$state" in done|failed|cancelled) break ;; esac
        kill -0 "$cpid" 2>/dev/null || fail "run $r: the coordinator exited during the sweep"
        now=$(date +%s)
        [ $((now - ${t0%.*})) -lt 600 ] || fail "run $r: the sweep did not end within 600 s"
        sleep 0.25
    done
    t_seen=$(date +%s.%N)
    m1=$(machine_ticks) o1=$(own_ticks $PIDS)
    [ "$state" = done ] || fail "run $r: sweep $id ended $state"
    for p in $PERF_PIDS; do kill -INT "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    PERF_PIDS=""

    for p in $PIDS; do kill -TERM "$p" 2>/dev/null || true; done
    for p in $PIDS; do wait "$p" 2>/dev/null || true; done
    PIDS=""
    for f in "$dir"/*.log; do cp "$f" "$OUT/run$r-$(basename "$f")"; done
    "$PYTHON" bench/peers/dispatch_journal.py --db "$dir/journal.db" --sweep "$id" --t0 "$t0" \
        --slots "$SLOTS" > "$OUT/hptune-$r.txt" 2> "$OUT/hptune-$r.err" ||
        fail "run $r: reading the journal failed: $(cat "$OUT/hptune-$r.err")"
    echo "RESULT what=seen $(echo "$t_seen $t0 $(( (m1 - m0) - (o1 - o0) )) $(( o1 - o0 )) $(getconf CLK_TCK) $(getconf _NPROCESSORS_ONLN)" |
          awk '{ w = $1 - $2; d = $5 * $6 * w; o = $3 > 0 ? $3 : 0
                 printf "seen_s=%.4f other_cpu_pct=%.1f own_cpu_pct=%.1f", w, 100 * o / d, 100 * $4 / d }')" \
        >> "$OUT/hptune-$r.txt"
    [ "$KEEP" = 1 ] || rm -rf "$dir"
}

r=1
while [ "$r" -le "$REPEAT" ]; do
    run_once "$r"
    r=$((r + 1))
done
# The profile is taken on one more run, so that perf's overhead skews none of
# the measured ones.
if [ "$PERF" = 1 ]; then
    run_once perf
fi

# --- the peer -----------------------------------------------------------------
OPTUNA_OK=0
if [ "$OPTUNA" = 1 ]; then
    echo "Optuna, $OPTUNA_TRIALS trials x 2 variants ..." >&2
    if "$PYTHON" bench/peers/optuna_empty.py --trials "$OPTUNA_TRIALS" --dir "$TMP" \
            > "$OUT/optuna.txt" 2> "$OUT/optuna.err"; then
        OPTUNA_OK=1
    else
        rc=$?
        echo "dispatch.sh: the Optuna peer failed (exit $rc): $(tail -n 3 "$OUT/optuna.err")" >&2
    fi
fi

# --- the table ----------------------------------------------------------------
: > "$OUT/results.txt"
r=1
while [ "$r" -le "$REPEAT" ]; do
    sed "s/^RESULT /RESULT run=$r /" "$OUT/hptune-$r.txt" >> "$OUT/results.txt"
    r=$((r + 1))
done
grep '^RESULT ' "$OUT/optuna.txt" >> "$OUT/results.txt" 2>/dev/null || true
"$PYTHON" - "$OUT/results.txt" "$WORKERS" "$SLOTS" "$OPTUNA" <<'PY'
import os, sys
path, workers, slots, optuna_on = sys.argv[1:]
RUNS, OPT = {}, {}
for line in open(path):
    kv = dict(f.split("=", 1) for f in line.split()[1:])
    if "what" in kv:
        RUNS.setdefault(int(kv["run"]), {})[kv["what"]] = kv
    else:
        OPT[kv["variant"]] = kv
for run in RUNS.values():
    sw = run["sweep"]
    if int(sw["tasks"]) != int(sw["tasks_total"]):
        sys.exit("dispatch.sh: only %s of %s tasks done" % (sw["tasks"], sw["tasks_total"]))
    run["rate_v"] = int(sw["tasks"]) / float(run["times"]["e2e_s"])
order = sorted(RUNS, key=lambda k: RUNS[k]["rate_v"])
med = order[(len(order) - 1) // 2]     # the median run (the lower middle one of an even count)
R = RUNS[med]
def f(k, name):
    return float(R[k][name])
tasks, trials = int(R["sweep"]["tasks"]), int(R["sweep"]["trials"])
e2e = f("times", "e2e_s")
rate = tasks / e2e

if len(RUNS) > 1:
    print("hptune, every run (each on a fresh coordinator and journal)")
    print("  %-4s %9s %9s %9s %9s %9s %9s" % ("run", "seconds", "tasks/s", "p50 ms", "p99 ms",
                                           "own CPU", "other CPU"))
    for k in sorted(RUNS):
        x = RUNS[k]
        print("  %-4s %9.3f %9.0f %9.3f %9.3f %8.0f%% %8.0f%%%s" % (k, float(x["times"]["e2e_s"]),
              x["rate_v"], float(x["latency"]["p50_ms"]), float(x["latency"]["p99_ms"]),
              float(x["seen"]["own_cpu_pct"]), float(x["seen"]["other_cpu_pct"]),
              "   <- the median, below" if k == med else ""))
    print("  (own CPU: the coordinator and the workers, %% of the %d cores from launch until the"
          % os.cpu_count())
    print("  poll saw the end; other CPU: every other process, the polls included, which come")
    print("  to 3-6 %; above 10 %, the run had company)")
    print()
print("hptune: coordinator + %s workers x %s slots (--dry-run), journal durable%s"
      % (workers, slots, "; run %d, the median" % med if len(RUNS) > 1 else ""))
print("  %-46s %10d" % ("tasks done (trials x folds)", tasks))
print("  %-46s %10.3f s" % ("launch -> sweep done (end to end)", e2e))
print("  %-46s %10.3f s" % ("  launch -> first lease (submit, fingerprint)",
                            f("times", "launch_to_created_s") + f("times", "created_to_first_lease_s")))
print("  %-46s %10.3f s" % ("  first lease -> last result", f("times", "first_lease_to_last_result_s")))
print("  %-46s %10.3f s" % ("  (done seen by the 0.25 s status poll)", f("seen", "seen_s")))
print("  %-46s %10.0f tasks/s" % ("end-to-end throughput", rate))
print("  %-46s %10.0f trials/s" % ("  the same in trials", trials / e2e))
print("  %-46s %10.0f tasks/s" % ("steady state (first lease -> last result)",
                                  f("rate", "steady_tasks_per_s")))
print("  %-46s %9.0f%% / %.0f%%" % ("CPU of %d cores: coordinator+workers / others" % os.cpu_count(),
                                  f("seen", "own_cpu_pct"), f("seen", "other_cpu_pct")))
print()
print("  dispatch latency (ms): how long a slot stands empty between two tasks")
print("  %-32s %8s %8s %8s %8s %8s" % ("", "p50", "p90", "p99", "max", "mean"))
for key, label in (("latency", "slot idle = dispatch latency"),
                   ("roundtrip", "  Assign -> Result processed"),
                   ("turnaround", "  Result -> next Assign")):
    x = R[key]
    print("  %-32s %8.3f %8.3f %8.3f %8.3f %8.3f" % (label, float(x["p50_ms"]), float(x["p90_ms"]),
          float(x["p99_ms"]), float(x["max_ms"]), float(x["mean_ms"])))
print("  (%s tasks; each worker's first %s leases fill initially free slots and are not counted)"
      % (R["latency"]["n"], slots))
print()
if optuna_on == "1":
    ver = next(iter(OPT.values()))["version"] if OPT else "?"
    print("Optuna %s, SQLite storage (a fresh file each), n_jobs=1, study.optimize() timed" % ver)
    if not OPT:
        print("  (the Optuna peer did not run; see bench/out/dispatch/optuna.err)")
    print("  %-40s %8s %9s %10s %10s" % ("", "trials", "seconds", "trials/s", "other CPU"))
    for v, label in (("empty", "empty objective"), ("random3", "3 parameters, RandomSampler"),
                     ("tpe3", "3 parameters, TPESampler")):
        if v in OPT:
            print("  %-40s %8d %9.3f %10.1f %9.0f%%" % (label, int(OPT[v]["trials"]),
                  float(OPT[v]["seconds"]), float(OPT[v]["trials_per_s"]),
                  float(OPT[v].get("other_cpu_pct", "nan"))))
    print()
    if OPT:
        print("side by side: hptune tasks/s (end to end) against Optuna trials/s")
        print("  %-46s %10s %12s %8s" % ("", "hptune", "Optuna", "ratio"))
        for v, label in (("empty", "vs the empty objective"), ("random3", "vs 3 random parameters")):
            if v in OPT:
                o = float(OPT[v]["trials_per_s"])
                print("  %-46s %10.0f %12.1f %7.0fx" % (label, rate, o, rate / o))
        if "empty" in OPT:
            o = float(OPT["empty"]["trials_per_s"])
            print("  %-46s %10.0f %12.1f %7.0fx" % ("  counted in trials (a trial = %d tasks)"
                  % (tasks // trials), trials / e2e, o, trials / e2e / o))
        print()
# The status polls and this script's own commands alone come to 3-6 %.
worst = max(float(x["seen"]["other_cpu_pct"]) for x in RUNS.values())
if worst > 10:
    print("warning: other processes took up to %.0f%% of the CPU during an hptune run: skewed"
          % worst)
    print()
worst = max([float(o.get("other_cpu_pct", 0)) for o in OPT.values()] or [0])
if worst > 5:
    print("warning: other processes took up to %.0f%% of the CPU while Optuna ran: skewed" % worst)
    print()
print("targets (from the issue), on the median run")
def mark(ok):
    return "met" if ok else "MISSED"
print("  %-62s %s" % (">= 5,000 tasks/s end to end: %.0f" % rate, mark(rate >= 5000)))
if "empty" in OPT:
    x = rate / float(OPT["empty"]["trials_per_s"])
    print("  %-62s %s" % (">= 50x Optuna's SQLite rate (empty objective): %.0fx" % x, mark(x >= 50)))
PY
echo
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg) (includes this benchmark's own processes)"
if [ "${BUSY_START:-0}" -ge 20 ]; then
    echo "warning: the machine was $BUSY_START% busy before the start; figures from a 2-core machine under load are skewed"
fi

if [ "$PERF" = 1 ] && [ -f "$TMP/perf.data" ]; then
    echo
    if [ -s "$OUT/perf-stat.csv" ]; then
        awk -F, -v tasks="$TASKS" '
            $3 ~ /fdatasync/ { printf "profiled run: journal commits (fdatasync): %d, %.1f tasks per commit\n", $1, tasks / ($1 > 0 ? $1 : 1) }
            $3 ~ /pwrite64/  { printf "profiled run: WAL page writes (pwrite64): %d, %.2f per task\n", $1, $1 / tasks }' \
            "$OUT/perf-stat.csv"
    fi
    echo "coordinator profile, the extra run (perf record --call-graph dwarf -p $PERF_CPID): on-CPU samples,"
    echo "inclusive (children), user-space symbols of the loop thread, top 25.  Time the loop"
    echo "spends blocked in fdatasync is off-CPU and not in these samples."
    perf report -i "$TMP/perf.data" --stdio --children --comm hptune-coordina --sort symbol \
        -g none 2> /dev/null | grep '%' | grep -v '\[k\]' | grep -v ' 0x0000' |
        sed 's/[[:space:]]*-[[:space:]]*-[[:space:]]*$//' | head -n 25 || true
    cp "$TMP/perf.data" "$OUT/perf.data" 2>/dev/null &&
        echo "(perf report -i $OUT/perf.data for the rest)"
fi
[ "$OPTUNA" = 0 ] || [ "$OPTUNA_OK" = 1 ] || exit 1
exit 0
