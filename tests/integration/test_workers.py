"""A worker started mid-sweep receives work, and a worker whose copy of the
dataset has a different fingerprint receives none for that sweep (and the
coordinator logs why)."""
import os
import shutil
import tempfile
import time

from harness import DATA, Cluster, check, finish, need_data

need_data("mnist-10k")
need_data("fashion-mnist")
SPEC = """
name: join
dataset: mnist-10k
method: grid
cv: {folds: 4, seed: 3}
refit: false
parameters:
  units: {values: [8, 16, 24, 32, 40]}
  epochs: {value: 30}
  batch_size: {value: 32}
"""

# A data dir whose "mnist-10k" holds other bytes (Fashion-MNIST's files): same
# name and shape, different fingerprint.
fake = tempfile.mkdtemp(prefix="hpt-fake-")
os.makedirs(os.path.join(fake, "mnist-10k"))
for f in os.listdir(os.path.join(DATA, "fashion-mnist")):
    shutil.copy(os.path.join(DATA, "fashion-mnist", f), os.path.join(fake, "mnist-10k", f))

c = Cluster(name="join")
c.start_coordinator()
c.start_worker(slots=1, name="early")
c.start_worker(slots=2, name="impostor", data=fake)
sweep = c.launch(SPEC)
# Let the first worker get going, then add one.  (30 epochs: the early
# worker trains the 8- to 32-unit trials of a fold as one bundle, so with
# 10 it could finish the sweep before the late worker is up.)
t0 = time.time()
while time.time() - t0 < 60:
    done = c.results(sweep)["sweep"]["tasks_done"]
    if done >= 2:
        break
    time.sleep(0.1)
c.start_worker(slots=1, name="late")
check(c.wait_sweep(sweep) == "done", "sweep did not finish")

out = c.cli("workers").stdout
rows = {line.split()[0]: line for line in out.splitlines()[1:] if line.strip()}
db = c.db()
by = dict(db.execute("SELECT w.name, COUNT(*) FROM attempts a JOIN workers w ON a.worker = w.id "
                     "WHERE a.outcome = 'done' GROUP BY w.name").fetchall())
check(by.get("late", 0) > 0, f"the late worker ran nothing: {by}")
check(by.get("early", 0) > 0, f"the early worker ran nothing: {by}")
check(by.get("impostor", 0) == 0, f"the worker with the wrong fingerprint ran tasks: {by}")
# The mismatch is logged by coord_sched.c's worker_fits, naming this
# sweep, the impostor and the sweep's own fingerprint.  The routine
# "dataset fingerprint adopted" line does not count.
MISMATCH = "worker's dataset fingerprint differs from the sweep's; no tasks for it"
impostor = c.worker_id("impostor")
sweep_fp = db.execute("SELECT fingerprint FROM sweeps WHERE id = ?", (sweep,)).fetchone()[0]
check(sweep_fp and sweep_fp != "dry-run", f"the sweep has no dataset fingerprint: {sweep_fp!r}")
mism = c.log_events("coordinator", MISMATCH)
check(mism, f"no fingerprint-mismatch line in the coordinator's log:\n{c.coord_log()}")
for ev in mism:
    check(ev.get("level") == "warn", f"mismatch not logged as a warning: {ev}")
    check(ev.get("sweep") == str(sweep), f"mismatch line names sweep {ev.get('sweep')}, "
          f"not {sweep}: {ev}")
    check(ev.get("worker") == impostor, f"mismatch line names worker {ev.get('worker')}, "
          f"not the impostor {impostor}: {ev}")
    check(ev.get("dataset") == "mnist-10k",
          f"mismatch line names dataset {ev.get('dataset')}: {ev}")
    check(bool(sweep_fp) and ev.get("want") == sweep_fp[:12],
          f"mismatch line wants {ev.get('want')}, the sweep's fingerprint is {sweep_fp}: {ev}")
finish()
