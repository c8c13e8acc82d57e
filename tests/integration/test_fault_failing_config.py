"""Fault: configurations whose training diverges (plain SGD with a linear
activation and learning rate 10 reaches a NaN/inf loss in the first epoch on
MNIST), with --max-attempts 2.

The failing task is retried once, then its trial fails with the error text
(the trial's other tasks are cancelled); its mean_test_score is NaN (null in
JSON, empty in CSV) and it ranks last, rank = finite trials + 1 as in
scikit-learn; the other trials, the refit and the sweep finish (done)."""
import csv
import io

from harness import Cluster, check, finish, need_data

need_data("mnist-10k")
SPEC = """
name: fault-diverge
dataset: mnist-10k
method: grid
cv: {folds: 3, seed: 3}
refit: true
parameters:
  units: {values: [8, 16]}
  learning_rate: {values: [0.01, 10.0]}
  activation: {value: linear}
  optimizer: {value: sgd}
  batch_size: {value: 64}
  epochs: {value: 2}
"""
DIVERGED = "training diverged (loss is NaN/inf)"

c = Cluster(name="diverge")
c.start_coordinator("--max-attempts", "2")
c.start_worker(slots=1, name="w0")
c.start_worker(slots=1, name="w1")
sweep = c.launch(SPEC)
state = c.wait_sweep(sweep, timeout=120)
check(state == "done", f"sweep state {state}")
res = c.results(sweep)
sw, cv = res["sweep"], res["cv_results"]
lr = cv["param_learning_rate"]
bad = [i for i in range(len(lr)) if lr[i] == 10]
good = [i for i in range(len(lr)) if lr[i] != 10]
check(len(bad) == 2 and len(good) == 2, f"learning rates {lr}")
check(sw["trials_failed"] == 2 and sw["trials_done"] == 2,
      f"trials failed/done {sw['trials_failed']}/{sw['trials_done']}")
check(sw["refit_test_score"] is not None and sw["refit_test_score"] > 0.5,
      f"refit {sw['refit_test_score']}")
check(sw["best_trial"] in [cv["trial"][i] for i in good], f"best trial {sw['best_trial']}")

# JSON: NaN is null; the failed trials rank last, tied at finite + 1.
n_finite = len(good)
for i in bad:
    check(cv["state"][i] == "failed", f"trial {cv['trial'][i]} state {cv['state'][i]}")
    check(cv["mean_test_score"][i] is None and cv["std_test_score"][i] is None,
          f"failed trial mean/std {cv['mean_test_score'][i]}/{cv['std_test_score'][i]}")
    check(cv["rank_test_score"][i] == n_finite + 1,
          f"failed trial rank {cv['rank_test_score'][i]}, want {n_finite + 1}")
means = [cv["mean_test_score"][i] for i in good]
for i in good:
    want = 1 + sum(1 for m in means if m > cv["mean_test_score"][i])
    check(cv["rank_test_score"][i] == want, f"trial {cv['trial'][i]} rank {cv['rank_test_score'][i]}")

# CSV: NaN is an empty field; rank is there.
rows = list(csv.DictReader(io.StringIO(c.cli("results", str(sweep), "--format", "csv").stdout)))
for r in rows:
    if r["param_learning_rate"] in ("10", "10.0"):
        check(r["mean_test_score"] == "" and r["std_test_score"] == "",
              f"csv failed trial: mean {r['mean_test_score']!r} std {r['std_test_score']!r}")
        check(r["rank_test_score"] == str(n_finite + 1), f"csv rank {r['rank_test_score']!r}")
    else:
        check(r["mean_test_score"] != "", f"csv good trial without a mean: {r}")
# The table names the error.
table = c.cli("results", str(sweep)).stdout
check(DIVERGED in table, "the results table does not show the trial's error:\n" + table)

# Journal: per failed trial one task failed after exactly 2 attempts (both
# diverged), the others cancelled; the error is on the trial.
failed_trials = c.q("SELECT trial, error FROM trials WHERE state = 'failed'")
check(len(failed_trials) == 2, f"failed trials {failed_trials}")
for trial, err in failed_trials:
    check(err is not None and DIVERGED in err, f"trial {trial} error {err!r}")
    tasks = c.q("SELECT id, state FROM tasks WHERE trial = ? AND refit = 0", trial)
    failed = [t for t, st in tasks if st == "failed"]
    check(len(failed) == 1, f"trial {trial}: failed tasks {tasks}")
    check(all(st in ("failed", "cancelled") for _, st in tasks), f"trial {trial} tasks {tasks}")
    for t in failed:
        att = c.q("SELECT attempt, outcome, error FROM attempts WHERE task = ? ORDER BY attempt", t)
        check(len(att) == 2 and all(a[1] == "failed" and DIVERGED in (a[2] or "") for a in att),
              f"task {t}: attempts {att}, want 2 diverged")
    for t, st in tasks:
        if st == "cancelled":
            n = c.q("SELECT COUNT(*) FROM attempts WHERE task = ? AND outcome = 'failed'", t)[0][0]
            check(n <= 1, f"cancelled task {t} failed {n} times")
ok = c.q("SELECT COUNT(*) FROM tasks t JOIN trials r ON t.trial = r.trial "
         "WHERE r.state = 'done' AND t.refit = 0 AND t.state = 'done'")[0][0]
check(ok == 6, f"{ok} done tasks in the good trials, want 6")
check(len(c.log_events("coordinator", "task failed; retrying")) >= 2, "no retry logged")
check(len(c.log_events("coordinator", "task failed for good")) == 2, "'failed for good' lines")
div = [e for w in ("w0", "w1") for e in c.log_events(w, "result") if e.get("diverged") == "true"]
check(len(div) >= 4, f"{len(div)} diverged results in the worker logs")
print(f"FIGURES failing_config: failed_trials=2 diverged_results={len(div)} "
      f"rank_failed={n_finite + 1} sweep={state}")
finish()
