#!/bin/sh
# test_train_cli.sh HPTUNE DATA_DIR: `hptune train` through its real
# interface: --help documents every hyperparameter, bad flags exit 2 naming
# the flag, a run on a fold prints valid JSON, and the same seed gives the
# same score bit for bit.
set -u
HPTUNE=$1
DATA=$2
fails=0
out=$(mktemp)
err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT

fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# --- --help lists every flag with its default ---------------------------
"$HPTUNE" train --help >"$out" 2>"$err" || fail "--help exited non-zero"
for flag in --dataset --data-dir --fold --test --cv-seed --layers --units --activation \
    --init-mode --dropout --input-dropout --weight-constraint --optimizer --learning-rate \
    --momentum --nesterov --batch-size --epochs --seed --metric --threads --json --serve; do
    grep -q -- "$flag" "$out" || fail "--help does not mention $flag"
done
for word in relu tanh sigmoid hard_sigmoid elu selu softplus softsign linear softmax \
    uniform lecun_uniform normal zero glorot_normal glorot_uniform he_normal he_uniform \
    sgd nesterov rmsprop adagrad adadelta adam adamax nadam accuracy log_loss f1_macro; do
    grep -qw -- "$word" "$out" || fail "--help does not list '$word'"
done
"$HPTUNE" --help >/dev/null 2>&1 || fail "hptune --help exited non-zero"
"$HPTUNE" --version | grep -q '^hptune ' || fail "--version"

# --- bad values exit 2 and name the flag --------------------------------
expect_usage() {
    # expect_usage "text in message" args...
    want=$1
    shift
    "$HPTUNE" train "$@" >"$out" 2>"$err"
    rc=$?
    [ "$rc" -eq 2 ] || fail "train $* exited $rc, want 2"
    grep -qF -- "$want" "$err" || fail "train $*: stderr lacks '$want': $(cat "$err")"
}
expect_usage "--batch-size: 0 is out of range (allowed 1..65536)" --batch-size 0
expect_usage "--batch-size: 'abc' is not an integer" --batch-size abc
expect_usage "--epochs: -1 is out of range" --epochs -1
expect_usage "--layers: 9 is out of range (allowed 1..8)" --layers 9
expect_usage "--units: 0 is out of range" --units 0
expect_usage "--units: 3 values given for --layers 2" --layers 2 --units 8,8,8
expect_usage "--activation: unknown value 'swish' (allowed: relu, tanh" --activation swish
expect_usage "--init-mode: unknown value 'orthogonal'" --init-mode orthogonal
expect_usage "--optimizer: unknown value 'lbfgs' (allowed: sgd, nesterov" --optimizer lbfgs
expect_usage "--learning-rate: 0 is out of range (allowed (0, 10])" --learning-rate 0
expect_usage "--learning-rate: 'nan' is not a number" --learning-rate nan
expect_usage "--dropout: 1 is out of range (allowed [0, 0.999])" --dropout 1
expect_usage "--momentum: 'x' is not a number" --momentum x
expect_usage "--weight-constraint: -1 is out of range" --weight-constraint -1
expect_usage "--fold: '3' is not K/N" --fold 3
expect_usage "--fold K: 6 is out of range (allowed 1..5)" --fold 6/5
expect_usage "--fold N: 1 is out of range (allowed 2..100)" --fold 1/1
expect_usage "--test and --fold exclude each other" --test --fold 1/5
expect_usage "--metric: unknown value 'auc'" --metric auc
expect_usage "--seed: '-3' must be a non-negative integer" --seed -3
expect_usage "unknown option '--bogus'" --bogus
expect_usage "--epochs: missing value" --epochs
expect_usage "unexpected argument 'extra'" extra

# --- a missing dataset is a data error (exit 1) naming where it looked -----
"$HPTUNE" train --dataset idx:/nonexistent/dir -q >"$out" 2>"$err"
rc=$?
[ "$rc" -eq 1 ] || fail "missing dataset exited $rc, want 1"
grep -q "/nonexistent/dir" "$err" || fail "missing dataset message lacks the path: $(cat "$err")"

