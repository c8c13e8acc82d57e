"""With CURVE keys on, strangers are refused before any message reaches
hptune (docs/security.md), from this suite's own ZeroMQ binding.

Keys: the coordinator's, an authorized worker's and an authorized client's
come from `hptune keygen`; the attackers' from zmq.curve_keypair().  While a
genuine worker (authorized key) runs a sweep, attackers connect and send a
Hello, a Submit, a StatusRequest, garbage and a 16 MiB Heartbeat:
  - a key that is not in the authorized-keys directory (ZAP says 400: the
    attacker's socket monitor sees the refusal, the coordinator logs
    "connection refused" with the key);
  - a plain-text peer (no keys: the handshake fails on the mechanism);
  - an authorized public key with a secret key that is not its own (the
    peer cannot prove it holds the key);
  - an authorized key pair that encrypts to another server key (a client of
    a fake coordinator).
None gets an answer; the coordinator logs no message from any of them (no
"bad message dropped", no unregistered peer, no worker joined, no spec
rejected), creates no sweep, registers no worker; it rate-limits its
refusal lines.  An authorized client built from the same library is
answered, so the refusals are the keys', not the library's.  The attacked
sweep ends with exactly the results of the same sweep run before.
"""
import os
import shutil
import tempfile

import attacker as A
import zmq
from attacker import harness, pb
from harness import check

SPEC = """
name: {name}
dataset: mnist
test_objective: hash
method: random
seed: 3
cv: {{folds: 3, seed: 1}}
refit: true
budget: {{max_trials: 60}}
parameters:
  units: {{values: [8, 16, 32]}}
  dropout: {{distribution: uniform, min: 0.0, max: 0.5}}
  epochs: {{value: 1}}
"""

EVENT_NAMES = {getattr(zmq, n): n[6:] for n in dir(zmq)
               if n.startswith("EVENT_") and n not in ("EVENT_ALL", "EVENT_ALL_V1", "EVENT_ALL_V2")
               and isinstance(getattr(zmq, n), int)}

keys = tempfile.mkdtemp(prefix="hpt-sec-curve-")
harness.on_cleanup(lambda: shutil.rmtree(keys, ignore_errors=True))
try:
    coord, coord_pub = A.keygen(os.path.join(keys, "coordinator"))
    wkey, wkey_pub = A.keygen(os.path.join(keys, "worker"))
    ckey, ckey_pub = A.keygen(os.path.join(keys, "client"))
except RuntimeError as e:
    if "without CURVE" in str(e):
        harness.skip(str(e))
    raise
auth = os.path.join(keys, "authorized")
os.mkdir(auth)
# A key's role is the subdirectory it is in (docs/security.md, "Roles").
for role, pub in (("workers", wkey_pub), ("clients", ckey_pub)):
    os.mkdir(os.path.join(auth, role))
    shutil.copy(pub, os.path.join(auth, role, os.path.basename(pub)))
stranger = A.Keys.generate()
other_server = A.Keys.generate()

c = harness.Cluster(name="sec-curve", hb_ms=200, liveness=25)
c.env.update(HPTUNE_CURVE_SECRET=ckey.path, HPTUNE_SERVER_KEY=coord_pub)
c.start_coordinator("--curve-secret", coord.path, "--authorized-keys", auth, *A.NO_RATE_LIMITS)
c.start_worker(slots=2, name="genuine", data="/nonexistent",
               extra=("--dry-run", "--dataset", "mnist", "--curve-secret", wkey.path,
                      "--server-key", coord_pub))
base = c.launch(SPEC.format(name="baseline"))
check(c.wait_sweep(base, timeout=300) == "done", "the baseline sweep did not finish")
base_res = c.results(base)

insider = (ckey, coord.public)
with A.Client(c.addr, curve=insider) as cl:
    m = cl.status()
    check(m is not None and m.body == "status_reply",
          f"an authorized client of this library was not answered: {m}")

s1 = c.launch(SPEC.format(name="attacked"))
log_before = len(open(c.log_path()).read().splitlines())

