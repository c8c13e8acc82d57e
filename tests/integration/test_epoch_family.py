"""Epoch families (docs/spec.md, model_seed): trials that differ only in
epochs continue one another's models, and every split score is bit-for-bit
the score of training that trial from scratch.

The same grid (units x epochs listed out of order, 3 folds, refit) runs
twice on real digits with two workers each:
  A  default workers: the model cache on, so a longer trial's task continues
     the shorter trial's model of the same split;
  B  workers with --model-cache-mb 0: every task trains from scratch.
Checks: cv_results (every split score, mean, std, rank, p_vs_best) and the
refit score are identical; both runs name the same parents (each trial
continues the member of its family with the most epochs below its own); A
trained fewer epochs than B, which trained exactly the from-scratch count,
and A's count is the one a shared computation needs (per family and split,
the family's largest epochs) when every continuation found its model; the
results summary says how many epochs were saved; with model_seed:
per_trial no trial has a parent and nothing is saved."""
import itertools

from harness import Cluster, check, cv_key, finish, need_data

need_data()
SPEC = """
name: family
dataset: mnist
method: grid
cv: {{folds: 3, seed: 5}}
refit: true
{extra}
parameters:
  units: {{values: [8, 16]}}
  epochs: {{values: [2, 1, 3]}}
  batch_size: {{value: 128}}
"""
UNITS, EPOCHS, FOLDS = [8, 16], [2, 1, 3], 3


def run(name, cache_mb=None, extra=""):
    c = Cluster(name=name)
    c.start_coordinator()
    for _ in range(2):
        c.start_worker(slots=1, extra=[] if cache_mb is None else
                       ["--model-cache-mb", str(cache_mb)])
    sweep = c.launch(SPEC.format(extra=extra))
    check(c.wait_sweep(sweep, timeout=300) == "done", f"{name}: the sweep did not finish")
    res = c.results(sweep)
    text = c.cli("results", str(sweep)).stdout
    resumed = c.q("SELECT COUNT(*) FROM tasks WHERE resumed_from > 0")[0][0]
    c.stop()
    return res, text, resumed


def key(res):
    """cv_results without timings and without what depends on where the
    models were: epochs trained."""
    return {k: v for k, v in cv_key(res).items() if "epochs_trained" not in k}


a, a_text, a_resumed = run("famA")
b, b_text, b_resumed = run("famB", cache_mb=0)
check(key(a) == key(b), f"cv_results differ between shared and from-scratch training:\n"
      f"{key(a)}\n{key(b)}")
check(a["sweep"]["refit_test_score"] == b["sweep"]["refit_test_score"],
      f"refit {a['sweep']['refit_test_score']} vs {b['sweep']['refit_test_score']}")

# Parents: the grid runs units-major or epochs-major; either way each trial
# continues its family's member with the most epochs below its own that was
# created before it.
params = a["cv_results"]["params"]
parents = [p or 0 for p in a["cv_results"].get("parent_trial", [])]   # null: none
check(len(parents) == len(params), f"no parent_trial column: {sorted(a['cv_results'])}")
for i, p in enumerate(params):
    earlier = [j for j in range(i) if params[j]["units"] == p["units"]
               and params[j]["epochs"] < p["epochs"]]
    want = max(earlier, key=lambda j: params[j]["epochs"]) + 1 if earlier else 0
    check(parents[i] == want, f"trial {i + 1} {p}: parent {parents[i]}, want {want}")

# Epochs: B trains everything from scratch; A continues where it can.
scratch = sum(p["epochs"] for p in params) * FOLDS + params[a["sweep"]["best_trial"] - 1][
    "epochs"]
check(b["sweep"]["epochs_trained"] == scratch == b["sweep"]["epochs_from_scratch"],
      f"from scratch: {b['sweep']['epochs_trained']} trained, {scratch} expected")
check(b_resumed == 0, f"{b_resumed} attempts resumed with the model cache off")
check(a["sweep"]["epochs_from_scratch"] == scratch, f"A: {a['sweep']}")
check(a_resumed > 0 and a["sweep"]["epochs_trained"] < scratch,
      f"A trained {a['sweep']['epochs_trained']} epochs of {scratch}, {a_resumed} resumed")
# Each family's split needs only its longest member's epochs, when every
# continuation found its model (two workers: the next member goes to the
# worker that holds the model, unless that worker is busy and the other is
# idle with nothing else to do, which may retrain).
ideal = len(UNITS) * max(EPOCHS) * FOLDS + params[a["sweep"]["best_trial"] - 1]["epochs"]
check(ideal <= a["sweep"]["epochs_trained"], f"A trained {a['sweep']['epochs_trained']} < {ideal}")
check("epochs trained:" in a_text and "saved" in a_text, f"no epochs line:\n{a_text}")

# model_seed: per_trial: independent seeds, nothing shared.
c, _, c_resumed = run("famC", extra="model_seed: per_trial")
check(not any(c["cv_results"].get("parent_trial", [])),
      f"per_trial has parents: {c['cv_results'].get('parent_trial')}")
check(c_resumed == 0 and c["sweep"]["epochs_trained"] == scratch,
      f"per_trial trained {c['sweep']['epochs_trained']} of {scratch}, {c_resumed} resumed")
check(key(c) != key(a), "per_trial seeds gave the very same scores as shared seeds")
finish()
