"""Hostile peers against a live coordinator.

The same dry-run sweep runs twice on fresh clusters: once in peace (the
baseline), once while hostile-client sends 10,000 hostile messages (1,000 fake
workers that say Hello and fall silent, random bytes, truncated envelopes,
wrong versions, multi-frame and empty messages, unknown bodies, results and
heartbeats from peers that hold nothing, bad client requests, frames above
the coordinator's ~1 MiB inbound cap, and 20 Heartbeats just under it that
must be refused before they are decoded).  Checks:
  - the attacked sweep finishes with exactly the baseline's cv_results and
    refit score, and its journal holds exactly one done task per (trial,
    split) and exactly one 'done' attempt per task, the task's current one;
  - the coordinator answers `hptune status` during and after the attack, and
    forgets the fake workers once they fall silent;
  - its RSS (VmRSS, sampled every 50 ms) stays under RSS_LIMIT_MB (under
    ASan, whose shadow memory and quarantine inflate RSS, the attacked peak
    may exceed the baseline's peak by at most RSS_LIMIT_MB);
  - it exits 0 on SIGTERM and no sanitizer reported anything (harness).
Figures (messages, replies, RSS before/peak/after, status latency) are
printed for the README.
"""
import os
import re
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from harness import BUILD, Cluster, RssSampler, check, finish, rss_mb, need_data  # noqa: E402

HOSTILE = os.environ.get("HPT_HOSTILE_CLIENT",
                         os.path.join(BUILD, "tests", "hostile", "hostile-client"))
RSS_LIMIT_MB = 200
BIG_HEARTBEATS = 20   # Heartbeats of 130,000 entries, just under the inbound cap
FRAMES = 10000
HELLOS = 1000
TRIALS, FOLDS = 2000, 5
ATTACK_SHARE = 0.8   # the mix lasts this share of the baseline sweep's time

SPEC = f"""
name: hostile
dataset: mnist
test_objective: hash   # --dry-run workers serve only such sweeps
method: random
seed: 17
cv: {{folds: {FOLDS}, seed: 3}}
refit: true
budget: {{max_trials: {TRIALS}}}
parameters:
  units: {{values: [8, 16, 32, 64]}}
  dropout: {{distribution: uniform, min: 0.0, max: 0.5}}
  learning_rate: {{distribution: log_uniform_values, min: 1.0e-4, max: 1.0e-1}}
  optimizer: {{values: [adam, sgd, rmsprop]}}
  epochs: {{value: 1}}
"""


def sanitized(pid):
    """True when the daemon runs under ASan: its shadow memory and quarantine
    put hundreds of MB into RSS, so only growth over the baseline means much."""
    try:
        with open(f"/proc/{pid}/maps") as f:
            return any("libasan" in line or "libclang_rt.asan" in line for line in f)
    except OSError:
        return False






class StatusProbe(threading.Thread):
    """`hptune status` every 0.5 s; records each call's wall time and rc."""

    def __init__(self, cluster):
        super().__init__(daemon=True)
        self.c, self.times, self.fails, self.stop_flag = cluster, [], 0, False

    def run(self):
        while not self.stop_flag:
            t0 = time.time()
            r = self.c.cli("status", "--timeout", "5", check_rc=False)
            self.times.append(time.time() - t0)
            self.fails += r.returncode != 0
            time.sleep(0.5)


def workers_connected(c):
    r = c.cli("status", check_rc=False)
    m = re.search(r"workers: (\d+) connected", r.stdout)
    return int(m.group(1)) if m else -1


def journal_checks(c, sweep, label):
    db = c.db()
    q = lambda sql: db.execute(sql, (sweep,)).fetchall()  # noqa: E731
    groups = q("SELECT trial, fold, repeat, refit, COUNT(*) FROM tasks "
               "WHERE sweep = ? AND state = 'done' GROUP BY trial, fold, repeat, refit")
    check(len(groups) == TRIALS * FOLDS + 1,
          f"{label}: {len(groups)} done (trial, split) groups, want {TRIALS * FOLDS + 1}")
    dup = [g for g in groups if g[4] != 1]
    check(not dup, f"{label}: (trial, split) with more than one done task: {dup[:5]}")
    other = q("SELECT state, COUNT(*) FROM tasks WHERE sweep = ? AND state != 'done' "
              "GROUP BY state")
    check(not other, f"{label}: tasks not done: {other}")
    per_task = q("SELECT a.task, COUNT(*) FROM attempts a JOIN tasks t ON t.id = a.task "
                 "WHERE t.sweep = ? AND a.outcome = 'done' GROUP BY a.task")
    check(len(per_task) == TRIALS * FOLDS + 1,
          f"{label}: {len(per_task)} tasks with a done attempt, want {TRIALS * FOLDS + 1}")
    check(all(n == 1 for _, n in per_task), f"{label}: a task has several done attempts")
    current = q("SELECT COUNT(*) FROM tasks t JOIN attempts a ON a.task = t.id "
                "AND a.attempt = t.attempt WHERE t.sweep = ? AND a.outcome = 'done'")[0][0]
    check(current == TRIALS * FOLDS + 1,
          f"{label}: {current} done attempts are their task's current attempt")
    lost = q("SELECT outcome, COUNT(*) FROM attempts a JOIN tasks t ON t.id = a.task "
             "WHERE t.sweep = ? AND a.outcome != 'done' GROUP BY outcome")
    events = db.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    db.close()
    return lost, events


