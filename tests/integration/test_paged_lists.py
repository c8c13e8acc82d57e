"""The list replies come in pages (docs/protocol.md "Pages"): `hptune
status` (all sweeps) and `hptune workers` read every page and show every
item exactly once, in order.

The coordinator runs with HPT_RESULTS_PAGE_BYTES=300 (the page budget of
results, status and workers replies), so the status of 14 sweeps (a
SweepInfo packs to well over 100 bytes) and the list of 6 workers (a
WorkerInfo, with its id, name, host, version and dataset, packs to over 60
bytes) each need several pages.  Checked against the coordinator's own view, the journal and the
HTTP API, which answers in one document:
- `hptune status` lists all 14 sweeps, once each, in id order, and its
  summary counts the workers;
- `hptune workers --format json` lists all 6 workers once each, in id
  order, with the same ids as GET /api/workers;
- a sweep cancelled between two reads is still listed once (the cursor is
  the last id received, so pages never repeat or skip an item).
"""
import http.client
import json
import os
import re

os.environ["HPT_RESULTS_PAGE_BYTES"] = "300"

from harness import Cluster, check, finish, free_port  # noqa: E402

N_SWEEPS = 14
N_WORKERS = 6

SPEC = """
name: paged-{i}
dataset: mnist
test_objective: hash   # --dry-run workers serve only such sweeps
method: grid
cv: {{folds: 2}}
parameters:
  units: {{values: [8, 16]}}
  epochs: {{value: 1}}
"""

http_port = free_port()
c = Cluster(name="pagedlists")
c.start_coordinator("--http", f"127.0.0.1:{http_port}")
ids = [c.launch(SPEC.format(i=i)) for i in range(N_SWEEPS)]
check(ids == sorted(ids) and len(set(ids)) == N_SWEEPS, f"sweep ids {ids}")


def status_ids():
    out = c.cli("status").stdout
    rows = [int(m.group(1)) for m in re.finditer(r"^\s*(\d+)\s+paged-", out, re.M)]
    return rows, out


rows, out = status_ids()
check(rows == ids, f"hptune status listed {rows}, not the {N_SWEEPS} sweeps {ids}:\n{out}")

# Cancel one in the middle: it stays listed, once.
c.cli("cancel", str(ids[5]))
rows, out = status_ids()
check(rows == ids, f"after a cancel, hptune status listed {rows}:\n{out}")

for i in range(N_WORKERS):
    # Names sort differently from the ids, which are host:pid:random.
    c.start_worker(slots=1, name=f"dry-{N_WORKERS - i}", data="/nonexistent",
                   extra=["--dry-run", "--dataset", "mnist"])


def worker_ids():
    r = c.cli("workers", "--format", "json", check_rc=False)
    if r.returncode != 0:
        return None, r.stderr
    doc = json.loads(r.stdout)
    ws = doc["workers"] if isinstance(doc, dict) else doc
    return [w["id"] for w in ws], r.stdout


c.wait_for(lambda: len(worker_ids()[0] or []) == N_WORKERS, timeout=60,
           what=f"{N_WORKERS} workers listed")
wids, out = worker_ids()
check(len(set(wids)) == N_WORKERS, f"hptune workers repeated a worker: {wids}")
check(wids == sorted(wids, key=lambda s: s.encode()), f"workers not in id order: {wids}")

conn = http.client.HTTPConnection("127.0.0.1", http_port, timeout=10)
conn.request("GET", "/api/workers")
doc = json.loads(conn.getresponse().read())
api = doc["workers"] if isinstance(doc, dict) else doc
check(sorted(w["id"] for w in api) == wids, f"/api/workers {api} differs from {wids}")

r = c.cli("workers")
for i in range(N_WORKERS):
    check(f"dry-{i + 1}" in r.stdout, f"the table lacks worker dry-{i + 1}:\n{r.stdout}")

# The sweeps ran on those workers; every one is still listed once at the end.
for s in ids:
    if s != ids[5]:
        check(c.wait_sweep(s, timeout=120) == "done", f"sweep {s} did not finish")
rows, out = status_ids()
check(rows == ids, f"at the end, hptune status listed {rows}:\n{out}")
check(re.search(rf"workers: {N_WORKERS} connected", out) is not None,
      f"the status summary does not count {N_WORKERS} workers:\n{out}")

finish()
