"""The model-memory budget (issue 11, finding 7): no spec can make a worker
allocate a model it cannot hold, so the OOM killer never takes a worker.

  submit: a spec whose largest model (8 layers of 65,536 units) would need
      hundreds of GiB is refused at submit, exit 2, with
      file:line:col: parameters.units: ..., and nothing is queued.
  too big for the worker: a worker with --max-model-mem 64M (advertised in
      its Hello) and a trial of 3 layers of 4096 units (about 600 MiB): the
      coordinator never hands it that task, and since no registered worker
      could ever fit it, fails the trial at once with "the model needs at
      least ... more than the memory budget of every worker that has the
      dataset" (status, results, journal; no attempt was made); the small
      trial beside it is done, the worker stays up and its peak RSS (VmHWM)
      stays far below the model's size.
  busy budget: a worker with 2 slots and a budget that holds one task of the
      sweep but not two runs them one at a time: the second is refused
      ("memory budget in use"), requeued without counting an attempt, and
      every task ends done.
  auto: a worker without --max-model-mem logs the budget it derived from the
      memory available (or its cgroup's limit)."""
import re
import time

from harness import Cluster, check, finish, need_data

need_data("mnist-10k")


def vm_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for ln in f:
            if ln.startswith(key + ":"):
                return int(ln.split()[1])
    return -1


c = Cluster(name="modelmem")
c.start_coordinator("--max-attempts", "2")

# --- refused at submit ---------------------------------------------------------------

HUGE = """name: huge
dataset: mnist-10k
method: grid
parameters:
  layers: {value: 8}
  units: {values: [32, 65536]}
  epochs: {value: 1}
"""
path = f"{c.dir}/huge.yaml"
with open(path, "w") as f:
    f.write(HUGE)
r = c.cli("launch", path, check_rc=False)
check(r.returncode == 2, f"huge spec: exit {r.returncode}, want 2: {r.stderr}")
check(re.search(r"huge\.yaml:6:3: parameters\.units: the largest model \(8 layers of up to 65536 "
                r"units, batch_size \d+\) needs about \d+ GiB", r.stderr),
      f"huge spec: unclear error: {r.stderr!r}")
check("no sweeps" in c.cli("status").stdout, "the refused spec was queued")
print("  submit:", r.stderr.strip())

# --- a task too big for its worker ---------------------------------------------------

w = c.start_worker(slots=1, name="small", extra=("--max-model-mem", "64M", "--dataset", "mnist-10k"))
BIG = """
name: too-big
dataset: mnist-10k
method: grid
cv: {folds: 2, seed: 1}
refit: false
parameters:
  layers: {value: 3}
  units: {values: [8, 4096]}
  batch_size: {value: 64}
  epochs: {value: 1}
"""
sweep = c.launch(BIG)
state = c.wait_sweep(sweep, timeout=120)
check(state == "done", f"sweep state {state}, want done (the small trial is done)")
res = c.results(sweep)
cv = res["cv_results"]
big = [i for i, u in enumerate(cv["param_units"]) if u == 4096]
small = [i for i, u in enumerate(cv["param_units"]) if u == 8]
check(len(big) == 1 and cv["state"][big[0]] == "failed", f"big trial state {cv['state']}")
check(len(small) == 1 and cv["state"][small[0]] == "done", f"small trial state {cv['state']}")
err = c.q("SELECT error FROM trials WHERE sweep = ? AND state = 'failed'", sweep)
WANT = re.compile(r"the model needs at least [\d.]+ MiB, more than the memory budget of "
                  r"every worker that has the dataset \(1, the largest 64\.0 MiB; "
                  r"hptune-worker --max-model-mem\)")
check(len(err) == 1 and WANT.search(err[0][0] or ""), f"failed trial's error {err}")
table = c.cli("results", str(sweep)).stdout
check(WANT.search(table.replace("\n", " ")) or "memory budget" in table,
      "hptune results does not show why the trial failed:\n" + table)
att = c.q("SELECT a.outcome, a.error FROM attempts a JOIN tasks t ON a.task = t.id "
          "JOIN trials r ON r.sweep = t.sweep AND r.trial = t.trial "
          "WHERE t.sweep = ? AND r.state = 'failed'", sweep)
check(att == [], f"attempts of the big trial: {att}; it was never to be handed out")
check(w.poll() is None, f"the worker exited ({w.poll()})")
hwm = vm_kib(w.pid, "VmHWM")
# mnist-10k is 8 MB; the small trial a few more; ASan's shadow memory adds
# to it.  The refused model alone would have taken ~630 MiB.
check(0 < hwm < 300 * 1024, f"the worker's peak RSS is {hwm} KiB; the refused model was never "
      f"allocated, so it should stay far below its ~630 MiB")
budget = c.wait_log("small", "memory budget", timeout=5)
check(budget and budget.get("max_model_mem") == "64.0 MiB" and budget.get("from") == "--max-model-mem",
      f"worker's memory budget line {budget}")
print(f"  too big: trial failed with {err[0][0]!r}; worker VmHWM {hwm // 1024} MiB")
c.kill(w, 15)

# --- a budget that holds one task at a time -------------------------------------------

w2 = c.start_worker(slots=2, name="pair", extra=("--max-model-mem", "48M", "--dataset", "mnist-10k"))
PAIR = """
name: one-at-a-time
dataset: mnist-10k
method: grid
cv: {folds: 2, seed: 1}
refit: false
parameters:
  layers: {value: 2}
  units: {values: [1024, 1000]}
  batch_size: {value: 64}
  epochs: {value: 1}
"""
t0 = time.time()
sweep2 = c.launch(PAIR)
state2 = c.wait_sweep(sweep2, timeout=300)
check(state2 == "done", f"one-at-a-time sweep {state2}, want done")
cv2 = c.results(sweep2)["cv_results"]
check(all(s == "done" for s in cv2["state"]), f"trial states {cv2['state']}")
busy = c.log_events("pair", "assign refused")
check(any("memory budget in use" in (e.get("error") or "") for e in busy),
      f"no 'memory budget in use' refusal in the worker's log ({len(busy)} refusals)")
failed = c.q("SELECT COUNT(*) FROM attempts a JOIN tasks t ON a.task = t.id "
             "WHERE t.sweep = ? AND a.outcome = 'failed'", sweep2)[0][0]
check(failed == 0, f"{failed} failed attempts: a busy budget must not count as a failure")
check(w2.poll() is None, "the 2-slot worker exited")
print(f"  busy: {len(busy)} refusals, sweep done in {time.time() - t0:.1f}s")
c.kill(w2, 15)

# --- the automatic budget --------------------------------------------------------------

w3 = c.start_worker(slots=2, name="auto")
ev = c.wait_log("auto", "memory budget", timeout=30)
check(ev is not None and ev.get("from") in ("MemAvailable", "cgroup")
      and re.match(r"[\d.]+ [MG]iB$", ev.get("max_model_mem", "")),
      f"auto budget line {ev}")
print(f"  auto: {ev and ev.get('max_model_mem')} from {ev and ev.get('from')}, "
      f"available {ev and ev.get('available')}")
finish()
