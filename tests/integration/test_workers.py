"""A worker started mid-sweep receives work, and a worker whose copy of the
dataset has a different fingerprint receives none for that sweep (and the
coordinator logs why)."""
import os
import shutil
import tempfile
import time

from harness import DATA, Cluster, check, finish, need_data

need_data("mnist")
need_data("fashion-mnist")
SPEC = """
name: join
dataset: mnist
method: grid
cv: {folds: 4, seed: 3}
refit: false
parameters:
  units: {values: [8, 16, 24, 32, 40]}
  epochs: {value: 10}
  batch_size: {value: 32}
"""

# A data dir whose "mnist" holds other bytes (Fashion-MNIST's files): same
# name and shape, different fingerprint.
fake = tempfile.mkdtemp(prefix="hpt-fake-")
os.makedirs(os.path.join(fake, "mnist"))
for f in os.listdir(os.path.join(DATA, "fashion-mnist")):
    shutil.copy(os.path.join(DATA, "fashion-mnist", f), os.path.join(fake, "mnist", f))

c = Cluster(name="join")
c.start_coordinator()
c.start_worker(slots=1, name="early")
c.start_worker(slots=2, name="impostor", data=fake)
sweep = c.launch(SPEC)
# Let the first worker get going, then add one.
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
check("fingerprint differs" in c.coord_log() or "fingerprint" in c.cli("logs").stdout,
      "no log line about the fingerprint mismatch")
finish()
