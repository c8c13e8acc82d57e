"""Finished sweeps leave the coordinator's memory and are read back from the
journal on demand (coord_core_unload / coord_core_load; docs/architecture.md
"Finished sweeps").

Six small random-search sweeps (a float learning rate, so a trial's values
come back only from the search's replay; refit on) run on dry-run workers.
The coordinator keeps at most COORD_LOADED_LRU = 4 recently read finished
sweeps loaded, so reading the six in turn reads some back from the journal.
Checked, for every sweep, byte for byte:
- `hptune results --format json` and `--format csv`, `hptune status SWEEP`,
  GET /api/sweeps/ID (less now_unix), the plot index and `hptune report`'s
  page (less its "made at" line) are the same on the
  first read after the sweep ended (it was unloaded by the commit that
  followed its end, so that read came from the journal), on a second pass
  (after the LRU dropped it again) and after a restart of the coordinator
  (which keeps finished sweeps unloaded from the start);
- what reads a sweep without loading it (`hptune status SWEEP`, its entry in
  GET /api/sweeps, its /metrics series) is the same after the restart,
  before anything reads it back: the restart created every finished sweep
  unloaded from the summary journaled with its end (the `sweep.loaded`
  event says `unloaded=true`, and no sweep was read back or unloaded);
- the coordinator logged the unloads and the reads back it did (debug lines).
"""
import http.client
import json
import os

from harness import Cluster, check, finish, free_port

SPEC = """
name: unload-{i}
dataset: mnist
test_objective: hash   # --dry-run workers serve only such sweeps
method: random
seed: {i}
cv: {{folds: 2, seed: 3}}
budget: {{max_trials: 5}}
parameters:
  learning_rate: {{distribution: log_uniform_values, min: 1.0e-4, max: 1.0e-1}}
  units: {{values: [8, 16, 32]}}
  epochs: {{value: 1}}
"""
N = 6

http_port = free_port()
c = Cluster(name="unload")
c.start_coordinator("--http", f"127.0.0.1:{http_port}", "-v")
for i in range(2):
    c.start_worker(slots=3, name=f"dry{i}", data="/nonexistent",
                   extra=["--dry-run", "--dataset", "mnist"])
sweeps = [c.launch(SPEC.format(i=i + 1)) for i in range(N)]
# Wait on the journal, not on results: a results request would keep the
# sweep loaded (it is then among the recently read ones).
c.wait_for(lambda: c.q("SELECT COUNT(*) FROM sweeps WHERE state = 'done'")[0][0] == N,
           timeout=300, what="every sweep done")
# A just-finished sweep stays in memory as the most recently used of the
# COORD_LOADED_LRU (4) finished sweeps kept loaded: when the sixth ends, the
# two that finished first have left memory (their journal is committed).
order = [r[0] for r in c.q("SELECT id FROM sweeps ORDER BY finished")]
check(sorted(order) == sorted(sweeps), f"sweeps in the journal {order}, launched {sweeps}")
for s in order[:N - 4]:
    check(c.wait_log(msg="finished sweep unloaded (its journal is committed)", sweep=s,
                     timeout=30) is not None,
          f"sweep {s} was not unloaded once four later sweeps had finished")
for s in order[N - 4:]:
    check(not c.log_events("coordinator", msg="finished sweep unloaded (its journal is "
                                              "committed)", sweep=s),
          f"sweep {s}, among the four most recently finished, left memory")


def http_get(path):
    conn = http.client.HTTPConnection("127.0.0.1", http_port, timeout=30)
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read().decode()
    conn.close()
    check(r.status == 200, f"GET {path}: {r.status} {body[:300]}")
    return body


def read(s):
    """Everything a client reads of sweep s, as text."""
    doc = json.loads(http_get(f"/api/sweeps/{s}"))
    doc.pop("now_unix", None)
    return {
        "json": c.cli("results", str(s), "--format", "json").stdout,
        "csv": c.cli("results", str(s), "--format", "csv").stdout,
        # Less the workers line: workers reconnect after the restart.
        "status": "".join(l for l in c.cli("status", str(s)).stdout.splitlines(True)
                          if not l.startswith("workers:")),
        "http": json.dumps(doc, sort_keys=True),
        "plots": http_get(f"/api/sweeps/{s}/plots"),
        "report": report(s),
    }


