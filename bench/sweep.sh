#!/bin/sh
# sweep.sh: the blog grid on the small set (bench/blog-grid-10k.yaml: batch_size
# {32,64,512} x epochs {2,4,6} x units {8,16,32}, adam, 5-fold stratified CV,
# refit; 135 fits + 1 refit on mnist-10k's 8,000 MNIST digits; the quickstart's
# grid before mnist became the full MNIST) as an hptune sweep with real
# training, against scikit-learn's GridSearchCV(MLPClassifier, n_jobs=2) on
# the same data, in the same run.  hptune runs in two layouts, each time on a
# fresh coordinator whose workers are up and registered before the clock
# starts: 2 workers x 1 slot (the quickstart's) and 1 worker x 2 slots.
# Timed: `hptune launch` until `hptune results` has the finished sweep.
# See bench/README.md.
#
# Usage: bench/sweep.sh [--repeat N] [--spec FILE] [--no-sklearn] [--keep]
#                       [--no-build]
#   --repeat N     rounds of (hptune 2x1, hptune 1x2, scikit-learn); every wall
#                  time is listed and the median of each is compared [1]
#   --spec FILE    the sweep spec [bench/blog-grid-10k.yaml]; the
#                  scikit-learn peer always runs the blog grid
#   --no-sklearn   skip the scikit-learn peer (no ratio)
#   --keep         keep the temp dir (journals, logs)
#   --no-build     do not run ninja on the three binaries first
# Environment: BUILD_DIR (default build), PYTHON (default /usr/bin/python3,
# which has Debian's python3-sklearn), DATA_DIR (default data; must hold
# mnist-10k/), TMPDIR.  Raw outputs go to bench/out/sweep/.  Exit status: 0
# everything ran (targets met or not), 1 something failed to run, 2 bad option.
set -eu

cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
PYTHON=${PYTHON:-/usr/bin/python3}
DATA_DIR=${DATA_DIR:-data}
SPEC=bench/blog-grid-10k.yaml
REPEAT=1
SKLEARN=1
KEEP=0
BUILD=1

while [ $# -gt 0 ]; do
    case "$1" in
        --repeat)
            case "${2:-}" in ''|*[!0-9]*|0) echo "sweep.sh: --repeat needs a positive integer" >&2; exit 2 ;; esac
            REPEAT=$2; shift ;;
        --spec) [ $# -ge 2 ] || { echo "sweep.sh: --spec needs a file" >&2; exit 2; }; SPEC=$2; shift ;;
        --no-sklearn) SKLEARN=0 ;;
        --keep) KEEP=1 ;;
        --no-build) BUILD=0 ;;
        -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "sweep.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
    esac
    shift
done
[ -f "$SPEC" ] || { echo "sweep.sh: $SPEC: no such file" >&2; exit 2; }

