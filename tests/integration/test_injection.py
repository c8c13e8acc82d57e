"""Terminal and log injection through peer strings (issue 11, finding 8).

A fake worker speaks the wire protocol over a real DEALER socket (pyzmq,
with Python classes protoc generates from proto/hptune.proto at the start):

  refused: Hellos whose name, host, version, worker_id or a dataset name hold
      an ESC sequence, a newline, DEL, a C1 character (U+009B, the 8-bit CSI)
      or bytes that are not UTF-8 are each answered with a Disconnect naming
      the field; the worker never appears in `hptune workers`; the
      coordinator logs "hello refused" with the peer, at most 5 lines a
      minute per peer (20 are sent), each one line without raw control bytes.
  quoted: a worker named `w1" level=error x=\\` (plain text, so accepted)
      and a dataset named `ds" x=1`: every log line and `hptune logs` line
      that names them parses back (logfmt) to exactly these values, and to
      level=info, not the spoofed level=error.
  escaped: the strings that do get through with control characters, a task's
      error text from that worker (ESC ] title BEL, newlines, a C1 CSI, DEL):
      `hptune status`, `status SWEEP`, `results` (table, csv), `logs` and
      `workers` print no raw control byte and show the escape (\\x1b); the
      JSON outputs (`results --format json`, `logs --format json`, `workers
      --format json`) are valid JSON that carries the exact text; the
      coordinator's log file has no control byte either.
  spec: a sweep name or dataset with a control character (YAML "\\e") is
      refused at submit with file:line:col; a sweep name with quotes, '=' and
      spaces is accepted and quoted in logs.
  worker: `hptune-worker --name $'\\e[31m'` exits 2 naming --name.
  dashboard: coordinator/http/app.js puts peer strings into the page with
      textContent/setAttribute only (no innerHTML)."""
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

from harness import SRC, WORKER, Cluster, check, finish, skip

try:
    import zmq
except ImportError:
    skip("pyzmq is not installed (python3-zmq)")

# --- the wire format, from the one contract -------------------------------------

gen = tempfile.mkdtemp(prefix="hpt-pb-")
try:
    subprocess.run(["protoc", f"--proto_path={os.path.join(SRC, 'proto')}", f"--python_out={gen}",
                    "hptune.proto"], check=True, capture_output=True)
except (OSError, subprocess.CalledProcessError) as e:
    skip(f"protoc cannot generate the Python classes: {e}")
sys.path.insert(0, gen)
import hptune_pb2 as pb  # noqa: E402

CONTROL = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]")   # \t and \n aside


def raw_control(b):
    """The control bytes of b (bytes) other than newline and tab."""
    return CONTROL.findall(b)


class FakeWorker:
    """A DEALER that says Hello and then, on a thread, heartbeats and answers
    every Assign with a failed Result whose error is `error`."""

    def __init__(self, addr, ctx):
        self.s = ctx.socket(zmq.DEALER)
        self.s.setsockopt(zmq.LINGER, 0)
        self.s.connect(addr)
        self.assigns = 0
        self.stop = False
        self.error = ""

    def send(self, env_bytes):
        self.s.send(env_bytes)

    def recv(self, timeout_ms=3000):
        if not self.s.poll(timeout_ms):
            return None
        e = pb.Envelope()
        e.ParseFromString(self.s.recv())
        return e

    def hello(self, worker_id="fake:1:1", name="fake", host="fakehost", version="0.1.0",
              datasets=(("mnist-10k", "dry-run"),), patch=None):
        e = pb.Envelope(protocol=1)
        h = e.hello
        h.worker_id, h.name, h.host, h.slots, h.version = worker_id, name, host, 1, version
        for n, fp in datasets:
            d = h.datasets.add()
            d.name, d.fingerprint = n, fp
        b = e.SerializeToString()
        if patch:   # bytes that are not UTF-8, which protobuf will not serialize itself
            old, new = patch
            assert old in b and len(old) == len(new)
            b = b.replace(old, new)
        self.send(b)

    def until(self, body, timeout=5.0):
        """The next message with this body (others are skipped), or None."""
        t0 = time.time()
        while time.time() - t0 < timeout:
            e = self.recv(200)
            if e is not None and e.WhichOneof("body") == body:
                return e
        return None

    def serve(self):
        """Heartbeat and fail every task, until stop."""
        hb = 0.0
        while not self.stop:
            if time.time() - hb > 0.2:
                e = pb.Envelope(protocol=1)
                e.heartbeat.free_slots = 1
                self.send(e.SerializeToString())
                hb = time.time()
            e = self.recv(50)
            if e is None or e.WhichOneof("body") != "assign":
                continue
            self.assigns += 1
            r = pb.Envelope(protocol=1)
            r.result.task, r.result.attempt = e.assign.task, e.assign.attempt
            r.result.ok = False
            r.result.error = self.error
            r.result.score = float("nan")
            self.send(r.SerializeToString())

    def close(self):
        self.stop = True
        self.s.close(0)


