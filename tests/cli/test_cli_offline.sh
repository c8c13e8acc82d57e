#!/bin/sh
# test_cli_offline.sh HPTUNE: the hptune client commands through their real
# interface, without a coordinator: every command's --help is complete and
# exits 0, bad flags exit 2 naming the flag, a coordinator nobody runs is
# exit 3 naming the address tried (quickly, whatever the command), and
# `launch` of a missing or unusable spec exits 2 naming the file.
set -u
HPTUNE=$1
fails=0
checks=0
tmp=$(mktemp -d)
out=$tmp/out
err=$tmp/err
holder=
trap '[ -n "$holder" ] && kill "$holder" 2>/dev/null; rm -rf "$tmp"' EXIT
unset HPTUNE_COORDINATOR

fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
check() { checks=$((checks + 1)); }

# A port nobody listens on, held for the whole test: a helper binds it (and
# never listens), so a daemon of a test running beside this one cannot take
# it meanwhile (once one did, and answered).  Without python3: a random high
# port.
PORT=
if command -v python3 >/dev/null 2>&1; then
    python3 -c '
import signal, socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
signal.pause()
' >"$tmp/port" &
    holder=$!
    for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
        [ -s "$tmp/port" ] && break
        sleep 0.1
    done
    PORT=$(cat "$tmp/port")
fi
[ -n "$PORT" ] || PORT=$(( ($$ * 7919 + $(date +%s)) % 20000 + 40000 ))
ADDR=tcp://127.0.0.1:$PORT

# --- hptune --help lists every command ---------------------------------------
check
"$HPTUNE" --help >"$out" 2>"$err" || fail "hptune --help exited non-zero"
for cmd in launch check spec status workers results report logs cancel train; do
    grep -q "^  $cmd " "$out" || fail "hptune --help does not list '$cmd'"
done
grep -q HPTUNE_COORDINATOR "$out" || fail "hptune --help does not mention HPTUNE_COORDINATOR"

# --- every command's --help: usage, flags, defaults, exit codes, example -----
help_has() {
    # help_has CMD words...
    cmd=$1
    shift
    check
    "$HPTUNE" "$cmd" --help >"$out" 2>"$err"
    rc=$?
    [ "$rc" -eq 0 ] || fail "$cmd --help exited $rc"
    [ -s "$err" ] && fail "$cmd --help wrote to stderr: $(cat "$err")"
    grep -q "^Usage: hptune $cmd" "$out" || fail "$cmd --help has no Usage line"
    grep -q "^Exit status:" "$out" || fail "$cmd --help has no exit status"
    grep -q "^Examples\{0,1\}:" "$out" || fail "$cmd --help has no example"
    for w in "$@"; do
        grep -q -- "$w" "$out" || fail "$cmd --help does not mention '$w'"
    done
    # man-page width: no line over 100 columns
    awk 'length($0) > 100 { exit 1 }' "$out" || fail "$cmd --help has lines over 100 columns"
}
# $conn is split into words on purpose below.
conn="--coordinator --timeout HPTUNE_COORDINATOR tcp://127.0.0.1:7600"
# shellcheck disable=SC2086
help_has launch --wait $conn "path:line:col\|PATH:LINE:COL" "submitted"
# shellcheck disable=SC2086
help_has status --watch $conn ETA "0.5 s" "2 s"
# shellcheck disable=SC2086
help_has workers $conn "LAST SEEN" DATASETS TASKS/MIN EPOCHS/S --format json
# shellcheck disable=SC2086
help_has results --format --top table csv json rank_test_score mean_test_score \
    split0_test_score pandas $conn
# shellcheck disable=SC2086
help_has logs --follow --level --sweep --worker debug info warn error --format json ts_us seq \
    component type sweep.submitted msg fields $conn
# shellcheck disable=SC2086
help_has report --output --top index.html results.csv "log" "snapshot" "1.5" $conn
# shellcheck disable=SC2086
help_has cancel $conn "already"

# -h works the same as --help
check
if ! "$HPTUNE" status -h >"$out" 2>&1 || ! grep -q "^Usage: hptune status" "$out"; then
    fail "status -h"
fi

