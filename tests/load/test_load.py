"""Load: 200 simulated workers, random deaths, a 100,000-task sweep.

A coordinator (heartbeat 200 ms, liveness 3) gets a random-search sweep of
20,000 trials x 5 folds (refit off).  load-workers runs 200 simulated workers
that answer each task after 0-5 ms and, every 3 s, kill 5 % of themselves
without Goodbye (new ones join a second later); status-probe times a
StatusRequest every 50 ms throughout.  Checks:
  - the sweep finishes, every task is 'done' with exactly one 'done' attempt,
    its current one (so no fold was accepted twice or lost);
  - load-workers saw no protocol violation (credit exceeded, an Assign twice,
    an invalid message);
  - status round trips: p99 < 100 ms;
  - the coordinator exits 0 on SIGTERM, sanitizer-clean (harness).
Figures (tasks/s, status p50/p99/max, coordinator RSS peak, deaths, lost
attempts) are printed for the README.

HPT_LOAD_LAYOUT=split (bench/churn.sh --layout split) runs the coordinator
on CPU 0 and load-workers and status-probe on the other CPUs, as on a
cluster where the workers and the client are other machines; the default
(shared) lets all of them share every CPU.
"""
import os
import re
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from harness import BUILD, Cluster, RssSampler, check, finish, rss_mb  # noqa: E402

LOAD_WORKERS = os.environ.get("HPT_LOAD_WORKERS",
                              os.path.join(BUILD, "tests", "load", "load-workers"))
STATUS_PROBE = os.environ.get("HPT_STATUS_PROBE",
                              os.path.join(BUILD, "tests", "load", "status-probe"))
WORKERS = int(os.environ.get("HPT_LOAD_WORKERS_N", "200"))
TRIALS, FOLDS = int(os.environ.get("HPT_LOAD_TRIALS", "20000")), 5
TASKS = TRIALS * FOLDS
LAYOUT = os.environ.get("HPT_LOAD_LAYOUT", "shared")
if LAYOUT not in ("shared", "split"):
    sys.exit(f"HPT_LOAD_LAYOUT={LAYOUT}: expected shared or split")
NCPU = len(os.sched_getaffinity(0))
if LAYOUT == "split" and NCPU < 2:
    sys.exit("HPT_LOAD_LAYOUT=split needs at least 2 CPUs")
CPUS = sorted(os.sched_getaffinity(0))
COORD_WRAP = ("taskset", "-c", str(CPUS[0])) if LAYOUT == "split" else ()
REST_WRAP = ("taskset", "-c", ",".join(map(str, CPUS[1:]))) if LAYOUT == "split" else ()
P99_LIMIT_MS = 100.0
# HPT_LOAD_IO_THREADS=N (bench/churn.sh --io-threads N): the coordinator's
# --io-threads (default: the coordinator's own default, 2).
IO_THREADS = os.environ.get("HPT_LOAD_IO_THREADS", "")
COORD_ARGS = ("--io-threads", IO_THREADS) if IO_THREADS else ()

SPEC = f"""
name: load
dataset: mnist
test_objective: hash   # --dry-run workers serve only such sweeps
method: random
seed: 5
cv: {{folds: {FOLDS}, seed: 1}}
refit: false
budget: {{max_trials: {TRIALS}}}
parameters:
  units: {{values: [8, 16, 32, 64, 128]}}
  dropout: {{distribution: uniform, min: 0.0, max: 0.5}}
  learning_rate: {{distribution: log_uniform_values, min: 1.0e-4, max: 1.0e-1}}
  batch_size: {{values: [32, 64, 128]}}
  epochs: {{value: 1}}
"""






def collect(proc, lines):
    for line in proc.stdout:
        lines.append(line.rstrip())
        print(line.rstrip(), flush=True)


def stop(proc, lines, thread, what):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        check(False, f"{what} did not stop on SIGTERM")
    thread.join(10)
    return next((x for x in reversed(lines) if "=" in x and x.startswith(what + ":")), "")


def fields(line):
    return {k: v for k, v in re.findall(r"(\w+)=([^\s]+)", line)}


def sweep_state(c, sweep):
    r = c.cli("status", str(sweep), "--timeout", "10", check_rc=False)
    for line in r.stdout.splitlines():
        parts = line.split()
        if parts and parts[0] == str(sweep):
            return parts[2], parts[5] if len(parts) > 5 else ""
    return "?", ""


for exe in (LOAD_WORKERS, STATUS_PROBE):
    if not os.access(exe, os.X_OK):
        check(False, f"{exe} missing (build tests/load)")
        finish()

c = Cluster(hb_ms=200, liveness=3, name="load")
c.start_coordinator(*COORD_ARGS, wrap=COORD_WRAP)
pid = c.coord.pid
rss_before = rss_mb(pid)
sampler = RssSampler(pid)
sampler.start()
sweep = c.launch(SPEC)

