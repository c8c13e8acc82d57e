"""Identity: who a connection is, and who a worker is (issue 11, findings 1
and 2; docs/security.md, "Identity").  Every attack goes through real
sockets against a real coordinator; the attacker speaks the wire format
from proto/hptune.proto through protoc's Python code and pyzmq (or, where
libzmq would not let it misbehave, a hand-written ZMTP client).

Routing ids (finding 1).  libzmq 4.3.4's ROUTER aborts (Assertion failed:
ok (src/socket_base.cpp:2130)) when it gives a new connection an automatic
routing id (a zero byte and a 32-bit counter) that a peer claimed for itself
with ZMQ_ROUTING_ID.  The attack, without keys and with CURVE keys: 16
connections claim the ids just ahead of the counter (read off the
coordinator's log, as an attacker could through `hptune logs`, when it shows
automatic ids; a random place when it does not), then 300 plain connections
follow.  The coordinator must survive and keep serving, and no connection
may keep an id it chose: each shows the id the coordinator's ZAP handler
gave it.  A hand-written ZMTP client that holds back its READY until the
coordinator has answered keeps an id of its choosing: its first message is
refused and its connection cut.  ZMTP 1.0 and 2.0 greetings are refused.

Workers (finding 2), against a worker that trains for real:
  - a Hello with the live worker's id from another connection, with no or a
    wrong session secret, is refused (Disconnect DISCONNECT_ID_REFUSED,
    logged); the real worker is not told anything and keeps its lease;
  - Results for its lease from another peer (unregistered, or registered
    under its own id) never count;
  - after a coordinator restart (the worker frozen meanwhile) a peer that
    never said Hello posts the orphaned lease's Result, then tries Hello
    with the worker's id: neither is accepted; the genuine worker, thawed,
    reconnects with its secret, takes the lease back and delivers it (same
    attempt, not recomputed);
  - a stalled ZMTP client claiming the routing id of a worker whose
    connection has closed is refused.
The sweeps finish with only the real workers' results."""
import math
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

from harness import CLI, SRC, Cluster, check, epoch_seconds, finish, need_data, skip, tail

try:
    import zmq
except ImportError:
    skip("pyzmq is not installed (deploy/install-deps.sh)")
if not shutil.which("protoc"):
    skip("protoc is not installed (deploy/install-deps.sh)")

# --- the wire, built by another implementation -------------------------------------
pbdir = tempfile.mkdtemp(prefix="hpt-ident-pb-")
subprocess.run(["protoc", f"--python_out={pbdir}", "-I", os.path.join(SRC, "proto"),
                "hptune.proto"], check=True)
sys.path.insert(0, pbdir)
try:
    import hptune_pb2 as pb
except ImportError as e:
    skip(f"google.protobuf cannot load protoc's output: {e}")

ID_REFUSED = pb.DISCONNECT_ID_REFUSED
ctx = zmq.Context()


def env(**body):
    """An Envelope with one body, e.g. env(heartbeat=pb.Heartbeat())."""
    e = pb.Envelope(protocol=1)
    (name, msg), = body.items()
    getattr(e, name).CopyFrom(msg)
    return e.SerializeToString()


def dealer(addr, routing_id=None, keys=None):
    d = ctx.socket(zmq.DEALER)
    d.setsockopt(zmq.LINGER, 0)
    if routing_id is not None:
        d.setsockopt(zmq.ROUTING_ID, routing_id)
    if keys:
        d.curve_serverkey, d.curve_publickey, d.curve_secretkey = keys
    d.connect(addr)
    return d


def replies(d, timeout=2.0, until=None):
    """Envelopes received on d within timeout (stops early at body `until`)."""
    out, t0 = [], time.time()
    while time.time() - t0 < timeout:
        if not d.poll(50):
            continue
        m = pb.Envelope()
        m.ParseFromString(d.recv())
        out.append(m)
        if until and m.WhichOneof("body") == until:
            break
    return out


def hello_msg(worker_id, secret=b"", slots=1, datasets=()):
    return env(hello=pb.Hello(worker_id=worker_id, name="intruder", host="elsewhere",
                              slots=slots, version="0.1.0", session_secret=secret,
                              datasets=list(datasets)))


