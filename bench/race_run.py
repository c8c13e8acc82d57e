"""One race measurement for bench/race.sh: a fresh coordinator and two
1-slot workers (real training), the spec with select: {race: true}
appended, then the numbers from `hptune results --format json`.  Prints a
report; exit status 0 when the race ends certified or tie-broken within 30 %
more tasks than the search, 1 otherwise."""
import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ap = argparse.ArgumentParser()
ap.add_argument("--build", default="build")
ap.add_argument("--data", default="data")
ap.add_argument("--spec", required=True)
ap.add_argument("--quick", type=int, default=0)
a = ap.parse_args()

with open(a.spec) as f:
    text = f.read()
if a.quick:   # smoke run: the 10,000-digit set and 1 epoch
    text = re.sub(r"^dataset: .*$", "dataset: mnist-10k", text, flags=re.M)
    text = re.sub(r"epochs:\s*\{values: \[[^]]*\]\}", "epochs: {values: [1, 2]}", text)
text += "\nselect: {race: true}\n"

tmp = tempfile.mkdtemp(prefix="hpt-race-bench-")
spec = os.path.join(tmp, "spec.yaml")
with open(spec, "w") as f:
    f.write(text)
s = socket.socket()
s.bind(("127.0.0.1", 0))
port = s.getsockname()[1]
s.close()
addr = f"tcp://127.0.0.1:{port}"
env = dict(os.environ, HPTUNE_COORDINATOR=addr, OPENBLAS_NUM_THREADS="1")
b = os.path.abspath(a.build)
procs = []
logs = open(os.path.join(tmp, "daemons.log"), "ab")
procs.append(subprocess.Popen([f"{b}/coordinator/hptune-coordinator", "--bind", addr, "--db",
                               os.path.join(tmp, "j.db"), "--data-dir", a.data],
                              stdout=logs, stderr=subprocess.STDOUT))
for i in range(2):
    procs.append(subprocess.Popen([f"{b}/worker/hptune-worker", "--coordinator", addr,
                                   "--slots", "1", "--name", f"w{i}", "--data-dir", a.data,
                                   "--dataset", "mnist-10k" if a.quick else "mnist"],
                                  stdout=logs, stderr=subprocess.STDOUT))
cli = f"{b}/coordinator/cli/hptune"
ok = False
try:
    for _ in range(100):
        if subprocess.run([cli, "status", "--timeout", "1"], env=env,
                          capture_output=True).returncode == 0:
            break
        time.sleep(0.1)
    t0 = time.time()
    sweep = subprocess.run([cli, "launch", spec], env=env, capture_output=True, text=True,
                           check=True).stdout.split()[0]
    while True:
        st = json.loads(subprocess.run([cli, "results", sweep, "--format", "json"], env=env,
                                       capture_output=True, text=True, check=True).stdout)
        if st["sweep"]["state"] in ("done", "failed", "cancelled"):
            break
        time.sleep(1)
    wall = time.time() - t0
    sw = st["sweep"]
    race = sw["race"] or {}
    n_trials = len(st["cv_results"]["trial"])
    search_tasks = n_trials * sw["folds"] * sw["repeats"]
    extra = race.get("tasks", 0)
    share = extra / search_tasks if search_tasks else float("nan")
    print(f"spec: {a.spec}{' (QUICK: mnist-10k, epochs 1-2)' if a.quick else ''}, "
          f"select: {{race: true}} (top 5, max_repeats 5, default budget)")
    print(f"sweep state: {sw['state']}, wall {wall:.1f} s, 2 workers x 1 slot")
    print(f"search tasks: {search_tasks} ({n_trials} trials x {sw['folds']} folds)")
    print(f"race tasks: {extra} ({100 * share:.1f} % of the search's), rounds {race.get('repeats')}")
    print(f"verdict: {race.get('summary')}")
    cv = st["cv_results"]
    by_mean = max(zip(cv["mean_test_score"], cv["trial"]))[1]
    print(f"outcome: {race.get('outcome')}, winner trial {race.get('winner')}, "
          f"the search's best by mean: trial {by_mean}")
    for ld in race.get("leaders", []):
        looks = ", ".join(f"{m:.4f}+-{h:.4f}" for m, h in zip(ld["mean"], ld["ci95_half_width"]))
        drop = ld["dropped_at_look"]
        why = "" if drop is None else "  (dropped at look %d, p %.3g)" % (drop, ld["p_drop"])
        print(f"  trial {ld['trial']:>3} cost {ld['cost']:.3g}: {looks}{why}")
    print(f"refit test accuracy: {sw.get('refit_test_accuracy')}")
    ok = sw["state"] == "done" and share <= 0.30 and race.get("outcome") in ("certified", "tie")
    print(f"target (<= 30 % more tasks, certified or tie-broken): {'met' if ok else 'MISSED'}")
finally:
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(0 if ok else 1)
