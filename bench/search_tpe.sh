#!/bin/sh
# search_tpe.sh: hptune's bayes (TPE) against Optuna 3.1's TPESampler on the
# tabular search benchmark: bench/search_space.py's space, scored from a
# table of real 3-fold CV accuracies on the full MNIST (every grid
# configuration, every fold, several model seeds; bench/search_table.py).
# Both samplers run in process against the same objective: hptune's
# coordinator/search/tpe.c through build/bench/search_table, Optuna through
# bench/search_table.py.  Reports, after 10, 20, 30 and 60 trials, the median,
# IQR and mean over the seeds of the best score and of the incumbent's true
# value, and paired Wilcoxon signed-rank tests across seeds
# (bench/search_tpe_report.py).  See bench/README.md.
#
# Usage: bench/search_tpe.sh [--seeds N] [--trials N] [--variants LIST]
#                            [--table FILE] [--measure-table] [--epochs E]
#                            [--replicates R] [--no-build]
#   --seeds N|A-B     seeds 1..N (or A..B) for every variant [101-200: the
#                     defaults were chosen on seeds 1..100 of an earlier table]
#   --trials N        trials per run [60]
#   --variants LIST   comma-separated
#                     [bayes,bayes-rin,bayes-rie,bayes-rme,bayes-smn,optuna,optuna-mv]:
#                       bayes         method bayes with its defaults
#                       bayes-XYZ     bayes with X = r (startup: random) or s
#                                     (stratified), Y = i (multivariate: false)
#                                     or m (true), Z = n (equal_heights: false)
#                                     or e (true); bayes-rie follows Optuna 3.1
#                                     (random start, independent, its log_pdf),
#                                     and with tpe.n_candidates 24, Optuna's,
#                                     unless -cN follows (bayes-smn-c96)
#                       optuna        TPESampler(seed=S), Optuna's defaults
#                       optuna-mv     TPESampler(seed=S, multivariate=True)
#   --table FILE      the table [the newest bench/results/search-table-*.csv]
#   --measure-table   first measure a new table: bench/search.sh --dataset
#                     mnist --methods grid with seeds 1..R and E epochs, into
#                     bench/results/search-table-mnist-DATE.csv
#   --epochs E        the table's epochs per fit [4]
#   --replicates R    the table's model seeds [3]
#   --no-build        do not run ninja first
# Environment: BUILD_DIR (default build), PYTHON (default /usr/bin/python3).
# Exit status: 0 ran, 1 something failed, 2 bad option.
set -eu

cd "$(dirname "$0")/.."
. bench/record.sh
case " $* " in
    *" -h "*|*" --help "*) ;;
    *) record_report search-tpe bench/search_tpe.sh "$@" ;;
esac
BUILD_DIR=${BUILD_DIR:-build}
PYTHON=${PYTHON:-/usr/bin/python3}
SEEDS=101-200 TRIALS=60 VARIANTS=bayes,bayes-rin,bayes-rie,bayes-rme,bayes-smn,optuna,optuna-mv TABLE="" MEASURE=0
EPOCHS=4 REPS=3 BUILD=1
posint() {
    case "${2:-}" in ''|*[!0-9]*|0) echo "search_tpe.sh: $1 needs a positive integer" >&2; exit 2 ;; esac
}
while [ $# -gt 0 ]; do
    case "$1" in
        --seeds) case "${2:-}" in
                     [1-9]*-[1-9]*) SEEDS=$2 ;;
                     *) posint "$1" "${2:-}"; SEEDS=1-$2 ;;
                 esac
                 shift ;;
        --trials) posint "$1" "${2:-}"; TRIALS=$2; shift ;;
        --epochs) posint "$1" "${2:-}"; EPOCHS=$2; shift ;;
        --replicates) posint "$1" "${2:-}"; REPS=$2; shift ;;
        --variants) [ $# -ge 2 ] || { echo "search_tpe.sh: --variants needs a list" >&2; exit 2; }
                    VARIANTS=$2; shift ;;
        --table) [ $# -ge 2 ] || { echo "search_tpe.sh: --table needs a file" >&2; exit 2; }
                 TABLE=$2; shift ;;
        --measure-table) MEASURE=1 ;;
        --no-build) BUILD=0 ;;
        -h|--help) sed -n '2,39p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "search_tpe.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
    esac
    shift
