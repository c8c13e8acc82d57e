"""Forged results from a leased worker (issue 11, finding 3), and results
for a lease from peers that do not hold it.

The attacker registers as a worker the way `hptune-worker --dry-run` does
(dataset fingerprint "dry-run", so it is served sweeps that set
test_objective), takes one Assign per forgery and answers each with one
forged Result.  What the coordinator must do (coordinator/core/sched.c,
hpt__result; common/proto_io.c, hpt_proto_validate):
  - a Result whose values the metric cannot take (1.7e308, NaN with
    diverged, a score, accuracy or F1 outside [0, 1], a log loss over 16.5,
    epochs = 4e9, resumed_from > epochs, a train score over 1; for a
    log_loss sweep a score of 16.6 or below 0) is the worker's error: the
    attempt ends "failed" with "the result's values are out of range for
    the metric", and the task is retried, elsewhere;
  - one with infinities, NaN without diverged, or fit_seconds out of range
    never gets past validation: it is dropped and counted as a bad message,
    and the lease stays until the worker goes (then it is requeued, "lost");
  - a Result for a lease the sender does not hold (another registered
    worker, or a peer that never said Hello) is dropped
    ("leased-to-another-worker"); the stranger is told to say Hello.
A genuine --dry-run worker then runs everything again: each sweep ends done,
no trial failed, every mean is finite and inside the objective's range, and
the results are exactly those of the same sweep run without the attacker.
"""
import math

import attacker as A
from attacker import harness
from harness import check

FORGED_OK = "the result's values are out of range for the metric"
NAN, INF = float("nan"), float("inf")

SPEC = """
name: {name}
dataset: {dataset}
test_objective: hash
method: grid
seed: 5
cv: {{folds: 3, seed: 2}}
refit: true
{metric}
parameters:
  units: {{values: [8, 16, 32, 64]}}
  dropout: {{values: [0.0, 0.1, 0.2]}}
  epochs: {{value: 2}}
"""
ACC = ""
LOGLOSS = "metric: {name: log_loss, goal: minimize}"

# (label, Result fields, what happens: "range" = refused by the core's range
# check, "proto" = dropped by validation before it reaches the core)
FORGERIES_ACC = [
    ("score 1.7e308", dict(score=1.7e308, accuracy=0.7), "range"),
    ("score -1.7e308", dict(score=-1.7e308), "range"),
    ("score 1 + 1e-9", dict(score=1.000000001), "range"),
    ("score -1e-12", dict(score=-1e-12), "range"),
    ("score NaN, diverged", dict(score=NAN, diverged=True), "range"),
    ("accuracy 1.5", dict(accuracy=1.5), "range"),
    ("f1 -0.5", dict(f1_macro=-0.5), "range"),
    ("log_loss 16.6", dict(log_loss=16.6), "range"),
    ("log_loss -1", dict(log_loss=-1.0), "range"),
    ("train_score 2", dict(train_score=2.0), "range"),
    ("epochs 4e9", dict(epochs=4_000_000_000), "range"),
    ("epochs 2^32-1", dict(epochs=2**32 - 1, resumed_from=2**32 - 2), "range"),
    ("resumed_from > epochs", dict(epochs=1, resumed_from=5), "range"),
    ("score +inf", dict(score=INF), "proto"),
    ("score -inf", dict(score=-INF), "proto"),
    ("score NaN", dict(score=NAN), "proto"),
    ("accuracy -inf", dict(accuracy=-INF), "proto"),
    ("fit_seconds 1e300", dict(fit_seconds=1e300), "proto"),
    ("fit_seconds -1", dict(fit_seconds=-1.0), "proto"),
]
FORGERIES_LL = [
    ("log_loss sweep: score 16.6", dict(score=16.6, log_loss=16.6), "range"),
    ("log_loss sweep: score -0.5", dict(score=-0.5), "range"),
    ("log_loss sweep: score 1e308", dict(score=1e308), "range"),
]


def attempt_rows(c, task):
    return c.q("SELECT attempt, worker, outcome, error FROM attempts WHERE task = ? "
               "ORDER BY attempt", task)