huge = A.raw_env("heartbeat", A.f_bytes(1, A.f_varint(1, 1) + A.f_varint(2, 1)) * 2_000_000)
ATTACK = [
    A.envelope("hello", pb.Hello(worker_id="intruder", name="intruder", host="h", slots=8,
                                 version="v")).SerializeToString(),
    A.envelope("submit", pb.Submit(spec=SPEC.format(name="intruder"), path="x.yaml"),
               req_id=5).SerializeToString(),
    A.envelope("status", pb.StatusRequest(), req_id=6).SerializeToString(),
    b"\xff\x00garbage",
    huge,
]
attackers = [
    ("an unlisted key", dict(curve=(stranger, coord.public)), {zmq.EVENT_HANDSHAKE_FAILED_AUTH}),
    ("plain text", dict(), {zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL, zmq.EVENT_DISCONNECTED}),
    ("an authorized public key without its secret",
     dict(curve=(A.Keys(wkey.public, stranger.secret), coord.public)),
     {zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL, zmq.EVENT_HANDSHAKE_FAILED_AUTH,
      zmq.EVENT_DISCONNECTED}),
    ("the wrong server key", dict(curve=(wkey, other_server.public)),
     {zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL, zmq.EVENT_DISCONNECTED}),
]
for label, kw, refused in attackers:
    for round_ in range(3):   # reconnecting peers: the refusals must stay cheap
        with A.Client(c.addr, monitor=True, **kw) as p:
            for frame in ATTACK:
                p.send_raw(frame, timeout=1)
            evs = p.monitor_events(30, until=refused)
            names = [e["event"] for e in evs]
            if round_ == 0:
                print(f"{label}: socket monitor saw (event, value) "
                      f"{[(EVENT_NAMES.get(int(e['event']), int(e['event'])), hex(int(e['value']))) for e in evs]}",
                      flush=True)
            check(any(e in refused for e in names),
                  f"{label}: the handshake was not refused (monitor events {names})")
            check(zmq.EVENT_HANDSHAKE_SUCCEEDED not in names,
                  f"{label}: the handshake succeeded")
            m = p.recv(0.5)
            check(m is None, f"{label}: answered: {m}")

# The coordinator says who it refused, with the key, at most 5 lines a minute.
ev = c.wait_log(msg="connection refused", key=stranger.public.decode(), timeout=20)
check(ev is not None and ev.get("address") == "127.0.0.1",
      f"no ZAP refusal logged for the unlisted key: {ev}")
n_refused = len(c.log_events(msg="connection refused", key=stranger.public.decode()))
check(n_refused <= 5, f"{n_refused} refusal lines for one key within a minute (at most 5)")
check(c.wait_log(msg="handshake failed", timeout=20) is not None,
      "no handshake failure logged for the plain-text or wrong-key peers")

# Nothing reached hptune.
with open(c.log_path(), errors="replace") as f:
    new = f.read().splitlines()[log_before:]
for bad in ('msg="bad message dropped"', 'msg="message from unregistered peer',
            'msg="spec rejected"', "intruder", 'msg="worker joined"',
            'msg="worker re-registered"'):
    hits = [ln for ln in new if bad in ln]
    check(not hits, f"a refused peer's message reached hptune ({bad}): {hits[:3]}")
with A.Client(c.addr, curve=insider) as cl:
    m = cl.status()
    names = sorted(s.name for s in m.msg.sweeps) if m and m.body == "status_reply" else None
    check(names == ["attacked", "baseline"], f"sweeps after the attack: {names}")
    m = cl.workers()
    ws = [w.name for w in m.msg.workers] if m and m.body == "workers_reply" else None
    check(ws == ["genuine"], f"workers after the attack: {ws}")

st = c.wait_sweep(s1, timeout=300)
check(st == "done", f"the sweep run during the attack ended {st}")
check(A.comparable(c.results(s1)) == A.comparable(base_res),
      "the attacked sweep's results differ from the baseline's")

# An insider's garbage is dropped like anyone's, and it is still answered.
with A.Client(c.addr, curve=insider) as cl:
    for frame in ATTACK[3:4] + [b"", b"\x08\x01"]:
        cl.send_raw(frame)
    m = cl.status()
    check(m is not None and m.body == "status_reply", f"the insider after its garbage: {m}")
check(c.wait_log(msg="bad message dropped", timeout=20) is not None,
      "the insider's garbage was not counted as bad")
check(A.alive(c), "the coordinator died")
harness.finish()