def comparable(res):
    cv = {k: v for k, v in res["cv_results"].items() if "fit_time" not in k and k != "finished_unix"}
    sw = res["sweep"]
    return cv, sw["refit_test_score"], sw["best_trial"]


def run(attack, attack_ms=0):
    label = "attacked" if attack else "baseline"
    c = Cluster(hb_ms=200, liveness=3, name=f"hostile-{label}")
    c.start_coordinator()
    pid = c.coord.pid
    time.sleep(0.5)
    fig = {"rss_before": rss_mb(pid), "asan": sanitized(pid)}
    sampler = RssSampler(pid)
    sampler.start()
    c.start_worker(slots=2, extra=("--dry-run", "--dataset", "mnist"))
    hostile = probe = None
    if attack:
        hostile = subprocess.Popen(
            [HOSTILE, "--coordinator", c.addr, "--frames", str(FRAMES), "--hellos", str(HELLOS),
             "--duration-ms", str(attack_ms), "--dataset", "mnist",
             "--big-heartbeats", str(BIG_HEARTBEATS)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        lines = []
        mix_started = threading.Event()

        def reader():
            for line in hostile.stdout:
                lines.append(line.rstrip())
                print(line.rstrip(), flush=True)
                if "mix starts" in line:
                    mix_started.set()
                if "mix done" in line:
                    fig["mix_end"] = time.time()
        rt = threading.Thread(target=reader, daemon=True)
        rt.start()
        check(mix_started.wait(120), "hostile-client never finished its Hello phase")
        fig["attack_start"] = time.time()
        probe = StatusProbe(c)
        probe.start()
    t0 = time.time()
    sweep = c.launch(SPEC)
    state = c.wait_sweep(sweep, timeout=400)
    fig["sweep_end"] = time.time()
    fig["sweep_seconds"] = fig["sweep_end"] - t0
    check(state == "done", f"{label}: sweep ended {state}")
    if attack:
        try:
            hostile.wait(180)
        except subprocess.TimeoutExpired:
            hostile.kill()
            hostile.wait()
            check(False, "hostile-client did not finish within 180 s")
        rt.join(5)
        fig["attack_end"] = time.time()
        check(hostile.returncode == 0, f"hostile-client exited {hostile.returncode}")
        # Heartbeats just under the coordinator's ~1 MiB inbound cap (above
        # it, a frame costs its connection) are refused before decoding:
        # status still answers, and the RSS bound below holds.
        big = next((x for x in lines if "Heartbeats of " in x), "")
        check(big and "answered after -1 ms" not in big,
              f"no answer to a StatusRequest after the big Heartbeats: {big!r}")
        summary = next((x for x in lines if x.startswith("hostile: messages=")), "")
        fig["summary"] = summary
        check(f"messages={FRAMES} " in summary, f"hostile-client summary: {summary!r}")
        probe.stop_flag = True
        probe.join(10)
        fig["probe"] = (len(probe.times), probe.fails, max(probe.times or [0]))
        check(probe.fails == 0, f"{probe.fails} `hptune status` calls failed during the attack")
        # The mix is paced to end before the sweep does (see ATTACK_SHARE).
        fig["overlap"] = fig.get("mix_end", 1e18) <= fig["sweep_end"]
        if not fig["overlap"]:
            print("NOTE: the attack outlasted the sweep; it covered only part of it")
    check(c.coord.poll() is None, f"{label}: coordinator died:\n{c.coord_log()}")
    t1 = time.time()
    r = c.cli("status", "--timeout", "5", check_rc=False)
    fig["status_after_s"] = time.time() - t1
    check(r.returncode == 0, f"{label}: `hptune status` after the attack exited {r.returncode}")
    # The fake workers fell silent: they must expire (hb 200 ms x liveness 3).
    deadline = time.time() + 15
    while workers_connected(c) != 1 and time.time() < deadline:
        time.sleep(0.2)
    fig["workers_after"] = workers_connected(c)
    check(fig["workers_after"] == 1,
          f"{label}: {fig['workers_after']} workers connected after the attack, want 1")
    time.sleep(0.5)
    sampler.stop()
    fig["rss_after"] = rss_mb(pid)
    fig["rss_peak"] = max(sampler.peak, fig["rss_after"])
    if not fig["asan"]:
        check(fig["rss_peak"] < RSS_LIMIT_MB,
              f"{label}: coordinator peak RSS {fig['rss_peak']:.1f} MB >= {RSS_LIMIT_MB} MB")
    res = c.results(sweep)
    fig["lost"], fig["events"] = journal_checks(c, sweep, label)
    with open(os.path.join(c.dir, "coordinator.log"), errors="replace") as f:
        log = f.read()
    fig["log_lines"] = log.count("\n")
    fig["bad_logged"] = log.count('msg="bad message dropped"')
    totals = re.findall(r'msg="bad message dropped".* total=(\d+)', log)
    fig["bad_total"] = int(totals[-1]) if totals else 0
    fig["unreg_logged"] = log.count("message from unregistered peer")
    c.stop()
    return res, fig


need_data()
if not os.access(HOSTILE, os.X_OK):
    check(False, f"{HOSTILE} missing (build tests/hostile)")
    finish()

base, fb = run(attack=False)
# Pace the mix over most of the baseline sweep's time, so that the attacked
# sweep (slower than the baseline) runs through all of it, whatever the build.
attack_ms = int(min(20000, max(1500, ATTACK_SHARE * fb["sweep_seconds"] * 1000)))
hit, fa = run(attack=True, attack_ms=attack_ms)
if fa["asan"]:
    growth = fa["rss_peak"] - fb["rss_peak"]
    print(f"ASan build: RSS bound applied to the growth over the baseline: {growth:.1f} MB")
    check(growth < RSS_LIMIT_MB, f"attacked peak RSS exceeds the baseline's by {growth:.1f} MB")
cb, ca = comparable(base), comparable(hit)
check(cb[0] == ca[0], "cv_results differ between the baseline and the attacked sweep")
check(cb[1] == ca[1], f"refit score {cb[1]} (baseline) vs {ca[1]} (attacked)")
check(cb[2] == ca[2], f"best trial {cb[2]} (baseline) vs {ca[2]} (attacked)")

print(f"baseline: sweep {fb['sweep_seconds']:.2f} s, RSS before/peak/after "
      f"{fb['rss_before']:.1f}/{fb['rss_peak']:.1f}/{fb['rss_after']:.1f} MB, "
      f"journal events {fb['events']}")
n, fails, worst = fa["probe"]
print(f"attacked: sweep {fa['sweep_seconds']:.2f} s (attack mix of {attack_ms} ms "
      f"inside it: {fa['overlap']}), "
      f"RSS before/peak/after {fa['rss_before']:.1f}/{fa['rss_peak']:.1f}/"
      f"{fa['rss_after']:.1f} MB, hptune status during the attack: {n} calls, {fails} failed, "
      f"slowest {worst * 1000:.0f} ms; after: {fa['status_after_s'] * 1000:.0f} ms; "
      f"workers after expiry {fa['workers_after']}; non-done attempts {fa['lost']}")
print(f"attacked: coordinator log {fa['log_lines']} lines, journal events {fa['events']}; "
      f"bad messages counted {fa['bad_total']}, 'bad message dropped' lines {fa['bad_logged']}, "
      f"'message from unregistered peer' lines {fa['unreg_logged']}")
if fa["bad_logged"] > 60:
    print("NOTE: 'bad message dropped' is meant to be logged once per peer per minute; "
          f"{fa['bad_logged']} lines for {fa['bad_total']} bad messages (main.c log_bad keeps "
          "only the last peer)")
print(f"HOSTILE-FIGURES frames={FRAMES} hellos={HELLOS} rss_peak_mb={fa['rss_peak']:.1f} "
      f"rss_before_mb={fa['rss_before']:.1f} rss_after_mb={fa['rss_after']:.1f} "
      f"status_worst_ms={worst * 1000:.0f} sweep_s={fa['sweep_seconds']:.2f} "
      f"baseline_sweep_s={fb['sweep_seconds']:.2f}")
finish()
