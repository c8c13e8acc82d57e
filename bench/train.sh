#!/bin/sh
# train.sh: single-thread training throughput of hptune's 784-32-10 MLP on
# fashion-mnist against PyTorch (CPU) and scikit-learn, plus GFLOP/s against
# the sgemm peak and a test-accuracy check.  See bench/README.md.
#
# Usage: bench/train.sh [--quick] [--best] [--no-build] [--data-dir DIR]
#                       [--repeat N] [--min-seconds S] [--epochs N]
#   --quick         smoke run: short measurements, one repeat, one accuracy seed
#   --best          report the best of the repeats instead of the median (steadier
#                   when other processes share the machine)
#   --no-build      do not run `ninja -C $BUILD_DIR bench/train_bench` first
#   --data-dir DIR  directory holding fashion-mnist/ (default $DATA_DIR or data;
#                   falls back to /usr/share/datasets when that has no fashion-mnist/)
#   --repeat, --min-seconds, --epochs   passed to every measurement (defaults:
#                   3 repeats, median reported; each lasting >= 2 s)
# Environment: BUILD_DIR (default build), PYTHON (default /usr/bin/python3,
# the interpreter Debian's python3-torch and python3-sklearn belong to).
# Raw outputs are kept in bench/out/.
set -eu

cd "$(dirname "$0")/.."
. bench/record.sh
case " $* " in
    *" --quick "*|*" -h "*|*" --help "*) ;;
    *) record_report train bench/train.sh "$@" ;;
esac
BUILD_DIR=${BUILD_DIR:-build}
PYTHON=${PYTHON:-/usr/bin/python3}
DATA_DIR=${DATA_DIR:-data}
BUILD=1
STAT=samples_per_s   # RESULT field reported: the median, or "best" with --best
PASS=""      # options every measuring program understands

while [ $# -gt 0 ]; do
    case "$1" in
        --quick) PASS="$PASS --quick" ;;
        --no-build) BUILD=0 ;;
        --best) STAT=best ;;
        --data-dir) DATA_DIR=$2; shift ;;
        --data-dir=*) DATA_DIR=${1#*=} ;;
        --repeat|--min-seconds|--epochs) PASS="$PASS $1 $2"; shift ;;
        -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "train.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
    esac
    shift
done

if [ ! -d "$DATA_DIR/fashion-mnist" ] && [ -d /usr/share/datasets/fashion-mnist ]; then
    echo "note: $DATA_DIR/fashion-mnist not found (deploy/fetch-data.sh makes it);" \
         "using /usr/share/datasets/fashion-mnist" >&2
    DATA_DIR=/usr/share/datasets
fi

# One thread everywhere: OpenBLAS (hptune, numpy/sklearn), OpenMP (torch), MKL.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1

OUT=bench/out
mkdir -p "$OUT"
ALL=$OUT/results.txt
: > "$ALL"
NOTES=""
STATUS=0
T_START=$(date +%s)

BENCH=$BUILD_DIR/bench/train_bench
if [ "$BUILD" = 1 ] && [ -f "$BUILD_DIR/build.ninja" ] && command -v ninja >/dev/null 2>&1; then
    if ! ninja -C "$BUILD_DIR" bench/train_bench > "$OUT/build.log" 2>&1; then
        echo "train.sh: building $BENCH failed (see $OUT/build.log)" >&2
    fi
fi

echo "hptune training benchmark: 784-32-10 MLP (relu, glorot_uniform, softmax), 1 thread, fashion-mnist"
echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1), $(getconf _NPROCESSORS_ONLN) cores;" \
     "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

# run NAME CMD...: run one measuring program, keep its output, collect RESULT lines.
run() {
    name=$1; shift
    echo "running $name ..." >&2
    rc=0
    "$@" > "$OUT/$name.txt" 2> "$OUT/$name.err" || rc=$?
    grep '^RESULT ' "$OUT/$name.txt" >> "$ALL" || true
    if [ "$rc" != 0 ]; then
        NOTES="$NOTES
$name: failed (exit $rc): $(tail -n 3 "$OUT/$name.err" | tr '\n' ' ')"
        STATUS=1
    fi
}