# --- bad flags and arguments exit 2, naming the flag --------------------------
expect_usage() {
    # expect_usage "text in message" args...
    want=$1
    shift
    check
    "$HPTUNE" "$@" >"$out" 2>"$err"
    rc=$?
    [ "$rc" -eq 2 ] || fail "hptune $* exited $rc, want 2"
    grep -qF -- "$want" "$err" || fail "hptune $*: stderr lacks '$want': $(cat "$err")"
    [ -s "$out" ] && fail "hptune $*: wrote to stdout on a usage error: $(cat "$out")"
}
expect_usage "unknown command 'frobnicate'" frobnicate
expect_usage "Usage: hptune" # no command at all
expect_usage "unknown option '--bogus'" --bogus status
expect_usage "--coordinator: missing value" --coordinator
expect_usage "hptune status: unknown option '--bogus'" status --bogus
expect_usage "hptune status: SWEEP: 'abc' is not a sweep id" status abc
expect_usage "hptune status: SWEEP: '0' is not a sweep id" status 0
expect_usage "hptune status: unexpected argument '4'" status 3 4
expect_usage "hptune workers: unexpected argument 'x'" workers x
expect_usage "hptune workers: unknown option '--watch'" workers --watch
expect_usage "hptune results: missing SWEEP" results
expect_usage "hptune results: SWEEP: '-1' is not a sweep id" results -- -1
expect_usage "--format: unknown value 'xml' (allowed: table, csv, json)" results 3 --format xml
expect_usage "--top: -1 is out of range" results 3 --top -1
expect_usage "--top: 'ten' is not an integer" results 3 --top ten
expect_usage "--format: missing value" results 3 --format
expect_usage "--level: unknown value 'loud' (allowed: debug, info, warn, error)" logs --level loud
expect_usage "--sweep: 'x' is not a sweep id" logs --sweep x
expect_usage "hptune logs: unexpected argument 'extra'" logs extra
expect_usage "--worker: empty worker id or name" logs --worker ''
expect_usage "--format: unknown value 'csv' (allowed: text, json)" logs --format csv
expect_usage "--format: missing value" logs --format
expect_usage "--format: unknown value 'csv' (allowed: table, json)" workers --format csv
expect_usage "hptune report: missing SWEEP" report
expect_usage "hptune report: SWEEP: 'x' is not a sweep id" report x -o dir
expect_usage "hptune report: unknown option '--format'" report 3 --format csv
expect_usage "--top: -1 is out of range" report 3 --top -1
expect_usage "--output: missing value" report 3 --output
expect_usage "--output: empty directory name" report 3 -o ''
expect_usage "hptune cancel: missing SWEEP" cancel
expect_usage "hptune cancel: SWEEP: '3x' is not a sweep id" cancel 3x
expect_usage "hptune launch: missing SPEC" launch
expect_usage "hptune launch: unexpected argument 'b.yaml'" launch a.yaml b.yaml
expect_usage "--timeout: 0 is out of range (allowed (0, 3600])" status --timeout 0
expect_usage "--timeout: 'soon' is not a number of seconds" workers --timeout soon
expect_usage "--timeout: 'soon' is not a number of seconds" --timeout soon workers
expect_usage "--coordinator: empty address" status --coordinator ''
expect_usage "is not a ZeroMQ address" status --coordinator not-an-endpoint
export HPTUNE_COORDINATOR=bogus://x
expect_usage "HPTUNE_COORDINATOR: 'bogus://x' is not a ZeroMQ address" workers
unset HPTUNE_COORDINATOR

# --- launch: a missing or unusable spec exits 2 naming the file ---------------
expect_usage "cannot read spec '$tmp/nope.yaml': No such file or directory" \
    launch "$tmp/nope.yaml" --coordinator "$ADDR"
expect_usage "cannot read spec '$tmp': Is a directory" launch "$tmp" --coordinator "$ADDR"
: >"$tmp/empty.yaml"
expect_usage "spec '$tmp/empty.yaml' is empty" launch "$tmp/empty.yaml" --coordinator "$ADDR"
printf 'name: x\0\n' >"$tmp/nul.yaml"
expect_usage "spec '$tmp/nul.yaml' contains NUL bytes" launch "$tmp/nul.yaml"
if [ "$(id -u)" -ne 0 ]; then # root reads anything
    printf 'name: x\n' >"$tmp/secret.yaml"
    chmod 000 "$tmp/secret.yaml"
    expect_usage "cannot read spec '$tmp/secret.yaml': Permission denied" \
        launch "$tmp/secret.yaml"
fi

# --- check: no coordinator needed; 0 valid, 2 invalid with every error --------
help_has check --trials --quiet "PATH:LINE:COL" "W&B" "launch --check"
printf 'dataset: mnist\nmethod: grid\nparameters:\n  units: {values: [8, 16]}\n' \
    >"$tmp/ok.yaml"
check
"$HPTUNE" check "$tmp/ok.yaml" --trials 5 >"$out" 2>"$err"
rc=$?
[ "$rc" -eq 0 ] || fail "check of a valid spec exited $rc: $(cat "$err")"
grep -q "^$tmp/ok.yaml: valid" "$out" || fail "check: no 'valid' line: $(cat "$out")"
grep -q "trials   2$" "$out" || fail "check: no trial count: $(cat "$out")"
grep -q "tasks    11 (2 trials x 5 splits + 1 refit)" "$out" || fail "check: no task count"
grep -q "^ *2  16$" "$out" || fail "check --trials: no second trial: $(cat "$out")"
[ -s "$err" ] && fail "check of a valid spec wrote to stderr: $(cat "$err")"
check
"$HPTUNE" check "$tmp/ok.yaml" -q >"$out" 2>"$err" || fail "check -q of a valid spec exited $?"
[ ! -s "$out" ] || fail "check -q printed something: $(cat "$out")"
check
"$HPTUNE" launch --check "$tmp/ok.yaml" --coordinator "$ADDR" >"$out" 2>"$err"
rc=$?
[ "$rc" -eq 0 ] || fail "launch --check of a valid spec exited $rc (it must not connect)"
grep -q "^$tmp/ok.yaml: valid" "$out" || fail "launch --check: no 'valid' line"
printf 'dataset: mnist\nmethod: grd\nparameters:\n  units: {values: [8, 8]}\n' \
    >"$tmp/bad.yaml"
