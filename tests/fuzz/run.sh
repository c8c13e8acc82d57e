#!/bin/sh
# run.sh [SECONDS]: run each libFuzzer target of tests/fuzz for SECONDS
# (default 60), one after the other.
#
# Builds build-fuzz first when needed (clang, ASan + UBSan, -Dfuzz=true; set
# HPT_FUZZ_BUILD to use another directory).  Each target starts from the
# checked-in seeds in tests/fuzz/corpus/TARGET and keeps what it learns in
# BUILD/fuzz-work/TARGET/corpus (never in the source tree).  Any crash, leak,
# timeout or out-of-memory input is copied to tests/fuzz/regressions/TARGET/,
# where the normal test run (suite 'fuzz') replays it from then on.
#
# Extra libFuzzer flags can be given in HPT_FUZZ_FLAGS (e.g. -detect_leaks=0).
#
# The random seed is HPT_FUZZ_SEED, by default derived from the commit being
# tested (git HEAD), so a CI run can be replayed exactly on another machine
# (a longer local run with the same seed covers the CI run's inputs and
# more); it is printed with each target.
#
# Exit status: 0 no finding, 1 a finding (see the copied files and
# BUILD/fuzz-work/TARGET.log), 2 usage or build error.
set -eu

secs=${1:-60}
case "$secs" in
    ''|*[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${HPT_FUZZ_BUILD:-$root/build-fuzz}
targets="envelope spec idx"

if [ ! -f "$build/build.ninja" ]; then
    CC=clang meson setup "$build" "$root" -Dfuzz=true -Db_sanitize=address,undefined \
        -Db_lundef=false -Dbench=false || exit 2
elif ! grep -q 'tests/fuzz/fuzz-envelope:' "$build/build.ninja"; then
    meson configure "$build" -Dfuzz=true || exit 2
fi
ninja -C "$build" $(for t in $targets; do printf 'tests/fuzz/fuzz-%s ' "$t"; done) || exit 2

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
work="$build/fuzz-work"
if [ -z "${HPT_FUZZ_SEED:-}" ]; then
    head=$(git -C "$root" rev-parse --short=7 HEAD 2>/dev/null || echo 1)
    HPT_FUZZ_SEED=$(( 0x$head % 2147483647 + 1 )) 2>/dev/null || HPT_FUZZ_SEED=1
fi
found=0
for t in $targets; do
    mkdir -p "$work/$t/corpus" "$work/$t/artifacts" "$here/regressions/$t"
    dict=""
    [ -f "$here/$t.dict" ] && dict="-dict=$here/$t.dict"
    echo "fuzz-$t: ${secs}s, seed $HPT_FUZZ_SEED (log: $work/$t.log)"
    # shellcheck disable=SC2086
    "$build/tests/fuzz/fuzz-$t" -seed="$HPT_FUZZ_SEED" -max_total_time="$secs" -timeout=10 \
        -rss_limit_mb=2560 \
        -print_final_stats=1 -artifact_prefix="$work/$t/artifacts/" $dict ${HPT_FUZZ_FLAGS:-} \
        "$work/$t/corpus" "$here/corpus/$t" >"$work/$t.log" 2>&1 || true
    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|Done )' "$work/$t.log" |
        sed "s/^/  /" || true
    for f in "$work/$t/artifacts"/*; do
        [ -f "$f" ] || continue
        cp "$f" "$here/regressions/$t/"
        echo "  FINDING: $(basename "$f") -> tests/fuzz/regressions/$t/ (see $work/$t.log)"
        # Show it here too: on a CI machine the log and the file are gone
        # once the run ends, and the report is all there is to go on.
        echo "  --- the input (base64; decode with base64 -d) ---"
        base64 "$f" | head -c 20000 | sed 's/^/  /'
        echo "  --- the report ---"
        grep -E -A40 '(==[0-9]+==ERROR|runtime error|fuzz invariant broken|deadly signal)' \
            "$work/$t.log" | head -80 | sed 's/^/  /' || true
        rm -f "$f"
        found=1
    done
done
exit "$found"
