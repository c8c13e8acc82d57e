"""Roles (docs/security.md "Roles"; issue 11, finding 6), each attack made
through a real CURVE connection: with pyzmq as a raw peer holding a key,
and with the hptune CLI and hptune-worker.

  - a worker's key (workers/) cannot submit, cancel or read; a reader's key
    (readers/) reads status, results and logs but cannot submit or cancel;
    a client's key (clients/) submits and cancels but cannot register as a
    worker, heartbeat or deliver a result;
  - a key at the top of the directory (the layout before roles) is a
    worker's: a worker with it runs tasks, a CLI with it is refused with a
    hint to move it;
  - each refusal is an ErrorReply (code 3) or a Disconnect naming the role
    and the message kind, and is logged with the peer; a flood of refused
    messages is answered only up to the bad-message burst;
  - SIGHUP: a key moved to another role's directory gets that role on its
    open connection; a key deleted is refused on its open connection;
  - a .pub whose role line disagrees with its directory is skipped;
    `hptune keygen --role` writes the role and refuses an unknown one.
"""
import os
import shutil
import signal
import subprocess
import tempfile
import time

from harness import CLI, Cluster, check, finish, skip, tail
from pbwire import Peer, body, hello, pb

SPEC = """
name: {name}
dataset: {dataset}
test_objective: hash   # --dry-run workers serve only such sweeps
method: random
seed: {seed}
cv: {{folds: 2}}
refit: false
parameters:
  units: {{distribution: int_uniform, min: 4, max: 64}}
  epochs: {{value: 1}}
budget: {{max_trials: {trials}}}
"""

keys = tempfile.mkdtemp(prefix="hpt-roles-keys-")


def keygen(name, *extra):
    prefix = os.path.join(keys, name)
    r = subprocess.run([CLI, "keygen", "-o", prefix, *extra], capture_output=True, text=True,
                       timeout=30)
    if r.returncode != 0 and "without CURVE" in r.stderr:
        skip("libzmq without CURVE: " + r.stderr.strip())
    if r.returncode != 0:
        raise RuntimeError("hptune keygen: " + r.stderr)
    return prefix + ".key", prefix + ".pub", r.stdout


coord_key, coord_pub, _ = keygen("coordinator")
worker_key, worker_pub, out = keygen("worker", "--role", "worker")
check("workers/" in out, f"keygen --role worker does not say where the key goes: {out}")
with open(worker_pub) as f:
    check('role = "worker"' in f.read(), "keygen --role worker wrote no role line")
client_key, client_pub, _ = keygen("client", "--role", "client")
reader_key, reader_pub, _ = keygen("reader", "--role", "reader")
flat_key, flat_pub, _ = keygen("legacy")   # no role: the layout before roles
flood_key, flood_pub, _ = keygen("flood", "--role", "reader")
dave_key, dave_pub, _ = keygen("dave", "--role", "client")
r = subprocess.run([CLI, "keygen", "-o", os.path.join(keys, "x"), "--role", "root"],
                   capture_output=True, text=True)
check(r.returncode == 2 and "not a role" in r.stderr, f"keygen --role root: {r.returncode} "
      f"{r.stderr}")

auth = os.path.join(keys, "authorized")
for d in ("workers", "clients", "readers"):
    os.makedirs(os.path.join(auth, d))
shutil.copy(worker_pub, os.path.join(auth, "workers", "w1.pub"))
shutil.copy(client_pub, os.path.join(auth, "clients", "alice.pub"))
with open(reader_pub) as f:   # the bare key, no role line: SIGHUP moves it to clients/
    bare = next(ln.split('"')[1] for ln in f if "public-key" in ln)
with open(os.path.join(auth, "readers", "bob.pub"), "w") as f:
    f.write(bare + "\n")
shutil.copy(flood_pub, os.path.join(auth, "readers", "flood.pub"))
shutil.copy(dave_pub, os.path.join(auth, "clients", "dave.pub"))
shutil.copy(flat_pub, os.path.join(auth, "old-worker.pub"))

