#!/bin/sh
# test.sh: the README's test command.  Installs what is missing, builds,
# fetches the datasets and runs the whole meson test suite; the last line is
# "N passed, N failed" from meson's own results.  Idempotent.
#
# Usage: deploy/test.sh [MESON_TEST_ARGS...]   e.g. deploy/test.sh --suite unit
# Env:   BUILD_DIR (default build)
set -eu
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}

deploy/install-deps.sh --no-bench
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
    meson setup "$BUILD_DIR"
fi
meson compile -C "$BUILD_DIR"
deploy/fetch-data.sh data

status=0
meson test -C "$BUILD_DIR" --print-errorlogs "$@" || status=$?

# Summarise from meson's machine-readable log, so a run that executed nothing
# shows "0 passed, 0 failed" instead of looking green.
log="$BUILD_DIR/meson-logs/testlog.json"
if [ -f "$log" ]; then
    passed=$(grep -c '"result": "OK"' "$log" || true)
    failed=$(grep -cE '"result": "(FAIL|TIMEOUT|ERROR|UNEXPECTEDPASS)"' "$log" || true)
    skipped=$(grep -cE '"result": "(SKIP|EXPECTEDFAIL)"' "$log" || true)
else
    passed=0
    failed=1
    skipped=0
fi
[ "$skipped" -gt 0 ] && echo "($skipped skipped)"
echo "$passed passed, $failed failed"
if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ] || [ "$passed" -eq 0 ]; then
    exit 1
fi