done
# The tpe: settings of each hptune variant.
tpe_of() {
    case "$1" in
        bayes) echo "" ;;
        bayes-[rs][im][ne]|bayes-[rs][im][ne]-c[1-9]*)
            x=${1#bayes-}
            c=24
            case "$x" in *-c*) c=${x#*-c}; x=${x%%-c*} ;; esac
            case "$c" in ''|*[!0-9]*) return 1 ;; esac
            case "$x" in r*) st=random ;; *) st=stratified ;; esac
            case "$x" in ?i?) mv=false ;; *) mv=true ;; esac
            case "$x" in *n) eh=false ;; *) eh=true ;; esac
            echo "tpe: {startup: $st, multivariate: $mv, equal_heights: $eh, n_candidates: $c}" ;;
        *) return 1 ;;
    esac
}
for v in $(echo "$VARIANTS" | tr ',' ' '); do
    case "$v" in
        optuna|optuna-mv) ;;
        *) tpe_of "$v" > /dev/null || {
               echo "search_tpe.sh: --variants: unknown variant '$v' (try --help)" >&2; exit 2; } ;;
    esac
done

if [ "$BUILD" = 1 ] && [ -f "$BUILD_DIR/build.ninja" ]; then
    ninja -C "$BUILD_DIR" bench/search_table > /dev/null ||
        { echo "search_tpe.sh: building bench/search_table failed" >&2; exit 1; }
fi
DRIVER=$BUILD_DIR/bench/search_table
[ -x "$DRIVER" ] || { echo "search_tpe.sh: $DRIVER not found; build first" >&2; exit 1; }

if [ "$MEASURE" = 1 ]; then
    TABLE=bench/results/search-table-mnist-$(date -u +%Y-%m-%d).csv
    echo "measuring the table: bench/search.sh --dataset mnist --methods grid --seeds $REPS --epochs $EPOCHS"
    t0=$(date +%s)
    load0=$(cut -d' ' -f1-3 /proc/loadavg)
    HPT_BENCH_RECORDING=1 bench/search.sh --dataset mnist --methods grid --seeds "$REPS" \
        --epochs "$EPOCHS" --no-optuna --no-cost --no-build --out bench/out/table > /dev/null ||
        { echo "search_tpe.sh: the grid sweeps failed" >&2; exit 1; }
    "$PYTHON" bench/search_table.py build bench/out/table/runs "$TABLE" --epochs "$EPOCHS" \
        --dataset mnist --note "measured by bench/search_tpe.sh --measure-table on $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD), 2 workers x 1 slot, $(( $(date +%s) - t0 )) s, load average $load0 at start, $(cut -d' ' -f1-3 /proc/loadavg) at end" ||
        exit 1
fi
if [ -z "$TABLE" ]; then
    TABLE=$(ls bench/results/search-table-*.csv 2>/dev/null | sort | tail -n 1)
fi
[ -n "$TABLE" ] && [ -f "$TABLE" ] ||
    { echo "search_tpe.sh: no table (bench/results/search-table-*.csv); use --measure-table" >&2; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/hptune-tpe.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM
echo "tabular TPE benchmark: table $TABLE"
grep '^#' "$TABLE" | sed 's/^#/  /'
echo "seeds $SEEDS, $TRIALS trials per run, one trial at a time; variants $VARIANTS"
for v in $(echo "$VARIANTS" | tr ',' ' '); do
    t0=$(date +%s)
    case "$v" in
        optuna|optuna-mv)
            "$PYTHON" bench/search_table.py optuna "$TABLE" --seeds "$SEEDS" \
                --trials "$TRIALS" --variant "$v" > "$TMP/$v.jsonl" ||
                { echo "search_tpe.sh: $v failed" >&2; exit 1; } ;;
        *)
            (cd bench && "$PYTHON" -c 'import search_space, sys
sys.stdout.write(search_space.spec_text("bayes", 1, 1, max_trials=int(sys.argv[1])))' "$TRIALS") \
                > "$TMP/$v.yaml"
            tpe_of "$v" >> "$TMP/$v.yaml"
            "$DRIVER" --table "$TABLE" --spec "$TMP/$v.yaml" --seeds "$SEEDS" \
                --trials "$TRIALS" --variant "$v" > "$TMP/$v.jsonl" ||
                { echo "search_tpe.sh: $v failed" >&2; exit 1; }
            "$PYTHON" bench/search_table.py check "$TABLE" "$TMP/$v.jsonl" > /dev/null ||
                exit 1 ;;
    esac
    echo "  $v: $(( $(date +%s) - t0 )) s"
done
echo "(every hptune trial's score recomputed by bench/search_table.py from its values: the C and Python objectives agree)"
echo
# shellcheck disable=SC2046
"$PYTHON" bench/search_tpe_report.py $(for v in $(echo "$VARIANTS" | tr ',' ' '); do echo "$TMP/$v.jsonl"; done)
