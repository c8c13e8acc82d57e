"""A --dry-run worker cannot serve a real sweep (issue 11, finding 4): it
trains nothing and scores a test objective, so its "results" would mix with
real ones.  It advertises the fingerprint "dry-run"; the coordinator gives it
only sweeps that set test_objective.

Checks, through real daemons:
  - with only a dry-run worker connected, a real sweep (no test_objective)
    leases nothing; the coordinator logs why, once, naming the worker;
  - a real worker that joins runs every task of that sweep, the dry-run one
    none, and the sweep finishes;
  - the same dry-run worker does take a sweep that sets test_objective."""
import time

from harness import Cluster, check, finish, need_data

need_data("mnist-10k")
REAL = """
name: real
dataset: mnist-10k
method: grid
cv: {folds: 2, seed: 1}
refit: false
parameters:
  units: {values: [8, 16]}
  epochs: {value: 1}
  batch_size: {value: 128}
"""
TEST = REAL.replace("name: real", "name: objective").replace(
    "refit: false", "refit: false\ntest_objective: hash")

c = Cluster(name="dryrunpin")
c.start_coordinator()
c.start_worker(name="fake", extra=["--dry-run", "--dataset", "mnist-10k"])
fid = c.worker_id("fake")
c.wait_log("coordinator", "worker joined", worker=fid, timeout=30)
s1 = c.launch(REAL)
ev = c.wait_log("coordinator", msg="a --dry-run worker gets only sweeps that set test_objective; "
                "no tasks for it", worker=fid, timeout=20)
check(ev is not None, "no refusal logged for the dry-run worker:\n" + c.coord_log())
time.sleep(1.0)
leased = c.q("SELECT COUNT(*) FROM attempts")[0][0]
check(leased == 0, f"{leased} attempts leased with only a dry-run worker connected")
n_ev = len(c.log_events("coordinator", msg=ev["msg"] if ev else "x", worker=fid))
check(n_ev == 1, f"the refusal was logged {n_ev} times, not once")

c.start_worker(name="real", extra=["--dataset", "mnist-10k"])
rid = c.worker_id("real")
check(c.wait_sweep(s1, timeout=120) == "done", "the real sweep did not finish")
by = dict(c.q("SELECT worker, COUNT(*) FROM attempts a JOIN tasks t ON t.id = a.task "
              "WHERE t.sweep = ? GROUP BY worker", s1))
check(set(by) == {rid}, f"attempts of the real sweep by worker: {by}")

s2 = c.launch(TEST)
check(c.wait_sweep(s2, timeout=120) == "done", "the test_objective sweep did not finish")
by2 = dict(c.q("SELECT worker, COUNT(*) FROM attempts a JOIN tasks t ON t.id = a.task "
               "WHERE t.sweep = ? GROUP BY worker", s2))
check(fid in by2, f"the dry-run worker ran nothing of the test_objective sweep: {by2}")
finish()