def forge(c, sweep_name, dataset, metric, forgeries):
    """One attacked sweep; returns (sweep id, {label: (task, kind)}, the forger)."""
    w = A.Worker(c.addr, slots=len(forgeries), name="forger", datasets=[(dataset, A.DRY_RUN)])
    check(w.register() is not None, "the attacker's Hello got no Welcome")
    sweep = c.launch(SPEC.format(name=sweep_name, dataset=dataset, metric=metric))
    w.wait(lambda: len(w.held) >= len(forgeries), 60, f"{len(forgeries)} Assigns")
    bad0 = A.bad_messages(c)
    first = sorted(w.held.values(), key=lambda a: a.task)[:len(forgeries)]
    forged = {}
    for a, (label, fields, kind) in zip(first, forgeries):
        w.answer(a, **fields)
        forged[label] = (a.task, kind)
        if kind == "proto":   # its lease stands: keep reporting it running
            w.held[a.task] = a
    check(w.barrier(), "the attacker's barrier after its forgeries was not answered")
    n_proto = sum(1 for _, _, k in forgeries if k == "proto")
    bad1 = A.bad_messages(c)
    check(bad1 - bad0 - 1 == n_proto,   # less the second probe
          f"{sweep_name}: {bad1 - bad0 - 1} bad messages counted for {n_proto} forgeries that "
          "must fail validation")
    for label, (task, kind) in forged.items():
        rows = attempt_rows(c, task)
        r1 = rows[0] if rows else None
        if kind == "range":
            check(r1 is not None and r1[1] == w.worker_id and r1[2] == "failed" and
                  r1[3] == FORGED_OK,
                  f"{sweep_name}: forged result '{label}' (task {task}) was not refused as out "
                  f"of range: attempts {rows}")
        else:
            check(r1 is not None and r1[2] is None,
                  f"{sweep_name}: forged result '{label}' (task {task}) ended its lease "
                  f"although it fails validation: attempts {rows}")
    # Nothing forged reached a score or a trial.
    leaked = c.q("SELECT id, score, accuracy, log_loss, f1_macro, epochs FROM tasks "
                 "WHERE sweep = ? AND state = 'done'", sweep)
    check(not leaked, f"{sweep_name}: tasks done by the forger: {leaked}")
    return sweep, forged, w


def non_holders(c, w):
    """Results for one of w's leases from another registered worker (dropped)
    and from a peer that never said Hello (held for its connection, never
    counted): the lease stays w's."""
    held = sorted(w.held.values(), key=lambda a: a.task)
    if not check(bool(held), "the forger holds no lease for the non-holder attacks"):
        return
    a = held[0]
    other = A.Worker(c.addr, name="other", datasets=[("no-such-dataset", "ab" * 32)])
    check(other.register() is not None, "the second attacker's Hello got no Welcome")
    other.result(a.task, a.attempt, score=0.99, accuracy=0.99)
    check(other.barrier(), "the second attacker's barrier was not answered")
    ev = c.wait_log(msg="stale or duplicate result dropped", task=a.task,
                    worker=other.worker_id, timeout=10)
    check(ev is not None and ev.get("reason") == "leased-to-another-worker",
          f"a Result from a registered non-holder was not dropped as leased to another "
          f"worker: {ev}")
    with A.Worker(c.addr, name="stranger") as s:   # never says Hello
        s.result(a.task, a.attempt, score=0.99, accuracy=0.99)
        # A Result on a connection that has not said Hello is held for that
        # connection (docs/protocol.md: it counts only if the same connection
        # then registers as the lease's holder), so it gets no answer of its
        # own; the FetchChunk after it, a worker message from an unknown
        # peer, gets a Disconnect once the Result before it was handled.
        s.barrier(timeout=10)
        check(s.wait(lambda: s.disconnects, 30, raise_=False),
              "a stranger's messages were not answered with Disconnect")
    rows = attempt_rows(c, a.task)
    check(rows and rows[-1][1] == w.worker_id and rows[-1][2] is None,
          f"the lease of task {a.task} moved or ended after non-holders' Results: {rows}")
    other.goodbye()
    other.close()


