"""Prometheus, for real: Debian's prometheus binary (not its service) scrapes
the coordinator's --http endpoint every 0.5 s and evaluates
deploy/prometheus/hptune-rules.yml, while two workers run a small sweep on
MNIST (mnist-10k) in which half the trials diverge, and a third worker is
killed holding a task.  Then, through Prometheus's HTTP API:
  - the sweep's progress: hptune_sweep_tasks_done / _failed / _tasks and
    trials done / failed equal what `hptune results` says, and the
    recording rule hptune:sweep_progress:ratio is 1;
  - the workers' throughput: each worker's hptune_worker_tasks_total and
    hptune_worker_epochs_total equal `hptune workers`, and their rate over
    the sweep was positive while it ran;
  - the task outcome counters: hptune_task_attempts_total{outcome} (done,
    failed, lost) equal the coordinator's own /metrics and the journal's
    attempts, with the killed worker's tasks lost (one, or its bundle) and failures
    from the diverging trials; hptune_workers_lost_total is 1;
  - the alert HptuneWorkerLost fires.
Also: `promtool check metrics` accepts /metrics (during the sweep and
after), `promtool check rules` accepts the rules, and `promtool test rules`
passes deploy/prometheus/hptune-rules.test.yml.
Skips (77) when prometheus or promtool is not installed (Debian package
prometheus; deploy/install-deps.sh) or MNIST is missing."""
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request

from harness import (SRC, Cluster, check, epoch_seconds, finish, free_port, need_data,
                     on_cleanup, skip)

PROMETHEUS, PROMTOOL = shutil.which("prometheus"), shutil.which("promtool")
if not PROMETHEUS or not PROMTOOL:
    skip("prometheus/promtool not installed (Debian package prometheus; deploy/install-deps.sh)")
need_data("mnist-10k")
RULES_DIR = os.path.join(os.path.abspath(SRC), "deploy", "prometheus")
RULES = os.path.join(RULES_DIR, "hptune-rules.yml")


def run(*args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=120, **kw)


# The rules: syntax and their unit tests.
r = run(PROMTOOL, "check", "rules", RULES)
check(r.returncode == 0, f"promtool check rules: {r.stdout}{r.stderr}")
r = run(PROMTOOL, "test", "rules", "hptune-rules.test.yml", cwd=RULES_DIR)
check(r.returncode == 0 and "SUCCESS" in r.stdout, f"promtool test rules: {r.stdout}{r.stderr}")

# Tasks of about 0.5 s, so that Prometheus (a scrape every 0.5 s) sees the
# sweep's progress step by step.
EPOCHS = max(3, round(0.5 / epoch_seconds(24, batch_size=128, fold="1/2")))
SPEC = """
name: prom
dataset: mnist-10k
method: grid
cv: {folds: 2, seed: 5}
refit: false
parameters:
  units: {values: [8, 16, 24]}
  learning_rate: {values: [0.01, 10.0]}   # 10: linear SGD diverges (the trial fails)
  activation: {value: linear}
  optimizer: {value: sgd}
  batch_size: {value: 128}
  epochs: {value: EPOCHS}
""".replace("EPOCHS", str(EPOCHS))

c = Cluster(name="prom")
HTTP = free_port()
c.start_coordinator("--http", f"127.0.0.1:{HTTP}", "--max-attempts", "2")


def metrics_text():
    with urllib.request.urlopen(f"http://127.0.0.1:{HTTP}/metrics", timeout=10) as f:
        return f.read().decode()


def promtool_metrics(text, when):
    r = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=60)
    check(r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(),
          f"promtool check metrics ({when}): {r.returncode} {r.stdout}{r.stderr}")


def own_value(text, name, **labels):
    """A sample's value in the coordinator's own /metrics text."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        head, _, value = line.rpartition(" ")
        if head == name and not labels:
            return float(value)
        if head.startswith(name + "{") and all(f'{k}="{v}"' in head for k, v in labels.items()):
            return float(value)
    return None


# Prometheus itself: a temporary storage dir, a scrape config for the
# coordinator, the rules; evaluation as often as scraping.
work = tempfile.mkdtemp(prefix="hpt-prom-")
on_cleanup(lambda: shutil.rmtree(work, ignore_errors=True))
PROM = free_port()
with open(os.path.join(work, "prometheus.yml"), "w") as f:
    f.write(f"""global:
  scrape_interval: 500ms
  scrape_timeout: 400ms
  evaluation_interval: 500ms
rule_files: [{json.dumps(RULES)}]
scrape_configs:
  - job_name: hptune
    static_configs: [{{targets: ["127.0.0.1:{HTTP}"]}}]