check
"$HPTUNE" check "$tmp/bad.yaml" >"$out" 2>"$err"
rc=$?
[ "$rc" -eq 2 ] || fail "check of an invalid spec exited $rc"
grep -q "^$tmp/bad.yaml:2:9: method: unknown method 'grd'" "$err" ||
    fail "check: the method error is missing: $(cat "$err")"
grep -q "^$tmp/bad.yaml: invalid: " "$err" || fail "check: no 'invalid' line: $(cat "$err")"
[ -s "$out" ] && fail "check of an invalid spec wrote to stdout: $(cat "$out")"
expect_usage "hptune check: missing SPEC" check
expect_usage "hptune check: --trials: '0' is not an integer in 1..100000" check a.yaml -t 0
expect_usage "cannot read spec '$tmp/nope.yaml': No such file or directory" \
    check "$tmp/nope.yaml"
expect_usage "hptune launch: --check and --wait exclude each other" launch a.yaml --check -w

# --- spec aliases: the alias table ------------------------------------------
help_has spec aliases "docs/spec.md"
check
"$HPTUNE" spec aliases >"$out" 2>"$err" || fail "spec aliases exited non-zero"
grep -q "^  lr  *learning_rate" "$out" || fail "spec aliases lacks lr: $(head -5 "$out")"
grep -q "^  xavier  *glorot_uniform" "$out" || fail "spec aliases lacks xavier"
expect_usage "hptune spec: unknown subcommand 'alias' (allowed: aliases)" spec alias

# --- nobody at the address: exit 3 naming it, within the timeout --------------
printf 'name: x\ndataset: mnist\nmethod: grid\nparameters:\n  units: {values: [8]}\n' \
    >"$tmp/spec.yaml"
# The user's config file must not change what these tests see.
export XDG_CONFIG_HOME="$tmp/no-config"
src=--coordinator   # where the address comes from, as the message says
expect_unreachable() {
    # expect_unreachable ADDR_IN_MESSAGE args...
    want=$1
    shift
    check
    t0=$(date +%s)
    "$HPTUNE" "$@" >"$out" 2>"$err"
    rc=$?
    t1=$(date +%s)
    [ "$rc" -eq 3 ] || fail "hptune $* exited $rc, want 3: $(cat "$err")"
    msg="hptune: coordinator at $want (from $src) did not answer within 0.5 s (is"
    msg="$msg hptune-coordinator running? set --coordinator, HPTUNE_COORDINATOR or coordinator"
    msg="$msg in the config file; hptune config shows the settings)"
    grep -qF "$msg" "$err" ||
        fail "hptune $*: unreachable message wrong: $(cat "$err")"
    [ $((t1 - t0)) -le 3 ] || fail "hptune $* took $((t1 - t0)) s with --timeout 0.5"
    [ -s "$out" ] && fail "hptune $*: wrote to stdout: $(cat "$out")"
}
for args in "status" "status 3" "status --watch" "status 3 --watch" "workers" "results 3" \
    "results 3 --format csv" "results 3 --format json" "logs" "logs -f" "logs --sweep 2" \
    "workers --format json" "logs --worker w1" "logs -f --worker w1" "logs --format json" \
    "report 3 -o $tmp/r" \
    "cancel 3" "launch $tmp/spec.yaml" "launch $tmp/spec.yaml --wait"; do
    # shellcheck disable=SC2086 # split args on purpose
    expect_unreachable "$ADDR" $args --coordinator "$ADDR" --timeout 0.5
done
# The flags may come before the command, with = too.
expect_unreachable "$ADDR" --coordinator "$ADDR" --timeout 0.5 status
expect_unreachable "$ADDR" --coordinator="$ADDR" --timeout=0.5 workers
# HPTUNE_COORDINATOR is used when --coordinator is not given, and loses to it.
export HPTUNE_COORDINATOR="$ADDR"
src=HPTUNE_COORDINATOR
expect_unreachable "$ADDR" workers --timeout 0.5
export HPTUNE_COORDINATOR=tcp://127.0.0.1:$((PORT + 1))
src=--coordinator
expect_unreachable "$ADDR" workers --timeout 0.5 --coordinator "$ADDR"
unset HPTUNE_COORDINATOR
# The documented default address when neither is set.
check
"$HPTUNE" workers --timeout 0.2 >"$out" 2>"$err"
rc=$?
if [ "$rc" -eq 3 ]; then
    grep -qF "coordinator at tcp://127.0.0.1:7600 (from default) did not answer within 0.2 s" \
        "$err" ||
        fail "default address not named: $(cat "$err")"
fi # (rc 0 means a real coordinator runs on this machine's default port)

if [ "$fails" -ne 0 ]; then
    echo "$checks checks, $fails failure(s)"
    exit 1
fi
echo "all $checks checks passed"
