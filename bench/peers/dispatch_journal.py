#!/usr/bin/python3
"""dispatch_journal.py: throughput and dispatch latency of one sweep, from the
coordinator's SQLite journal (stdlib only).  Used by bench/dispatch.sh after
the coordinator has stopped, so the journal is complete and nothing else
reads or writes it.

Times come from the journal, all written by the coordinator with
CLOCK_REALTIME (unix seconds as REAL, sub-microsecond resolution at today's
epoch): sweeps.created (Submit processed), attempts.leased (the Assign was
handed to ZeroMQ), attempts.ended (the Result was processed), sweeps.finished.
--t0 is the driver's own CLOCK_REALTIME just before it ran `hptune launch`,
on the same machine.

Dispatch latency, per task: how long the worker slot it runs in stood empty
before it.  A worker has `slots` slots; the coordinator leases it a task only
when one is free (credit), and a slot is freed by a Result.  Replaying each
worker's Results and leases in time order, every lease after the worker's
first `slots` takes the slot freed earliest among those not yet refilled
(FIFO): that names, for task k, the task j that held its slot before.  Then

  latency  = leased(k) - leased(j)
             the slot's cycle.  A --dry-run worker answers an Assign in
             microseconds, so this is, to within that, the gap the worker
             sees between sending task j's Result and receiving task k's
             Assign: both transports, the wait in the coordinator's receive
             queue (behind other messages and the journal commit), the
             scheduling and the send.
  turnaround = leased(k) - ended(j)
             the coordinator's own part: Result processed -> next Assign sent.
  round trip = ended(j) - leased(j)
             Assign sent -> Result processed (transport, worker, the wait in
             the receive queue).

The first `slots` leases of each worker fill slots that were free before the
sweep existed; they have no predecessor and are counted instead in
"launch -> first lease".
"""
import argparse
import collections
import math
import sqlite3
import sys


def pct(sorted_vals, p):
    """Nearest-rank percentile (p in 0..100) of an already sorted list."""
    if not sorted_vals:
        return math.nan
    k = max(0, math.ceil(p / 100.0 * len(sorted_vals)) - 1)
    return sorted_vals[min(k, len(sorted_vals) - 1)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--sweep", type=int, required=True)
    ap.add_argument("--t0", type=float, required=True, help="unix time just before launch")
    ap.add_argument("--slots", type=int, required=True, help="slots per worker")
    args = ap.parse_args()

    db = sqlite3.connect(f"file:{args.db}?mode=ro", uri=True)
    row = db.execute("SELECT state, created, started, finished FROM sweeps WHERE id = ?",
                     (args.sweep,)).fetchone()
    if not row:
        print(f"dispatch_journal.py: sweep {args.sweep} is not in {args.db}", file=sys.stderr)
        return 1
    state, created, started, finished = row
    if state != "done" or finished is None:
        print(f"dispatch_journal.py: sweep {args.sweep} ended {state}", file=sys.stderr)
        return 1
    n_done, n_tasks = db.execute(
        "SELECT SUM(state = 'done'), COUNT(*) FROM tasks WHERE sweep = ? AND refit = 0",
        (args.sweep,)).fetchone()
    n_trials = db.execute("SELECT COUNT(*) FROM trials WHERE sweep = ? AND state = 'done'",
                          (args.sweep,)).fetchone()[0]
    rows = db.execute(
        "SELECT a.task, a.attempt, a.worker, a.leased, a.ended, a.outcome FROM attempts a "
        "JOIN tasks t ON t.id = a.task WHERE t.sweep = ?", (args.sweep,)).fetchall()
    n_attempts = len(rows)
    first_lease = min(r[3] for r in rows)
    last_end = max(r[4] for r in rows if r[4] is not None)

    by_worker = collections.defaultdict(list)
    for task, attempt, worker, leased, ended, outcome in rows:
        # (time, kind, ...): kind 0 = a Result freed a slot, 1 = a lease took
        # one.  A Result is processed before the leases it triggers, and its
        # time is taken first, so for equal times the end sorts first.
        by_worker[worker].append((leased, 1, leased))
        if ended is not None:
            by_worker[worker].append((ended, 0, leased))
    lat, turn, rtt = [], [], []
    per_worker = {}
    for worker, ev in by_worker.items():
        ev.sort()
        free = collections.deque()      # (ended, leased) of Results not yet refilled
        seen = 0
        for t, kind, leased in ev:
            if kind == 0:
                free.append((t, leased))
                continue
            seen += 1
            if seen <= args.slots:
                continue                # an initially free slot
            if not free:
                print(f"dispatch_journal.py: worker {worker}: a lease at {t:.6f} with no "
                      "freed slot before it (more than --slots in flight?)", file=sys.stderr)
                return 1
            ended_j, leased_j = free.popleft()
            lat.append(t - leased_j)
            turn.append(t - ended_j)
            rtt.append(ended_j - leased_j)
        per_worker[worker] = seen
    lat.sort()
    turn.sort()
    rtt.sort()

    e2e = finished - args.t0
    run = last_end - first_lease
    print(f"RESULT what=sweep state={state} tasks={n_done} tasks_total={n_tasks} "
          f"trials={n_trials} attempts={n_attempts} workers={len(per_worker)} "
          f"per_worker={'/'.join(str(v) for v in sorted(per_worker.values()))}")
    print(f"RESULT what=times e2e_s={e2e:.4f} launch_to_created_s={created - args.t0:.4f} "
          f"created_to_first_lease_s={first_lease - created:.4f} "
          f"first_lease_to_last_result_s={run:.4f} "
          f"last_result_to_finished_s={finished - last_end:.4f}")
    print(f"RESULT what=rate e2e_tasks_per_s={n_done / e2e:.1f} "
          f"e2e_trials_per_s={n_trials / e2e:.1f} "
          f"steady_tasks_per_s={(n_done - 1) / run if run > 0 else math.nan:.1f}")
    for name, v in (("latency", lat), ("turnaround", turn), ("roundtrip", rtt)):
        mean = sum(v) / len(v) if v else math.nan
        print(f"RESULT what={name} n={len(v)} p50_ms={pct(v, 50) * 1e3:.3f} "
              f"p90_ms={pct(v, 90) * 1e3:.3f} p99_ms={pct(v, 99) * 1e3:.3f} "
              f"max_ms={(v[-1] if v else math.nan) * 1e3:.3f} mean_ms={mean * 1e3:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