""")
plog = open(os.path.join(c.dir, "prometheus.log"), "ab")
prom = subprocess.Popen([PROMETHEUS, f"--config.file={work}/prometheus.yml",
                         f"--storage.tsdb.path={work}/data",
                         f"--web.listen-address=127.0.0.1:{PROM}", "--log.level=warn"],
                        stdout=plog, stderr=subprocess.STDOUT)
on_cleanup(lambda: (prom.terminate(), prom.wait(30)))


def api(path, **params):
    url = f"http://127.0.0.1:{PROM}/api/v1/{path}?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=10) as f:
        body = json.load(f)
    if body.get("status") != "success":
        raise RuntimeError(f"{url}: {body}")
    return body["data"]


def query(expr):
    """{labels-as-frozenset: value} of an instant query."""
    out = {}
    for s in api("query", query=expr)["result"]:
        out[frozenset(s["metric"].items())] = float(s["value"][1])
    return out


def one(expr):
    """The single value of an instant query (None when it returns nothing)."""
    v = query(expr)
    if len(v) > 1:
        raise RuntimeError(f"{expr}: {len(v)} series")
    return next(iter(v.values())) if v else None


def ready():
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{PROM}/-/ready", timeout=2) as f:
            return f.status == 200
    except OSError:
        return False


c.wait_for(ready, timeout=60, what="prometheus to be ready", poll=0.2)
c.wait_for(lambda: one('up{job="hptune"}') == 1, timeout=30, what="a first scrape", poll=0.2)
check(not [t for t in api("targets")["activeTargets"] if t["health"] != "up"],
      f"targets: {api('targets')}")

# The workers: one that hangs in its first task that trains (a diverging
# one fails first) and is killed; it starts alone, so that it surely gets
# one.  Then two that work.
c.start_worker(slots=1, name="doomed", extra=["--test-stall-epoch", "1"])
c.wait_for(lambda: one("hptune_workers") == 1, timeout=30, what="the first worker in Prometheus",
           poll=0.2)
t0 = time.time()
sweep = c.launch(SPEC)


def doomed_leases():
    """The doomed worker's leases as (task, epoch), from /api/workers."""
    with urllib.request.urlopen(f"http://127.0.0.1:{HTTP}/api/workers", timeout=10) as f:
        ws = json.load(f)["workers"]
    return sorted((l["task"], l["epoch"]) for w in ws if w["name"] == "doomed"
                  for l in w["leases"])


def doomed_attempts():
    """The doomed worker's leases as (task, attempt), from /api/workers."""
    with urllib.request.urlopen(f"http://127.0.0.1:{HTTP}/api/workers", timeout=10) as f:
        ws = json.load(f)["workers"]
    return sorted((l["task"], l["attempt"]) for w in ws if w["name"] == "doomed"
                  for l in w["leases"])


def doomed_hung():
    """It holds a task stuck at epoch 1 (--test-stall-epoch 1) for 0.5 s."""
    a = doomed_leases()
    if not a or a[0][1] != 1:
        return False
    time.sleep(0.5)
    return doomed_leases() == a


c.wait_for(doomed_hung, timeout=60, what="the doomed worker to hang in a task")
c.start_worker(slots=1, name="steady")
c.start_worker(slots=1, name="busy")
c.wait_for(lambda: one("hptune_workers") == 3, timeout=30, what="three workers in Prometheus",
           poll=0.2)
promtool_metrics(metrics_text(), "during the sweep")
doomed = [p for p in c.workers if c.names[p.pid] == "doomed"][0]
# What it holds when it dies: one task, or one bundle of tasks that train
# together (and hang together); each is one lost attempt, unless its trial
# fails on another worker first (a diverging configuration), which cancels
# the lease before the death is noticed.
held = doomed_attempts()
check(len(held) >= 1, "the doomed worker holds no task")
c.kill(doomed)
state = c.wait_sweep(sweep, timeout=240)
check(state == "done", f"sweep {state}")
t1 = time.time()
res = c.results(sweep)["sweep"]
workers = {w["name"]: w for w in json.loads(c.cli("workers", "--format", "json").stdout)["workers"]}
print(f"sweep: {json.dumps(res)[:400]}", flush=True)

# Let Prometheus scrape the final state (two scrapes after the end).
final = metrics_text()
promtool_metrics(final, "after the sweep")
S = f'{{sweep="{sweep}"}}'
c.wait_for(lambda: one(f"hptune_sweep_tasks_done{S}") == res["tasks_done"] and
           one("hptune_workers_lost_total") == 1, timeout=20,
           what="Prometheus to see the finished sweep", poll=0.2)
time.sleep(1.2)

# The sweep's progress.
for metric, key in (("hptune_sweep_tasks", "tasks_total"), ("hptune_sweep_tasks_done", "tasks_done"),
                    ("hptune_sweep_tasks_failed", "tasks_failed"),
                    ("hptune_sweep_trials_done", "trials_done"),
                    ("hptune_sweep_trials_failed", "trials_failed")):
    got = one(f"{metric}{S}")
    check(got == res[key], f"{metric}: Prometheus has {got}, hptune results {key}={res[key]}")
check(res["trials_done"] == 3 and res["trials_failed"] == 3,
      f"trials done/failed {res['trials_done']}/{res['trials_failed']} (want 3/3)")
