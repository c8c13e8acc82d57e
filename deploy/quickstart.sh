#!/bin/sh
# quickstart.sh: the README's main-job command.  Installs what is missing,
# builds, fetches the datasets, then runs the blog post's grid search as a
# real distributed sweep on this machine: a coordinator and two workers (own
# temporary state dir, a free loopback port), `hptune launch --wait` with a
# live progress bar, the cv_results_ table and the refit test accuracy.  The
# daemons are stopped at the end (also on Ctrl-C).  Idempotent.
#
# Env: BUILD_DIR (default build), SPEC (default deploy/examples/blog-grid.yaml),
#      WORKERS (default 2), SLOTS per worker (default 1).
set -eu
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
SPEC=${SPEC:-deploy/examples/blog-grid.yaml}
WORKERS=${WORKERS:-2}
SLOTS=${SLOTS:-1}

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
        --data-dir data --dataset mnist --name "worker$i" --log-file "$STATE/worker$i.log" \
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
"$BUILD_DIR/coordinator/cli/hptune" launch "$SPEC" --wait
echo
echo "== workers"
"$BUILD_DIR/coordinator/cli/hptune" workers
echo
echo "(tail the coordinator's log: $STATE/coordinator.log)"
