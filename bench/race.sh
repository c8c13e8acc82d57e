#!/bin/sh
# race.sh: racing the leaders (spec select: {race: true}) on a real grid:
# how many tasks the race adds to the search's, and how it ends (a certified
# winner or the documented tie-break).  See bench/README.md ("Racing").
#
# One sweep per case, on a fresh coordinator with 2 workers of 1 slot each,
# real training on the full MNIST: the case's spec with
#   select: {race: true}
# appended (top 5, max_repeats 5, the default budget: 30 % of the search's
# tasks).  Reported from `hptune results --format json`: the search's
# tasks, the race's extra tasks and their share, the verdict, the leaders'
# means and intervals per look, the refit, the wall time.
#
# Usage: bench/race.sh [--case quickstart|blog|both] [--quick] [--no-build]
#   --case C     quickstart: deploy/examples/quickstart-grid.yaml (27 trials,
#                5 folds, 1-3 epochs; about a minute); blog:
#                bench/specs/blog-grid.yaml (10-30 epochs; many minutes);
#                both [quickstart]
#   --quick      SMOKE RUN: mnist-10k and 1 epoch; not recorded
#   --no-build   do not run ninja first
# Environment: BUILD_DIR (default build), PYTHON (default /usr/bin/python3),
# DATA_DIR (default data).  Writes bench/results/race-<date>.txt (quickstart;
# race-blog-<date>.txt, race-both-<date>.txt; through bench/record.sh).  Exit status: 0 every case ran and met the target (at most
# 30 % more tasks, certified or tie-broken), 1 otherwise, 2 bad option.
set -eu

cd "$(dirname "$0")/.."
. bench/record.sh
# One file per case: race-DATE.txt (quickstart), race-blog-DATE.txt, race-both-DATE.txt.
RNAME=race
case " $* " in
    *" --case blog "*) RNAME=race-blog ;;
    *" --case both "*) RNAME=race-both ;;
esac
case " $* " in
    *" --quick "*|*" -h "*|*" --help "*) ;;
    *) record_report "$RNAME" bench/race.sh "$@" ;;
esac
BUILD_DIR=${BUILD_DIR:-build}
PYTHON=${PYTHON:-/usr/bin/python3}
DATA_DIR=${DATA_DIR:-data}
CASES=quickstart
QUICK=0
BUILD=1
while [ $# -gt 0 ]; do
    case "$1" in
        --case)
            case "${2:-}" in
                quickstart|blog) CASES=$2 ;;
                both) CASES="quickstart blog" ;;
                *) echo "race.sh: --case takes quickstart, blog or both" >&2; exit 2 ;;
            esac
            shift ;;
        --quick) QUICK=1 ;;
        --no-build) BUILD=0 ;;
        -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "race.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
if [ "$BUILD" = 1 ]; then
    ninja -C "$BUILD_DIR" -j2 coordinator/hptune-coordinator worker/hptune-worker \
        coordinator/cli/hptune >/dev/null
fi
rc=0
for c in $CASES; do
    case "$c" in
        quickstart) spec=deploy/examples/quickstart-grid.yaml ;;
        blog) spec=bench/specs/blog-grid.yaml ;;
    esac
    "$PYTHON" bench/race_run.py --build "$BUILD_DIR" --data "$DATA_DIR" --spec "$spec" \
        --quick "$QUICK" || rc=1
done
exit $rc
