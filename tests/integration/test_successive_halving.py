"""Successive halving end to end: asha and hyperband sweeps through the real
coordinator and workers, and cv.seeds.

1. asha on real mnist-10k training with ONE worker (so the order of results, and
   therefore every promotion, is deterministic), run twice: with the
   worker's model cache and with --model-cache-mb 0.  Promoted trials must
   have their parent's values except epochs (the next rung), every promoted
   task must have been continued from the parent's model when the cache is
   on (resumed_from = the parent's epochs) and never when it is off, and
   the two runs' fold scores must be identical bit for bit: continuing a
   model is an optimisation, never a different result.
2. hyperband with --dry-run workers scoring the synthetic `bowl` objective:
   the number of trials per epoch budget is the paper's schedule, and the
   sweep ends by itself.
3. cv.seeds: each split is trained `seeds` times with different seeds; the
   split score is their mean and mean_test_score the mean over splits.
"""
import collections
import json
import math

from harness import Cluster, check, finish, need_data

need_data("mnist-10k")

ASHA = """
name: asha-cache
dataset: mnist-10k
test_objective: hash   # --dry-run workers serve only such sweeps
method: asha
seed: 3
cv: {folds: 2}
refit: false
asha: {min_epochs: 1, max_epochs: 4, eta: 2}
parameters:
  units: {values: [8, 16, 32]}
  learning_rate: {distribution: log_uniform_values, min: 1.0e-3, max: 3.0e-2}
  optimizer: {value: adam}
  dropout: {values: [0.0, 0.2]}
  batch_size: {value: 128}
budget: {max_trials: 6}
"""


def run_asha(cache_mb):
    c = Cluster(name=f"asha-{cache_mb}")
    c.start_coordinator()
    c.start_worker(slots=1, name="w", extra=["--dataset", "mnist-10k", "--model-cache-mb",
                                             str(cache_mb)])
    s = c.launch(ASHA)
    check(c.wait_sweep(s, timeout=300) == "done", f"asha (cache {cache_mb} MB) did not finish")
    res = c.results(s)
    tasks = c.q("SELECT t.trial, t.fold, t.score, t.epochs, t.resumed_from FROM tasks t "
                "WHERE t.sweep = ? AND t.refit = 0 ORDER BY t.trial, t.fold", s)
    c.stop()
    return res, tasks


res_on, tasks_on = run_asha(512)
res_off, tasks_off = run_asha(0)

cv = res_on["cv_results"]
n = len(cv["params"])
parents = cv.get("parent_trial")
check(parents is not None and len(parents) == n, "results carry parent_trial for asha")
epochs = [p["epochs"] for p in cv["params"]]
promoted = [i for i in range(n) if parents[i]]
check(len(promoted) >= 2, f"asha promoted at least two trials (got {len(promoted)})")
new = [i for i in range(n) if not parents[i]]
check(len(new) == 6, f"asha started budget.max_trials = 6 configurations (got {len(new)})")
for i in promoted:
    p = parents[i] - 1
    want = {k: v for k, v in cv["params"][p].items() if k != "epochs"}
    got = {k: v for k, v in cv["params"][i].items() if k != "epochs"}
    check(got == want, f"trial {i + 1} has its parent's values (except epochs)")
    check(epochs[i] == 2 * epochs[p], f"trial {i + 1} trains the next rung "
          f"({epochs[p]} -> {epochs[i]} epochs)")
for i in new:
    check(epochs[i] == 1, f"new configuration {i + 1} starts at the bottom rung (1 epoch)")

by_trial = collections.defaultdict(list)
for trial, fold, score, ep, resumed in tasks_on:
    by_trial[trial].append((fold, ep, resumed))
for i in promoted:
    pe = epochs[parents[i] - 1]
    for fold, ep, resumed in by_trial[i + 1]:
        check(resumed == pe, f"cache on: trial {i + 1} fold {fold} continued from epoch "
              f"{pe} (resumed_from={resumed})")