def report(s):
    """`hptune report s`'s page, less the line that says when it was made."""
    d = os.path.join(c.dir, f"report-{s}")
    c.cli("report", str(s), "-o", d)
    with open(os.path.join(d, "index.html")) as f:
        return "".join(l for l in f if "Made by hptune" not in l)


def compare(a, b, when):
    for s in sweeps:
        for k in a[s]:
            check(a[s][k] == b[s][k], f"sweep {s} {k} differs {when}:\n{a[s][k][:2000]}\n---\n"
                                      f"{b[s][k][:2000]}")


# Read in the order they finished, the order the set of recently read sweeps
# was filled in: then every read evicts the next one to be read, and each
# read takes it back from the journal, whichever order they finished in (in
# launch order, a sweep that finished late is still in memory when read).
first = {s: read(s) for s in order}
doc = json.loads(first[sweeps[0]]["json"])
check(doc["sweep"]["state"] == "done" and doc["sweep"]["refit_test_score"] is not None,
      "sweep 1 done with a refit")
check(len(doc["cv_results"]["trial"]) == 5, "5 trials")
reads = c.log_events(msg="finished sweep read back from the journal")
check(len(reads) >= N, f"every sweep was read back from the journal ({len(reads)} reads)")

def view(s):
    """What status, /api/sweeps and /metrics say of sweep s; none of them
    reads an unloaded sweep back."""
    entry = [e for e in json.loads(http_get("/api/sweeps"))["sweeps"] if e["id"] == s]
    check(len(entry) == 1, f"/api/sweeps lists sweep {s} once")
    return {
        "status": "".join(l for l in c.cli("status", str(s)).stdout.splitlines(True)
                          if not l.startswith("workers:")),
        "api": json.dumps(entry[0], sort_keys=True),
        "metrics": "".join(l for l in http_get("/metrics").splitlines(True)
                           if f'sweep="{s}"' in l),
    }


second = {s: read(s) for s in order}
compare(first, second, "on the second pass")
reads2 = c.log_events(msg="finished sweep read back from the journal")
check(len(reads2) > len(reads), "the second pass read evicted sweeps back again")
check(len(c.log_events(msg="finished sweep unloaded (its journal is committed)")) > N,
      "sweeps dropped from the recently read ones were unloaded again")

# A restart: finished sweeps stay out of memory until asked for.
views = {s: view(s) for s in sweeps}
n_loaded = len(c.log_events(msg="finished sweep loaded from the journal"))
n_reads = len(c.log_events(msg="finished sweep read back from the journal"))
n_unloads = len(c.log_events(msg="finished sweep unloaded (its journal is committed)"))
c.kill(c.coord)
c.start_coordinator("--http", f"127.0.0.1:{http_port}", "-v")
after = {s: view(s) for s in sweeps}
compare(views, after, "after a restart, before any read back")
started = c.log_events(msg="finished sweep loaded from the journal")[n_loaded:]
check(sorted(int(e["sweep"]) for e in started) == sorted(sweeps) and
      all(e.get("unloaded") == "true" for e in started),
      f"the restart created every finished sweep unloaded from its summary: {started}")
check(len(c.log_events(msg="finished sweep read back from the journal")) == n_reads and
      len(c.log_events(msg="finished sweep unloaded (its journal is committed)")) == n_unloads,
      "status, /api/sweeps and /metrics read no sweep back, and none was loaded to unload")
status = c.cli("status").stdout
for s in sweeps:
    check(f"unload-{sweeps.index(s) + 1}" in status, f"status lists sweep {s} after the restart")
third = {s: read(s) for s in sweeps}
compare(first, third, "after a restart")
finish()
