"""Two sweeps queued back to back both finish; cancelling one stops it and
leaves the other to finish."""

from harness import Cluster, check, finish

SPEC = """
name: {name}
dataset: mnist
test_objective: hash   # --dry-run workers serve only such sweeps
method: random
seed: {seed}
cv: {{folds: 3}}
refit: {refit}
parameters:
  units: {{distribution: int_uniform, min: 4, max: 64}}
  learning_rate: {{distribution: log_uniform_values, min: 1.0e-4, max: 1.0e-1}}
  epochs: {{value: 3}}
budget: {{max_trials: {trials}}}
"""

c = Cluster(name="queue")
c.start_coordinator()
c.start_worker(slots=2, name="dry", data="/nonexistent", extra=["--dry-run", "--dataset", "mnist"])
a = c.launch(SPEC.format(name="first", seed=1, refit="true", trials=30))
b = c.launch(SPEC.format(name="second", seed=2, refit="true", trials=30))
check(c.wait_sweep(a) == "done", "first sweep did not finish")
check(c.wait_sweep(b) == "done", "second sweep did not finish")
ra, rb = c.results(a), c.results(b)
check(len(ra["cv_results"]["mean_test_score"]) == 30, "first: 30 trials")
check(len(rb["cv_results"]["mean_test_score"]) == 30, "second: 30 trials")

# Cancel: a long sweep and a short one; cancel the long one.
long_ = c.launch(SPEC.format(name="long", seed=3, refit="false", trials=100000))
short = c.launch(SPEC.format(name="short", seed=4, refit="true", trials=20))
# Cancel it once it is under way (tasks done, more leased), not before it
# started.
c.wait_for(lambda: c.results(long_)["sweep"]["tasks_done"] >= 2, timeout=60,
           what="the long sweep under way")
r = c.cli("cancel", str(long_))
check("cancelled" in r.stdout, "cancel output: " + r.stdout)
check(c.wait_sweep(long_) == "cancelled", "long sweep not cancelled")
check(c.wait_sweep(short) == "done", "short sweep did not finish after the cancel")
r = c.cli("status", str(long_), check_rc=False)
check("cancelled" in r.stdout, "status does not say cancelled: " + r.stdout)
r = c.cli("cancel", "99999", check_rc=False)
check(r.returncode == 1 and "99999" in r.stderr, f"cancel of an unknown sweep: {r.returncode} {r.stderr}")
finish()
