"""Fault: the coordinator is SIGKILLed at random moments of a real sweep
(three times during the folds, once during the refit) and restarted on the
same journal each time; the workers are not restarted.

The sweep completes; no finished fold is computed again: the journal has
exactly one 'done' attempt per task and no failed or revoked attempt, and a
task computed twice by the workers (their "result" log lines) is one whose
first result was in flight at a kill; the final cv_results equal an
uninterrupted run's bit for bit (fit_time excluded) and so does the refit
score.  The kill moments are random: the seed is printed, and HPT_FAULT_SEED
replays it.

Two deterministic cases follow, for what the random kills hit only now and
then:
  in-flight result: the coordinator is frozen during a task's last epoch,
      the worker sends its Result into the frozen socket, the coordinator is
      killed (the Result dies with it) and restarted.  The worker re-attaches
      to a lease it no longer runs; the task must be run again promptly and
      without counting a failed attempt.
  re-attached lease and the deadline: --task-deadline-s 60, a kill in the
      middle of a task; the lease re-attached after the restart must not be
      revoked (it has run for about a second, not for the machine's uptime)
      and its attempt must finish 'done'."""
import math
import os
import random
import statistics
import time

from harness import Cluster, check, cv_key, epoch_seconds, finish, need_data

need_data("mnist-10k")
seed = int(os.environ.get("HPT_FAULT_SEED", time.time_ns() % 2**32))
rnd = random.Random(seed)
print(f"seed={seed} (HPT_FAULT_SEED={seed} replays these kill moments)")
UNITS = 48
EPOCH_S = epoch_seconds(UNITS, 32, "1/3")
EPOCHS = max(2, math.ceil(0.3 / EPOCH_S))
SPEC = f"""
name: fault-crash
dataset: mnist-10k
method: grid
cv: {{folds: 3, seed: 21}}
refit: true
parameters:
  units: {{values: [{UNITS}, {UNITS + 8}, {UNITS + 16}]}}
  batch_size: {{values: [32, 64]}}
  epochs: {{value: {EPOCHS}}}
"""
N_FOLDS = 6 * 3
N_TASKS = N_FOLDS + 1
WORKER_ARGS = ["--reconnect-ms", "100", "--reconnect-max-ms", "400"]

c = Cluster(name="crash")
c.start_coordinator()
workers = [c.start_worker(slots=1, name=n, extra=WORKER_ARGS) for n in ("w0", "w1")]
sweep = c.launch(SPEC)
done_q = "SELECT COUNT(*) FROM attempts a JOIN tasks t ON t.id = a.task " \
         "WHERE a.outcome = 'done' AND t.refit = 0"
c.wait_for(lambda: c.q(done_q)[0][0] >= 2, timeout=120, what="two tasks done")
D = statistics.median(e - l for l, e in c.q("SELECT leased, ended FROM attempts WHERE outcome = 'done'"))
print(f"epochs={EPOCHS} task_s={D:.2f}")

kills = []   # (t_kill, t_back, sweep state in the journal at the kill)


def crash(what, within):
    time.sleep(rnd.uniform(0, within))   # a random moment of the phase: the scenario
    t = c.kill(c.coord)
    st = c.q("SELECT state FROM sweeps WHERE id = ?", sweep)[0][0]
    time.sleep(rnd.uniform(0, 0.5))   # down for a while: the workers go on training
    c.start_coordinator()
    kills.append((t, time.time(), st))
    print(f"killed during {what} at +{t - t0:.2f} s (journal: {st}), back after "
          f"{kills[-1][1] - t:.2f} s", flush=True)


t0 = time.time()
for frac in sorted(rnd.uniform(0.15, 0.85) for _ in range(3)):
    target = int(frac * N_FOLDS)
    c.wait_for(lambda: c.q(done_q)[0][0] >= target, timeout=120, what=f"{target} folds done")
    if c.q("SELECT state FROM sweeps WHERE id = ?", sweep)[0][0] != "running":
        break
    crash(f"the folds ({target}/{N_FOLDS} done)", D)
