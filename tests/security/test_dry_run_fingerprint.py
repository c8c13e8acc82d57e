"""A worker that advertises the fingerprint "dry-run" gets no task of a real
sweep (issue 11, finding 4, first part), whichever way it advertises it.

The same rule as integration-dry_run_pin, checked from this suite's own
protobuf implementation rather than through hptune-worker: "dry-run" is what
a --dry-run worker sends, and such a worker makes its scores up, so the
coordinator must give it only sweeps that set test_objective.  Attackers:
  - hello: Hello lists (mnist-10k, "dry-run");
  - datasets: Hello lists nothing, a later Datasets message lists
    (mnist-10k, "dry-run");
  - both: Hello lists (mnist-10k, "dry-run") first and then mnist-10k again
    with a made-up fingerprint.
Each must see no Assign while a real sweep (no test_objective) is queued and
while a genuine worker runs all of it; the coordinator says why
(worker.dry_run_refused) for each.  Then the same attacker is served a
test_objective sweep, so the refusal is about the fingerprint, not about
the attacker being broken.
"""
import signal

import attacker as A
from attacker import harness
from harness import check

harness.need_data("mnist-10k")
REAL = """
name: real
dataset: mnist-10k
method: grid
cv: {folds: 2, seed: 1}
refit: false
parameters:
  units: {values: [8, 16, 24]}
  epochs: {value: 1}
  batch_size: {value: 256}
"""
TEST = REAL.replace("name: real", "name: objective").replace(
    "refit: false", "refit: false\ntest_objective: hash")
REFUSED = "a --dry-run worker gets only sweeps that set test_objective; no tasks for it"

c = harness.Cluster(name="sec-dryrun", hb_ms=200, liveness=25)
c.start_coordinator(*A.NO_RATE_LIMITS)

hello = A.Worker(c.addr, name="dry-hello", slots=4, datasets=[("mnist-10k", A.DRY_RUN)])
later = A.Worker(c.addr, name="dry-later", slots=4, datasets=[])
both = A.Worker(c.addr, name="dry-both", slots=4,
                datasets=[("mnist-10k", A.DRY_RUN), ("mnist-10k", "0" * 64)])
attackers = [hello, later, both]
for w in attackers:
    check(w.register() is not None, f"{w.name}: no Welcome")
later.datasets_msg([("mnist-10k", A.DRY_RUN)])
check(later.barrier(), "dry-later: barrier after Datasets not answered")

s1 = c.launch(REAL)
for w in attackers:
    ev = c.wait_log(msg=REFUSED, worker=w.worker_id, timeout=30)
    check(ev is not None, f"{w.name}: no worker.dry_run_refused logged for it:\n" + c.coord_log())
    # Messages of one connection arrive in order: an Assign sent in the
    # dispatch that refused it would be here before the barrier's answer.
    check(w.barrier(), f"{w.name}: barrier not answered")
    check(not w.assigns, f"{w.name}: leased {[(a.sweep, a.task) for a in w.assigns]}")
check(c.q("SELECT COUNT(*) FROM attempts")[0][0] == 0,
      "attempts leased with only dry-run workers connected")

# A genuine worker runs the real sweep; the attackers keep heartbeating.
c.start_worker(name="real", extra=["--dataset", "mnist-10k"])
rid = c.worker_id("real")


def real_done():
    for w in attackers:
        w.pump(0.01)
    return c.sweep_state(s1) in ("done", "failed", "cancelled")


c.wait_for(real_done, timeout=300, what="the real sweep to end", poll=0.05)
check(c.sweep_state(s1) == "done", f"real sweep ended {c.sweep_state(s1)}")
for w in attackers:
    check(not w.assigns, f"{w.name}: got Assigns of the real sweep: "
          f"{[(a.sweep, a.task) for a in w.assigns]}")
by = dict(c.q("SELECT worker, COUNT(*) FROM attempts a JOIN tasks t ON t.id = a.task "
              "WHERE t.sweep = ? GROUP BY worker", s1))
check(set(by) == {rid}, f"attempts of the real sweep by worker: {by}")

# The genuine worker leaves; a test_objective sweep is served to the attackers.
c.kill(c.workers[0], signal.SIGTERM)
s2 = c.launch(TEST)
for w in attackers:
    w.wait(lambda: w.held, 60, f"{w.name}: an Assign of the test_objective sweep")
    for a in list(w.held.values()):
        check(a.sweep == s2, f"{w.name}: assign of sweep {a.sweep}")


def answer_all():
    for w in attackers:
        w.pump(0.01)
        for a in list(w.held.values()):
            w.answer(a, score=0.75, accuracy=0.75)
    return c.sweep_state(s2) in ("done", "failed", "cancelled")


c.wait_for(answer_all, timeout=120, what="the test_objective sweep to end", poll=0.05)
check(c.sweep_state(s2) == "done", f"test_objective sweep ended {c.sweep_state(s2)}")
for w in attackers:
    w.goodbye()
    w.close()
check(A.answered(c), "the coordinator does not answer")
harness.finish()
