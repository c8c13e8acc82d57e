"""CurveZMQ (docs/security.md): with keys, an authorized worker completes a
sweep; a worker whose key is not authorized, one with the wrong server key
and a plain-text worker or client are refused (and the coordinator logs
why, with the peer's address and key for ZAP refusals) and get no task; a key
added to the authorized directory works after SIGHUP.  Protected mode: a
coordinator bound beyond loopback without keys refuses to start, with
--insecure it starts.  Bad key files give clear errors and exit 2."""
import os
import shutil
import signal
import subprocess
import tempfile
import time

from harness import CLI, COORD, WORKER, Cluster, check, finish, free_port, skip, tail

SPEC = """
name: {name}
dataset: mnist
test_objective: hash   # --dry-run workers serve only such sweeps
method: random
seed: {seed}
cv: {{folds: 3}}
refit: true
parameters:
  units: {{distribution: int_uniform, min: 4, max: 64}}
  epochs: {{value: 2}}
budget: {{max_trials: {trials}}}
"""

keys = tempfile.mkdtemp(prefix="hpt-curve-keys-")


def keygen(name):
    """Write name.key / name.pub; return (key path, pub path, public key)."""
    prefix = os.path.join(keys, name)
    r = subprocess.run([CLI, "keygen", "-o", prefix], capture_output=True, text=True, timeout=30)
    if r.returncode != 0 and "without CURVE" in r.stderr:
        skip("libzmq without CURVE: " + r.stderr.strip())
    if r.returncode != 0:
        raise RuntimeError("hptune keygen: " + r.stderr)
    return prefix + ".key", prefix + ".pub", r.stdout.splitlines()[-1]


coord_key, coord_pub, coord_z85 = keygen("coordinator")
good_key, good_pub, good_z85 = keygen("good")
cli_key, cli_pub, _ = keygen("cli")
stranger_key, _, stranger_z85 = keygen("stranger")
late_key, late_pub, late_z85 = keygen("late")
_, other_pub, _ = keygen("other")

# keygen: the files, their modes, and no overwrite without --force.
check(oct(os.stat(coord_key).st_mode & 0o777) == "0o600", "the .key file is not mode 0600")
r = subprocess.run([CLI, "keygen", "-o", os.path.join(keys, "good")], capture_output=True,
                   text=True)
check(r.returncode == 1 and "exists" in r.stderr and "--force" in r.stderr,
      f"keygen over an existing key: {r.returncode} {r.stderr}")
with open(good_pub) as f:
    check(good_z85 in f.read(), "keygen printed another key than it wrote")

auth = os.path.join(keys, "authorized")
os.mkdir(auth)
# The workers' keys stay at the top of the directory (the layout before
# roles: a worker's role); the CLI's key goes into clients/, since a key at
# the top may no longer submit or read (test_roles.py covers the roles).
shutil.copy(good_pub, os.path.join(auth, "good.pub"))
os.mkdir(os.path.join(auth, "clients"))
shutil.copy(cli_pub, os.path.join(auth, "clients", "cli.pub"))


def worker_args(key, server):
    return ["--dry-run", "--dataset", "mnist", "--curve-secret", key, "--server-key", server,
            "--reconnect-ms", "100", "--reconnect-max-ms", "400"]


c = Cluster(name="curve")
c.env.update(HPTUNE_CURVE_SECRET=cli_key, HPTUNE_SERVER_KEY=coord_pub)
c.start_coordinator("--curve-secret", coord_key, "--authorized-keys", auth)
check(c.wait_log(msg="CURVE on", public_key=coord_z85, timeout=5) is not None,
      "the coordinator did not log its public key")

# --- an authorized worker completes a sweep -----------------------------------
c.start_worker(slots=2, name="good", data="/nonexistent", extra=worker_args(good_key, coord_pub))
s1 = c.launch(SPEC.format(name="first", seed=1, trials=8))
check(c.wait_sweep(s1, timeout=120) == "done", "the authorized worker's sweep did not finish")

# --- refused peers ------------------------------------------------------------
# A key that is not in the directory: ZAP says no, logged with address and key.
c.start_worker(name="stranger", data="/nonexistent", extra=worker_args(stranger_key, coord_pub))
ev = c.wait_log(msg="connection refused", key=stranger_z85, timeout=20)
check(ev is not None, "no ZAP refusal logged for the unlisted key:\n" + c.coord_log())
if ev:
    check(ev.get("address") == "127.0.0.1", f"the refusal does not name the address: {ev}")