c = Cluster(name="roles")
c.env.update(HPTUNE_CURVE_SECRET=client_key, HPTUNE_SERVER_KEY=coord_pub)
c.start_coordinator("--curve-secret", coord_key, "--authorized-keys", auth,
                    "--bad-burst", "10", "--bad-per-min", "6")
ev = c.wait_log(msg="CURVE on", timeout=5)
check(ev is not None and (ev.get("workers"), ev.get("clients"), ev.get("readers")) ==
      ("2", "2", "2"), f"start-up line: {ev}")
check(c.wait_log(msg="keys at the top of the authorized-keys directory have the worker role",
                 keys="1", timeout=5) is not None, "no note about the flat key's role")


def cli_as(key, *args):
    return subprocess.run([CLI, *args, "--timeout", "5"], capture_output=True, text=True,
                          env=dict(c.env, HPTUNE_CURVE_SECRET=key), timeout=60)


def worker_args(key):
    return ["--dry-run", "--dataset", "mnist", "--curve-secret", key, "--server-key", coord_pub,
            "--reconnect-ms", "100", "--reconnect-max-ms", "400"]


def spec_file(name, **kw):
    path = os.path.join(c.dir, name + ".yaml")
    with open(path, "w") as f:
        f.write(SPEC.format(name=name, **kw))
    return path


def peer(key):
    return Peer(c.addr, key=key, server=coord_pub)


# --- the worker role works: a sweep submitted by a client runs ----------------------
c.start_worker(slots=2, name="w", data="/nonexistent", extra=worker_args(worker_key))
c.start_worker(slots=1, name="legacy", data="/nonexistent", extra=worker_args(flat_key))
# Both registered before the sweep: otherwise one of them may run every task
# before the other says Hello, and "which workers ran tasks" is a race.
c.wait_for(lambda: {"w", "legacy"} <= set(c.cli("workers").stdout.split()), timeout=30,
           what="the worker-role worker and the one with a flat (legacy) key to register")
s1 = c.launch(SPEC.format(name="first", dataset="mnist", seed=1, trials=6))
check(c.wait_sweep(s1, timeout=120) == "done", "the client's sweep did not finish")
ran = {n for (n,) in c.q("SELECT DISTINCT w.name FROM attempts a JOIN workers w "
                         "ON a.worker = w.id")}
check(ran <= {"w", "legacy"} and "w" in ran, f"workers that ran tasks: {ran}")

# A sweep no worker can run (their only dataset is mnist): it stays queued.
s2 = c.launch(SPEC.format(name="waiting", dataset="fashion-mnist", seed=2, trials=4))
time.sleep(0.5)
check(c.sweep_state(s2) == "queued", f"sweep {s2} is {c.sweep_state(s2)}")

# --- a worker's key cannot submit, cancel or read ---------------------------------------
for key, label, role in ((worker_key, "workers/w1.pub", "worker"),
                         (flat_key, "old-worker.pub", "worker")):
    r = cli_as(key, "launch", spec_file("attack", dataset="mnist", seed=3, trials=1))
    check(r.returncode == 1 and f"key {label} has the role {role}" in r.stderr and
          "submit needs the role client" in r.stderr and "clients/" in r.stderr,
          f"launch with {label}: {r.returncode} {r.stderr}")
    r = cli_as(key, "cancel", str(s2))
    check(r.returncode == 1 and "cancel needs the role client" in r.stderr,
          f"cancel with {label}: {r.returncode} {r.stderr}")
    r = cli_as(key, "status")
    check(r.returncode == 1 and "status needs the role client or reader" in r.stderr and
          "clients/ or readers/" in r.stderr, f"status with {label}: {r.returncode} {r.stderr}")
w = peer(worker_key)
rep = w.request(submit=pb.Submit(spec=SPEC.format(name="raw", dataset="mnist", seed=4,
                                                  trials=1), path="raw.yaml"))
