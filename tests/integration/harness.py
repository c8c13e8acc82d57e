"""harness.py: start real hptune daemons for integration tests.

Each test gets a private temporary directory (journal, logs) and a free
loopback port; daemons are real processes started from the build tree and
are always stopped at exit (SIGTERM, then SIGKILL).  Standard library only.

Environment (set by tests/integration/meson.build):
  HPT_BUILD   the meson build dir      HPT_DATA  the data dir (data/)
  HPT_SRC     the source root

Fault tests (test_fault_*.py) also use: Cluster.kill/pause/resume (a daemon
killed on purpose is exempt from the exit-status check, not from the
sanitizer check), Cluster(host=..., db=...), start_coordinator(wait=False),
start_worker(wrap=[...]) (e.g. ["ip", "netns", "exec", NS]), the logfmt
readers (log_events, wait_log), journal helpers and on_cleanup(fn), run
after the daemons are stopped (namespaces, mounts).
"""
import atexit
import datetime
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

BUILD = os.environ.get("HPT_BUILD", "build")
DATA = os.environ.get("HPT_DATA", "data")
SRC = os.environ.get("HPT_SRC", ".")
COORD = os.path.join(BUILD, "coordinator", "hptune-coordinator")
WORKER = os.path.join(BUILD, "worker", "hptune-worker")
CLI = os.path.join(BUILD, "coordinator", "cli", "hptune")

_procs = []
failures = []
_exempt = set()        # pids killed on purpose: their exit status is not checked
_after_cleanup = []    # functions run once the daemons are stopped


def exempt(p):
    """Do not check this daemon's exit status (it is meant to die or fail);
    its log is still checked for sanitizer reports."""
    _exempt.add(p.pid)


def on_cleanup(fn):
    """Run fn() at exit after every daemon has stopped, even on failure
    (latest registered first)."""
    _after_cleanup.append(fn)


def _on_sigterm(signum, frame):
    # meson's timeout sends SIGTERM: turn it into SystemExit so atexit stops
    # the daemons and runs the on_cleanup functions.
    sys.exit(128 + signum)


signal.signal(signal.SIGTERM, _on_sigterm)


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
    _cleanup(final=True)
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


def _stacks(pid):
    """What a hung daemon is doing, for the failure message: its state and
    tracer (a sanitizer build's exit-time leak check ptrace-stops every
    thread from a child tracer: State "t", TracerPid set), its children, and
    thread backtraces (gdb, when installed and not locked out by a tracer)."""
    import shutil
    out = []
    try:
        with open(f"/proc/{pid}/status") as f:
            out += [ln.strip() for ln in f if ln.startswith(("State", "TracerPid", "Threads"))]
        kids = subprocess.run(["ps", "-o", "pid,stat,wchan:24,args", "--ppid", str(pid)],
                              capture_output=True, text=True, timeout=10).stdout.strip()
        if kids.count("\n"):
            out.append("children:\n" + kids)
    except (OSError, subprocess.TimeoutExpired):
        pass
    if shutil.which("gdb"):
        try:
            r = subprocess.run(["gdb", "-p", str(pid), "-batch", "-ex", "thread apply all bt"],
                               capture_output=True, text=True, timeout=60)
            out += [ln for ln in r.stdout.splitlines() if ln.startswith(("#", "Thread"))][:80]
            out += [ln for ln in r.stderr.splitlines() if "ptrace" in ln][:2]
        except (OSError, subprocess.TimeoutExpired):
            pass
    return "; what it was doing:\n" + "\n".join(out) if out else ""


