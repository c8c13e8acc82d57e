"""Several hosts: a coordinator and three workers, each in its own network
namespace, talking over real addresses (not loopback).

The coordinator's namespace holds a bridge with 10.77.0.1/24; each worker
namespace is joined to the bridge by a veth pair and has 10.77.0.1{1,2,3}.
Workers 1 and 2 have mnist-10k in their data dir; worker 3 starts with an empty
data dir, is offered the sweep's dataset, fetches it over the link and then
takes tasks like the others.  The sweep's results equal a one-host run's
(cv_results without the timing columns, and the refit score).

Needs root, iproute2, veth and bridge support; otherwise it exits 77 (skip).
The namespaces (and with them every interface) are removed at exit, also on
failure."""
import math
import os
import shutil
import subprocess
import tempfile

from harness import (Cluster, check, cv_key, epoch_seconds, finish, need_data, on_cleanup,
                     skip, tail)

need_data("mnist-10k")


def sh(*args):
    return subprocess.run(args, capture_output=True, text=True)


if os.geteuid() != 0:
    skip("network namespaces need root")
if not shutil.which("ip"):
    skip("iproute2 (ip) not installed")

pid = os.getpid()
NSC = f"hpmc{pid}"                               # the coordinator's "host"
NSW = [f"hpmw{pid}x{i}" for i in (1, 2, 3)]       # the workers' "hosts"
BR = f"hmb{pid}"
NET = "10.77.0"        # private to these namespaces: no clash with the host's routes
COORD_IP = f"{NET}.1"
W_IP = [f"{NET}.{11 + i}" for i in range(3)]

for ns in [NSC, *NSW]:
    r = sh("ip", "netns", "add", ns)
    if r.returncode != 0:
        skip(f"ip netns add: {r.stderr.strip()}")
    on_cleanup(lambda ns=ns: sh("ip", "netns", "del", ns))   # also deletes its interfaces

setup = [["ip", "-n", NSC, "link", "set", "lo", "up"],
         ["ip", "-n", NSC, "link", "add", BR, "type", "bridge"],
         ["ip", "-n", NSC, "addr", "add", f"{COORD_IP}/24", "dev", BR],
         ["ip", "-n", NSC, "link", "set", BR, "up"]]
for i, ns in enumerate(NSW):
    va, vb = f"hmv{pid}a{i}", f"hmv{pid}b{i}"
    setup += [["ip", "link", "add", va, "type", "veth", "peer", "name", vb],
              ["ip", "link", "set", va, "netns", NSC],
              ["ip", "link", "set", vb, "netns", ns],
              ["ip", "-n", NSC, "link", "set", va, "master", BR],
              ["ip", "-n", NSC, "link", "set", va, "up"],
              ["ip", "-n", ns, "addr", "add", f"{W_IP[i]}/24", "dev", vb],
              ["ip", "-n", ns, "link", "set", vb, "up"],
              ["ip", "-n", ns, "link", "set", "lo", "up"]]
for cmd in setup:
    r = sh(*cmd)
    if r.returncode != 0:
        skip(f"{' '.join(cmd)}: {r.stderr.strip()}")
print(f"coordinator {COORD_IP} in {NSC}; workers {', '.join(W_IP)} in {', '.join(NSW)}")


# Tasks of about 0.3 s, so that the fetch (a fraction of that) ends while
# most of the sweep is still queued.
EPOCHS = max(2, math.ceil(0.3 / epoch_seconds(32, 64, "1/3")))
SPEC = f"""
name: multihost
dataset: mnist-10k
method: grid
cv: {{folds: 3, seed: 23}}
refit: true
parameters:
  units: {{values: [30, 31, 32]}}
  dropout: {{values: [0.0, 0.2]}}
  epochs: {{value: {EPOCHS}}}
  batch_size: {{value: 64}}
"""
N_TASKS = 3 * 2 * 3

empty = tempfile.mkdtemp(prefix="hpt-multihost-empty-")
on_cleanup(lambda: shutil.rmtree(empty, ignore_errors=True))
c = Cluster(name="multihost", host=COORD_IP)
c.cli_wrap = ("ip", "netns", "exec", NSC)
# Protected mode (docs/security.md): a bind beyond loopback without CURVE keys
# needs --insecure; this test is about the network and the data, not the keys.
c.start_coordinator("--insecure", wrap=["ip", "netns", "exec", NSC])

for i in range(3):
    c.start_worker(slots=2, name=f"w{i + 1}", data=empty if i == 2 else None,
                   wrap=["ip", "netns", "exec", NSW[i]])
ids = [c.worker_id(f"w{i + 1}") for i in range(3)]
for i, wid in enumerate(ids):
    check(c.wait_log("coordinator", "worker joined", worker=wid, timeout=30) is not None,
          f"w{i + 1} never joined:\n" + tail(c.log_path(f"w{i + 1}")))
sweep = c.launch(SPEC)
fetched = c.wait_log("w3", "dataset fetched", dataset="mnist-10k", timeout=60)
check(fetched is not None, "w3 did not fetch mnist-10k:\n" + tail(c.log_path("w3")))
id3 = ids[2]
check(c.wait_sweep(sweep, timeout=300) == "done", "the sweep did not finish")

# Real addresses: the coordinator sees each worker's connection from its namespace's address.
if shutil.which("ss"):
    r = sh("ip", "netns", "exec", NSC, "ss", "-tnH", "state", "established",
           f"( sport = :{c.port} )")
    peers = {line.split()[-1].rsplit(":", 1)[0] for line in r.stdout.splitlines() if line.strip()}
    check(set(W_IP) <= peers, f"connections to the coordinator come from {sorted(peers)}, "
          f"not {W_IP}")
served = c.log_events("coordinator", "serving dataset file", worker=id3)
check(len(served) == 4, f"the coordinator served {len(served)} files to w3, not 4")
per = {w: c.q("SELECT COUNT(*) FROM attempts WHERE worker = ? AND outcome = 'done'", w)[0][0]
       for w in ids}
check(all(n >= 1 for n in per.values()), f"not every worker ran a task: {per}")
check(sum(per.values()) >= N_TASKS + 1, f"done attempts {per}")
res = c.results(sweep)
print(f"FIGURES multihost: tasks_per_worker={sorted(per.values())} "
      f"fetch_s={fetched['seconds'] if fetched else '-'} bytes={fetched['bytes'] if fetched else '-'}")
c.stop()

ref = Cluster(name="multihost-ref")
ref.start_coordinator()
ref.start_worker(slots=2)
s = ref.launch(SPEC)
check(ref.wait_sweep(s, timeout=300) == "done", "the one-host sweep did not finish")
one = ref.results(s)
check(cv_key(res) == cv_key(one), "cv_results differ from the one-host run")
check(res["sweep"]["refit_test_score"] == one["sweep"]["refit_test_score"],
      f"refit {res['sweep']['refit_test_score']} vs {one['sweep']['refit_test_score']}")
finish()
