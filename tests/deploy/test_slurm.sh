#!/bin/bash
# deploy/slurm/hptune.sbatch under stand-ins for srun and scontrol (a
# one-node "allocation" on loopback): it starts the coordinator and a
# (dry-run) worker, launches a spec, waits, writes results.csv/json/txt,
# stops both daemons, and exits with the sweep's status; its usage errors.
# Env: HPT_BUILD, HPT_SRC (meson sets them).
set -u
SRC=${HPT_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${HPT_BUILD:-$SRC/build}
SBATCH=$SRC/deploy/slurm/hptune.sbatch
fail=0
bad() {
    echo "FAIL: $*"
    fail=1
}

bash -n "$SBATCH" || bad "bash -n $SBATCH"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hptune-deploy-slurm.XXXXXX")
cleanup() {
    # Anything the script left running (it should leave nothing).
    if [ -f "$tmp/pids" ]; then
        while read -r p; do kill -KILL "$p" 2>/dev/null; done <"$tmp/pids"
    fi
    [ -n "${KEEP_TMP:-}" ] || rm -rf "$tmp"; [ -z "${KEEP_TMP:-}" ] || echo "kept $tmp"
}
trap cleanup EXIT

# --- stand-ins -------------------------------------------------------------------
mkdir -p "$tmp/fake" "$tmp/bin"
cat >"$tmp/fake/scontrol" <<'EOF'
#!/bin/sh
# scontrol show hostnames LIST: one name per line (LIST is comma-separated here).
[ "$1 $2" = "show hostnames" ] || { echo "fake scontrol: $*" >&2; exit 1; }
echo "$3" | tr ',' '\n'
EOF
cat >"$tmp/fake/srun" <<'EOF'
#!/bin/sh
# srun [OPTIONS] COMMAND...: check the options the batch script may use, then
# run COMMAND here (every "node" is this machine), stderr to --error with %N
# replaced by the node name.
err=""
while [ $# -gt 0 ]; do
    case "$1" in
    --nodes=* | --ntasks=* | --ntasks-per-node=* | --nodelist=* | --overlap | --kill-on-bad-exit=*) ;;
    --error=*) err=${1#--error=} ;;
    --*) echo "fake srun: unexpected option $1" >&2; exit 2 ;;
    *) break ;;
    esac
    shift
done
echo "$$" >>"$FAKE_SRUN_PIDS"
if [ -n "$err" ]; then
    exec "$@" 2>>"$(echo "$err" | sed "s/%N/$(echo "$SLURM_JOB_NODELIST" | cut -d, -f1)/g")"
fi
exec "$@"
EOF
chmod +x "$tmp/fake/scontrol" "$tmp/fake/srun"
ln -s "$BUILD/coordinator/cli/hptune" "$BUILD/coordinator/hptune-coordinator" \
    "$BUILD/worker/hptune-worker" "$tmp/bin/"

cat >"$tmp/spec.yaml" <<'EOF'
name: slurm-test
dataset: mnist
test_objective: hash
method: grid
cv: {folds: 3}
refit: true
parameters:
  units: {values: [8, 16, 32]}
  epochs: {value: 2}
EOF

port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
curve=no
if "$BUILD/coordinator/hptune-coordinator" --help | grep -q -- --curve-secret; then curve=yes; fi

run_sbatch() {
    (
        cd "$tmp" || exit 1
        env PATH="$tmp/fake:$PATH" SLURM_JOB_ID=4242 SLURM_JOB_NODELIST=127.0.0.1 \
            SLURM_CPUS_ON_NODE=2 SLURM_SUBMIT_DIR="$tmp" FAKE_SRUN_PIDS="$tmp/pids" \
            HPTUNE_BIN="$tmp/bin" HPTUNE_PORT="$port" HPTUNE_BIND="tcp://127.0.0.1:$port" \
            HPTUNE_CURVE=$curve HPTUNE_WORKER_ARGS="--dry-run --dataset mnist --heartbeat-ms 200" \
            HPTUNE_COORD_ARGS="--hb-ivl-ms 200" \
            timeout 120 "$SBATCH" "$@"
    )
}

# --- usage errors ----------------------------------------------------------------
out=$(run_sbatch 2>&1) && bad "no spec: exit 0"
echo "$out" | grep -q "usage:" || bad "no spec: no usage message: $out"
out=$(run_sbatch "$tmp/nonexistent.yaml" 2>&1) && bad "missing spec: exit 0"
echo "$out" | grep -q "no such spec" || bad "missing spec: $out"
out=$(env -u SLURM_JOB_ID "$SBATCH" "$tmp/spec.yaml" 2>&1) && bad "outside Slurm: exit 0"
echo "$out" | grep -q "not inside a Slurm job" || bad "outside Slurm: $out"

# --- a sweep -----------------------------------------------------------------------
run_sbatch "$tmp/spec.yaml" "$tmp/out" >"$tmp/sbatch.log" 2>&1
rc=$?
[ "$rc" = 0 ] || bad "hptune.sbatch exited $rc"
for f in results.csv results.json results.txt hptune.db coordinator.log worker-127.0.0.1.log launch.txt; do
    [ -s "$tmp/out/$f" ] || bad "$f not written"
done
if [ -s "$tmp/out/results.csv" ]; then
    head -n 1 "$tmp/out/results.csv" | grep -q "mean_test_score" || bad "results.csv has no mean_test_score column"
    n=$(($(wc -l <"$tmp/out/results.csv") - 1))
    [ "$n" = 3 ] || bad "results.csv has $n trials, want 3"
fi
/usr/bin/python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); assert d["sweep"]["state"] == "done", d["sweep"]' \
    "$tmp/out/results.json" 2>/dev/null || bad "results.json does not say done"
grep -q "sweep .* ended with status 0" "$tmp/sbatch.log" || bad "no final status line"
if [ "$curve" = yes ]; then
    [ -f "$tmp/out/keys/coordinator.key" ] || bad "no per-job keys with HPTUNE_CURVE=yes"
    grep -q 'CURVE on' "$tmp/out/coordinator.log" || bad "the coordinator did not run with CURVE"
fi
# Both daemons stopped, and cleanly: the worker drained, the coordinator
# flushed its journal.
if [ -f "$tmp/pids" ]; then
    while read -r p; do
        if kill -0 "$p" 2>/dev/null; then bad "process $p still running after the job"; fi
    done <"$tmp/pids"
    [ "$(wc -l <"$tmp/pids")" = 2 ] || bad "srun ran $(wc -l <"$tmp/pids") steps, want 2"
fi
grep -q 'msg=stopped status=0' "$tmp/out/worker-127.0.0.1.log" || bad "the worker did not stop with status 0"
grep -q 'level=info component=coordinator msg=stopped' "$tmp/out/coordinator.log" ||
    grep -q 'msg="*stopped' "$tmp/out/coordinator.log" || bad "the coordinator did not log its stop"

if [ "$fail" != 0 ]; then
    echo "--- sbatch.log"
    cat "$tmp/sbatch.log"
    for f in "$tmp"/out/*.log; do
        echo "--- $f"
        tail -n 20 "$f"
    done
    exit 1
fi
echo ok
