"""Fault: late results.  A worker is frozen (SIGSTOP) in the middle of a task,
so its heartbeats stop: the coordinator declares it dead after liveness and
leases the task again (attempt + 1) to the other worker.  Then the frozen
worker is thawed (SIGCONT): its training thread finishes the old attempt and
sends the result, which must be dropped and logged ("stale or duplicate
result dropped") and never counted.

  phase 1: thawed while the new attempt still runs elsewhere
           -> reason=superseded-attempt
  phase 2: thawed after the new attempt is done (a duplicate for the fold)
           -> reason=task-not-leased

The thawed worker registers again and gets new work.  The journal has
exactly one done task per (trial, fold), the stale attempts stay 'lost', and
cv_results equal an uninterrupted run's.  Prints detection and
re-registration times."""
import math
import statistics
import time

from harness import Cluster, check, cv_key, epoch_seconds, finish, need_data

need_data("mnist-10k")
UNITS = 64
EPOCHS = max(2, math.ceil(0.5 / epoch_seconds(UNITS, 32, "1/2")))   # about 0.5 s a task alone
SPEC = f"""
name: fault-late
dataset: mnist-10k
method: grid
cv: {{folds: 2, seed: 13}}
refit: false
parameters:
  units: {{values: [{", ".join(str(UNITS + i) for i in range(6))}]}}
  batch_size: {{value: 32}}
  epochs: {{value: {EPOCHS}}}
"""
N_TASKS = 12

c = Cluster(name="late")
c.start_coordinator()
a_proc = c.start_worker(slots=1, name="A")
c.start_worker(slots=1, name="B")
aid, bid = c.worker_id("A"), c.worker_id("B")
sweep = c.launch(SPEC)

c.wait_for(lambda: c.q("SELECT COUNT(*) FROM attempts WHERE outcome = 'done'")[0][0] >= 2,
           timeout=120, what="two tasks done")
durs = [e - l for l, e in c.q("SELECT leased, ended FROM attempts WHERE outcome = 'done'")]
D = statistics.median(durs)
print(f"epochs={EPOCHS} task_s={D:.2f}")


def freeze_mid_task(frac):
    """SIGSTOP A at about frac of a task it holds; returns (task, attempt, t)."""
    for _ in range(10):
        # A lease A has just taken, so that frac of D is still ahead of it.
        row = c.wait_for(lambda: c.q("SELECT task, attempt, leased FROM attempts WHERE worker = ? "
                                     "AND outcome IS NULL AND leased > ? ORDER BY leased DESC "
                                     "LIMIT 1", aid, time.time() - 0.2 * D),
                         timeout=60, what="a fresh lease held by A")
        task, attempt, leased = row[0]
        # Let frac of the task's duration pass: the scenario, not a sync.
        time.sleep(max(0.0, leased + frac * D - time.time()))
        t = c.pause(a_proc)   # returns once A is stopped: its log is complete
        if not c.log_events("A", "result", task=task, attempt=attempt):
            return task, attempt, t
        c.resume(a_proc)   # it finished first: try its next task
    raise RuntimeError("could not freeze A in the middle of a task")


