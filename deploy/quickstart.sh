#!/bin/sh
# quickstart.sh: the README's main-job command.  Installs what is missing,
# builds, fetches the datasets, then runs a grid search on the full MNIST as a
# real distributed sweep on this machine: a coordinator and two workers (own
# temporary state dir, a free loopback port), `hptune launch --wait` with a
# live progress bar, the cv_results_ table and the refit test accuracy.  The
# daemons are stopped at the end (also on Ctrl-C).  Idempotent.
#
# Usage: deploy/quickstart.sh [--full]
#   (default)  deploy/examples/quickstart-grid.yaml: the blog post's grid with a
#              tenth of its epochs (a few seconds of training on two cores)
#   --full     deploy/examples/blog-grid.yaml: the blog post's grid as published
#              (epochs 10, 20, 30; about 20 s of training on two cores)
#
# Env: BUILD_DIR (default build), SPEC (a spec file; overrides the two above),
#      WORKERS (default 2), SLOTS per worker (default 1).
set -eu
cd "$(dirname "$0")/.."
QUICK_SPEC=deploy/examples/quickstart-grid.yaml
FULL_SPEC=deploy/examples/blog-grid.yaml
case "${1:-}" in
"") DEFAULT_SPEC=$QUICK_SPEC ;;
--full) DEFAULT_SPEC=$FULL_SPEC ;;
-h | --help) sed -n '2,/^set -eu/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
*) echo "quickstart: unknown argument '$1' (try --help)" >&2; exit 2 ;;
esac
BUILD_DIR=${BUILD_DIR:-build}
SPEC=${SPEC:-$DEFAULT_SPEC}
WORKERS=${WORKERS:-2}
SLOTS=${SLOTS:-1}
[ -f "$SPEC" ] || { echo "quickstart: $SPEC: no such file" >&2; exit 2; }
# The workers load only the spec's dataset (mnist unless it names another).
DATASET=$(sed -n 's/^dataset:[[:space:]]*\([^[:space:]#]*\).*/\1/p' "$SPEC" | head -n 1)
DATASET=${DATASET:-mnist}

deploy/install-deps.sh --no-bench
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
    meson setup "$BUILD_DIR"
fi
meson compile -C "$BUILD_DIR"
deploy/fetch-data.sh data

STATE=$(mktemp -d "${TMPDIR:-/tmp}/hptune-quickstart.XXXXXX")
PORT=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ADDR="tcp://127.0.0.1:$PORT"
export HPTUNE_COORDINATOR="$ADDR"
PIDS=""
cleanup() {
    for p in $PIDS; do kill -TERM "$p" 2>/dev/null || true; done
    for p in $PIDS; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== starting hptune-coordinator on $ADDR (state and logs in $STATE)"
"$BUILD_DIR/coordinator/hptune-coordinator" --bind "$ADDR" --db "$STATE/journal.db" \
    --data-dir data --log-file "$STATE/coordinator.log" 2>/dev/null &
PIDS="$PIDS $!"
i=1
while [ "$i" -le "$WORKERS" ]; do
    "$BUILD_DIR/worker/hptune-worker" --coordinator "$ADDR" --slots "$SLOTS" \
        --data-dir data --dataset "$DATASET" --name "worker$i" --log-file "$STATE/worker$i.log" \
        2>/dev/null &
    PIDS="$PIDS $!"
    i=$((i + 1))
done

# Wait until the coordinator answers.
n=0
until "$BUILD_DIR/coordinator/cli/hptune" status --timeout 1 >/dev/null 2>&1; do
    n=$((n + 1))
    if [ "$n" -gt 50 ]; then
        echo "quickstart: the coordinator did not start; see $STATE/coordinator.log" >&2
        exit 1
    fi
    sleep 0.2
done

echo "== launching $SPEC"
t0=$(date +%s)
"$BUILD_DIR/coordinator/cli/hptune" launch "$SPEC" --wait
t1=$(date +%s)
echo
echo "== workers"
"$BUILD_DIR/coordinator/cli/hptune" workers
echo
echo "(sweep: $((t1 - t0)) s from launch to results; coordinator's log: $STATE/coordinator.log)"
if [ "$SPEC" = "$QUICK_SPEC" ]; then
    echo
    echo "The blog post's grid as published (epochs 10, 20, 30; about 20 s on two cores):"
    echo "    deploy/quickstart.sh --full"
fi