def check_sweep(c, sweep, label, lo, hi):
    st = c.wait_sweep(sweep, timeout=300)
    check(st == "done", f"{label}: sweep ended {st}")
    res = c.results(sweep)
    cv = res["cv_results"]
    means = cv.get("mean_test_score", [])
    check(len(means) == 12, f"{label}: {len(means)} trials, want 12")
    bad = [m for m in means if m is None or not math.isfinite(m) or not lo <= m <= hi]
    check(not bad, f"{label}: means outside [{lo}, {hi}] or not finite: {bad}")
    for k, vals in cv.items():
        if k.startswith("split") and k.endswith("_test_score"):
            check(all(v is not None and lo <= v <= hi for v in vals),
                  f"{label}: {k} has values outside [{lo}, {hi}]: {vals}")
    failed = c.q("SELECT COUNT(*) FROM trials WHERE sweep = ? AND state != 'done'", sweep)[0][0]
    check(failed == 0, f"{label}: {failed} trials not done")
    sw = res["sweep"]
    bm = sw.get("best_mean_test_score")
    check(bm is not None and lo <= bm <= hi, f"{label}: best mean {bm}")
    rt = sw.get("refit_test_score")
    check(rt is not None and lo <= rt <= hi, f"{label}: refit test score {rt}")
    st_reply = A.Client(c.addr).status(sweep)
    if check(st_reply is not None and st_reply.body == "status_reply",
             f"{label}: no StatusReply: {st_reply}"):
        info = st_reply.msg.sweeps[0]
        check(math.isfinite(info.best_mean) and lo <= info.best_mean <= hi,
              f"{label}: StatusReply best_mean {info.best_mean}")
    return res


harness.need_data("mnist")
harness.need_data("mnist-10k")
# A long liveness: the forger is silent while the other attackers act.
c = harness.Cluster(name="sec-forged", hb_ms=200, liveness=50)
c.start_coordinator(*A.NO_RATE_LIMITS)



def leave(w):
    w.goodbye()
    check(w.barrier() is False and w.disconnects, "the forger was still registered after Goodbye")
    w.close()


s_acc, forged_acc, w1 = forge(c, "forged-acc", "mnist", ACC, FORGERIES_ACC)
non_holders(c, w1)
leave(w1)
s_ll, forged_ll, w2 = forge(c, "forged-ll", "mnist-10k", LOGLOSS, FORGERIES_LL)
leave(w2)
check(A.alive(c), "the coordinator died under forged results")

# A genuine worker finishes both sweeps; each forged task runs again on it.
c.start_worker(slots=2, name="genuine",
               extra=("--dry-run", "--dataset", "mnist", "--dataset", "mnist-10k"))
gid = c.worker_id("genuine")
res_acc = check_sweep(c, s_acc, "accuracy sweep", 0.5, 0.99)
res_ll = check_sweep(c, s_ll, "log_loss sweep", 0.5, 0.99)
for forged, label in ((forged_acc, "accuracy"), (forged_ll, "log_loss")):
    for what, (task, kind) in forged.items():
        rows = attempt_rows(c, task)
        done = [r for r in rows if r[2] == "done"]
        check(len(done) == 1 and done[0][1] == gid,
              f"{label}: forged task {task} ('{what}') was not re-run by the genuine worker: "
              f"{rows}")
        first_want = "failed" if kind == "range" else "lost"
        check(rows and rows[0][1] != gid and rows[0][2] == first_want,
              f"{label}: task {task} ('{what}'): the forger's attempt should end {first_want}: "
              f"{rows}")
        # Between the forgery and the genuine run the forger may have been
        # leased the task again (no other worker was free): it left those.
        mid = rows[1:-1]
        check(all(r[1] != gid and r[2] == "lost" for r in mid),
              f"{label}: task {task} ('{what}'): unexpected attempts in between: {rows}")

# The same sweeps without the attacker give the same numbers.
for sweep_res, ds, metric, label in ((res_acc, "mnist", ACC, "accuracy"),
                                     (res_ll, "mnist-10k", LOGLOSS, "log_loss")):
    base = c.launch(SPEC.format(name=f"baseline-{label}", dataset=ds, metric=metric))
    check(c.wait_sweep(base, timeout=300) == "done", f"baseline {label} sweep did not finish")
    b, a = A.comparable(c.results(base)), A.comparable(sweep_res)
    check(a[0] == b[0], f"{label}: the attacked sweep's cv_results differ from the baseline's")
    check(a[1] == b[1], f"{label}: refit test score {a[1]} (attacked) vs {b[1]} (baseline)")
    check(a[2] == b[2], f"{label}: best trial {a[2]} (attacked) vs {b[2]} (baseline)")
check(A.answered(c), "the coordinator does not answer after the attack")
harness.finish()