probe_lines, load_lines = [], []
probe = subprocess.Popen([*REST_WRAP, STATUS_PROBE, "--coordinator", c.addr, "--interval-ms", "50",
                          "--timeout-ms", "2000"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
pt = threading.Thread(target=collect, args=(probe, probe_lines), daemon=True)
pt.start()
t0 = time.time()
load = subprocess.Popen([*REST_WRAP, LOAD_WORKERS, "--coordinator", c.addr, "--workers", str(WORKERS),
                         "--slots", "1", "--churn-ms", "3000", "--churn-pct", "5",
                         "--respawn-ms", "1000", "--dataset", "mnist"],
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
lt = threading.Thread(target=collect, args=(load, load_lines), daemon=True)
lt.start()

state, tasks = "?", ""
deadline = time.time() + 1000
while time.time() < deadline:
    state, tasks = sweep_state(c, sweep)
    if state in ("done", "failed", "cancelled") or load.poll() is not None:
        break
    time.sleep(1)
elapsed = time.time() - t0
print(f"sweep {sweep}: {state} ({tasks}) after {elapsed:.1f} s", flush=True)
probe_line = stop(probe, probe_lines, pt, "status-probe")
load_line = stop(load, load_lines, lt, "load-workers")
check(state == "done", f"sweep ended {state} ({tasks}) after {elapsed:.0f} s:\n{c.coord_log()}")
check(load.returncode == 0, f"load-workers exited {load.returncode}: {load_line}")
check(probe.returncode == 0, f"status-probe exited {probe.returncode}: {probe_line}")
check(c.coord.poll() is None, "coordinator died:\n" + c.coord_log())
sampler.stop()
rss_after = rss_mb(pid)
rss_peak = max(sampler.peak, rss_after)

res = c.results(sweep)["sweep"]
busy_s = (res.get("finished_unix") or 0) - (res.get("started_unix") or 0)

db = c.db()
q = lambda sql: db.execute(sql, (sweep,)).fetchall()  # noqa: E731
states = dict(q("SELECT state, COUNT(*) FROM tasks WHERE sweep = ? GROUP BY state"))
check(states == {"done": TASKS}, f"task states {states}, want all {TASKS} done")
groups = q("SELECT COUNT(*) FROM (SELECT trial, fold, repeat FROM tasks WHERE sweep = ? "
           "AND state = 'done' GROUP BY trial, fold, repeat HAVING COUNT(*) = 1)")[0][0]
check(groups == TASKS, f"{groups} (trial, fold) with exactly one done task, want {TASKS}")
done_att = q("SELECT a.task, COUNT(*) FROM attempts a JOIN tasks t ON t.id = a.task "
             "WHERE t.sweep = ? AND a.outcome = 'done' GROUP BY a.task")
check(len(done_att) == TASKS, f"{len(done_att)} tasks have a done attempt, want {TASKS}")
check(all(n == 1 for _, n in done_att), "a task has more than one done attempt")
current = q("SELECT COUNT(*) FROM tasks t JOIN attempts a ON a.task = t.id "
            "AND a.attempt = t.attempt WHERE t.sweep = ? AND a.outcome = 'done'")[0][0]
check(current == TASKS, f"{current} done attempts are their task's current one, want {TASKS}")
outcomes = dict(q("SELECT COALESCE(a.outcome, 'open'), COUNT(*) FROM attempts a "
                  "JOIN tasks t ON t.id = a.task WHERE t.sweep = ? GROUP BY 1"))
db.close()

lf, pf = fields(load_line), fields(probe_line)
p99 = float(pf.get("p99_ms", "inf"))
check(p99 < P99_LIMIT_MS, f"status p99 {p99} ms >= {P99_LIMIT_MS} ms ({probe_line})")
check(int(pf.get("timeouts", "1")) == 0, f"status requests timed out: {probe_line}")
rate = TASKS / busy_s if busy_s > 0 else 0
print(f"LOAD-FIGURES layout={LAYOUT} io_threads={IO_THREADS or 'default'} workers={WORKERS} tasks={TASKS} wall_s={elapsed:.1f} "
      f"sweep_s={busy_s:.1f} tasks_per_s={rate:.0f} status_n={pf.get('n')} "
      f"status_p50_ms={pf.get('p50_ms')} status_p90_ms={pf.get('p90_ms')} "
      f"status_p99_ms={pf.get('p99_ms')} status_max_ms={pf.get('max_ms')} "
      f"rss_before_mb={rss_before:.1f} rss_peak_mb={rss_peak:.1f} rss_after_mb={rss_after:.1f} "
      f"deaths={lf.get('deaths')} respawns={lf.get('respawns')} "
      f"reconnects={lf.get('reconnects')} disconnects={lf.get('disconnects')} "
      f"attempt_outcomes={outcomes}")
finish()