# The worker is told too (the ZAP status comes back in the handshake).
wev = c.wait_log("stranger", msg="handshake failed", timeout=20, status="400")
check(wev is not None and "authorized-keys" in wev.get("reason", ""),
      "the refused worker did not log why:\n" + tail(c.log_path("stranger")))
# An authorized key pair with the wrong server key: the coordinator cannot
# decrypt its hello.
c.start_worker(name="wrongserver", data="/nonexistent", extra=worker_args(good_key, other_pub))
check(c.wait_log(msg="handshake failed", timeout=20,
                 code="0x11000001") is not None,
      "no handshake failure logged for the wrong server key:\n" + c.coord_log())
# No keys at all: a plain-text worker and a plain-text client.
# libzmq closes a handshake as soon as its side sees the mechanisms differ,
# so one side sees the mismatch and the other may see only a closed
# connection: the reason is logged by the coordinator, the worker, or both.
c.start_worker(name="plain", data="/nonexistent", extra=["--dry-run", "--dataset", "mnist"])
t0 = time.time()
while not (seen := c.log_events(msg="handshake failed", code="0x11000002") or
           c.log_events("plain", msg="handshake failed", code="0x11000002")):
    if time.time() - t0 > 20:
        break
    time.sleep(0.05)
check(bool(seen), "no handshake failure logged for the plain-text worker by either side:\n" +
      c.coord_log() + "\n" + tail(c.log_path("plain")))
wev = c.log_events("plain", msg="handshake failed")
check(all("requires CURVE" in e.get("reason", "") for e in wev),
      f"the plain-text worker's reason does not say CURVE is required: {wev}")
plain_env = {k: v for k, v in c.env.items() if not k.startswith("HPTUNE_CURVE")
             and k != "HPTUNE_SERVER_KEY"}
r = subprocess.run([CLI, "status", "--timeout", "1"], capture_output=True, text=True,
                   env=plain_env, timeout=60)
check(r.returncode == 3, f"a plain-text client was answered: {r.returncode} {r.stdout}{r.stderr}")
# The keys as flags, before the command name, and the server key as its Z85 text.
r = subprocess.run([CLI, "--curve-secret", cli_key, "--server-key", coord_z85, "status"],
                   capture_output=True, text=True, env=plain_env, timeout=60)
check(r.returncode == 0, f"a client with its keys as flags: {r.returncode} {r.stderr}")
# A client with an unlisted key, and one with the wrong server key.
r = subprocess.run([CLI, "status", "--timeout", "1", "--curve-secret", stranger_key,
                    "--server-key", coord_z85], capture_output=True, text=True, env=c.env)
check(r.returncode == 3 and "authorized-keys" in r.stderr,
      f"a client with an unlisted key: {r.returncode} {r.stderr}")
r = subprocess.run([CLI, "status", "--timeout", "1", "--server-key", other_pub],
                   capture_output=True, text=True, env=c.env)
check(r.returncode == 3, f"a client with the wrong server key: {r.returncode} {r.stderr}")

# The refused workers never registered, so they got no task.
s2 = c.launch(SPEC.format(name="second", seed=2, trials=6))
check(c.wait_sweep(s2, timeout=120) == "done", "the second sweep did not finish")
names = {n for (n,) in c.q("SELECT name FROM workers")}
check(names == {"good"}, f"workers that registered: {sorted(names)}")
ran = {n for (n,) in c.q("SELECT DISTINCT w.name FROM attempts a JOIN workers w "
                         "ON a.worker = w.id")}
check(ran == {"good"}, f"workers that ran tasks: {sorted(ran)}")
out = c.cli("workers").stdout
for n in ("stranger", "wrongserver", "plain"):
    check(n not in out, f"{n} is listed by hptune workers:\n{out}")

# --- SIGHUP: a key added to the directory works -------------------------------
late = c.start_worker(name="late", data="/nonexistent", extra=worker_args(late_key, coord_pub))
check(c.wait_log(msg="connection refused", key=late_z85, timeout=20) is not None,
      "the late worker was not refused before its key was added")
shutil.copy(late_pub, os.path.join(auth, "late.pub"))
with open(os.path.join(auth, "broken.pub"), "w") as f:
    f.write("public-key = \"tooshort\"\n")
c.coord.send_signal(signal.SIGHUP)
ev = c.wait_log(msg="authorized keys reloaded", timeout=10)
check(ev is not None and ev.get("keys") == "3" and ev.get("skipped") == "1",
      f"reload: {ev}")
check(c.wait_log(msg="authorized key file skipped", timeout=5) is not None,
      "the bad file in the directory was not logged")
try:
    c.wait_for(lambda: "late" in c.cli("workers").stdout, timeout=30,
               what="the late worker to register after SIGHUP")