check(all((r or 0) == 0 for *_, r in tasks_off), "cache off: nothing was continued")

check([t[:4] for t in tasks_on] == [t[:4] for t in tasks_off],
      "the same trials, folds, epochs and bit-identical scores with and without the cache")
check(cv["mean_test_score"] == res_off["cv_results"]["mean_test_score"],
      "identical mean scores with and without the cache")

# --- 2. hyperband on dry-run workers ----------------------------------------
HB = """
name: hb
dataset: mnist
method: hyperband
seed: 11
test_objective: bowl
cv: {folds: 2}
refit: true
hyperband: {min_epochs: 1, max_epochs: 9, eta: 3}
parameters:
  units: {values: [16, 32, 64, 128, 256]}
  learning_rate: {distribution: log_uniform_values, min: 1.0e-4, max: 1.0e-1}
  dropout: {distribution: uniform, min: 0.0, max: 0.6}
  batch_size: {values: [32, 64, 128]}
"""
c = Cluster(name="hb")
c.start_coordinator()
for k in range(3):
    c.start_worker(slots=2, name=f"d{k}", extra=["--dry-run"])
s = c.launch(HB)
check(c.wait_sweep(s, timeout=120) == "done", "hyperband sweep finished")
res = c.results(s)
cvr = res["cv_results"]
count = collections.Counter(p["epochs"] for p in cvr["params"])
# K = 2 (rungs 1, 3, 9).  Bracket s=2: 9 x 1, 3 x 3, 1 x 9; s=1: ceil(3/2*3)=5
# x 3, 1 x 9; s=0: 3 x 9.
want = {1: 9, 3: 3 + 5, 9: 1 + 1 + 3}
check(dict(count) == want, f"hyperband trials per budget {dict(count)} == {want}")
check(res["sweep"].get("refit_test_score") is not None,
      "hyperband refit ran")
best = res["sweep"]["best_trial"]
check(cvr["params"][best - 1]["epochs"] == 9, "bowl's best is trained for the most epochs")
c.stop()

# --- 3. cv.seeds ---------------------------------------------------------------
SEEDS = """
name: seeds
dataset: mnist
test_objective: hash   # --dry-run workers serve only such sweeps
method: grid
seed: 2
cv: {folds: 3, seeds: 2}
refit: false
parameters:
  units: {values: [16, 64]}
  epochs: {value: 1}
"""
c = Cluster(name="seeds")
c.start_coordinator()
c.start_worker(slots=2, name="d", extra=["--dry-run"])
s = c.launch(SEEDS)
check(c.wait_sweep(s, timeout=60) == "done", "cv.seeds sweep finished")
res = c.results(s)
rows = c.q("SELECT trial, fold, seed_rep, score FROM tasks WHERE sweep = ? AND refit = 0", s)
check(len(rows) == 2 * 3 * 2, f"2 trials x 3 folds x 2 seeds = 12 tasks (got {len(rows)})")
sc = collections.defaultdict(dict)
for trial, fold, rep, score in rows:
    sc[(trial, fold)][rep] = score
for (trial, fold), reps in sc.items():
    check(sorted(reps) == [0, 1] and reps[0] != reps[1],
          f"trial {trial} fold {fold}: two trainings with different seeds")
cvr = res["cv_results"]
for t in (1, 2):
    splits = [(sc[(t, f)][0] + sc[(t, f)][1]) / 2 for f in range(3)]
    got = [cvr[f"split{f}_test_score"][t - 1] for f in range(3)]
    check(all(math.isclose(a, b, rel_tol=0, abs_tol=1e-12) for a, b in zip(splits, got)),
          f"trial {t}: split scores are the seed means {got} == {splits}")
    mean = sum(splits) / 3
    check(math.isclose(cvr["mean_test_score"][t - 1], mean, abs_tol=1e-12),
          f"trial {t}: mean_test_score is the mean over splits")
c.stop()
print(json.dumps({"asha_trials": n, "promoted": len(promoted)}))
finish()
