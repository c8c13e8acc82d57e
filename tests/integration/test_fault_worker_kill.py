"""Fault: a worker is SIGKILLed mid-sweep (real training on MNIST, 3 workers).

After liveness the coordinator declares it dead; the tasks it held at the
kill go back to the queue, their next lease carries attempt + 1 and they
finish on another worker.  Only those folds run twice: in the journal the
attempts with outcome 'lost' are exactly the killed worker's leases at the
kill (plus any lease the coordinator sent it between the kill and noticing
it, which the victim never saw), every (trial, fold) has exactly one done
task, executions = tasks +
lost, the surviving workers computed every other task once, and the final
cv_results equal an uninterrupted run's bit for bit (fit_time excluded),
refit included.  Prints the detection and re-lease times."""
from harness import Cluster, check, cv_key, finish, need_data

need_data("mnist-10k")
SPEC = """
name: fault-kill
dataset: mnist-10k
method: grid
cv: {folds: 4, seed: 5}
refit: true
parameters:
  units: {values: [16, 32, 48]}
  batch_size: {values: [64, 128]}
  epochs: {value: 4}
"""
N_TASKS = 6 * 4 + 1   # folds + the refit


def reference():
    c = Cluster(name="kill-ref")
    c.start_coordinator()
    c.start_worker(slots=2)
    sweep = c.launch(SPEC)
    check(c.wait_sweep(sweep, timeout=240) == "done", "reference sweep did not finish")
    res = c.results(sweep)
    c.stop()
    return res


c = Cluster(name="kill")
c.start_coordinator()
for n in ("w0", "w1", "victim"):
    c.start_worker(slots=1, name=n)
vid = c.worker_id("victim")
sweep = c.launch(SPEC)

# Kill the victim while it holds a lease, a few tasks into the sweep.
done_q = "SELECT COUNT(*) FROM attempts WHERE outcome = 'done'"
open_q = "SELECT COUNT(*) FROM attempts WHERE worker = ? AND outcome IS NULL"
c.wait_for(lambda: c.q(done_q)[0][0] >= 5, timeout=120, what="5 tasks done")
c.wait_for(lambda: c.q(open_q, vid)[0][0] > 0, timeout=60, what="a lease held by the victim")
t_kill = c.kill(c.workers[2])
check(c.wait_sweep(sweep, timeout=240) == "done", "sweep did not finish after the kill")
res = c.results(sweep)

# --- the journal ---------------------------------------------------------
att = c.q("SELECT task, attempt, worker, leased, ended, outcome, error FROM attempts")
lost = [a for a in att if a[5] == "lost"]
left = c.log_events("coordinator", "worker left", worker=vid)
check(len(left) == 1, f"'worker left' lines for the victim: {left}")
t_left = left[0]["_t"] + 0.002 if left else float("inf")   # log times are ms-truncated
check(len(lost) >= 1, f"no lost attempt after killing a worker that held a lease: {att}")
check(all(a[2] == vid for a in lost), f"lost attempts of workers that were not killed: "
      f"{[a for a in lost if a[2] != vid]}")
# Until the coordinator notices the death it may still lease to the victim
# (its slot freed by a result sent just before the kill): such a lease is
# lost too, and must be the only kind leased after the kill.
check(all(a[3] < t_left for a in lost),
      f"a lost attempt leased after the victim was declared dead: {lost}")
victim_att = [a for a in att if a[2] == vid]
check(all(a[5] in ("done", "lost") for a in victim_att), f"victim attempts: {victim_att}")
check(all(a[3] < t_kill or a[5] == "lost" for a in victim_att),
      f"an attempt leased to the victim after its death and not lost: {victim_att}")
check(all(a[3] < t_left for a in victim_att),
      "an attempt leased to the victim after it was declared dead")
late = {(a[0], a[1]) for a in lost if a[3] >= t_kill}   # never reached the victim
check(all(a[5] == "done" for a in att if a[2] != vid),
      f"other outcomes than done on live workers: {[a for a in att if a[2] != vid and a[5] != 'done']}")
by = {(a[0], a[1]): a for a in att}
for a in lost:
    nxt = by.get((a[0], a[1] + 1))
    check(nxt is not None, f"task {a[0]}: no attempt {a[1] + 1} after the lost attempt {a[1]}")
    done = [b for b in att if b[0] == a[0] and b[5] == "done"]
    check(len(done) == 1 and done[0][2] != vid and done[0][1] == a[1] + 1,
          f"task {a[0]}: lost attempt {a[1]}, then {done}")

# The victim's leases at the kill = its assigns without a result in its log.
assigned = {(int(e["task"]), int(e["attempt"])) for e in c.log_events("victim", "assign")}
resulted = {(int(e["task"]), int(e["attempt"])) for e in c.log_events("victim", "result")}
check({(a[0], a[1]) for a in lost} - late == assigned - resulted,
      f"lost {[(a[0], a[1]) for a in lost]} (sent after the kill: {sorted(late)}) vs victim's "
      f"unfinished {sorted(assigned - resulted)}")
check(not late & assigned, f"the victim logged assigns sent after its death: {late & assigned}")

tasks = c.q("SELECT trial, fold, refit, state FROM tasks")
check(len(tasks) == N_TASKS, f"{len(tasks)} tasks, want {N_TASKS}")
per = {}
for t in tasks:
    per.setdefault((t[0], t[1], t[2]), []).append(t[3])
check(all(v == ["done"] for v in per.values()), f"tasks per (trial, fold): {per}")
check(len(att) == N_TASKS + len(lost), f"{len(att)} executions, want {N_TASKS} tasks + {len(lost)} lost")
check(sum(1 for a in att if a[5] == "done") == N_TASKS, "done attempts != tasks")

# Workers: each task computed once, except the victim's unfinished ones.
computed = [(int(e["task"]), int(e["attempt"])) for n in ("w0", "w1", "victim")
            for e in c.log_events(n, "result")]
check(len(computed) == N_TASKS and len(set(t for t, _ in computed)) == N_TASKS,
      f"{len(computed)} results computed by the workers, want {N_TASKS} distinct tasks")

# --- detection ---------------------------------------------------------------
detect_ms = (left[0]["_t"] - t_kill) * 1000 if left else float("nan")
relet_ms = max((by[(a[0], a[1] + 1)][3] - t_kill) * 1000 for a in lost
               if (a[0], a[1] + 1) in by) if lost else float("nan")
limit_ms = c.hb_ms * c.liveness + c.hb_ms   # expiry + one cron period + slack
check(detect_ms <= limit_ms + 200, f"detection took {detect_ms:.0f} ms (liveness {limit_ms} ms)")
print(f"FIGURES worker_kill: lost={len(lost)} detect_ms={detect_ms:.0f} "
      f"reason=\"{left[0].get('reason') if left else '-'}\" relet_ms={relet_ms:.0f} "
      f"executions={len(att)} tasks={N_TASKS}")

# --- results equal an uninterrupted run --------------------------------------
c.stop()
ref = reference()
check(cv_key(res) == cv_key(ref), f"cv_results differ from the uninterrupted run:\n{cv_key(res)}\n{cv_key(ref)}")
check(res["sweep"]["refit_test_score"] == ref["sweep"]["refit_test_score"],
      f"refit {res['sweep']['refit_test_score']} vs {ref['sweep']['refit_test_score']}")
finish()
