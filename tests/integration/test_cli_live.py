"""The CLI against a live coordinator: launch prints the id alone on its
first line, status/workers/results answer, logs prints history, logs -f
receives new lines as they happen (as text and with --format json), spec
errors exit 2 with line:column, and an unreachable coordinator exits 3
naming the address."""
import json
import os
import subprocess

from harness import CLI, Cluster, Follower, check, finish, free_port

c = Cluster(name="cli")
c.start_coordinator()
c.start_worker(slots=2, name="dry", data="/nonexistent", extra=["--dry-run", "--dataset", "mnist"])

spec = os.path.join(c.dir, "s.yaml")
with open(spec, "w") as f:
    f.write("name: cli\ndataset: mnist\ntest_objective: hash\nmethod: grid\ncv: {folds: 2}\n"
            "parameters:\n  units: {values: [8, 16, 32]}\n")
r = c.cli("launch", spec)
first = r.stdout.splitlines()[0]
check(first.strip().isdigit(), f"first line of launch is not the id: {r.stdout!r}")
sweep = int(first)
check(c.wait_sweep(sweep) == "done", "sweep did not finish")

r = c.cli("status")
check("cli" in r.stdout and "done" in r.stdout, "status: " + r.stdout)
r = c.cli("status", str(sweep), "--watch")
check(r.returncode == 0, f"status --watch of a done sweep exited {r.returncode}")
r = c.cli("workers")
check("dry" in r.stdout, "workers: " + r.stdout)
r = c.cli("logs")
check("sweep submitted" in r.stdout, "logs history lacks the submit: " + r.stdout[-500:])

# logs -f sees a line produced after it started: wait until its history is
# in (the subscription exists from then on), then make new events.
f = Follower("--coordinator", c.addr).wait_ready()
check(any(f"sweep={sweep}" in ln and "sweep submitted" in ln for ln in f.out),
      "logs -f history lacks the first sweep's submit: " + "".join(f.out)[-500:])
n_history = len(f.out)
fj = Follower("--coordinator", c.addr, "--format", "json").wait_ready()
n_history_json = len(fj.out)
bad = os.path.join(c.dir, "bad.yaml")
with open(bad, "w") as fh:
    fh.write("name: x\ndataset: mnist\nmethod: grd\nparameters:\n  units: {value: 8}\n")
r = c.cli("launch", bad, check_rc=False)
check(r.returncode == 2, f"bad spec exit {r.returncode}")
check("bad.yaml:3:" in r.stderr and "method" in r.stderr, "spec error message: " + r.stderr)
sweep2 = c.launch("name: followed\ndataset: mnist\ntest_objective: hash\nmethod: grid\ncv: {folds: 2}\n"
                  "parameters:\n  units: {values: [4]}\n")
c.wait_sweep(sweep2)
try:
    f.wait_line(lambda ln: f"sweep={sweep2}" in ln and "sweep submitted" in ln, timeout=30,
                what=f"live 'sweep submitted' line of sweep {sweep2}")
except RuntimeError as e:
    check(False, str(e))
rc, out = f.stop()
check(rc == 0, f"logs -f exited {rc} on SIGTERM")
live = f.out[n_history:]
check(any(f"sweep={sweep2}" in ln for ln in live),
      "logs -f did not receive new lines: " + out[-800:])


def live_json(ln):
    e = json.loads(ln)
    return e["type"] == "sweep.finished" and e["sweep"] == sweep2


# The same with --format json: the live lines are JSON objects of the
# documented keys (test_cli_observe checks the schema in depth).
try:
    fj.wait_line(live_json, timeout=30, what=f"live sweep.finished of sweep {sweep2} as JSON")
except (RuntimeError, ValueError) as e:
    check(False, str(e))
rc, out = fj.stop()
check(rc == 0, f"logs -f --format json exited {rc} on SIGTERM")
keys = ["ts", "ts_us", "seq", "level", "component", "type", "sweep", "msg", "fields"]
try:
    objs = [json.loads(ln) for ln in fj.out]
except ValueError as e:
    objs = []
    check(False, f"logs -f --format json printed a line that is not JSON ({e}): {out[-800:]}")
check(objs and all(list(o) == keys for o in objs),
      f"logs -f --format json keys: {[list(o) for o in objs if list(o) != keys][:2]}")
live = objs[n_history_json:]
check([o["type"] for o in live if o["sweep"] == sweep2][:1] == ["sweep.submitted"]
      and any(o["type"] == "trial.done" and o["sweep"] == sweep2 for o in live),
      f"logs -f --format json: sweep {sweep2}'s live events: {out[-800:]}")

# Unreachable: exit 3, naming the address.
addr = f"tcp://127.0.0.1:{free_port()}"
r = subprocess.run([CLI, "status", "--coordinator", addr, "--timeout", "1"],
                   capture_output=True, text=True)
check(r.returncode == 3, f"unreachable exit {r.returncode}")
check(addr in r.stderr, "unreachable message lacks the address: " + r.stderr)
finish()
