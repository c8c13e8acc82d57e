"""Connection floods (issue 11, second review): the ZAP handler limits new
connections per source address (a token bucket: conn_per_min, conn_burst)
and open connections per address (max_conns_per_addr) and in all
(max_conns), refusing with ZAP status 400 (docs/security.md, "Quotas and
limits").

Attacks, with plain connections on loopback (ZAP runs without keys too):
  - one address opens more connections than max_conns_per_addr: the one
    over is refused (its handshake fails with 400) and never answered; once
    some close, a new one is admitted again (the cap counts open ones);
  - a second address (127.0.0.2) fills the coordinator to max_conns: the
    next is refused though its address is under its own cap;
  - one address opens connections faster than conn_burst: refused, while
    another address still gets in;
and the coordinator keeps answering, and logs each kind of refusal.
"""
import os
import time

import zmq

import attacker as A
from attacker import harness
from harness import check

PER_ADDR, TOTAL = 6, 9


def from_addr(c, src):
    """The coordinator's address, connected from source address src."""
    return c.addr.replace("tcp://", f"tcp://{src}:0;")


def admitted(p, timeout=10.0):
    m = p.status(timeout=timeout)
    return m is not None and m.body == "status_reply"


def refused(p, timeout=10.0):
    """The peer's handshake failed with ZAP status 400 (its monitor says so)."""
    evs = p.monitor_events(timeout, until={zmq.EVENT_HANDSHAKE_FAILED_AUTH})
    return any(e["event"] == zmq.EVENT_HANDSHAKE_FAILED_AUTH and e["value"] == 400 for e in evs)


def logged(cl, text, timeout=5.0):
    """Whether the coordinator's log holds text anywhere (waiting a little:
    another process writes it)."""
    deadline = time.time() + timeout
    while True:
        try:
            with open(os.path.join(cl.dir, "coordinator.log"), errors="replace") as f:
                if text in f.read():
                    return True
        except OSError:
            pass
        if time.time() > deadline:
            return False
        time.sleep(0.1)


# --- open connections: per address and in all ---------------------------------------
c = harness.Cluster(name="conn-caps")
c.start_coordinator("--max-conns-per-addr", str(PER_ADDR), "--max-conns", str(TOTAL),
                    "--conn-per-min", "0")
mine = []
for i in range(PER_ADDR):
    p = A.Client(c.addr)
    mine.append(p)
    check(admitted(p), f"connection {i + 1} of {PER_ADDR} from 127.0.0.1 was not admitted")
over = A.Client(c.addr, monitor=True)
check(refused(over), "a connection over max_conns_per_addr was not refused with 400")
check(not admitted(over, timeout=2), "a connection over max_conns_per_addr was answered")
over.close()
check(logged(c, "max_conns_per_addr"), "the refusal is not logged with its reason")
# Closing some makes room again.
for p in mine[:3]:
    p.close()
mine = mine[3:]
time.sleep(0.5)
p = A.Client(c.addr)
mine.append(p)
check(admitted(p), "a new connection was refused after others from its address closed")
# Another address fills the coordinator up to max_conns (6 + 3 = 9 ...).
others = []
for i in range(TOTAL - len(mine)):
    p = A.Client(from_addr(c, "127.0.0.2"))
    others.append(p)
    check(admitted(p), f"connection {i + 1} from 127.0.0.2 was not admitted")
over = A.Client(from_addr(c, "127.0.0.2"), monitor=True)
check(refused(over), "a connection over max_conns was not refused with 400")
over.close()
check(logged(c, "(max_conns)"), "the refusal by max_conns is not logged")
for p in mine + others:
    check(admitted(p, timeout=5), "an admitted connection stopped being answered")
    p.close()
time.sleep(0.5)
check(A.answered(c), "the coordinator does not answer once the connections closed")

# --- the rate of new connections per address ----------------------------------------
c2 = harness.Cluster(name="conn-rate")
c2.start_coordinator("--conn-per-min", "1", "--conn-burst", "5", "--max-conns-per-addr", "0",
                     "--max-conns", "0")
# (the harness's readiness probe took a token or two of the burst)
ok, hit = 0, False
for i in range(12):
    with A.Client(c2.addr, monitor=True) as p:
        if admitted(p, timeout=3):
            ok += 1
        else:
            hit = refused(p, timeout=3)
            break
check(hit, f"{ok} new connections from one address in a row, none refused (conn_burst 5)")
check(1 <= ok <= 5, f"{ok} connections admitted before the refusal; conn_burst is 5")
check(logged(c2, "conn_per_min"), "the rate refusal is not logged with its reason")
with A.Client(from_addr(c2, "127.0.0.2")) as p:
    check(admitted(p), "another address was refused by the first one's rate limit")
harness.finish()
