"""Issue 11, finding 2: one peer must not pose as another worker or deliver
its results (docs/security.md and docs/protocol.md, "Identity").

A worker is known by the worker_id of its Hello, and `hptune workers` (a
WorkersReply) shows every worker's id to any client.  Attacks, each
against a well-behaved worker G (this library, playing by the rules: it
holds its lease and answers it honestly):
  1. impostor: another connection sends a Hello with G's worker_id.
     Expected: it is refused (no Welcome); G stays registered on its own
     connection (no Disconnect), keeps its lease, and its honest Result is
     accepted; the impostor gets no Assign.
  2. non-holder: another registered worker, and a peer that never said
     Hello, send a Result for G's lease.  Expected: dropped, the lease is
     still G's.  (Main already does this; kept here with the rest of the
     finding.)
  3. orphan after a restart: G holds a lease, the coordinator is killed and
     restarted on the same journal, so the lease is an orphan waiting for
     G to come back.  A peer that never said Hello posts a Result for it.
     Expected: dropped; a Hello with G's worker_id but without G's session
     secret is not welcomed and gets no lease; G re-registers and its own
     Result is the one that counts.
Before the fix, 1 and 3 failed: the impostor was welcomed and took G's place
(G was told to say Hello again), and the orphan took anyone's Result.

Adapted to the fix that landed (written before it): the Welcome carries a
session secret, and after a restart the orphan's holder must prove it is G
by sending that secret in its Hello (docs/protocol.md, "Identity and
reconnects").  So G, coming back after the restart, sends the secret its
first Welcome gave it, as worker/main.c does; that is the documented
interface, not a relaxation.  The impostors never know the secret.
"""
import signal

import attacker as A
from attacker import harness, pb
from harness import check

SPEC = """
name: {name}
dataset: mnist
test_objective: hash
method: grid
cv: {{folds: 2, seed: 1}}
refit: false
parameters:
  units: {{values: [8, 16]}}
  epochs: {{value: 1}}
"""
FORGED = 0.987654321
HONEST = 0.75


def attempts(c, task):
    return c.q("SELECT attempt, worker, outcome FROM attempts WHERE task = ? ORDER BY attempt",
               task)


def task_row(c, task):
    rows = c.q("SELECT state, score FROM tasks WHERE id = ?", task)
    return rows[0] if rows else None


c = harness.Cluster(name="imp", hb_ms=500, liveness=4)
c.start_coordinator()
g = A.Worker(c.addr, name="genuine", slots=1)
check(g.register() is not None, "G: no Welcome")
check(len(g.session_secret) == 32, f"G's Welcome carries no session secret: {g.session_secret!r}")
s1 = c.launch(SPEC.format(name="first"))
g.wait(lambda: g.held, 30, "G's first Assign")
a = next(iter(g.held.values()))

# 1. the impostor
with A.Client(c.addr) as cl:
    m = cl.workers()
ids = [w.id for w in m.msg.workers] if m and m.body == "workers_reply" else []
check(g.worker_id in ids, f"G's id is not listed: {ids}")
imp = A.Worker(c.addr, worker_id=g.worker_id, name="impostor", slots=8)
imp.hello()
imp.heartbeat(running=[], free_slots=8)   # Disconnect if the Hello was refused
imp.wait(lambda: imp.welcomed or imp.disconnects or imp.rejects, 30, raise_=False)
check(not imp.welcomed, "the impostor (a Hello with a live worker's id from another connection) "
      "was welcomed")
check(imp.disconnects and imp.disconnects[0].code == pb.DISCONNECT_ID_REFUSED,
      f"the impostor's Hello: want Disconnect DISCONNECT_ID_REFUSED, got {imp.disconnects}")
g.pump(0.2)
check(g.barrier() and not g.disconnects,
      f"G lost its registration to the impostor (Disconnect: {g.disconnects})")