def _cleanup(final=False):
    """Stop every daemon still running (SIGTERM: a clean stop) and check that
    each exited 0 and that no sanitizer reported anything in its log.  At the
    end of the test (final), run the on_cleanup functions."""
    stopped = []
    for p in _procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            p.send_signal(signal.SIGCONT)   # a paused daemon must run to stop
            stopped.append(p)
    deadline = time.time() + 20
    for p in _procs:
        try:
            p.wait(max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            stacks = _stacks(p.pid)
            p.kill()
            p.wait()
            check(False, f"{p.args[0]} did not stop within 20 s of SIGTERM{stacks}")
    for p in stopped:
        if p.pid in _exempt:
            continue
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
    while final and _after_cleanup:
        fn = _after_cleanup.pop()
        try:
            fn()
        except Exception as e:  # cleanup must go on
            print(f"cleanup {getattr(fn, '__name__', fn)}: {e}", flush=True)


atexit.register(_cleanup, final=True)


def _proc_state(pid):
    """The scheduler state letter of a process (R, S, T, Z...), "" if gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return ""


def rss_mb(pid):
    """The VmRSS of pid in MiB (0.0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


class RssSampler(threading.Thread):
    """The peak VmRSS of pid (MiB), sampled every `every` seconds while
    running; stop() ends it and returns the peak, a last sample included."""

    def __init__(self, pid, every=0.05):
        super().__init__(daemon=True)
        self.pid, self.every, self.peak, self.stop_flag = pid, every, 0.0, False

    def run(self):
        while not self.stop_flag:
            self.peak = max(self.peak, rss_mb(self.pid))
            time.sleep(self.every)

    def stop(self):
        self.stop_flag = True
        self.join(5)
        self.peak = max(self.peak, rss_mb(self.pid))
        return self.peak


class Cluster:
    """A coordinator plus workers on loopback with short heartbeats."""

    def __init__(self, hb_ms=100, liveness=3, name="t", host="127.0.0.1", db=None):
        self.dir = tempfile.mkdtemp(prefix=f"hpt-{name}-")
        self.port = free_port()
        self.addr = f"tcp://{host}:{self.port}"
        self.hb_ms = hb_ms
        self.liveness = liveness
        self.coord = None
        self.workers = []
        self.names = {}          # worker pid -> name
        self.db_path = db or os.path.join(self.dir, "journal.db")
        self.env = dict(os.environ, HPTUNE_COORDINATOR=self.addr)
        self.cli_wrap = ()       # a command prefix for the CLI (a coordinator in a netns)

    def start_coordinator(self, *extra, wait=True, wrap=()):
        """wrap: a command prefix that execs the coordinator, as for
        start_worker; set cli_wrap too so the CLI can reach it."""
        log = open(os.path.join(self.dir, "coordinator.log"), "ab")
        self.coord = subprocess.Popen(
            [*wrap, COORD, "--bind", self.addr, "--db", self.db_path,
             "--data-dir", DATA, "--hb-ivl-ms", str(self.hb_ms),
             "--hb-liveness", str(self.liveness), *extra],
            stdout=log, stderr=subprocess.STDOUT)
        _procs.append(self.coord)
        _logs[self.coord.pid] = log.name
        if wait:
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

    def start_worker(self, slots=1, name=None, data=None, extra=(), wrap=(), auto_name=False):
        """wrap: a command prefix that execs the worker (it must keep the
        pid), e.g. ["ip", "netns", "exec", NS].  auto_name: give no --name
        (the worker picks its default; its log is still worker-NAME.log)."""
        n = len(self.workers)
        name = name or f"w{n}"
        log = open(os.path.join(self.dir, f"worker-{name}.log"), "ab")
        p = subprocess.Popen(
            [*wrap, WORKER, "--coordinator", self.addr, "--slots", str(slots),
             *(() if auto_name else ("--name", name)),
             "--data-dir", data or DATA, "--heartbeat-ms", str(self.hb_ms),
             "--liveness", str(self.liveness), *extra],
            stdout=log, stderr=subprocess.STDOUT)
        _procs.append(p)
        _logs[p.pid] = log.name
        self.workers.append(p)
        self.names[p.pid] = name
        return p

    # --- faults ------------------------------------------------------------

    def kill(self, p, sig=signal.SIGKILL):
        """Kill a daemon on purpose (exempt from the exit-status check) and
        reap it; returns the wall-clock time of the kill."""
        exempt(p)
        t = time.time()
        p.send_signal(sig)
        p.wait(30)
        return t

    def pause(self, p, timeout=10):
        """SIGSTOP p and wait until every thread of it has stopped (its
        /proc state is T), so all it wrote before is on disk and it writes
        nothing more; returns the wall-clock time of the signal."""
        t = time.time()
        p.send_signal(signal.SIGSTOP)
        while _proc_state(p.pid) not in ("T", "t"):
            if time.time() - t > timeout:
                raise RuntimeError(f"pid {p.pid} not stopped {timeout}s after SIGSTOP "
                                   f"(state {_proc_state(p.pid)})")
            time.sleep(0.002)
        return t

    def resume(self, p):
        t = time.time()
        p.send_signal(signal.SIGCONT)
        return t

    # --- logs --------------------------------------------------------------

    def log_path(self, who="coordinator"):
        """who: "coordinator" or a worker's name."""
        f = "coordinator.log" if who == "coordinator" else f"worker-{who}.log"
        return os.path.join(self.dir, f)

    def log_events(self, who="coordinator", msg=None, **fields):
        """The log's logfmt lines as dicts (with "_t", the ts as Unix time),
        optionally only those with this msg and these field values."""
        try:
            with open(self.log_path(who), errors="replace") as f:
                lines = f.read().splitlines()
        except OSError:
            return []
        out = []
        for line in lines:
            ev = parse_logfmt(line)
            if not ev or (msg is not None and ev.get("msg") != msg):
                continue
            if all(ev.get(k) == str(v) for k, v in fields.items()):
                out.append(ev)
        return out

    def wait_log(self, who="coordinator", msg=None, timeout=30, after=0.0, **fields):
        """Wait for a matching log line logged at or after `after` (Unix
        time; log times are truncated to the millisecond, so a line up to
        2 ms earlier counts); return it (None on timeout)."""
        t0 = time.time()
        while True:
            for ev in self.log_events(who, msg, **fields):
                if ev["_t"] >= after - 0.002:
                    return ev
            if time.time() - t0 > timeout:
                return None
            time.sleep(0.02)

    def worker_id(self, name, timeout=30):
        """The worker id a worker announced in its Hello (from its log)."""
        ev = self.wait_log(name, "hello sent", timeout=timeout)
        if not ev:
            raise RuntimeError(f"worker {name} sent no Hello:\n" + tail(self.log_path(name)))
        return ev["worker_id"]

    # --- journal -----------------------------------------------------------

    def q(self, sql, *args):
        """Rows of one query on the journal (a fresh read-only connection)."""
        import sqlite3
        db = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=10)
        try:
            return db.execute(sql, args).fetchall()
        finally:
            db.close()

    def wait_for(self, pred, timeout=60, what="condition", poll=0.02):
        t0 = time.time()
        while time.time() - t0 < timeout:
            try:
                v = pred()
            except Exception:   # e.g. the journal is being created
                v = None
            if v:
                return v
            time.sleep(poll)
        raise RuntimeError(f"timed out after {timeout}s waiting for {what}\n{self.coord_log()}")

    def cli(self, *args, check_rc=True, timeout=300):
        r = subprocess.run([*self.cli_wrap, CLI, *args], capture_output=True, text=True,
                           env=self.env, timeout=timeout)
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
        return sqlite3.connect(self.db_path)

    def stop(self):
        _cleanup()


# --- hptune logs -f ----------------------------------------------------------

class Follower:
    """A running `hptune logs -f ARGS...`, its output read by threads so a
    test can wait for a line instead of sleeping.  start() returns once the
    history has arrived (the CLI says so on stderr): from then on every new
    event reaches it."""

    READY = "hptune logs: following new events"

    def __init__(self, *args, env=None):
        self.p = subprocess.Popen([CLI, "logs", "-f", *args], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env=env)
        self.out, self.err = [], []
        self.threads = [threading.Thread(target=self._read, args=(f, buf), daemon=True)
                        for f, buf in ((self.p.stdout, self.out), (self.p.stderr, self.err))]
        for t in self.threads:
            t.start()
        on_cleanup(lambda: self.p.poll() is None and self.p.kill())

    @staticmethod
    def _read(f, buf):
        for line in f:
            buf.append(line)

    def wait_ready(self, timeout=30):
        self.wait(lambda: any(self.READY in ln for ln in self.err), timeout,
                  "the end of its history")
        return self

    def wait_line(self, pred, timeout=30, what="a line"):
        """Wait for a stdout line for which pred(line) holds; return it."""
        return self.wait(lambda: next((ln for ln in list(self.out) if pred(ln)), None),
                         timeout, what)

    def wait(self, cond, timeout=30, what="condition"):
        """Poll cond() (say, over self.out) until it is true; return its value."""
        t0 = time.time()
        while time.time() - t0 < timeout:
            v = cond()
            if v:
                return v
            if self.p.poll() is not None and not any(t.is_alive() for t in self.threads):
                break
            time.sleep(0.02)
        raise RuntimeError(f"hptune logs -f: no {what} within {timeout}s (exit "
                           f"{self.p.poll()}):\nstdout: {''.join(self.out)[-800:]}\n"
                           f"stderr: {''.join(self.err)[-400:]}")

    def stop(self):
        """SIGTERM (as Ctrl-C: it unsubscribes, exits 0); return (status, stdout)."""
        self.p.terminate()
        rc = self.p.wait(10)
        for t in self.threads:
            t.join(5)
        return rc, "".join(self.out)


# --- helpers for fault tests -------------------------------------------------

_LOGFMT = re.compile(r'([A-Za-z_][A-Za-z0-9_.]*)=("(?:[^"\\]|\\.)*"|\S*)')


def parse_logfmt(line):
    """One hptune log line as a dict; "_t" is its ts as Unix time."""
    if not line.startswith("ts="):
        return None
    ev = {}
    for k, v in _LOGFMT.findall(line):
        if v.startswith('"'):
            v = re.sub(r'\\(.)', r'\1', v[1:-1])
        ev.setdefault(k, v)
    try:
        ev["_t"] = datetime.datetime.strptime(ev["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
            tzinfo=datetime.timezone.utc).timestamp()
    except (KeyError, ValueError):
        return None
    return ev


def tail(path, n=4000):
    try:
        with open(path, errors="replace") as f:
            return f.read()[-n:]
    except OSError:
        return ""


def cv_key(res):
    """A sweep's cv_results without the timing columns (fit_time,
    finished_unix), for bit-for-bit comparison of two runs."""
    return {k: v for k, v in res["cv_results"].items() if not timing_column(k)}


def timing_column(name):
    """Whether a cv_results column holds wall-clock times."""
    return "fit_time" in name or name == "finished_unix"


def epoch_seconds(units, batch_size=32, fold="1/4"):
    """Measured seconds of one training epoch of a fold task on mnist-10k
    (the small set the tests that train use) with this build (sanitizer
    builds are several times slower)."""
    best = None
    for epochs in (1, 3):
        r = subprocess.run([CLI, "train", "--data-dir", DATA, "--dataset", "mnist-10k",
                            "--fold", fold, "--units",
                            str(units), "--batch-size", str(batch_size), "--epochs",
                            str(epochs)], capture_output=True, text=True, timeout=300)
        m = re.search(r"fit ([0-9.]+) s", r.stdout + r.stderr)
        if not m:
            raise RuntimeError("hptune train: " + r.stdout + r.stderr)
        best = float(m.group(1)) / epochs
    return max(best, 1e-3)