def result_msg(task, attempt, score):
    return env(result=pb.Result(task=task, attempt=attempt, ok=True, score=score,
                                accuracy=score, log_loss=0.5, f1_macro=score,
                                train_score=float("nan"), fit_seconds=1.0, epochs=1,
                                n_eval=100))


# --- a hand-written ZMTP 3.0 NULL client ------------------------------------------------
def recvn(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError("connection closed")
        b += c
    return b


def zmtp_frame(body, command=False):
    flags = 4 if command else 0
    if len(body) > 255:
        return bytes([flags | 2]) + struct.pack(">Q", len(body)) + body
    return bytes([flags, len(body)]) + body


def zmtp_read(s):
    flags = recvn(s, 1)[0]
    size = struct.unpack(">Q", recvn(s, 8))[0] if flags & 2 else recvn(s, 1)[0]
    return flags, recvn(s, size)


def zmtp_prop(name, value):
    return bytes([len(name)]) + name + struct.pack(">I", len(value)) + value


def stalled_client(port, identity):
    """A ZMTP 3.0 NULL DEALER that sends its READY (with Identity) only after
    the coordinator's READY, i.e. after the coordinator's ZAP reply: libzmq
    then keeps the identity it chose.  Returns the connected socket."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"\xff" + b"\x00" * 8 + b"\x7f" + b"\x03\x00" + b"NULL".ljust(20, b"\x00") +
              b"\x00" * 32)
    g = recvn(s, 64)
    assert g[0] == 0xff and g[10] == 3, g
    flags, body = zmtp_read(s)
    assert flags & 4 and body.startswith(b"\x05READY"), body
    s.sendall(zmtp_frame(b"\x05READY" + zmtp_prop(b"Socket-Type", b"DEALER") +
                         zmtp_prop(b"Identity", identity), command=True))
    return s


def closed_by_peer(s, timeout=3.0):
    """Whether the coordinator closes s (EOF or reset) within timeout,
    draining anything it sends first."""
    s.settimeout(timeout)
    try:
        while s.recv(4096):
            pass
        return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


# --- routing ids: the crash --------------------------------------------------------------
def counter_from_log(c):
    """The next automatic routing id, if the coordinator's log shows one (an
    automatic id is ten hex digits starting with 00); else None."""
    for ev in c.log_events(msg="message from unregistered peer; disconnecting"):
        m = re.fullmatch(r"00([0-9a-f]{8})", ev.get("peer", ""))
        if m:
            return (int(m.group(1), 16) + 1) % 2**32
    return None


def routing_id_attack(c, keys=None, label="plain"):
    # Where is the counter?  An attacker reads its own connection's id in the log.
    probe = dealer(c.addr, keys=keys)
    probe.send(env(heartbeat=pb.Heartbeat()))
    check(any(m.WhichOneof("body") == "disconnect" for m in replies(probe, until="disconnect")),
          f"{label}: the probe got no Disconnect")
    time.sleep(0.2)
    nxt = counter_from_log(c)
    shown = [ev.get("peer", "") for ev in c.log_events(
        msg="message from unregistered peer; disconnecting")]
    print(f"{label}: peers as logged: {shown[-3:]}; next automatic id: "
          f"{'%08x' % nxt if nxt is not None else 'not shown'}")
    check(nxt is None, f"{label}: the log shows an automatic routing id: {shown}")
    # The coordinator's ids; a libzmq peer slower than the handler's 20 ms
    # keeps an automatic one, which the log shows only as a keyed hash.
    check(shown and all(re.fullmatch(r"c[0-9]+\.[0-9a-f]{8}|a[0-9a-f]{12}", p) for p in shown),
          f"{label}: connections do not carry the coordinator's ids: {shown}")
    base = nxt if nxt is not None else random.getrandbits(32)
    claims = []
    for i in range(16):
        rid = b"\x00" + ((base + 1 + i) % 2**32).to_bytes(4, "big")
        d = dealer(c.addr, routing_id=rid, keys=keys)
        d.send(env(heartbeat=pb.Heartbeat()))
        claims.append(d)
    # Each claimer is answered under the coordinator's id, or (had libzmq read
    # its claim after the handler's reply) refused and cut.
    answered = sum(any(m.WhichOneof("body") == "disconnect"
                       for m in replies(d, until="disconnect")) for d in claims)
    cut = len(c.log_events(msg="peer chose its own routing id; connection refused and cut"))
    print(f"{label}: of {len(claims)} connections that claimed ids, {answered} answered under "
          f"the coordinator's id; refusals logged so far: {cut}")
    check(answered == len(claims) or (answered + cut >= len(claims)),
          f"{label}: {len(claims) - answered} claimers neither answered nor refused")
    plain = []
    for i in range(300):
        d = dealer(c.addr, keys=keys)
        d.send(env(heartbeat=pb.Heartbeat()))
        plain.append(d)
        if len(plain) >= 50:   # keep the number of open sockets modest
            for x in plain:
                replies(x, timeout=2.0, until="disconnect")
                x.close()
            plain = []
    for x in plain:
        x.close()
    check(c.coord.poll() is None,
          f"{label}: the coordinator died (exit {c.coord.returncode}):\n{c.coord_log()}")
    r = c.cli("status", "--timeout", "5", check_rc=False)
    check(r.returncode == 0, f"{label}: the coordinator does not answer after the attack: "
                             f"{r.returncode} {r.stderr}")
    check("Assertion failed" not in c.coord_log(), f"{label}: libzmq asserted:\n{c.coord_log()}")
    # The claimed ids were not used: each claimer shows a coordinator-given id.
    logged = {ev.get("peer") for ev in c.log_events(
        msg="message from unregistered peer; disconnecting")}
    check(not any(p.startswith("00") for p in logged), f"{label}: a claimed id was used: "
                                                       f"{sorted(logged)[:5]}")
    # A chosen text id does not become the peer's identity either.
    d = dealer(c.addr, routing_id=b"i-choose-this", keys=keys)
    d.send(hello_msg("chooser:1:1"))
    if any(m.WhichOneof("body") == "welcome" for m in replies(d, until="welcome")):
        ev = c.wait_log(msg="worker joined", worker="chooser:1:1", timeout=5)
        check(ev is not None and re.fullmatch(r"c[0-9]+\.[0-9a-f]{8}", ev.get("peer", "")),
              f"{label}: the chooser's routing id is not the coordinator's: {ev}")
        d.send(env(goodbye=pb.Goodbye()))
    else:   # its READY came after the handler's reply: refused and cut
        check(c.wait_log(msg="peer chose its own routing id; connection refused and cut",
                         routing_id="i-choose-this".encode().hex(), timeout=5) is not None,
              f"{label}: the chooser was neither welcomed nor refused:\n{c.coord_log()}")
    for x in claims + [probe, d]:
        x.close()


def zmtp_old_versions(c, label):
    """ZMTP 1.0 (unversioned) and 2.0 peers could pick their identity in the
    greeting; with a ZAP domain libzmq refuses them."""
    for greet, name in ((b"\x01\x00", "ZMTP 1.0"),
                        (b"\xff" + b"\x00" * 8 + b"\x7f" + b"\x01\x05", "ZMTP 2.0")):
        s = socket.create_connection(("127.0.0.1", c.port), timeout=5)
        s.sendall(greet)
        check(closed_by_peer(s), f"{label}: a {name} peer was not refused")
        s.close()


need_data("mnist-10k")
c = Cluster(name="ident", hb_ms=200, liveness=5)
c.start_coordinator()
routing_id_attack(c, label="plain")
zmtp_old_versions(c, "plain")
# A peer that holds back its READY keeps the id it chose: refused at its
# first message, and its connection cut.
s = stalled_client(c.port, b"evil-chosen-id")
s.sendall(zmtp_frame(env(heartbeat=pb.Heartbeat())))
check(closed_by_peer(s), "a stalled client with a chosen id was not cut")
check(c.wait_log(msg="peer chose its own routing id; connection refused and cut",
                 timeout=5) is not None, "the chosen id was not logged")
s.close()

# --- workers: impersonation ---------------------------------------------------------------
UNITS = 64
EPOCHS = max(3, math.ceil(1.5 / epoch_seconds(UNITS, 32, "1/2")))   # about 1.5 s a task
SPEC = """
name: {name}
dataset: mnist-10k
method: grid
cv: {{folds: 2, seed: 3}}
refit: false
parameters:
  units: {{values: [{units}]}}
  batch_size: {{value: 32}}
  epochs: {{value: {epochs}}}
