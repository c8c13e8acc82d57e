"""Issue 11, finding 8: what a peer says must not forge log lines or drive a
terminal.

A worker's name, host, version and dataset names come from its Hello, and a
failed task's error text from its Result; all end up in the coordinator's
log (logfmt, one event per line), in `hptune logs` and in `hptune workers`.
Attacks:
  - a worker whose name holds ESC sequences (clear screen, colours), a
    newline followed by a forged log line, and `" level=error` to break out
    of a quoted field; its host, version and a dataset name likewise;
  - a worker whose name is not UTF-8 (protobuf-c does not check; a proto3
    string must be UTF-8, so a conformant client cannot read a WorkersReply
    or Event that carries it back);
  - a leased worker that fails its task with such an error text.
Expected: the Hello is refused, or every value is shown escaped: no raw
control character (ESC, newline, carriage return) in the coordinator's log,
in `hptune logs` or in `hptune workers`; every log line is one event (it
starts with ts=) and none was forged (no msg="forged"); `hptune logs
--format json` is one valid JSON object a line; the WorkersReply and the
events decode with a conformant protobuf runtime (UTF-8).
"""
import json
import subprocess

import attacker as A
from attacker import harness, pb
from harness import check

ESC = "\x1b[2J\x1b[1;31mPWNED\x1b[0m"
FORGED_LINE = ('ts=2026-01-01T00:00:00.000Z level=error component=security msg="forged" '
               'who=attacker')
BREAKOUT = '" level=error component=security msg="forged" x="'
NAME = f"evil{ESC}\n{FORGED_LINE}\r{BREAKOUT}"[:255]
HOST = f"host{BREAKOUT}\n{FORGED_LINE}"[:255]
VERSION = f"v{ESC}"[:64]
DATASET = f"ds\n{FORGED_LINE}"
ERROR = f'boom{BREAKOUT}\n{FORGED_LINE}{ESC}'

SPEC = """
name: inject
dataset: mnist
test_objective: hash
method: grid
cv: {folds: 2}
refit: false
parameters:
  units: {values: [8, 16]}
  epochs: {value: 1}
"""
CONTROL = ("\x1b", "\r")


def controls(text):
    return [ch for ch in CONTROL if ch in text]


c = harness.Cluster(name="inject", hb_ms=200, liveness=25)
c.start_coordinator("-v")   # debug: every event reaches the log

evil = A.Worker(c.addr, name=NAME, host=HOST, version=VERSION,
                datasets=[("no-such-dataset", "ab" * 32), (DATASET, "cd" * 32)])
welcomed = evil.register(timeout=10) is not None
print(f"the worker with injected name, host, version and dataset: "
      f"{'welcomed' if welcomed else 'refused'}", flush=True)

bad_utf8 = A.Worker(c.addr)
raw = pb.Hello(worker_id="utf8:1", host="h", slots=1, version="v").SerializeToString()
bad_utf8.send_raw(A.raw_env("hello", raw + A.f_bytes(2, b"caf\xe9 \xff\xfe")))
bad_utf8.heartbeat(running=[], free_slots=0)
bad_utf8.wait(lambda: bad_utf8.welcomed or bad_utf8.disconnects, 10, raise_=False)
print(f"the worker with a name that is not UTF-8: "
      f"{'welcomed' if bad_utf8.welcomed else 'refused'}", flush=True)

# A clean worker fails its task with an injected error text.
failer = A.Worker(c.addr, name="failer", datasets=[("mnist", A.DRY_RUN)])
check(failer.register() is not None, "failer: no Welcome")
sweep = c.launch(SPEC)
failer.wait(lambda: failer.held, 30, "an Assign")
a = next(iter(failer.held.values()))
failer.answer(a, ok=False, error=ERROR)
check(failer.barrier(), "failer: barrier")
c.wait_log(msg="task failed; retrying", task=a.task, timeout=10)

# What a conformant client reads back.
with A.Client(c.addr) as cl:
    m = cl.workers()
    check(m is not None and m.body == "workers_reply" and not m.invalid_utf8,
          f"the WorkersReply is not valid UTF-8 (a conformant protobuf client cannot read it): "
          f"{m.error if m else None}")
    if m is not None and m.body == "workers_reply":
        for w in m.msg.workers:
            for field in ("name", "host", "version"):
                v = A.text(getattr(w, field))
                check(not controls(v) and "\n" not in v,
                      f"WorkersReply: worker {A.text(w.id)}'s {field} carries control "
                      f"characters: {v!r}")
    evs = cl.history(level="debug")
    check(evs is not None, "no event history")
    check(not cl.history_invalid_utf8, f"{cl.history_invalid_utf8} events are not valid UTF-8 "
          "(a conformant protobuf client cannot read them)")
    for e in evs or []:
        f = A.text(e.fields)
        check(not controls(f) and "\n" not in f,
              f"event {A.text(e.type)} carries control characters: {f!r}")

# The coordinator's log.
with open(c.log_path(), "rb") as f:
    log = f.read().decode("utf-8", "replace")
lines = log.split("\n")
check(not controls(log), f"raw control characters in the coordinator's log: "
      f"{[ln for ln in lines if controls(ln)][:3]!r}")
stray = [ln for ln in lines if ln and not ln.startswith("ts=")]
check(not stray, f"log lines that are not events (a newline was injected): {stray[:3]!r}")
# A value that breaks out of its quotes adds keys of its own: a reader that
# takes the last msg= or level= sees a forged event.
forged = [ln for ln in lines
          if any([k for k, _ in harness._LOGFMT.findall(ln)].count(key) > 1
                 for key in ("ts", "level", "component", "msg"))]
check(not forged, f"log lines with forged keys: {forged[:2]!r}")
if welcomed:
    joined = [ev for ev in c.log_events(msg="worker joined") if ev.get("worker") == evil.worker_id]
    check(joined and "PWNED" in joined[0].get("name", "") and
          "forged" in joined[0].get("name", ""),
          f"the injected worker's 'worker joined' line does not carry its whole name as one "
          f"(escaped) value: {joined[:1]}")

# The CLI.
def cli(*args):
    """hptune ARGS: (exit status, output as text); its bytes may be anything."""
    r = subprocess.run([harness.CLI, *args], capture_output=True, env=c.env, timeout=120)
    out = r.stdout + r.stderr
    try:
        out.decode("utf-8")
    except UnicodeDecodeError as e:
        check(False, f"hptune {' '.join(args)} prints bytes that are not UTF-8: {e}")
    return r.returncode, out.decode("utf-8", "replace"), r.stdout.decode("utf-8", "replace")


for args in (("workers",), ("logs", "--level", "debug"), ("status",)):
    rc, out, _ = cli(*args)
    check(rc == 0, f"hptune {' '.join(args)} exited {rc}")
    check(not controls(out), f"hptune {' '.join(args)} prints raw control characters: "
          f"{[ln for ln in out.split(chr(10)) if controls(ln)][:2]!r}")
    check(not [ln for ln in out.split("\n") if ln.startswith("ts=2026-01-01")],
          f"hptune {' '.join(args)} prints a forged line")
rc, _, stdout = cli("logs", "--level", "debug", "--format", "json")
for ln in stdout.split("\n"):
    if not ln:
        continue
    try:
        obj = json.loads(ln)
    except ValueError as e:
        check(False, f"hptune logs --format json: not JSON ({e}): {ln[:200]!r}")
        continue
    check(obj.get("msg") != "forged", f"hptune logs --format json: a forged event {obj}")

for w in (evil, bad_utf8, failer):
    w.goodbye()
    w.close()
check(A.answered(c), "the coordinator does not answer")
harness.finish()