check(body(rep) == "error" and rep.error.code == 3 and "role worker" in rep.error.message,
      f"raw Submit with a worker's key: {rep}")
rep = w.request(cancel_sweep=pb.CancelRequest(sweep=s2))
check(body(rep) == "error" and rep.error.code == 3, f"raw Cancel with a worker's key: {rep}")
rep = w.request(subscribe=pb.Subscribe(history=True))
check(body(rep) == "error" and rep.error.code == 3, f"raw Subscribe with a worker's key: {rep}")
check(c.sweep_state(s2) == "queued", f"sweep {s2} is {c.sweep_state(s2)} after the attacks")
names = {n for (n,) in c.q("SELECT name FROM sweeps")}
check("attack" not in names and "raw" not in names, f"a worker's key submitted: {names}")
ev = c.wait_log(msg="message refused: not in the key's role", roles="worker", kind="submit",
                timeout=5)
check(ev is not None and ev.get("from") == "key workers/w1.pub" and ev.get("peer"),
      f"the refusal is not logged with the peer and the key: {ev}")

# --- a reader reads, and only reads ------------------------------------------------------
r = cli_as(reader_key, "status")
check(r.returncode == 0 and "waiting" in r.stdout, f"status with a reader's key: {r.returncode} "
      f"{r.stdout}{r.stderr}")
r = cli_as(reader_key, "results", str(s1))
check(r.returncode == 0, f"results with a reader's key: {r.returncode} {r.stderr}")
r = cli_as(reader_key, "workers")
check(r.returncode == 0 and "legacy" in r.stdout, f"workers with a reader's key: {r.stderr}")
r = cli_as(reader_key, "logs")
check(r.returncode == 0, f"logs with a reader's key: {r.returncode} {r.stderr}")
r = cli_as(reader_key, "launch", spec_file("reader", dataset="mnist", seed=5, trials=1))
check(r.returncode == 1 and "key readers/bob.pub has the role reader" in r.stderr and
      "submit needs the role client" in r.stderr, f"launch as a reader: {r.returncode} {r.stderr}")
r = cli_as(reader_key, "cancel", str(s2))
check(r.returncode == 1 and "cancel needs the role client" in r.stderr,
      f"cancel as a reader: {r.returncode} {r.stderr}")
rd = peer(reader_key)
rep = rd.request(cancel_sweep=pb.CancelRequest(sweep=s2))
check(body(rep) == "error" and rep.error.code == 3 and "role reader" in rep.error.message,
      f"raw Cancel with a reader's key: {rep}")
rd.send(pb.Envelope(protocol=pb.PROTOCOL_VERSION, hello=hello("reader-as-worker")))
rep = rd.recv(5)
check(body(rep) == "disconnect" and "role reader" in rep.disconnect.reason,
      f"Hello with a reader's key: {rep}")
check(c.sweep_state(s2) == "queued", f"sweep {s2} is {c.sweep_state(s2)} after the reader")

# --- a client cannot register as a worker --------------------------------------------------
cl = peer(client_key)
cl.send(pb.Envelope(protocol=pb.PROTOCOL_VERSION,
                    hello=hello("client-as-worker", slots=8,
                                datasets=[{"name": "mnist", "fingerprint": "dry-run"}])))
rep = cl.recv(5)
check(body(rep) == "disconnect" and "key clients/alice.pub has the role client" in
      rep.disconnect.reason and "hello needs the role worker" in rep.disconnect.reason,
      f"Hello with a client's key: {rep}")
cl.send(pb.Envelope(protocol=pb.PROTOCOL_VERSION,
                    heartbeat=pb.Heartbeat(free_slots=8)))
check(body(cl.recv(5)) == "disconnect", "a Heartbeat with a client's key was not refused")
cl.send(pb.Envelope(protocol=pb.PROTOCOL_VERSION,
                    result=pb.Result(task=1, attempt=1, ok=True, score=0.99, accuracy=0.99,
                                     epochs=1)))
