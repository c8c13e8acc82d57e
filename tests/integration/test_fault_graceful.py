"""Fault: graceful stops.

Worker: SIGTERM in the middle of a task.  It says Goodbye{drain}
(the coordinator logs "worker draining"), finishes the running task (the
result is accepted: the same attempt ends 'done'), gets no new task, and
exits 0.

Coordinator: SIGTERM in the middle of a sweep.  It exits 0 within two
seconds; the journal passes PRAGMA integrity_check and is consistent; a
restart on it resumes the sweep, which completes (the workers stay up and
register again) with the results of an uninterrupted run."""
import math
import sqlite3
import time

from harness import Cluster, check, cv_key, epoch_seconds, finish, need_data

need_data("mnist-10k")
UNITS = 64
EPOCHS = max(2, math.ceil(0.5 / epoch_seconds(UNITS, 32, "1/2")))
SPEC = f"""
name: fault-graceful
dataset: mnist-10k
method: grid
cv: {{folds: 2, seed: 19}}
refit: true
parameters:
  units: {{values: [{UNITS}, {UNITS + 4}, {UNITS + 8}]}}
  epochs: {{value: {EPOCHS}}}
"""
N_TASKS = 3 * 2 + 1
WARGS = ["--reconnect-ms", "100", "--reconnect-max-ms", "400"]

# --- a worker drains ---------------------------------------------------------
c = Cluster(name="graceful-w")
c.start_coordinator()
a = c.start_worker(slots=1, name="A", extra=WARGS)
c.start_worker(slots=1, name="B", extra=WARGS)
aid = c.worker_id("A")
sweep_a = c.launch(SPEC)
task, attempt = c.wait_for(lambda: c.q("SELECT task, attempt FROM attempts WHERE worker = ? AND "
                                       "outcome IS NULL AND leased > ?", aid, time.time() - 0.15),
                           timeout=60, what="a fresh lease on A")[0]
t_term = time.time()
a.send_signal(15)
try:
    rc = a.wait(60)
except Exception:
    rc = None
t_exit = time.time()
check(rc == 0, f"draining worker exited {rc}")
drain = c.log_events("A", "draining: finishing running tasks, then exiting")
check(len(drain) == 1 and drain[0].get("running") == "1", f"A's drain line: {drain}")
draining = c.wait_log("coordinator", "worker draining", worker=aid, timeout=5)
check(draining is not None, "the coordinator never logged 'worker draining' (no Goodbye{drain})")
ATT = "SELECT worker, outcome FROM attempts WHERE task = ? AND attempt = ? AND outcome IS NOT NULL"
out = c.wait_for(lambda: c.q(ATT, task, attempt), timeout=10, what="the drained task's outcome")
check(out == [(aid, "done")], f"the task A was running at SIGTERM ended {out}, want done by A")
late = [e for e in c.log_events("A", "assign") if e["_t"] > t_term]
check(not late, f"A got tasks after SIGTERM: {late}")
check(c.q("SELECT COUNT(*) FROM attempts WHERE worker = ? AND leased > ?", aid, t_term)[0][0] == 0,
      "the coordinator leased to A after its SIGTERM")
check(c.wait_sweep(sweep_a, timeout=180) == "done", "sweep did not finish after the drain")
res_a = c.results(sweep_a)
print(f"FIGURES graceful-worker: sigterm_to_exit_ms={(t_exit - t_term) * 1000:.0f} "
      f"goodbye_ms={(draining['_t'] - t_term) * 1000 if draining else -1:.0f} task={task} outcome={out}")
c.stop()

# --- the coordinator stops and restarts -------------------------------------
c = Cluster(name="graceful-c")
c.start_coordinator()
for n in ("A", "B"):
    c.start_worker(slots=1, name=n, extra=WARGS)
sweep = c.launch(SPEC)
c.wait_for(lambda: c.q("SELECT COUNT(*) FROM attempts WHERE outcome = 'done'")[0][0] >= 2 and
           c.q("SELECT COUNT(*) FROM attempts WHERE outcome IS NULL")[0][0] >= 1,
           timeout=120, what="two tasks done and one running")
t_term = time.time()
c.coord.send_signal(15)
try:
    rc = c.coord.wait(10)
except Exception:
    rc = None
stop_ms = (time.time() - t_term) * 1000
check(rc == 0, f"coordinator exited {rc} after SIGTERM")
check(stop_ms < 2000, f"coordinator took {stop_ms:.0f} ms to stop")
check(c.log_events("coordinator", "stopped") != [], "no 'stopped' line")
db = sqlite3.connect(c.db_path)
check(db.execute("PRAGMA integrity_check").fetchall() == [("ok",)], "integrity_check after SIGTERM")
# Consistent: a done task has exactly one done attempt, with its attempt
# number; a leased task has its current attempt open; nothing else is open.
for tid, st, att in db.execute("SELECT id, state, attempt FROM tasks"):
    rows = db.execute("SELECT attempt, outcome FROM attempts WHERE task = ?", (tid,)).fetchall()
    if st == "done":
        check([r for r in rows if r[1] == "done"] == [(att, "done")], f"done task {tid}: {rows}")
    elif st == "leased":
        check((att, None) in rows, f"leased task {tid} attempt {att}: {rows}")
    check(all(r[1] is not None for r in rows if not (st == "leased" and r[0] == att)),
          f"task {tid} ({st}) has an open attempt that is not current: {rows}")
leased = db.execute("SELECT COUNT(*) FROM tasks WHERE state = 'leased'").fetchone()[0]
check(db.execute("SELECT state FROM sweeps WHERE id = ?", (sweep,)).fetchone()[0] == "running",
      "sweep state after the stop")
db.close()
c.start_coordinator()
check(c.wait_sweep(sweep, timeout=180) == "done", "the resumed sweep did not finish")
res_c = c.results(sweep)
fails = c.q("SELECT task, attempt, outcome, error FROM attempts WHERE outcome NOT IN ('done', 'lost')")
check(not fails, f"attempts failed after a graceful restart: {fails}")
check(c.q("SELECT COUNT(*) FROM attempts WHERE outcome = 'done'")[0][0] == N_TASKS, "done attempts")
print(f"FIGURES graceful-coordinator: sigterm_to_exit_ms={stop_ms:.0f} leases_at_stop={leased}")
c.stop()

r = Cluster(name="graceful-ref")
r.start_coordinator()
r.start_worker(slots=2)
s = r.launch(SPEC)
check(r.wait_sweep(s, timeout=180) == "done", "reference sweep did not finish")
ref = r.results(s)
for tag, res in (("worker drain", res_a), ("coordinator restart", res_c)):
    check(cv_key(res) == cv_key(ref), f"{tag}: cv_results differ from the uninterrupted run")
    check(res["sweep"]["refit_test_score"] == ref["sweep"]["refit_test_score"], f"{tag}: refit score")
finish()
