"""Fault: a network partition, with real network namespaces.

The coordinator runs in the root namespace bound to its end of a veth pair
(10.x.y.1); worker "far" runs in its own namespace (ip netns exec) behind
the other end (10.x.y.2); worker "near" is on the coordinator's side.  While
"far" trains a task, the link is cut (ip link set ... down) for longer than
liveness: the coordinator declares "far" dead (no TCP reset reaches it, so
this is the heartbeat path) and leases the task again to "near".  When the
link comes back "far" announces itself again with a new Hello, its stale
result is dropped, and it gets new work.  The sweep's results equal an
uninterrupted run's.

Needs root, iproute2 and veth; otherwise it exits 77 (skip).  The namespace
and the veth pair are removed at exit, also on failure."""
import math
import os
import shutil
import subprocess
import time

from harness import (Cluster, check, cv_key, epoch_seconds, finish, need_data, on_cleanup,
                     skip)

need_data("mnist-10k")


def sh(*args):
    return subprocess.run(args, capture_output=True, text=True)


if os.geteuid() != 0:
    skip("network namespaces need root")
if not shutil.which("ip"):
    skip("iproute2 (ip) not installed")
pid = os.getpid()
NS, VA, VB = f"hptft{pid}", f"hpa{pid}", f"hpb{pid}"
NET = f"10.{200 + pid % 50}.{(pid // 50) % 250}"
A1, A2 = f"{NET}.1", f"{NET}.2"
r = sh("ip", "netns", "add", NS)
if r.returncode != 0:
    skip(f"ip netns add: {r.stderr.strip()}")
on_cleanup(lambda: sh("ip", "netns", "del", NS))
on_cleanup(lambda: sh("ip", "link", "del", VA))   # runs first (also deletes VB)
for cmd in (["ip", "link", "add", VA, "type", "veth", "peer", "name", VB],
            ["ip", "link", "set", VB, "netns", NS],
            ["ip", "addr", "add", f"{A1}/24", "dev", VA],
            ["ip", "link", "set", VA, "up"],
            ["ip", "netns", "exec", NS, "ip", "addr", "add", f"{A2}/24", "dev", VB],
            ["ip", "netns", "exec", NS, "ip", "link", "set", VB, "up"],
            ["ip", "netns", "exec", NS, "ip", "link", "set", "lo", "up"]):
    r = sh(*cmd)
    if r.returncode != 0:
        skip(f"{' '.join(cmd)}: {r.stderr.strip()}")
print(f"namespace {NS}: coordinator {A1} (root namespace), worker far {A2}")

UNITS = 64
EPOCHS = max(2, math.ceil(0.5 / epoch_seconds(UNITS, 32, "1/2")))
SPEC = f"""
name: fault-partition
dataset: mnist-10k
method: grid
cv: {{folds: 2, seed: 17}}
refit: false
parameters:
  units: {{values: [{", ".join(str(UNITS + i) for i in range(8))}]}}
  epochs: {{value: {EPOCHS}}}
"""
# 16 tasks of about 0.5 s: while the link is down (1.5 s) "near" runs 3 or
# 4 of them, so plenty are left for "far" once it is back, however the two
# share the start (with 8, "near" could finish them all first on a loaded
# machine, and "far" got no new work).
N_TASKS = 16
WARGS = ["--reconnect-ms", "200", "--reconnect-max-ms", "400"]

c = Cluster(name="partition", host=A1)
# A veth address is beyond loopback: protected mode needs --insecure (or keys,
# which test_curve.py covers); this test is about the network, not the keys.
c.start_coordinator("--insecure")
c.start_worker(slots=1, name="far", extra=WARGS, wrap=["ip", "netns", "exec", NS])
c.start_worker(slots=1, name="near", extra=WARGS)
fid, nid = c.worker_id("far"), c.worker_id("near")
check(c.wait_log("coordinator", "worker joined", worker=fid, timeout=30) is not None,
      "the worker in the namespace never joined")
sweep = c.launch(SPEC)

# Cut the link just after "far" starts a task.
t_launch = time.time()
c.wait_for(lambda: c.q("SELECT COUNT(*) FROM attempts WHERE outcome = 'done'")[0][0] >= 1,
           timeout=120, what="a first task done")
