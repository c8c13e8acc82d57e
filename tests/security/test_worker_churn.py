"""The journal's workers table is bounded (issue 11, second review): a peer
that registers under a new worker id and leaves, over and over, cannot grow
the coordinator's SQLite file without bound.  Records of workers gone beyond
keep_workers (the most recently seen are kept) are deleted by retention
(docs/security.md, "Quotas and limits"); a worker still registered keeps its
record however old.

The attack: 60 identities, each a new connection that says Hello, is
welcomed, and says Goodbye, against --keep-workers 20, while one genuine
worker stays registered.  The table must come down to at most 20 records of
workers gone plus the live one's, and the live one's record must stay.
"""
import time

import attacker as A
from attacker import harness
from harness import check

KEEP = 20
CHURN = 60

c = harness.Cluster(name="worker-churn", hb_ms=200, liveness=25)
c.start_coordinator("--keep-workers", str(KEEP), "--hello-per-min", "0")


def rows(where=""):
    db = c.db()
    try:
        return db.execute("SELECT COUNT(*) FROM workers" + where).fetchone()[0]
    finally:
        db.close()


live = A.Worker(c.addr, name="genuine")
check(live.register(timeout=20) is not None, "the genuine worker was not welcomed")
for i in range(CHURN):
    with A.Worker(c.addr, name=f"churn-{i}") as w:
        check(w.register(timeout=20) is not None, f"churned identity {i} was not welcomed")
        w.goodbye()
        w.barrier(timeout=2)
    live.pump(0.0)
# Every churned identity is journaled (the group commit lands within a tick).
seen = live.wait(lambda: rows() >= CHURN - KEEP, 15, "the churned workers to be journaled",
                 raise_=False)
check(seen, f"only {rows()} worker records after {CHURN} registrations: the attack did not land")
# Retention runs every 10 s: within two runs the table is back under the bound.
ok = live.wait(lambda: rows(" WHERE state = 'gone'") <= KEEP, 30,
               "the workers table to be pruned to keep_workers", raise_=False)
GONE = " WHERE state = 'gone'"
check(ok, f"{rows(GONE)} records of workers gone remain; keep_workers is {KEEP}")
check(rows() <= KEEP + 1, f"{rows()} worker records in all; expected at most {KEEP} + 1")
db = c.db()
try:
    r = db.execute("SELECT state FROM workers WHERE id = ?", (live.worker_id,)).fetchone()
finally:
    db.close()
check(r is not None and r[0] != "gone", f"the live worker's record: {r}")
# The newest records of workers gone are the ones kept.
db = c.db()
try:
    names = {n for (n,) in db.execute("SELECT name FROM workers WHERE state = 'gone'")}
finally:
    db.close()
check(f"churn-{CHURN - 1}" in names and "churn-0" not in names,
      f"the records kept are not the most recent: {sorted(names)[:5]}...")
live.goodbye()
live.close()
check(A.answered(c), "the coordinator does not answer")
harness.finish()