COORD=$BUILD_DIR/coordinator/hptune-coordinator
WORKER=$BUILD_DIR/worker/hptune-worker
CLI=$BUILD_DIR/coordinator/cli/hptune
OUT=bench/out/sweep
mkdir -p "$OUT"
rm -f "$OUT"/*.txt "$OUT"/*.err "$OUT"/*.log "$OUT"/*.json

if [ "$BUILD" = 1 ] && [ -f "$BUILD_DIR/build.ninja" ] && command -v ninja >/dev/null 2>&1; then
    if ! ninja -C "$BUILD_DIR" coordinator/hptune-coordinator worker/hptune-worker \
            coordinator/cli/hptune > "$OUT/build.log" 2>&1; then
        echo "sweep.sh: building in $BUILD_DIR failed (see $OUT/build.log)" >&2
        exit 1
    fi
fi
for b in "$COORD" "$WORKER" "$CLI"; do
    if [ ! -x "$b" ]; then
        echo "sweep.sh: $b not found; build first (meson setup $BUILD_DIR && ninja -C $BUILD_DIR)" >&2
        exit 1
    fi
done
if [ ! -d "$DATA_DIR/mnist-10k" ]; then
    echo "sweep.sh: $DATA_DIR/mnist-10k not found; run deploy/fetch-data.sh" >&2
    exit 1
fi

# One BLAS thread per training run everywhere: hptune's tasks train with one
# thread anyway; numpy in scikit-learn's two joblib workers would otherwise
# each start one thread per core.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1

TMP=$(mktemp -d "${TMPDIR:-/tmp}/hptune-sweep.XXXXXX")
PIDS=""
LPID=""      # the `hptune logs -f` follower while a sweep runs
stop_daemons() {
    for p in $PIDS; do kill -TERM "$p" 2>/dev/null || true; done
    for p in $PIDS; do wait "$p" 2>/dev/null || true; done
    PIDS=""
}
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

echo "hptune sweep benchmark: $SPEC, real training, against scikit-learn GridSearchCV; $REPEAT round(s)"
echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1), $(getconf _NPROCESSORS_ONLN) cores;" \
     "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
# CPU busy (all cores, %) over one second before we start anything.
BUSY_START=$( { head -n1 /proc/stat; sleep 1; head -n1 /proc/stat; } |
    awk '{ idle = $5 + $6; tot = 0; for (i = 2; i <= NF; i++) tot += $i;
           if (NR == 1) { i0 = idle; t0 = tot } else printf "%d", 100 * (1 - (idle - i0) / (tot - t0)) }')
echo "cpu busy before the start: $BUSY_START% (over 1 s, all cores)"
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

# run_hptune ROUND LABEL WORKERS SLOTS: a fresh coordinator and WORKERS x SLOTS
# workers; once all are registered (data loaded), time launch -> results.
# Writes $OUT/hptune-LABEL-ROUND.json (`hptune results --format json`) and
# appends a RESULT line to $OUT/results.txt.
run_hptune() {
    round=$1 label=$2 nw=$3 ns=$4
    dir=$TMP/$label-$round
    mkdir -p "$dir"
    port=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    HPTUNE_COORDINATOR="tcp://127.0.0.1:$port"
    export HPTUNE_COORDINATOR
    echo "round $round: hptune, $nw worker(s) x $ns slot(s) ..." >&2
    "$COORD" --bind "$HPTUNE_COORDINATOR" --db "$dir/journal.db" --data-dir "$DATA_DIR" \
        --log-file "$dir/coordinator.log" 2> "$dir/coordinator.stderr" &
    cpid=$!
    PIDS="$PIDS $cpid"
    i=1
    while [ "$i" -le "$nw" ]; do
        "$WORKER" --coordinator "$HPTUNE_COORDINATOR" --slots "$ns" --data-dir "$DATA_DIR" \
            --dataset mnist-10k --name "w$i" --log-file "$dir/worker$i.log" 2> "$dir/worker$i.stderr" &
        PIDS="$PIDS $!"
        i=$((i + 1))
    done
    n=0
    while :; do
        got=$("$CLI" status --timeout 1 2>/dev/null |
              sed -n 's/^workers: \([0-9]*\) connected, [0-9]*\/\([0-9]*\) slots.*/\1 \2/p' || true)
        [ "$got" = "$nw $((nw * ns))" ] && break
        n=$((n + 1))
        [ "$n" -le 150 ] || fail "$label: the coordinator or the workers did not come up within 30 s"
        kill -0 "$cpid" 2>/dev/null || fail "$label: the coordinator exited"
        sleep 0.2
    done
    sleep 1     # let the machine settle after the daemons' start-up

    # Launch, follow the sweep's events (`hptune logs -f`: pushed by the
    # coordinator, no polling) until "sweep finished", then fetch the results.
    rm -f "$dir/events"
    mkfifo "$dir/events"
    m0=$(machine_ticks) o0=$(own_ticks $PIDS)
    t0=$(date +%s.%N)
    id=$("$CLI" launch "$SPEC" 2> "$dir/launch.err") ||
        fail "$label: hptune launch failed: $(cat "$dir/launch.err")"
    # timeout(1) is the watchdog: should the sweep never end, the follower
    # is stopped after 900 s and the read below sees the end of the FIFO.
    timeout 900 "$CLI" logs -f --sweep "$id" > "$dir/events" 2> "$dir/logs.err" &
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
    [ -n "$state" ] || fail "$label: no 'sweep finished' event within 900 s (or \`hptune logs -f\` failed: $(cat "$dir/logs.err"))"
    [ "$state" = done ] || fail "$label: sweep $id ended $state"
    json=$OUT/hptune-$label-$round.json
    "$CLI" results "$id" --format json > "$json" 2> "$dir/results.err" ||
        fail "$label: hptune results failed: $(cat "$dir/results.err")"
    t1=$(date +%s.%N)
    m1=$(machine_ticks) o1=$(own_ticks $PIDS)
    "$CLI" results "$id" > "$OUT/hptune-$label-$round.txt" 2>&1 || true
    stop_daemons
    for f in "$dir"/*.log; do cp "$f" "$OUT/$label-$round-$(basename "$f")"; done
    echo "RESULT impl=hptune round=$round label=$label workers=$nw slots=$ns t0=$t0 t1=$t1 other_ticks=$(( (m1 - m0) - (o1 - o0) )) json=$json" \
        >> "$OUT/results.txt"
    [ "$KEEP" = 1 ] || rm -rf "$dir"
}

: > "$OUT/results.txt"
SK_OK=1
round=1
while [ "$round" -le "$REPEAT" ]; do
    run_hptune "$round" 2x1 2 1
    run_hptune "$round" 1x2 1 2
    if [ "$SKLEARN" = 1 ]; then
        echo "round $round: scikit-learn GridSearchCV (n_jobs=2) ..." >&2
        if "$PYTHON" bench/peers/sklearn_gridsearch.py --data-dir "$DATA_DIR" \
                > "$OUT/sklearn-$round.txt" 2> "$OUT/sklearn-$round.err"; then
            sed -n "s/^RESULT /RESULT round=$round /p" "$OUT/sklearn-$round.txt" >> "$OUT/results.txt"
        else
            rc=$?
            SK_OK=0
            echo "sweep.sh: the scikit-learn peer failed (exit $rc): $(tail -n 3 "$OUT/sklearn-$round.err")" >&2
        fi
    fi
    round=$((round + 1))
done

"$PYTHON" - "$OUT/results.txt" <<'PY'
import json, math, os, statistics, sys
TCK = os.sysconf("SC_CLK_TCK")
NCPU = os.cpu_count()

H, S = {}, {}
for line in open(sys.argv[1]):
    kv = dict(f.split("=", 1) for f in line.split()[1:])
    if kv["impl"] == "hptune":
        H.setdefault(kv["label"], []).append(kv)
    else:
        S.setdefault(int(kv["round"]), {})[kv["what"]] = kv

def hrow(label, runs):
    walls, to_done, first, busy, psi = [], [], [], [], []
    for h in runs:
        doc = json.load(open(h["json"]))
        sw, cv = doc["sweep"], doc["cv_results"]
        t0 = float(h["t0"])
        walls.append(float(h["t1"]) - t0)
        psi.append(max(0, int(h["other_ticks"])) / (TCK * NCPU * walls[-1]) * 100)
        to_done.append(sw["finished_unix"] - t0)
        first.append(sw["started_unix"] - t0)
        splits = sum(1 for k in cv if k.startswith("split") and k.endswith("_test_score"))
        fits = sum(1 for s in cv["state"] if s == "done") * splits
        busy.append(sum(m * splits for m in cv["mean_fit_time"] if m is not None))
    # Every round trains the same tasks with the same seeds: the scores are
    # identical, so the last round's stand for all.
    bp = sw.get("best_params") or {}
    h = runs[0]
    return dict(label="hptune, %s worker%s x %s slot%s" % (
                    h["workers"], "" if h["workers"] == "1" else "s",
                    h["slots"], "" if h["slots"] == "1" else "s"),
                walls=walls, psi=psi, wall=statistics.median(walls),
                to_done=statistics.median(to_done), first=statistics.median(first),
                busy=statistics.median(busy), slots=int(h["workers"]) * int(h["slots"]),
                fits=fits, mean=sw["best_mean_test_score"], std=sw["best_std_test_score"],
                params="batch %s, epochs %s, units %s" % (bp.get("batch_size"), bp.get("epochs"),
                                                         bp.get("units")),
                test=sw["refit_test_accuracy"])

rows = [hrow(k, v) for k, v in H.items()]
hp_rows = list(rows)
sk = None
if S:
    walls = [float(S[k]["wall"]["seconds"]) for k in sorted(S)]
    psi = [float(S[k]["wall"].get("other_cpu_pct", "nan")) for k in sorted(S)]
    last = S[max(S)]
    b, w, r = last["best"], last["wall"], last["refit"]
    sk = dict(label="scikit-learn GridSearchCV, n_jobs=2", walls=walls, psi=psi,
              wall=statistics.median(walls), fits=int(w["fits"]),
              mean=float(b["mean_cv"]), std=float(b["std_cv"]),
              params="batch %s, epochs %s, units %s" % (b["batch_size"], b["epochs"], b["units"]),
              test=float(r["test_accuracy"]))
    rows.append(sk)

def num(x, fmt):
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else fmt % x

n_rounds = max(len(r["walls"]) for r in rows)
print("%-38s %7s %6s %15s  %-28s %10s" % ("", "wall s", "fits", "best mean CV", "best params",
                                          "refit test"))
for r in rows:
    print("%-38s %7s %6d %8s ± %-5s  %-28s %10s" % (
        r["label"], num(r["wall"], "%.2f"), r["fits"], num(r["mean"], "%.4f"),
        num(r["std"], "%.3f"), r["params"], num(r["test"], "%.4f")))
print("(wall: `hptune launch` until `hptune results` has the finished sweep%s; fits: CV fits,"
      % (", median of %d rounds" % n_rounds if n_rounds > 1 else ""))
print(" plus 1 refit each; best mean CV ± its std over the 5 folds; refit test: accuracy on")
print(" the 2,000 test digits of the best configuration retrained on all 8,000)")
print()
print("every round: wall seconds (other CPU: what processes other than the timed ones used,")
print("as % of the 2 cores over that wall time; the hptune CLI's own launch/logs/results count)")
for r in rows:
    print("  %-38s %s" % (r["label"], "  ".join("%6.2f (other %2.0f%%)" % (w, p)
                                              for w, p in zip(r["walls"], r["psi"]))))
worst = max(p for r in rows for p in r["psi"] if p == p) if rows else 0
if worst > 5:
    print("  warning: up to %.0f%% of the CPU went to other processes: the wall times are skewed"
          % worst)
print()
for r in hp_rows:
    print("%s: launch -> first lease %.2f s, -> sweep done %.2f s;" % (r["label"], r["first"],
          r["to_done"]))
    print("    the CV fits' training time (fit_seconds) summed: %.1f s = %.0f%% of %d slots x wall"
          % (r["busy"], 100 * r["busy"] / (r["wall"] * r["slots"]), r["slots"]))
print()
print("targets (from the issue): >= 5x faster than scikit-learn, best mean CV within 0.5 point")
if sk is None:
    print("  (scikit-learn did not run: no comparison)")
else:
    for r in hp_rows:
        ratio = sk["wall"] / r["wall"]
        diff = 100 * (r["mean"] - sk["mean"])
        dtest = 100 * (r["test"] - sk["test"])
        print("  %s" % r["label"])
        print("    %-58s %s" % ("speed: %.2f s vs %.2f s = %.2fx" % (r["wall"], sk["wall"], ratio),
                                "met" if ratio >= 5 else "MISSED"))
        print("    %-58s %s" % ("best mean CV: %.4f vs %.4f = %+.2f points" % (r["mean"], sk["mean"], diff),
                                "met" if diff >= -0.5 else
                                "MISSED: hptune is %.2f points below" % -diff))
        print("    %-58s" % ("refit test accuracy: %.4f vs %.4f = %+.2f points"
                             % (r["test"], sk["test"], dtest)))
PY
echo
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg) (includes this benchmark's own processes)"
if [ "${BUSY_START:-0}" -ge 20 ]; then
    echo "warning: the machine was $BUSY_START% busy before the start; figures from a 2-core machine under load are skewed"
fi
[ "$SK_OK" = 1 ] || exit 1
exit 0
