"""PENDING (issue 11, finding 1; not registered in meson until the fix is
merged): a peer that chooses its own ZeroMQ routing id must not be able to
crash the coordinator.

libzmq 4.3.4's ROUTER gives a peer without a routing id of its own an
automatic one: 5 bytes, a 0 byte then a 32-bit counter that goes up by one
per connection (it starts at rand(), 0x6b8b4567 unseeded).  A peer may set
ZMQ_ROUTING_ID to anything, 0-byte prefix included.  When the counter
reaches an id a connected peer chose, the ROUTER inserts a duplicate and
libzmq aborts: `Assertion failed: ok (src/socket_base.cpp:2130)`.

The attack, in plain mode and with CURVE (an authorized key: any worker's
key would do):
  1. learn the counter: a fresh connection sends a Heartbeat without Hello
     (the coordinator records "message from unregistered peer" with the
     peer's id, which any client reads back through Subscribe's history);
     failing that, predict it from the unseeded start;
  2. connect with ZMQ_ROUTING_ID = 0x00 + (counter + AHEAD), a little ahead;
  3. open plain connections one at a time, each asking for status, until the
     counter passes the chosen value.
Unfixed, the coordinator aborts at step 3.  Expected after the fix: it
survives and answers every automatic-id connection, and the chosen-id peer
is refused (it gets no StatusReply).
"""
import os
import shutil
import tempfile

import attacker as A
from attacker import harness, pb
from harness import check

AHEAD = 6
UNSEEDED_START = 0x6B8B4567


def learn_counter(c, curve):
    """The automatic id of a fresh connection (as a number)."""
    with A.Client(c.addr, curve=curve) as p:
        p.send("heartbeat", pb.Heartbeat())
        m = p.recv(30)
        check(m is not None and m.body == "disconnect", f"the probe's Heartbeat: {m}")
        evs = p.history(level="debug") or []
    ids = [e.fields.split("peer=")[1].split()[0] for e in evs
           if e.type == "peer.unregistered" and "peer=" in e.fields]
    if ids and len(ids[-1]) == 10 and ids[-1].startswith("00"):
        return int(ids[-1], 16)
    print("NOTE: the counter did not leak through the events; predicting it", flush=True)
    return None


def attack(c, curve, label):
    n = learn_counter(c, curve)
    if n is None:
        n = UNSEEDED_START + 1
    target = n + AHEAD
    chosen = b"\x00" + (target & 0xFFFFFFFF).to_bytes(4, "big")
    print(f"{label}: the last automatic id was 00{n:08x}; the attacker takes {chosen.hex()}",
          flush=True)
    evil = A.Client(c.addr, curve=curve, routing_id=chosen)
    m = evil.status(timeout=10)
    print(f"{label}: the chosen-id peer's StatusRequest: "
          f"{'answered' if m is not None else 'not answered'}", flush=True)
    answered = 0
    for i in range(AHEAD + 4):
        if not A.alive(c):
            break
        with A.Client(c.addr, curve=curve) as p:
            r = p.status(timeout=30)
            answered += r is not None and r.body == "status_reply"
    alive = A.alive(c)
    log = c.coord_log()
    check(alive, f"{label}: the coordinator died (exit {c.coord.poll()}) after "
          f"{answered} plain connections:\n{log[-1500:]}")
    check("Assertion failed" not in log, f"{label}: libzmq assertion in the coordinator's log")
    if alive:
        check(answered == AHEAD + 4, f"{label}: {answered} of {AHEAD + 4} automatic-id "
              "connections answered")
        check(m is None or m.body != "status_reply",
              f"{label}: the peer with a chosen 0x00-prefixed id was served")
        check(A.answered(c, curve=curve), f"{label}: no answer after the attack")
    evil.close()
    return alive


# Plain text.
c = harness.Cluster(name="pend-routing-plain")
c.start_coordinator()
if not attack(c, None, "plain"):
    harness.exempt(c.coord)
c.stop()

# CURVE, with an authorized key.
keys = tempfile.mkdtemp(prefix="hpt-pend-rid-")
harness.on_cleanup(lambda: shutil.rmtree(keys, ignore_errors=True))
coord, coord_pub = A.keygen(os.path.join(keys, "coordinator"))
ckey, ckey_pub = A.keygen(os.path.join(keys, "client"))
auth = os.path.join(keys, "authorized")
os.mkdir(auth)
shutil.copy(ckey_pub, os.path.join(auth, "client.pub"))
c2 = harness.Cluster(name="pend-routing-curve")
c2.env.update(HPTUNE_CURVE_SECRET=ckey.path, HPTUNE_SERVER_KEY=coord_pub)
c2.start_coordinator("--curve-secret", coord.path, "--authorized-keys", auth)
if not attack(c2, (ckey, coord.public), "curve"):
    harness.exempt(c2.coord)
harness.finish()