check(one(f"hptune:sweep_progress:ratio{S}") == 1.0,
      f"recording rule hptune:sweep_progress:ratio = {one(f'hptune:sweep_progress:ratio{S}')}")
check(one(f'hptune_sweep_info{{sweep="{sweep}",name="prom",state="done",method="grid"}}') == 1,
      "hptune_sweep_info of the finished sweep")
best = one(f"hptune_sweep_best_score{S}")
check(best is not None and abs(best - res["best_mean_test_score"]) < 1e-12,
      f"best score {best} vs {res['best_mean_test_score']}")
# Progress was visible while it ran: the done count rose through several values.
span = f"{max(1, int(time.time() - t0) + 2)}s"
steps = one(f"changes(hptune_sweep_tasks_done{S}[{span}])")
check(steps is not None and steps >= 2, f"hptune_sweep_tasks_done changed {steps} times")

# The workers' throughput.
for name in ("steady", "busy"):
    w = workers.get(name)
    if not check(w is not None, f"worker {name} not listed: {list(workers)}"):
        continue
    done = one(f'hptune_worker_tasks_total{{worker="{name}",outcome="done"}}')
    failed = one(f'hptune_worker_tasks_total{{worker="{name}",outcome="failed"}}')
    epochs = one(f'hptune_worker_epochs_total{{worker="{name}"}}')
    check(done == w["tasks_done"] and failed == w["tasks_failed"] and epochs == w["epochs_done"],
          f"{name}: Prometheus tasks {done}/{failed} epochs {epochs}, hptune workers {w}")
    top = one(f'max_over_time(rate(hptune_worker_epochs_total{{worker="{name}"}}[3s])[{span}:500ms])')
    check(top is not None and top > 0, f"{name}: epochs/s never above 0 ({top})")
both = one('sum(hptune_worker_tasks_total{worker=~"steady|busy",outcome="done"})')
check(both == res["tasks_done"], f"the workers' done tasks {both} != the sweep's {res['tasks_done']}")
check(one('hptune_worker_slots_by_worker{worker="doomed",state="total"}') is None,
      "the killed worker's series are still exported")

# The task outcome counters: Prometheus = the coordinator's /metrics = the journal.
att = {o: one(f'hptune_task_attempts_total{{outcome="{o}"}}') for o in ("done", "failed", "lost")}
own = {o: own_value(final, "hptune_task_attempts_total", outcome=o) for o in att}
print("attempts:", att, "own:", own, flush=True)
check(att == own, f"Prometheus {att} != /metrics {own}")
journal = dict(c.q("SELECT outcome, count(*) FROM attempts GROUP BY outcome"))
print("journal attempts:", journal, flush=True)
check(att["done"] == res["tasks_done"] == journal.get("done", 0),
      f"done attempts {att['done']}, tasks done {res['tasks_done']}, journal {journal}")
ended = {}
for task, attempt in held:
    row = c.q("SELECT a.outcome, tr.state FROM attempts a JOIN tasks t ON t.id = a.task "
              "JOIN trials tr ON tr.sweep = t.sweep AND tr.trial = t.trial "
              "WHERE a.task = ? AND a.attempt = ?", task, attempt)
    ended[(task, attempt)] = row[0] if row else None
check(all(e is not None and (e[0] == "lost" or (e[0] == "cancelled" and e[1] == "failed"))
          for e in ended.values()),
      f"the doomed worker's leases ended {ended} (each lost, or cancelled with its failed trial)")
lost_held = sum(1 for e in ended.values() if e and e[0] == "lost")
check(lost_held >= 1, f"none of the doomed worker's leases was lost: {ended}")
check(att["lost"] == lost_held == journal.get("lost", 0),
      f"lost attempts {att['lost']}, lost of those it held {lost_held} ({ended}), "
      f"journal {journal}")
check(att["failed"] == journal.get("failed", 0) and att["failed"] >= 3,
      f"failed attempts {att['failed']}, journal {journal}")
check(one("hptune_workers_lost_total") == 1, "hptune_workers_lost_total")
check(one("hptune_journal_errors_total") == 0, "hptune_journal_errors_total")

# The alert for the lost worker.
def firing():
    return [a for a in api("alerts")["alerts"]
            if a["labels"]["alertname"] == "HptuneWorkerLost" and a["state"] == "firing"]


alerts = c.wait_for(firing, timeout=20, what="HptuneWorkerLost to fire", poll=0.2)
check(alerts[0]["labels"].get("severity") == "warning", f"alert {alerts[0]}")
others = [a["labels"]["alertname"] for a in api("alerts")["alerts"]
          if a["labels"]["alertname"] not in ("HptuneWorkerLost", "HptuneTasksFailing")]
check(not others, f"unexpected alerts: {others}")
print(f"sweep ran {t1 - t0:.1f} s; prometheus checks done", flush=True)
finish()