row = c.wait_for(lambda: c.q("SELECT task, attempt FROM attempts WHERE worker = ? AND "
                             "outcome IS NULL AND leased > ?", fid, time.time() - 0.15),
                 timeout=60, what="a fresh lease on far")[0]
task, attempt = row
t_cut = time.time()
check(sh("ip", "link", "set", VA, "down").returncode == 0, "cannot take the link down")
left = c.wait_log("coordinator", "worker left", worker=fid, after=t_cut, timeout=30)
check(left is not None, "far was not declared dead during the partition")
check(left is None or left.get("reason", "").startswith("no message"),
      f"far removed for another reason: {left and left.get('reason')}")
relet = c.wait_for(lambda: c.q("SELECT worker, leased FROM attempts WHERE task = ? AND attempt = ?",
                               task, attempt + 1), timeout=30, what="the task leased again")[0]
check(relet[0] == nid, f"attempt {attempt + 1} went to {relet[0]}, not near")
time.sleep(max(0.0, t_cut + 1.5 - time.time()))   # the cut lasts 1.5 s (liveness 0.3 s)
t_up = time.time()
check(sh("ip", "link", "set", VA, "up").returncode == 0, "cannot bring the link up")

back = c.wait_for(lambda: [e for e in c.log_events("coordinator", worker=fid)
                           if e["_t"] >= t_up - 0.005 and e["msg"] in ("worker joined", "worker re-registered")],
                  timeout=30, what="far registering again")[0]
# Only far ever held this attempt, so the drop is of far's result.  It comes
# either on far's new connection after its new Hello (worker=far) or, when the
# old TCP connection outlives the cut, on that one before far registers again:
# the coordinator removed the worker, so that peer is unregistered.
drop = c.wait_for(lambda: [e for e in c.log_events("coordinator",
                                                   msg="stale or duplicate result dropped")
                           if e.get("task") == str(task) and e.get("attempt") == str(attempt)
                           and e.get("worker") in (fid, "unregistered")],
                  timeout=30, what=f"the stale result of {task}/{attempt} dropped")[0]
check(bool(drop), f"no stale-result drop for {task}/{attempt} from far:\n{c.coord_log()}")
hello = c.log_events("far", "hello sent")
check(len(hello) >= 2 and hello[-1]["_t"] >= t_up - 0.01, "far sent no new Hello after the cut")
check(c.wait_sweep(sweep, timeout=180) == "done", "sweep did not finish")
res = c.results(sweep)
newwork = c.q("SELECT COUNT(*) FROM attempts WHERE worker = ? AND leased > ? AND outcome = 'done'",
              fid, t_up)[0][0]
check(newwork >= 1, "far got no new work after the partition")
per = c.q("SELECT trial, fold, COUNT(*), SUM(state = 'done') FROM tasks GROUP BY trial, fold")
check(len(per) == N_TASKS and all(x[2] == 1 and x[3] == 1 for x in per), f"tasks {per}")
check(c.q("SELECT outcome FROM attempts WHERE task = ? AND attempt = ?", task, attempt) == [("lost",)],
      "the partitioned attempt is not 'lost'")
check(c.q("SELECT COUNT(*) FROM attempts WHERE outcome = 'done'")[0][0] == N_TASKS, "done attempts")
print(f"FIGURES partition: cut_s={t_up - t_cut:.1f} detect_ms={(left['_t'] - t_cut) * 1000 if left else -1:.0f} "
      f"relet_ms={(relet[1] - t_cut) * 1000:.0f} reregister_ms={(back['_t'] - t_up) * 1000:.0f} "
      f"via=\"{back['msg']}\" drop_reason={drop.get('reason') if drop else '-'}")
c.stop()

ref = Cluster(name="partition-ref")
ref.start_coordinator()
ref.start_worker(slots=2)
s = ref.launch(SPEC)
check(ref.wait_sweep(s, timeout=180) == "done", "reference sweep did not finish")
check(cv_key(res) == cv_key(ref.results(s)), "cv_results differ from the uninterrupted run")
finish()
