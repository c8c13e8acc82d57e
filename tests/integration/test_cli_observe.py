"""Watching the workers: `hptune logs --worker W` (by name or id, history
and -f, alone and with --sweep) shows only that worker's events, and
`hptune workers` (table and --format json) shows each worker's last-seen
time and throughput, consistent with its counters.

`hptune logs --format json` keeps its documented schema: every line is a
JSON object with exactly the documented keys and value types, types are the
documented ones (docs/protocol.md, which must list the core's event_defs), a
sweep's lifecycle comes in order, and each line says what the text line of
the same event says.  The journal's events table stores each event's type
(the same as the JSON for the same seq), and a journal from before the type
column gets it when the coordinator opens it."""
import datetime
import json
import os
import re
import sqlite3
import time

from harness import SRC, Cluster, Follower, check, finish, parse_logfmt

SPEC = """
name: observe-{n}
dataset: mnist
test_objective: hash   # --dry-run workers serve only such sweeps
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

# --- logs --format json ------------------------------------------------------------
KEYS = ["ts", "ts_us", "seq", "level", "component", "type", "sweep", "msg", "fields"]
LEVELS = ("debug", "info", "warn", "error")


def doc_types():
    """The type names of docs/protocol.md's events table."""
    with open(os.path.join(SRC, "docs", "protocol.md")) as f:
        text = f.read()
    sec = text.split("### Events (`Event.type`)", 1)[1].split("\n### ", 1)[0]
    rows = sec.split("\n|---|", 1)[1]   # below the table's header
    return re.findall(r"^\| `([a-z_.]+)` \|", rows, re.M)


def core_types():
    """The names in the core's event_defs (coordinator/core/outbox.c)."""
    with open(os.path.join(SRC, "coordinator", "core", "outbox.c")) as f:
        text = f.read()
    defs = text.split("event_defs[COORD_EV__COUNT] = {", 1)[1].split("};", 1)[0]
    return re.findall(r'\] =\s*\{"([a-z_.]+)"', defs)


TYPES = set(doc_types())
check(len(TYPES) >= 20 and "task.leased" in TYPES and "log" in TYPES,
      f"docs/protocol.md: events table not found or short: {sorted(TYPES)}")
check(TYPES == set(core_types()),
      f"docs/protocol.md lists {sorted(TYPES ^ set(core_types()))} differently from event_defs")


