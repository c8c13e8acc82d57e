"""The coordinator's ZeroMQ I/O threads (issue 9: status under churn).

With one I/O thread every connection's socket work runs on it, and a
client's request and its reply wait behind thousands of workers' traffic;
the coordinator spreads its connections over `io_threads` (default 2).
  default: the coordinator runs exactly 2 ZeroMQ I/O threads (counted by
      name in /proc/PID/task), and a config file's `io_threads 3` gives 3;
  spread: with 3 I/O threads, 6 dry-run workers (more connections than
      threads) and the CLI all work: a 2-fold grid sweep of 8 trials ends
      done with every task accepted once;
  bounds: --io-threads 0 and 17 are refused with exit 2 and a message that
      names the option and its range, before anything is bound."""
import os
import subprocess

from harness import COORD, Cluster, check, finish

SPEC = """
name: io-threads
dataset: mnist
test_objective: hash   # --dry-run workers serve only such sweeps
method: grid
cv: {folds: 2}
refit: false
parameters:
  units: {values: [8, 16, 32, 64]}
  batch_size: {values: [32, 64]}
  epochs: {value: 1}
"""


def io_threads(pid):
    """Threads of pid that libzmq named as I/O threads (ZMQbg/IO/N)."""
    n = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                n += f.read().startswith("ZMQbg/IO/")
        except OSError:
            pass   # the thread ended
    return n


# --- default ------------------------------------------------------------------------
c = Cluster(name="io-default")
c.start_coordinator()
n = io_threads(c.coord.pid)
check(n == 2, f"the coordinator runs {n} ZeroMQ I/O threads by default, want 2")
c.stop()

# --- from a config file, and connections spread over them ---------------------------
c = Cluster(name="io-three")
conf = os.path.join(c.dir, "coord.conf")
with open(conf, "w") as f:
    f.write("# three I/O threads\nio_threads 3\n")
c.start_coordinator("--config", conf)
n = io_threads(c.coord.pid)
check(n == 3, f"io_threads 3 in the config file gave {n} ZeroMQ I/O threads, want 3")
for i in range(6):
    c.start_worker(slots=1, name=f"dry{i}", data="/nonexistent",
                   extra=["--dry-run", "--dataset", "mnist"])
sweep = c.launch(SPEC)
state = c.wait_sweep(sweep, timeout=120)
check(state == "done", f"the sweep ended {state} with 3 I/O threads")
db = c.db()
rows = db.execute("SELECT COUNT(*), SUM(state = 'done') FROM tasks WHERE sweep = ?",
                  (sweep,)).fetchone()
db.close()
check(rows == (16, 16), f"tasks (all, done) = {rows}, want (16, 16)")
c.stop()

# --- bounds ---------------------------------------------------------------------------
for bad in ("0", "17"):
    r = subprocess.run([COORD, "--io-threads", bad, "--db", ":memory:",
                        "--bind", "tcp://127.0.0.1:1"],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 2, f"--io-threads {bad}: exit {r.returncode}, want 2: {r.stderr}")
    check("io-threads" in r.stderr and "1..16" in r.stderr,
          f"--io-threads {bad}: the error does not name the option and its range: {r.stderr!r}")
print("io_threads: default 2, config file 3, a sweep over 3 threads, bounds refused")
finish()