"""
FORGED = 0.123456
real_p = c.start_worker(slots=1, name="real", extra=["--reconnect-ms", "100",
                                                    "--reconnect-max-ms", "400"])
real = c.worker_id("real")
s1 = c.launch(SPEC.format(name="ident-1", units=", ".join(str(UNITS + i) for i in range(3)),
                          epochs=EPOCHS))


def fresh_lease(worker):
    row = c.wait_for(lambda: c.q("SELECT task, attempt FROM attempts WHERE worker = ? AND "
                                 "outcome IS NULL AND leased > ? ORDER BY leased DESC LIMIT 1",
                                 worker, time.time() - 0.5),
                     timeout=60, what=f"a fresh lease of {worker}")
    return row[0]


task, attempt = fresh_lease(real)
# Another connection says Hello with the real worker's id.
evil = dealer(c.addr)
evil.send(hello_msg(real, slots=8))
got = replies(evil, until="disconnect")
check([m.WhichOneof("body") for m in got] == ["disconnect"] and
      got[0].disconnect.code == ID_REFUSED,
      f"a Hello with a live worker's id was not refused: {got}")
evil.send(hello_msg(real, secret=os.urandom(32), slots=8))
got = replies(evil, until="disconnect")
check(got and got[-1].disconnect.code == ID_REFUSED, f"a wrong secret was not refused: {got}")
ev = c.wait_log(msg="hello refused: the worker id is not this connection's", worker=real,
                timeout=5)
check(ev is not None and ev.get("peer", "").startswith("c"),
      "the refusal was not logged with the peer:\n" + c.coord_log())
# Forged results for the real worker's lease: unregistered, then registered.
evil.send(result_msg(task, attempt, FORGED))
check(any(m.WhichOneof("body") == "disconnect" for m in replies(evil, until="disconnect")),
      "an unregistered peer's Result got no Disconnect")
evil.send(hello_msg("intruder:1:1"))
check(any(m.WhichOneof("body") == "welcome" for m in replies(evil, until="welcome")),
      "the intruder could not register under its own id")
evil.send(result_msg(task, attempt, FORGED))
check(c.wait_log(msg="stale or duplicate result dropped", worker="intruder:1:1", timeout=5,
                 reason="leased-to-another-worker") is not None,
      "the intruder's forged result was not dropped:\n" + c.coord_log())
evil.send(env(goodbye=pb.Goodbye()))
evil.close()
check(c.wait_sweep(s1, timeout=300) == "done", "the first sweep did not finish")
check(not c.log_events("real", msg="disconnect, registering again") and
      not c.log_events("real", msg="worker id refused, registering under a new one"),
      "the real worker was disturbed:\n" + tail(c.log_path("real")))
done_by = {w for (w,) in c.q("SELECT worker FROM attempts a JOIN tasks t ON t.id = a.task "
                             "WHERE t.sweep = ? AND a.outcome = 'done'", s1)}
check(done_by == {real}, f"tasks of the first sweep done by {done_by}")
check(not c.q("SELECT id FROM tasks WHERE score = ?", FORGED), "a forged score is in the journal")

# --- workers: after a coordinator restart --------------------------------------------------
s2 = c.launch(SPEC.format(name="ident-2", units=", ".join(str(UNITS + 8 + i) for i in range(2)),
                          epochs=EPOCHS))
task, attempt = fresh_lease(real)
c.pause(real_p)                       # the worker holds the lease, and says nothing
c.kill(c.coord)
c.start_coordinator()                 # same journal: task becomes an orphaned lease of `real`
t_restart = time.time()
check(c.q("SELECT state FROM tasks WHERE id = ?", task)[0][0] == "leased",
      "the lease is not in the journal")
stranger = dealer(c.addr)             # never says Hello
stranger.send(result_msg(task, attempt, FORGED))
replies(stranger, timeout=0.3)
stranger.send(hello_msg(real, slots=8))
got = replies(stranger, until="disconnect")
check(got and got[-1].disconnect.code == ID_REFUSED,
      f"after the restart, a Hello with the orphan holder's id was not refused: {got}")
check(c.q("SELECT state FROM tasks WHERE id = ?", task)[0][0] == "leased",
      "the stranger's Result for the orphaned lease was accepted")
stranger.close()
c.resume(real_p)
ev = c.wait_log(msg="worker re-attached to its leases from before the restart", worker=real,
                timeout=20, after=t_restart)
check(ev is not None, "the real worker did not take its lease back:\n" + c.coord_log() +
      tail(c.log_path("real")))
c.wait_for(lambda: c.q("SELECT 1 FROM attempts WHERE task = ? AND attempt = ? AND "
                       "outcome = 'done'", task, attempt), timeout=60,
           what="the real worker's result for the orphaned lease")
row = c.q("SELECT worker FROM attempts WHERE task = ? AND attempt = ?", task, attempt)[0]
check(row[0] == real, f"the orphan's result is not the real worker's: {row}")
check(c.q("SELECT score FROM tasks WHERE id = ?", task)[0][0] != FORGED, "the forged score won")

# --- a closed connection's routing id, claimed -------------------------------------------
victim_p = c.start_worker(slots=1, name="victim", extra=["--reconnect-ms", "100"])
victim = c.worker_id("victim")
ev = c.wait_log(msg="worker joined", worker=victim, timeout=20)
victim_rid = ev.get("peer", "")
check(re.fullmatch(r"c[0-9]+\.[0-9a-f]{8}", victim_rid), f"victim's routing id: {victim_rid}")
t_kill = c.kill(victim_p)
# Once the coordinator has dropped it, its connection (and routing id) is gone.
check(c.wait_log(msg="worker left", worker=victim, after=t_kill, timeout=20) is not None,
      "the killed worker was not dropped")
s = stalled_client(c.port, victim_rid.encode())
s.sendall(zmtp_frame(hello_msg(victim)))
check(closed_by_peer(s), "a client claiming a closed worker's routing id was not cut")
s.close()
check(c.wait_sweep(s2, timeout=300) == "done", "the second sweep did not finish")
done_by = {w for (w,) in c.q("SELECT worker FROM attempts a JOIN tasks t ON t.id = a.task "
                             "WHERE t.sweep = ? AND a.outcome = 'done'", s2)}
check(done_by <= {real, victim}, f"tasks of the second sweep done by {done_by}")
check(not c.q("SELECT id FROM tasks WHERE score = ?", FORGED), "a forged score is in the journal")
c.stop()

# --- the routing-id attack with CURVE keys ---------------------------------------------
keys = tempfile.mkdtemp(prefix="hpt-ident-keys-")


def keygen(name):
    prefix = os.path.join(keys, name)
    r = subprocess.run([CLI, "keygen", "-o", prefix], capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        skip("hptune keygen: " + r.stderr.strip())
    return prefix + ".key", prefix + ".pub", r.stdout.splitlines()[-1]


coord_key, coord_pub, coord_z85 = keygen("coordinator")
cli_key, cli_pub, _ = keygen("cli")
wk_key, wk_pub, wk_z85 = keygen("attacker")   # an authorized worker key: an insider
auth = os.path.join(keys, "authorized")
os.makedirs(os.path.join(auth, "clients"))
os.makedirs(os.path.join(auth, "workers"))
shutil.copy(cli_pub, os.path.join(auth, "clients", "cli.pub"))
shutil.copy(wk_pub, os.path.join(auth, "workers", "attacker.pub"))
with open(wk_key) as f:
    wk_secret_z85 = re.search(r'secret-key = "([^"]+)"', f.read()).group(1)
k = Cluster(name="ident-curve")
k.env.update(HPTUNE_CURVE_SECRET=cli_key, HPTUNE_SERVER_KEY=coord_pub)
k.start_coordinator("--curve-secret", coord_key, "--authorized-keys", auth)
curve_keys = (coord_z85.encode(), wk_z85.encode(), wk_secret_z85.encode())
routing_id_attack(k, keys=curve_keys, label="curve")
zmtp_old_versions(k, "curve")
k.stop()
ctx.destroy(linger=0)
shutil.rmtree(keys, ignore_errors=True)
shutil.rmtree(pbdir, ignore_errors=True)
finish()