def json_events(out, what):
    """Parse `logs --format json` output, checking every line against the
    documented schema; returns the objects."""
    evs = []
    for ln in out.splitlines():
        try:
            e = json.loads(ln)
        except ValueError as x:
            check(False, f"{what}: not JSON ({x}): {ln!r}")
            continue
        if not check(isinstance(e, dict) and list(e) == KEYS,
                     f"{what}: keys {list(e) if isinstance(e, dict) else e!r}, want {KEYS}"):
            continue
        ok = (isinstance(e["ts"], str) and isinstance(e["ts_us"], int)
              and isinstance(e["seq"], int) and e["seq"] > 0 and e["level"] in LEVELS
              and isinstance(e["component"], str) and e["type"] in TYPES
              and (e["sweep"] is None or (isinstance(e["sweep"], int) and e["sweep"] > 0))
              and isinstance(e["msg"], str) and isinstance(e["fields"], dict)
              and all(isinstance(v, str) for v in e["fields"].values()))
        check(ok, f"{what}: value types or names off the schema: {ln}")
        if ok:
            t = datetime.datetime.fromtimestamp(e["ts_us"] // 1000000, datetime.timezone.utc)
            want_ts = t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{e['ts_us'] % 1000000 // 1000:03d}Z"
            check(e["ts"] == want_ts, f"{what}: ts {e['ts']} is not ts_us {e['ts_us']}")
            evs.append(e)
    seqs = [e["seq"] for e in evs]
    check(seqs == sorted(set(seqs)), f"{what}: seq not increasing: {seqs[:20]}")
    return evs


def text_pairs(line):
    """A text line's key=value pairs in order, unquoted (harness's reader)."""
    ev = parse_logfmt(line)
    check(ev is not None, f"text line does not parse: {line!r}")
    return [(k, v) for k, v in (ev or {}).items() if k != "_t"]


def logs_both(*args):
    """`hptune logs ARGS` as text and as JSON (the same history twice: the
    events asked for are of a finished sweep, or the check is only on what
    both show)."""
    return c.cli("logs", *args).stdout, c.cli("logs", *args, "--format", "json").stdout


def first(evs, typ):
    return next((i for i, e in enumerate(evs) if e["type"] == typ), None)


# A finished sweep at debug: the lifecycle in order, and each JSON line says
# what the text line of the same event says (same order: both are the ring).
text, out = logs_both("--level", "debug", "--sweep", str(s1))
evs = json_events(out, f"logs --format json --level debug --sweep {s1}")
lines = text.splitlines()
check(evs and len(evs) == len(lines),
      f"--sweep {s1}: {len(evs)} JSON lines, {len(lines)} text lines")
for e, ln in zip(evs, lines):
    want = [("ts", e["ts"]), ("level", e["level"]), ("component", e["component"]),
            ("msg", e["msg"])] + list(e["fields"].items())
    check(text_pairs(ln) == want, f"seq {e['seq']}: JSON {e} vs text {ln!r}")
check(all(e["sweep"] == s1 for e in evs), f"--sweep {s1}: other sweeps: {out[-600:]}")
order = [first(evs, t) for t in ("sweep.submitted", "task.leased", "trial.done",
                                 "sweep.finished")]
check(None not in order and order == sorted(order),
      f"sweep {s1} lifecycle out of order (submitted, leased, done, finished at {order}): "
      f"{[e['type'] for e in evs]}")
types = [e["type"] for e in evs]
check(types.count("trial.done") == 4 and types.count("sweep.finished") == 1
      and types[-1] == "sweep.finished" and types.count("task.leased") >= 8,
      f"sweep {s1}: 4 trials x 2 folds, want 4 trial.done, >= 8 task.leased, "
      f"sweep.finished last: {types}")
for e in evs:
    if e["type"] == "task.leased":
        check(e["level"] == "debug" and e["fields"].get("worker") in (ida, idb)
              and e["fields"].get("sweep") == str(s1), f"task.leased: {e}")
    if e["type"] == "trial.done":
        check(e["fields"].get("trial", "").isdigit(), f"trial.done without a trial: {e}")

# At the default level (info): the same lifecycle without the debug events.
evs = json_events(c.cli("logs", "--sweep", str(s1), "--format", "json").stdout,
                  f"logs --format json --sweep {s1}")
types = [e["type"] for e in evs]
check("task.leased" not in types and all(e["level"] != "debug" for e in evs),
      f"info level shows debug events: {types}")
order = [first(evs, t) for t in ("sweep.submitted", "trial.done", "sweep.finished")]
check(None not in order and order == sorted(order), f"info lifecycle at {order}: {types}")

# Everything: plain shell lines are "log", worker events name the worker.
everything = json_events(c.cli("logs", "--level", "debug", "--format", "json").stdout,
                         "logs --format json --level debug")
check(any(e["type"] == "log" for e in everything), "no event of type log in the ring")
joined = [e for e in everything if e["type"] == "worker.joined"]
check({e["fields"].get("name") for e in joined} == {"wa", "wb"}
      and all(e["sweep"] is None for e in joined), f"worker.joined events: {joined}")
# --worker with JSON: only that worker's events.
evs = json_events(c.cli("logs", "--level", "debug", "--worker", "wa", "--format", "json").stdout,
                  "logs --format json --worker wa")
check(evs and all(e["fields"].get("worker") == ida for e in evs),
      f"--format json --worker wa: {[e for e in evs if e['fields'].get('worker') != ida][:2]}")

# The journal stores the type of every event at info and above: the same as
# the JSON for the same seq (this coordinator has not restarted, so seq is
# unique in its journal).
cols = [r[1] for r in c.q("PRAGMA table_info(events)")]
check("type" in cols, f"events table columns: {cols}")
shown = {e["seq"]: e for e in everything if e["level"] != "debug"}
try:
    c.wait_for(lambda: {r[0] for r in c.q("SELECT seq FROM events")} >= set(shown),
               timeout=10, what="the ring's events in the journal")
except RuntimeError as x:
    check(False, str(x))
rows = {seq: (typ, msg) for seq, typ, msg in c.q("SELECT seq, type, msg FROM events")}
check(all(t in TYPES for t, _ in rows.values()),
      f"journal types not documented: {sorted({t for t, _ in rows.values()} - TYPES, key=str)}")
bad = [(s, rows.get(s), e["type"], e["msg"]) for s, e in shown.items()
       if rows.get(s) != (e["type"], e["msg"])]
check(not bad, f"journal (type, msg) differs from logs --format json for seq: {bad[:5]}")
n = dict(c.q("SELECT type, COUNT(*) FROM events WHERE sweep = ? GROUP BY type", s1))
check(n.get("sweep.submitted") == 1 and n.get("trial.done") == 4
      and n.get("sweep.finished") == 1 and "task.leased" not in n,
      f"journal events of sweep {s1} by type: {n}")

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
c.stop()

# --- a journal from before the type column ------------------------------------------
# The coordinator adds the column when it opens the journal: the old rows keep
# a NULL type, its own events get theirs.
old = Cluster(name="observe-oldjournal")
db = sqlite3.connect(old.db_path)
db.executescript("CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);"
                 "INSERT INTO meta VALUES('schema', '1');"
                 "CREATE TABLE events(seq INTEGER, ts REAL, level TEXT, component TEXT,"
                 "  msg TEXT, fields TEXT, sweep INTEGER);"
                 "INSERT INTO events VALUES(1, 1.0, 'info', 'main', 'old line', '', NULL);")
db.commit()
db.close()
old.start_coordinator("--keep-events-s", "0")   # its row is from 1970: retention would take it
check("type" in [r[1] for r in old.q("PRAGMA table_info(events)")],
      "an old journal did not get the type column")
check(old.q("SELECT type FROM events WHERE msg = 'old line'") == [(None,)],
      f"old row: {old.q('SELECT * FROM events WHERE msg = ?', 'old line')}")
s3 = old.launch("name: old-journal\ndataset: mnist\ntest_objective: hash\nmethod: grid\ncv: {folds: 2}\n"
                "parameters:\n  units: {values: [8]}\n")
try:
    old.wait_for(lambda: old.q("SELECT type FROM events WHERE sweep = ?", s3),
                 timeout=10, what="the new sweep's events in the old journal")
except RuntimeError as x:
    check(False, str(x))
check(old.q("SELECT type FROM events WHERE sweep = ? ORDER BY seq LIMIT 1", s3)
      == [("sweep.submitted",)],
      f"old journal, new events: {old.q('SELECT seq, type, msg FROM events')}")
finish()
