"""A worker whose Hello gets no Welcome says Hello again on the same
connection (issue 11, second review): the coordinator answers such a retry
with the same worker id and a fresh session secret
(tests/security/test_lost_welcome.py), so a lost Welcome does not cost the
worker its id at its next reconnect.

The attacker plays the coordinator (a pyzmq ROUTER) to a real worker with
200 ms heartbeats: it ignores the first Hello; the worker must send another
Hello, with the same worker id, on the same connection (routing id), within
a few intervals and before giving the connection up; once welcomed, it
sends heartbeats and no more Hellos.
"""
import time

import zmq

import attacker as A
from attacker import harness
from harness import check

c = harness.Cluster(name="hello-retry", hb_ms=200, liveness=10)
router = A.context().socket(zmq.ROUTER)
router.setsockopt(zmq.LINGER, 0)
router.bind(c.addr)
w = c.start_worker(name="retrier", extra=("--dry-run",))


def recv(timeout):
    if not router.poll(int(max(timeout, 0) * 1000), zmq.POLLIN):
        return None, None
    rid, data = router.recv_multipart()[:2]
    env = A.pb.Envelope()
    env.ParseFromString(data)
    return rid, env


def next_hello(timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        rid, env = recv(deadline - time.time())
        if env is not None and env.WhichOneof("body") == "hello":
            return rid, env, time.time()
    return None, None, None


rid1, h1, t1 = next_hello(20)
check(h1 is not None, "the worker never said Hello")
rid2, h2, t2 = next_hello(3)   # the first is ignored: two intervals (400 ms) and a tick
check(h2 is not None, "no second Hello after the first went unanswered")
if h2 is not None:
    check(rid2 == rid1, "the retry came on another connection (a reconnect, not a retry)")
    check(h2.hello.worker_id == h1.hello.worker_id,
          f"the retry changed the worker id: {h1.hello.worker_id} -> {h2.hello.worker_id}")
    check(0.2 < t2 - t1 < 2.5, f"the retry came {t2 - t1:.2f} s after the Hello")
    router.send_multipart([rid2, A.envelope("welcome", A.pb.Welcome(
        heartbeat_ms=200, liveness=10, session_secret=b"s" * 32)).SerializeToString()])
    # Welcomed: heartbeats, and no Hello, for a while.
    hellos = beats = 0
    deadline = time.time() + 2.0
    while time.time() < deadline:
        r, env = recv(0.2)
        if env is None:
            continue
        body = env.WhichOneof("body")
        hellos += body == "hello"
        beats += body == "heartbeat"
        if body == "heartbeat":   # answered, so that the worker's liveness stays up
            router.send_multipart([r, A.envelope("heartbeat", A.pb.Heartbeat())
                                   .SerializeToString()])
    check(hellos == 0, f"{hellos} Hellos after the Welcome")
    check(beats >= 3, f"only {beats} heartbeats in 2 s after the Welcome")
c.kill(w, 15)
router.close(0)
harness.finish()
