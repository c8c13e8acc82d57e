"""Fault: a wedged trainer (hptune-worker --test-stall-epoch 1: heartbeats go
on, progress stops after epoch 1) next to a normal worker.

With --task-stall-s 2 the coordinator revokes the stalled lease ("lease
revoked", reason "stalled: ..."), tells the stuck worker to cancel (its
thread stops without a result), counts a failed attempt and leases the task
to the normal worker, where it finishes; the sweep completes with the
results of an uninterrupted run.  The same with --task-deadline-s 1 (reason
"deadline: ...").  Prints the detection times."""
from harness import Cluster, check, cv_key, finish, need_data

need_data("mnist-10k")
SPEC = """
name: fault-stall
dataset: mnist-10k
method: grid
cv: {folds: 2, seed: 9}
refit: true
parameters:
  units: {values: [8, 16]}
  batch_size: {value: 128}
  epochs: {value: 2}
"""


def run(tag, coord_args, reason, limit):
    c = Cluster(name=f"stall-{tag}")
    c.start_coordinator(*coord_args)
    c.start_worker(slots=1, name="staller", extra=["--test-stall-epoch", "1"])
    sid = c.worker_id("staller")
    sweep = c.launch(SPEC)
    # The staller takes the first task; then a normal worker joins.
    first = c.wait_log("staller", "assign", timeout=60)
    check(first is not None, f"{tag}: the staller got no task")
    c.start_worker(slots=1, name="normal")
    nid = c.worker_id("normal")
    check(c.wait_sweep(sweep, timeout=120) == "done", f"{tag}: sweep did not finish")
    res = c.results(sweep)

    rev = c.log_events("coordinator", "lease revoked")
    check(len(rev) >= 1, f"{tag}: no 'lease revoked' line:\n{c.coord_log()}")
    att = {(a[0], a[1]): a for a in c.q(
        "SELECT task, attempt, worker, outcome, error FROM attempts")}
    for r in rev:
        task, attempt = int(r["task"]), int(r["attempt"])
        check(r["worker"] == sid, f"{tag}: revoked from a worker that did not stall: {r}")
        check(r.get("reason", "").startswith(reason), f"{tag}: revoke reason {r.get('reason')!r}")
        a = att.get((task, attempt))
        check(a is not None and a[3] == "failed" and a[4].startswith(reason),
              f"{tag}: journal of the revoked attempt {task}/{attempt}: {a}")
        cancel = c.log_events("staller", "cancel", task=task, attempt=attempt)
        check(len(cancel) == 1, f"{tag}: the staller was not told to cancel {task}/{attempt}")
        nxt = att.get((task, attempt + 1))
        check(nxt is not None and nxt[2] == nid and nxt[3] == "done",
              f"{tag}: task {task} attempt {attempt + 1} after the revoke: {nxt}")
    stopped = c.log_events("staller", "task stopped after cancel, no result sent")
    check(len(stopped) >= 1, f"{tag}: the staller's thread never stopped after the cancel")
    check(not any(a[2] == sid and a[3] == "done" for a in att.values()),
          f"{tag}: the staller delivered a result")
    # First revoke: from the staller's first assign.
    r0 = [r for r in rev if r["task"] == first["task"] and r["attempt"] == first["attempt"]]
    check(len(r0) == 1, f"{tag}: the first stalled task {first['task']} was not revoked once")
    dt = r0[0]["_t"] - first["_t"] if r0 else float("nan")
    check(limit - 0.01 <= dt <= limit + 3.0, f"{tag}: revoked {dt:.2f} s after the assign (limit {limit} s)")
    print(f"FIGURES stall-{tag}: revokes={len(rev)} assign_to_revoke_s={dt:.2f} "
          f"limit_s={limit} reason=\"{r0[0]['reason'] if r0 else '-'}\"")
    c.stop()
    return res


def reference():
    c = Cluster(name="stall-ref")
    c.start_coordinator()
    c.start_worker(slots=1)
    sweep = c.launch(SPEC)
    check(c.wait_sweep(sweep, timeout=120) == "done", "reference sweep did not finish")
    res = c.results(sweep)
    c.stop()
    return res


stall = run("stall", ["--task-stall-s", "2"], "stalled", 2)
deadline = run("deadline", ["--task-deadline-s", "1"], "deadline", 1)
ref = reference()
for tag, res in (("stall", stall), ("deadline", deadline)):
    check(cv_key(res) == cv_key(ref), f"{tag}: cv_results differ from the uninterrupted run:\n"
          f"{cv_key(res)}\n{cv_key(ref)}")
    check(res["sweep"]["refit_test_score"] == ref["sweep"]["refit_test_score"],
          f"{tag}: refit {res['sweep']['refit_test_score']} vs {ref['sweep']['refit_test_score']}")
finish()
