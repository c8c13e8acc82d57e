#!/bin/sh
# search_cost.sh: what one suggestion of `method: bayes` (hptune's TPE)
# costs as the history grows, against Optuna 3.1's TPESampler on the same
# search spaces (3 and 6 parameters) and history sizes (100, 500, 2000
# completed trials).  The issue's target: with 6 parameters and 2,000
# trials, one suggestion takes at most 1 ms.
#
# Usage: bench/search_cost.sh [--no-build] [--sizes 100,500,2000]
#                             [--suggest N] [--optuna-trials N]
#   --no-build         do not run `ninja -C $BUILD_DIR bench/search_cost` first
#   --sizes LIST       history sizes (default 100,500,2000)
#   --suggest N        timed hptune suggestions per measurement (default 50;
#                      the median is reported)
#   --optuna-trials N  timed Optuna trials per measurement (default 10; the mean
#                      is reported: each is tens of milliseconds)
# Environment: BUILD_DIR (default build), PYTHON (default /usr/bin/python3, the
# interpreter Debian's python3-optuna belongs to).
# What is timed: hptune, coord_search_suggest() alone (bench/search_cost.c);
# Optuna, whole trials of study.optimize() with in-memory storage and an
# objective that only suggests (bench/peers/optuna_tpe_cost.py): for Optuna
# the sampler is nearly all of it.  Raw outputs go to bench/out/search_cost/.
set -eu

cd "$(dirname "$0")/.."
. bench/record.sh
case " $* " in
    *" -h "*|*" --help "*) ;;
    *) record_report search-cost bench/search_cost.sh "$@" ;;
esac
BUILD_DIR=${BUILD_DIR:-build}
PYTHON=${PYTHON:-/usr/bin/python3}
BUILD=1
SIZES=100,500,2000
SUGGEST=50
OPTUNA_TRIALS=10

while [ $# -gt 0 ]; do
    case "$1" in
        --no-build) BUILD=0 ;;
        --sizes) SIZES=$2; shift ;;
        --suggest) SUGGEST=$2; shift ;;
        --optuna-trials) OPTUNA_TRIALS=$2; shift ;;
        -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "search_cost.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
    esac
    shift
done

export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
OUT=bench/out/search_cost
mkdir -p "$OUT"

BENCH=$BUILD_DIR/bench/search_cost
if [ "$BUILD" = 1 ] && [ -f "$BUILD_DIR/build.ninja" ] && command -v ninja >/dev/null 2>&1; then
    if ! ninja -C "$BUILD_DIR" bench/search_cost > "$OUT/build.log" 2>&1; then
        echo "search_cost.sh: building $BENCH failed (see $OUT/build.log)" >&2
    fi
fi
if [ ! -x "$BENCH" ]; then
    echo "search_cost.sh: $BENCH not found (meson setup $BUILD_DIR && ninja -C $BUILD_DIR)" >&2
    exit 1
fi

echo "TPE suggestion cost: hptune (method: bayes) against Optuna $("$PYTHON" -c \
    'import optuna; print(optuna.__version__)' 2>/dev/null || echo '(not installed)') TPESampler"
echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1);" \
     "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

"$BENCH" --sizes "$SIZES" --suggest "$SUGGEST" > "$OUT/hptune.txt" 2> "$OUT/hptune.err"
if ! "$PYTHON" bench/peers/optuna_tpe_cost.py --sizes "$SIZES" --trials "$OPTUNA_TRIALS" \
        > "$OUT/optuna.txt" 2> "$OUT/optuna.err"; then
    echo "note: the Optuna peer failed (see $OUT/optuna.err); its column is empty" >&2
fi

# One row per (params, trials): hptune's median suggestion, Optuna's mean
# trial, and how many times faster hptune is.
awk '
    function field(line, key,    i, n, kv) {
        n = split(line, kv, " ")
        for (i = 1; i <= n; i++)
            if (index(kv[i], key "=") == 1)
                return substr(kv[i], length(key) + 2)
        return ""
    }
    FNR == 1 { file++ }
    /^RESULT / {
        k = field($0, "params") " " field($0, "trials")
        if (file == 1) { ours[k] = field($0, "suggest_ms_median"); order[++n] = k }
        else peer[k] = field($0, "trial_ms_mean")
    }
    END {
        printf "%-7s %-8s %14s %14s %9s\n", "params", "trials", "hptune ms", "optuna ms", "ratio"
        for (i = 1; i <= n; i++) {
            split(order[i], pt, " ")
            o = ours[order[i]]; p = peer[order[i]]
            r = (p != "" && o > 0) ? sprintf("%.0fx", p / o) : "-"
            printf "%-7s %-8s %14s %14s %9s\n", pt[1], pt[2], o, (p == "" ? "-" : p), r
            if (pt[1] == 6 && pt[2] == 2000)
                target = (o <= 1.0) ? "met" : "MISSED"
        }
        if (target != "")
            printf "\ntarget (6 parameters, 2,000 trials, <= 1 ms per suggestion): %s\n", target
    }' "$OUT/hptune.txt" "$OUT/optuna.txt"