if [ -x "$BENCH" ]; then
    # shellcheck disable=SC2086
    run hptune "$BENCH" --data-dir "$DATA_DIR" $PASS
else
    NOTES="$NOTES
hptune: $BENCH not found (meson setup $BUILD_DIR && ninja -C $BUILD_DIR)"
    STATUS=1
fi

if "$PYTHON" -c 'import torch' > /dev/null 2>&1; then
    # shellcheck disable=SC2086
    run pytorch "$PYTHON" bench/peers/torch_train.py --data-dir "$DATA_DIR" $PASS
else
    NOTES="$NOTES
pytorch: not installed (deploy/install-deps.sh installs it)"
fi

if "$PYTHON" -c 'import sklearn' > /dev/null 2>&1; then
    # shellcheck disable=SC2086
    run sklearn "$PYTHON" bench/peers/sklearn_train.py --data-dir "$DATA_DIR" $PASS
else
    NOTES="$NOTES
sklearn: not installed (deploy/install-deps.sh installs it)"
fi

awk -v stat="$STAT" '
function kv(line, key,    n, i, f, p) {
    n = split(line, f, " ")
    for (i = 2; i <= n; i++) {
        p = index(f[i], "=")
        if (p && substr(f[i], 1, p - 1) == key)
            return substr(f[i], p + 1)
    }
    return ""
}
function num(x) { return x == "" ? "-" : sprintf("%.0f", x) }
function ratio(a, b) { return (a == "" || b == "" || b + 0 == 0) ? "-" : sprintf("%.2fx", a / b) }
function verdict(ok) { return ok ? "met" : "MISSED" }
{
    impl = kv($0, "impl"); kind = kv($0, "kind")
    if (kind == "throughput") {
        k = kv($0, "opt") SUBSEP kv($0, "batch")
        sps[impl, k] = kv($0, stat)
        ep[impl, k] = kv($0, "epochs"); rep[impl, k] = kv($0, "repeats")
        if (!(k in seen)) { seen[k] = 1; order[++nk] = k }
    } else if (kind == "accuracy") {
        acc_sum[impl] += kv($0, "test_acc"); acc_n[impl]++
        acc_list[impl] = acc_list[impl] sprintf(" %.4f", kv($0, "test_acc"))
        acc_ep = kv($0, "epochs")
    } else if (kind == "sgemm_peak") {
        peak = kv($0, "gflops"); peak_shape = kv($0, "shape")
    } else if (kind == "flops") {
        fps = kv($0, "per_sample")
    } else if (kind == "gemm_bound") {
        bound[kv($0, "batch")] = kv($0, "samples_per_s")
    }
}
END {
    if (nk == 0) { print "no throughput results"; exit 0 }
    printf "training throughput, samples/s (%s of repeats; each measurement >= ~2 s unless --quick)\n", stat == "best" ? "best" : "median"
    printf "%5s  %-4s  %9s  %9s  %9s  %10s  %10s  %10s\n", "batch", "opt", "hptune", "pytorch", "sklearn", "vs pytorch", "vs sklearn", "vs faster"
    # batches in the order the programs ran them, sgd before the other optimizers
    for (pass = 1; pass <= 2; pass++) {
        for (i = 1; i <= nk; i++) {
            split(order[i], kb, SUBSEP)
            if ((pass == 1) != (kb[1] == "sgd")) continue
            h = sps["hptune", order[i]]; p = sps["pytorch", order[i]]; s = sps["sklearn", order[i]]
            f = (p != "" && (s == "" || p + 0 >= s + 0)) ? p : s
            printf "%5d  %-4s  %9s  %9s  %9s  %10s  %10s  %10s\n", kb[2], kb[1], num(h), num(p), num(s), ratio(h, p), ratio(h, s), ratio(h, f)
        }
    }
    print ""
    if (peak != "" && fps != "") {
        roof = peak * 1e9 / fps
        printf "sgemm peak, 1 thread (best shape %s): %.1f GFLOP/s\n", peak_shape, peak
        printf "784-32-10 costs %.0f FLOP per training sample -> roofline %.0f samples/s\n", fps, roof
        printf "%5s  %-4s  %9s  %8s  %11s  %16s\n", "batch", "opt", "hptune", "GFLOP/s", "% roofline", "gemm-only bound"
        for (pass = 1; pass <= 2; pass++) {
            for (i = 1; i <= nk; i++) {
                split(order[i], kb, SUBSEP)
                if ((pass == 1) != (kb[1] == "sgd")) continue
                h = sps["hptune", order[i]]
                if (h == "") continue
                printf "%5d  %-4s  %9.0f  %8.1f  %10.1f%%  %16s\n", kb[2], kb[1], h, h * fps / 1e9, 100 * h / roof, num(bound[kb[2]])
            }
        }
        print "(gemm-only bound: the five sgemm calls of one training step timed alone at that batch)"
        print ""
    }
    if (acc_n["hptune"] || acc_n["pytorch"]) {
        printf "test accuracy after %d epochs (adam lr 0.001, batch 32; 10,000 test images; mean over seeds)\n", acc_ep
        for (j = 1; j <= 2; j++) {
            im = j == 1 ? "hptune" : "pytorch"
            if (acc_n[im]) {
                acc[im] = acc_sum[im] / acc_n[im]
                printf "  %-8s %.4f   (seeds:%s)\n", im, acc[im], acc_list[im]
            } else
                printf "  %-8s -\n", im
        }
        if (acc_n["hptune"] && acc_n["pytorch"])
            printf "  difference: %+.2f points (hptune - pytorch)\n", 100 * (acc["hptune"] - acc["pytorch"])
        print ""
    }
    # the issue targets, single thread
    nt = 0
    for (i = 1; i <= nk; i++) {
        split(order[i], kb, SUBSEP)
        h = sps["hptune", order[i]]; p = sps["pytorch", order[i]]; s = sps["sklearn", order[i]]
        if (h == "") continue
        if (kb[2] == 32 && p != "") t[++nt] = sprintf("%-52s %7.2fx  %s", "batch 32  " kb[1] ": hptune >= 4x pytorch", h / p, verdict(h + 0 >= 4 * p))
        if (kb[2] == 32 && s != "") t[++nt] = sprintf("%-52s %7.2fx  %s", "batch 32  " kb[1] ": hptune >= 3x sklearn", h / s, verdict(h + 0 >= 3 * s))
        if (kb[2] == 512 && (p != "" || s != "")) {
            f = (p != "" && (s == "" || p + 0 >= s + 0)) ? p : s
            t[++nt] = sprintf("%-52s %7.2fx  %s", "batch 512 " kb[1] ": hptune >= 1.5x the faster peer", h / f, verdict(h + 0 >= 1.5 * f))
        }
        if (kb[2] == 512 && peak != "" && fps != "")
            t[++nt] = sprintf("%-52s %7.1f%%  %s", "batch 512 " kb[1] ": hptune >= 50% of the sgemm roofline", 100 * h / roof, verdict(h + 0 >= 0.5 * roof))
    }
    if (acc_n["hptune"] && acc_n["pytorch"]) {
        d = 100 * (acc["hptune"] - acc["pytorch"])
        t[++nt] = sprintf("%-52s %+7.2f   %s", "accuracy: within 1 point of pytorch", d, verdict(d >= -1 && d <= 1))
    }
    if (nt) {
        print "targets (from the issue):"
        for (i = 1; i <= nt; i++) print "  " t[i]
    }
}' "$ALL"

# Single-thread figures need an idle second core: warn when something else ran.
LOAD_END=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$LOAD_END" 'BEGIN { exit !(l > 1.5) }'; then
    NOTES="$NOTES
warning: load average $LOAD_END at the end: other processes competed for the CPU, figures are noisy"
fi
if [ -n "$NOTES" ]; then
    echo "$NOTES" | sed '/^$/d'
fi
echo "(total $(( $(date +%s) - T_START )) s; load average at end: $(cut -d' ' -f1-3 /proc/loadavg); raw output in $OUT/)"
exit "$STATUS"