c = Cluster(name="inject", hb_ms=500)
# This test sends 26 Hellos on one connection to check each answer; the
# per-connection Hello rate limit (burst 5; integration-quotas tests it)
# would drop most of them, so it is raised here.
c.start_coordinator("--log-level", "debug", "--max-attempts", "2", "--hello-burst", "100")
ctx = zmq.Context()

# --- refused at Hello -------------------------------------------------------------

BAD = [
    ("name", dict(name="evil\x1b[31mRED\x1b[0m"), "U+001B"),
    ("host", dict(host="h\nts=2020 level=error msg=fake"), "U+000A"),
    ("version", dict(version="0.1\x7f"), "U+007F"),
    ("worker_id", dict(worker_id="id\u009b2J"), "U+009B"),
    ("datasets[0].name", dict(datasets=(("mn\x07ist", "dry-run"),)), "U+0007"),
    ("name", dict(name="XXXX", patch=(b"XXXX", b"\xff\xfe\xc0\x80")), "invalid UTF-8"),
]
fw = FakeWorker(c.addr, ctx)
for field, kw, what in BAD:
    fw.hello(**kw)
    d = fw.until("disconnect")
    reason = d.disconnect.reason if d else None
    check(reason is not None and f"{field}:" in reason and what in reason,
          f"Hello with a bad {field}: Disconnect {reason!r}, want one naming {field} and {what}")
    print(f"  refused {field}: {reason}")
# The same peer again and again: answered each time, logged at most 5 times.
for _ in range(20):
    fw.hello(name="again\x1b]0;title\x07")
answered = sum(1 for _ in range(20) if fw.until("disconnect", 3))
check(answered == 20, f"{answered} of 20 repeated bad Hellos answered with Disconnect")
fw.close()
time.sleep(0.3)
ws = json.loads(c.cli("workers", "--format", "json").stdout)
check(ws["workers"] == [], f"a refused worker is registered: {ws['workers']}")
refused = c.log_events("coordinator", "hello refused: a string is not plain text; disconnecting")
check(1 <= len(refused) <= 5 + len(BAD), f"{len(refused)} 'hello refused' lines, want at most "
      f"5 per peer (rate-limited)")
check(all(ev.get("peer") and ev.get("reason") for ev in refused),
      f"'hello refused' lines without peer or reason: {refused[:2]}")

# A real worker refuses such a name itself.
r = subprocess.run([WORKER, "--name", "x\x1b[31m", "--coordinator", c.addr],
                   capture_output=True, text=True, timeout=30)
check(r.returncode == 2 and "--name" in r.stderr and "U+001B" in r.stderr,
      f"hptune-worker --name with ESC: exit {r.returncode}, {r.stderr!r}")

# --- spec strings -----------------------------------------------------------------

for key, val in (("name", '"bad\\e[2J"'), ("dataset", '"mnist-10k\\nlevel=error"')):
    spec = os.path.join(c.dir, f"bad-{key}.yaml")
    with open(spec, "w") as f:
        f.write(f"{key}: {val}\n" + ("dataset: mnist-10k\n" if key == "name" else "") +
                "test_objective: hash\nmethod: grid\nparameters:\n  units: {value: 8}\n")
    r = c.cli("launch", spec, check_rc=False)
    check(r.returncode == 2 and re.search(rf"bad-{key}\.yaml:1:\d+: {key}: control character",
                                          r.stderr),
          f"spec {key} {val}: exit {r.returncode}, {r.stderr!r}")
    check(not raw_control(r.stderr.encode()), f"launch echoed a control byte: {r.stderr!r}")

# --- quoted: a plain-text name built to spoof logfmt fields ----------------------

SPOOF_NAME = 'w1" level=error x=\\'
SPOOF_DS = 'ds" x=1'
ERROR = "boom\x1b]0;pwned\x07\nlevel=error msg=forged \u009b2J\x7f end"
SWEEP_NAME = 'sw "quoted" a=b'

fw = FakeWorker(c.addr, ctx)
fw.error = ERROR
fw.hello(worker_id="fake:2:2", name=SPOOF_NAME, datasets=(("mnist-10k", "dry-run"), (SPOOF_DS, "dry-run")))
check(fw.until("welcome") is not None, "the plain-text fake worker got no Welcome")
t = threading.Thread(target=fw.serve, daemon=True)
t.start()

spec = f"""
name: '{SWEEP_NAME}'
dataset: mnist-10k
test_objective: hash
method: grid
cv: {{folds: 2, seed: 1}}
refit: false
parameters:
  units: {{values: [8, 16]}}
  epochs: {{value: 1}}
"""
sweep = c.launch(spec)
state = c.wait_sweep(sweep, timeout=60)
fw.stop = True
t.join(5)
check(state == "failed", f"sweep state {state}, want failed (every task fails)")
check(fw.assigns >= 2, f"the fake worker got {fw.assigns} Assigns")

