"""Big messages (issue 11, finding 7, the part main fixes): the
coordinator's memory stays bounded and real workers keep working.

Attacks, while a genuine --dry-run worker runs a sweep:
  - 16 MiB Heartbeats of 2,000,000 running entries (what a 16 MiB message
    cap allowed): 20 from strangers, one from a registered worker on its own
    connection.  Above the inbound cap (HPT_PROTO_MAX_INBOUND = 1 MiB +
    64 KiB) a frame costs its sender the connection before libzmq allocates
    it: each sender's socket monitor must see the disconnect; the registered
    worker, on its new connection, is told to say Hello again and is
    welcomed back.
  - other bodies over the cap (Submit, Hello, Result, random bytes), and a
    frame of exactly cap + 1 bytes: cut too;
  - a frame of exactly the cap: not cut (the connection still answers);
    its Heartbeat body is refused by size before anything is decoded;
  - 20 Heartbeats just under the cap (139,000 entries, where 1,024 are
    allowed) from a registered worker: refused by size, the worker stays
    registered; a Submit body over its 1 MiB + 16 KiB limit gets an
    ErrorReply (code 2).
Checks: the coordinator's VmRSS peak (sampled every 20 ms) grows by less
than RSS_GROWTH_MB over its RSS before the attack (more under ASan, whose
shadow memory and quarantine, kept at 16 MB here, cost RSS too);
StatusRequests are answered throughout; the
sweep finishes with exactly the results of the same sweep run before the
attack; the coordinator exits 0 on SIGTERM.
"""
import os
import time

import attacker as A
import zmq
from attacker import harness
from harness import check

RSS_GROWTH_MB = 64
RSS_GROWTH_ASAN_MB = 100
# Under ASan the quarantine keeps every freed block (256 MB by default), so
# RSS would measure how much the sweep allocated, not what the attack holds;
# the daemons started here keep a smaller one.  (Harmless without ASan.)
os.environ["ASAN_OPTIONS"] = ":".join(
    x for x in (os.environ.get("ASAN_OPTIONS", ""), "quarantine_size_mb=16") if x)
BIG = 20

SPEC = """
name: {name}
dataset: mnist
test_objective: hash
method: random
seed: 11
cv: {{folds: 3, seed: 4}}
refit: true
budget: {{max_trials: 300}}
parameters:
  units: {{values: [8, 16, 32, 64]}}
  dropout: {{distribution: uniform, min: 0.0, max: 0.5}}
  learning_rate: {{distribution: log_uniform_values, min: 1.0e-4, max: 1.0e-1}}
  epochs: {{value: 1}}
"""

ENTRY = A.f_bytes(1, A.f_varint(1, 1) + A.f_varint(2, 1) + A.f_varint(3, 1))   # 8 bytes


def heartbeat_entries(n):
    """A Heartbeat Envelope with n running entries (raw: building 2 million
    entries through the protobuf runtime would take seconds)."""
    return A.raw_env("heartbeat", ENTRY * n)


