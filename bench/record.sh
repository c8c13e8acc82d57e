# record.sh: sourced by the benchmark scripts (after they cd to the repo root
# and parse their options).  `record_report NAME SCRIPT ARGS...` runs SCRIPT
# again with the same arguments and copies its standard output, headed by the
# command line, the commit and the machine, to bench/results/NAME-DATE.txt:
# every figure the README quotes comes from such a file, written by the
# script that measured it.  The exit status is the script's; a usage error (exit 2) leaves no file.
# Smoke runs (--quick) and --help are not recorded.
# shellcheck shell=sh
record_report() {
    rr_name=$1
    shift
    if [ -n "${HPT_BENCH_RECORDING:-}" ]; then
        return 0
    fi
    mkdir -p bench/results
    rr_file=bench/results/$rr_name-$(date -u +%Y-%m-%d).txt
    rr_rc=$(mktemp)
    # Local changes, looked for before tee truncates the results file (a
    # second run of the day would otherwise see its own file as one) and
    # outside bench/results/, which holds only what benchmarks wrote.
    rr_dirty=
    git diff --quiet HEAD -- . ':(exclude)bench/results' 2>/dev/null || rr_dirty=' (with local changes)'
    {
        echo "# $* ($(date -u '+%Y-%m-%d %H:%M UTC'))"
        echo "# commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$rr_dirty"
        echo "# $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1), $(getconf _NPROCESSORS_ONLN) cores, load average at start $(cut -d' ' -f1-3 /proc/loadavg)"
        rc=0
        HPT_BENCH_RECORDING=1 "$@" || rc=$?
        echo "$rc" > "$rr_rc"
    } | tee "$rr_file"
    rc=$(cat "$rr_rc")
    rm -f "$rr_rc"
    if [ "$rc" = 2 ]; then
        rm -f "$rr_file"   # a usage error measured nothing
    else
        echo "(report written to $rr_file)" >&2
    fi
    exit "$rc"
}
