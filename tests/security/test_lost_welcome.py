"""A lost Welcome costs a worker nothing (issue 11, second review): a Hello
retried on the connection that registered the worker id, without the
session secret (its Welcome never arrived), is answered with the same id
and a fresh secret, so the worker proves itself on its next connection
instead of registering under a new id and leaving a ghost record.  Nobody
else gains anything: only that connection can ask, and the secret that was
lost no longer works.

Through real sockets, with the attacker's worker:
  - Hello, its Welcome "lost" (read and thrown away);
  - Hello again on the same connection without a secret: Welcome, with a
    secret, for the same id, and no refusal;
  - a new connection with the new secret takes the id over (one worker in
    `workers`, no ghost); one with the lost secret is refused;
  - another connection's secret-less Hello for the id is still refused.
"""
import attacker as A
from attacker import harness
from harness import check

c = harness.Cluster(name="lost-welcome", hb_ms=200, liveness=25)
c.start_coordinator("--hello-per-min", "0")

w = A.Worker(c.addr, name="lost-welcome")
check(w.register(timeout=20) is not None, "the first Hello was not welcomed")
lost = w.session_secret
check(len(lost) == 32, f"the first Welcome carried no secret: {lost!r}")
w.session_secret = b""      # the Welcome never reached the worker
w.welcome = None
again = w.register(timeout=20)   # retried on the same connection, no secret
check(again is not None, "the retried Hello was not welcomed")
check(not w.disconnects, f"the retried Hello was refused: {w.disconnects}")
fresh = again.msg.session_secret if again is not None else b""
check(len(fresh) == 32, "the retried Hello's Welcome carried no secret")
check(fresh != lost, "the retry's Welcome repeated the lost secret")

# A stranger's secret-less Hello for the id, on its own connection: refused.
with A.Worker(c.addr, worker_id=w.worker_id, name="stranger") as s:
    s.hello()
    s.wait(lambda: s.welcomed or s.disconnects, 10, raise_=False)
    check(not s.welcomed and s.disconnects, "a stranger took the id over without a secret")
# The lost secret no longer proves anything.
with A.Worker(c.addr, worker_id=w.worker_id, name="stale") as s:
    s.hello(session_secret=lost)
    s.wait(lambda: s.welcomed or s.disconnects, 10, raise_=False)
    check(not s.welcomed and s.disconnects, "the lost secret still took the id over")
# The worker's next connection, with the fresh secret: the same id.
w.close()
w2 = A.Worker(c.addr, worker_id=w.worker_id, name="lost-welcome")
check(w2.register(timeout=20, session_secret=fresh) is not None,
      "the worker's new connection with the fresh secret was not welcomed")
check(not w2.disconnects, f"the worker's new connection was refused: {w2.disconnects}")
with A.Client(c.addr) as cl:
    m = cl.workers()
    ids = [x.id for x in m.msg.workers] if m is not None and m.body == "workers_reply" else None
check(ids == [w.worker_id], f"workers after the reconnect: {ids} (a ghost, or the id lost)")
w2.goodbye()
w2.close()
check(A.answered(c), "the coordinator does not answer")
harness.finish()
