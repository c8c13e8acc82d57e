"""Cancel is acknowledged only once it is in the journal (issue 11,
finding 10), as a submission's id is.

  unwritable journal: another connection holds the journal's write lock, so
      the coordinator cannot commit.  `hptune cancel` must then fail ("cannot
      write its journal"), not print "cancelled": the old coordinator sent
      the acknowledgement before its group commit, and the cancellation it
      acknowledged was lost.  The coordinator stops (exit 1, as on a failed
      commit), and a restart on the same journal shows the sweep not
      cancelled, which is what the client was told.
  crash right after the acknowledgement: `hptune cancel` prints "cancelled",
      the coordinator is killed (SIGKILL) at once, and the restarted
      coordinator shows the sweep cancelled, from its journal."""
import sqlite3
import time

from harness import Cluster, check, exempt, finish, need_data

need_data("mnist-10k")
SPEC = """
name: to-cancel
dataset: mnist-10k
method: grid
cv: {folds: 2, seed: 1}
parameters:
  units: {values: [8, 16]}
  epochs: {value: 1}
"""

c = Cluster(name="cancel")
c.start_coordinator()
sweep = c.launch(SPEC)   # no workers: it stays queued
check(c.sweep_state(sweep) == "queued", f"state {c.sweep_state(sweep)}")

# --- the journal cannot be written -------------------------------------------------

lock = sqlite3.connect(c.db_path, timeout=10, isolation_level=None)
lock.execute("BEGIN IMMEDIATE")   # the write lock; the coordinator's busy timeout is 5 s
t0 = time.time()
r = c.cli("cancel", str(sweep), "--timeout", "30", check_rc=False)
took = time.time() - t0
check(r.returncode != 0 and "cannot write its journal" in r.stderr,
      f"cancel with the journal locked: exit {r.returncode}, stdout {r.stdout!r}, "
      f"stderr {r.stderr!r}")
check("cancelled" not in r.stdout, f"an unjournaled cancellation was acknowledged: {r.stdout!r}")
exempt(c.coord)
try:
    rc = c.coord.wait(30)
except Exception:
    rc = None
check(rc == 1, f"the coordinator did not stop after the failed commit (exit {rc})")
lock.execute("ROLLBACK")
lock.close()
check(c.log_events("coordinator", "cannot journal a cancellation; stopping"),
      "no log line for the failed cancellation")
print(f"  locked journal: cancel refused after {took:.1f}s: {r.stderr.strip()}")

c.start_coordinator()
st = c.sweep_state(sweep)
check(st in ("queued", "running"), f"after the restart the sweep is {st}; the client was told "
      f"the cancellation failed")

# --- killed right after the acknowledgement ----------------------------------------

r = c.cli("cancel", str(sweep))
c.kill(c.coord)   # SIGKILL at once: nothing after the reply runs
check(r.stdout.strip() == f"sweep {sweep} cancelled", f"cancel said {r.stdout!r}")
rows = c.q("SELECT state FROM sweeps WHERE id = ?", sweep)
check(rows == [("cancelled",)], f"journal after the kill: {rows}")
c.start_coordinator()
st = c.sweep_state(sweep)
check(st == "cancelled", f"after the kill and restart the sweep is {st}, want cancelled")
print(f"  killed after the acknowledgement: the sweep is {st} after the restart")
finish()
