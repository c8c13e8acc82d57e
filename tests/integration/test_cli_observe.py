"""Watching the workers: `hptune logs --worker W` (by name or id, history
and -f, alone and with --sweep) shows only that worker's events, and
`hptune workers` (table and --format json) shows each worker's last-seen
time and throughput, consistent with its counters."""
import json
import os
import time

from harness import Cluster, Follower, check, finish, parse_logfmt

SPEC = """
name: observe-{n}
dataset: mnist
method: grid
cv: {{folds: 2}}
parameters:
  units: {{values: [8, 16, 32, 64]}}
  epochs: {{value: 3}}
"""

c = Cluster(name="observe")
c.start_coordinator("--log-level", "debug")
dry = ["--dry-run", "--dataset", "mnist"]
c.start_worker(slots=1, name="wa", data="/nonexistent", extra=dry)
c.start_worker(slots=1, name="wb", data="/nonexistent", extra=dry)
ida, idb = c.worker_id("wa"), c.worker_id("wb")
c.wait_for(lambda: len(json.loads(c.cli("workers", "--format", "json").stdout)["workers"]) == 2,
           what="both workers registered")
t_joined = time.time()


def launch(n):
    path = os.path.join(c.dir, f"spec{n}.yaml")
    with open(path, "w") as f:
        f.write(SPEC.format(n=n))
    return int(c.cli("launch", path).stdout.split()[0])


def events(out):
    return [e for e in (parse_logfmt(line) for line in out.splitlines()) if e]


s1 = launch(1)
check(c.wait_sweep(s1) == "done", "sweep 1 did not finish")

# --- logs --worker ---------------------------------------------------------------
for want, other, key in ((ida, idb, "wa"), (idb, ida, idb)):
    r = c.cli("logs", "--level", "debug", "--worker", key)
    evs = events(r.stdout)
    check(evs, f"logs --worker {key}: no events")
    check(all(e.get("worker") == want for e in evs),
          f"logs --worker {key}: events of other workers: "
          f"{[e for e in evs if e.get('worker') != want][:2]}")
    msgs = {e["msg"] for e in evs}
    check("worker joined" in msgs, f"logs --worker {key}: no 'worker joined' ({msgs})")
    check("task leased" in msgs or "result" in msgs,
          f"logs --worker {key}: no task events ({msgs})")
r = c.cli("logs", "--level", "debug", "--worker", "nosuch")
check(r.returncode == 0 and r.stdout == "", f"logs --worker nosuch: {r.returncode} {r.stdout!r}")
r = c.cli("logs", "--level", "debug", "--worker", "wa", "--sweep", str(s1))
evs = events(r.stdout)
check(evs and all(e.get("worker") == ida and e.get("sweep") == str(s1) for e in evs),
      f"logs --worker wa --sweep {s1}: {r.stdout[-600:]}")
r = c.cli("logs", "--worker", "", check_rc=False)
check(r.returncode == 2, f"logs --worker '': exit {r.returncode}")

# -f: only wb's live events, including a worker that joins after it started
# (learned from its "worker joined" event).
# wc starts only once the follower's history is in, so it can know wc only
# from the live "worker joined" event.
f = Follower("--level", "debug", "--worker", "wc", env=c.env).wait_ready()
check(not f.out, f"logs -f --worker wc: history before wc existed: {f.out[:2]}")
c.start_worker(slots=1, name="wc", data="/nonexistent", extra=dry)
idc = c.worker_id("wc")
s2 = launch(2)
check(c.wait_sweep(s2) == "done", "sweep 2 did not finish")
# Whatever of sweep 2 wc did (the other workers may have taken it all), the
# follower sees: wait for that many of its lines (the coordinator's log is
# complete once the sweep is done).
full = events(c.cli("logs", "--level", "debug").stdout)
did = [e for e in full if e.get("worker") == idc and e.get("sweep") == str(s2)]


def seen_s2():
    return [e for e in events("".join(f.out)) if e.get("sweep") == str(s2)]


try:
    f.wait(lambda: len(seen_s2()) >= len(did) and any(
        e["msg"] == "worker joined" for e in events("".join(f.out))), timeout=30,
        what=f"wc's join and its {len(did)} sweep {s2} events")