joined = c.log_events("coordinator", "worker joined")
check(len(joined) == 1, f"{len(joined)} 'worker joined' lines")
for ev in joined:
    check(ev.get("name") == SPOOF_NAME, f"worker joined: name parsed back as {ev.get('name')!r}")
    check(ev.get("level") == "info", f"worker joined: level {ev.get('level')!r} (spoofed?)")
    check(SPOOF_DS in (ev.get("datasets") or ""), f"worker joined: datasets {ev.get('datasets')!r}")
sub = c.log_events("coordinator", "sweep submitted")
check(sub and sub[-1].get("name") == SWEEP_NAME, f"sweep submitted name {sub and sub[-1].get('name')!r}")

with open(c.log_path(), "rb") as f:
    log = f.read()
check(not raw_control(log), f"control bytes in the coordinator's log: {raw_control(log)[:5]}")
check(all(ln.startswith(b"ts=") for ln in log.splitlines() if ln.strip()),
      "a coordinator log line does not start with ts= (a forged line?)")
retry = [ln for ln in log.splitlines() if b"task failed; retrying" in ln]
check(retry and b"\\x1b]0;pwned\\x07\\nlevel=error" in retry[0],
      f"the task error is not shown escaped in the log: {retry[:1]}")

# --- every CLI output ---------------------------------------------------------------

outputs = {
    "status": c.cli("status", check_rc=False),
    "status SWEEP": c.cli("status", str(sweep), check_rc=False),
    "results": c.cli("results", str(sweep)),
    "results csv": c.cli("results", str(sweep), "--format", "csv"),
    "logs": c.cli("logs", "--level", "debug"),
    "workers": c.cli("workers"),
}
for what, r in outputs.items():
    bad = raw_control((r.stdout + r.stderr).encode())
    check(not bad, f"hptune {what}: raw control bytes {bad[:5]}:\n{r.stdout[-600:]}")
check("\\x1b]0;pwned\\x07" in outputs["status SWEEP"].stdout,
      "hptune status SWEEP does not show the error escaped:\n" + outputs["status SWEEP"].stdout)
check("\\x1b]0;pwned\\x07" in outputs["results"].stdout,
      "hptune results does not show the error escaped:\n" + outputs["results"].stdout)
check(SPOOF_NAME in outputs["workers"].stdout and SPOOF_DS in outputs["workers"].stdout,
      "hptune workers does not show the worker's name and dataset:\n" + outputs["workers"].stdout)
check(SWEEP_NAME in outputs["status"].stdout, "hptune status does not show the sweep's name")
# hptune logs: each line is one event whose fields parse back exactly.
for line in outputs["logs"].stdout.splitlines():
    if "worker joined" in line:
        ev = dict(re.findall(r'([A-Za-z_]+)=("(?:[^"\\]|\\.)*"|\S*)', line))
        check(ev.get("level") == "info", f"hptune logs: spoofed level in {line}")
        check(ev.get("name") == '"w1\\" level=error x=\\\\"', f"hptune logs: name field {ev.get('name')}")
check(outputs["logs"].stdout.count("worker joined") == 1, "hptune logs: 'worker joined' count")

# JSON: valid, and carries the exact strings.
res = json.loads(c.cli("results", str(sweep), "--format", "json").stdout)
errs = [e for e in res["cv_results"].get("error", []) if e] if "error" in res["cv_results"] else []
check(res["sweep"]["name"] == SWEEP_NAME, f"results json: name {res['sweep']['name']!r}")
check(ERROR in (res["sweep"]["error"] or "") or any(ERROR in e for e in errs),
      f"results json does not carry the exact error text: {res['sweep']['error']!r} {errs[:1]}")
ws = json.loads(c.cli("workers", "--format", "json").stdout)
names = [w["name"] for w in ws["workers"]]
check(SPOOF_NAME in names, f"workers json names {names}")
check(any(d["name"] == SPOOF_DS for w in ws["workers"] for d in w["datasets"]),
      "workers json lacks the dataset name")
found = False
for line in c.cli("logs", "--level", "debug", "--format", "json").stdout.splitlines():
    ev = json.loads(line)   # raises (and fails the test) on invalid JSON
    if ev["type"] == "task.retry":
        found = found or ev["fields"].get("error") == ERROR
    if ev["type"] == "worker.joined":
        check(ev["fields"].get("name") == SPOOF_NAME and ev["level"] == "info",
              f"logs json worker.joined: {ev}")
check(found, "logs json: no task.retry whose error is the exact text the worker sent")
fw.close()

# --- the dashboard ------------------------------------------------------------------

with open(os.path.join(SRC, "coordinator", "http", "app.js")) as f:
    js = f.read()
for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write"):
    check(sink not in js, f"app.js uses {sink}: peer strings could become HTML")
check("textContent" in js, "app.js does not set text with textContent")

ctx.term()
print(f"FIGURES injection: refused_hellos={len(BAD) + 20} hello_refused_lines={len(refused)} "
      f"assigns_failed={fw.assigns} sweep={state}")
finish()
