#!/bin/sh
# fuse.sh: does horizontal fusion of the first layer pay?  Times one epoch of
# full MNIST for models of 8, 16 and 32 hidden units (the published grid's
# mix) at batch 32, 64 and 512, trained one after the other (today's code),
# with a shared mini-batch stream, and with their first-layer products fused
# into one wider product; checks the fused weights are bit-for-bit those of
# the unfused ones.  See bench/README.md, "Horizontal fusion".
#
# Usage: bench/fuse.sh [--quick] [--no-build] [--repeat N] [--units LIST]
#                      [--batches LIST] [--data-dir DIR]
#   --quick         one repeat (not recorded)
#   --no-build      do not run `ninja -C $BUILD_DIR bench/fuse_bench` first
#   --repeat N      measurements per case, the median is reported (default 7)
#   --units, --batches   passed to fuse_bench (defaults 8,16,32 and 32,64,512)
#   --data-dir DIR  the directory holding mnist/ (default $DATA_DIR or data)
# Environment: BUILD_DIR (default build).  The report goes to
# bench/results/fuse-DATE.txt (bench/record.sh).
set -eu

cd "$(dirname "$0")/.."
. bench/record.sh
case " $* " in
    *" --quick "*|*" -h "*|*" --help "*) ;;
    *) record_report fuse bench/fuse.sh "$@" ;;
esac
BUILD_DIR=${BUILD_DIR:-build}
DATA_DIR=${DATA_DIR:-data}
BUILD=1
REPEAT=7
PASS=""
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) REPEAT=1 ;;
        --no-build) BUILD=0 ;;
        --repeat) REPEAT=$2; shift ;;
        --units|--batches) PASS="$PASS $1 $2"; shift ;;
        --data-dir) DATA_DIR=$2; shift ;;
        -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "fuse.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
if [ "$BUILD" = 1 ]; then
    nice -n 10 ninja -C "$BUILD_DIR" bench/fuse_bench >/dev/null
fi
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
# shellcheck disable=SC2086
rc=0
"$BUILD_DIR/bench/fuse_bench" --data-dir "$DATA_DIR" --repeat "$REPEAT" $PASS || rc=$?
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
exit $rc