def sized(body, total):
    """An Envelope of exactly `total` bytes whose body field is `body`
    (a field name), filled with Heartbeat entries (cut at the end: it is
    refused by its size before anyone decodes it)."""
    for hdr in range(3, 8):
        n = total - 2 - 1 - hdr   # protocol field, body key, length varint
        if len(A.varint(n)) == hdr:
            out = A.raw_env(body, (ENTRY * (n // 8 + 1))[:n])
            assert len(out) == total, (len(out), total)
            return out
    raise ValueError(total)


def cut(c, frame, what, timeout=60):
    """Send frame on a fresh socket that does not reconnect; True when the
    coordinator drops the connection (the monitor sees it)."""
    with A.Peer(c.addr, monitor=True, reconnect_ms=-1) as p:
        evs = p.monitor_events(30, until={zmq.EVENT_CONNECTED})
        if not any(e["event"] == zmq.EVENT_CONNECTED for e in evs):
            check(False, f"{what}: never connected")
            return False
        p.send_raw(frame, timeout=timeout)
        evs = p.monitor_events(timeout, until={zmq.EVENT_DISCONNECTED})
        return any(e["event"] == zmq.EVENT_DISCONNECTED for e in evs)


def cut_all(c, frames, what, timeout=60):
    """cut() for many frames at once, each on its own socket, all sent before
    any disconnect is awaited (so that all of them reach the coordinator even
    when it keeps them); returns how many connections were dropped."""
    peers = [A.Peer(c.addr, monitor=True, reconnect_ms=-1) for _ in frames]
    try:
        for p, frame in zip(peers, frames):
            evs = p.monitor_events(30, until={zmq.EVENT_CONNECTED})
            if not any(e["event"] == zmq.EVENT_CONNECTED for e in evs):
                check(False, f"{what}: never connected")
                continue
            p.send_raw(frame, timeout=timeout)
        deadline = time.time() + timeout
        n = 0
        for p in peers:
            evs = p.monitor_events(max(0.1, deadline - time.time()),
                                   until={zmq.EVENT_DISCONNECTED})
            n += any(e["event"] == zmq.EVENT_DISCONNECTED for e in evs)
        return n
    finally:
        for p in peers:
            p.close()


def kept(c, frame, what):
    """Send frame, then a StatusRequest, on a socket that does not
    reconnect: True when the same connection answers."""
    with A.Client(c.addr, reconnect_ms=-1) as p:
        p.send_raw(frame, timeout=60)
        m = p.status(timeout=60)
        return m is not None and m.body == "status_reply"


def wait_status(c, label):
    with A.Client(c.addr) as cl:
        m = cl.status(timeout=60)
    check(m is not None and m.body == "status_reply", f"no StatusReply {label}")


harness.need_data("mnist")
c = harness.Cluster(name="sec-big", hb_ms=200, liveness=25)
c.start_coordinator(*A.NO_RATE_LIMITS)
pid = c.coord.pid
asan = A.sanitized(pid)
c.start_worker(slots=2, name="genuine", extra=("--dry-run", "--dataset", "mnist"))
base = c.launch(SPEC.format(name="baseline"))
check(c.wait_sweep(base, timeout=300) == "done", "the baseline sweep did not finish")
base_res = c.results(base)

w = A.Worker(c.addr, name="big", datasets=[("no-such-dataset", "cd" * 32)])
check(w.register() is not None, "the attacker worker got no Welcome")
rss0 = A.rss_mb(pid)
sampler = A.RssSampler(pid)
sampler.start()
s1 = c.launch(SPEC.format(name="attacked"))

# 16 MiB Heartbeats of 2 million entries from strangers.
huge = heartbeat_entries(2_000_000)
check(2_000_000 * 8 < len(huge) <= A.MAX_MSG, f"huge heartbeat of {len(huge)} bytes")
n_cut = cut_all(c, [huge] * BIG, "16 MiB heartbeat")
check(n_cut == BIG, f"{BIG - n_cut} of {BIG} 16 MiB Heartbeats did not cost their connection")
wait_status(c, "after the 16 MiB Heartbeats")

# One from the registered worker, on its own connection: it loses the
# connection; its next message, on a new one, is answered with Disconnect,
# and its Hello is welcomed.
mon = w.sock.get_monitor_socket()
w.send_raw(huge, timeout=60)
ev = None
while True:
    if not mon.poll(60000):
        break
    ev = zmq.utils.monitor.recv_monitor_message(mon)
    if ev["event"] == zmq.EVENT_DISCONNECTED:
        break
check(ev is not None and ev["event"] == zmq.EVENT_DISCONNECTED,
      "the registered worker's 16 MiB Heartbeat did not cost its connection")
w.sock.disable_monitor()
mon.close(0)
n_disc = len(w.disconnects)
w.heartbeat()
check(w.wait(lambda: len(w.disconnects) > n_disc, 60, raise_=False),
      "the worker's first message on its new connection was not answered with Disconnect")
check(w.register() is not None, "the worker was not welcomed back after its 16 MiB Heartbeat")

# Other bodies over the cap, and the cap's edge.
over = A.MAX_INBOUND + 1
for body, frame in (("submit", A.raw_env("submit", A.f_bytes(1, b"x" * over), req_id=7)),
                    ("hello", A.raw_env("hello", A.f_bytes(1, b"w" * over))),
                    ("result", A.raw_env("result", A.f_bytes(4, b"e" * over))),
                    ("random bytes", os.urandom(4 * 1024 * 1024)),
                    ("cap + 1 bytes", sized("heartbeat", A.MAX_INBOUND + 1))):
    check(cut(c, frame, body), f"a message over the inbound cap ({body}, {len(frame)} bytes) "
          "did not cost its connection")
n_bad = len(c.log_events(msg="bad message dropped"))
check(kept(c, sized("heartbeat", A.MAX_INBOUND), "cap"),
      "a message of exactly the inbound cap cost its connection")
ev = c.wait_for(lambda: c.log_events(msg="bad message dropped")[n_bad:], 30,
                "the cap-sized Heartbeat to be refused")
check(any("exceeds its 65536 byte limit" in e.get("reason", "") for e in ev),
      f"the cap-sized Heartbeat was not refused by its size before decoding: {ev}")

# Heartbeats just under the cap from the registered worker.
under = heartbeat_entries((A.MAX_INBOUND - 64) // 8)
check(A.MAX_INBOUND - 64 <= len(under) <= A.MAX_INBOUND, f"{len(under)} bytes")
n_bad = len(c.log_events(msg="bad message dropped"))
for _ in range(BIG):
    w.send_raw(under, timeout=60)
    w.pump(0.01)
check(w.barrier(), "the worker is no longer registered after Heartbeats just under the cap")
ev = c.log_events(msg="bad message dropped")[n_bad:]
check(any("body field 11 of" in e.get("reason", "") and "65536 byte limit" in e.get("reason", "")
          for e in ev), f"Heartbeats just under the cap not refused by their size: {ev}")
# A Submit whose body is over its limit but under the cap: an ErrorReply.
with A.Client(c.addr) as cl:
    spec = b"x" * (A.MAX_SPEC + 32 * 1024)
    m = cl.request(None, raw=A.raw_env("submit", A.f_bytes(1, spec), req_id=99), req_id=99,
                   timeout=60)
    check(m is not None and m.body == "error" and m.msg.code == 2 and
          "exceeds" in m.msg.message, f"an oversized Submit body: {m}")
wait_status(c, "after the big messages")

st = c.wait_sweep(s1, timeout=300)
peak = sampler.stop()
check(st == "done", f"the sweep run during the attack ended {st}")
a, b = A.comparable(c.results(s1)), A.comparable(base_res)
check(a == b, "the attacked sweep's results differ from the baseline's")
growth = peak - rss0
limit = RSS_GROWTH_ASAN_MB if asan else RSS_GROWTH_MB
print(f"coordinator RSS before {rss0:.1f} MB, peak {peak:.1f} MB, growth {growth:.1f} MB "
      f"(limit {limit} MB{', ASan' if asan else ''})", flush=True)
check(growth < limit, f"coordinator RSS grew by {growth:.1f} MB (limit {limit} MB)")
check(A.alive(c), "the coordinator died")
w.goodbye()
w.close()
harness.finish()
