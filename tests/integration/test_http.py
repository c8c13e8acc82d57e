"""The coordinator's HTTP server (--http, coordinator/coord_http.c).

- Refusals: a non-loopback --http without --insecure exits 2 naming
  --insecure; a malformed address exits 2; a port in use exits 1.
- /metrics during a real sweep (two workers training on MNIST, one
  configuration diverging so that a task is retried and fails) and after it:
  the Prometheus text format parses (every sample's family has HELP and
  TYPE; counters end in _total; the histogram's buckets are cumulative and
  +Inf equals _count), the expected families are there, and the values
  agree with `hptune status` and `hptune results --format json` (during the
  sweep: bracketed by two reads of the CLI; after it: equal).
- /api/sweeps/ID is exactly `hptune results ID --format json` (plus the
  dashboard's "space"); /api/sweeps and /api/workers agree with the CLI.
- The plots: /api/sweeps/ID/plots lists one plot per parameter that varied
  (none for the constants, which it names) plus best-so-far and parallel
  coordinates; each url serves image/svg+xml that parses as XML and is byte
  for byte the file `hptune report` writes (one renderer); unknown sweeps and
  plots are 404 with a JSON message naming the plots there are.
- The dashboard's files are served with their types and a CSP; 404 (JSON)
  for unknown paths and sweeps; 405 with Allow for other methods; 403 for a
  foreign Host header on a loopback bind; HEAD has no body.
- Concurrent scrapes all succeed, and SIGTERM with HTTP connections open
  (idle and half-sent) still stops the coordinator cleanly (exit 0).
"""
import http.client
import json
import math
import os
import re
import socket
import subprocess
import threading
import time
import xml.etree.ElementTree as ET

from harness import COORD, Cluster, check, epoch_seconds, exempt, finish, free_port, need_data

need_data("mnist-10k")

# A fold task of about 0.3 s, so that the sweep runs long enough to be scraped.
EPOCHS = max(3, min(60, math.ceil(0.3 / epoch_seconds(64, 32, "1/3"))))
SPEC = f"""
name: http-metrics
dataset: mnist-10k
method: grid
cv: {{folds: 3, seed: 5}}
refit: true
parameters:
  units: {{values: [16, 32, 64, 128]}}
  learning_rate: {{values: [0.01, 0.05, 10.0]}}
  activation: {{value: linear}}
  optimizer: {{value: sgd}}
  batch_size: {{value: 32}}
  epochs: {{value: {EPOCHS}}}
"""


# --- an HTTP client and a Prometheus text-format parser -------------------------

