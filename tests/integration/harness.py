"""harness.py: start real hptune daemons for integration tests.

Each test gets a private temporary directory (journal, logs) and a free
loopback port; daemons are real processes started from the build tree and
are always stopped at exit (SIGTERM, then SIGKILL).  Standard library only.

Environment (set by tests/integration/meson.build):
  HPT_BUILD   the meson build dir      HPT_DATA  the data dir (data/)
  HPT_SRC     the source root
"""
import atexit
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

BUILD = os.environ.get("HPT_BUILD", "build")
DATA = os.environ.get("HPT_DATA", "data")
SRC = os.environ.get("HPT_SRC", ".")
COORD = os.path.join(BUILD, "coordinator", "hptune-coordinator")
WORKER = os.path.join(BUILD, "worker", "hptune-worker")
CLI = os.path.join(BUILD, "coordinator", "cli", "hptune")

_procs = []
failures = []


def skip(why):
    print("SKIP:", why)
    sys.exit(77)


def need_data(name="mnist"):
    if not os.path.isdir(os.path.join(DATA, name)):
        skip(f"{DATA}/{name} missing (run deploy/fetch-data.sh)")


def check(cond, what):
    """Record a failed expectation without stopping the test."""
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)
    return cond


def finish():
    _cleanup()
    if failures:
        print(f"{len(failures)} failure(s)")
        sys.exit(1)
    print("all checks passed")
    sys.exit(0)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_logs = {}


def _cleanup():
    """Stop every daemon still running (SIGTERM: a clean stop) and check that
    each exited 0 and that no sanitizer reported anything in its log."""
    stopped = []
    for p in _procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            stopped.append(p)
    deadline = time.time() + 20
    for p in _procs:
        try:
            p.wait(max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            check(False, f"{p.args[0]} did not stop within 20 s of SIGTERM")
    for p in stopped:
        check(p.returncode == 0, f"{os.path.basename(p.args[0])} exited {p.returncode} after SIGTERM")
    for p in _procs:
        path = _logs.get(p.pid)
        if not path:
            continue
        with open(path, errors="replace") as f:
            text = f.read()
        for bad in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
            check(bad not in text, f"{bad} in {path}:\n{text[-3000:]}")
    _procs.clear()


atexit.register(_cleanup)


class Cluster:
    """A coordinator plus workers on loopback with short heartbeats."""

    def __init__(self, hb_ms=100, liveness=3, name="t"):
        self.dir = tempfile.mkdtemp(prefix=f"hpt-{name}-")
        self.port = free_port()
        self.addr = f"tcp://127.0.0.1:{self.port}"
        self.hb_ms = hb_ms
        self.liveness = liveness
        self.coord = None
        self.workers = []
        self.env = dict(os.environ, HPTUNE_COORDINATOR=self.addr)

    def start_coordinator(self, *extra):
        log = open(os.path.join(self.dir, "coordinator.log"), "ab")
        self.coord = subprocess.Popen(
            [COORD, "--bind", self.addr, "--db", os.path.join(self.dir, "journal.db"),
             "--data-dir", DATA, "--hb-ivl-ms", str(self.hb_ms),
             "--hb-liveness", str(self.liveness), *extra],
            stdout=log, stderr=subprocess.STDOUT)
        _procs.append(self.coord)
        _logs[self.coord.pid] = log.name
        self.wait_ready()
        return self.coord

    def wait_ready(self, timeout=10):
        t0 = time.time()
        while time.time() - t0 < timeout:
            r = self.cli("status", "--timeout", "1", check_rc=False)
            if r.returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError("coordinator did not answer: " + self.coord_log())

    def start_worker(self, slots=1, name=None, data=None, extra=()):
        n = len(self.workers)
        name = name or f"w{n}"
        log = open(os.path.join(self.dir, f"worker-{name}.log"), "ab")
        p = subprocess.Popen(
            [WORKER, "--coordinator", self.addr, "--slots", str(slots), "--name", name,
             "--data-dir", data or DATA, "--heartbeat-ms", str(self.hb_ms),
             "--liveness", str(self.liveness), *extra],
            stdout=log, stderr=subprocess.STDOUT)
        _procs.append(p)
        _logs[p.pid] = log.name
        self.workers.append(p)
        return p

    def cli(self, *args, check_rc=True, timeout=300):
        r = subprocess.run([CLI, *args], capture_output=True, text=True, env=self.env,
                           timeout=timeout)
        if check_rc and r.returncode != 0:
            raise RuntimeError(f"hptune {' '.join(args)} exited {r.returncode}: "
                               f"{r.stderr}\n{self.coord_log()}")
        return r

    def launch(self, spec_text, wait=False):
        path = os.path.join(self.dir, f"spec-{time.time_ns()}.yaml")
        with open(path, "w") as f:
            f.write(spec_text)
        r = self.cli("launch", path)
        return int(r.stdout.splitlines()[0])

    def wait_sweep(self, sweep, timeout=300):
        """Poll status until the sweep ends; return its state."""
        t0 = time.time()
        while time.time() - t0 < timeout:
            st = self.sweep_state(sweep)
            if st in ("done", "failed", "cancelled"):
                return st
            time.sleep(0.1)
        raise RuntimeError(f"sweep {sweep} did not end in {timeout}s:\n{self.coord_log()}")

    def sweep_state(self, sweep):
        return self.results(sweep)["sweep"]["state"]

    def results(self, sweep):
        r = self.cli("results", str(sweep), "--format", "json")
        return json.loads(r.stdout)

    def coord_log(self):
        try:
            with open(os.path.join(self.dir, "coordinator.log"), errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def db(self):
        import sqlite3
        return sqlite3.connect(os.path.join(self.dir, "journal.db"))

    def stop(self):
        _cleanup()
