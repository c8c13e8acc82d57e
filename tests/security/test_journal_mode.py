"""The journal is private to its owner (issue 11, finding 10, the journal
item): it holds every spec, score and worker name, so a new journal is
created mode 0600 and its -wal and -shm files follow it, whatever the umask.

The coordinator runs with umask 000, so a file it leaves to the umask would
come out 0666 (0644 under the usual 022) and the test would see it.  A
worker registers and a sweep runs through this suite's own client, so the
journal, its WAL and its shared-memory index all exist and have been
written to; each is checked while the coordinator runs and after it stops.
"""
import os
import stat

import attacker as A
from attacker import harness
from harness import check

SPEC = """
name: secret-spec
dataset: mnist
test_objective: hash
method: grid
cv: {folds: 2}
refit: false
parameters:
  units: {values: [8, 16]}
  epochs: {value: 1}
"""


def modes(c):
    out = {}
    for suffix in ("", "-wal", "-shm"):
        p = c.db_path + suffix
        if os.path.exists(p):
            out[suffix or "journal"] = stat.S_IMODE(os.stat(p).st_mode)
    return out


old = os.umask(0)   # inherited by the coordinator
# A long liveness: the worker is silent while the Submit is parsed.
c = harness.Cluster(name="sec-journal", hb_ms=200, liveness=50)
c.start_coordinator()
os.umask(old)
w = A.Worker(c.addr, name="journal-worker", datasets=[("mnist", A.DRY_RUN)])
check(w.register() is not None, "no Welcome")
with A.Client(c.addr) as cl:
    m = cl.submit(SPEC)
    check(m is not None and m.body == "submit_reply", f"Submit: {m}")
    sweep = m.msg.sweep if m is not None and m.body == "submit_reply" else 1


def answer():
    w.pump(0.02)
    for a in list(w.held.values()):
        w.answer(a)
    return c.sweep_state(sweep) == "done"


c.wait_for(answer, 60, "the sweep to finish")
m = modes(c)
print(f"while running: {', '.join(f'{k} {v:04o}' for k, v in m.items())}", flush=True)
check(set(m) == {"journal", "-wal", "-shm"}, f"journal files while running: {sorted(m)}")
for name, mode in m.items():
    check(mode == 0o600, f"{name} is mode {mode:04o} while the coordinator runs, want 0600")
w.goodbye()
w.close()
c.stop()
for name, mode in modes(c).items():
    check(mode == 0o600, f"{name} is mode {mode:04o} after the coordinator stopped, want 0600")
harness.finish()
