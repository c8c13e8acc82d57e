"""A client's Submit must not stall the coordinator's loop (found while
writing this suite).

The coordinator parses a submitted spec on its loop thread.  A spec of 1 MiB
that is one flow sequence nested a million deep ("a: [[[[...") took
libfyaml about half a second to refuse, and a client that queued a dozen
kept the loop busy for seconds: no heartbeat was read, and when the loop
came back every worker looked silent for longer than heartbeat_ms x
liveness and was declared dead.  Now deep nesting is refused before parsing
(coord_spec.c check_chars, COORD_SPEC_MAX_DEPTH), and a housekeeping tick
that comes late moves the workers' countdowns on by the delay
(coord_core_stalled) instead of charging them for it.

Checked: with the default heartbeat (1 s x 3), a real worker is never
declared dead during the flood, and a StatusRequest from another connection
is answered within MAX_STATUS_S throughout.
"""
import threading
import time

import attacker as A
from attacker import harness, pb
from harness import check

FLOOD = 12
MAX_STATUS_S = 2.0

c = harness.Cluster(name="pend-stall", hb_ms=1000, liveness=3)
c.start_coordinator()
c.start_worker(name="genuine", extra=("--dry-run", "--dataset", "mnist"))
wid = c.worker_id("genuine")
check(c.wait_log(msg="worker joined", worker=wid, timeout=30) is not None, "no worker")

worst = [0.0]
stop = threading.Event()


def probe():
    with A.Client(c.addr) as p:
        while not stop.is_set():
            t = time.time()
            m = p.status(timeout=60)
            worst[0] = max(worst[0], time.time() - t)
            if m is None:
                worst[0] = float("inf")
            time.sleep(0.1)


th = threading.Thread(target=probe, daemon=True)
th.start()
spec = "a: " + "[" * (A.MAX_SPEC - 3)
t0 = time.time()
with A.Client(c.addr) as cl:
    for i in range(FLOOD):
        cl.send("submit", pb.Submit(spec=spec, path="deep.yaml"), req_id=100 + i)
    got = [cl.recv(120) for _ in range(FLOOD)]
took = time.time() - t0
stop.set()
th.join(90)
check(all(m is not None and m.body == "error" and m.msg.code == 2 for m in got),
      f"the deep specs were not all refused: {[m and m.body for m in got]}")
print(f"{FLOOD} Submits of a 1 MiB deep spec answered in {took:.1f} s; slowest StatusRequest "
      f"meanwhile {worst[0]:.2f} s", flush=True)
check(worst[0] <= MAX_STATUS_S, f"a StatusRequest waited {worst[0]:.2f} s during the flood "
      f"(at most {MAX_STATUS_S} s)")
left = [ev for ev in c.log_events(msg="worker left") if ev.get("worker") == wid]
check(not left, f"the genuine worker was declared gone during the flood: {left}")
harness.finish()