imp.pump(0.5)
check(not imp.assigns, f"the impostor got Assigns: {[x.task for x in imp.assigns]}")
rows = attempts(c, a.task)
check(rows and rows[-1][1] == g.worker_id and rows[-1][2] is None,
      f"G's lease after the impostor: {rows}")

# 2. non-holders
other = A.Worker(c.addr, name="other", datasets=[("no-such-dataset", "ab" * 32)])
check(other.register() is not None, "other: no Welcome")
other.result(a.task, a.attempt, score=FORGED, accuracy=FORGED)
check(other.barrier(), "other: barrier")
with A.Worker(c.addr, name="stranger") as s:
    s.result(a.task, a.attempt, score=FORGED, accuracy=FORGED)
    s.wait(lambda: s.disconnects, 30, raise_=False)
rows = attempts(c, a.task)
check(rows and rows[-1][1] == g.worker_id and rows[-1][2] is None,
      f"G's lease after non-holders' Results: {rows}")
check(task_row(c, a.task)[0] != "done", "a non-holder's Result completed G's task")
other.goodbye()
other.close()
imp.close()

# G delivers honestly: it counts.  (Unfixed, the impostor took G's record
# and G was told to say Hello again: it does, and takes its record back.)
if g.disconnects:
    check(g.register() is not None, "G: no Welcome when it said Hello again")
g.answer(a, score=HONEST, accuracy=HONEST)
g.barrier()
row = task_row(c, a.task)
check(row is not None and row[0] == "done" and row[1] == HONEST,
      f"G's honest Result did not count: task {row}, attempts {attempts(c, a.task)}")

# 3. the orphan after a restart
g.wait(lambda: g.held, 30, "G's next Assign")
b = next(iter(g.held.values()))
check(g.barrier(), "G: barrier before the restart")
c.kill(c.coord, signal.SIGKILL)
g.close()
c.start_coordinator()
with A.Worker(c.addr, name="orphan-thief") as s:   # never says Hello
    s.result(b.task, b.attempt, score=FORGED, accuracy=FORGED)
    s.wait(lambda: s.disconnects, 30, raise_=False)
row = task_row(c, b.task)
check(row is not None and row[0] != "done",
      f"a peer that never said Hello completed an orphaned lease: task {row}, attempts "
      f"{attempts(c, b.task)}")
# A Hello with G's worker_id but not its secret, after the restart: refused,
# and the orphaned lease is not given to it.
imp2 = A.Worker(c.addr, worker_id=g.worker_id, name="orphan-impostor", slots=8)
imp2.hello()
imp2.heartbeat(running=[(b.task, b.attempt, 0)], free_slots=7)
imp2.wait(lambda: imp2.welcomed or imp2.disconnects or imp2.rejects, 30, raise_=False)
check(not imp2.welcomed, "after the restart, a Hello with G's id and no secret was welcomed")
imp2.result(b.task, b.attempt, score=FORGED, accuracy=FORGED)
imp2.pump(0.5)
check(not imp2.assigns, f"the orphan impostor got Assigns: {[x.task for x in imp2.assigns]}")
row = task_row(c, b.task)
check(row is not None and row[0] != "done",
      f"the orphan impostor completed the orphaned lease: task {row}, attempts "
      f"{attempts(c, b.task)}")
imp2.close()
# G comes back with its secret (docs/protocol.md) and delivers.
g2 = A.Worker(c.addr, worker_id=g.worker_id, name="genuine", slots=1)
check(g2.register(session_secret=g.session_secret) is not None,
      "G: no Welcome after the restart (with its session secret)")
g2.answer(b, score=HONEST, accuracy=HONEST)
g2.barrier()
row = task_row(c, b.task)
check(row is not None and row[0] == "done" and row[1] == HONEST,
      f"the orphaned task: {row}, want done with G's score {HONEST}; attempts "
      f"{attempts(c, b.task)}")
g2.goodbye()
g2.close()
check(A.answered(c), "the coordinator does not answer")
harness.finish()