def phase(name, frac, wait_done):
    task, attempt, t_stop = freeze_mid_task(frac)
    left = c.wait_log("coordinator", "worker left", worker=aid, after=t_stop, timeout=30)
    check(left is not None, f"{name}: frozen worker never declared dead")
    relet = c.wait_for(lambda: c.q("SELECT worker, leased FROM attempts WHERE task = ? AND "
                                   "attempt = ?", task, attempt + 1),
                       timeout=60, what=f"{name}: attempt {attempt + 1} of task {task}")[0]
    check(relet[0] == bid, f"{name}: attempt {attempt + 1} went to {relet[0]}, not B")
    if wait_done:
        c.wait_for(lambda: c.q("SELECT 1 FROM attempts WHERE task = ? AND attempt = ? AND "
                               "outcome = 'done'", task, attempt + 1),
                   timeout=60, what=f"{name}: attempt {attempt + 1} done")
    t_cont = c.resume(a_proc)
    drop = c.wait_log("coordinator", "stale or duplicate result dropped", task=task,
                      attempt=attempt, after=t_cont, timeout=60)
    rereg = c.wait_for(lambda: [e for e in c.log_events("coordinator", worker=aid) if e["_t"] >= t_cont - 0.005
                                and e["msg"] in ("worker joined", "worker re-registered")],
                       timeout=30, what=f"{name}: A registering again")
    check(drop is not None, f"{name}: no 'stale or duplicate result dropped' for {task}/{attempt}:"
          f"\n{c.coord_log()}")
    check(len(rereg) >= 1, f"{name}: the thawed worker did not register again")
    computed = c.log_events("A", "result", task=task, attempt=attempt)
    check(len(computed) == 1 and computed[0].get("ok") == "true",
          f"{name}: A did not compute its late result: {computed}")
    if drop and rereg:   # (log times are truncated to the millisecond)
        check(rereg[0]["_t"] <= drop["_t"], f"{name}: result dropped before the re-registration")
    print(f"FIGURES late-{name}: task={task} attempt={attempt} "
          f"detect_ms={(left['_t'] - t_stop) * 1000 if left else float('nan'):.0f} "
          f"left_reason=\"{left.get('reason') if left else '-'}\" "
          f"reregister_ms={(rereg[0]['_t'] - t_cont) * 1000 if rereg else float('nan'):.0f} "
          f"drop_reason={drop.get('reason') if drop else '-'}")
    return task, attempt, t_cont, drop, (rereg[0]["_t"] if rereg else t_cont)


t1, a1, _, d1, _ = phase("superseded", 0.7, wait_done=False)
t2, a2, t_cont, d2, t_back = phase("duplicate", 0.5, wait_done=True)
check(d1 is not None and d1["reason"] == "superseded-attempt",
      f"phase 1 drop reason {d1 and d1['reason']}, want superseded-attempt")
check(d2 is not None and d2["reason"] == "task-not-leased",
      f"phase 2 drop reason {d2 and d2['reason']}, want task-not-leased")
check(c.wait_sweep(sweep, timeout=240) == "done", "sweep did not finish")
res = c.results(sweep)

# The thawed worker got new work after its last thaw, if any was handed out
# once it was back: on a loaded machine B may take the last tasks first.
newwork = c.q("SELECT COUNT(*) FROM attempts WHERE worker = ? AND leased > ? AND outcome = 'done'",
              aid, t_cont)[0][0]
later = c.q("SELECT COUNT(*) FROM attempts WHERE leased > ?", t_back)[0][0]
if later >= 3:
    check(newwork >= 1, f"the thawed worker got no new work ({later} leases after it was back)")
else:
    print(f"note: {later} lease(s) after A was back; B took the remaining tasks")
# Journal: exactly one done per (trial, fold); the stale attempts stay lost.
per = c.q("SELECT trial, fold, COUNT(*), SUM(state = 'done') FROM tasks GROUP BY trial, fold")
check(len(per) == N_TASKS and all(r[2] == 1 and r[3] == 1 for r in per), f"tasks: {per}")
for t, a in ((t1, a1), (t2, a2)):
    o = c.q("SELECT outcome FROM attempts WHERE task = ? AND attempt = ?", t, a)
    check(o == [("lost",)], f"stale attempt {t}/{a} outcome {o}")
    d = c.q("SELECT COUNT(*) FROM attempts WHERE task = ? AND outcome = 'done'", t)[0][0]
    check(d == 1, f"task {t}: {d} done attempts")
check(c.q("SELECT COUNT(*) FROM attempts WHERE outcome = 'done'")[0][0] == N_TASKS,
      "done attempts != tasks")
check(res["sweep"]["tasks_done"] == N_TASKS, f"tasks_done {res['sweep']['tasks_done']}")
drops = c.log_events("coordinator", "stale or duplicate result dropped")
check(all(e["worker"] == aid for e in drops), f"unexpected drops: {drops}")
c.stop()

r = Cluster(name="late-ref")
r.start_coordinator()
r.start_worker(slots=2)
s = r.launch(SPEC)
check(r.wait_sweep(s, timeout=240) == "done", "reference sweep did not finish")
ref = r.results(s)
check(cv_key(res) == cv_key(ref), f"cv_results differ from the uninterrupted run:\n{cv_key(res)}\n{cv_key(ref)}")
finish()