# And once during the refit.
c.wait_for(lambda: c.q("SELECT 1 FROM attempts a JOIN tasks t ON t.id = a.task "
                       "WHERE t.refit = 1 AND a.outcome IS NULL"),
           timeout=120, what="the refit leased")
crash("the refit", 0.5 * D)   # the refit trains on 3/2 of a fold's rows: still running
state = c.wait_sweep(sweep, timeout=180)
check(state == "done", f"sweep state {state}")
res = c.results(sweep)

# --- the journal: every task done exactly once, nothing failed or revoked --
att = c.q("SELECT task, attempt, worker, outcome, error FROM attempts")
done = [a for a in att if a[3] == "done"]
check(len(done) == N_TASKS and len({a[0] for a in done}) == N_TASKS,
      f"{len(done)} done attempts over {len({a[0] for a in done})} tasks, want {N_TASKS}")
bad = [a for a in att if a[3] not in ("done", "lost")]
check(not bad, f"failed/cancelled attempts after coordinator crashes: {bad}")
revoked = c.log_events("coordinator", "lease revoked")
check(not revoked, f"leases revoked after a restart: {[(e['task'], e['reason']) for e in revoked]}")
resumed = c.log_events("coordinator", "sweep resumed from the journal")
unfinished = sum(1 for k in kills if k[2] not in ("done", "failed", "cancelled"))
check(len(resumed) == unfinished, f"{len(resumed)} resumes for {unfinished} restarts of an "
      f"unfinished sweep (journal states at the kills: {[k[2] for k in kills]})")
check(kills[-1][2] == "refitting", f"the last kill was not during the refit: {kills[-1][2]}")
reattached = sum(int(e["leases"]) for e in c.log_events(
    "coordinator", "worker re-attached to its leases from before the restart"))
awaiting = sum(int(e["leases_awaiting_workers"]) for e in resumed)

# --- the workers: a task computed twice only when its result was in flight --
results = {}
for n in ("w0", "w1"):
    for e in c.log_events(n, "result"):
        results.setdefault(int(e["task"]), []).append(e["_t"])
twice = {t: v for t, v in results.items() if len(v) > 1}
for t, ts in twice.items():
    first = min(ts)
    inflight = any(k - 0.5 <= first <= k + 0.1 for k, _, _ in kills)
    check(inflight, f"task {t} computed {len(ts)} times; its first result (at +{first - t0:.2f} s)"
          f" was not in flight at a kill (kills at {[round(k - t0, 2) for k, _, _ in kills]})")
check(set(results) == {a[0] for a in done}, "tasks computed by the workers != tasks done")
check(all(p.poll() is None for p in workers), "a worker died")
print(f"FIGURES coord_crash: seed={seed} kills={len(kills)} leases_awaiting={awaiting} "
      f"reattached={reattached} recomputed={len(twice)} lost_attempts="
      f"{sum(1 for a in att if a[3] == 'lost')} executions={sum(len(v) for v in results.values())} "
      f"tasks={N_TASKS}")
c.stop()

# --- an uninterrupted run gives the same numbers ---------------------------
r = Cluster(name="crash-ref")
r.start_coordinator()
r.start_worker(slots=2)
s = r.launch(SPEC)
check(r.wait_sweep(s, timeout=180) == "done", "reference sweep did not finish")
ref = r.results(s)
check(cv_key(res) == cv_key(ref), f"cv_results differ from the uninterrupted run:\n{cv_key(res)}\n{cv_key(ref)}")
check(res["sweep"]["refit_test_score"] == ref["sweep"]["refit_test_score"],
      f"refit {res['sweep']['refit_test_score']} vs {ref['sweep']['refit_test_score']}")
r.stop()