except RuntimeError as e:
    check(False, f"{e}\n{tail(c.log_path('late'))}")
# With the first worker gone, the late one does the work.
c.kill(c.workers[0], signal.SIGTERM)
s3 = c.launch(SPEC.format(name="third", seed=3, trials=4))
check(c.wait_sweep(s3, timeout=120) == "done", "the sweep after SIGHUP did not finish")
ran = {n for (n,) in c.q("SELECT DISTINCT w.name FROM attempts a JOIN workers w "
                         "ON a.worker = w.id WHERE a.task IN (SELECT id FROM tasks "
                         "WHERE sweep = ?)", s3)}
check(ran == {"late"}, f"workers that ran the third sweep: {sorted(ran)}")
c.stop()


# --- start-up errors ------------------------------------------------------------
def run(*args, env=None):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=30,
                          env=env, cwd=keys)


db = os.path.join(keys, "x.db")
port = free_port()
# Protected mode.
r = run(COORD, "--bind", f"tcp://0.0.0.0:{port}", "--db", db)
check(r.returncode == 2 and "refusing to bind" in r.stderr and "hptune keygen" in r.stderr
      and "--insecure" in r.stderr, f"protected mode: {r.returncode} {r.stderr}")
check(not os.path.exists(db), "the refused coordinator created its journal")
# --authorized-keys is needed with --curve-secret, and the reverse.
r = run(COORD, "--bind", f"tcp://0.0.0.0:{port}", "--db", db, "--curve-secret", coord_key)
check(r.returncode == 2 and "--authorized-keys" in r.stderr, f"no --authorized-keys: {r.stderr}")
r = run(COORD, "--db", db, "--authorized-keys", auth)
check(r.returncode == 2 and "--curve-secret" in r.stderr, f"no --curve-secret: {r.stderr}")
# A secret key others may read.
loose = os.path.join(keys, "loose.key")
shutil.copy(coord_key, loose)
os.chmod(loose, 0o640)
r = run(COORD, "--db", db, "--curve-secret", loose, "--authorized-keys", auth)
check(r.returncode == 2 and loose in r.stderr and "chmod 600" in r.stderr,
      f"coordinator with a 0640 key: {r.returncode} {r.stderr}")
r = run(WORKER, "--dry-run", "--curve-secret", loose, "--server-key", coord_pub)
check(r.returncode == 2 and loose in r.stderr and "chmod 600" in r.stderr,
      f"worker with a 0640 key: {r.returncode} {r.stderr}")
# A public file where the secret belongs, a bad server key, half the keys.
r = run(COORD, "--db", db, "--curve-secret", coord_pub, "--authorized-keys", auth)
check(r.returncode == 2 and "no secret-key" in r.stderr, f"a .pub as secret: {r.stderr}")
r = run(WORKER, "--dry-run", "--curve-secret", good_key, "--server-key", coord_z85[:39])
check(r.returncode == 2 and "--server-key" in r.stderr and "39 characters" in r.stderr,
      f"worker with a 39-character server key: {r.returncode} {r.stderr}")
r = run(WORKER, "--dry-run", "--curve-secret", good_key)
check(r.returncode == 2 and "--server-key" in r.stderr, f"worker without --server-key: {r.stderr}")
bad_chars = os.path.join(keys, "badchars.pub")
with open(bad_chars, "w") as f:
    f.write(coord_z85[:20] + "~" + coord_z85[21:] + "\n")
r = run(CLI, "status", "--curve-secret", cli_key, "--server-key", bad_chars)
check(r.returncode == 2 and "badchars.pub" in r.stderr and "not Z85" in r.stderr,
      f"client with a bad server key file: {r.returncode} {r.stderr}")
r = run(CLI, "status", env=dict(os.environ, HPTUNE_CURVE_SECRET=cli_key))
check(r.returncode == 2 and "HPTUNE_CURVE_SECRET" in r.stderr,
      f"client with half the keys: {r.returncode} {r.stderr}")

# --insecure starts, with a warning, and serves plain-text clients.
ins = Cluster(name="insecure", host="0.0.0.0")
ins.env["HPTUNE_COORDINATOR"] = f"tcp://127.0.0.1:{ins.port}"
ins.start_coordinator("--insecure")
check(ins.wait_log(msg="insecure: bound beyond loopback without CURVE keys", timeout=5)
      is not None, "no warning for --insecure:\n" + ins.coord_log())
check(ins.cli("status").returncode == 0, "the --insecure coordinator does not answer")
ins.stop()
shutil.rmtree(keys, ignore_errors=True)
finish()
