"""Issue 11, finding 1: a peer that chooses its own ZeroMQ routing id must
not be able to crash the coordinator (docs/security.md, "Identity").

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
Unfixed, the coordinator aborted at step 3.  Expected: it survives and
answers every connection, and no connection keeps an id of its choosing.

Adapted to the fix that landed (written before it, against a guess):
  - the guess was that the chosen-id peer is refused (no StatusReply).  The
    fix instead ignores ZMQ_ROUTING_ID: the ZAP handler gives every
    connection its own id, `c<serial>.<8 hex>` (docs/security.md,
    "Identity"), so a libzmq peer that chose an id is served, under the
    coordinator's id.  The check is now that the chosen-id peer (and the
    probe) appear in the coordinator's events under an id of that form, never
    the one chosen, which fails if the override were lost.
  - the counter no longer leaks (no connection has an automatic id, and
    logs would show one only hashed): learn_counter() checks that, and the
    attack goes on with the unseeded prediction, as before.
  - with keys, the client's key goes into the authorized-keys directory's
    clients/ (roles, docs/security.md: a key at the top level is a worker's
    and may not ask for status).
Not covered (documented gap, plain mode only): a hand-written ZMTP client
that holds back its READY can keep an automatic-form id; libzmq, and so
this attacker, cannot do that.
"""
import os
import re
import shutil
import tempfile
import time

import attacker as A
from attacker import harness, pb
from harness import check

AHEAD = 6
UNSEEDED_START = 0x6B8B4567
CONN_ID = re.compile(r"c[0-9]+\.[0-9a-f]{8}")   # the ZAP handler's routing ids


def heartbeat_ids(c, curve, after=0, timeout=10.0):
    """The routing ids (peer=) the coordinator logged for Heartbeats it
    refused, oldest first: peer.unregistered events, or with keys (the
    client's key has no worker role) the role refusal of kind "heartbeat".
    Waits until there are more than `after` of them (the event ring is
    filled by the coordinator's loop, not at once)."""
    deadline = time.time() + timeout
    while True:
        with A.Client(c.addr, curve=curve) as p:
            evs = p.history(level="debug") or []
        ids = [e.fields.split("peer=")[1].split()[0] for e in evs
               if "peer=" in e.fields and (e.type == "peer.unregistered" or
                                           'kind="heartbeat"' in e.fields)]
        if len(ids) > after or time.time() > deadline:
            return ids
        time.sleep(0.2)


def learn_counter(c, curve):
    """The automatic id of a fresh connection (as a number)."""
    before = len(heartbeat_ids(c, curve, timeout=0))
    with A.Client(c.addr, curve=curve) as p:
        p.send("heartbeat", pb.Heartbeat())
        m = p.recv(30)
        check(m is not None and m.body == "disconnect", f"the probe's Heartbeat: {m}")
    ids = heartbeat_ids(c, curve, before)[before:]
    check(ids and all(CONN_ID.fullmatch(i) for i in ids),
          f"the probe's routing id is not the coordinator's choice: {ids}")
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
    # Which id does the coordinator know it by?  A Heartbeat without Hello
    # is logged as peer.unregistered with the connection's routing id.
    before = len(heartbeat_ids(c, curve, timeout=0))
    evil.send("heartbeat", pb.Heartbeat())
    d = evil.recv(30)
    check(d is not None and d.body == "disconnect", f"{label}: the chosen-id peer's Heartbeat: {d}")
    ids = heartbeat_ids(c, curve, before)[before:]
    check(ids and CONN_ID.fullmatch(ids[-1]) and ids[-1] != chosen.hex(),
          f"{label}: the chosen-id peer kept an id of its own: {ids[-1:] or ids}")
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
        # It is served (under the coordinator's id, checked above): the
        # guess expected a refusal; the docs say the choice is ignored.
        check(m is not None and m.body == "status_reply",
              f"{label}: the chosen-id peer (its id replaced) was not served: {m}")
        check(A.answered(c, curve=curve), f"{label}: no answer after the attack")
    evil.close()
    return alive


# Plain text.
c = harness.Cluster(name="routing-plain")
c.start_coordinator()
if not attack(c, None, "plain"):
    harness.exempt(c.coord)
c.stop()

# CURVE, with an authorized key.
keys = tempfile.mkdtemp(prefix="hpt-rid-")
harness.on_cleanup(lambda: shutil.rmtree(keys, ignore_errors=True))
coord, coord_pub = A.keygen(os.path.join(keys, "coordinator"))
ckey, ckey_pub = A.keygen(os.path.join(keys, "client"))
auth = os.path.join(keys, "authorized")
os.makedirs(os.path.join(auth, "clients"))
shutil.copy(ckey_pub, os.path.join(auth, "clients", "client.pub"))
c2 = harness.Cluster(name="routing-curve")
c2.env.update(HPTUNE_CURVE_SECRET=ckey.path, HPTUNE_SERVER_KEY=coord_pub)
c2.start_coordinator("--curve-secret", coord.path, "--authorized-keys", auth)
if not attack(c2, (ckey, coord.public), "curve"):
    harness.exempt(c2.coord)
harness.finish()