SMALL = f"""
name: crash-small
dataset: mnist-10k
method: grid
cv: {{folds: 2, seed: 4}}
refit: false
parameters:
  units: {{values: [{UNITS}]}}
  epochs: {{value: {{epochs}}}}
"""
E_IN = max(4, EPOCHS * 2)                          # about 0.6 s a task
E_DL = max(4, math.ceil(2.5 / EPOCH_S))            # about 2.5 s a task


def verdict(tag, cl, sw, t_back, task, attempt, want, timeout):
    try:
        st = cl.wait_sweep(sw, timeout=timeout)
    except RuntimeError:
        st = "stuck"
    took = time.time() - t_back
    check(st == "done", f"{tag}: sweep {st} {took:.1f} s after the restart")
    a = cl.q("SELECT attempt, worker, outcome, error FROM attempts WHERE task = ? ORDER BY attempt", task)
    rv = cl.log_events("coordinator", "lease revoked")
    check(not rv, f"{tag}: re-attached lease revoked: {[(e['task'], e['reason']) for e in rv]}")
    check(all(x[2] in ("done", "lost") for x in a), f"{tag}: task {task} attempts {a}")
    if want == "same-attempt":
        check(any(x[0] == attempt and x[2] == "done" for x in a),
              f"{tag}: the re-attached attempt {attempt} of task {task} did not finish: {a}")
    per = cl.q("SELECT COUNT(*), SUM(state = 'done') FROM tasks")[0]
    check(st != "done" or per[0] == per[1], f"{tag}: tasks {per}")
    print(f"FIGURES coord_crash-{tag}: state={st} after_restart_s={took:.1f} task={task} "
          f"attempts={a} revoked={len(rv)}")


# --- a Result in flight at the kill ------------------------------------------
f = Cluster(name="crash-inflight")
LIVE = ["--hb-liveness", "30", "-v"]   # the worker waits 3 s before reconnecting
f.start_coordinator(*LIVE)
f.start_worker(slots=1, name="w0", extra=WORKER_ARGS)
fs = f.launch(SMALL.replace("{epochs}", str(E_IN)))
ev = f.wait_log("coordinator", "progress", epoch=f"{E_IN // 2}/{E_IN}", timeout=60)
f.pause(f.coord)   # frozen in mid-task: the Result will go into its socket
task = int(ev["task"])
res_ev = f.wait_log("w0", "result", task=task, timeout=30)
queued = f.log_events("w0", "result queued until reconnect", task=task)
attempt = int(res_ev["attempt"]) if res_ev else 0
f.kill(f.coord)
open_ = f.q("SELECT outcome FROM attempts WHERE task = ? AND attempt = ?", task, attempt)
check(res_ev is not None and not queued and open_ == [(None,)],
      f"in-flight: precondition (result sent to the frozen coordinator, not journaled): "
      f"result {res_ev}, queued {queued}, journal {open_}")
f.start_coordinator(*LIVE)
verdict("inflight", f, fs, time.time(), task, attempt, "rerun", 30)
f.stop()

# --- a re-attached lease and the deadline -------------------------------------
g = Cluster(name="crash-deadline")
g.start_coordinator("--task-deadline-s", "60")
g.start_worker(slots=1, name="w0", extra=WORKER_ARGS)
gs = g.launch(SMALL.replace("{epochs}", str(E_DL)))   # still running at the next check
row = g.wait_for(lambda: g.q("SELECT task, attempt FROM attempts WHERE outcome IS NULL"),
                 timeout=60, what="a lease")[0]
# Kill only once the worker has the Assign (the journal records the lease
# before it is sent), so that it holds the lease to re-attach.
check(g.wait_log("w0", "assign", task=row[0], attempt=row[1], timeout=30) is not None,
      f"w0 never logged the Assign of task {row[0]} attempt {row[1]}")
g.kill(g.coord)
g.start_coordinator("--task-deadline-s", "60")
verdict("deadline", g, gs, time.time(), row[0], row[1], "same-attempt", 60)
finish()
