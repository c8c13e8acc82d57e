"""Racing the leaders (spec select: {race: true}) end to end, with real
daemons.

1. Known ground truth: a --dry-run worker scores the `noisy` test objective
   (each configuration's learning_rate is its true mean, its dropout the
   noise).  Trial 3 is truly best.  The race must end with a verdict in the
   words the docs give, choose trial 3, refit it, and show the race in
   `hptune results` (text and JSON), in `hptune status SWEEP`, and in
   `hptune report` (the race plot: the leaders' mean +- CI per look).  The
   race's extra tasks are in the journal like any other task: CV repeats
   past the spec's, each done exactly once.
2. Resume: real training on mnist-10k (deterministic scores), the
   coordinator SIGKILLed in the middle of the race and restarted on the same
   journal: the race ends with the same verdict, winner and extra tasks as
   an uninterrupted run, and no race task is computed twice."""
import http.client
import json
import os
import re
import signal
import xml.etree.ElementTree as ET

from harness import Cluster, _procs, check, finish, free_port, need_data


def get(port, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        body = r.read()
        check(r.status == 200, f"GET {path}: {r.status} {body[:200]!r}")
        return body
    finally:
        conn.close()

CERTIFIED = re.compile(r"^the winner is significantly better than every other leader after "
                       r"\d+ repeats \(trial \d+;")
TIE = re.compile(r"^\d+ trials remain indistinguishable after \d+ repeats; choosing the "
                 r"(cheapest to train|one with the best mean) among them \(trial \d+;")

NOISY = """
name: race-noisy
dataset: mnist
method: grid
test_objective: noisy
cv: {folds: 5, shuffle: false, seed: 3}
refit: true
parameters:
  learning_rate: {values: [0.80, 0.85, 0.90, 0.87]}
  dropout: {value: 0.01}
  units: {value: 8}
  epochs: {value: 1}
select: {race: true, top: 4, max_repeats: 6, budget_tasks: 200}
"""

c = Cluster(name="race")
# hptune check says what the race may cost (offline, no coordinator needed).
spec_path = os.path.join(c.dir, "noisy.yaml")
with open(spec_path, "w") as f:
    f.write(NOISY)
chk = c.cli("check", spec_path).stdout
check("race     the top 4 leaders, at most 6 repeats, at most 200 extra tasks; ties to the "
      "cheapest to train" in chk, f"hptune check does not describe the race:\n{chk}")
HTTP = free_port()
c.start_coordinator("--http", f"127.0.0.1:{HTTP}")
c.start_worker(slots=2, name="dry", data="/nonexistent", extra=["--dry-run", "--dataset", "mnist"])
s = c.launch(NOISY)
check(c.wait_sweep(s, timeout=120) == "done", "the noisy race did not finish")
res = c.results(s)
sw = res["sweep"]
race = sw["race"]
check(race is not None, f"no race in the results: {sw}")
summary = race["summary"]
check(CERTIFIED.match(summary) or TIE.match(summary), f"verdict not in the documented words: "
      f"{summary!r}")
check(race["outcome"] == ("certified" if CERTIFIED.match(summary) else "tie"),
      f"outcome {race['outcome']} for {summary!r}")
check(race["winner"] == 3, f"the race chose trial {race['winner']}, the truly best is 3")
check(sw["best_trial"] == 3, f"best trial {sw['best_trial']}, want the race's winner 3")
check(race["tasks"] > 0 and race["repeats"] >= 1, f"the race ran no round: {race}")
check(race["tasks"] <= 200, f"the race passed its budget: {race}")
check(len(race["leaders"]) == 4, f"leaders: {race['leaders']}")
for ld in race["leaders"]:
    n = len(ld["mean"])
    check(n >= 1 and len(ld["ci95_half_width"]) == n, f"leader without looks: {ld}")
    if ld["trial"] == 3:
        check(ld["dropped_at_look"] is None, f"the true best was dropped: {ld}")
        check(n == race["repeats"] + 1, f"the winner has {n} looks, want {race['repeats'] + 1}")
# The journal: the race's tasks are CV repeats 1.. (cv.repeats is 1), each done once, and
# the refit is trial 3's.
rows = c.q("SELECT COUNT(*), MIN(repeat), MAX(repeat) FROM tasks WHERE sweep = ? AND repeat >= 1",
           s)
check(rows[0][0] == race["tasks"], f"journal has {rows[0][0]} race tasks, results say "
      f"{race['tasks']}")
check(rows[0][1] == 1 and rows[0][2] == race["repeats"], f"race repeats in the journal: {rows}")
dup = c.q("SELECT a.task, COUNT(*) FROM attempts a JOIN tasks t ON t.id = a.task "
          "WHERE t.sweep = ? AND a.outcome = 'done' GROUP BY a.task HAVING COUNT(*) > 1", s)
check(not dup, f"tasks done twice: {dup}")
refit = c.q("SELECT trial FROM tasks WHERE sweep = ? AND refit = 1", s)
check(refit == [(3,)], f"refit of {refit}, want trial 3")
check(sw["tasks_done"] == 4 * 5 + race["tasks"] + 1, f"tasks_done {sw['tasks_done']}")
# The CLI.
txt = c.cli("results", str(s)).stdout
check("race: " + summary in txt, f"hptune results does not say the verdict:\n{txt}")
st = c.cli("status", str(s)).stdout
check("race      " + summary in st, f"hptune status SWEEP does not show the race:\n{st}")
out = os.path.join(c.dir, "report")
c.cli("report", str(s), "-o", out)
with open(os.path.join(out, "index.html")) as f:
    page = f.read()
check("The race of the leaders" in page, "the report has no race section")
svg = ET.parse(os.path.join(out, "race.svg")).getroot()
texts = " ".join(t.text or "" for t in svg.iter("{http://www.w3.org/2000/svg}text"))
check("trial 3: winner" in texts, f"the race plot does not mark the winner: {texts[:400]}")
# The dashboard's API: the race's verdict with the sweep, the race plot among its plots.
api = json.loads(get(HTTP, f"/api/sweeps/{s}"))
check(api["sweep"]["race"]["summary"] == summary, f"API race: {api['sweep']['race']}")
check(len(api["sweep"]["race"]["leaders"]) == 4, "the API's results carry the leaders")
plots = json.loads(get(HTTP, f"/api/sweeps/{s}/plots"))
race_plots = [p for p in plots["plots"] if p["kind"] == "race"]
check(len(race_plots) == 1, f"plots: {[p['kind'] for p in plots['plots']]}")
svg = get(HTTP, race_plots[0]["url"]).decode()
check("trial 3: winner" in svg, "the served race plot does not mark the winner")
lst = json.loads(get(HTTP, "/api/sweeps"))
mine = [x for x in lst["sweeps"] if x["id"] == s]
check(mine and mine[0]["race"]["summary"] == summary and mine[0]["race"]["leaders"] == [],
      f"the sweeps list's race: {mine}")
log = c.coord_log()
check("race.started" in open(os.path.join(c.dir, "coordinator.log")).read() or
      "racing the leaders" in log, "no race.started event in the log")
print("noisy:", summary)
c.stop()

# --- 2. resume in the middle of a race --------------------------------------------------
need_data("mnist-10k")
REAL = """
name: race-resume
dataset: mnist-10k
method: grid
cv: {folds: 3, seed: 5}
refit: true
parameters:
  units: {values: [12, 16, 20, 24]}
  batch_size: {value: 64}
  epochs: {value: 1}
select: {race: true, top: 4, max_repeats: 3, budget_tasks: 100}
"""
EXTRA = ["--dataset", "mnist-10k"]


def race_of(cl, sweep):
    r = cl.results(sweep)["sweep"]
    return r["race"], r["best_trial"]


ref = Cluster(name="race-ref")
ref.start_coordinator()
ref.start_worker(slots=2, name="w", extra=EXTRA)
s = ref.launch(REAL)
check(ref.wait_sweep(s, timeout=300) == "done", "reference race did not finish")
want, want_best = race_of(ref, s)
print("uninterrupted:", want["summary"])
ref.stop()
check(want["repeats"] >= 1, f"the reference race ran no round, nothing to interrupt: {want}")

c = Cluster(name="race-resume")
c.start_coordinator("--max-attempts", "3")
c.start_worker(slots=2, name="w", extra=EXTRA)
s = c.launch(REAL)
race_done_q = ("SELECT COUNT(*) FROM attempts a JOIN tasks t ON t.id = a.task "
               "WHERE t.sweep = ? AND t.repeat >= 1 AND a.outcome = 'done'")
c.wait_for(lambda: c.q(race_done_q, s)[0][0] >= 2, timeout=300, what="two race tasks done")
c.coord.send_signal(signal.SIGKILL)
c.coord.wait()
_procs.remove(c.coord)
# Killed in the middle of the race: its verdict (the refit follows it) not yet journaled.
at_kill = c.q("SELECT COUNT(*) FROM tasks WHERE sweep = ? AND refit = 1", s)[0][0]
n_race = c.q("SELECT COUNT(*) FROM tasks WHERE sweep = ? AND repeat >= 1", s)[0][0]
print(f"killed with {n_race} race tasks journaled, refit journaled: {at_kill}")
check(at_kill == 0, "the race had ended before the kill: nothing was resumed mid-race")
c.start_coordinator("--max-attempts", "3")
check(c.wait_sweep(s, timeout=300) == "done", "the resumed race did not finish")
log = open(os.path.join(c.dir, "coordinator.log"), errors="replace").read()
check("cannot resume" not in log, f"resume failed:\n{log[-2000:]}")
got, got_best = race_of(c, s)
for k in ("summary", "outcome", "repeats", "winner", "tasks"):
    check(got[k] == want[k], f"resumed race {k}: {got[k]!r}, uninterrupted {want[k]!r}")
check(got_best == want_best, f"best {got_best}, uninterrupted {want_best}")
check([(ld["trial"], ld["mean"]) for ld in got["leaders"]] ==
      [(ld["trial"], ld["mean"]) for ld in want["leaders"]], "leaders' means differ")
dup = c.q("SELECT a.task, COUNT(*) FROM attempts a JOIN tasks t ON t.id = a.task "
          "WHERE t.sweep = ? AND t.repeat >= 1 AND a.outcome = 'done' GROUP BY a.task "
          "HAVING COUNT(*) > 1", s)
check(not dup, f"race tasks done twice: {dup}")
c.stop()
finish()
