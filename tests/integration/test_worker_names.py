"""Workers started without --name on one host get names of their own
(worker/wrk_name.h): the first is called by the host name, the next ones
HOST-2, HOST-3, in `hptune workers` and in the dashboard's /api/workers;
--name still wins; the name of a worker that died goes to the next worker
that starts.

Name claims are shared by the processes of a network namespace, so as root
the whole cluster runs in a namespace of its own (only loopback), where no
other worker on this machine can hold a name: the names are then checked
exactly.  Without root the test runs on the host's loopback and checks that
the names differ and have the documented form (another worker started
without --name on this machine may hold HOST itself)."""
import json
import os
import re
import shutil
import socket
import subprocess

from harness import WORKER, Cluster, check, finish, free_port, on_cleanup

HOST = socket.gethostname()
wrap = ()
if os.geteuid() == 0 and shutil.which("ip"):
    ns = f"hpnames{os.getpid()}"
    if subprocess.run(["ip", "netns", "add", ns], capture_output=True).returncode == 0:
        on_cleanup(lambda: subprocess.run(["ip", "netns", "del", ns], capture_output=True))
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        wrap = ("ip", "netns", "exec", ns)
exact = bool(wrap)
print("in a network namespace of its own:", exact, flush=True)

c = Cluster(name="names")
c.cli_wrap = wrap
HTTP = free_port()
c.start_coordinator("--http", f"127.0.0.1:{HTTP}", wrap=wrap)
DRY = ["--dry-run", "--dataset", "mnist-10k"]


def live_names():
    r = c.cli("workers", "--format", "json")
    return sorted(w["name"] for w in json.loads(r.stdout)["workers"] if w["state"] != "gone")


def api_names():
    code = ("import json, urllib.request; print(json.dumps(sorted(w['name'] for w in json.load("
            f"urllib.request.urlopen('http://127.0.0.1:{HTTP}/api/workers', timeout=5))"
            "['workers'])))")
    r = subprocess.run([*wrap, "/usr/bin/python3", "-c", code], capture_output=True, text=True,
                       timeout=30)
    return json.loads(r.stdout) if r.returncode == 0 else r.stderr


def start(tag):
    """A worker without --name; returns it once the coordinator lists it."""
    before = len(live_names())
    p = c.start_worker(name=tag, auto_name=True, extra=DRY, wrap=wrap)
    c.wait_for(lambda: len(live_names()) == before + 1, timeout=30, what=f"worker {tag} to join")
    ev = c.wait_log(tag, "starting", timeout=10)
    return p, ev["name"] if ev else None


pa, na = start("a")
pb, nb = start("b")
pc, nc = start("c")
c.start_worker(name="gpu", extra=DRY, wrap=wrap)   # --name wins
c.wait_for(lambda: len(live_names()) == 4, timeout=30, what="the named worker to join")
names = live_names()
print("names:", names, flush=True)
auto = [na, nb, nc]
check(len(set(auto)) == 3, f"two workers of one host share a name: {auto}")
check(all(re.fullmatch(re.escape(HOST) + r"(-\d+)?", n or "") for n in auto),
      f"default names not HOST or HOST-n: {auto} (host {HOST})")
check(names == sorted(auto + ["gpu"]), f"`hptune workers` shows {names}, the workers say {auto}")
check(api_names() == names, f"/api/workers shows {api_names()}, `hptune workers` {names}")
if exact:
    check(auto == [HOST, f"{HOST}-2", f"{HOST}-3"], f"names in start order: {auto}")

# The table view shows them too (the dashboard and the table read the same reply).
table = c.cli("workers").stdout
check(all(n in table for n in auto), f"`hptune workers` table:\n{table}")

# A worker killed outright: its name is free for the next worker.
c.kill(pb)
c.wait_for(lambda: nb not in live_names(), timeout=30, what=f"{nb} to be dropped")
pd, nd = start("d")
print("after the kill:", live_names(), flush=True)
if exact:
    check(nd == nb, f"the next worker is {nd}, not the freed {nb}")
check(nd not in (na, nc, "gpu"), f"the next worker took a name in use: {nd}")
check(sorted(live_names()) == sorted([na, nc, nd, "gpu"]), f"workers now: {live_names()}")

# The worker's --help says what the default is.
h = subprocess.run([WORKER, "--help"], capture_output=True, text=True)
check("HOST-2" in h.stdout, "hptune-worker --help does not explain the default name")
finish()