# --- a real run on a fold, twice: valid JSON, identical scores -------------
if [ ! -d "$DATA/mnist-10k" ]; then
    echo "SKIP: $DATA/mnist-10k missing (run deploy/fetch-data.sh)"
    [ "$fails" -eq 0 ] && exit 77
    exit 1
fi
run() {
    "$HPTUNE" train --dataset mnist-10k --data-dir "$DATA" --fold 2/5 --epochs 2 --units 16 \
        --batch-size 64 --dropout 0.2 --seed 7 --json "$@" 2>"$err"
}
a=$(run) || fail "train --fold 2/5 exited $?: $(cat "$err")"
b=$(run -q) || fail "second run exited $?"
grep -q '^epoch 1/2 ' "$err" && fail "-q still printed progress"
run >/dev/null
grep -q '^epoch 2/2 loss=' "$err" || fail "no per-epoch progress lines on a non-terminal"
printf '%s' "$a" | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["mode"] == "fold" and d["fold"] == 2 and d["folds"] == 5, d
assert 0.5 < d["val_score"] <= 1.0, d["val_score"]
assert d["val_score"] == d["val_accuracy"]
assert d["epochs"] == 2 and d["params"]["units"] == [16] and d["params"]["dropout"] == 0.2
assert d["samples_per_second"] > 0 and d["fit_seconds"] > 0
assert d["n_params"] == 784 * 16 + 16 + 16 * 10 + 10, d["n_params"]
assert len(d["fingerprint"]) == 64
' || fail "JSON output invalid: $a"
sa=$(printf '%s' "$a" | sed 's/.*"val_score":\([^,]*\),.*/\1/')
sb=$(printf '%s' "$b" | sed 's/.*"val_score":\([^,]*\),.*/\1/')
[ "$sa" = "$sb" ] || fail "same seed gave different scores: $sa vs $sb"

# --- --serve: one process, the same results as separate runs -------------
# Requests: the run above (its model flags and seed), a bad value, a data
# flag, a blank line, a line of 70 tokens, the run again with another
# optimizer.  Each gets one JSON line; the server ends at end of input.
srv=$( (printf -- '--epochs 2 --units 16 --batch-size 64 --dropout 0.2 --seed 7\n'
        printf -- '--units 0\n--fold 1/5\n\n'
        i=0; while [ $i -lt 70 ]; do printf -- '--nesterov '; i=$((i + 1)); done; printf '\n'
        printf -- '--epochs 2 --units 16 --batch-size 64 --seed 7 --optimizer sgd\n') |
      "$HPTUNE" train --serve --dataset mnist-10k --data-dir "$DATA" --fold 2/5 --quiet 2>"$err")
rc=$?
[ "$rc" -eq 0 ] || fail "train --serve exited $rc: $(cat "$err")"
printf '%s\n' "$srv" | SA="$sa" /usr/bin/python3 -c '
import json, os, sys
lines = [json.loads(l) for l in sys.stdin.read().splitlines()]
assert len(lines) == 5, lines
assert repr(lines[0]["val_score"]) == repr(float(os.environ["SA"])), (lines[0], os.environ["SA"])
assert lines[0]["params"]["dropout"] == 0.2 and lines[0]["params"]["seed"] == 7
assert lines[1] == {"error": "--units: 0 is out of range (allowed 1..4096)"} or \
    lines[1]["error"].startswith("--units: 0 is out of range"), lines[1]
assert lines[2]["error"].startswith("--fold: not allowed in a --serve request"), lines[2]
assert lines[3]["error"] == "more than 64 flags and values", lines[3]
assert lines[4]["params"]["optimizer"] == "sgd" and lines[4]["params"]["dropout"] == 0
assert lines[4]["val_score"] != lines[0]["val_score"]
' || fail "--serve answers wrong: $srv"

if [ "$fails" -ne 0 ]; then
    echo "$fails failure(s)"
    exit 1
fi
echo "all checks passed"