check(body(cl.recv(5)) == "disconnect", "a Result with a client's key was not refused")
# A real worker process with a client's key is refused the same way.
c.start_worker(name="clientworker", data="/nonexistent", extra=worker_args(client_key))
ev = c.wait_log("clientworker", msg="disconnect, registering again", timeout=20)
check(ev is not None and "role client" in ev.get("reason", ""),
      "the worker with a client's key was not told why:\n" + tail(c.log_path("clientworker")))
time.sleep(0.5)
out = c.cli("workers").stdout
check("clientworker" not in out and "fake" not in out, f"a client's key registered:\n{out}")
c.kill(c.workers[-1], signal.SIGTERM)
wnames = {n for (n,) in c.q("SELECT name FROM workers")}
check(wnames == {"w", "legacy"}, f"workers in the journal: {sorted(wnames)}")
# ... but the client itself works.
rep = cl.request(status=pb.StatusRequest())
check(body(rep) == "status_reply", f"status with a client's key: {rep}")

# --- a flood of refused messages is answered only up to the burst -----------------------
flood = peer(flood_key)
for i in range(300):
    flood.send(pb.Envelope(protocol=pb.PROTOCOL_VERSION, req_id=1000 + i,
                           submit=pb.Submit(spec="x", path="x")))
answers = flood.drain(1.0)
check(len(answers) <= 15, f"{len(answers)} answers to 300 refused submissions (burst 10)")
check(c.wait_log(msg="rate limit: message dropped", kind="bad message", timeout=5) is not None,
      "the dropped refusals were not logged")
lines = c.log_events(msg="message refused: not in the key's role")
check(len(lines) <= 40, f"{len(lines)} refusal lines logged")
check(c.cli("status").returncode == 0, "the coordinator stopped answering")

# --- SIGHUP: roles change on open connections ---------------------------------------------
# The reader's key moves to admins/: its open connection may now cancel, even
# a sweep another key submitted (a client may cancel only its own since the
# second review of issue 11: tests/security/test_cancel_owner.py).
os.makedirs(os.path.join(auth, "admins"), exist_ok=True)
os.rename(os.path.join(auth, "readers", "bob.pub"), os.path.join(auth, "admins", "bob.pub"))
# A key whose role line disagrees with its directory is skipped.
shutil.copy(worker_pub, os.path.join(auth, "readers", "misplaced.pub"))
t = time.time()
c.coord.send_signal(signal.SIGHUP)
ev = c.wait_log(msg="authorized keys reloaded", after=t, timeout=10)
check(ev is not None and ev.get("skipped") == "1" and ev.get("clients") == "2" and
      ev.get("admins") == "1", f"reload: {ev}")
ev = c.wait_log(msg="authorized key file skipped", after=t, timeout=5)
check(ev is not None and "misplaced.pub" in ev.get("file", "") and
      "workers/" in ev.get("error", ""), f"the misplaced key: {ev}")
rep = rd.request(cancel_sweep=pb.CancelRequest(sweep=s2))
check(body(rep) == "cancel_reply" and rep.cancel_reply.cancelled,
      f"cancel on the reader's connection after its key moved to admins/: {rep}")
check(c.sweep_state(s2) == "cancelled", f"sweep {s2} is {c.sweep_state(s2)}")
# A client's key is deleted: its open connection is refused at once.
dv = peer(dave_key)
check(body(dv.request(status=pb.StatusRequest())) == "status_reply", "dave cannot read status")
os.unlink(os.path.join(auth, "clients", "dave.pub"))
t = time.time()
c.coord.send_signal(signal.SIGHUP)
check(c.wait_log(msg="authorized keys reloaded", after=t, timeout=10) is not None, "no reload")
rep = dv.request(status=pb.StatusRequest())
check(body(rep) == "error" and rep.error.code == 3 and "no longer" in rep.error.message,
      f"status on a revoked key's open connection: {rep}")

for p in (w, rd, cl, flood, dv):
    p.close()
c.stop()
shutil.rmtree(keys, ignore_errors=True)
finish()