except RuntimeError as e:
    check(False, str(e))
rc, out = f.stop()
check(rc == 0, f"logs -f --worker wc exited {rc} on SIGTERM")
evs = events(out)
check(any(e["msg"] == "worker joined" for e in evs), f"logs -f --worker wc: no join: {out[-600:]}")
seen = [e for e in evs if e.get("sweep") == str(s2)]
check(len(seen) == len(did), f"logs -f --worker wc: {len(seen)} of its {len(did)} sweep {s2} "
                             f"events: {out[-600:]}")
check(evs and all(e.get("worker") == idc for e in evs),
      f"logs -f --worker wc: other events: {[e for e in evs if e.get('worker') != idc][:2]}")

# --- workers: last seen and throughput ----------------------------------------------
# Rates need a window of at least a second since a worker joined: this sleep
# waits out that duration (part of the scenario), it synchronises nothing.
time.sleep(max(0.0, t_joined + 1.2 - time.time()))
r = c.cli("workers", "--format", "json")
d = json.loads(r.stdout)
ws = {w["name"]: w for w in d["workers"]}
check(set(ws) == {"wa", "wb", "wc"}, f"workers: {sorted(ws)}")
res1, res2 = c.results(s1)["sweep"], c.results(s2)["sweep"]
done_all = res1["tasks_done"] + res2["tasks_done"]
check(sum(w["tasks_done"] for w in ws.values()) == done_all,
      f"tasks_done {[w['tasks_done'] for w in ws.values()]} vs {done_all} tasks done")
for name, w in ws.items():
    check(w["last_seen_s"] is not None and 0 <= w["last_seen_s"] < 1.0,
          f"{name}: last_seen_s {w['last_seen_s']}")
    check(w["epochs_done"] == 3 * w["tasks_done"],
          f"{name}: epochs_done {w['epochs_done']}, want 3 x {w['tasks_done']} tasks")
    if name == "wc" and w["rate_window_s"] is None:
        continue   # it may have joined under a second ago
    win = w["rate_window_s"]
    check(win is not None and 1.0 <= win <= 300.0, f"{name}: rate window {win}")
    if win:
        # Within 5 minutes of joining, the window starts at the join: the
        # rates are the counters over the window.
        check(abs(w["tasks_per_min"] * win / 60 - w["tasks_done"]) < 1e-6,
              f"{name}: tasks_per_min {w['tasks_per_min']} x {win} s != {w['tasks_done']}")
        check(abs(w["epochs_per_s"] * win - w["epochs_done"]) < 1e-6,
              f"{name}: epochs_per_s {w['epochs_per_s']} x {win} s != {w['epochs_done']}")
check(d["slots"] == 3 and d["slots_busy"] == 0, f"workers json totals: {d}")
check(ws["wa"]["tasks_per_min"] > 0, "wa: no throughput after finishing tasks")

r = c.cli("workers")
lines = r.stdout.splitlines()
head = lines[0].split()
for col in ("LAST", "SEEN", "DONE", "TASKS/MIN", "EPOCHS/S"):
    check(col in head, f"workers table lacks {col}: {lines[0]}")
rows = {ln.split()[0]: ln for ln in lines[1:] if ln.split() and ln.split()[0] in ws}
check(set(rows) == {"wa", "wb", "wc"}, f"workers rows: {lines}")
check(all("s ago" in rows[n] for n in rows), f"workers: no 'ago': {lines}")
cells = rows["wa"].split()   # "LAST SEEN" and "0.1s ago" are both two words
tpm = cells[head.index("TASKS/MIN")]
check(float(tpm) > 0, f"wa TASKS/MIN {tpm!r}: {rows['wa']}")
check(lines[-1].startswith("3 workers, 0/3 slots busy,") and "tasks/min" in lines[-1],
      f"workers totals line: {lines[-1]!r}")
r = c.cli("workers", "--format", "yaml", check_rc=False)
check(r.returncode == 2 and "--format" in r.stderr, f"workers --format yaml: {r.returncode}")
finish()