def request(port, path, method="GET", headers=None, timeout=20):
    """(status, headers dict (lower-case names), body bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def get_json(port, path):
    st, hd, body = request(port, path)
    check(st == 200, f"GET {path}: status {st}: {body[:300]!r}")
    check(hd.get("content-type", "").startswith("application/json"),
          f"GET {path}: content-type {hd.get('content-type')}")
    return json.loads(body)


_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')


def parse_prom(text):
    """{family: {"type", "help", "samples": [(name, labels dict, value)]}};
    records a failure for every line that is not valid text format 0.0.4."""
    fams = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line:
            continue
        if line.startswith("# HELP "):
            name, _, help_ = line[7:].partition(" ")
            check(help_ != "", f"metrics line {n}: empty HELP")
            fams.setdefault(name, {"samples": []})["help"] = help_
            continue
        if line.startswith("# TYPE "):
            name, _, typ = line[7:].partition(" ")
            check(typ in ("counter", "gauge", "histogram", "summary", "untyped"),
                  f"metrics line {n}: type {typ!r}")
            f = fams.setdefault(name, {"samples": []})
            check("type" not in f, f"metrics line {n}: second TYPE for {name}")
            check(not f["samples"], f"metrics line {n}: TYPE after samples of {name}")
            f["type"] = typ
            continue
        if line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not check(m is not None, f"metrics line {n} does not parse: {line!r}"):
            continue
        name, labels_s, value = m.group(1), m.group(3) or "", m.group(4)
        labels, pos = {}, 0
        while pos < len(labels_s):
            lm = _LABEL.match(labels_s, pos)
            if not check(lm is not None, f"metrics line {n}: bad labels {labels_s!r}"):
                break
            labels[lm.group(1)] = re.sub(r'\\(.)', lambda x: "\n" if x.group(1) == "n"
                                         else x.group(1), lm.group(2))
            pos = lm.end()
        try:
            v = float(value.replace("+Inf", "inf").replace("-Inf", "-inf"))
        except ValueError:
            check(False, f"metrics line {n}: value {value!r}")
            continue
        fam = name
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix) and name[:-len(suffix)] in fams and \
                    fams[name[:-len(suffix)]].get("type") == "histogram":
                fam = name[:-len(suffix)]
        check(fam in fams and "type" in fams[fam] and "help" in fams[fam],
              f"metrics line {n}: sample {name} without HELP/TYPE")
        fams.setdefault(fam, {"samples": []})["samples"].append((name, labels, v))
    return fams


def value(fams, metric, /, **labels):
    fam = fams.get(metric) or fams.get(re.sub(r"_(bucket|sum|count)$", "", metric))
    if not fam:
        return None
    for n, lab, v in fam["samples"]:
        if n == metric and all(lab.get(k) == str(x) for k, x in labels.items()):
            return v
    return None


def check_format(fams):
    """Counters end in _total; the histogram is cumulative."""
    for name, f in fams.items():
        if f.get("type") == "counter":
            check(name.endswith("_total"), f"counter {name} does not end in _total")
        if f.get("type") != "counter":
            check(not name.endswith("_total"), f"non-counter {name} ends in _total")
    h = fams.get("hptune_dispatch_latency_seconds")
    if not check(h and h.get("type") == "histogram", "no dispatch latency histogram"):
        return
    buckets = [(lab["le"], v) for n, lab, v in h["samples"] if n.endswith("_bucket")]
    check(buckets and buckets[-1][0] == "+Inf", f"last bucket {buckets[-1:]}")
    les = [float(le.replace("+Inf", "inf")) for le, _ in buckets]
    check(les == sorted(les), f"bucket bounds not increasing: {les}")
    counts = [v for _, v in buckets]
    check(counts == sorted(counts), f"buckets not cumulative: {counts}")
    total = value(fams, "hptune_dispatch_latency_seconds_count")
    check(total == counts[-1], f"_count {total} != +Inf bucket {counts[-1]}")
    check(value(fams, "hptune_dispatch_latency_seconds_sum") >= 0, "negative _sum")


EXPECTED = {
    "hptune_build_info": "gauge", "hptune_start_time_seconds": "gauge",
    "hptune_workers": "gauge", "hptune_worker_slots": "gauge",
    "hptune_worker_slots_busy": "gauge", "hptune_worker_slots_free": "gauge",
    "hptune_tasks": "gauge", "hptune_tasks_retried_total": "counter",
    "hptune_dispatch_latency_seconds": "histogram", "hptune_epochs_total": "counter",
    "hptune_bad_messages_total": "counter", "hptune_results_dropped_total": "counter",
    "hptune_sweeps": "gauge", "hptune_sweep_info": "gauge", "hptune_sweep_tasks": "gauge",
    "hptune_sweep_tasks_done": "gauge", "hptune_sweep_trials": "gauge",
    "hptune_sweep_trials_done": "gauge", "hptune_sweep_best_score": "gauge",
    "hptune_http_requests_total": "counter", "hptune_refused_total": "counter",
    "hptune_retention_deleted_total": "counter",
    "hptune_journal_syncs_total": "counter", "hptune_journal_sync_max_seconds": "gauge",
    "hptune_loop_stalls_total": "counter",
}


scrapes = 0   # successful /metrics requests so far


def scrape(port):
    global scrapes
    st, hd, body = request(port, "/metrics")
    scrapes += st == 200
    check(st == 200, f"/metrics status {st}")
    check(hd.get("content-type", "").startswith("text/plain; version=0.0.4"),
          f"/metrics content-type {hd.get('content-type')}")
    fams = parse_prom(body.decode())
    check_format(fams)
    return fams


def status_counts(c):
    """(workers, slots busy, slots) from `hptune status`."""
    out = c.cli("status").stdout
    m = re.search(r"workers: (\d+) connected, (\d+)/(\d+) slots busy", out)
    if not check(m is not None, "status output: " + out):
        return (None, None, None)
    return tuple(int(x) for x in m.groups())


# --- refusals ---------------------------------------------------------------------

def run_coord(*args, timeout=20):
    return subprocess.run([COORD, *args], capture_output=True, text=True, timeout=timeout)


c = Cluster(name="http")
db = os.path.join(c.dir, "refuse.db")
r = run_coord("--db", db, "--bind", f"tcp://127.0.0.1:{free_port()}", "--http",
              f"0.0.0.0:{free_port()}")
check(r.returncode == 2, f"non-loopback --http without --insecure exited {r.returncode}")
check("--insecure" in r.stderr and "loopback" in r.stderr,
      "the refusal does not explain itself: " + r.stderr)
for bad in ("nonsense", "127.0.0.1", "127.0.0.1:99999", "::1:80", "example.com:80"):
    r = run_coord("--db", db, "--http", bad)
    check(r.returncode == 2, f"--http {bad}: exit {r.returncode} (want 2): {r.stderr}")
    check("http" in r.stderr, f"--http {bad}: message {r.stderr!r}")
help_text = run_coord("--help").stdout
check("--http" in help_text and "/metrics" in help_text, "--help does not describe --http")
if "--insecure" in help_text:
    # --insecure lifts the refusal (bound on every address, reached on loopback).
    port = free_port()
    p = subprocess.Popen([COORD, "--db", os.path.join(c.dir, "insecure.db"), "--bind",
                          f"tcp://127.0.0.1:{free_port()}", "--http", f"0.0.0.0:{port}",
                          "--insecure"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True)
    ok = False
    for _ in range(100):
        try:
            ok = request(port, "/metrics", timeout=2)[0] == 200
            break
        except OSError:
            time.sleep(0.1)
    check(ok, "--insecure --http 0.0.0.0: /metrics not served")
    p.terminate()
    err = p.communicate(timeout=20)[1]
    check(p.returncode == 0, f"--insecure coordinator exited {p.returncode}: {err[-2000:]}")
else:
    print("note: this coordinator has no --insecure flag yet; its acceptance is not tested")

# A port already in use: exit 1 with the address in the message.
with socket.socket() as busy:
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    r = run_coord("--db", db, "--bind", f"tcp://127.0.0.1:{free_port()}", "--http",
                  f"127.0.0.1:{busy.getsockname()[1]}")
    check(r.returncode == 1, f"--http on a busy port exited {r.returncode}")
    check("cannot start the HTTP server" in r.stderr, "busy port message: " + r.stderr[-500:])

# --- a live sweep ---------------------------------------------------------------------

HTTP = free_port()
c.start_coordinator("--http", f"127.0.0.1:{HTTP}", "--max-attempts", "2")
c.start_worker(slots=1, name="w0")
c.start_worker(slots=1, name="w1")
c.wait_for(lambda: status_counts(c)[0] == 2, what="two workers")

fams = scrape(HTTP)
for name, typ in EXPECTED.items():
    if name == "hptune_sweep_best_score":
        continue   # no sweep yet
    check(fams.get(name, {}).get("type") == typ, f"{name}: type {fams.get(name, {}).get('type')}")
check(value(fams, "hptune_workers") == 2, "hptune_workers before the sweep")
check(value(fams, "hptune_worker_slots") == 2, "hptune_worker_slots before the sweep")

sweep = c.launch(SPEC)
# During: wait for the sweep to be part done, then bracket a scrape between two CLI reads.
c.wait_for(lambda: c.results(sweep)["sweep"]["tasks_done"] >= 3, timeout=240,
           what="three tasks done")
during = 0
for _ in range(20):
    before = c.results(sweep)["sweep"]
    fams = scrape(HTTP)
    after = c.results(sweep)["sweep"]
    if after["state"] != "running":
        break
    during += 1
    lab = {"sweep": sweep, "name": "http-metrics"}
    done = value(fams, "hptune_sweep_tasks_done", **lab)
    check(before["tasks_done"] <= done <= after["tasks_done"],
          f"during: tasks_done {done} not within status {before['tasks_done']}.."
          f"{after['tasks_done']}")
    tdone = value(fams, "hptune_sweep_trials_done", **lab)
    check(before["trials_done"] <= tdone <= after["trials_done"],
          f"during: trials_done {tdone} not within {before['trials_done']}..{after['trials_done']}")
    # A slot holds one task, or one bundle of up to the coordinator's
    # fuse_max (4 by default) tasks that train together.
    check(value(fams, "hptune_tasks", state="leased") <= 4 * value(fams, "hptune_worker_slots"),
          "more tasks leased than slots hold")
    check(value(fams, "hptune_worker_slots_busy") + value(fams, "hptune_worker_slots_free")
          <= value(fams, "hptune_worker_slots"), "busy + free > slots")
    check(value(fams, "hptune_sweep_info", sweep=sweep, name="http-metrics", method="grid",
                dataset="mnist-10k", metric="accuracy", state="running") == 1,
          "sweep_info of the running sweep")
    time.sleep(0.3)   # the scrape interval while the sweep runs (sampling, not a sync)
print(f"epochs={EPOCHS}: {during} scrapes while the sweep ran", flush=True)
check(during >= 1, "no scrape happened while the sweep ran")

state = c.wait_sweep(sweep, timeout=300)
check(state == "done", f"sweep state {state}")

# After: the numbers equal the CLI's.
res = c.results(sweep)
sw = res["sweep"]
fams = scrape(HTTP)
lab = {"sweep": sweep, "name": "http-metrics"}
for metric, key in (("hptune_sweep_tasks", "tasks_total"),
                    ("hptune_sweep_tasks_done", "tasks_done"),
                    ("hptune_sweep_tasks_failed", "tasks_failed"),
                    ("hptune_sweep_trials", "trials_total"),
                    ("hptune_sweep_trials_done", "trials_done"),
                    ("hptune_sweep_trials_failed", "trials_failed"),
                    ("hptune_sweep_best_score", "best_mean_test_score")):
    check(value(fams, metric, **lab) == sw[key], f"{metric} {value(fams, metric, **lab)} != "
                                                  f"results {key} {sw[key]}")
check(value(fams, "hptune_tasks", state="done") == sw["tasks_done"], "hptune_tasks done")
check(value(fams, "hptune_tasks", state="failed") == sw["tasks_failed"], "hptune_tasks failed")
check(value(fams, "hptune_tasks", state="queued") == 0, "tasks queued after the sweep")
check(value(fams, "hptune_tasks", state="leased") == 0, "tasks leased after the sweep")
check(sw["tasks_failed"] >= 1, f"the diverging configuration failed no task: {sw}")
# Each failed-for-good task was attempted twice (--max-attempts 2): a retry each.
check(value(fams, "hptune_tasks_retried_total") >= sw["tasks_failed"],
      f"retried {value(fams, 'hptune_tasks_retried_total')} < failed {sw['tasks_failed']}")
leases = value(fams, "hptune_dispatch_latency_seconds_count")
check(leases >= sw["tasks_done"] + sw["tasks_failed"],
      f"dispatch histogram counts {leases} leases for {sw['tasks_done']} done tasks")
# Every finished fold of a converging trial trained EPOCHS epochs and reported them.
check(value(fams, "hptune_epochs_total") >= EPOCHS * (sw["tasks_done"] - 1),
      f"epochs_total {value(fams, 'hptune_epochs_total')} for {sw['tasks_done']} tasks")
check(value(fams, "hptune_bad_messages_total") == 0, "bad messages counted")
# Every task's lease and result was committed, and the commits synced (off
# the loop): at least one sync, and none can have taken forever.
check(value(fams, "hptune_journal_syncs_total") >= 1, "the journal was never synced")
check(0 < value(fams, "hptune_journal_sync_max_seconds") < 60,
      f"journal sync max {value(fams, 'hptune_journal_sync_max_seconds')} s")
check(value(fams, "hptune_sweeps", state="done") == 1, "hptune_sweeps done")
workers, busy, slots = status_counts(c)
check(value(fams, "hptune_workers") == workers, "hptune_workers != status")
check(value(fams, "hptune_worker_slots") == slots, "hptune_worker_slots != status")
check(value(fams, "hptune_worker_slots_busy") == busy, "hptune_worker_slots_busy != status")
# Every earlier scrape counted (this one is not yet).
check(value(fams, "hptune_http_requests_total", code="200") == scrapes - 1,
      f"http 200s {value(fams, 'hptune_http_requests_total', code='200')}, {scrapes - 1} made")

# --- the JSON API ---------------------------------------------------------------------

api = get_json(HTTP, f"/api/sweeps/{sweep}")
check(api["sweep"] == sw, "/api/sweeps/ID sweep differs from hptune results:\n"
      f"{json.dumps(api['sweep'])}\n{json.dumps(sw)}")
check(api["cv_results"] == res["cv_results"],
      "/api/sweeps/ID cv_results differ from hptune results")
check(list(api["cv_results"]) == list(res["cv_results"]), "cv_results columns in another order")
space = {p["name"]: p for p in api.get("space", [])}
check(set(space) == {"units", "learning_rate", "activation", "optimizer", "batch_size", "epochs"},
      f"space: {sorted(space)}")
check(space.get("units", {}).get("values") == [16, 32, 64, 128] and space["units"]["numeric"],
      f"space units: {space.get('units')}")
check(space.get("activation", {}).get("numeric") is False, "activation is not categorical")

lst = get_json(HTTP, "/api/sweeps")
check([s["id"] for s in lst["sweeps"]] == [sweep], f"/api/sweeps ids {lst['sweeps']}")
cheap = ("runner_up_trial", "p_best_vs_runner_up", "indistinguishable_from_best")
check({k: v for k, v in lst["sweeps"][0].items() if k not in cheap} ==
      {k: v for k, v in sw.items() if k not in cheap}, "/api/sweeps summary != results")
check((lst["workers"], lst["slots_busy"], lst["slots"]) == status_counts(c),
      "/api/sweeps workers/slots != status")

wk = get_json(HTTP, "/api/workers")
names = sorted(w["name"] for w in wk["workers"])
check(names == ["w0", "w1"], f"/api/workers names {names}")
cli_workers = c.cli("workers").stdout
for w in wk["workers"]:
    check(w["id"] in cli_workers or w["name"] in cli_workers, f"worker {w['name']} not in CLI")
    check(w["slots"] == 1 and w["busy"] == 0 and w["leases"] == [], f"idle worker {w}")
    check(any(d["name"] == "mnist-10k" for d in w["datasets"]), f"datasets of {w['name']}")
check(sum(w["tasks_done"] for w in wk["workers"]) >= sw["tasks_done"], "workers' tasks_done")
# One writer: the CLI's document has the API's keys, the API only adds free and leases.
cli_wk = json.loads(c.cli("workers", "--format", "json").stdout)
check(set(cli_wk) == set(wk), f"workers documents differ: {set(cli_wk)} vs {set(wk)}")
for a, b in zip(cli_wk["workers"], wk["workers"]):
    check(set(b) - set(a) == {"free", "leases"} and set(a) <= set(b),
          f"/api/workers keys {sorted(b)} vs hptune workers --format json {sorted(a)}")

# --- the plots --------------------------------------------------------------------------

idx = get_json(HTTP, f"/api/sweeps/{sweep}/plots")
names = [p["name"] for p in idx["plots"]]
check(names == ["param-units", "param-learning_rate", "best-so-far", "parallel-coordinates"],
      f"plots {names}")
check({c["name"]: c["value"] for c in idx["constants"]} ==
      {"activation": "linear", "optimizer": "sgd", "batch_size": "32", "epochs": str(EPOCHS)},
      f"constants {idx['constants']}")
check(idx["note"].startswith("Not plotted, one value in every trial: ") and
      "optimizer = sgd" in idx["note"], f"note {idx['note']!r}")
check(idx["sweep"] == sweep and idx["state"] == "done", f"index head {idx}")
report_dir = os.path.join(c.dir, "report")
c.cli("report", str(sweep), "-o", report_dir)
for p in idx["plots"]:
    check(p["url"].startswith(f"/api/sweeps/{sweep}/plots/{p['name']}.svg"), f"url {p['url']}")
    check(p["points"] == sw["trials_done"] and p["drawn"] == p["points"] and p["caption"],
          f"plot {p['name']}: {p}")
    check((p["kind"] == "param") == (p["param"] is not None), f"plot {p['name']}: kind/param")
    st, hd, body = request(HTTP, p["url"])
    check(st == 200 and hd.get("content-type") == "image/svg+xml",
          f"GET {p['url']}: {st} {hd.get('content-type')}")
    check("default-src 'none'" in hd.get("content-security-policy", ""), f"SVG CSP: {hd}")
    try:
        root = ET.fromstring(body)
        check(root.tag == "{http://www.w3.org/2000/svg}svg", f"{p['name']}: root {root.tag}")
    except ET.ParseError as e:
        check(False, f"{p['name']}: not well-formed XML: {e}")
    with open(os.path.join(report_dir, p["name"] + ".svg"), "rb") as f:
        check(f.read() == body, f"{p['name']}: the dashboard's SVG differs from hptune report's")
# Served from the cache while the sweep does not change: the same url.
check(get_json(HTTP, f"/api/sweeps/{sweep}/plots")["plots"] == idx["plots"], "index changed")
for path, want in ((f"/api/sweeps/{sweep + 100}/plots", f"no sweep {sweep + 100}"),
                   (f"/api/sweeps/{sweep + 100}/plots/best-so-far.svg", f"no sweep {sweep + 100}"),
                   (f"/api/sweeps/{sweep}/plots/param-epochs.svg", "has no plot 'param-epochs.svg'"),
                   (f"/api/sweeps/{sweep}/plots/nope.svg", "has no plot 'nope.svg'")):
    st, hd, body = request(HTTP, path)
    check(st == 404 and hd.get("content-type", "").startswith("application/json"),
          f"GET {path}: {st} {hd.get('content-type')}")
    err = json.loads(body)
    check(want in err.get("error", ""), f"GET {path}: message {err}")
    if "has no plot" in want:
        check("param-units.svg" in err.get("plots", []), f"GET {path}: plots listed {err}")

# --- errors and static files ----------------------------------------------------------

for path in ("/nope", "/api/nope", "/api/sweeps/abc", "/api/sweeps/0", "/metrics/x",
             f"/api/sweeps/{sweep + 100}", "/" + "x" * 2000):
    st, hd, body = request(HTTP, path)
    check(st == 404, f"GET {path[:40]}: status {st}")
    check(hd.get("content-type", "").startswith("application/json") and
          "error" in json.loads(body), f"GET {path[:40]}: body {body[:200]!r}")
for method in ("POST", "PUT", "DELETE", "PATCH"):
    for path in ("/metrics", "/api/sweeps", "/"):
        st, hd, body = request(HTTP, path, method=method)
        check(st == 405, f"{method} {path}: status {st}")
        check(hd.get("allow") == "GET, HEAD", f"{method} {path}: Allow {hd.get('allow')}")
        check("error" in json.loads(body), f"{method} {path}: body {body!r}")
st, hd, body = request(HTTP, "/api/sweeps", headers={"Host": "attacker.example:80"})
check(st == 403, f"foreign Host: status {st}")
st, hd, body = request(HTTP, "/api/sweeps", headers={"Host": f"localhost:{HTTP}"})
check(st == 200, f"Host localhost: status {st}")

st, hd, page = request(HTTP, "/")
check(st == 200 and hd.get("content-type", "").startswith("text/html"), f"/: {st} {hd}")
check(b'src="/app.js"' in page and b'href="/style.css"' in page, "/ does not load app.js/style.css")
check(b"http://" not in page.replace(b"http://www.w3.org", b"") and b"https://" not in page,
      "the page loads something external")
check("default-src 'self'" in hd.get("content-security-policy", ""), f"CSP: {hd}")
for path, typ in (("/app.js", "text/javascript"), ("/style.css", "text/css"),
                  ("/index.html", "text/html")):
    st, hd, body = request(HTTP, path)
    check(st == 200 and hd.get("content-type", "").startswith(typ) and len(body) > 100,
          f"GET {path}: {st} {hd.get('content-type')} {len(body)} bytes")
st, hd, body = request(HTTP, "/api/sweeps", method="HEAD")
check(st == 200 and body == b"" and int(hd.get("content-length", "0")) > 0,
      f"HEAD /api/sweeps: {st} {hd} {body[:50]!r}")

# Keep-alive: the dashboard's polling reuses one connection.
conn = http.client.HTTPConnection("127.0.0.1", HTTP, timeout=20)
for path in ("/api/sweeps", "/metrics", "/", "/nope", f"/api/sweeps/{sweep}"):
    conn.request("GET", path)
    resp = conn.getresponse()
    resp.read()
    check(resp.status in (200, 404) and not resp.will_close,
          f"GET {path} on a kept-alive connection: {resp.status}, will_close {resp.will_close}")
conn.close()

# --- concurrency and shutdown ---------------------------------------------------------

results = []


def hammer():
    for _ in range(10):
        try:
            results.append(request(HTTP, "/metrics")[0])
        except OSError as e:
            results.append(str(e))


threads = [threading.Thread(target=hammer) for _ in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
check(results.count(200) == 80, f"concurrent scrapes: {[r for r in results if r != 200][:5]}")

# Stop with connections open: one idle keep-alive, one with half a request.
idle = socket.create_connection(("127.0.0.1", HTTP))
idle.sendall(b"GET /api/sweeps HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
idle.recv(65536)
half = socket.create_connection(("127.0.0.1", HTTP))
half.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.")


def server_drained(port, peer_port):
    """Whether the server's end of the loopback connection from peer_port
    exists and has nothing left in its receive queue (/proc/net/tcp*): the
    coordinator accepted it and read what was sent."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            col = row.split()
            if (int(col[1].rsplit(":", 1)[1], 16) == port
                    and int(col[2].rsplit(":", 1)[1], 16) == peer_port):
                return int(col[4].split(":")[1], 16) == 0
    return False


# Stop only once the coordinator holds the half request (read, not answered).
c.wait_for(lambda: server_drained(HTTP, half.getsockname()[1]), timeout=10,
           what="the coordinator reading the half request")
t0 = time.time()
c.coord.terminate()
try:
    c.coord.wait(20)
except subprocess.TimeoutExpired:
    pass
check(c.coord.returncode == 0, f"coordinator exit {c.coord.returncode} with HTTP connections open")
check(time.time() - t0 < 10, f"coordinator took {time.time() - t0:.1f} s to stop")
if c.coord.returncode is None:
    exempt(c.coord)
idle.close()
half.close()
check(c.log_events("coordinator", "serving", port=HTTP), "no 'http serving' log line")
finish()
