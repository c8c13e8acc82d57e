"""Results read in pages (ResultsRequest offset/limit, ResultsReply
total/offset/more; docs/protocol.md "Results pages").

The coordinator runs with HPT_RESULTS_PAGE_BYTES=16000, so a 320-trial grid
sweep (dry-run workers, 2 folds) needs many byte-bounded pages.  Checked:
- `hptune results --format csv` has every trial exactly once, in trial
  order, and its rank_test_score is scikit-learn's (method='min' over the
  mean test scores, maximized), recomputed here from the CSV's own means;
- the CSV equals the data of GET /api/sweeps/ID (the HTTP API answers with
  the whole table in one document) trial by trial, column by column;
- --format json is the HTTP document (less the dashboard's members), so the
  summary (winner, runner-up, p-values) is the same whichever way it is read;
- --format table and --top see every trial; `hptune report`'s results.csv
  is the CLI's CSV.
"""
import csv
import http.client
import io
import json
import math
import os

os.environ["HPT_RESULTS_PAGE_BYTES"] = "16000"

from harness import Cluster, check, finish, free_port  # noqa: E402

UNITS = [8, 16, 24, 32, 48, 64, 96, 128]
LRS = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0]
BATCH = [16, 32, 64, 128]
N = len(UNITS) * len(LRS) * len(BATCH)

SPEC = f"""
name: paged
dataset: mnist
test_objective: hash   # --dry-run workers serve only such sweeps
method: grid
cv: {{folds: 2, seed: 3}}
parameters:
  units: {{values: {UNITS}}}
  learning_rate: {{values: {LRS}}}
  batch_size: {{values: {BATCH}}}
  epochs: {{value: 1}}
"""

http_port = free_port()
c = Cluster(name="paged")
c.start_coordinator("--http", f"127.0.0.1:{http_port}")
for i in range(2):
    c.start_worker(slots=4, name=f"dry{i}", data="/nonexistent",
                   extra=["--dry-run", "--dataset", "mnist"])
spec = os.path.join(c.dir, "paged.yaml")
with open(spec, "w") as f:
    f.write(SPEC)
sweep = int(c.cli("launch", spec).stdout.splitlines()[0])
check(c.wait_sweep(sweep, timeout=300) == "done", "sweep did not finish")


def num(s):
    return math.nan if s == "" else float(s)


# --- the CLI's CSV: every trial once, the right ranks ----------------------------
r = c.cli("results", str(sweep), "--format", "csv")
rows = list(csv.DictReader(io.StringIO(r.stdout)))
trials = [int(x["trial"]) for x in rows]
check(trials == list(range(1, N + 1)), f"CSV trials are not 1..{N} once each in order: "
      f"{len(trials)} rows, {len(set(trials))} distinct")
means = [num(x["mean_test_score"]) for x in rows]
check(all(not math.isnan(m) for m in means), "a trial has no mean")
for x, m in zip(rows, means):
    want = 1 + sum(1 for o in means if o > m)   # method='min', larger is better
    check(int(x["rank_test_score"]) == want,
          f"trial {x['trial']}: rank {x['rank_test_score']}, want {want}")

# The coordinator really paged (the page size knob forced several pages per
# read), and ranked once for the finished sweep, not once per request.
def metric(name):
    conn = http.client.HTTPConnection("127.0.0.1", http_port, timeout=30)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    check(False, f"/metrics has no {name}")
    return 0.0


pages0, builds0 = metric("hptune_results_pages_total"), metric("hptune_results_rank_builds_total")
c.cli("results", str(sweep), "--format", "csv")
pages1, builds1 = metric("hptune_results_pages_total"), metric("hptune_results_rank_builds_total")
print(f"pages per CSV read: {pages1 - pages0}, rank builds so far: {builds1}")
check(pages1 - pages0 >= 3, f"one CSV read took {pages1 - pages0} pages, want several")
check(builds1 == builds0, f"ranks rebuilt {builds1 - builds0} times for a finished sweep")

# --- the HTTP API's data is the same --------------------------------------------
conn = http.client.HTTPConnection("127.0.0.1", http_port, timeout=30)
conn.request("GET", f"/api/sweeps/{sweep}")
resp = conn.getresponse()
body = resp.read()
check(resp.status == 200, f"GET /api/sweeps/{sweep}: {resp.status}")
doc = json.loads(body)
cv = doc["cv_results"]
check(cv["trial"] == trials, "HTTP trials differ from the CSV's")
cols = [k for k in rows[0].keys() if k != "trial"]
for k in cols:
    check(k in cv, f"HTTP cv_results lacks column {k}")
    for i, x in enumerate(rows):
        a, b = x[k], cv[k][i]
        if k.startswith("param_") or k == "rank_test_score":
            same = (a == "" and b is None) or (b is not None and float(a) == float(b))
        else:
            same = (a == "" and b is None) or (b is not None and a != "" and
                                                float(a) == float(b))
        check(same, f"trial {x['trial']} column {k}: CSV {a!r}, HTTP {b!r}")

# --- the JSON format is the HTTP document, summary included ---------------------
j = json.loads(c.cli("results", str(sweep), "--format", "json").stdout)
for k in ("space", "now_unix"):
    doc.pop(k, None)
check(j == doc, "hptune results --format json differs from /api/sweeps/ID")
s = j["sweep"]
best = max(range(N), key=lambda i: (means[i], -i))
check(s["best_trial"] == best + 1, f"best trial {s['best_trial']}, want {best + 1}")
ru = max((i for i in range(N) if i != best), key=lambda i: (means[i], -i))
check(s["runner_up_trial"] == ru + 1, f"runner-up {s['runner_up_trial']}, want {ru + 1}")
p_ru = cv["p_vs_best"][ru]
check(s["p_best_vs_runner_up"] == p_ru,
      f"p_best_vs_runner_up {s['p_best_vs_runner_up']} != the runner-up's p {p_ru}")
alpha = s["alpha"]
indist = sum(1 for i in range(N) if i != best and cv["p_vs_best"][i] is not None
             and cv["p_vs_best"][i] >= alpha)
check(s["indistinguishable_from_best"] == indist,
      f"indistinguishable {s['indistinguishable_from_best']}, "
      f"want {indist}")

# --- table, --top and report read all pages too ---------------------------------
t = c.cli("results", str(sweep), "--top", "5").stdout
check(f"(the top 5 of {N} trials" in t, "table --top 5 does not count every trial: " + t[-300:])
top = list(csv.DictReader(io.StringIO(
    c.cli("results", str(sweep), "--format", "csv", "--top", "3").stdout)))
check([int(x["trial"]) for x in top][0] == best + 1, "--top 3 does not start with the best")
out = os.path.join(c.dir, "report")
rep = c.cli("report", str(sweep), "-o", out)
with open(os.path.join(out, "results.csv")) as f:
    check(f.read() == r.stdout, "report's results.csv differs from hptune results --format csv")

c.stop()
finish()
